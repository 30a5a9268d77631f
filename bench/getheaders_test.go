package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/headers"
)

// freshProvider returns c's cache holding a token that is valid for an
// hour on the system clock, the state a worker is in almost all the time.
func freshProvider(tb testing.TB, c contender) headersProvider {
	tb.Helper()
	src := newTokenSource(time.Now, time.Hour)
	hp, release := c.build(src, headers.Clock(nil))
	tb.Cleanup(release)
	h, err := hp.GetHeaders(context.Background())
	if err != nil {
		tb.Fatalf("%s: first GetHeaders: %v", c.name, err)
	}
	if !strings.HasPrefix(h[headerKey], headerPrefix) {
		tb.Fatalf("%s: header %q lacks the %q scheme", c.name, headerKey, headerPrefix)
	}
	return hp
}

// BenchmarkGetHeaders is the call the Temporal SDK makes before every RPC
// attempt, with a fresh token, from one goroutine.
func BenchmarkGetHeaders(b *testing.B) {
	for _, c := range contenders {
		b.Run("impl="+c.name, func(b *testing.B) {
			hp := freshProvider(b, c)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := hp.GetHeaders(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGetHeadersParallel is BenchmarkGetHeaders with every P calling
// the same cache, as a worker's pollers and activity goroutines do.
func BenchmarkGetHeadersParallel(b *testing.B) {
	for _, c := range contenders {
		b.Run("impl="+c.name, func(b *testing.B) {
			hp := freshProvider(b, c)
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := hp.GetHeaders(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkTimeNow is the price of reading the clock on this machine,
// which every peer pays per call and headers.Provider's hot path avoids.
func BenchmarkTimeNow(b *testing.B) {
	var t time.Time
	for b.Loop() {
		t = time.Now()
	}
	_ = t
}

// TestFreshTokenServedFromCache checks the premise of the GetHeaders
// benchmarks: with a fresh token no contender calls the source again.
func TestFreshTokenServedFromCache(t *testing.T) {
	for _, c := range contenders {
		t.Run(c.name, func(t *testing.T) {
			src := newTokenSource(time.Now, time.Hour)
			hp, release := c.build(src, headers.Clock(nil))
			defer release()
			ctx := context.Background()
			first, err := hp.GetHeaders(ctx)
			if err != nil {
				t.Fatal(err)
			}
			before := src.calls.Load()
			for range 1000 {
				h, err := hp.GetHeaders(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if h[headerKey] != first[headerKey] {
					t.Fatalf("token changed while fresh: %q, then %q", first[headerKey], h[headerKey])
				}
			}
			if c.name != "floor" && before != 1 {
				t.Errorf("first call made %d source calls, want 1", before)
			}
			if got := src.calls.Load() - before; got != 0 {
				t.Errorf("1000 calls with a fresh token made %d source calls, want 0", got)
			}
		})
	}
}
