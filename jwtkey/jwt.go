package jwtkey

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/provider"
	"github.com/temporalauth/temporalauth/internal/redact"
	"github.com/temporalauth/temporalauth/internal/setting"
)

// A Source signs a new JWT each time its Token method is called. It is a
// headers.TokenSource, safe for concurrent use. Build one with
// NewTokenSource; NewProvider wraps one in a caching headers.Provider.
type Source struct {
	checked
	key     *signingKey // fixed key, or nil with file
	file    *keyFile
	keyFile string
	now     func() time.Time
}

var _ headers.TokenSource = (*Source)(nil)

// NewTokenSource checks cfg, applies its defaults, loads the key and
// returns a Source. Its errors are *headers.ConfigError naming the setting
// at fault.
func NewTokenSource(cfg Config) (*Source, error) {
	k, err := cfg.check()
	if err != nil {
		return nil, err
	}
	s := &Source{checked: k, keyFile: cfg.KeyFile, now: setting.Clock(cfg.Clock).Now}
	if cfg.KeyFile != "" {
		if s.file, err = openKeyFile(cfg.KeyFile); err != nil {
			return nil, names.Wrap(cfg.fromEnv, "KeyFile", err)
		}
		return s, nil
	}
	if s.key, err = newSigningKey(cfg.Key, cfg.KeyID); err != nil {
		return nil, names.Wrap(cfg.fromEnv, "Key", err)
	}
	return s, nil
}

// Token signs and returns a new token, valid from now minus the clock skew
// until now plus the expiration; Token.Expiry is its "exp". With a
// KeyFile, the file is read first and a changed key is used at once.
func (s *Source) Token(ctx context.Context) (headers.Token, error) {
	if err := ctx.Err(); err != nil {
		return headers.Token{}, err
	}
	key := s.key
	if key == nil && s.file == nil {
		return headers.Token{}, errors.New("jwtkey: Source has no key: create it with NewTokenSource")
	}
	if s.file != nil {
		var err error
		if key, err = s.file.load(); err != nil {
			return headers.Token{}, err
		}
	}
	now := s.now()
	exp := now.Add(s.exp).Unix()
	iat := now.Add(-s.skew).Unix()
	claims := make(map[string]any, len(s.extra)+7)
	for name, v := range s.extra {
		claims[name] = v
	}
	claims["sub"] = s.subject
	claims["exp"] = exp
	claims["iat"] = iat
	claims["nbf"] = iat
	if s.issuer != "" {
		claims["iss"] = s.issuer
	}
	if s.audience != nil {
		claims["aud"] = s.audience
	}
	if len(s.perms) > 0 {
		claims[s.claim] = s.perms
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return headers.Token{}, fmt.Errorf("jwtkey: encode claims: %w", err)
	}
	input := key.header + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := key.sign(input)
	if err != nil {
		return headers.Token{}, fmt.Errorf("jwtkey: sign with kid=%s: %w", key.kid, err)
	}
	return headers.NewToken(input+"."+base64.RawURLEncoding.EncodeToString(sig), time.Unix(exp, 0)), nil
}

// sign returns the JWS signature of input (RFC 7515 and RFC 7518, 3.3/3.4).
func (k *signingKey) sign(input string) ([]byte, error) {
	digest := sha256.Sum256([]byte(input))
	sig, err := k.signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	switch pub := k.signer.Public().(type) {
	case *ecdsa.PublicKey:
		if k.verify && !ecdsa.VerifyASN1(pub, digest[:], sig) {
			return nil, errors.New("the key's signature does not verify with its public key")
		}
		return ecdsaJOSE(sig)
	case *rsa.PublicKey:
		if k.verify && rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
			return nil, errors.New("the key's signature does not verify with its public key (RS256 needs PKCS #1 v1.5 padding)")
		}
		return sig, nil
	}
	return nil, errors.New("the key's public key changed type")
}

// ecdsaJOSE turns an ASN.1 ECDSA signature into the 64-byte R || S form
// that ES256 uses.
func ecdsaJOSE(der []byte) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &rs)
	if err != nil || len(rest) != 0 || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.BitLen() > 256 || rs.S.BitLen() > 256 {
		return nil, errors.New("the key returned a malformed ECDSA signature")
	}
	out := make([]byte, 64)
	rs.R.FillBytes(out[:32])
	rs.S.FillBytes(out[32:])
	return out, nil
}

// KeyID returns the "kid" of the tokens the Source signs; with a KeyFile,
// that of the key loaded last.
func (s *Source) KeyID() string { return s.current().kid }

// Algorithm returns "ES256" or "RS256"; with a KeyFile, that of the key
// loaded last.
func (s *Source) Algorithm() string { return s.current().alg }

// PublicJWK returns the public key to publish in the Temporal server's JWKS
// (see KeySet); with a KeyFile, that of the key loaded last.
func (s *Source) PublicJWK() JWK { return s.current().jwk }

// current returns the key in use, or an empty one for a Source not made by
// NewTokenSource.
func (s *Source) current() *signingKey {
	var k *signingKey
	if s.file != nil {
		k = s.file.current()
	} else {
		k = s.key
	}
	if k == nil {
		return &signingKey{}
	}
	return k
}

// String describes s without its key.
func (s *Source) String() string {
	k := s.current()
	if s.file != nil {
		return fmt.Sprintf("jwt signer (key file %q, kid=%s, alg=%s, sub=%q)", s.keyFile, k.kid, k.alg, s.subject)
	}
	return fmt.Sprintf("jwt signer (kid=%s, alg=%s, sub=%q)", k.kid, k.alg, s.subject)
}

// GoString describes s without its key, for %#v.
func (s *Source) GoString() string { return "jwtkey.Source{" + s.String() + "}" }

// Format prints s as String does (GoString for %#v) whatever the verb, so
// that no verb prints the key.
func (s *Source) Format(f fmt.State, verb rune) {
	redact.Format(f, verb, s)
}

// LogValue describes s for log/slog without its key: the key file, kid,
// algorithm and the claims it signs.
func (s *Source) LogValue() slog.Value {
	k := s.current()
	var attrs []slog.Attr
	str := func(key, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(key, v))
		}
	}
	str("file", s.keyFile)
	str("kid", k.kid)
	str("alg", k.alg)
	str("sub", s.subject)
	str("iss", s.issuer)
	switch aud := s.audience.(type) {
	case string:
		attrs = append(attrs, slog.Any("aud", []string{aud}))
	case []string:
		attrs = append(attrs, slog.Any("aud", slices.Clone(aud)))
	}
	if len(s.perms) > 0 {
		attrs = append(attrs, slog.Any("permissions", slices.Clone(s.perms)))
	}
	if s.claim != DefaultPermissionsClaim {
		str("claim", s.claim)
	}
	if s.exp > 0 {
		attrs = append(attrs, slog.Duration("expiration", s.exp))
	}
	return slog.GroupValue(attrs...)
}

// NewProvider returns a headers.Provider, ready for
// client.Options.HeadersProvider, that signs tokens with
// NewTokenSource(cfg) and caches each until opts.Leeway before its expiry.
//
// cfg.Clock defaults to opts.Clock, and opts.Name to "jwt signer
// kid=<kid>" (or "jwt signer file=<path>" with a KeyFile). opts.Leeway must
// be shorter than the token lifetime. With a KeyFile that group or others
// can read, a warning is logged to opts.Logger (or slog.Default); see
// CheckKeyFilePermissions.
//
// After replacing the KeyFile, tokens signed with the new key are sent once
// the cached one is refreshed; call Provider.Invalidate to switch at once.
func NewProvider(cfg Config, opts headers.Options) (*headers.Provider, error) {
	cfg.Clock = setting.OrDefault[headers.Clock](cfg.Clock, opts.Clock)
	return provider.New(opts, func() (*Source, error) { return NewTokenSource(cfg) },
		func(src *Source, opts *headers.Options) error {
			if opts.Leeway >= src.exp {
				lifetime := fmt.Sprintf("%s=%s", names.Of("Expiration", cfg.fromEnv), src.exp)
				if cfg.Expiration == 0 {
					lifetime = fmt.Sprintf("%s by default (set %s for a longer one)", src.exp, names.Of("Expiration", cfg.fromEnv))
				}
				return &headers.ConfigError{Setting: "headers.Options.Leeway",
					Err: fmt.Errorf("%s must be shorter than the token lifetime %s", opts.Leeway, lifetime)}
			}
			if opts.Name == "" {
				opts.Name = "jwt signer kid=" + src.KeyID()
				if cfg.KeyFile != "" {
					opts.Name = "jwt signer file=" + cfg.KeyFile
				}
			}
			if cfg.KeyFile != "" {
				if err := CheckKeyFilePermissions(cfg.KeyFile); err != nil {
					setting.OrDefault(opts.Logger, slog.Default()).Warn("temporalauth: the private key file needs tighter permissions",
						slog.String("setting", names.Of("KeyFile", cfg.fromEnv)), slog.String("source", opts.Name), slog.Any("error", err))
				}
			}
			return nil
		})
}
