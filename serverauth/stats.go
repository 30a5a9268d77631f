package serverauth

import (
	"slices"
	"time"
)

// Stats are a KeyProvider's counters since it was created.
type Stats struct {
	// Fetches counts completed fetches of all sources: the first one,
	// periodic ones and refetches.
	Fetches int64
	// Refetches counts fetches triggered by unknown key IDs (at once, or
	// delayed by the rate limit).
	Refetches int64
	// UnknownKeyIDs counts lookups of key IDs the provider did not hold.
	UnknownKeyIDs int64
	// FoundAfterRefetch counts unknown key IDs that a fetch then found.
	FoundAfterRefetch int64
	// NotFoundAfterRefetch counts unknown key IDs that the fetch they waited
	// for did not find.
	NotFoundAfterRefetch int64
	// RateLimited counts unknown key IDs refused at once because a refetch
	// was not allowed yet (MinRefetchInterval).
	RateLimited int64
	// IssuerRefused counts tokens refused because their "iss" is not
	// allowed to use the key that signed them (see Config.JWKSIssuers).
	IssuerRefused int64
	// KeysDroppedForAge counts keys dropped because their source had
	// failed for longer than Config.MaxKeyAge.
	KeysDroppedForAge int64
	// Keys is how many keys the provider holds now.
	Keys int
	// LastFetch is when the last fetch ended (zero before the first).
	LastFetch time.Time
	// Sources describes each source, in configuration order.
	Sources []SourceStats
}

// SourceStats describe one key source.
type SourceStats struct {
	// Source is the URL, without user info, query or fragment.
	Source string
	// Issuers are the issuers allowed to use the source's keys: the
	// configured ones, or an OpenID issuer's as its discovery document
	// last named it. Empty with AnyIssuer, or before an OpenID issuer's
	// first successful fetch.
	Issuers []string
	// AnyIssuer is true for a JWKS URL left unbound by
	// Config.AllowAnyIssuer: its keys verify tokens of any issuer.
	AnyIssuer bool
	// Keys is how many keys the source's last successful fetch gave.
	Keys int
	// Fetches and Failures count the attempts to read the source.
	Fetches, Failures int64
	// LastSuccess is when the source last answered with a key set.
	LastSuccess time.Time
	// LastError is why the last attempt failed; empty after a success.
	LastError string
}

// Stats returns the provider's counters and the state of each source.
func (p *KeyProvider) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Keys = len(p.keys)
	s.LastFetch = p.lastRound
	s.Sources = make([]SourceStats, len(p.sources))
	for i, src := range p.sources {
		s.Sources[i] = SourceStats{
			Source:      src.name,
			Issuers:     slices.Clone(src.issuers),
			AnyIssuer:   src.anyIssuer,
			Keys:        len(src.keys),
			Fetches:     src.fetches,
			Failures:    src.failures,
			LastSuccess: src.lastSuccess,
			LastError:   src.lastErr,
		}
	}
	return s
}
