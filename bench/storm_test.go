package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Storm parameters.
const (
	// stormSourceDelay is how long the identity provider takes per token.
	stormSourceDelay = 50 * time.Millisecond
	// stormTokenLife is the lifetime of the tokens the source issues.
	stormTokenLife = time.Hour
	// stormCallerTimeout bounds each caller, so that a broken cache fails
	// the benchmark instead of hanging it.
	stormCallerTimeout = 10 * time.Second
)

// stormCallers is how many goroutines call GetHeaders at once. The race
// detector allows at most 8128 live goroutines, so race builds use fewer.
var stormCallers = func() int {
	if raceEnabled {
		return 4000
	}
	return 10000
}()

// A stormPhase is the state of the cached token when the storm hits.
type stormPhase struct {
	name string
	// left is how long the cached token remains valid: positive means a
	// valid token inside every contender's refresh window, negative means
	// it expired that long ago.
	left time.Duration
}

var stormPhases = []stormPhase{
	{name: "leeway", left: 5 * time.Second},
	{name: "expiry", left: -time.Second},
}

// A stormResult is what one storm measured.
type stormResult struct {
	sourceCalls int64
	latencies   []time.Duration // one per caller
}

// timerControl is the part of testing.B that a storm uses to keep its set
// up out of the measurement.
type timerControl interface {
	StartTimer()
	StopTimer()
}

type noTimer struct{}

func (noTimer) StartTimer() {}
func (noTimer) StopTimer()  {}

// runStorm builds c's cache over a source that takes stormSourceDelay,
// puts a cached token in the state ph describes, and releases n goroutines
// that call GetHeaders at once. Every contender faces the same state: one
// that reads a clock it is given is primed with an hour-long token and the
// clock is moved to ph.left before its expiry; one that reads the wall
// clock is primed with a token that expires ph.left from now. The result
// counts the source calls the storm caused, including a refresh that
// outlives the callers.
func runStorm(tb testing.TB, tc timerControl, c contender, ph stormPhase, n int) stormResult {
	tb.Helper()
	tc.StopTimer()
	clk := newWallClock()
	now := time.Now
	if c.clocked {
		now = clk.Now
	}
	src := newTokenSource(now, stormTokenLife)
	hp, release := c.build(src, clk)
	released := false
	defer func() {
		if !released {
			release()
		}
	}()
	ctx := context.Background()
	if c.clocked {
		src.prime(clk.Now().Add(stormTokenLife))
	} else {
		src.prime(time.Now().Add(ph.left))
	}
	if _, err := hp.GetHeaders(ctx); err != nil {
		tb.Fatalf("%s: priming: %v", c.name, err)
	}
	if c.clocked {
		clk.Advance(stormTokenLife - ph.left)
	}
	src.setDelay(stormSourceDelay)
	src.calls.Store(0)

	latencies := make([]time.Duration, n)
	var failures atomic.Int64
	var firstErr atomic.Value
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			cctx, cancel := context.WithTimeout(ctx, stormCallerTimeout)
			defer cancel()
			// A context makes its Done channel on first use. Make it now, as
			// gRPC would have by the time the SDK asks for headers, so that
			// allocs/op counts the caches' allocations only.
			cctx.Done()
			ready.Done()
			<-start
			began := time.Now()
			h, err := hp.GetHeaders(cctx)
			latencies[i] = time.Since(began)
			if err == nil && !strings.HasPrefix(h[headerKey], headerPrefix) {
				err = fmt.Errorf("header %q is %q, without the %q scheme", headerKey, h[headerKey], headerPrefix)
			}
			if err != nil {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
		}()
	}
	ready.Wait()
	tc.StartTimer()
	close(start)
	done.Wait()
	tc.StopTimer()

	if f := failures.Load(); f > 0 {
		tb.Fatalf("%s at %s: %d of %d callers failed; first: %v", c.name, ph.name, f, n, firstErr.Load())
	}
	// A refresh may outlive the callers (ours, gauth): let it finish before
	// counting. Every contender but the floor calls the source at least
	// once in either phase.
	if c.name != "floor" {
		deadline := time.Now().Add(stormCallerTimeout)
		for src.calls.Load() == 0 || src.active.Load() > 0 {
			if time.Now().After(deadline) {
				tb.Fatalf("%s at %s: the source was not called, or its call did not end, within %s", c.name, ph.name, stormCallerTimeout)
			}
			time.Sleep(time.Millisecond)
		}
	}
	release()
	released = true
	return stormResult{sourceCalls: src.calls.Load(), latencies: latencies}
}

// BenchmarkStorm releases stormCallers goroutines on one cache at the
// moment its token enters the refresh window (at=leeway: a valid token
// exists) and once it has expired (at=expiry), with a source that takes
// 50 ms. It reports the source calls per storm and the callers' latency
// percentiles (p50, p99, p99.9, max) over all storms; ns/op is the time
// until the last caller returned.
func BenchmarkStorm(b *testing.B) {
	for _, ph := range stormPhases {
		for _, c := range contenders {
			b.Run("at="+ph.name+"/impl="+c.name, func(b *testing.B) {
				var calls int64
				var all []time.Duration
				for range b.N {
					r := runStorm(b, b, c, ph, stormCallers)
					calls += r.sourceCalls
					all = append(all, r.latencies...)
				}
				slices.Sort(all)
				b.ReportMetric(float64(calls)/float64(b.N), "source-calls/op")
				b.ReportMetric(micros(percentile(all, 0.50)), "p50-µs")
				b.ReportMetric(micros(percentile(all, 0.99)), "p99-µs")
				b.ReportMetric(micros(percentile(all, 0.999)), "p99.9-µs")
				b.ReportMetric(micros(all[len(all)-1]), "max-µs")
			})
		}
	}
}

// percentile returns the q-quantile of sorted, by the nearest-rank method.
func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// TestStormOursCallsSourceOnce asserts single-flight under a storm: one
// source call when the token enters the refresh window, one when it has
// expired. Latencies are benchmarked, not asserted.
func TestStormOursCallsSourceOnce(t *testing.T) {
	ours := contenders[0]
	if ours.name != "ours" {
		t.Fatalf("contenders[0] is %q, want ours", ours.name)
	}
	for _, ph := range stormPhases {
		t.Run(ph.name, func(t *testing.T) {
			r := runStorm(t, noTimer{}, ours, ph, stormCallers)
			if r.sourceCalls != 1 {
				t.Errorf("%d callers at %s made %d source calls, want 1", stormCallers, ph.name, r.sourceCalls)
			}
		})
	}
}

// TestStormPeersPremise checks that the storm puts every peer in the state
// it claims, by the source calls each is known to make: oauth2 and
// blocking gauth hold their mutex across the fetch, so they fetch once;
// the sample's provider regenerates on every caller that sees the window
// before the first regeneration ends. gauth's asynchronous refresh fetches
// at least once: a caller that found the token stale but reaches
// tokenAsync after the refresh ended starts another (two critical
// sections), which a loaded machine makes happen.
func TestStormPeersPremise(t *testing.T) {
	const n = 200
	for _, ph := range stormPhases {
		for _, c := range contenders[1:] {
			t.Run(ph.name+"/"+c.name, func(t *testing.T) {
				r := runStorm(t, noTimer{}, c, ph, n)
				switch c.name {
				case "floor":
					if r.sourceCalls != 0 {
						t.Errorf("floor made %d source calls", r.sourceCalls)
					}
				case "samples":
					// Every caller that reads the clock before the first
					// regeneration ends (50 ms later) regenerates too.
					if r.sourceCalls < 2 {
						t.Errorf("%d callers made %d source calls, want several (no single-flight)", n, r.sourceCalls)
					}
				case "gauth":
					if ph.name == "leeway" && r.sourceCalls < 1 || ph.name == "expiry" && r.sourceCalls != 1 {
						t.Errorf("%d callers made %d source calls", n, r.sourceCalls)
					}
				default:
					if r.sourceCalls != 1 {
						t.Errorf("%d callers made %d source calls, want 1", n, r.sourceCalls)
					}
				}
			})
		}
	}
}
