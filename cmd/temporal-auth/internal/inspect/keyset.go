package inspect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/temporalauth/temporalauth/jwtkey"
)

// A KeySet is a JSON Web Key Set as a Temporal server loads it from one of
// its jwtKeyProvider keySourceURIs: RSA and EC keys by kid; other keys are
// dropped.
type KeySet struct {
	// Source is where the set was read from, for messages.
	Source string
	// Keys are the keys a token can be verified with.
	Keys []jwtkey.JWK
	// Skipped describes keys that cannot verify a token the server accepts
	// (an Ed25519 key, a P-384 key, a malformed key), one entry per key.
	Skipped []SkippedKey
}

// A SkippedKey is a key of a JWKS that cannot verify tokens.
type SkippedKey struct {
	// KeyID is the key's kid, possibly empty.
	KeyID string
	// Reason says why the key cannot be used.
	Reason string
}

// ErrPEMKey is ParseKeySet's error for a PEM key or certificate, given
// where a JSON Web Key Set belongs.
var ErrPEMKey = errors.New("this is a PEM key, not a JSON Web Key Set")

// ParseKeySet parses a JWKS document read from source. It fails when data
// is not a JSON object with a "keys" array (ErrPEMKey for a PEM file);
// keys that cannot be used are listed in Skipped. Its errors do not name
// source: the caller knows where it read data from, and says it.
func ParseKeySet(source string, data []byte) (*KeySet, error) {
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN ")) {
		return nil, ErrPEMKey
	}
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %v", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`not a JSON Web Key Set: no "keys" array`)
	}
	set := &KeySet{Source: source}
	for i, raw := range *doc.Keys {
		var k jwtkey.JWK
		if err := json.Unmarshal(raw, &k); err != nil {
			set.Skipped = append(set.Skipped, SkippedKey{Reason: fmt.Sprintf("key %d is not a JWK object", i)})
			continue
		}
		if _, err := k.PublicKey(); err != nil {
			reason := strings.TrimPrefix(err.Error(), fmt.Sprintf("headers: JWK %q: ", k.KeyID))
			set.Skipped = append(set.Skipped, SkippedKey{KeyID: k.KeyID, Reason: reason})
			continue
		}
		set.Keys = append(set.Keys, k)
	}
	return set, nil
}

// KeyIDs returns the kids of the usable keys, in order.
func (s *KeySet) KeyIDs() []string {
	ids := make([]string, len(s.Keys))
	for i, k := range s.Keys {
		ids[i] = k.KeyID
	}
	return ids
}

// lookup finds the key the server uses for a token with alg and kid: the
// server keeps RSA and EC keys in separate maps by kid, the last key of a
// kid winning. other is a key of the kid with the other type.
func (s *KeySet) lookup(alg, kid string) (key jwtkey.JWK, found bool, other *jwtkey.JWK) {
	kty := "EC"
	if alg == jwtkey.AlgRS256 {
		kty = "RSA"
	}
	for _, k := range s.Keys {
		if k.KeyID != kid {
			continue
		}
		if k.KeyType == kty {
			key, found = k, true
		} else {
			o := k
			other = &o
		}
	}
	return key, found, other
}

// skipped returns the reason the key with kid was skipped, if it was.
func (s *KeySet) skipped(kid string) (string, bool) {
	for _, k := range s.Skipped {
		if k.KeyID == kid {
			return k.Reason, true
		}
	}
	return "", false
}
