// Package serveropts wires a serverauth.KeyProvider into a Temporal server
// built from source, in one call, from the server's own configuration.
//
//	cfg, err := config.Load(config.WithConfigFile("config/production.yaml"))
//	...
//	authOpts, keys, err := serveropts.FromConfig(cfg, serverauth.Config{Logger: logger})
//	if err != nil { ... }
//	defer keys.Close()
//	s, err := temporal.NewServer(append([]temporal.ServerOption{
//		temporal.WithConfig(cfg),
//		temporal.WithLogger(logger),
//		temporal.ForServices(temporal.DefaultServices),
//	}, authOpts...)...)
//
// # Settings the YAML cannot hold
//
// config.Authorization has no field for the issuers allowed to use a key
// source's keys, nor for opting out of a check, and a server built with
// FromConfig keeps reading the stock YAML. So these come from environment
// variables, read by FromConfig:
//
//   - SERVERAUTH_KEY_SOURCE<N>_ISSUERS: the issuers (the tokens' "iss",
//     separated by commas or spaces) allowed to use the keys of the Nth
//     entry of jwtKeyProvider.keySourceURIs, counting from 1 and counting
//     blank entries, the way the Helm chart's TEMPORAL_JWT_KEY_SOURCE<N>
//     fill that list. Needed only for a JWKS URL whose issuers cannot be
//     derived: an entry ending in /.well-known/openid-configuration is
//     bound to its discovery document's issuer, and a tenant's JWKS URL on
//     Entra ID (https://login.microsoftonline.com/<tenant-id>/discovery/v2.0/keys)
//     to the tenant's two issuers (see serverauth.ConfigFromAuthorization).
//   - SERVERAUTH_ALLOW_ANY_ISSUER=true: the opt-out; JWKS URLs without
//     issuers verify tokens of any issuer, as in the stock server.
//   - SERVERAUTH_ALLOW_NO_AUDIENCE=true: the opt-out of the audience check;
//     without it an empty global.authorization.audience is an error.
//
// Environment variables rather than an extra file: the Helm chart and the
// Docker image already configure authorization through environment
// variables (TEMPORAL_JWT_KEY_SOURCE1, ...), so the issuers sit next to the
// URL they bind, with nothing new to mount; and the common cases (OpenID
// discovery URLs, Entra tenants) need none. The SERVERAUTH_ prefix says
// that the stock server ignores them: setting them there protects nothing.
// In code, serverauth.Config's JWKSIssuers and AllowAnyIssuer in base do
// the same.
//
// It lives apart from package serverauth so that the key provider's tests
// do not link the whole server.
package serveropts

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/temporal"

	"github.com/temporalauth/temporalauth/serverauth"
)

// FromConfig returns the server options that make a Temporal server check
// JWTs as the stock server binary does for `authorizer: default` and
// `claimMapper: default` (temporal.WithAuthorizer, temporal.WithClaimMapper,
// temporal.WithAudienceGetter), except that the keys come from a
// serverauth.KeyProvider, which refetches the key sources when a token names
// an unknown key ID. They do not read the server's configuration again, so
// they may come before or after temporal.WithConfig.
//
// Settings read from cfg.Global.Authorization: authorizer (must be
// "default"), claimMapper ("default" or empty), jwtKeyProvider.keySourceURIs
// and refreshInterval (see serverauth.ConfigFromAuthorization),
// permissionsClaimName, permissionsRegex and audience: tokens must carry it
// in "aud", and an empty one is an error unless SERVERAUTH_ALLOW_NO_AUDIENCE
// is true (an identity provider signs the tokens of its other APIs, and
// Entra ID those of other tenants, with the same keys). Every JWKS URL
// needs allowed issuers (see the package documentation). base supplies what YAML does not hold (Logger,
// MetricsHandler, HTTPClient, MinRefetchInterval, ...); its key sources are
// used next to the configured ones. When base.Logger is nil, the provider
// and claim mapper log through a logger built from cfg.Log, as the stock
// server's is.
//
// FromConfig fetches the keys once before it returns. The caller owns the
// returned provider and must Close it after the server stops. Errors name
// the setting at fault.
func FromConfig(cfg *config.Config, base serverauth.Config) ([]temporal.ServerOption, *serverauth.KeyProvider, error) {
	if cfg == nil {
		return nil, nil, errors.New("serveropts: no server configuration")
	}
	auth := &cfg.Global.Authorization
	authorizer, err := authorization.GetAuthorizerFromConfig(auth)
	if err != nil {
		return nil, nil, fmt.Errorf("serveropts: global.authorization.authorizer: %w", err)
	}
	if authorization.IsNoopAuthorizer(authorizer) {
		return nil, nil, errors.New(`serveropts: global.authorization.authorizer is empty, which lets every caller in whatever its token says: set it to "default"`)
	}
	switch strings.ToLower(auth.ClaimMapper) {
	case "", "default":
	default:
		return nil, nil, fmt.Errorf(`serveropts: global.authorization.claimMapper is %q: serverauth replaces the "default" JWT claim mapper only`, auth.ClaimMapper)
	}
	if strings.TrimSpace(auth.Audience) == "" {
		allow, err := envBool(EnvAllowNoAudience)
		if err != nil {
			return nil, nil, err
		}
		if !allow {
			return nil, nil, fmt.Errorf("serveropts: global.authorization.audience is empty, so the server would accept tokens the identity provider "+
				"issued for any of its APIs (and, with Entra ID, for any tenant): set it to the audience your tokens carry in \"aud\" "+
				"(Entra ID: the server app's application (client) ID, with accessTokenAcceptedVersion 2), or set %s=true to accept any audience",
				EnvAllowNoAudience)
		}
	}
	var kc serverauth.Config
	if hasKeySources(auth) || len(base.JWKSURLs)+len(base.Issuers)+len(base.EntraTenants) == 0 {
		if kc, err = serverauth.ConfigFromAuthorization(auth); err != nil {
			return nil, nil, fmt.Errorf("serveropts: %w", err)
		}
	} else { // only base names sources
		if err := serverauth.CheckPermissionsRegex(auth.PermissionsRegex); err != nil {
			return nil, nil, fmt.Errorf("serveropts: %w", err)
		}
		kc.RefreshInterval = auth.JWTKeyProvider.RefreshInterval
	}
	allowAny, err := envBool(EnvAllowAnyIssuer)
	if err != nil {
		return nil, nil, err
	}
	merged := base
	merged.AllowAnyIssuer = base.AllowAnyIssuer || allowAny
	if merged.JWKSIssuers, err = yamlIssuers(auth, base, kc, merged.AllowAnyIssuer); err != nil {
		return nil, nil, err
	}
	merged.JWKSURLs = append(append([]string(nil), base.JWKSURLs...), kc.JWKSURLs...)
	merged.Issuers = append(append([]string(nil), base.Issuers...), kc.Issuers...)
	merged.RefreshInterval = kc.RefreshInterval
	if base.RefreshInterval != 0 {
		merged.RefreshInterval = base.RefreshInterval
	}
	logger := base.Logger
	if logger == nil {
		logger = log.NewZapLogger(log.BuildZapLogger(cfg.Log))
		merged.Logger = logger
	}
	keys, err := serverauth.NewKeyProvider(merged)
	if err != nil {
		return nil, nil, fmt.Errorf("serveropts: %w", err)
	}
	mapper := authorization.NewDefaultJWTClaimMapper(keys, auth, logger)
	audience := authorization.NewAudienceMapper(auth.Audience)
	opts := []temporal.ServerOption{
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return mapper }),
		temporal.WithAudienceGetter(func(*config.Config) authorization.JWTAudienceMapper { return audience }),
	}
	return opts, keys, nil
}

func hasKeySources(auth *config.Authorization) bool {
	for _, u := range auth.JWTKeyProvider.KeySourceURIs {
		if strings.TrimSpace(u) != "" {
			return true
		}
	}
	return false
}

// Environment variables read by FromConfig; see the package documentation.
const (
	// EnvAllowAnyIssuer, when true, lets JWKS URLs without issuers verify
	// tokens of any issuer (serverauth.Config.AllowAnyIssuer).
	EnvAllowAnyIssuer = "SERVERAUTH_ALLOW_ANY_ISSUER"
	// EnvAllowNoAudience, when true, lets global.authorization.audience be
	// empty.
	EnvAllowNoAudience = "SERVERAUTH_ALLOW_NO_AUDIENCE"
)

// KeySourceIssuersEnv returns the environment variable that holds the
// issuers of keySourceURIs[i] (i counts from 0, the variable from 1):
// SERVERAUTH_KEY_SOURCE<i+1>_ISSUERS.
func KeySourceIssuersEnv(i int) string {
	return fmt.Sprintf("SERVERAUTH_KEY_SOURCE%d_ISSUERS", i+1)
}

var issuersEnvPattern = regexp.MustCompile(`^SERVERAUTH_KEY_SOURCE([0-9]+)_ISSUERS$`)

// yamlIssuers returns the allowed issuers of every JWKS URL: base's, those
// ConfigFromAuthorization derived, and those of the environment, which
// win over derived ones. A JWKS URL of the YAML left without issuers is an
// error unless allowAny.
func yamlIssuers(auth *config.Authorization, base, kc serverauth.Config, allowAny bool) (map[string][]string, error) {
	uris := auth.JWTKeyProvider.KeySourceURIs
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		m := issuersEnvPattern.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(m[1])
		if err != nil || n < 1 || n > len(uris) || strings.TrimSpace(uris[n-1]) == "" {
			return nil, fmt.Errorf("serveropts: %s is set, but %s has no entry %d (counting from 1): unset it or fix its number",
				name, settingKeySourceURIs, n)
		}
	}
	out := maps.Clone(base.JWKSIssuers)
	if out == nil {
		out = map[string][]string{}
	}
	maps.Copy(out, kc.JWKSIssuers)
	for i, raw := range uris {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		env := KeySourceIssuersEnv(i)
		val, set := os.LookupEnv(env)
		issuers := strings.FieldsFunc(val, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
		setting := fmt.Sprintf("%s[%d]", settingKeySourceURIs, i)
		if strings.HasSuffix(raw, discoverySuffix) {
			if set {
				return nil, fmt.Errorf("serveropts: %s is set, but %s is an OpenID discovery URL, whose keys are bound to the issuer its document names: unset %s",
					env, setting, env)
			}
			continue
		}
		switch {
		case set && len(issuers) == 0:
			return nil, fmt.Errorf("serveropts: %s is set but empty: list the issuers of the tokens %s verifies, separated by commas", env, setting)
		case set:
			out[raw] = issuers
		case len(out[raw]) == 0 && !allowAny:
			return nil, fmt.Errorf("serveropts: %s %q has no allowed issuer, so its keys would verify tokens of any issuer "+
				"(Entra ID signs every tenant's tokens with the same keys): set %s to the issuers of its tokens (their \"iss\", separated by commas), "+
				"use the issuer's /.well-known/openid-configuration URL instead, or set %s=true to accept any issuer",
				setting, redact(raw), env, EnvAllowAnyIssuer)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

const (
	settingKeySourceURIs = "global.authorization.jwtKeyProvider.keySourceURIs"
	discoverySuffix      = "/.well-known/openid-configuration"
)

// redact drops the user info, query and fragment of a URL for an error.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(not a URL)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// envBool reads a boolean environment variable; unset is false.
func envBool(name string) (bool, error) {
	v, ok := os.LookupEnv(name)
	if !ok || strings.TrimSpace(v) == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, fmt.Errorf("serveropts: %s=%q is not a boolean: use true or false", name, v)
	}
	return b, nil
}
