package bench

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/headers/clocktest"
)

// Parameters of the identity-provider load simulation: a worker calls
// GetHeaders every second for a day, against an identity provider that
// issues Azure-style 60-minute tokens.
const (
	simDuration  = 24 * time.Hour
	simCallEvery = time.Second
	// azureTokenLife is the lifetime of an Entra ID access token
	// (expires_in 3599 to 4499 s; an hour is the common case).
	azureTokenLife = time.Hour
	// idpLatency is the token request's round trip. The simulated clock
	// stands still during a call, so it is modelled as its effect: the
	// expiry is counted from the moment the answer arrives.
	idpLatency = 250 * time.Millisecond
	// msalBuffer is how long before expiry MSAL's cache stops serving a
	// token (AccessToken.Validate in MSAL Go v1.10.1).
	msalBuffer = 5 * time.Minute
	// simTimeout bounds the wait for a refresh the simulation expects.
	simTimeout = 10 * time.Second
)

// msalModel is MSAL's token cache in front of the identity provider: it
// returns its cached token while the token's expiry is not before now plus
// msalBuffer, and asks the identity provider otherwise.
type msalModel struct {
	clk *clocktest.Clock
	idp *tokenSource

	mu       sync.Mutex
	cached   headers.Token
	requests int64 // calls to the cache
}

func (m *msalModel) Token(ctx context.Context) (headers.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	if m.cached.Value() != "" && !m.cached.Expiry.Before(m.clk.Now().Add(msalBuffer)) {
		return m.cached, nil
	}
	value, expiry, err := m.idp.fetch(ctx)
	if err != nil {
		return headers.Token{}, err
	}
	m.cached = headers.NewToken(value, expiry)
	return m.cached, nil
}

func (m *msalModel) requestCount() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests
}

// earlyRefetch models a peer whose clock cannot be injected: a cache that
// fetches, on the caller's goroutine, once now is after the token's expiry
// minus early. x/oauth2 (Token.expired) and cloud.google.com/go/auth (its
// stale state starts an asynchronous refresh at the same instant) follow
// this rule with their own early; msalModel is the same rule with
// msalBuffer.
type earlyRefetch struct {
	clk   *clocktest.Clock
	src   headers.TokenSource
	early time.Duration

	tok headers.Token
}

func (e *earlyRefetch) GetHeaders(ctx context.Context) (map[string]string, error) {
	if e.tok.Value() == "" || e.tok.Expiry.Add(-e.early).Before(e.clk.Now()) {
		tok, err := e.src.Token(ctx)
		if err != nil {
			return nil, err
		}
		e.tok = tok
	}
	return map[string]string{headerKey: headerPrefix + e.tok.Value()}, nil
}

// passThrough asks its source on every call, as a worker calling MSAL's
// AcquireTokenByCredential per RPC does.
type passThrough struct{ src headers.TokenSource }

func (p passThrough) GetHeaders(ctx context.Context) (map[string]string, error) {
	tok, err := p.src.Token(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]string{headerKey: headerPrefix + tok.Value()}, nil
}

// A simCache is a cache under simulation.
type simCache struct {
	hp headersProvider
	// settle is called after each GetHeaders. It waits for a refresh the
	// call started in the background, so that the clock does not move on
	// while it runs.
	settle  func(tb testing.TB)
	release func()
	msal    *msalModel // when MSAL sits between the cache and the IdP
}

// A simSetup names one configuration of the simulation. ours, ours+msal
// and samples run the real cache on the simulated clock; msal, oauth2 and
// gauth model the peer's refresh rule (their clocks cannot be injected).
type simSetup struct {
	name  string
	build func(tb testing.TB, clk *clocktest.Clock, idp *tokenSource) simCache
}

// oursSim drives headers.Provider with default options over src.
func oursSim(tb testing.TB, clk *clocktest.Clock, src headers.TokenSource) simCache {
	refreshed := make(chan headers.RefreshEvent, 8)
	p := headers.New(src, headers.Options{
		Clock:     clk,
		Logger:    discardLogger,
		OnRefresh: func(ev headers.RefreshEvent) { refreshed <- ev },
	})
	var seen int64 // refresh events received
	settle := func(tb testing.TB) {
		tb.Helper()
		// Wait until no refresh runs and every one that ran has reported.
		for {
			s := p.Stats()
			if !s.Refreshing && seen == s.Refreshes+s.Failures {
				return
			}
			select {
			case ev := <-refreshed:
				seen++
				if ev.Err != nil {
					tb.Fatalf("refresh failed: %v", ev.Err)
				}
			case <-time.After(simTimeout):
				tb.Fatalf("a refresh did not end within %s", simTimeout)
			}
		}
	}
	release := func() {
		p.Close()
		if n := len(refreshed); n > 0 {
			tb.Errorf("%d refreshes the simulation did not expect", n)
		}
	}
	return simCache{hp: p, settle: settle, release: release}
}

func modelSim(early time.Duration) func(testing.TB, *clocktest.Clock, *tokenSource) simCache {
	return func(_ testing.TB, clk *clocktest.Clock, idp *tokenSource) simCache {
		return simCache{hp: &earlyRefetch{clk: clk, src: idp.headersSource(), early: early}}
	}
}

var simSetups = []simSetup{
	{name: "ours", build: func(tb testing.TB, clk *clocktest.Clock, idp *tokenSource) simCache {
		return oursSim(tb, clk, idp.headersSource())
	}},
	{name: "ours+msal", build: func(tb testing.TB, clk *clocktest.Clock, idp *tokenSource) simCache {
		m := &msalModel{clk: clk, idp: idp}
		sc := oursSim(tb, clk, m)
		sc.msal = m
		return sc
	}},
	{name: "msal", build: func(_ testing.TB, clk *clocktest.Clock, idp *tokenSource) simCache {
		m := &msalModel{clk: clk, idp: idp}
		return simCache{hp: passThrough{m}, msal: m}
	}},
	{name: "oauth2", build: modelSim(oauth2EarlyExpiry)},
	{name: "gauth", build: modelSim(gauthEarlyExpiry)},
	{name: "samples", build: func(_ testing.TB, clk *clocktest.Clock, idp *tokenSource) simCache {
		hp, release := buildSamples(idp, clk)
		return simCache{hp: hp, release: release}
	}},
}

// A simResult is what a simulated day cost the identity provider.
type simResult struct {
	idpCalls int64 // over the day, the first fetch included
	// idpPerHour is the steady rate: calls after the first, per hour
	// between the first and the last.
	idpPerHour float64
	// msalRequests counts calls into MSAL's cache, when it is in front.
	msalRequests int64
}

// simulate runs setup for simDuration on a manual clock, calling
// GetHeaders every simCallEvery.
func simulate(tb testing.TB, setup simSetup) simResult {
	tb.Helper()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktest.NewAt(start)
	idp := newTokenSource(clk.Now, idpLatency+azureTokenLife)
	sc := setup.build(tb, clk, idp)
	if sc.release != nil {
		defer sc.release()
	}
	ctx := context.Background()
	for elapsed := time.Duration(0); elapsed <= simDuration; elapsed += simCallEvery {
		if elapsed > 0 {
			clk.Advance(simCallEvery)
		}
		if _, err := sc.hp.GetHeaders(ctx); err != nil {
			tb.Fatalf("%s at %s: %v", setup.name, elapsed, err)
		}
		if sc.settle != nil {
			sc.settle(tb)
		}
	}
	r := simResult{idpCalls: idp.calls.Load()}
	if span := time.Unix(0, idp.lastCall.Load()).Sub(start); r.idpCalls > 1 && span > 0 {
		r.idpPerHour = float64(r.idpCalls-1) / span.Hours()
	}
	if sc.msal != nil {
		r.msalRequests = sc.msal.requestCount()
	}
	return r
}

// BenchmarkIdPCallsPerHour reports how often a worker's cache asks the
// identity provider for a 60-minute token (idp-calls/hour, steady state),
// over a simulated day with a GetHeaders call every second. ns/op is the
// cost of simulating the day and means nothing. Some setups run the real
// cache on the simulated clock, others model the peer's refresh rule; see
// simSetup.
func BenchmarkIdPCallsPerHour(b *testing.B) {
	for _, setup := range simSetups {
		b.Run("setup="+setup.name, func(b *testing.B) {
			var r simResult
			for b.Loop() {
				r = simulate(b, setup)
			}
			b.ReportMetric(r.idpPerHour, "idp-calls/hour")
			b.ReportMetric(float64(r.idpCalls), "idp-calls/day")
			if r.msalRequests > 0 {
				b.ReportMetric(float64(r.msalRequests), "msal-calls/day")
			}
		})
	}
}

// TestIdPCallsPerHourOurs pins the simulated figures for headers.Provider:
// with 60-minute tokens and the default leeway (5 minutes), one refresh per
// 55 to 56¼ minutes (the renewal is jittered over the last quarter of the
// leeway) plus the wait for the next call, whether the Provider asks the
// identity provider directly or through MSAL's cache, which it must not
// make refetch or spin.
func TestIdPCallsPerHourOurs(t *testing.T) {
	// Each token arrives idpLatency after its request and is renewed at
	// the first call between MaxDefaultLeeway and three quarters of it
	// before its expiry.
	cycle := func(leeway time.Duration) time.Duration {
		return (azureTokenLife + idpLatency - leeway).Truncate(simCallEvery) + simCallEvery
	}
	shortest, longest := cycle(headers.MaxDefaultLeeway), cycle(headers.MaxDefaultLeeway*3/4)
	most, least := int64(simDuration/shortest)+1, int64(simDuration/longest)+1
	for _, setup := range simSetups[:2] {
		t.Run(setup.name, func(t *testing.T) {
			r := simulate(t, setup)
			if r.idpCalls < least || r.idpCalls > most {
				t.Errorf("identity provider calls in %s = %d, want %d to %d (one per %s to %s)", simDuration, r.idpCalls, least, most, shortest, longest)
			}
			if setup.name == "ours+msal" && r.msalRequests != r.idpCalls {
				t.Errorf("calls into MSAL's cache = %d, want %d, one per identity-provider call: the Provider asked MSAL while MSAL still served its cached token", r.msalRequests, r.idpCalls)
			}
		})
	}
}
