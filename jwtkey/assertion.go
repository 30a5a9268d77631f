package jwtkey

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/temporalauth/temporalauth/internal/redact"
	"github.com/temporalauth/temporalauth/internal/setting"
)

// A ClaimSigner signs JWTs whose claims the caller chooses, with the same
// keys, key files and algorithms as a Source: ES256 for P-256 keys, RS256
// for RSA keys. It is what an OAuth 2.0 client needs for private_key_jwt
// client authentication (RFC 7523), whose assertion carries claims a
// Temporal token does not. It is safe for concurrent use.
//
// Like a Source, a ClaimSigner made from a key file reads the file again
// before each signature, so replacing the file rotates the key.
type ClaimSigner struct {
	key     *signingKey // fixed key, or nil with file
	file    *keyFile
	keyFile string
	kid     string // "" means the key's thumbprint
}

// NewClaimSigner returns a ClaimSigner for key (see Config.Key for the keys
// accepted). kid is the "kid" header; "" means the key's RFC 7638
// thumbprint.
func NewClaimSigner(key crypto.Signer, kid string) (*ClaimSigner, error) {
	if setting.HasSpaceOrControl(kid) {
		return nil, fmt.Errorf("jwtkey: key ID %s contains white space or a control character", setting.Quote(kid))
	}
	k, err := newSigningKey(key, kid)
	if err != nil {
		return nil, fmt.Errorf("jwtkey: %w", err)
	}
	return &ClaimSigner{key: k, kid: kid}, nil
}

// NewClaimSignerFromFile returns a ClaimSigner for the PEM private key file
// at path, which it reads now and again before every signature. kid is the
// "kid" header of every signature, whatever key the file holds; "" means
// the thumbprint of the key the file holds at the time. Errors name the
// file, never its content.
func NewClaimSignerFromFile(path, kid string) (*ClaimSigner, error) {
	if setting.HasSpaceOrControl(kid) {
		return nil, fmt.Errorf("jwtkey: key ID %s contains white space or a control character", setting.Quote(kid))
	}
	f, err := openKeyFile(path)
	if err != nil {
		return nil, err
	}
	return &ClaimSigner{file: f, keyFile: path, kid: kid}, nil
}

// reservedHeaderClaims may not be claims: they belong to the JOSE header.
var reservedHeaderClaims = []string{"alg", "kid", "typ"}

// Sign returns a compact JWS of claims (encoded with encoding/json) with
// the header {"alg", "kid", "typ":"JWT"}. The caller sets every claim,
// including "exp". With a key file, the file is read first and a changed
// key is used at once; if it cannot be read, Sign fails and names the file.
func (s *ClaimSigner) Sign(claims map[string]any) (string, error) {
	for _, name := range reservedHeaderClaims {
		if _, ok := claims[name]; ok {
			return "", fmt.Errorf("jwtkey: claim %q belongs to the JOSE header, which the signer sets", name)
		}
	}
	key, err := s.signingKey()
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jwtkey: encode claims: %w", err)
	}
	input := key.header + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := key.sign(input)
	if err != nil {
		return "", fmt.Errorf("jwtkey: sign with kid=%s: %w", key.kid, err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// signingKey returns the key to sign with now, with the configured kid.
func (s *ClaimSigner) signingKey() (*signingKey, error) {
	if s.key != nil {
		return s.key, nil
	}
	if s.file == nil {
		return nil, errors.New("jwtkey: ClaimSigner has no key: create it with NewClaimSigner or NewClaimSignerFromFile")
	}
	key, err := s.file.load()
	if err != nil {
		return nil, err
	}
	if s.kid == "" || s.kid == key.kid {
		return key, nil
	}
	return newSigningKey(key.signer, s.kid)
}

// current returns the key in use for descriptions.
func (s *ClaimSigner) current() (alg, kid string, jwk JWK) {
	var k *signingKey
	switch {
	case s.key != nil:
		k = s.key
	case s.file != nil:
		k = s.file.current()
	}
	if k == nil {
		return "", "", JWK{}
	}
	jwk = k.jwk
	if s.kid != "" {
		kid = s.kid
		jwk.KeyID = s.kid
	} else {
		kid = k.kid
	}
	return k.alg, kid, jwk
}

// KeyID returns the "kid" header of the signatures; with a key file and no
// fixed kid, that of the key loaded last.
func (s *ClaimSigner) KeyID() string { _, kid, _ := s.current(); return kid }

// Algorithm returns "ES256" or "RS256"; with a key file, that of the key
// loaded last.
func (s *ClaimSigner) Algorithm() string { alg, _, _ := s.current(); return alg }

// PublicJWK returns the public key, with the signer's kid, to register
// with whoever checks the signatures (an identity provider's client
// registration); with a key file, that of the key loaded last.
func (s *ClaimSigner) PublicJWK() JWK {
	_, _, jwk := s.current()
	return jwk
}

// String describes s without its key.
func (s *ClaimSigner) String() string {
	alg, kid, _ := s.current()
	if s.file != nil {
		return fmt.Sprintf("jwt claim signer (key file %q, kid=%s, alg=%s)", s.keyFile, kid, alg)
	}
	return fmt.Sprintf("jwt claim signer (kid=%s, alg=%s)", kid, alg)
}

// GoString describes s without its key, for %#v.
func (s *ClaimSigner) GoString() string { return "jwtkey.ClaimSigner{" + s.String() + "}" }

// Format prints s as String does (GoString for %#v) whatever the verb, so
// that no verb prints the key.
func (s *ClaimSigner) Format(f fmt.State, verb rune) {
	redact.Format(f, verb, s)
}

// LogValue describes s for log/slog without its key.
func (s *ClaimSigner) LogValue() slog.Value {
	alg, kid, _ := s.current()
	return slog.GroupValue(slog.String("kid", kid), slog.String("alg", alg), slog.String("key_file", s.keyFile))
}
