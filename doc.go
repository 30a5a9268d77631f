// Package temporalauth keeps Temporal workers and starters authenticated
// to a Temporal server that enforces JWT authorization.
//
// Most programs need one call. [LoadClientOptions] reads the connection
// settings (through go.temporal.io/sdk/contrib/envconfig) and the token
// provider from the environment and returns complete client.Options:
//
//	opts, auth, err := temporalauth.LoadClientOptions(temporalauth.EnvOptions{})
//	if err != nil { ... }
//	defer auth.Close()
//	c, err := client.Dial(opts)
//
// [Load] returns the provider alone, as a client.HeadersProvider. Both
// choose the provider from TEMPORAL_AUTH_PROVIDER or the variables present;
// errors name the variable at fault.
//
// This package only reads the environment. The work is done by the
// packages below it, which programs can also use directly:
//
//   - headers: the token cache ([headers.Provider]) behind every provider:
//     renewal before expiry, one refresh at a time, backoff, and recovery
//     when the server rejects a token.
//   - jwtkey: tokens signed with a local ECDSA or RSA key, and its JWKS.
//   - azure: Microsoft Entra ID tokens through MSAL Go: client secret,
//     certificate, workload identity, managed identity.
//   - oidc: any OAuth 2.0 / OpenID Connect identity provider (Okta, Auth0,
//     Keycloak, Ory Hydra, Cognito, ...) with the client-credentials grant.
//   - static: a fixed token, a token file re-read when it changes, and
//     merging with other headers.
//
// For the server side, the separate module
// github.com/temporalauth/temporalauth/serverauth is a JWT key provider
// for Temporal servers built from source that refetches the JWKS when a
// token names an unknown key ID.
package temporalauth
