package temporalauth

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/setting"
	"github.com/temporalauth/temporalauth/static"
)

// Variables of go.temporal.io/sdk/contrib/envconfig this file refers to.
const (
	envAPIKey     = "TEMPORAL_API_KEY"
	envConfigFile = "TEMPORAL_CONFIG_FILE"
	envProfile    = "TEMPORAL_PROFILE"
	envGRPCMeta   = "TEMPORAL_GRPC_META_"
)

// LoadClientOptions returns complete client.Options for client.Dial or
// client.NewLazyClient, and the token provider they use, both from the
// environment:
//
//   - go.temporal.io/sdk/contrib/envconfig loads the connection settings:
//     the profile (TEMPORAL_PROFILE, default "default") of the TOML config
//     file (TEMPORAL_CONFIG_FILE, default
//     <user config dir>/temporalio/temporal.toml; a missing file is fine),
//     overridden by TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS*,
//     TEMPORAL_CLIENT_AUTHORITY and TEMPORAL_GRPC_META_* headers.
//   - [Load] chooses the token provider from TEMPORAL_AUTH_PROVIDER and the
//     other variables.
//
// The provider's header is merged with the TEMPORAL_GRPC_META_* headers
// (its authorization header replaces one set there, with a warning), and
// its RetryUnauthorized dial option is appended to
// ConnectionOptions.DialOptions, so that a token the server rejects is
// replaced at once. An API key (TEMPORAL_API_KEY or the profile's api_key)
// together with a token provider is an error naming both: both would set
// the authorization header. With the none provider the options are
// envconfig's, API key included.
//
// Values are trimmed of surrounding white space, envconfig's too. Close
// the returned Auth when done with the client (after client.Close):
//
//	opts, auth, err := temporalauth.LoadClientOptions(temporalauth.EnvOptions{})
//	if err != nil { ... }
//	defer auth.Close()
//	slog.Info("connecting to Temporal", "address", opts.HostPort, "auth", auth)
//	c, err := client.Dial(opts)
func LoadClientOptions(o EnvOptions) (client.Options, *Auth, error) {
	lookup := o.lookup()
	c, err := choose(lookup)
	if err != nil {
		return client.Options{}, nil, err
	}
	prof, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{
		EnvLookup: envLookup{lookup: lookup, environ: o.environ},
	})
	if err != nil {
		return client.Options{}, nil, fmt.Errorf("temporalauth: loading the Temporal client configuration (%s, %s and TEMPORAL_* variables): %w",
			envConfigFile, envProfile, err)
	}
	header := strings.ToLower(setting.OrDefault(o.Provider.Header, headers.DefaultHeader))
	if prof.APIKey != "" && c.src != nil && header == headers.DefaultHeader {
		return client.Options{}, nil, fmt.Errorf("temporalauth: %s and %s are both set: both would send the %s header; unset %s to use the %s provider, or set %s=none to use the API key",
			apiKeySource(lookup), c.because, header, apiKeySource(lookup), c.kind(), EnvProvider)
	}
	opts, err := prof.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return client.Options{}, nil, fmt.Errorf("temporalauth: Temporal client configuration (%s, %s and TEMPORAL_TLS* variables): %w",
			envConfigFile, envProfile, err)
	}
	auth, err := c.build(o)
	if err != nil {
		return client.Options{}, nil, err
	}
	if auth.provider == nil {
		return opts, auth, nil
	}
	if _, ok := prof.GRPCMeta[header]; ok {
		o.logger().Warn("temporalauth: the token provider's header replaces the one set by "+
			envGRPCMeta+strings.ToUpper(strings.ReplaceAll(header, "-", "_"))+" or the config file's grpc_meta",
			"header", header, "provider", auth.kind)
	}
	if opts.HeadersProvider == nil {
		opts.HeadersProvider = auth
	} else {
		opts.HeadersProvider = static.Merge(opts.HeadersProvider, auth)
	}
	opts.ConnectionOptions.DialOptions = append(opts.ConnectionOptions.DialOptions, auth.DialOptions()...)
	if opts.MetricsHandler == nil && o.MetricsHandler != nil {
		opts.MetricsHandler = o.MetricsHandler
	}
	return opts, auth, nil
}

// apiKeySource names where envconfig found the API key.
func apiKeySource(lookup func(string) (string, bool)) string {
	if v, _ := lookup(envAPIKey); v != "" {
		return envAPIKey
	}
	profile, _ := lookup(envProfile)
	if profile == "" {
		profile = envconfig.DefaultConfigFileProfile
	}
	return fmt.Sprintf("api_key of profile %q in the config file (%s)", profile, envConfigFile)
}

// envLookup adapts EnvOptions to envconfig.EnvLookup.
type envLookup struct {
	lookup  func(string) (string, bool)
	environ func() []string
}

// Environ lists the variables, values trimmed.
func (e envLookup) Environ() []string { return e.environ() }

// LookupEnv reads one variable, trimmed.
func (e envLookup) LookupEnv(name string) (string, bool) { return e.lookup(name) }
