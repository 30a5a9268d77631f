// Package bench compares the token cache in
// github.com/temporalauth/temporalauth/headers (with its default options,
// and reading the wall clock on every call: WallClockCheck < 0) with the
// caches a Temporal user would otherwise reach for, side by side over the
// same token source:
//
//   - golang.org/x/oauth2's ReuseTokenSourceWithExpiry,
//   - cloud.google.com/go/auth's NewCachedTokenProvider (asynchronous
//     refresh, its default, and blocking refresh),
//   - a provider built the way the temporalio/samples-go serverjwtauth
//     sample builds one (a read lock over the cached token, regeneration
//     outside the lock, no single-flight),
//   - and a floor that returns a constant header map.
//
// Each is wrapped to return the header map a Temporal HeadersProvider
// returns. The package holds only benchmarks and tests; it is a separate
// module so that the peers never enter the library's go.mod. Run
//
//	go test -run '^$' -bench . -benchmem -count 6 -cpu 1,2
//
// and see BENCHMARKS.md in the repository root for the figures.
package bench
