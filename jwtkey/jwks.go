package jwtkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"sync"
)

// A JWK is the public half of a signing key as a JSON Web Key (RFC 7517,
// with the members of RFC 7518, section 6). It has no private members, so
// it is safe to publish and to print.
type JWK struct {
	// KeyType is "EC" or "RSA".
	KeyType string `json:"kty"`
	// Curve is "P-256" for an EC key.
	Curve string `json:"crv,omitempty"`
	// X and Y are an EC key's coordinates, base64url without padding, each
	// the full 32 bytes of a P-256 coordinate.
	X string `json:"x,omitempty"`
	Y string `json:"y,omitempty"`
	// N and E are an RSA key's modulus and public exponent, base64url
	// without padding.
	N string `json:"n,omitempty"`
	E string `json:"e,omitempty"`
	// KeyID is the "kid" that tokens signed with the key carry.
	KeyID string `json:"kid,omitempty"`
	// Algorithm is "ES256" or "RS256".
	Algorithm string `json:"alg,omitempty"`
	// Use is "sig".
	Use string `json:"use,omitempty"`
}

// A JWKS is a JSON Web Key Set (RFC 7517, section 5), the document a
// Temporal server fetches from its jwtKeyProvider keySourceURIs.
type JWKS struct {
	// Keys are the published keys; a token's kid selects one.
	Keys []JWK `json:"keys"`
}

// MarshalJSON encodes s with "keys" as an array even when s has no keys.
func (s JWKS) MarshalJSON() ([]byte, error) {
	keys := s.Keys
	if keys == nil {
		keys = []JWK{}
	}
	return json.Marshal(struct {
		Keys []JWK `json:"keys"`
	}{keys})
}

// Key returns the key with the given kid.
func (s JWKS) Key(kid string) (JWK, bool) {
	for _, k := range s.Keys {
		if k.KeyID == kid {
			return k, true
		}
	}
	return JWK{}, false
}

// PublicJWK returns the JWK of key, which is a public key or a crypto.Signer
// (whose public half is used): an ECDSA P-256 key (alg ES256) or an RSA key
// of at least 2048 bits (alg RS256). An empty kid is replaced by the key's
// RFC 7638 thumbprint, which is also the kid a Source uses by default.
func PublicJWK(key crypto.PublicKey, kid string) (JWK, error) {
	jwk, err := publicJWK(key, kid)
	if err != nil {
		return JWK{}, fmt.Errorf("jwtkey: JWK: %w", err)
	}
	return jwk, nil
}

func publicJWK(key crypto.PublicKey, kid string) (JWK, error) {
	if s, ok := key.(crypto.Signer); ok {
		key = s.Public()
	}
	alg, err := algorithmFor(key)
	if err != nil {
		return JWK{}, err
	}
	jwk, err := jwkMembers(key)
	if err != nil {
		return JWK{}, err
	}
	if kid == "" {
		kid = jwk.Thumbprint()
	}
	jwk.KeyID, jwk.Algorithm, jwk.Use = kid, alg, "sig"
	return jwk, nil
}

// Thumbprint returns the RFC 7638 JWK thumbprint of pub (a public key or a
// crypto.Signer): the base64url-encoded SHA-256 of its required JWK members.
// It accepts ECDSA keys on P-256, P-384 and P-521 and RSA keys of any size.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	if s, ok := pub.(crypto.Signer); ok {
		pub = s.Public()
	}
	jwk, err := jwkMembers(pub)
	if err != nil {
		return "", fmt.Errorf("jwtkey: thumbprint: %w", err)
	}
	return jwk.Thumbprint(), nil
}

// Thumbprint returns the RFC 7638 thumbprint of k's key members (kty and
// crv, x, y or e, n); KeyID, Algorithm and Use do not count.
func (k JWK) Thumbprint() string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	var canonical string
	if k.KeyType == "RSA" {
		canonical = `{"e":` + q(k.E) + `,"kty":"RSA","n":` + q(k.N) + `}`
	} else {
		canonical = `{"crv":` + q(k.Curve) + `,"kty":` + q(k.KeyType) + `,"x":` + q(k.X) + `,"y":` + q(k.Y) + `}`
	}
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// PublicKey decodes k into an *ecdsa.PublicKey on P-256 or an *rsa.PublicKey
// of at least 2048 bits, checking it as strictly as the Temporal server's
// JWKS parser does (full-length coordinates on the curve), and checks that
// Algorithm and Use, when set, fit the key.
func (k JWK) PublicKey() (crypto.PublicKey, error) {
	pub, err := k.publicKey()
	if err != nil {
		return nil, fmt.Errorf("jwtkey: JWK %q: %w", k.KeyID, err)
	}
	return pub, nil
}

func (k JWK) publicKey() (crypto.PublicKey, error) {
	var pub crypto.PublicKey
	switch k.KeyType {
	case "EC":
		if k.Curve != "P-256" {
			return nil, fmt.Errorf("%w: EC curve %q; %s", ErrUnsupportedKey, k.Curve, supportedKeys)
		}
		x, err := decodeMember("x", k.X)
		if err != nil {
			return nil, err
		}
		y, err := decodeMember("y", k.Y)
		if err != nil {
			return nil, err
		}
		if len(x) != 32 || len(y) != 32 {
			return nil, errors.New("x and y must be 32 bytes each for P-256")
		}
		ec, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, errors.New("x and y are not a point on P-256")
		}
		pub = ec
	case "RSA":
		n, err := decodeMember("n", k.N)
		if err != nil {
			return nil, err
		}
		e, err := decodeMember("e", k.E)
		if err != nil {
			return nil, err
		}
		if len(e) == 0 || len(e) > 4 {
			return nil, errors.New("e is not a valid RSA public exponent")
		}
		exp := new(big.Int).SetBytes(e)
		if !exp.IsInt64() || exp.Int64() < 3 || exp.Int64() > 1<<31-1 || exp.Bit(0) == 0 {
			return nil, errors.New("e is not a valid RSA public exponent")
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp.Int64())}
	case "":
		return nil, errors.New("missing kty")
	default:
		return nil, fmt.Errorf("%w: kty %q; %s", ErrUnsupportedKey, k.KeyType, supportedKeys)
	}
	alg, err := algorithmFor(pub)
	if err != nil {
		return nil, err
	}
	if k.Algorithm != "" && k.Algorithm != alg {
		return nil, fmt.Errorf("alg %q does not fit a %s key (want %s)", k.Algorithm, k.KeyType, alg)
	}
	if k.Use != "" && k.Use != "sig" {
		return nil, fmt.Errorf("use %q, want \"sig\"", k.Use)
	}
	return pub, nil
}

func decodeMember(name, v string) ([]byte, error) {
	if v == "" {
		return nil, fmt.Errorf("missing %s", name)
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("%s is not base64url without padding", name)
	}
	return b, nil
}

// jwkMembers fills the key members (no kid, alg or use) of a public key.
func jwkMembers(pub crypto.PublicKey) (JWK, error) {
	enc := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return JWK{}, fmt.Errorf("%w: empty ECDSA key", ErrUnsupportedKey)
		}
		b, err := k.Bytes() // 0x04 || X || Y, each coordinate full length
		if err != nil {
			return JWK{}, fmt.Errorf("%w: %v", ErrUnsupportedKey, err)
		}
		size := (len(b) - 1) / 2
		return JWK{KeyType: "EC", Curve: k.Curve.Params().Name, X: enc(b[1 : 1+size]), Y: enc(b[1+size:])}, nil
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return JWK{}, fmt.Errorf("%w: empty RSA key", ErrUnsupportedKey)
		}
		return JWK{KeyType: "RSA", N: enc(k.N.Bytes()), E: enc(big.NewInt(int64(k.E)).Bytes())}, nil
	default:
		_, err := algorithmFor(pub)
		if err == nil {
			err = fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
		}
		return JWK{}, err
	}
}

// JWKSFromFiles returns a JWKS with the public key of each PEM file (a
// private key, public key or certificate, see ParsePublicKeyPEM), each with
// its RFC 7638 thumbprint as kid: the kid a Source using that key sends.
// Two files holding the same key are an error.
func JWKSFromFiles(paths ...string) (JWKS, error) {
	if len(paths) == 0 {
		return JWKS{}, errors.New("jwtkey: JWKS: no key files given")
	}
	set := JWKS{Keys: make([]JWK, 0, len(paths))}
	from := make(map[string]string, len(paths))
	for _, path := range paths {
		pub, err := LoadPublicKeyFile(path)
		if err != nil {
			return JWKS{}, err
		}
		jwk, err := publicJWK(pub, "")
		if err != nil {
			return JWKS{}, fmt.Errorf("jwtkey: key file %q: %w", path, err)
		}
		if prev, dup := from[jwk.KeyID]; dup {
			return JWKS{}, fmt.Errorf("jwtkey: key files %q and %q hold the same key", prev, path)
		}
		from[jwk.KeyID] = path
		set.Keys = append(set.Keys, jwk)
	}
	return set, nil
}

// A KeySet is a mutable set of public keys served as a JWKS. It is safe for
// concurrent use, and its zero value is an empty set ready to use.
//
// To rotate a signing key without rejected tokens: Add the new key; wait
// until every Temporal server has fetched the JWKS again (its
// jwtKeyProvider refreshInterval: the server does not refetch on an unknown
// kid); switch the signer to the new key; wait until the last token signed
// with the old key has expired (Config.Expiration); Remove the old key.
type KeySet struct {
	mu   sync.RWMutex
	keys []JWK
}

// NewKeySet returns a KeySet holding keys, checked as Add checks them.
func NewKeySet(keys ...JWK) (*KeySet, error) {
	s := &KeySet{}
	if err := s.Add(keys...); err != nil {
		return nil, err
	}
	return s, nil
}

// Add publishes keys next to the ones already in the set. Each key needs a
// kid and must decode (see JWK.PublicKey). Adding a key again under the
// same kid does nothing; a different key under a kid already in the set is
// an error. Either all keys are added or, on error, none.
func (s *KeySet) Add(keys ...JWK) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	merged, err := mergeKeys(s.keys, keys)
	if err != nil {
		return err
	}
	s.keys = merged
	return nil
}

// Set replaces the whole set with keys, checked as Add checks them.
func (s *KeySet) Set(keys ...JWK) error {
	merged, err := mergeKeys(nil, keys)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.keys = merged
	s.mu.Unlock()
	return nil
}

// Remove withdraws the key with the given kid and reports whether it was
// in the set.
func (s *KeySet) Remove(kid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.keys, func(k JWK) bool { return k.KeyID == kid })
	if i < 0 {
		return false
	}
	s.keys = slices.Delete(slices.Clone(s.keys), i, i+1)
	return true
}

// KeyIDs returns the kids in the set, in the order they were added.
func (s *KeySet) KeyIDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]string, len(s.keys))
	for i, k := range s.keys {
		ids[i] = k.KeyID
	}
	return ids
}

// JWKS returns a copy of the set's keys, in the order they were added.
func (s *KeySet) JWKS() JWKS {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return JWKS{Keys: slices.Clone(s.keys)}
}

// ServeHTTP serves the set as a JWKS document to GET and HEAD requests,
// with Content-Type application/json and Cache-Control no-store, so that a
// server fetching it sees a rotation at once. Other methods get 405.
func (s *KeySet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := json.Marshal(s.JWKS())
	if err != nil { // JWK holds only strings: cannot happen
		http.Error(w, "cannot encode the key set", http.StatusInternalServerError)
		return
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// mergeKeys returns have plus the new keys, or why one cannot be added.
func mergeKeys(have, add []JWK) ([]JWK, error) {
	out := slices.Clone(have)
	for _, k := range add {
		if k.KeyID == "" {
			return nil, fmt.Errorf("jwtkey: key set: a %s key has no kid", k.KeyType)
		}
		if _, err := k.PublicKey(); err != nil {
			return nil, fmt.Errorf("jwtkey: key set: %w", err)
		}
		i := slices.IndexFunc(out, func(o JWK) bool { return o.KeyID == k.KeyID })
		switch {
		case i < 0:
			out = append(out, k)
		case out[i].Thumbprint() != k.Thumbprint():
			return nil, fmt.Errorf("jwtkey: key set: kid %q already names a different key", k.KeyID)
		}
	}
	return out, nil
}
