package jwtkey

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/redact"
	"github.com/temporalauth/temporalauth/internal/setting"
)

// Defaults of Config.
const (
	// DefaultSubject is the "sub" claim when Config.Subject is empty. The
	// Temporal server requires a string "sub" and shows it in its logs.
	DefaultSubject = "temporalauth"
	// DefaultPermissionsClaim is the claim the Temporal server's default
	// claim mapper reads permissions from (its permissionsClaimName).
	DefaultPermissionsClaim = "permissions"
	// DefaultExpiration is how long a signed token is valid.
	DefaultExpiration = 10 * time.Minute
	// DefaultClockSkew is how far "iat" and "nbf" are backdated.
	DefaultClockSkew = time.Minute
)

// The environment variables ConfigFromLookup reads.
const (
	EnvKeyFile          = "TEMPORAL_JWT_PRIVATE_KEY_FILE"
	EnvKey              = "TEMPORAL_JWT_PRIVATE_KEY"
	EnvKeyID            = "TEMPORAL_JWT_KEY_ID"
	EnvPermissions      = "TEMPORAL_JWT_PERMISSIONS"
	EnvPermissionsClaim = "TEMPORAL_JWT_PERMISSIONS_CLAIM"
	EnvSubject          = "TEMPORAL_JWT_SUBJECT"
	EnvIssuer           = "TEMPORAL_JWT_ISSUER"
	EnvAudience         = "TEMPORAL_JWT_AUDIENCE"
	EnvExpiration       = "TEMPORAL_JWT_EXPIRATION"
)

// names names Config's settings in errors.
var names = setting.Names{Config: "jwtkey.Config", Env: map[string]string{
	"KeyFile":          EnvKeyFile,
	"Key":              EnvKey,
	"KeyID":            EnvKeyID,
	"Permissions":      EnvPermissions,
	"PermissionsClaim": EnvPermissionsClaim,
	"Subject":          EnvSubject,
	"Issuer":           EnvIssuer,
	"Audience":         EnvAudience,
	"Expiration":       EnvExpiration,
}}

// A Config describes the tokens a Source makes: JWTs signed with a local
// private key, in the form the Temporal server's default JWT claim mapper
// accepts (RS256 or ES256, a "kid" header, a string "sub", "exp", "iat" and
// "nbf", and a permissions array).
//
// A Config holds a private key: String, GoString, Format and LogValue
// show the settings without it.
type Config struct {
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
	// Subject is the "sub" claim. Default: DefaultSubject.
	Subject string
	// Issuer is the "iss" claim. Default: none (omitted).
	Issuer string
	// Audience is the "aud" claim: a string for one audience, an array for
	// several. Default: none (omitted). The Temporal server checks it only
	// when it is given an audience mapper.
	Audience []string
	// Permissions are the "<namespace>:<role>" grants to put in the
	// permissions claim, with role read, write, worker or admin (any case;
	// tokens carry it in lower case). See ParsePermission. The namespace
	// "temporal-system" grants cluster-wide roles. Default: none; the
	// claim is omitted and the token grants nothing under the default
	// authorizer.
	Permissions []string
	// PermissionsClaim is the name of the permissions claim, which must
	// match the server's permissionsClaimName. Default:
	// DefaultPermissionsClaim.
	PermissionsClaim string
	// Expiration is how long each token is valid: "exp" is the signing time
	// plus Expiration. At least one second. Default: DefaultExpiration.
	Expiration time.Duration
	// ClockSkew backdates "iat" and "nbf" so that a server whose clock is
	// up to ClockSkew behind this machine's accepts the token at once: the
	// server checks them with no leeway. A negative value means no
	// backdating. (A server clock ahead of this one shortens the token's
	// life instead, which the Provider's Leeway absorbs.) Default:
	// DefaultClockSkew.
	ClockSkew time.Duration
	// ExtraClaims are further claims to add, each encoded with
	// encoding/json when NewTokenSource is called (later changes to the map
	// are not seen). Names the signer sets itself (sub, iss, aud, exp, iat,
	// nbf, the permissions claim) and the header names kid, alg and typ are
	// refused: use the fields above. Default: none.
	ExtraClaims map[string]any
	// Clock tells the signing time. Default: the system clock; NewProvider
	// uses its headers.Options.Clock.
	Clock headers.Clock

	fromEnv bool // read by ConfigFromLookup: errors name variables
}

// ConfigFromLookup reads a Config from environment variables through
// lookup (os.LookupEnv when nil):
//
//	TEMPORAL_JWT_PRIVATE_KEY_FILE   KeyFile
//	TEMPORAL_JWT_PRIVATE_KEY        Key, as PEM (a one-line value may carry line breaks as \n)
//	TEMPORAL_JWT_KEY_ID             KeyID (only with TEMPORAL_JWT_PRIVATE_KEY)
//	TEMPORAL_JWT_PERMISSIONS        Permissions, comma-separated
//	TEMPORAL_JWT_PERMISSIONS_CLAIM  PermissionsClaim
//	TEMPORAL_JWT_SUBJECT            Subject
//	TEMPORAL_JWT_ISSUER             Issuer
//	TEMPORAL_JWT_AUDIENCE           Audience, comma-separated
//	TEMPORAL_JWT_EXPIRATION         Expiration, a Go duration such as 10m
//
// Values are trimmed of surrounding white space; an empty one is unset. It
// checks the settings as NewTokenSource does, without reading the key file;
// errors are *headers.ConfigError naming the variable, and NewTokenSource
// and NewProvider name the variables too for a Config read here.
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	env := setting.Lookup(lookup)
	c := Config{
		KeyFile:          env.Get(EnvKeyFile),
		KeyID:            env.Get(EnvKeyID),
		PermissionsClaim: env.Get(EnvPermissionsClaim),
		Subject:          env.Get(EnvSubject),
		Issuer:           env.Get(EnvIssuer),
		fromEnv:          true,
	}
	var err error
	if c.Permissions, err = env.List(EnvPermissions, "default:write,temporal-system:read"); err != nil {
		return Config{}, err
	}
	if c.Audience, err = env.List(EnvAudience, "temporal-server"); err != nil {
		return Config{}, err
	}
	if c.Expiration, err = env.Duration(EnvExpiration); err != nil {
		return Config{}, err
	}
	if pemKey := env.Get(EnvKey); pemKey != "" {
		if c.KeyFile != "" {
			return Config{}, c.bothKeys()
		}
		if setting.Quoted(pemKey) {
			return Config{}, names.Errorf(true, "Key", "%s", setting.QuotedHint)
		}
		if !strings.Contains(pemKey, "\n") {
			// One-line settings (docker --env-file, some CI secret stores)
			// carry PEM line breaks as the two characters \n.
			pemKey = strings.ReplaceAll(pemKey, `\n`, "\n")
		}
		if c.Key, err = parsePrivateKeyPEM([]byte(pemKey)); err != nil {
			return Config{}, names.Wrap(true, "Key", err)
		}
	}
	if _, err := c.check(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// checked is a Config with its defaults applied, ready to sign with.
type checked struct {
	subject  string
	issuer   string
	audience any // nil, string or []string
	perms    []string
	claim    string
	exp      time.Duration
	skew     time.Duration
	extra    map[string]json.RawMessage
}

// check validates c, except for its key, and applies its defaults: the
// key settings, the token's lifetime, then its claims. Its errors are
// *headers.ConfigError.
func (c Config) check() (checked, error) {
	k := checked{
		subject: setting.OrDefault(c.Subject, DefaultSubject),
		issuer:  c.Issuer,
		claim:   setting.OrDefault(c.PermissionsClaim, DefaultPermissionsClaim),
		exp:     setting.OrDefault(c.Expiration, DefaultExpiration),
		skew:    max(setting.OrDefault(c.ClockSkew, DefaultClockSkew), 0),
	}
	if err := c.checkKeySettings(); err != nil {
		return checked{}, err
	}
	if k.exp < time.Second {
		return checked{}, c.errorf("Expiration", "%s: must be at least 1s", c.Expiration)
	}
	var err error
	if k.audience, err = c.checkAudience(); err != nil {
		return checked{}, err
	}
	if k.perms, err = c.checkPermissions(); err != nil {
		return checked{}, err
	}
	if _, reserved := reservedClaims[k.claim]; reserved {
		return checked{}, c.errorf("PermissionsClaim", "%s: the signer sets this claim itself; name another claim, such as permissions (the default) or roles", setting.Quote(k.claim))
	}
	if k.extra, err = c.checkExtraClaims(k.claim); err != nil {
		return checked{}, err
	}
	return k, nil
}

// errorf returns a *headers.ConfigError for field, named as c was given.
func (c Config) errorf(field, format string, args ...any) error {
	return names.Errorf(c.fromEnv, field, format, args...)
}

// checkKeySettings checks that the key is given one way, and KeyID.
func (c Config) checkKeySettings() error {
	switch {
	case c.Key != nil && c.KeyFile != "":
		return c.bothKeys()
	case c.Key == nil && c.KeyFile == "":
		return c.errorf("Key", "no private key: set %s to a PEM private key file, or %s to the PEM key itself",
			names.Of("KeyFile", c.fromEnv), names.Of("Key", c.fromEnv))
	case c.KeyFile != "" && c.KeyID != "":
		return c.errorf("KeyID", "cannot be used with %s: a key file may be replaced, and its kid must change with it, so the key's thumbprint is the kid (publish the key with that kid)",
			names.Of("KeyFile", c.fromEnv))
	case setting.HasSpaceOrControl(c.KeyID):
		return c.errorf("KeyID", "%s contains white space or a control character", setting.Quote(c.KeyID))
	}
	return nil
}

// checkAudience returns the aud claim: nil, one string, or a list.
func (c Config) checkAudience() (any, error) {
	for i, a := range c.Audience {
		if a == "" {
			return nil, c.errorf("Audience", "entry %d is empty", i+1)
		}
	}
	switch len(c.Audience) {
	case 0:
		return nil, nil
	case 1:
		return c.Audience[0], nil
	}
	return slices.Clone(c.Audience), nil
}

// checkPermissions parses Permissions and returns them in their canonical
// form.
func (c Config) checkPermissions() ([]string, error) {
	var perms []string
	for i, p := range c.Permissions {
		perm, err := parsePermission(p)
		if err != nil {
			return nil, c.errorf("Permissions", "entry %d: %w", i+1, err)
		}
		perms = append(perms, perm.String())
	}
	return perms, nil
}

// checkExtraClaims checks ExtraClaims against the claims the signer sets,
// permissions claim among them, and returns them encoded.
func (c Config) checkExtraClaims(permissionsClaim string) (map[string]json.RawMessage, error) {
	if len(c.ExtraClaims) == 0 {
		return nil, nil
	}
	extra := make(map[string]json.RawMessage, len(c.ExtraClaims))
	for _, name := range slices.Sorted(maps.Keys(c.ExtraClaims)) {
		if err := checkExtraClaim(name, permissionsClaim); err != nil {
			return nil, c.errorf("ExtraClaims", "%w", err)
		}
		v, err := json.Marshal(c.ExtraClaims[name])
		if err != nil {
			return nil, c.errorf("ExtraClaims", "%q: cannot encode as JSON: %w", name, err)
		}
		extra[name] = v
	}
	return extra, nil
}

func (c Config) bothKeys() error {
	return names.Errorf(c.fromEnv, "Key", "%s and %s are both set: give the private key one way",
		names.Of("KeyFile", c.fromEnv), names.Of("Key", c.fromEnv))
}

// reservedClaims maps names ExtraClaims may not use to the field to set instead.
var reservedClaims = map[string]string{
	"sub": "Subject", "iss": "Issuer", "aud": "Audience",
	"exp": "Expiration", "iat": "ClockSkew", "nbf": "ClockSkew",
	"kid": "KeyID", "alg": "Key", "typ": "",
}

func checkExtraClaim(name, permClaim string) error {
	if name == "" {
		return errors.New("empty claim name")
	}
	if name == permClaim {
		return fmt.Errorf("%q: the permissions claim is set from %s", name, names.Of("Permissions", false))
	}
	if field, reserved := reservedClaims[name]; reserved {
		if field == "" {
			return fmt.Errorf("%q: reserved, the signer sets it", name)
		}
		return fmt.Errorf("%q: reserved, the signer sets it; use %s", name, names.Of(field, false))
	}
	return nil
}

// String describes c without its key.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("Config{Key: ")
	if c.Key == nil {
		b.WriteString("<nil>")
	} else {
		fmt.Fprintf(&b, "%s(%T)", headers.Redacted, c.Key)
	}
	fmt.Fprintf(&b, ", KeyFile: %q, KeyID: %q, Subject: %q, Issuer: %q, Audience: %q, Permissions: %q, PermissionsClaim: %q, Expiration: %s, ClockSkew: %s, ExtraClaims: %q}",
		c.KeyFile, c.KeyID, c.Subject, c.Issuer, c.Audience, c.Permissions, c.PermissionsClaim,
		c.Expiration, c.ClockSkew, slices.Sorted(maps.Keys(c.ExtraClaims)))
	return b.String()
}

// GoString describes c without its key, for %#v.
func (c Config) GoString() string { return "jwtkey." + c.String() }

// Format prints c as String does (GoString for %#v) whatever the verb, so
// that no verb prints the key.
func (c Config) Format(f fmt.State, verb rune) {
	redact.Format(f, verb, c)
}

// MarshalJSON encodes c's settings without its key, so that encoding/json
// (and slog's JSON handler, for a struct holding a Config) cannot reach
// the private key through the Key interface.
func (c Config) MarshalJSON() ([]byte, error) {
	type settings struct {
		Key              string   `json:",omitempty"`
		KeyFile          string   `json:",omitempty"`
		KeyID            string   `json:",omitempty"`
		Subject          string   `json:",omitempty"`
		Issuer           string   `json:",omitempty"`
		Audience         []string `json:",omitempty"`
		Permissions      []string `json:",omitempty"`
		PermissionsClaim string   `json:",omitempty"`
		Expiration       string   `json:",omitempty"`
		ClockSkew        string   `json:",omitempty"`
		ExtraClaims      []string `json:",omitempty"`
	}
	out := settings{KeyFile: c.KeyFile, KeyID: c.KeyID, Subject: c.Subject, Issuer: c.Issuer, Audience: c.Audience,
		Permissions: c.Permissions, PermissionsClaim: c.PermissionsClaim, ExtraClaims: slices.Sorted(maps.Keys(c.ExtraClaims))}
	if c.Key != nil {
		out.Key = headers.Redacted
	}
	if c.Expiration != 0 {
		out.Expiration = c.Expiration.String()
	}
	if c.ClockSkew != 0 {
		out.ClockSkew = c.ClockSkew.String()
	}
	return json.Marshal(out)
}

// LogValue describes c for log/slog without its key.
func (c Config) LogValue() slog.Value {
	key := "<nil>"
	if c.Key != nil {
		key = headers.Redacted
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
