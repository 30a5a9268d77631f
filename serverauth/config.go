package serverauth

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.temporal.io/server/common/config"
)

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
//     without that suffix and is checked against the document's "issuer".
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
