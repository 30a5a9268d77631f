package serverauth

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"go.temporal.io/server/common/clock"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
)

// Defaults for the zero values of Config.
const (
	// DefaultRefreshInterval is how often every source is fetched when
	// Config.RefreshInterval is zero: hourly, as Microsoft advises for
	// Entra ID. Unknown key IDs trigger refetches in between.
	DefaultRefreshInterval = time.Hour
	// DefaultMinRefetchInterval is the least time between two refetches
	// triggered by unknown key IDs when Config.MinRefetchInterval is zero.
	DefaultMinRefetchInterval = time.Minute
	// DefaultFetchTimeout bounds one fetch of all sources (for an issuer:
	// its discovery document and its JWKS) when Config.FetchTimeout is zero.
	DefaultFetchTimeout = 10 * time.Second
	// DefaultMaxResponseBytes is the largest JWKS or discovery document read
	// when Config.MaxResponseBytes is zero: 1 MiB (Entra ID's is about 10 KiB).
	DefaultMaxResponseBytes = 1 << 20
	// DefaultMaxKeyAge is how long a source's keys stay in use after its
	// last successful fetch when Config.MaxKeyAge is zero: 24 hours, or
	// twice the refresh interval when that is longer.
	DefaultMaxKeyAge = 24 * time.Hour
)

const (
	// maxRemembered bounds the key IDs remembered as missing between two
	// fetches, so a flood of random key IDs cannot grow memory without end
	// (each is kept as a 32-byte hash, whatever its size).
	maxRemembered = 10_000
	// maxLoggedPerWindow is how many rate-limited refusals are logged one by
	// one between two fetches; the rest are counted in one line.
	maxLoggedPerWindow = 5
	// maxKidInLogs truncates key IDs, which come from unverified tokens.
	maxKidInLogs = 100
)

// Config says where a KeyProvider finds keys and how often it refetches
// them. Zero values take the documented defaults.
type Config struct {
	// JWKSURLs are JSON Web Key Set locations: https:// URLs, http:// URLs
	// of loopback hosts only, or file:// URLs with absolute paths. Blank
	// entries are ignored. Each needs its allowed issuers in JWKSIssuers,
	// unless AllowAnyIssuer.
	JWKSURLs []string
	// JWKSIssuers maps an entry of JWKSURLs (the same string) to the
	// issuers allowed to use its keys: a token signed with one of them is
	// refused, before its signature is checked, unless its "iss" claim is
	// one of these strings exactly. NewKeyProvider fails when a JWKS URL
	// has no entry, unless AllowAnyIssuer, and when an entry names no
	// JWKS URL. Default: none.
	JWKSIssuers map[string][]string
	// Issuers are OpenID Connect issuers, e.g.
	// "https://login.microsoftonline.com/<tenant>/v2.0". Each fetch reads
	// <issuer>/.well-known/openid-configuration, refuses it unless its
	// "issuer" is the configured one (a trailing slash aside), then reads
	// the JWKS at its "jwks_uri" (https://, or http:// to a loopback host).
	// Its keys verify only tokens whose "iss" is the document's "issuer".
	Issuers []string
	// EntraTenants are Microsoft Entra ID tenants, by tenant ID (a GUID;
	// Entra ID puts it in every token's "iss" and "tid"). Each adds the
	// tenant's JWKS, <EntraAuthorityHost>/<tenant>/discovery/v2.0/keys, as
	// a source whose keys verify only the tenant's tokens: those whose
	// "iss" is https://sts.windows.net/<tenant>/ (v1.0 tokens) or
	// <EntraAuthorityHost>/<tenant>/v2.0 (v2.0 tokens). Entra ID signs
	// every tenant's tokens with the same keys; without this binding a
	// token from any tenant whose app carries a role value the server
	// understands would be accepted. Default: none.
	EntraTenants []string
	// EntraAuthorityHost is the scheme and host of the Entra ID authority
	// for EntraTenants: a national cloud's, or a test identity provider's
	// such as azure/entratest's. The v1.0 issuer stays
	// https://sts.windows.net/<tenant>/; for a national cloud whose v1.0
	// issuer differs, use JWKSURLs and JWKSIssuers. Default:
	// DefaultEntraAuthorityHost, https://login.microsoftonline.com.
	EntraAuthorityHost string
	// AllowAnyIssuer lets the keys of JWKS URLs that have no entry in
	// JWKSIssuers verify tokens of any issuer, as the stock server's key
	// provider does. It is the explicit opt-out of issuer binding, for an
	// identity provider that signs for one issuer only and whose issuer is
	// not known; issuers and Entra tenants stay bound. Default: false.
	AllowAnyIssuer bool
	// RefreshInterval is how long after a fetch all sources are fetched
	// again (default DefaultRefreshInterval, one hour). Negative disables
	// the periodic fetch; unknown key IDs still trigger refetches.
	RefreshInterval time.Duration
	// MinRefetchInterval is the least time between two refetches triggered
	// by unknown key IDs (default DefaultMinRefetchInterval, one minute).
	// The first fetch and periodic fetches do not count against it. A token
	// whose key ID is unknown while refetching is not allowed is refused at
	// once, and one refetch is scheduled for the moment it is allowed again.
	MinRefetchInterval time.Duration
	// FetchTimeout bounds one fetch of all sources (default
	// DefaultFetchTimeout, ten seconds). A token with an unknown key ID
	// waits at most this long for the refetch.
	FetchTimeout time.Duration
	// MaxKeyAge is how long a source's keys stay in use after its last
	// successful fetch while later fetches fail. A withdrawn key (one the
	// identity provider stopped publishing, perhaps because it leaked)
	// would otherwise stay valid for as long as the JWKS is unreachable.
	// When the age is reached, lookups no longer find the source's keys and
	// the next fetch drops them with a log line and the
	// jwt_keys_dropped_for_age metric. Tokens live about an hour (Entra ID:
	// 60 to 90 minutes) and a client cannot renew its token while the
	// identity provider is down, so a day covers any outage that leaves
	// tokens to verify; a longer one drops the keys. Negative keeps keys
	// forever (the behaviour before this setting). Default:
	// DefaultMaxKeyAge (24 hours), or twice RefreshInterval when that is
	// longer.
	MaxKeyAge time.Duration
	// MaxResponseBytes is the largest JWKS, discovery document or key file
	// read (default DefaultMaxResponseBytes, 1 MiB); a larger one fails the
	// fetch of that source.
	MaxResponseBytes int64
	// HTTPClient fetches https:// and http:// sources. Default: a client
	// with its own copy of http.DefaultTransport (proxies from the
	// environment). The provider uses a copy of it whose redirects are
	// checked like configured URLs.
	HTTPClient *http.Client
	// Logger receives what the provider does (default: nothing is logged).
	// Pass the server's logger.
	Logger log.Logger
	// MetricsHandler, when set, receives the counters listed in the package
	// documentation. Pass the handler given to temporal.WithCustomMetricsHandler
	// to export them with the server's own metrics.
	MetricsHandler metrics.Handler
	// TimeSource is the clock that schedules fetches and enforces
	// MinRefetchInterval (default: the real clock). Tests pass a
	// *clock.EventTimeSource. HTTP timeouts use the real clock regardless.
	TimeSource clock.TimeSource
}

// Setting names as they appear in a Temporal server's YAML configuration.
const (
	settingKeySourceURIs    = "global.authorization.jwtKeyProvider.keySourceURIs"
	settingRefreshInterval  = "global.authorization.jwtKeyProvider.refreshInterval"
	settingPermissionsRegex = "global.authorization.permissionsRegex"
)

// ConfigFromAuthorization builds a Config from the authorization section of
// a Temporal server's configuration, so that an operator keeps their YAML:
//
//   - jwtKeyProvider.keySourceURIs: JWKS URLs (https://, http:// for loopback
//     hosts, file://). A URI ending in "/.well-known/openid-configuration" is
//     read as an OpenID discovery document instead: its issuer is the URI
//     without that suffix and is checked against the document's "issuer",
//     and its keys verify only that issuer's tokens.
//   - issuers of JWKS URLs: the YAML has no place for them, so they are
//     derived where the URL alone determines them, and left to the caller
//     elsewhere. A tenant's JWKS URL on Entra ID,
//     https://login.microsoftonline.com/<tenant-id>/discovery/v2.0/keys (or
//     .../discovery/keys), gets the tenant's two issuers in
//     Config.JWKSIssuers (see EntraIssuers): Microsoft fixes both for a
//     tenant ID. Any other JWKS URL, including Entra ID's
//     /common/discovery/v2.0/keys, which names no tenant, gets none; set
//     its entry in Config.JWKSIssuers (package serveropts reads it from an
//     environment variable) or use its issuer's discovery URL instead.
//   - jwtKeyProvider.refreshInterval: Config.RefreshInterval. Zero, what a
//     hand-written configuration has when it omits the setting and what
//     makes the stock server never refresh, means DefaultRefreshInterval
//     (one hour) here; a negative value disables the periodic refresh.
//   - permissionsRegex, when set, must compile and name the groups
//     "namespace" and "role" (the stock server ignores a bad one with a
//     warning and grants nothing).
//
// The other fields of Config keep their zero values. Errors name the
// setting at fault.
func ConfigFromAuthorization(auth *config.Authorization) (Config, error) {
	if auth == nil {
		return Config{}, errors.New("serverauth: no authorization configuration (global.authorization)")
	}
	var cfg Config
	for i, raw := range auth.JWTKeyProvider.KeySourceURIs {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		setting := fmt.Sprintf("%s[%d]", settingKeySourceURIs, i)
		if issuer, ok := strings.CutSuffix(raw, discoverySuffix); ok {
			if _, err := newIssuerSource(setting, issuer); err != nil {
				return Config{}, fmt.Errorf("serverauth: %w", err)
			}
			cfg.Issuers = append(cfg.Issuers, issuer)
			continue
		}
		if _, err := newJWKSSource(setting, raw); err != nil {
			return Config{}, fmt.Errorf("serverauth: %w", err)
		}
		cfg.JWKSURLs = append(cfg.JWKSURLs, raw)
		if issuers := entraIssuersFromKeysURL(raw); issuers != nil {
			if cfg.JWKSIssuers == nil {
				cfg.JWKSIssuers = map[string][]string{}
			}
			cfg.JWKSIssuers[raw] = issuers
		}
	}
	if len(cfg.JWKSURLs)+len(cfg.Issuers) == 0 {
		return Config{}, fmt.Errorf("serverauth: %s is empty: list the JWKS URL(s) of the identity provider", settingKeySourceURIs)
	}
	cfg.RefreshInterval = auth.JWTKeyProvider.RefreshInterval
	if err := CheckPermissionsRegex(auth.PermissionsRegex); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// CheckPermissionsRegex reports whether expr, the permissionsRegex setting,
// is usable by the default claim mapper: empty, or a regular expression
// with the named groups "namespace" and "role".
func CheckPermissionsRegex(expr string) error {
	if expr == "" {
		return nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return fmt.Errorf("serverauth: %s does not compile: %w", settingPermissionsRegex, err)
	}
	var ns, role bool
	for _, name := range re.SubexpNames() {
		ns = ns || name == "namespace"
		role = role || name == "role"
	}
	if !ns || !role {
		return fmt.Errorf("serverauth: %s %q lacks the named group(s) (?P<namespace>...) and (?P<role>...)", settingPermissionsRegex, expr)
	}
	return nil
}

// newSources checks cfg's key sources and their issuer binding. Errors name
// the Config field at fault; the caller adds the package prefix.
func newSources(cfg *Config) ([]*source, error) {
	if err := checkJWKSIssuersKeys(cfg); err != nil {
		return nil, err
	}
	var sources []*source
	for i, raw := range cfg.JWKSURLs {
		if strings.TrimSpace(raw) == "" {
			continue
		}
		setting := fmt.Sprintf("Config.JWKSURLs[%d]", i)
		s, err := newJWKSSource(setting, raw)
		if err != nil {
			return nil, err
		}
		if err := bindJWKSSource(s, setting, raw, cfg); err != nil {
			return nil, err
		}
		sources = append(sources, s)
	}
	for i, raw := range cfg.Issuers {
		if strings.TrimSpace(raw) == "" {
			continue
		}
		s, err := newIssuerSource(fmt.Sprintf("Config.Issuers[%d]", i), raw)
		if err != nil {
			return nil, err
		}
		sources = append(sources, s)
	}
	for i, tenant := range cfg.EntraTenants {
		s, err := newEntraSource(fmt.Sprintf("Config.EntraTenants[%d]", i), cfg.EntraAuthorityHost, tenant)
		if err != nil {
			return nil, err
		}
		sources = append(sources, s)
	}
	if len(sources) == 0 {
		return nil, errors.New("no key source: set Config.JWKSURLs, Config.Issuers or Config.EntraTenants")
	}
	return sources, nil
}

// maxKeyAge applies MaxKeyAge's default: DefaultMaxKeyAge, or twice the
// refresh interval when that is longer.
func maxKeyAge(v, refresh time.Duration) (time.Duration, error) {
	switch {
	case v < 0:
		return 0, nil
	case v == 0:
		return max(DefaultMaxKeyAge, 2*refresh), nil
	case refresh > 0 && v <= refresh:
		return 0, fmt.Errorf("serverauth: Config.MaxKeyAge (%v) must be longer than the refresh interval (%v), "+
			"or keys would age out between two successful fetches", v, refresh)
	}
	return v, nil
}
