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
// It lives apart from package serverauth so that the key provider's tests
// do not link the whole server.
package serveropts

import (
	"errors"
	"fmt"
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
// permissionsClaimName, permissionsRegex and audience (when set, tokens must
// carry it in "aud"). base supplies what YAML does not hold (Logger,
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
	var kc serverauth.Config
	if hasKeySources(auth) || len(base.JWKSURLs)+len(base.Issuers) == 0 {
		if kc, err = serverauth.ConfigFromAuthorization(auth); err != nil {
			return nil, nil, fmt.Errorf("serveropts: %w", err)
		}
	} else { // only base names sources
		if err := serverauth.CheckPermissionsRegex(auth.PermissionsRegex); err != nil {
			return nil, nil, fmt.Errorf("serveropts: %w", err)
		}
		kc.RefreshInterval = auth.JWTKeyProvider.RefreshInterval
	}
	merged := base
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
