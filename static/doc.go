// Package static supplies Temporal credentials that need no identity
// provider: a token given in configuration, a token file that another
// process keeps fresh, and fixed extra gRPC headers.
//
// # Tokens
//
// [NewFixed] serves one token given as a setting (an environment variable, a
// flag, a configuration key): an opaque API key or a JWT. [NewFile] serves
// the token in a file and re-reads it every [FileOptions.PollInterval]
// ([DefaultPollInterval], one minute, by default), which suits files that an
// agent replaces, such as a Vault agent sink or a Kubernetes projected
// service-account token. Both are [headers.TokenSource] values;
// [NewFixedProvider] and [NewFileProvider] wrap them in a ready
// [headers.Provider] for client.Options.HeadersProvider.
//
// A token is trimmed of surrounding whitespace, so a trailing newline or
// CRLF is harmless. It must then be non-empty printable ASCII without inner
// whitespace, and without a "Bearer" scheme: the [headers.Provider] adds the
// scheme. When the token is a JWT its expiry is read, unverified, from the
// exp claim (see [ExpiryOf]); a token that is not a JWT never expires. An
// expired token is an error.
//
// Errors name the setting or file at fault and never contain the token.
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
//	tokens, err := static.NewFileProvider(path, static.FileOptions{}, headers.Options{})
//	...
//	opts.HeadersProvider = static.Merge(opts.HeadersProvider, tokens)
package static
