package headers_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/headers/clocktest"
)

// fleetPeak starts n Providers over one second of a manual clock, each
// with one-hour tokens and the default leeway, runs them through their
// first renewal with every Provider called once per simulated second, and
// returns the most token requests made in one second of the renewal.
func fleetPeak(t *testing.T, n int) int {
	c := clocktest.New()
	var mu sync.Mutex
	perSecond := map[int64]int{}
	src := headers.TokenSourceFunc(func(context.Context) (Token, error) {
		now := c.Now()
		mu.Lock()
		perSecond[now.Unix()]++
		mu.Unlock()
		return NewToken("header.payload.signature", now.Add(time.Hour)), nil
	})
	ps := make([]*Provider, n)
	for i := range ps {
		// WallClockCheck past the token's life: one timer per Provider,
		// at its renewal point, keeps the simulation cheap.
		ps[i] = headers.New(src, Options{Clock: c, Logger: quietLogger(), WallClockCheck: 2 * time.Hour})
		defer ps[i].Close()
	}
	for i, p := range ps {
		c.Advance(time.Second / time.Duration(n))
		if _, err := p.GetHeaders(context.Background()); err != nil {
			t.Fatalf("provider %d: %v", i, err)
		}
	}
	mu.Lock()
	clear(perSecond)
	mu.Unlock()
	c.Advance(time.Hour - headers.MaxDefaultLeeway - 10*time.Second)
	for range int((headers.MaxDefaultLeeway + 20*time.Second) / time.Second) {
		c.Advance(time.Second)
		for _, p := range ps {
			if _, err := p.GetHeaders(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range ps { // let this second's renewals finish
			for p.Stats().Refreshing {
				time.Sleep(10 * time.Microsecond)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	peak, total := 0, 0
	for _, k := range perSecond {
		peak = max(peak, k)
		total += k
	}
	if total != n {
		t.Fatalf("%d renewals for %d providers, want one each", total, n)
	}
	return peak
}

// TestFleetRenewalSpread measures the peak token requests per second of
// 1,000 Providers started in the same second, at their first renewal,
// without and with the renewal jitter (BENCHMARKS.md reports the figure).
func TestFleetRenewalSpread(t *testing.T) {
	const n = 1000
	before := fleetPeak(t, n)
	restore := headers.SetJitter(rand.Float64)
	defer restore()
	after := fleetPeak(t, n)
	t.Logf("%d providers started in one second, 1h tokens, default leeway (5m): peak token requests per second at the first renewal: %d without jitter, %d with it",
		n, before, after)
	if before < n/2 {
		t.Errorf("without jitter the peak is %d/s; the fleet should renew within about one second", before)
	}
	// Uniform over a quarter of the leeway (75 s): about 13/s on average.
	if after > n/10 {
		t.Errorf("with jitter the peak is %d/s, want the renewals spread over a quarter of the leeway", after)
	}
}

// The jitter keeps each renewal within the leeway: between the full
// leeway and three quarters of it before expiry.
func TestRenewalJitterStaysWithinLeeway(t *testing.T) {
	for _, j := range []float64{0, 0.5, 1} {
		restore := headers.SetJitter(func() float64 { return j })
		c := clocktest.New()
		src := &source{clock: c, lifetime: time.Hour}
		p, ev := newTestProvider(t, src, c, Options{Leeway: 8 * time.Minute})
		mustHeader(t, p)
		ev.next(t)
		renewAt := time.Hour - 8*time.Minute + time.Duration(j*float64(2*time.Minute))
		c.Advance(renewAt - time.Millisecond)
		mustHeader(t, p)
		ev.none(t)
		c.Advance(time.Millisecond)
		mustHeader(t, p)
		if e := ev.next(t); !e.Background {
			t.Errorf("jitter %v: renewal %+v, want a background one", j, e)
		}
		restore()
	}
}
