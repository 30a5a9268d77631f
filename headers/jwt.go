package headers

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
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Defaults of JWTConfig.
const (
	// DefaultJWTSubject is the "sub" claim when JWTConfig.Subject is empty.
	// The Temporal server requires a string "sub" and shows it in its logs.
	DefaultJWTSubject = "temporalauth"
	// DefaultPermissionsClaim is the claim the Temporal server's default
	// claim mapper reads permissions from (its permissionsClaimName).
	DefaultPermissionsClaim = "permissions"
	// DefaultJWTExpiration is how long a signed token is valid.
	DefaultJWTExpiration = 10 * time.Minute
	// DefaultClockSkew is how far "iat" and "nbf" are backdated.
	DefaultClockSkew = time.Minute
)

// A JWTConfig describes the tokens a Signer makes: JWTs signed with a local
// private key, in the form the Temporal server's default JWT claim mapper
// accepts (RS256 or ES256, a "kid" header, a string "sub", "exp", "iat" and
// "nbf", and a permissions array).
//
// A JWTConfig holds a private key: String, GoString, Format and LogValue
// show the settings without it.
type JWTConfig struct {
	// Key is the private key to sign with: an *ecdsa.PrivateKey on P-256
	// (tokens are ES256), an *rsa.PrivateKey of at least 2048 bits (RS256),
	// or any crypto.Signer with such a public key, such as a key in an HSM
	// or cloud KMS (each of its signatures is then checked against its
	// public key). Set exactly one of Key and KeyFile.
	Key crypto.Signer
	// KeyFile is the path of a PEM private key file (see
	// ParsePrivateKeyPEM), used instead of Key. The file is read again
	// before every token is signed, so replacing it rotates the key: the
	// next token is signed with the new key and carries its kid. Replace it
	// atomically (write a new file and rename it over the old one, as
	// WritePrivateKeyFile does). If the file cannot be read or parsed, Token
	// fails and names the file; the previous key is not used.
	KeyFile string
	// KeyID is the "kid" header, which must name the key in the JWKS the
	// Temporal server fetches. Default: the key's RFC 7638 thumbprint
	// (base64url SHA-256), the kid that PublicJWK, KeySet and JWKSFromFiles
	// publish. It cannot be combined with KeyFile, whose kid must change
	// with the key: the thumbprint is always used for a key file.
	KeyID string
	// Subject is the "sub" claim. Default: DefaultJWTSubject.
	Subject string
	// Issuer is the "iss" claim; omitted when empty.
	Issuer string
	// Audience is the "aud" claim: a string for one audience, an array for
	// several; omitted when empty. The Temporal server checks it only when
	// it is given an audience mapper.
	Audience []string
	// Permissions are the "<namespace>:<role>" grants to put in the
	// permissions claim, with role read, write, worker or admin (any case;
	// tokens carry it in lower case). See ParsePermission. The namespace
	// "temporal-system" grants cluster-wide roles. With none, the claim is
	// omitted and the token grants nothing under the default authorizer.
	Permissions []string
	// PermissionsClaim is the name of the permissions claim, which must
	// match the server's permissionsClaimName. Default:
	// DefaultPermissionsClaim.
	PermissionsClaim string
	// Expiration is how long each token is valid: "exp" is the signing time
	// plus Expiration. Default: DefaultJWTExpiration. At least one second.
	Expiration time.Duration
	// ClockSkew backdates "iat" and "nbf" so that a server whose clock is
	// up to ClockSkew behind this machine's accepts the token at once: the
	// server checks them with no leeway. Zero means DefaultClockSkew; a
	// negative value means no backdating. (A server clock ahead of this
	// one shortens the token's life instead, which the Provider's Leeway
	// absorbs.)
	ClockSkew time.Duration
	// ExtraClaims are further claims to add, each encoded with
	// encoding/json when NewSigner is called (later changes to the map are
	// not seen). Names the signer sets itself (sub, iss, aud, exp, iat,
	// nbf, the permissions claim) and the header names kid, alg and typ are
	// refused: use the fields above.
	ExtraClaims map[string]any
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// String describes c without its key.
func (c JWTConfig) String() string {
	var b strings.Builder
	b.WriteString("JWTConfig{Key: ")
	if c.Key == nil {
		b.WriteString("<nil>")
	} else {
		fmt.Fprintf(&b, "%s(%T)", Redacted, c.Key)
	}
	fmt.Fprintf(&b, ", KeyFile: %q, KeyID: %q, Subject: %q, Issuer: %q, Audience: %q, Permissions: %q, PermissionsClaim: %q, Expiration: %s, ClockSkew: %s, ExtraClaims: %q}",
		c.KeyFile, c.KeyID, c.Subject, c.Issuer, c.Audience, c.Permissions, c.PermissionsClaim,
		c.Expiration, c.ClockSkew, slices.Sorted(maps.Keys(c.ExtraClaims)))
	return b.String()
}

// GoString describes c without its key, for %#v.
func (c JWTConfig) GoString() string { return "headers." + c.String() }

// Format prints c as String does (GoString for %#v) whatever the verb, so
// that no verb prints the key.
func (c JWTConfig) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = fmt.Fprint(f, c.GoString())
		return
	}
	_, _ = fmt.Fprint(f, c.String())
}

// LogValue describes c for log/slog without its key.
func (c JWTConfig) LogValue() slog.Value {
	key := "<nil>"
	if c.Key != nil {
		key = Redacted
	}
	return slog.GroupValue(
		slog.String("key", key),
		slog.String("key_file", c.KeyFile),
		slog.String("kid", c.KeyID),
		slog.String("subject", c.Subject),
		slog.Any("permissions", c.Permissions),
		slog.Duration("expiration", c.Expiration),
	)
}

// A Permission is one "<namespace>:<role>" grant of the Temporal server's
// default claim mapper.
type Permission struct {
	// Namespace is a Temporal namespace (case-sensitive), or
	// "temporal-system" for cluster-wide roles.
	Namespace string
	// Role is "read", "write", "worker" or "admin".
	Role string
}

// String returns "<namespace>:<role>", the form tokens carry.
func (p Permission) String() string { return p.Namespace + ":" + p.Role }

// Roles of the Temporal server's default authorizer, weakest first.
var permissionRoles = []string{"worker", "read", "write", "admin"}

// ParsePermission parses a "<namespace>:<role>" permission as the Temporal
// server's default claim mapper does: split at the first colon, role
// compared case-insensitively with read, write, worker and admin, which
// ParsePermission returns in lower case. It also refuses what the server
// would ignore or never match: no colon, an empty namespace, a namespace
// with spaces or control characters, and unknown roles.
func ParsePermission(s string) (Permission, error) {
	p, err := parsePermission(s)
	if err != nil {
		return Permission{}, fmt.Errorf("headers: %w", err)
	}
	return p, nil
}

func parsePermission(s string) (Permission, error) {
	ns, role, ok := strings.Cut(s, ":")
	switch {
	case !ok:
		return Permission{}, fmt.Errorf("permission %q: want \"<namespace>:<role>\", e.g. \"default:write\"", s)
	case ns == "":
		return Permission{}, fmt.Errorf("permission %q: empty namespace; want \"<namespace>:<role>\"", s)
	case strings.ContainsFunc(ns, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar }):
		return Permission{}, fmt.Errorf("permission %q: namespace contains a space, control or invalid character", s)
	}
	lower := strings.ToLower(role)
	if !slices.Contains(permissionRoles, lower) {
		return Permission{}, fmt.Errorf("permission %q: role %q is not one of read, write, worker, admin", s, role)
	}
	return Permission{Namespace: ns, Role: lower}, nil
}

// reservedClaims maps names ExtraClaims may not use to the field to set instead.
var reservedClaims = map[string]string{
	"sub": "Subject", "iss": "Issuer", "aud": "Audience",
	"exp": "Expiration", "iat": "ClockSkew", "nbf": "ClockSkew",
	"kid": "KeyID", "alg": "Key", "typ": "",
}

// A Signer signs a new JWT each time its Token method is called. It is a
// TokenSource for New, safe for concurrent use. Build one with NewSigner;
// NewJWTProvider wraps one in a caching Provider.
type Signer struct {
	key      *signingKey // fixed key, or nil with file
	file     *keyFile
	keyFile  string
	subject  string
	issuer   string
	audience any // nil, string or []string
	perms    []string
	claim    string
	exp      time.Duration
	skew     time.Duration
	extra    map[string]json.RawMessage
	now      func() time.Time
}

var _ TokenSource = (*Signer)(nil)

// NewSigner checks cfg, applies its defaults, loads the key and returns a
// Signer. Its errors name the setting at fault.
func NewSigner(cfg JWTConfig) (*Signer, error) {
	s := &Signer{
		keyFile: cfg.KeyFile,
		subject: orDefault(cfg.Subject, DefaultJWTSubject),
		issuer:  cfg.Issuer,
		claim:   orDefault(cfg.PermissionsClaim, DefaultPermissionsClaim),
		exp:     cfg.Expiration,
		skew:    cfg.ClockSkew,
		now:     cfg.Now,
	}
	if s.now == nil {
		s.now = time.Now
	}
	switch {
	case s.exp == 0:
		s.exp = DefaultJWTExpiration
	case s.exp < time.Second:
		return nil, fmt.Errorf("headers: JWTConfig.Expiration %s: must be at least 1s", cfg.Expiration)
	}
	switch {
	case s.skew == 0:
		s.skew = DefaultClockSkew
	case s.skew < 0:
		s.skew = 0
	}
	for i, a := range cfg.Audience {
		if a == "" {
			return nil, fmt.Errorf("headers: JWTConfig.Audience[%d] is empty", i)
		}
	}
	switch len(cfg.Audience) {
	case 0:
	case 1:
		s.audience = cfg.Audience[0]
	default:
		s.audience = slices.Clone(cfg.Audience)
	}
	for i, p := range cfg.Permissions {
		perm, err := parsePermission(p)
		if err != nil {
			return nil, fmt.Errorf("headers: JWTConfig.Permissions[%d]: %w", i, err)
		}
		s.perms = append(s.perms, perm.String())
	}
	if _, reserved := reservedClaims[s.claim]; reserved {
		return nil, fmt.Errorf("headers: JWTConfig.PermissionsClaim %q: a claim or header the signer sets itself", s.claim)
	}
	if len(cfg.ExtraClaims) > 0 {
		s.extra = make(map[string]json.RawMessage, len(cfg.ExtraClaims))
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.ExtraClaims)) {
		if err := checkExtraClaim(name, s.claim); err != nil {
			return nil, err
		}
		v, err := json.Marshal(cfg.ExtraClaims[name])
		if err != nil {
			return nil, fmt.Errorf("headers: JWTConfig.ExtraClaims[%q]: cannot encode as JSON: %w", name, err)
		}
		s.extra[name] = v
	}
	switch {
	case cfg.Key != nil && cfg.KeyFile != "":
		return nil, errors.New("headers: JWTConfig: set either Key or KeyFile, not both")
	case cfg.KeyFile != "" && cfg.KeyID != "":
		return nil, errors.New("headers: JWTConfig.KeyID cannot be combined with KeyFile: a rotated key file needs a new kid, so the key's thumbprint is used")
	case cfg.KeyFile != "":
		f, err := openKeyFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w (JWTConfig.KeyFile)", err)
		}
		s.file = f
	case cfg.Key != nil:
		key, err := newSigningKey(cfg.Key, cfg.KeyID)
		if err != nil {
			return nil, fmt.Errorf("headers: JWTConfig.Key: %w", err)
		}
		s.key = key
	default:
		return nil, errors.New("headers: JWTConfig: no key: set Key or KeyFile")
	}
	return s, nil
}

func checkExtraClaim(name, permClaim string) error {
	if name == "" {
		return errors.New("headers: JWTConfig.ExtraClaims: empty claim name")
	}
	if name == permClaim {
		return fmt.Errorf("headers: JWTConfig.ExtraClaims[%q]: the permissions claim is set from JWTConfig.Permissions", name)
	}
	if field, reserved := reservedClaims[name]; reserved {
		if field == "" {
			return fmt.Errorf("headers: JWTConfig.ExtraClaims[%q]: reserved, the signer sets it", name)
		}
		return fmt.Errorf("headers: JWTConfig.ExtraClaims[%q]: reserved, the signer sets it; use JWTConfig.%s", name, field)
	}
	return nil
}

// orDefault returns v, or def when v is empty.
func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Token signs and returns a new token, valid from now minus the clock skew
// until now plus the expiration; Token.Expiry is its "exp". With a
// KeyFile, the file is read first and a changed key is used at once.
func (s *Signer) Token(ctx context.Context) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	key := s.key
	if key == nil && s.file == nil {
		return Token{}, errors.New("headers: jwt signer has no key: create it with NewSigner")
	}
	if s.file != nil {
		var err error
		if key, err = s.file.load(); err != nil {
			return Token{}, err
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
		return Token{}, fmt.Errorf("headers: jwt signer: encode claims: %w", err)
	}
	input := key.header + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := key.sign(input)
	if err != nil {
		return Token{}, fmt.Errorf("headers: jwt signer kid=%s: %w", key.kid, err)
	}
	return Token{Value: input + "." + base64.RawURLEncoding.EncodeToString(sig), Expiry: time.Unix(exp, 0)}, nil
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

// KeyID returns the "kid" of the tokens the Signer signs; with a KeyFile,
// that of the key loaded last.
func (s *Signer) KeyID() string { return s.current().kid }

// Algorithm returns "ES256" or "RS256"; with a KeyFile, that of the key
// loaded last.
func (s *Signer) Algorithm() string { return s.current().alg }

// PublicJWK returns the public key to publish in the Temporal server's JWKS
// (see KeySet); with a KeyFile, that of the key loaded last.
func (s *Signer) PublicJWK() JWK { return s.current().jwk }

// current returns the key in use, or an empty one for a Signer not made by
// NewSigner.
func (s *Signer) current() *signingKey {
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
func (s *Signer) String() string {
	k := s.current()
	if s.file != nil {
		return fmt.Sprintf("jwt signer (key file %q, kid=%s, alg=%s, sub=%q)", s.keyFile, k.kid, k.alg, s.subject)
	}
	return fmt.Sprintf("jwt signer (kid=%s, alg=%s, sub=%q)", k.kid, k.alg, s.subject)
}

// GoString describes s without its key, for %#v.
func (s *Signer) GoString() string { return "headers.Signer{" + s.String() + "}" }

// Format prints s as String does (GoString for %#v) whatever the verb, so
// that no verb prints the key.
func (s *Signer) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = fmt.Fprint(f, s.GoString())
		return
	}
	_, _ = fmt.Fprint(f, s.String())
}

// LogValue describes s for log/slog without its key.
func (s *Signer) LogValue() slog.Value {
	k := s.current()
	return slog.GroupValue(
		slog.String("kid", k.kid),
		slog.String("alg", k.alg),
		slog.String("key_file", s.keyFile),
		slog.String("subject", s.subject),
	)
}

// NewJWTProvider returns a Provider, ready for client.Options.HeadersProvider,
// that signs tokens with NewSigner(cfg) and caches each until Leeway before
// its expiry.
//
// opts.Name defaults to "jwt signer kid=<kid>" (or "jwt signer file=<path>"
// with a KeyFile). When cfg.Now is nil and opts.Clock is set, the signer
// reads the time from opts.Clock. opts.Leeway must be shorter than the token lifetime. With a KeyFile
// that group or others can read, a warning is logged to opts.Logger (or
// slog.Default) — see CheckKeyFilePermissions.
//
// After replacing the KeyFile, tokens signed with the new key are sent once
// the cached one is refreshed; call Provider.Invalidate to switch at once.
func NewJWTProvider(cfg JWTConfig, opts Options) (*Provider, error) {
	if cfg.Now == nil && opts.Clock != nil {
		cfg.Now = opts.Clock.Now
	}
	signer, err := NewSigner(cfg)
	if err != nil {
		return nil, err
	}
	if opts.Leeway >= signer.exp {
		return nil, fmt.Errorf("headers: Options.Leeway %s must be shorter than the token lifetime JWTConfig.Expiration %s", opts.Leeway, signer.exp)
	}
	if opts.Name == "" {
		if cfg.KeyFile != "" {
			opts.Name = "jwt signer file=" + cfg.KeyFile
		} else {
			opts.Name = "jwt signer kid=" + signer.KeyID()
		}
	}
	if cfg.KeyFile != "" {
		if err := CheckKeyFilePermissions(cfg.KeyFile); err != nil {
			logger := opts.Logger
			if logger == nil {
				logger = slog.Default()
			}
			logger.Warn("private key file permissions are too open", slog.String("source", opts.Name), slog.Any("error", err))
		}
	}
	return New(signer, opts), nil
}
