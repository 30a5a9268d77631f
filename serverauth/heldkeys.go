package serverauth

import (
	"fmt"
	"time"

	"go.temporal.io/server/common/log/tag"
)

// heldKey is a key in use: what its sources allow it for, and until when.
type heldKey struct {
	publicKey
	source    string   // the first source that published it, as logged
	issuers   []string // issuers allowed to use it
	anyIssuer bool     // a source without issuer binding published it
	expires   time.Time
}

// expired reports whether k's sources have failed for longer than the
// maximum key age.
func (k heldKey) expired(now time.Time) bool {
	return !k.expires.IsZero() && !now.Before(k.expires)
}

// mergeLocked combines the sources' last good keys. When two sources
// publish one key ID with the same key, it is allowed for the issuers of
// both and lasts as long as the fresher source's; with different keys, the
// earlier source wins.
func (p *KeyProvider) mergeLocked() (map[string]heldKey, []string) {
	merged := make(map[string]heldKey)
	var conflicts []string
	for _, s := range p.sources {
		var expires time.Time
		if p.maxAge > 0 {
			expires = s.lastSuccess.Add(p.maxAge)
		}
		for _, k := range s.keys {
			if prev, ok := merged[k.kid]; ok {
				if !prev.equal(k) {
					conflicts = append(conflicts, k.kid)
					continue
				}
				prev.mergeIssuers(s)
				if expires.After(prev.expires) {
					prev.expires = expires
				}
				merged[k.kid] = prev
				continue
			}
			h := heldKey{publicKey: k, source: s.name, expires: expires}
			h.mergeIssuers(s)
			merged[k.kid] = h
		}
	}
	return merged, conflicts
}

// agedOut is a source whose keys were dropped for age.
type agedOut struct {
	src         *source
	keys        int
	lastSuccess time.Time
}

// dropAgedLocked drops the keys of sources that have not answered for
// MaxKeyAge.
func (p *KeyProvider) dropAgedLocked(now time.Time) []agedOut {
	if p.maxAge <= 0 {
		return nil
	}
	var dropped []agedOut
	for _, s := range p.sources {
		if len(s.keys) > 0 && !now.Before(s.lastSuccess.Add(p.maxAge)) {
			dropped = append(dropped, agedOut{src: s, keys: len(s.keys), lastSuccess: s.lastSuccess})
			p.stats.KeysDroppedForAge += int64(len(s.keys))
			s.keys = nil
		}
	}
	return dropped
}

// logAged reports keys dropped for age.
func (p *KeyProvider) logAged(dropped []agedOut) {
	for _, d := range dropped {
		p.logger.Warn("JWT key source has failed for longer than MaxKeyAge; its keys are dropped and tokens signed with them refused until it answers",
			tag.NewStringTag("source", d.src.name), tag.NewInt("dropped-keys", d.keys),
			tag.NewTimeTag("last-success", d.lastSuccess), tag.NewDurationTag("max-key-age", p.maxAge),
			tag.NewStringTag("last-error", d.src.lastErr))
		if p.metrics != nil {
			metricKeysDroppedForAge.With(p.metrics).Record(int64(d.keys))
		}
	}
}

// forAlg returns the key if it verifies alg.
func (k publicKey) forAlg(alg string) (any, error) {
	if k.alg != alg {
		return nil, fmt.Errorf("serverauth: key ID %q holds a %s key; the token is signed with %s",
			truncate(k.kid, maxKidInLogs), k.alg, alg)
	}
	return k.key, nil
}
