// Package entratest runs a local identity provider that answers like
// Microsoft Entra ID (Azure AD), for tests that exercise real token-acquisition
// code such as MSAL Go without reaching Azure.
//
// A [Server] listens on 127.0.0.1 only and serves, for its one tenant:
//
//   - GET  /<tenant>/v2.0/.well-known/openid-configuration (OpenID discovery),
//   - POST /<tenant>/oauth2/v2.0/token (the client-credentials grant with a
//     client secret, a certificate-signed client assertion, or a federated
//     (workload identity) assertion),
//   - GET  /<tenant>/discovery/v2.0/keys (the JWKS that verifies its tokens),
//   - GET  /common/discovery/instance (Entra ID's instance discovery, which
//     [Server.Client] routes requests for login.microsoftonline.com to; it
//     refuses the server's own host unless [Server.TrustAuthorityHost]),
//
// over HTTPS with a self-signed certificate that [Server.Client] trusts, and,
// on a second, plain-HTTP listener, an App Service style managed-identity
// endpoint (see [Server.ManagedIdentityEnv]) and a copy of the JWKS
// ([Server.HTTPKeysURL]) for consumers such as a Temporal server that fetch
// keys with Go's default HTTP client.
//
// Tokens are RS256 JWTs with a kid header and the claims iss, sub, aud, azp,
// tid, oid, iat, nbf, exp, ver and, when the caller was granted app roles, a
// roles array. Requests are checked the way Entra ID checks them and refused
// with its JSON error format and AADSTS codes (unknown client, wrong secret,
// bad assertion signature, a scope without /.default, an unknown resource...).
//
// Knobs for tests: per-endpoint request counters ([Server.Requests]), a record
// of what was posted ([Server.TokenRequests]), failure injection
// ([Server.FailNext]: OAuth errors with Retry-After, HTML pages, truncated
// JSON, a hanging answer), and signing-key rotation in Entra's three steps
// ([Server.PublishNewKey], [Server.SignWithNewKey], [Server.WithdrawOldKeys]).
//
// The package is meant for tests only: it keeps registered secrets in memory
// and accepts any caller on loopback. To keep tests fast, the servers of one
// process share their RSA keys: every server starts with the same first key
// and draws later keys in the same order (its tenant and issuer differ).
package entratest
