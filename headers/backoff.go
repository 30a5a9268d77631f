package headers

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Retry timing after a failed refresh.
const (
	// MinBackoff is the wait after the first failure; it doubles with
	// each further failure up to MaxBackoff. Each wait is jittered by
	// ±25% so that many workers do not retry in step.
	MinBackoff = time.Second
	// MaxBackoff caps the wait between attempts.
	MaxBackoff = 30 * time.Second
	// MaxRetryAfter caps how long a Retry-After from the source can
	// postpone the next attempt.
	MaxRetryAfter = 5 * time.Minute
)

// backoff is how long to wait after the n-th consecutive failure (n >= 1).
func backoff(n int, err error) time.Duration {
	d := MaxBackoff
	if n < 6 { // 1s << 5 = 32s > MaxBackoff
		d = min(MinBackoff<<(n-1), MaxBackoff)
	}
	d = time.Duration(float64(d) * (0.75 + 0.5*rand.Float64()))
	if ra, ok := RetryAfter(err); ok {
		d = max(d, min(ra, MaxRetryAfter))
	}
	return d
}

// WithRetryAfter marks err with how long the identity provider asked
// clients to wait (an HTTP Retry-After). A Provider waits at least that
// long, up to MaxRetryAfter, before it calls the source again.
func WithRetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{err: err, after: d}
}

// RetryAfter reports the wait an error in err's chain asks for: any error
// with a method RetryAfter() time.Duration, such as those made by
// WithRetryAfter.
func RetryAfter(err error) (time.Duration, bool) {
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		return ra.RetryAfter(), true
	}
	return 0, false
}

type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.err, e.after)
}
func (e *retryAfterError) Unwrap() error             { return e.err }
func (e *retryAfterError) RetryAfter() time.Duration { return e.after }
