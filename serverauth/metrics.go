package serverauth

import "go.temporal.io/server/common/metrics"

// counterDef is what metrics.NewCounterDef returns.
type counterDef interface {
	With(metrics.Handler) metrics.CounterIface
}

// Metrics recorded through Config.MetricsHandler. The names are registered
// with the server's metric catalog, so a Prometheus exporter shows their
// help text.
var (
	metricSourceFetches = metrics.NewCounterDef("jwt_key_source_fetches",
		metrics.WithDescription("Fetches of one JWT key source (JWKS URL, file or OpenID issuer), by outcome: success or failure."))
	metricRefetches = metrics.NewCounterDef("jwt_key_refetches",
		metrics.WithDescription("Fetches of all JWT key sources triggered by a token with an unknown key ID."))
	metricUnknownKeyIDs = metrics.NewCounterDef("jwt_unknown_key_ids",
		metrics.WithDescription("Tokens whose key ID the JWT key provider did not hold, by outcome: found (by a refetch), not_found, rate_limited (refused without a refetch)."))
	metricIssuerRefusals = metrics.NewCounterDef("jwt_issuer_refusals",
		metrics.WithDescription("Tokens refused because their issuer (iss) is not allowed to use the key that signed them."))
	metricKeysDroppedForAge = metrics.NewCounterDef("jwt_keys_dropped_for_age",
		metrics.WithDescription("JWT keys dropped because their source has failed for longer than MaxKeyAge."))
	metricKeys = metrics.NewGaugeDef("jwt_keys",
		metrics.WithDescription("JWT verification keys held by the key provider."))
)
