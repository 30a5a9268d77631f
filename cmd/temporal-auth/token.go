package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/temporalauth/temporalauth"
	"github.com/temporalauth/temporalauth/jwtkey"
)

// A tokenFlag is a flag of token that overrides an environment variable.
type tokenFlag struct {
	name  string
	env   string
	hides []string // variables the flag replaces too
	kind  string   // the provider the flag configures
	value string   // set by the flag
	set   bool
}

var tokenCommand = &command{
	name:     "token",
	synopsis: "mint a token from flags or the environment and print it",
	args:     "[--provider jwt|azure|oidc|static] [--key FILE] [--permissions NS:ROLE,...] [--ttl 10m] [--subject S] [--issuer I] [--audience A,...] [--claim-name C] [--scope S] [--export]",
	about: `
Mints one token and prints it on standard output, and nothing else there: the
bare token, or with --export the lines

  export TEMPORAL_API_KEY=<token>
  export TEMPORAL_CLI_AUTH='Bearer <token>'

for eval "$(temporal-auth token --export)": the temporal CLI sends
TEMPORAL_API_KEY as "authorization: Bearer <token>"; TEMPORAL_CLI_AUTH is the
header value older tools (tctl) read. A summary without the token goes to
standard error.

The provider and its settings come from the same environment variables as
temporalauth.Load (TEMPORAL_AUTH_PROVIDER, TEMPORAL_JWT_*, AZURE_*,
TEMPORAL_AUTH_SCOPE, TEMPORAL_AUTH_TOKEN, TEMPORAL_AUTH_TOKEN_FILE); each flag
replaces its variable:

  --provider     TEMPORAL_AUTH_PROVIDER
  --key          TEMPORAL_JWT_PRIVATE_KEY_FILE (and TEMPORAL_JWT_PRIVATE_KEY)
  --permissions  TEMPORAL_JWT_PERMISSIONS
  --ttl          TEMPORAL_JWT_EXPIRATION
  --subject      TEMPORAL_JWT_SUBJECT
  --issuer       TEMPORAL_JWT_ISSUER
  --audience     TEMPORAL_JWT_AUDIENCE
  --claim-name   TEMPORAL_JWT_PERMISSIONS_CLAIM
  --scope        TEMPORAL_AUTH_SCOPE

jwt signs a token with a local key (see keygen); azure acquires one from
Microsoft Entra ID with the AZURE_* credentials; oidc acquires one from any
OAuth 2.0 / OpenID Connect identity provider with the client-credentials
grant (TEMPORAL_OIDC_ISSUER or TEMPORAL_OIDC_TOKEN_URL, TEMPORAL_OIDC_CLIENT_ID,
TEMPORAL_OIDC_CLIENT_SECRET, _SECRET_FILE or TEMPORAL_OIDC_PRIVATE_KEY_FILE,
TEMPORAL_OIDC_SCOPES, ...); static prints the configured token after
checking it.`,
	flags: func(c *cli, fs *flag.FlagSet) func(context.Context, []string) error {
		flags := []*tokenFlag{
			{name: "provider", env: temporalauth.EnvProvider},
			{name: "key", env: jwtkey.EnvKeyFile, hides: []string{jwtkey.EnvKey, jwtkey.EnvKeyID}, kind: "jwt"},
			{name: "permissions", env: jwtkey.EnvPermissions, kind: "jwt"},
			{name: "subject", env: jwtkey.EnvSubject, kind: "jwt"},
			{name: "issuer", env: jwtkey.EnvIssuer, kind: "jwt"},
			{name: "audience", env: jwtkey.EnvAudience, kind: "jwt"},
			{name: "claim-name", env: jwtkey.EnvPermissionsClaim, kind: "jwt"},
			{name: "scope", env: "TEMPORAL_AUTH_SCOPE", kind: "azure"},
		}
		usage := map[string]string{
			"provider":    "`provider`: jwt, azure, oidc or static (default: chosen from the variables set)",
			"key":         "PEM private key `file` to sign with (jwt)",
			"permissions": "comma-separated `NS:ROLE` grants, role read, write, worker or admin, e.g. default:write,temporal-system:read (jwt)",
			"subject":     "the sub claim (jwt; default temporalauth)",
			"issuer":      "the iss claim (jwt)",
			"audience":    "comma-separated aud claim (jwt)",
			"claim-name":  "the permissions claim `name` the server reads (jwt; default permissions)",
			"scope":       "comma-separated scopes to request (azure), e.g. api://temporal/.default",
		}
		for _, f := range flags {
			fs.Func(f.name, usage[f.name], func(v string) error {
				f.value, f.set = strings.TrimSpace(v), true
				return nil
			})
		}
		ttl := fs.Duration("ttl", 0, "token `lifetime` (jwt; default 10m), e.g. 1h")
		export := fs.Bool("export", false, "print shell export lines for TEMPORAL_API_KEY and TEMPORAL_CLI_AUTH instead of the bare token")
		timeout := fs.Duration("timeout", 30*time.Second, "`timeout` for acquiring the token (azure, oidc)")
		return func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected argument %q (flags start with --)", args[0])
			}
			ttlSet := false
			fs.Visit(func(f *flag.Flag) { ttlSet = ttlSet || f.Name == "ttl" })
			if ttlSet {
				if *ttl < time.Second {
					return usagef("--ttl %s: must be at least 1s", *ttl)
				}
				flags = append(flags, &tokenFlag{name: "ttl", env: jwtkey.EnvExpiration, kind: "jwt", value: ttl.String(), set: true})
			}
			if *timeout <= 0 {
				return usagef("--timeout %s: must be positive", *timeout)
			}
			if err := checkTokenFlags(flags, c.env); err != nil {
				return err
			}
			return mintToken(ctx, c, flags, *export, *timeout)
		}
	},
}

// checkTokenFlags checks the flag values that can be checked alone, so
// that they fail as usage errors naming the flag.
func checkTokenFlags(flags []*tokenFlag, env func(string) (string, bool)) error {
	provider := ""
	if v, _ := env(temporalauth.EnvProvider); v != "" {
		provider = strings.ToLower(strings.TrimSpace(v))
	}
	for _, f := range flags {
		if !f.set {
			continue
		}
		if f.value == "" {
			return usagef("--%s is empty", f.name)
		}
		switch f.name {
		case "provider":
			f.value = strings.ToLower(f.value)
			switch f.value {
			case "jwt", "azure", "oidc", "static":
				provider = f.value
			default:
				return usagef("--provider %q: want jwt, azure, oidc or static", f.value)
			}
		case "permissions":
			for _, p := range strings.Split(f.value, ",") {
				if _, err := jwtkey.ParsePermission(strings.TrimSpace(p)); err != nil {
					return usagef("--permissions: %s", err)
				}
			}
		}
	}
	for _, f := range flags {
		if f.set && f.kind != "" && provider != "" && f.kind != provider {
			return usagef("--%s configures the %s provider, but the provider is %s", f.name, f.kind, provider)
		}
	}
	return nil
}

// mintToken builds the provider from the environment overridden by the
// flags, gets one token and prints it.
func mintToken(ctx context.Context, c *cli, flags []*tokenFlag, export bool, timeout time.Duration) error {
	override := map[string]string{
		// Leeway matters to a long-lived provider, not to one token.
		temporalauth.EnvLeeway: "",
	}
	for _, f := range flags {
		if !f.set {
			continue
		}
		override[f.env] = f.value
		for _, h := range f.hides {
			override[h] = ""
		}
	}
	lookup := func(name string) (string, bool) {
		if v, ok := override[name]; ok {
			return v, v != ""
		}
		return c.env(name)
	}
	logger := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	auth, err := temporalauth.Load(temporalauth.EnvOptions{Lookup: lookup, Logger: logger})
	if err != nil {
		return flagNames(err, flags)
	}
	defer auth.Close()
	p := auth.Provider()
	if p == nil {
		return usagef("no token provider configured: give --key FILE (jwt), or set %s with its variables (see --help)", temporalauth.EnvProvider)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tok, err := p.Token(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", auth.Kind(), err)
	}
	if export {
		_, err = fmt.Fprintf(c.stdout, "export TEMPORAL_API_KEY=%s\nexport TEMPORAL_CLI_AUTH=%s\n",
			shellQuote(tok.Value), shellQuote("Bearer "+tok.Value))
	} else {
		_, err = fmt.Fprintln(c.stdout, tok.Value)
	}
	if err != nil {
		return err
	}
	// The leeway describes a long-lived provider, not this one token.
	summary, _, _ := strings.Cut(auth.String(), " leeway=")
	if !tok.Expiry.IsZero() {
		summary += fmt.Sprintf("; expires %s (in %s)", tok.Expiry.UTC().Format(time.RFC3339), time.Until(tok.Expiry).Round(time.Second))
	}
	fmt.Fprintf(c.stderr, "temporal-auth token: %s\n", summary)
	return nil
}

// flagNames rewrites the variables a flag replaced in err to the flag's
// name, so that the message points at what the user typed. The errors of
// package temporalauth never contain a token or key.
func flagNames(err error, flags []*tokenFlag) error {
	msg := err.Error()
	for _, f := range flags {
		if f.set {
			msg = strings.ReplaceAll(msg, f.env, "--"+f.name+" ("+f.env+")")
		}
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// characters that never need quoting.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.+/=:,@%", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
