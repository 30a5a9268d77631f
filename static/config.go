package static

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/redact"
	"github.com/temporalauth/temporalauth/internal/setting"
)

// DefaultPollInterval is how often a token file is read again when
// Config.PollInterval is zero. Agents replace token files well before the
// old token expires (the kubelet at 80% of a projected token's lifetime),
// so a minute's delay in noticing a new token is harmless.
const DefaultPollInterval = time.Minute

// MinPollInterval is the shortest Config.PollInterval accepted: a shorter
// one is most likely a number of seconds given without its unit (30 is
// 30 ns), and would read the file on nearly every call.
const MinPollInterval = time.Second

// maxTokenFileSize bounds how much of a token file is read: a file holds one
// token, and a larger file is most likely the wrong file.
const maxTokenFileSize = 64 << 10

// The environment variables ConfigFromLookup reads.
const (
	EnvToken     = "TEMPORAL_AUTH_TOKEN"
	EnvTokenFile = "TEMPORAL_AUTH_TOKEN_FILE"
)

// names names Config's settings in errors.
var names = setting.Names{Config: "static.Config", Env: map[string]string{
	"Token":     EnvToken,
	"TokenFile": EnvTokenFile,
}}

// A Config describes where a Source finds its token: in the Config itself
// (Token), or in a file that another process keeps fresh (TokenFile). Set
// exactly one of the two.
//
// A token is trimmed of surrounding white space and checked with
// ParseToken. When it is a JWT, its exp claim is its expiry; a JWT that has
// expired is refused.
//
// A Config may hold a token: String, GoString, Format, LogValue and
// MarshalJSON show the settings without it. fmt cannot call them for a
// Config held in an unexported field of another struct, nor for %p of a
// Config value: keep a Config in an exported field or behind a pointer, or
// print the Source instead, which never holds the token where fmt can
// reach it.
type Config struct {
	// Token is the token itself: an opaque API key or a JWT, without the
	// "Bearer" scheme, which the headers.Provider adds. It is served as it
	// is until it expires; a fixed token cannot be renewed, so once a JWT's
	// exp has passed the setting must be given a new one.
	Token string
	// TokenFile is the path of a file holding the token, kept fresh by
	// another process such as a Vault agent sink or a Kubernetes projected
	// service-account token. The file is read again every PollInterval, so
	// a replaced file is picked up. Replace it atomically (write a new file
	// and rename it over the old one, or swap a symbolic link as the
	// kubelet does): a file rewritten in place can be read half-written.
	TokenFile string
	// PollInterval is how long a token read from TokenFile is used before
	// the file is read again. Only with TokenFile; at least
	// MinPollInterval (one second). Default: DefaultPollInterval.
	PollInterval time.Duration
	// Clock tells the time expiry is checked against. Default: the system
	// clock; NewProvider uses its headers.Options.Clock.
	Clock headers.Clock

	fromEnv bool // read by ConfigFromLookup: errors name variables
}

// ConfigFromLookup reads a Config from environment variables through
// lookup (os.LookupEnv when nil):
//
//	TEMPORAL_AUTH_TOKEN_FILE  TokenFile
//	TEMPORAL_AUTH_TOKEN       Token
//
// Exactly one of them must be set. Values are trimmed of surrounding white
// space; an empty one is unset. It checks the settings as NewTokenSource
// does, token included, but does not read the token file; errors are
// *headers.ConfigError naming the variable, never showing the token, and
// NewTokenSource and NewProvider name the variables too for a Config read
// here.
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	env := setting.Lookup(lookup)
	c := Config{
		Token:     env.Get(EnvToken),
		TokenFile: env.Get(EnvTokenFile),
		fromEnv:   true,
	}
	if _, err := c.check(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// check validates c without reading its token file and returns its fixed
// token, parsed (zero with a TokenFile). Its errors are
// *headers.ConfigError.
func (c Config) check() (headers.Token, error) {
	errf := func(field, format string, args ...any) error {
		return names.Errorf(c.fromEnv, field, format, args...)
	}
	switch {
	case c.Token != "" && c.TokenFile != "":
		return headers.Token{}, errf("Token", "%s and %s are both set: give the token one way",
			names.Of("TokenFile", c.fromEnv), names.Of("Token", c.fromEnv))
	case c.Token == "" && c.TokenFile == "":
		return headers.Token{}, errf("Token", "no token: set %s to a file holding the token, or %s to the token itself",
			names.Of("TokenFile", c.fromEnv), names.Of("Token", c.fromEnv))
	case c.PollInterval < 0:
		return headers.Token{}, errf("PollInterval", "%s is negative", c.PollInterval)
	case c.PollInterval > 0 && c.PollInterval < MinPollInterval:
		return headers.Token{}, errf("PollInterval", "%s is below the minimum of %s: give a duration with its unit, such as 30 * time.Second",
			c.PollInterval, MinPollInterval)
	case c.TokenFile != "":
		return headers.Token{}, nil
	case c.PollInterval != 0:
		return headers.Token{}, errf("PollInterval", "only used with %s: a fixed token is never read again", names.Of("TokenFile", c.fromEnv))
	}
	tok, err := ParseToken(c.Token)
	if err != nil {
		return headers.Token{}, names.Wrap(c.fromEnv, "Token", err)
	}
	if err := checkExpiry(tok, c.now()()); err != nil {
		return headers.Token{}, names.Wrap(c.fromEnv, "Token", err)
	}
	return tok, nil
}

// now returns c's clock as a function.
func (c Config) now() func() time.Time { return setting.Clock(c.Clock).Now }

// checkExpiry returns an error wrapping ErrExpiredToken once tok's expiry
// has come.
func checkExpiry(tok headers.Token, now time.Time) error {
	if !tok.Expiry.IsZero() && !now.Before(tok.Expiry) {
		return fmt.Errorf("%w (exp %s)", ErrExpiredToken, tok.Expiry.UTC().Format(time.RFC3339))
	}
	return nil
}

// redacted returns REDACTED for a secret, or "" when it is unset.
func redacted(secret string) string {
	if secret == "" {
		return ""
	}
	return headers.Redacted
}

// String describes c without its token.
func (c Config) String() string {
	token := `""`
	if c.Token != "" {
		token = headers.Redacted
	}
	return fmt.Sprintf("Config{Token: %s, TokenFile: %q, PollInterval: %s}", token, c.TokenFile, c.PollInterval)
}

// GoString describes c without its token, for %#v.
func (c Config) GoString() string { return "static." + c.String() }

// Format prints c as String does (GoString for %#v) whatever the verb, so
// that no verb prints the token.
func (c Config) Format(f fmt.State, verb rune) {
	redact.Format(f, verb, c)
}

// MarshalJSON encodes c without its token, so that a Config inside a value
// logged with slog.JSONHandler does not show it.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Token        string
		TokenFile    string
		PollInterval string
	}{Token: redacted(c.Token), TokenFile: c.TokenFile, PollInterval: c.PollInterval.String()})
}

// LogValue describes c for log/slog without its token.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("token", redacted(c.Token)),
		slog.String("token_file", c.TokenFile),
		slog.Duration("poll", c.PollInterval),
	)
}
