// Package oidc gets Temporal tokens from any OAuth 2.0 / OpenID Connect
// identity provider with the client-credentials grant (RFC 6749, 4.4):
// Okta, Auth0, Keycloak, Ory Hydra, Amazon Cognito, Microsoft Entra ID used
// as a plain OpenID Connect provider, and others.
//
// The token endpoint is given directly (Config.TokenURL) or found by
// OpenID Connect discovery from the issuer URL (Config.Issuer). The client
// authenticates with client_secret_basic, client_secret_post or
// private_key_jwt (RFC 7523, assertions signed ES256 or RS256 by
// jwtkey.ClaimSigner); scope, audience (Auth0) and resource (RFC 8707)
// parameters are sent as configured. The token request is this package's
// own (RFC 6749, 4.4.2), so that it reads every form of expires_in that
// identity providers send and explains error answers without quoting them
// whole.
//
// A Source makes one token request per call; NewProvider puts the
// headers.Provider cache in front of it, which renews the token before it
// expires, backs off after failures (longer when the identity provider
// answers with Retry-After) and never shows a secret.
//
// # What the Temporal server needs
//
// The server's default claim mapper reads permissions, "<namespace>:<role>"
// strings in a JSON array, from the claim its permissionsClaimName names:
// "scp" for the granted scopes of Ory Hydra and Okta, "permissions" for
// Auth0 with RBAC, "roles" for Entra ID app roles; Keycloak and Cognito need
// a mapper or trigger that adds such an array (the README's table says how
// for each). A space-separated "scope" string grants nothing.
//
// Identity providers do not backdate "iat" and "nbf", and the server checks
// them with no leeway: keep the server's clock synchronised (NTP), or a
// server a second behind the identity provider refuses fresh tokens.
package oidc
