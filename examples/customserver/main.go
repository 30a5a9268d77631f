// Command customserver is a Temporal server binary whose JWT key provider
// fetches the identity provider's keys again when a token names a key ID it
// does not hold: a build of the stock server for teams whose identity
// provider (Azure AD / Entra ID, for one) rotates its signing key without
// notice. Everything else comes from the usual YAML configuration:
//
//	go build -o temporal-server ./customserver
//	./temporal-server --config config/production.yaml
//
// The authorization section stays as it is:
//
//	global:
//	  authorization:
//	    authorizer: default
//	    claimMapper: default
//	    permissionsClaimName: roles
//	    audience: <application (client) ID of the server app>   # required
//	    jwtKeyProvider:
//	      keySourceURIs:
//	        - https://login.microsoftonline.com/<tenant-id>/discovery/v2.0/keys
//	      refreshInterval: 1h                      # 0 or absent: 1h here, never in the stock server
//
// Each key verifies only the tokens of the issuers allowed for the source
// that published it. A tenant's JWKS URL on Entra ID, as above, allows that
// tenant's two issuers; a keySourceURIs entry ending in
// /.well-known/openid-configuration (e.g.
// https://login.microsoftonline.com/<tenant-id>/v2.0/.well-known/openid-configuration)
// is read as the issuer's discovery document, whose issuer is checked and
// allowed. Any other JWKS URL needs its issuers in the environment variable
// SERVERAUTH_KEY_SOURCE<N>_ISSUERS (N: its position in keySourceURIs,
// from 1), or the server does not start. An empty audience is refused too.
// The opt-outs, SERVERAUTH_ALLOW_ANY_ISSUER=true and
// SERVERAUTH_ALLOW_NO_AUDIENCE=true, bring back the stock server's checks:
// see package serveropts.
//
// The server starts the services listed in the configuration's services
// section (--services overrides). With JWT authorization that section needs
// an internal-frontend service, which the server's own system workers use.
// When global.metrics is set, the key provider's counters
// (jwt_key_source_fetches, jwt_key_refetches, jwt_unknown_key_ids,
// jwt_issuer_refusals, jwt_keys_dropped_for_age, jwt_keys) are exported with
// the server's metrics.
package main

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/temporal"

	"github.com/temporalauth/temporalauth/serverauth"
	"github.com/temporalauth/temporalauth/serverauth/serveropts"
)

func main() {
	configFile := flag.String("config", "config/development.yaml", "the server's YAML configuration `file`")
	services := flag.String("services", "", "comma-separated services to start (default: every service in the configuration)")
	minRefetch := flag.Duration("min-refetch-interval", serverauth.DefaultMinRefetchInterval,
		"least time between two JWKS refetches triggered by unknown key IDs")
	flag.Parse()
	var list []string
	if *services != "" {
		list = strings.Split(*services, ",")
	}
	if err := run(*configFile, list, *minRefetch, temporal.InterruptCh()); err != nil {
		fmt.Fprintln(os.Stderr, "customserver:", err)
		os.Exit(1)
	}
}

// run starts the server described by configFile and blocks until interrupt
// yields a value, then stops it.
func run(configFile string, services []string, minRefetch time.Duration, interrupt <-chan any) error {
	cfg, err := config.Load(config.WithConfigFile(configFile))
	if err != nil {
		return fmt.Errorf("loading %s: %w", configFile, err)
	}
	if len(services) == 0 {
		services = slices.Sorted(maps.Keys(cfg.Services))
	}
	logger := log.NewZapLogger(log.BuildZapLogger(cfg.Log))
	metricsHandler, err := metrics.MetricsHandlerFromConfig(logger, cfg.Global.Metrics)
	if err != nil {
		return fmt.Errorf("global.metrics: %w", err)
	}

	authOpts, keys, err := serveropts.FromConfig(cfg, serverauth.Config{
		Logger:             logger,
		MetricsHandler:     metricsHandler,
		MinRefetchInterval: minRefetch,
	})
	if err != nil {
		return err
	}
	defer keys.Close()

	opts := append([]temporal.ServerOption{
		temporal.WithConfig(cfg),
		temporal.ForServices(services),
		temporal.WithLogger(logger),
		temporal.WithCustomMetricsHandler(metricsHandler),
		temporal.InterruptOn(interrupt),
	}, authOpts...)
	s, err := temporal.NewServer(opts...)
	if err != nil {
		return fmt.Errorf("creating the server: %w", err)
	}
	// With InterruptOn, Start returns once the server has stopped.
	if err := s.Start(); err != nil {
		return fmt.Errorf("running the server: %w", err)
	}
	return nil
}
