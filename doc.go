// Package temporalauth keeps Temporal workers and starters authenticated
// to a Temporal server that enforces JWT authorization.
//
// Such a server answers every call that lacks a valid
// "authorization: Bearer <JWT>" header with PERMISSION_DENIED
// "Request unauthorized.". The packages below produce that header and keep
// it fresh across token expiry and signing-key rotation, as a
// client.HeadersProvider for go.temporal.io/sdk:
//
//   - headers: the token cache ([headers.Provider]) every provider is built
//     on, and JWTs signed with a local ECDSA or RSA key, with its JWKS.
//   - azure: Azure AD (Microsoft Entra ID) access tokens through MSAL Go:
//     client secret, certificate, workload identity, managed identity.
//   - static: a fixed token, a token file re-read when it changes, and
//     merging with other headers.
//
// For the server side, the separate module
// github.com/temporalauth/temporalauth/serverauth is a JWT key provider
// for Temporal servers built from source that refetches the JWKS when a
// token names an unknown key ID.
//
// A minimal worker:
//
//	p, err := jwtkey.NewProvider(jwtkey.Config{
//		KeyFile:     "/etc/temporal/worker.key.pem",
//		Permissions: []string{"default:write"},
//	}, headers.Options{})
//	if err != nil { ... }
//	defer p.Close()
//	c, err := client.Dial(client.Options{
//		HostPort:        "temporal.example.com:7233",
//		HeadersProvider: p,
//	})
package temporalauth
