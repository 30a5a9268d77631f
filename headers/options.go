package headers

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Options configure a Provider. The zero value is ready to use; every field
// documents its default.
type Options struct {
	// Leeway is how long before a token's expiry the Provider fetches the
	// next one, in the background, while it keeps serving the current
	// token. A leeway longer than half the time a token has left when it
	// arrives is shortened to that half, so short-lived tokens are not
	// refetched on every call. Each renewal point is jittered within the
	// leeway, so that a fleet started together does not renew together:
	// a token is renewed between the full leeway and three quarters of it
	// before it expires, at a uniformly random point. Default: the smaller
	// of MaxDefaultLeeway and a quarter of the token's lifetime.
	Leeway time.Duration

	// RefreshTimeout bounds each call to the source. Default:
	// DefaultRefreshTimeout.
	RefreshTimeout time.Duration

	// Header is the metadata key to set. It is lowercased, as gRPC
	// metadata keys must be; a key ending in -bin (a binary header, which
	// gRPC base64-encodes) is refused. Default: DefaultHeader.
	Header string

	// Scheme prefixes the token, separated by a space; the Temporal server
	// rejects a token without a scheme. Default: DefaultScheme.
	Scheme string

	// Name identifies the source in logs and errors. Default: the source's
	// String method, if it has one, else its type.
	Name string

	// Logger receives an Info record per new token (its kid, iss, sub and
	// expiry, read from a JWT without verifying it), an Info record when
	// the kid changes (a key rotation), Info records of rejected tokens
	// naming their kid, and a warning per failed refresh. Records never
	// hold a token. Default: slog.Default().
	Logger *slog.Logger

	// Clock tells the time and times the switch from serving the cached
	// token to refreshing it; tests set it (see package clocktest). Its Now
	// is wall time, which expiries are compared with; its timers may
	// follow another clock (the system clock's follow the monotonic clock),
	// so the Provider reads Now again whenever one fires. Default: the
	// system clock.
	Clock Clock

	// WallClockCheck bounds how long the Provider goes without reading
	// Clock.Now while it serves a fresh token. A fresh token is served
	// without reading the clock: a timer marks it stale at its refresh
	// time. But expiry is wall time and timers follow the monotonic clock,
	// which stands still while the machine sleeps (a laptop suspend, a VM
	// pause or snapshot restore) and ignores clock steps. So the timer
	// fires at least every WallClockCheck, reads Clock.Now and re-judges
	// the token: after a resume or a clock step, a token past its refresh
	// time or its expiry is served for at most WallClockCheck of running
	// time (a call the server rejects meanwhile is retried with a new
	// token by RetryUnauthorized, which reads the wall clock). A negative
	// value reads Clock.Now on every call instead: a token is never served
	// after its expiry, at the price of one clock reading per call (see
	// BENCHMARKS.md). A positive value below MinWallClockCheck is refused
	// (see Validate). Default: DefaultWallClockCheck.
	WallClockCheck time.Duration

	// OnRefresh is called after every call to the source, from the
	// goroutine that made it. It must not block. It may call Close. A panic
	// in it is recovered and logged. Default: none.
	OnRefresh func(RefreshEvent)

	// RotationGrace bounds how long RetryUnauthorized holds a call that
	// the server refused for a token signed with a key it has not
	// accepted from this Provider yet, retrying it with backoff (within
	// the call's own context), when no token the server accepted is
	// valid any more. A server learns a new signing key only at its next
	// JWKS refresh (its refreshInterval: one minute in the Helm chart).
	//
	// While the last token the server accepted is still valid, a call
	// refused with the newest token is not held but retried at once with
	// that token, which is served until the server accepts the new key
	// or it expires: the rotation grace. One call per
	// RotationProbeInterval tries the newest token meanwhile. A refusal
	// of a token whose key the server accepted before (a revoked token, a
	// permission removed) is never held, and a grace ends as soon as the
	// server refuses the accepted token too (a key withdrawn): such calls
	// fail as they would without a grace. A negative value turns the
	// grace and holding off. Default: DefaultRotationGrace.
	RotationGrace time.Duration

	// OnRotation is called at each step of a key rotation (see
	// RotationKind), for metrics. It must not block. A panic in it is
	// recovered and logged. Default: none.
	OnRotation func(RotationEvent)
}

// Validate reports an Options field that New cannot use, naming it. A
// Provider made from such Options fetches nothing and returns the same
// error from every call; Validate lets a program fail at start instead.
func (o Options) Validate() error {
	if err := checkHeaderKey(strings.ToLower(o.Header)); o.Header != "" && err != nil {
		return &ConfigError{Setting: "headers.Options.Header", Err: fmt.Errorf("%q: %w", o.Header, err)}
	}
	if o.WallClockCheck > 0 && o.WallClockCheck < MinWallClockCheck {
		return &ConfigError{Setting: "headers.Options.WallClockCheck", Err: fmt.Errorf("%v is below the minimum %v (a unit typo? it is a time.Duration: write 2*time.Second; a negative value reads the clock on every call)",
			o.WallClockCheck, MinWallClockCheck)}
	}
	if o.Scheme != "" {
		if i := strings.IndexFunc(o.Scheme, func(r rune) bool { return r <= ' ' || r > '~' }); i >= 0 {
			return &ConfigError{Setting: "headers.Options.Scheme", Err: fmt.Errorf("%q: a space, control character or non-ASCII byte at %d (the scheme is one word, such as %q)",
				o.Scheme, i+1, DefaultScheme)}
		}
	}
	return nil
}

// checkHeaderKey reports why key (lowercased) cannot be the metadata key
// of the token, or nil: see CheckMetadataKey, and a -bin key is refused
// since the token is text.
func checkHeaderKey(key string) error {
	if err := CheckMetadataKey(key); err != nil {
		return err
	}
	if strings.HasSuffix(key, "-bin") {
		return errors.New("a -bin key carries binary values, which gRPC base64-encodes, and the server reads the token as text")
	}
	return nil
}

// A RefreshEvent describes one call to the source, for metrics.
type RefreshEvent struct {
	// Source is Options.Name.
	Source string
	// Background reports whether a still-valid token was being served
	// while the call ran.
	Background bool
	// Err is the call's error, or nil.
	Err error
	// Expiry is the new token's expiry after a successful call.
	Expiry time.Time
	// TimeLeft is how long the token now being served remains valid: the
	// new token's after a success, the old one's (zero if none) after a
	// failure. It is zero for a token that never expires.
	TimeLeft time.Duration
	// Took is how long the call to the source took.
	Took time.Duration
	// RetryIn is how long the Provider waits before the next attempt after
	// a failure.
	RetryIn time.Duration
}

// Stats is a snapshot of a Provider's state.
type Stats struct {
	// Refreshes counts successful calls to the source.
	Refreshes int64
	// Failures counts failed calls to the source.
	Failures int64
	// ConsecutiveFailures counts failures since the last success.
	ConsecutiveFailures int
	// HasToken reports whether a valid token is cached.
	HasToken bool
	// Expiry is the cached token's expiry; zero if there is none or it
	// never expires.
	Expiry time.Time
	// TimeLeft is how long the cached token remains valid.
	TimeLeft time.Duration
	// LastError is the most recent failure since the last success, or nil.
	LastError error
	// Refreshing reports whether a call to the source is under way.
	Refreshing bool
	// Rotating reports whether a rotation grace or hold is on (see
	// Options.RotationGrace).
	Rotating bool
	// SavedCalls counts calls the server refused with the newest token
	// that succeeded when retried with the token it accepted last.
	SavedCalls int64
	// HeldCalls counts calls held while the server did not accept the
	// newest token's key.
	HeldCalls int64
}
