package temporalauth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"

	"github.com/temporalauth/temporalauth/azure"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/setting"
	"github.com/temporalauth/temporalauth/internal/tokenlog"
	"github.com/temporalauth/temporalauth/jwtkey"
	"github.com/temporalauth/temporalauth/metrics"
	"github.com/temporalauth/temporalauth/oidc"
	"github.com/temporalauth/temporalauth/static"
)

// The environment variables of the root package. Each source package
// documents its own: jwtkey.ConfigFromLookup, azure.ConfigFromLookup,
// oidc.ConfigFromLookup and static.ConfigFromLookup. The README's table lists them all.
const (
	// EnvProvider chooses the provider: jwt, azure, oidc, static or none.
	EnvProvider = "TEMPORAL_AUTH_PROVIDER"
	// EnvLeeway sets headers.Options.Leeway: how long before a token
	// expires a new one is fetched.
	EnvLeeway = "TEMPORAL_AUTH_REGEN_LEEWAY"
)

// A source is one provider Load can choose: the variables that choose it
// and how to build it from them.
type source struct {
	kind Kind
	// vars are its own variables: any of them chooses it, and any of them
	// beside another choice is an error.
	vars []string
	// platform are variables that Azure platforms also set for their own
	// purposes (AKS workload identity injects AZURE_CLIENT_ID,
	// AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE): they choose this
	// provider only while TEMPORAL_AUTH_PROVIDER is unset, and are ignored
	// when it names another.
	platform []string
	build    func(lookup func(string) (string, bool), o EnvOptions, opts headers.Options) (*headers.Provider, error)
}

// sources lists the providers in the order errors name them.
var sources = []source{
	{
		kind: KindJWT,
		vars: []string{jwtkey.EnvKeyFile, jwtkey.EnvKey, jwtkey.EnvKeyID, jwtkey.EnvPermissions, jwtkey.EnvPermissionsClaim,
			jwtkey.EnvSubject, jwtkey.EnvIssuer, jwtkey.EnvAudience, jwtkey.EnvExpiration},
		build: func(lookup func(string) (string, bool), _ EnvOptions, opts headers.Options) (*headers.Provider, error) {
			cfg, err := jwtkey.ConfigFromLookup(lookup)
			if err != nil {
				return nil, err
			}
			return jwtkey.NewProvider(cfg, opts)
		},
	},
	{
		kind: KindAzure,
		vars: []string{azure.EnvScope},
		platform: []string{azure.EnvClientID, azure.EnvTenantID, azure.EnvClientSecret, azure.EnvCertificatePath,
			azure.EnvCertificatePassword, azure.EnvSendCertificateChain, azure.EnvFederatedTokenFile,
			azure.EnvManagedIdentity, azure.EnvDisableInstanceDiscovery},
		build: func(lookup func(string) (string, bool), o EnvOptions, opts headers.Options) (*headers.Provider, error) {
			cfg, err := azure.ConfigFromLookup(lookup)
			if err != nil {
				return nil, err
			}
			cfg.HTTPClient = o.HTTPClient
			return azure.NewProvider(cfg, opts)
		},
	},
	{
		kind: KindOIDC,
		vars: []string{oidc.EnvIssuer, oidc.EnvTokenURL, oidc.EnvClientID, oidc.EnvClientSecret, oidc.EnvClientSecretFile,
			oidc.EnvPrivateKeyFile, oidc.EnvKeyID, oidc.EnvAssertionAudience, oidc.EnvAuthMethod, oidc.EnvScopes, oidc.EnvAudience, oidc.EnvResource, oidc.EnvAllowHTTP},
		build: func(lookup func(string) (string, bool), o EnvOptions, opts headers.Options) (*headers.Provider, error) {
			cfg, err := oidc.ConfigFromLookup(lookup)
			if err != nil {
				return nil, err
			}
			cfg.HTTPClient = o.HTTPClient
			return oidc.NewProvider(cfg, opts)
		},
	},
	{
		kind: KindStatic,
		vars: []string{static.EnvTokenFile, static.EnvToken},
		build: func(lookup func(string) (string, bool), _ EnvOptions, opts headers.Options) (*headers.Provider, error) {
			cfg, err := static.ConfigFromLookup(lookup)
			if err != nil {
				return nil, err
			}
			return static.NewProvider(cfg, opts)
		},
	},
}

// EnvOptions configure [Load] and [LoadClientOptions]. The zero value reads
// the process environment and logs to slog.Default().
type EnvOptions struct {
	// Lookup reads one variable, as os.LookupEnv does. Set it to read
	// settings kept elsewhere, or in tests. Default: os.LookupEnv.
	Lookup func(name string) (value string, ok bool)

	// Environ lists the variables as "NAME=value" pairs, as os.Environ
	// does; LoadClientOptions scans it for TEMPORAL_GRPC_META_* headers.
	// Default: os.Environ when Lookup is nil, else no variables.
	Environ func() []string

	// Logger receives start-up warnings (a private key file that group or
	// others can read, a TEMPORAL_GRPC_META_AUTHORIZATION header that the
	// token replaces) and the provider's records (see headers.Options).
	// Provider.Logger, when set, is used instead. Default: slog.Default().
	Logger *slog.Logger

	// Provider are the options of the headers.Provider behind the chosen
	// provider: set Clock, OnRefresh (metrics) or RefreshTimeout here.
	// TEMPORAL_AUTH_REGEN_LEEWAY, when set, replaces Provider.Leeway.
	// Default: the zero headers.Options, whose defaults headers documents.
	Provider headers.Options

	// MetricsHandler, when set, receives the provider's metrics (package
	// metrics: refreshes, failures, time left, rejections), tagged
	// source=<provider kind>. LoadClientOptions also makes it the client's
	// MetricsHandler when the configuration sets none. Default: no metrics.
	MetricsHandler client.MetricsHandler

	// HTTPClient sends the azure and oidc providers' requests to the
	// identity provider, e.g. through a proxy or with a private CA.
	// Default: the package's own.
	HTTPClient *http.Client
}

// lookup returns o's variable reader, which trims values of surrounding
// white space.
func (o EnvOptions) lookup() func(string) (string, bool) {
	get := o.Lookup
	if get == nil {
		get = os.LookupEnv
	}
	return func(name string) (string, bool) {
		v, ok := get(name)
		if name == azure.EnvCertificatePassword {
			return v, ok // a password is used as given, spaces included
		}
		return strings.TrimSpace(v), ok
	}
}

// environ returns the variables as "NAME=value" pairs with values trimmed.
func (o EnvOptions) environ() []string {
	list := o.Environ
	if list == nil {
		if o.Lookup != nil {
			return nil
		}
		list = os.Environ
	}
	vars := list()
	out := make([]string, 0, len(vars))
	for _, kv := range vars {
		name, value, _ := strings.Cut(kv, "=")
		out = append(out, name+"="+strings.TrimSpace(value))
	}
	return out
}

// logger returns the logger for start-up warnings: Provider.Logger, else
// Logger, else slog.Default().
func (o EnvOptions) logger() *slog.Logger {
	return setting.OrDefault(setting.OrDefault(o.Provider.Logger, o.Logger), slog.Default())
}

// Load returns the token provider that the environment configures.
//
// TEMPORAL_AUTH_PROVIDER chooses it: jwt (tokens signed with a local
// private key), azure (Microsoft Entra ID tokens through MSAL), oidc (any
// OAuth 2.0 / OpenID Connect identity provider, client-credentials grant),
// static (a fixed token or a token file) or none (no authorization header). When it
// is unset, the variables present choose: TEMPORAL_JWT_* select jwt;
// TEMPORAL_AUTH_SCOPE selects azure; TEMPORAL_OIDC_* select oidc;
// TEMPORAL_AUTH_TOKEN or TEMPORAL_AUTH_TOKEN_FILE select static. TEMPORAL_
// variables of two providers are an error that names one of each. When
// none of them is set, AZURE_CLIENT_ID, AZURE_TENANT_ID,
// AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH,
// AZURE_CLIENT_CERTIFICATE_PASSWORD, AZURE_CLIENT_SEND_CERTIFICATE_CHAIN,
// AZURE_FEDERATED_TOKEN_FILE, AZURE_MANAGED_IDENTITY or
// AZURE_DISABLE_INSTANCE_DISCOVERY select azure; else the provider is
// none. AZURE_ variables never conflict with another provider's: Azure
// platforms set them for their own purposes (AKS workload identity injects
// AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE into
// every pod), so beside TEMPORAL_JWT_* they are ignored, and Load logs
// that at Info. When TEMPORAL_AUTH_PROVIDER is set, a TEMPORAL_ variable
// of another provider is an error, and AZURE_ variables are ignored unless
// it is azure. TEMPORAL_AUTH_REGEN_LEEWAY without a provider is an error.
//
// Every value but AZURE_CLIENT_CERTIFICATE_PASSWORD (a password, used as
// given) is trimmed of surrounding white space, and a variable that is
// empty after trimming counts as unset. Lists are comma-separated, with
// white space around the entries ignored and no empty entry. Durations are
// Go durations such as 30s, 5m or 1h30m, and must be positive. Errors name
// the variable at fault (a *headers.ConfigError, for errors.As) and what it
// expected; they never contain a token, a private key or a client secret.
//
// Load reads key, certificate and token files and builds the provider, but
// fetches no token: the azure and oidc providers contact the identity
// provider at the first GetHeaders. Call Close on the result when done.
func Load(o EnvOptions) (*Auth, error) {
	c, err := choose(o.lookup())
	if err != nil {
		return nil, err
	}
	return c.build(o)
}

// choice is the provider the variables chose, and why.
type choice struct {
	lookup  func(string) (string, bool)
	src     *source // nil for none
	because string  // the variable that chose it, e.g. "TEMPORAL_AUTH_PROVIDER=jwt"
	auto    bool    // chosen from the variables present
	ignored string  // an AZURE_ variable set but ignored for another provider's, or ""
}

// kind returns the provider chosen.
func (c choice) kind() Kind {
	if c.src == nil {
		return KindNone
	}
	return c.src.kind
}

// choose reads TEMPORAL_AUTH_PROVIDER and the variables present, without
// touching files or the network.
func choose(lookup func(string) (string, bool)) (choice, error) {
	get := func(name string) string { v, _ := lookup(name); return v }
	firstSet := func(names []string) string {
		for _, n := range names {
			if get(n) != "" {
				return n
			}
		}
		return ""
	}
	c := choice{lookup: lookup}
	if v := get(EnvProvider); v != "" {
		want := Kind(strings.ToLower(v))
		c.because = EnvProvider + "=" + string(want)
		known := want == KindNone
		for i := range sources {
			if sources[i].kind == want {
				c.src, known = &sources[i], true
			}
		}
		if !known {
			return choice{}, &headers.ConfigError{Setting: EnvProvider,
				Err: fmt.Errorf("%s: want jwt, azure, oidc, static or none, or leave it unset to choose from the variables present", setting.Quote(v))}
		}
		for _, s := range sources {
			if name := firstSet(s.vars); name != "" && s.kind != want {
				return choice{}, &headers.ConfigError{Setting: name, Err: fmt.Errorf("set, but %s=%s: unset it (it configures the %s provider), or choose %s=%s",
					EnvProvider, want, s.kind, EnvProvider, s.kind)}
			}
		}
		if want == KindNone && get(EnvLeeway) != "" {
			return choice{}, &headers.ConfigError{Setting: EnvLeeway,
				Err: fmt.Errorf("set, but %s=none: no token is renewed; unset it, or choose a provider", EnvProvider)}
		}
		return c, nil
	}
	c.auto, c.because = true, "no provider variable is set"
	var found []string
	for i, s := range sources {
		if name := firstSet(s.vars); name != "" {
			c.src, c.because = &sources[i], name
			found = append(found, fmt.Sprintf("%s (%s is set)", s.kind, name))
		}
	}
	if len(found) > 1 {
		return choice{}, &headers.ConfigError{Setting: EnvProvider,
			Err: fmt.Errorf("unset, and variables of more than one provider are set: %s; set %s to the one to use, and unset the others' variables",
				strings.Join(found, " and "), EnvProvider)}
	}
	// AZURE_ variables choose azure only when no provider's own variables
	// choose another: AKS workload identity injects AZURE_CLIENT_ID,
	// AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE into every pod, and
	// other Azure SDKs in the program read them for their own purposes.
	for i, s := range sources {
		if name := firstSet(s.platform); name != "" {
			if c.src == nil {
				c.src, c.because = &sources[i], name
			} else if c.src.kind != s.kind {
				c.ignored = name
			}
		}
	}
	if c.src == nil {
		if v := get(EnvLeeway); v != "" {
			return choice{}, &headers.ConfigError{Setting: EnvLeeway,
				Err: fmt.Errorf("set, but no provider is chosen (neither %s nor any provider's variables are set): set them too, or unset %s", EnvProvider, EnvLeeway)}
		}
	}
	return c, nil
}

// build makes the provider c chose.
func (c choice) build(o EnvOptions) (*Auth, error) {
	opts := o.Provider
	opts.Logger = setting.OrDefault(opts.Logger, o.Logger)
	leewayVar := ""
	if v, _ := c.lookup(EnvLeeway); v != "" {
		d, err := setting.Lookup(c.lookup).Duration(EnvLeeway)
		if err != nil {
			return nil, err
		}
		opts.Leeway, leewayVar = d, EnvLeeway
	}
	a := &Auth{kind: c.kind(), leeway: opts.Leeway}
	if c.src == nil {
		return a, nil
	}
	if c.ignored != "" {
		o.logger().Info("temporalauth: AZURE_ variables ignored: another provider's variables choose it",
			"provider", string(c.kind()), "chosen_by", c.because, "ignored", c.ignored)
	}
	// Metrics from the provider's refresh events, then the caller's hook.
	// (The provider logs each new token and kid change itself.)
	logger := setting.OrDefault(opts.Logger, slog.Default())
	var rec *metrics.Recorder
	if o.MetricsHandler != nil {
		rec = metrics.New(o.MetricsHandler, string(c.kind()))
	}
	hook := opts.OnRefresh
	opts.OnRefresh = func(ev headers.RefreshEvent) {
		if rec != nil {
			rec.OnRefresh(ev)
		}
		if hook != nil {
			hook(ev)
		}
	}
	if rec != nil { // rotation metrics too, then the caller's hook
		rotHook := opts.OnRotation
		opts.OnRotation = func(ev headers.RotationEvent) {
			rec.OnRotation(ev)
			if rotHook != nil {
				rotHook(ev)
			}
		}
	}
	p, err := c.src.build(c.lookup, o, opts)
	if err != nil {
		return nil, c.wrap(err, leewayVar)
	}
	a.provider = p
	a.dialOptions = []grpc.DialOption{p.RetryUnauthorized(),
		tokenlog.DialOption(string(c.kind()), strings.ToLower(opts.Header), logger)}
	if rec != nil {
		a.dialOptions = append(a.dialOptions, rec.DialOption())
		if cert, ok := p.Source().(interface{ CertificateNotAfter() (time.Time, bool) }); ok {
			rec.WatchCertificate(cert.CertificateNotAfter)
			rec.Update(time.Now())
		}
		a.stopMetrics = rec.Watch(metricsInterval)
	}
	return a, nil
}

// metricsInterval is how often the time-left gauge is updated between
// refreshes.
const metricsInterval = 10 * time.Second

// wrap names the provider chosen, and why, in an error from its source. An
// error about a headers.Options field is given the name it was set by:
// leewayVar for the leeway read from the environment, else the field of
// EnvOptions.Provider.
func (c choice) wrap(err error, leewayVar string) error {
	var ce *headers.ConfigError
	if errors.As(err, &ce) {
		switch {
		case ce.Setting == "headers.Options.Leeway" && leewayVar != "":
			ce.Setting = leewayVar
		case strings.HasPrefix(ce.Setting, "headers.Options."):
			ce.Setting = "EnvOptions.Provider." + strings.TrimPrefix(ce.Setting, "headers.Options.")
		}
	}
	switch {
	case !c.auto:
		return fmt.Errorf("temporalauth: %s provider: %w", c.kind(), err)
	case c.kind() == KindAzure:
		// Azure platforms set AZURE_ variables for their own purposes.
		return fmt.Errorf("temporalauth: %s provider (chosen because %s is set; set %s to choose another): %w",
			c.kind(), c.because, EnvProvider, err)
	}
	return fmt.Errorf("temporalauth: %s provider (chosen because %s is set): %w", c.kind(), c.because, err)
}
