package serverauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Signing algorithms the provider serves keys for: those the Temporal
// server's default JWT claim mapper accepts.
const (
	algRS256 = "RS256"
	algES256 = "ES256"
)

// MinRSAKeyBits is the smallest RSA modulus, in bits, of a key the provider
// accepts from a JWKS; smaller RSA keys are skipped with a log line.
const MinRSAKeyBits = 2048

// publicKey is one verification key taken from a JWKS.
type publicKey struct {
	kid string
	alg string // algRS256 or algES256
	key any    // *rsa.PublicKey or *ecdsa.PublicKey
}

// equal reports whether k and o hold the same key for the same algorithm.
func (k publicKey) equal(o publicKey) bool {
	if k.alg != o.alg {
		return false
	}
	switch key := k.key.(type) {
	case *rsa.PublicKey:
		return key.Equal(o.key)
	case *ecdsa.PublicKey:
		return key.Equal(o.key)
	}
	return false
}

// skippedKey says why one member of a JWKS was not taken.
type skippedKey struct {
	kid    string
	reason string
}

// jwk holds the members of a JSON Web Key (RFC 7517, 7518) the provider reads.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS reads a JSON Web Key Set. It fails when body is not a JSON object
// with a "keys" array; members that cannot verify RS256 or ES256 signatures
// (other key types, curves or algorithms, encryption keys, keys without a
// kid, malformed or weak keys, repeated kids) are returned as skipped.
func parseJWKS(body []byte) ([]publicKey, []skippedKey, error) {
	var set struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	if set.Keys == nil {
		return nil, nil, errors.New(`not a JSON Web Key Set: no "keys" array`)
	}
	var keys []publicKey
	var skipped []skippedKey
	seen := make(map[string]bool)
	for i, raw := range *set.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			skipped = append(skipped, skippedKey{kid: fmt.Sprintf("#%d", i), reason: "malformed JSON Web Key: " + err.Error()})
			continue
		}
		pk, err := k.publicKey()
		if err != nil {
			kid := k.Kid
			if kid == "" {
				kid = fmt.Sprintf("#%d", i)
			}
			skipped = append(skipped, skippedKey{kid: kid, reason: err.Error()})
			continue
		}
		if seen[pk.kid] {
			skipped = append(skipped, skippedKey{kid: pk.kid, reason: "repeats a kid earlier in the same set"})
			continue
		}
		seen[pk.kid] = true
		keys = append(keys, pk)
	}
	return keys, skipped, nil
}

// publicKey converts k, or says why it cannot verify RS256 or ES256.
func (k jwk) publicKey() (publicKey, error) {
	if k.Kid == "" {
		return publicKey{}, errors.New("no kid (the claim mapper looks keys up by kid)")
	}
	if k.Use != "" && k.Use != "sig" {
		return publicKey{}, fmt.Errorf("use %q is not \"sig\"", k.Use)
	}
	switch k.Kty {
	case "RSA":
		if k.Alg != "" && k.Alg != algRS256 {
			return publicKey{}, fmt.Errorf("RSA key for alg %q: only RS256 is supported", k.Alg)
		}
		key, err := rsaKey(k.N, k.E)
		if err != nil {
			return publicKey{}, err
		}
		return publicKey{kid: k.Kid, alg: algRS256, key: key}, nil
	case "EC":
		if k.Alg != "" && k.Alg != algES256 {
			return publicKey{}, fmt.Errorf("EC key for alg %q: only ES256 is supported", k.Alg)
		}
		if k.Crv != "P-256" {
			return publicKey{}, fmt.Errorf("EC key on curve %q: only P-256 (ES256) is supported", k.Crv)
		}
		key, err := p256Key(k.X, k.Y)
		if err != nil {
			return publicKey{}, err
		}
		return publicKey{kid: k.Kid, alg: algES256, key: key}, nil
	case "":
		return publicKey{}, errors.New("no kty")
	}
	return publicKey{}, fmt.Errorf("key type %q cannot verify RS256 or ES256", k.Kty)
}

func rsaKey(n, e string) (*rsa.PublicKey, error) {
	nb, err := decodeB64URL(n)
	if err != nil || len(nb) == 0 {
		return nil, errors.New("RSA key with a missing or malformed modulus n")
	}
	eb, err := decodeB64URL(e)
	if err != nil || len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("RSA key with a missing or malformed exponent e")
	}
	exp := new(big.Int).SetBytes(eb)
	if exp.Cmp(big.NewInt(3)) < 0 || exp.Bit(0) == 0 || exp.BitLen() > 31 {
		return nil, fmt.Errorf("RSA key with an unusable exponent %v", exp)
	}
	mod := new(big.Int).SetBytes(nb)
	if bits := mod.BitLen(); bits < MinRSAKeyBits {
		return nil, fmt.Errorf("RSA key of %d bits: at least %d are required", bits, MinRSAKeyBits)
	}
	return &rsa.PublicKey{N: mod, E: int(exp.Int64())}, nil
}

func p256Key(x, y string) (*ecdsa.PublicKey, error) {
	const size = 32
	xb, errX := decodeB64URL(x)
	yb, errY := decodeB64URL(y)
	if errX != nil || errY != nil || len(xb) == 0 || len(yb) == 0 || len(xb) > size || len(yb) > size {
		return nil, errors.New("EC key with missing or malformed coordinates")
	}
	point := make([]byte, 1+2*size)
	point[0] = 4 // uncompressed
	copy(point[1+size-len(xb):1+size], xb)
	copy(point[1+2*size-len(yb):], yb)
	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, errors.New("EC key whose point is not on the P-256 curve")
	}
	return key, nil
}

// decodeB64URL decodes base64url, with or without padding.
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
