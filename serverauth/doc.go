// Package serverauth is a JWT key provider for Temporal servers built from
// source, for teams whose identity provider rotates its signing keys without
// notice (Microsoft Entra ID, formerly Azure AD, does).
//
// The Temporal server's own key provider (go.temporal.io/server v1.20 to
// v1.32) reads the JWKS when the server starts and then every
// refreshInterval — never, when the setting is absent, as in a hand-written
// configuration. A token signed with a key it has not fetched is refused
// with "PERMISSION_DENIED: Request unauthorized." until the next refresh
// (temporalio/temporal#5127). A [KeyProvider] refetches instead:
//
//   - when a token names a key ID (kid) it does not hold, it fetches every
//     source at once and the token waits for the result (at most
//     Config.FetchTimeout). Concurrent lookups share one fetch;
//   - at most one such refetch per Config.MinRefetchInterval (default one
//     minute). A token with an unknown kid inside that window is refused at
//     once, and one refetch is scheduled for when the window ends, so a flood
//     of tokens with made-up key IDs costs the identity provider one request
//     per window at most. Key IDs a fetch did not find are remembered until
//     the next fetch, by a fixed-size hash (at most 10,000 of them), so
//     tokens with huge made-up key IDs do not grow memory;
//   - every Config.RefreshInterval (default one hour) it fetches all sources
//     anyway, so withdrawn keys leave;
//   - each source keeps its last good keys when a fetch of it fails, so one
//     failing URL or a short identity provider outage does not drop any key,
//     but only for Config.MaxKeyAge (default 24 hours) after the source's
//     last success: a key the identity provider withdrew does not stay
//     valid for as long as its JWKS is unreachable.
//
// # Issuer binding
//
// Every key is bound to the issuers allowed to use it, and GetKey refuses a
// token whose "iss" claim is not one of them, before its signature is
// checked. One key set often signs for many issuers: Microsoft Entra ID
// signs the access tokens of every tenant with the same keys, and a
// tenant's own JWKS URL serves them, so anyone can create a tenant, give an
// app a role named "temporal-system:admin" and get a token that the stock
// key provider accepts. The allowed issuers are, per source:
//
//   - an OpenID issuer (Config.Issuers, or a keySourceURIs entry ending in
//     /.well-known/openid-configuration): the "issuer" of its discovery
//     document;
//   - an Entra ID tenant (Config.EntraTenants, by tenant ID): the tenant's
//     v1.0 issuer https://sts.windows.net/<tenant>/ and v2.0 issuer
//     https://login.microsoftonline.com/<tenant>/v2.0;
//   - a JWKS URL: Config.JWKSIssuers. [ConfigFromAuthorization] fills it in
//     for a tenant's JWKS URL on login.microsoftonline.com; package
//     serveropts reads the others from environment variables.
//
// A JWKS URL without issuers is an error when the provider is created,
// unless Config.AllowAnyIssuer opts out. When two sources publish the same
// key, it serves the issuers of both. Issuers are compared exactly. Bind
// the audience too (the server's global.authorization.audience): an
// identity provider signs tokens for its other APIs with the same keys.
//
// Sources are JWKS URLs (https://; http:// only for loopback hosts; file://)
// and OpenID Connect issuers, whose discovery document must name the
// configured issuer and gives the JWKS URL. Responses must have status 200
// and at most Config.MaxResponseBytes (default 1 MiB). Only keys that can
// verify RS256 (RSA, at least 2048 bits) or ES256 (EC P-256) tokens are
// kept, the algorithms the server's default claim mapper accepts; every
// other key is skipped with a log line naming its kid and the reason.
//
// # Wiring
//
// The provider implements authorization.TokenKeyProvider and
// authorization.RawTokenKeyProvider; pass it to
// authorization.NewDefaultJWTClaimMapper. Package
// github.com/temporalauth/temporalauth/serverauth/serveropts builds the
// server options (authorizer, claim mapper, audience) from the server's own
// configuration in one call, and [ConfigFromAuthorization] maps the YAML
// settings (jwtKeyProvider.keySourceURIs, refreshInterval) to a [Config].
//
// # Logs and metrics
//
// Through Config.Logger (the server's log.Logger): each fetch, with the key
// IDs added and removed ("JWT keys fetched"); each unknown kid that triggers
// a refetch and whether the refetch found it, with the time of the next
// allowed refetch; unknown kids refused by the rate limit (the first few of
// each window, then a count); failing sources, with the number of keys kept;
// skipped keys; tokens refused by the issuer binding, with the issuer, the
// kid and the allowed issuers (the first few of each window, then a count);
// keys dropped for age. The errors GetKey returns, which the server logs as
// "Authorization error", name the kid and the next refetch time. Key IDs
// and issuers come from unverified tokens and are quoted and truncated;
// URLs are shown without user info or query.
//
// Through Config.MetricsHandler (the server's metrics.Handler), and as
// [KeyProvider.Stats]:
//
//   - jwt_key_source_fetches{outcome=success|failure}: fetches of one source;
//   - jwt_key_refetches: fetches triggered by unknown key IDs;
//   - jwt_unknown_key_ids{outcome=found|not_found|rate_limited}: tokens whose
//     kid was not held;
//   - jwt_issuer_refusals: tokens refused because their issuer may not use
//     the key that signed them;
//   - jwt_keys_dropped_for_age: keys dropped because their source had
//     failed for longer than Config.MaxKeyAge;
//   - jwt_keys (gauge): keys held.
package serverauth
