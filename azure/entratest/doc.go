// Package entratest runs a local identity provider that answers like
// Microsoft Entra ID (Azure AD), for tests that exercise real token-acquisition
// code such as MSAL Go without reaching Azure.
//
// A [Server] listens on 127.0.0.1 only and serves, for each of its tenants
// (its home tenant and any added with [Server.AddTenant]):
//
//   - GET  /<tenant>/v2.0/.well-known/openid-configuration and
//     /<tenant>/.well-known/openid-configuration (OpenID discovery for v2.0
//     and v1.0 tokens),
//   - POST /<tenant>/oauth2/v2.0/token (the client-credentials grant with a
//     client secret, a certificate-signed client assertion, or a federated
//     (workload identity) assertion),
//   - GET  /<tenant>/discovery/v2.0/keys and /common/discovery/v2.0/keys (the
//     JWKS that verifies its tokens: the same keys for every tenant),
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
// Tokens are RS256 JWTs with a kid header and the claims iss, sub, aud, tid,
// oid, iat, nbf, exp, ver, azp (v2.0) or appid (v1.0) and, when the caller
// was granted app roles, a roles array.
//
// # Tenants share keys
//
// Like Entra ID, the server signs the tokens of all its tenants with the same
// keys, and every tenant's JWKS URL serves them: only iss and tid tell the
// tenants' tokens apart. That makes it the place to test what a resource
// server does with a token from a tenant it never meant to trust, say one
// whose owner registered an app role named "temporal-system:admin":
//
//	home := idp.HomeTenant()
//	api := home.RegisterApp(entratest.App{AppID: serverAppID, AccessTokenAcceptedVersion: 2})
//	other := idp.AddTenant("")
//	other.RegisterApp(entratest.App{IdentifierURIs: []string{"api://temporal-server"}})
//	other.RegisterClient(entratest.Client{ID: "intruder", Secret: "s", Roles: []string{"temporal-system:admin"}})
//
// A resource app's AccessTokenAcceptedVersion decides its tokens' shape, as
// in Entra ID: 2 gives v2.0 tokens (iss <authority>/<tenant>/v2.0, aud the
// app's application ID); null or 1 gives v1.0 tokens (iss
// https://sts.windows.net/<tenant>/, aud the Application ID URI or ID the
// client asked for). [DefaultResource], registered with
// [Server.RegisterResource], keeps the shape the package always issued: the
// v2.0 issuer with the URI as aud. Requests are checked the way Entra ID checks them and refused
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
