// Package headers keeps a Temporal client's authorization header fresh.
//
// A Temporal server with JWT authorization rejects every call that lacks a
// valid "authorization: Bearer <JWT>" header with PERMISSION_DENIED
// "Request unauthorized.". Tokens expire and signing keys rotate, so a
// long-running worker needs a header that is renewed before it goes stale.
//
// A [TokenSource] produces tokens; each source is a package of its own:
// jwtkey (a local signing key), azure (Microsoft Entra ID through MSAL),
// oidc (any OAuth 2.0 / OpenID Connect identity provider, by client
// credentials) and static (a fixed token or a token file). A [Provider] caches a source's
// tokens and is what the Temporal SDK calls before every RPC: set it as
// client.Options.HeadersProvider.
//
// # How the cache behaves
//
//   - A fresh token is served without locking, reading the clock or
//     allocating; the header map is shared and must not be modified.
//   - A leeway before expiry (by default the smaller of 5 minutes and a
//     quarter of the token's lifetime; each renewal falls at a random
//     point in the last quarter of it, so a fleet started together does
//     not renew together) one background refresh runs while every caller
//     keeps the still-valid token.
//   - A failed refresh is retried with exponential backoff, 1 s doubling
//     to 30 s with ±25% jitter, or later if the source reports a
//     Retry-After, and once more shortly before the token expires, while
//     callers still get the valid token.
//   - With no valid token, callers wait for one shared refresh, each for as
//     long as its own context allows. An expired token is not served.
//   - Expiry is wall time. Timers follow the monotonic clock, which stands
//     still during a suspend and ignores clock steps, so they re-read the
//     wall clock at least every second (Options.WallClockCheck): after a
//     resume or a step, a token past its expiry is served for at most that
//     long, and RetryUnauthorized replaces it if the server rejects it
//     meanwhile. A negative WallClockCheck reads the clock on every call.
//   - A panic in the source becomes an error for the callers; Close waits
//     at most CloseTimeout for a source that ignores cancellation.
//   - Logs, errors and the String and Format of every type here never
//     show a token or a key.
//
// [Provider.RetryUnauthorized] adds recovery for a token the server
// rejects before it expires (revoked, or its signing key withdrawn): it
// retries the call once with a different token, and keeps serving the
// rejected one, if still valid, until a replacement is in hand. A source
// with a cache of its own implements [Invalidator] to be told which token
// was rejected. It also carries a client through a signing-key rotation
// that the server has not caught up with: a call refused for a token of a
// new key is retried with the last token the server accepted, which is
// served while it stays valid (see [Options.RotationGrace]).
package headers
