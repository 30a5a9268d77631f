package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/temporalauth/temporalauth"
	"github.com/temporalauth/temporalauth/cmd/temporal-auth/internal/inspect"
	"github.com/temporalauth/temporalauth/jwtkey"
	"github.com/temporalauth/temporalauth/oidc"
	"github.com/temporalauth/temporalauth/static"
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
	args:     "[--provider jwt|azure|oidc|static] [--key FILE] [--permissions NS:ROLE,...] [--ttl DURATION] [--subject SUB] [--issuer ISS] [--audience AUD,...] [--claim-name NAME] [--scope SCOPE,...] [--timeout DURATION] [--export [--tls=false]]",
	about: `
Mints one token and prints it on standard output, and nothing else there: the
bare token, or with --export the lines

  export TEMPORAL_API_KEY=<token>
  export TEMPORAL_CLI_AUTH='Bearer <token>'

for eval "$(temporal-auth token --export)": the temporal CLI sends
TEMPORAL_API_KEY as "authorization: Bearer <token>"; TEMPORAL_CLI_AUTH is the
header value older tools (tctl) read. A summary without the token goes to
standard error.

The temporal CLI (v1.4 and later) turns TLS on whenever TEMPORAL_API_KEY is
set; against a server without TLS it fails with "TLS is enabled but the
server did not respond with TLS". Add --tls=false to print
"export TEMPORAL_TLS=false" as well, or pass --tls=false to the temporal
CLI. Run the eval in a subshell, ( eval ...; temporal ... ): a worker or
starter started from a shell where TEMPORAL_API_KEY is set refuses to start,
since the key and its token provider would both set the authorization
header.

Roles are read, write, worker and admin, as the server's default authorizer
(go.temporal.io/server v1.32) counts them: worker=1 < read=2 < write=4 <
admin=8, and a call passes when the caller's role is at least the call's
(read for read-only calls, write to start workflows and poll task queues,
admin for admin calls). So "worker" alone grants nothing, and a warning
says so, as it does for a token without permissions.

--provider makes the command ignore the TEMPORAL_* variables of the other
providers (temporalauth.Load reports them as a conflict instead).

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
	flags: func(c *cli, fs *flagSet) func(context.Context, []string) error {
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
		help := map[string][2]string{ // placeholder, usage
			"provider":    {"jwt|azure|oidc|static", "the token provider (default: chosen from the variables set)"},
			"key":         {"FILE", "the PEM private key file to sign with (jwt)"},
			"permissions": {"NS:ROLE,...", "comma-separated grants, role read, write, worker or admin, e.g. default:write,temporal-system:read (jwt)"},
			"subject":     {"SUB", "the sub claim (jwt; default temporalauth)"},
			"issuer":      {"ISS", "the iss claim (jwt)"},
			"audience":    {"AUD,...", "the aud claim, comma-separated (jwt)"},
			"claim-name":  {"NAME", "the permissions claim name the server reads (jwt; default permissions)"},
			"scope":       {"SCOPE,...", "comma-separated scopes to request (azure), e.g. api://temporal/.default"},
		}
		for _, f := range flags {
			fs.Func(f.name, help[f.name][0], help[f.name][1], func(v string) error {
				f.value, f.set = strings.TrimSpace(v), true
				return nil
			})
		}
		ttl := fs.Duration("ttl", 0, time.Second, "the token's lifetime (jwt; default 10m), e.g. 1h or 90s")
		export := fs.Bool("export", false, "print shell export lines for TEMPORAL_API_KEY and TEMPORAL_CLI_AUTH instead of the bare token")
		tls := fs.Bool("tls", true, "with --export, --tls=false also prints export TEMPORAL_TLS=false, which a server without TLS needs: the temporal CLI turns TLS on when TEMPORAL_API_KEY is set")
		timeout := fs.Duration("timeout", 30*time.Second, time.Millisecond, "how long to wait for the identity provider (azure, oidc)")
		return func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected argument %q (flags start with --)", args[0])
			}
			if fs.isSet("ttl") {
				flags = append(flags, &tokenFlag{name: "ttl", env: jwtkey.EnvExpiration, kind: "jwt", value: ttl.String(), set: true})
			}
			var tlsLine string
			if fs.isSet("tls") {
				if !*export {
					return usagef("--tls only changes what --export prints: give --export too")
				}
				tlsLine = fmt.Sprintf("export TEMPORAL_TLS=%t\n", *tls)
			}
			if err := checkTokenFlags(flags, c.env); err != nil {
				return err
			}
			return mintToken(ctx, c, flags, *export, tlsLine, *timeout)
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
func mintToken(ctx context.Context, c *cli, flags []*tokenFlag, export bool, tlsLine string, timeout time.Duration) error {
	override := map[string]string{
		// Leeway matters to a long-lived provider, not to one token.
		temporalauth.EnvLeeway: "",
	}
	for _, f := range flags {
		if !f.set {
			continue
		}
		if f.name == "provider" {
			// The provider is chosen on the command line: the other
			// providers' variables are not meant for this token.
			for kind, vars := range providerVars {
				if kind != f.value {
					for _, v := range vars {
						override[v] = ""
					}
				}
			}
		}
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
		return loadError(err, flags, lookup)
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
		_, err = fmt.Fprintf(c.stdout, "export TEMPORAL_API_KEY=%s\nexport TEMPORAL_CLI_AUTH=%s\n%s",
			shellQuote(tok.Value()), shellQuote("Bearer "+tok.Value()), tlsLine)
	} else {
		_, err = fmt.Fprintln(c.stdout, tok.Value())
	}
	if err != nil {
		return err
	}
	summary := tokenSummary(auth)
	if !tok.Expiry.IsZero() {
		summary += fmt.Sprintf("; expires %s (in %s)", tok.Expiry.UTC().Format(time.RFC3339), time.Until(tok.Expiry).Round(time.Second))
	}
	fmt.Fprintf(c.stderr, "temporal-auth token: %s\n", summary)
	if auth.Kind() == "jwt" {
		perms, _ := lookup(jwtkey.EnvPermissions)
		for _, w := range grantWarnings(perms) {
			fmt.Fprintf(c.stderr, "temporal-auth token: warning: %s\n", w)
		}
	}
	return nil
}

// tokenSummary describes the provider that minted a token by its settings,
// as "kind key=value ...": "jwt file=key.pem kid=... alg=ES256 ...",
// "static file=/run/token poll=1m0s", "static env=TEMPORAL_AUTH_TOKEN". It
// leaves out the leeway, which describes a long-lived provider, not one
// token, and a static token's exp, which the caller prints as its expiry.
func tokenSummary(auth *temporalauth.Auth) string {
	var b strings.Builder
	kind := auth.Kind()
	b.WriteString(string(kind))
	for _, a := range auth.LogValue().Resolve().Group() {
		key := a.Key
		switch {
		case key == "provider", key == "leeway", kind == temporalauth.KindStatic && key == "exp":
			continue
		case kind == temporalauth.KindStatic && key == "setting":
			key = "env" // the variable holding the token, as file names the token file
		}
		v := a.Value.Resolve().String()
		if ss, ok := a.Value.Any().([]string); ok {
			v = "[" + strings.Join(ss, ",") + "]"
		} else if v == "" || strings.ContainsAny(v, " \t\n\"") {
			v = strconv.Quote(v)
		}
		fmt.Fprintf(&b, " %s=%s", key, v)
	}
	return b.String()
}

// providerVars are the TEMPORAL_* variables of each provider; AZURE_*
// variables count only when azure is chosen.
var providerVars = map[string][]string{
	"jwt": {jwtkey.EnvKeyFile, jwtkey.EnvKey, jwtkey.EnvKeyID, jwtkey.EnvPermissions,
		jwtkey.EnvPermissionsClaim, jwtkey.EnvSubject, jwtkey.EnvIssuer, jwtkey.EnvAudience,
		jwtkey.EnvExpiration},
	"static": {static.EnvToken, static.EnvTokenFile},
	"azure":  {"TEMPORAL_AUTH_SCOPE"},
	"oidc": {oidc.EnvIssuer, oidc.EnvTokenURL, oidc.EnvClientID, oidc.EnvClientSecret, oidc.EnvClientSecretFile,
		oidc.EnvPrivateKeyFile, oidc.EnvKeyID, oidc.EnvAuthMethod, oidc.EnvScopes, oidc.EnvAudience, oidc.EnvResource,
		oidc.EnvAllowHTTP},
}

// grantWarnings explains what a comma-separated permissions list fails to
// grant on a server with the default authorizer: nothing at all, or a
// namespace whose roles stay below read (worker alone).
func grantWarnings(perms string) []string {
	roles := map[string]inspect.Role{}
	var order []string
	for _, p := range strings.Split(perms, ",") {
		ns, name, ok := strings.Cut(strings.TrimSpace(p), ":")
		if !ok {
			continue
		}
		role, _ := inspect.ParseRole(name)
		if _, seen := roles[ns]; !seen {
			order = append(order, ns)
		}
		roles[ns] |= role
	}
	if len(order) == 0 {
		return []string{"the token carries no permissions: a server with the default authorizer denies every call it makes " +
			"(PERMISSION_DENIED \"Request unauthorized.\"); give --permissions, e.g. default:write for a worker or starter"}
	}
	var out []string
	for _, ns := range order {
		if !roles[ns].Allows(inspect.RoleRead) {
			out = append(out, fmt.Sprintf("%s:worker grants nothing on a server with the default authorizer "+
				"(worker=1 is below read=2, the weakest requirement): use %s:write for workers and starters, %s:read for read-only tools", ns, ns, ns))
		}
	}
	return out
}

// goField matches a Go setting name such as "jwtkey.Config.KeyFile: " that
// follows the variable it came from, or stands alone.
var goField = regexp.MustCompile(`(\b[A-Z][A-Z0-9_]+\)?: )?\b(jwtkey|azure|static)\.Config\.([A-Za-z]+)(: )?`)

// goFieldVars names the variable of each jwtkey.Config field.
var goFieldVars = map[string]string{
	"KeyFile": jwtkey.EnvKeyFile, "Key": jwtkey.EnvKey, "KeyID": jwtkey.EnvKeyID,
	"Permissions": jwtkey.EnvPermissions, "PermissionsClaim": jwtkey.EnvPermissionsClaim,
	"Subject": jwtkey.EnvSubject, "Issuer": jwtkey.EnvIssuer, "Audience": jwtkey.EnvAudience,
	"Expiration": jwtkey.EnvExpiration,
}

// flagNames rewrites the variables a flag replaced in err to the flag's
// name, so that the message points at what the user typed, and drops or
// replaces Go setting names (jwtkey.Config.KeyFile), which mean nothing on
// a command line. The errors of package temporalauth never contain a token
// or key.
func flagNames(err error, flags []*tokenFlag) error {
	msg := goField.ReplaceAllStringFunc(err.Error(), func(m string) string {
		sub := goField.FindStringSubmatch(m)
		if sub[1] != "" { // the variable is named already
			return sub[1]
		}
		if v, ok := goFieldVars[sub[3]]; ok && sub[2] == "jwtkey" {
			return v + sub[4]
		}
		return "the " + sub[3] + " setting" + sub[4]
	})
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
