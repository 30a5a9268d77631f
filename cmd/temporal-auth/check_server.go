package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/temporalauth/temporalauth/cmd/temporal-auth/internal/servercheck"
)

// errCritical is check-server's verdict FAIL: exit status 1, the report
// already says why.
var errCritical = errors.New("critical findings")

var checkServerCommand = &command{
	name:     "check-server",
	synopsis: "lint a Temporal server's authorization configuration",
	args:     "(--config FILE | --env) [--strict]",
	about: `
Checks the authorization configuration of a Temporal server (global.authorization
in its YAML file, or with --env the variables of the Docker image and Helm
chart: TEMPORAL_JWT_KEY_SOURCE1, TEMPORAL_JWT_KEY_SOURCE2,
TEMPORAL_JWT_KEY_REFRESH, TEMPORAL_JWT_PERMISSIONS_CLAIM,
TEMPORAL_JWT_PERMISSIONS_REGEX, TEMPORAL_AUTH_AUTHORIZER,
TEMPORAL_AUTH_CLAIM_MAPPER) and prints each finding with its risk and fix:

  CRITICAL  authorizer-off, claim-mapper-off: JWT not enforced at all;
            unknown-authorizer, unknown-claim-mapper: the server does not start;
            no-audience-shared-keys: no audience in front of Entra ID's keys,
              which sign every tenant's tokens;
            plain-http-key-source: keys fetched over http:// off loopback;
            permissions-regex-invalid, permissions-regex-groups: a
              permissionsRegex the server ignores.
  WARNING   no-refresh-interval: keys fetched once, refused after a rotation;
            unitless-refresh-interval, no-key-source, bad-key-source,
            no-audience, audience-not-app-id, entra-permissions-claim.
  info      long-refresh-interval.

Nothing is fetched: the check reads the configuration only.

Exit status: 0 nothing critical (with --strict: no finding above info), 1 a
critical finding (with --strict: or a warning), or the configuration cannot
be read; 2 usage error.`,
	flags: func(c *cli, fs *flagSet) func(context.Context, []string) error {
		file := fs.String("config", "FILE", "", "the server's YAML configuration file (rendered, not a template)")
		fromEnv := fs.Bool("env", false, "check the Docker image's authorization variables in this environment")
		strict := fs.Bool("strict", false, "exit 1 on a warning too")
		return func(_ context.Context, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected argument %q", args[0])
			}
			var cfg *servercheck.Config
			var err error
			switch {
			case (*file == "") == !*fromEnv:
				return usagef("give either --config FILE or --env")
			case *fromEnv:
				cfg, err = servercheck.FromEnv(c.env)
			default:
				var data []byte
				data, err = readFileLimited(*file)
				if err != nil {
					return fmt.Errorf("--config %q: %w", *file, err)
				}
				cfg, err = servercheck.FromYAML(*file, data)
			}
			if err != nil {
				return err
			}
			findings := servercheck.Check(cfg)
			if err := servercheck.WriteText(c.stdout, cfg.Source, findings); err != nil {
				return err
			}
			if servercheck.HasCritical(findings) {
				return errCritical
			}
			if *strict {
				for _, f := range findings {
					if f.Severity > servercheck.Info {
						return errCritical
					}
				}
			}
			return nil
		}
	},
}
