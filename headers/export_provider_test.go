package headers

import (
	"time"

	"google.golang.org/grpc"
)

// Internals for the tests in package headers_test, which cannot be in
// package headers: they use clocktest, which imports headers.

// Backoff is backoff.
var Backoff = backoff

// Interceptor returns the interceptor that RetryUnauthorized installs.
func (p *Provider) Interceptor() grpc.UnaryClientInterceptor { return p.retryUnauthorized }

// SetCloseTimeout sets how long Close waits for a source that ignores
// cancellation, and returns a function that restores it.
func SetCloseTimeout(d time.Duration) (restore func()) {
	old := closeTimeout
	closeTimeout = d
	return func() { closeTimeout = old }
}

// SetJitter replaces the random source that places renewals within the
// leeway, and returns a function that restores it. TestMain sets it to
// return 0 (renewal at the full leeway) for the tests that assert
// renewal times.
func SetJitter(f func() float64) (restore func()) {
	old := jitter
	jitter = f
	return func() { jitter = old }
}
