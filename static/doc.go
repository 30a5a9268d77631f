// Package static supplies Temporal credentials that need no identity
// provider: a token given in configuration, a token file that another
// process keeps fresh, and fixed extra gRPC headers.
//
// # Tokens
//
// A [Config] gives the token one of two ways. [Config.Token] is the token
// itself, given as a setting: an opaque API key or a JWT. [Config.TokenFile]
// is a file holding it, read again every [Config.PollInterval]
// ([DefaultPollInterval], one minute, by default), which suits files that an
// agent replaces, such as a Vault agent sink or a Kubernetes projected
// service-account token. [ConfigFromLookup] reads a Config from the
// environment variables TEMPORAL_AUTH_TOKEN_FILE or TEMPORAL_AUTH_TOKEN
// ([EnvTokenFile], [EnvToken]). [NewTokenSource] returns the
// [headers.TokenSource] serving it, and [NewProvider] wraps that in a
// ready [headers.Provider] for client.Options.HeadersProvider.
//
// A token is trimmed of surrounding whitespace, so a trailing newline or
// CRLF is harmless. It must then be non-empty printable ASCII without inner
// whitespace, and without a "Bearer" scheme: the [headers.Provider] adds the
// scheme. When the token is a JWT its expiry is read, unverified, from the
// exp claim (see [ExpiryOf]); a token that is not a JWT never expires. An
// expired token is an error.
//
// Settings errors are [*headers.ConfigError] values naming the setting at
// fault: the Config field, such as "static.Config.TokenFile", or the
// environment variable for a Config from ConfigFromLookup. No error, and no
// fmt verb or log/slog value of a Config or Source, contains the token.
//
// # Extra headers
//
// [Headers] serves a fixed set of gRPC metadata, and [Merge] combines header
// providers into one, so that a token provider can be used together with the
// headers go.temporal.io/sdk/contrib/envconfig loads from
// TEMPORAL_GRPC_META_* settings:
//
//	opts, err := envconfig.LoadDefaultClientOptions()
//	...
//	tokens, err := static.NewProvider(static.Config{TokenFile: path}, headers.Options{})
//	...
//	opts.HeadersProvider = static.Merge(opts.HeadersProvider, tokens)
package static
