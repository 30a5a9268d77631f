package headers_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/headers/clocktest"
)

type (
	Token        = headers.Token
	Options      = headers.Options
	Provider     = headers.Provider
	RefreshEvent = headers.RefreshEvent
)

var NewToken = headers.NewToken

// source is a counting TokenSource. Each call issues "token-N" that lives
// for lifetime on clock, unless fail, fixed or gate say otherwise.
type source struct {
	clock    *clocktest.Clock
	lifetime time.Duration
	calls    atomic.Int64
	gate     chan struct{} // when non-nil, each call waits for a receive
	entered  chan int64    // when non-nil, each call sends its number on entry
	mu       sync.Mutex
	err      error  // returned while set
	fixed    *Token // returned while set
}

func (s *source) Token(ctx context.Context) (Token, error) {
	n := s.calls.Add(1)
	if s.entered != nil {
		s.entered <- n
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return Token{}, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return Token{}, s.err
	}
	if s.fixed != nil {
		return *s.fixed, nil
	}
	return NewToken(fmt.Sprintf("token-%d", n), s.clock.Now().Add(s.lifetime)), nil
}

func (s *source) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// events collects RefreshEvents so a test can wait for background work.
type events chan RefreshEvent

func (e events) next(t *testing.T) RefreshEvent {
	t.Helper()
	select {
	case ev := <-e:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no refresh finished within 5s")
		return RefreshEvent{}
	}
}

func (e events) none(t *testing.T) {
	t.Helper()
	select {
	case ev := <-e:
		t.Fatalf("unexpected refresh: %+v", ev)
	case <-time.After(20 * time.Millisecond):
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newTestProvider(t *testing.T, src headers.TokenSource, c *clocktest.Clock, opts Options) (*Provider, events) {
	t.Helper()
	ev := make(events, 100)
	opts.Clock = c
	opts.OnRefresh = func(e RefreshEvent) { ev <- e }
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	p := headers.New(src, opts)
	t.Cleanup(func() { p.Close() })
	return p, ev
}

func mustHeader(t *testing.T, p *Provider) string {
	t.Helper()
	h, err := p.GetHeaders(context.Background())
	if err != nil {
		t.Fatalf("GetHeaders: %v", err)
	}
	return h["authorization"]
}

// getAsync calls GetHeaders in a goroutine; the channel yields its header
// or error.
func getAsync(p *Provider) <-chan string {
	out := make(chan string, 1)
	go func() {
		h, err := p.GetHeaders(context.Background())
		if err != nil {
			out <- "error: " + err.Error()
			return
		}
		out <- h["authorization"]
	}()
	return out
}

func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s within 5s", what)
		var zero T
		return zero
	}
}

func blocked[T any](t *testing.T, c <-chan T, what string) {
	t.Helper()
	select {
	case v := <-c:
		t.Fatalf("%s returned %v, want it to wait", what, v)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestFreshTokenIsCachedAndSharedWithoutAllocating(t *testing.T) {
	c := clocktest.New()
	src := &source{clock: c, lifetime: time.Hour}
	p, _ := newTestProvider(t, src, c, Options{})

	first, err := p.GetHeaders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := first["authorization"], "Bearer token-1"; got != want {
		t.Fatalf("header = %q, want %q", got, want)
	}
	c.Advance(50 * time.Minute) // still before the 5-minute leeway
	again, _ := p.GetHeaders(context.Background())
	if fmt.Sprintf("%p", again) != fmt.Sprintf("%p", first) {
		t.Error("a fresh token should be served from the same map")
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := p.GetHeaders(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("GetHeaders on a fresh token allocates %v times, want 0", allocs)
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("source called %d times, want 1", n)
	}
}

func TestLeewayWindowServesOldTokenWhileOneRefreshRuns(t *testing.T) {
	c := clocktest.New()
	src := &source{clock: c, lifetime: time.Hour}
	p, ev := newTestProvider(t, src, c, Options{})
	mustHeader(t, p)
	ev.next(t)

	src.gate = make(chan struct{}) // the refresh now blocks until released
	src.entered = make(chan int64, 10)
	c.Advance(56 * time.Minute) // inside the default 5-minute leeway

	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := mustHeader(t, p); got != "Bearer token-1" {
				t.Errorf("during refresh got %q, want the still-valid token-1", got)
			}
		}()
	}
	wg.Wait()
	// The refresh goroutine may not have reached the source yet when the
	// callers return: wait for it to, then count.
	if n := recv(t, src.entered, "background refresh"); n != 2 {
		t.Fatalf("background refresh is source call %d, want 2", n)
	}
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("source called %d times, want 2 (initial + one background refresh)", n)
	}
	src.gate <- struct{}{}
	if e := ev.next(t); !e.Background || e.Err != nil {
		t.Fatalf("refresh event = %+v, want a successful background refresh", e)
	}
	if got := mustHeader(t, p); got != "Bearer token-2" {
		t.Fatalf("after refresh got %q, want token-2", got)
	}
	ev.none(t)
	if len(src.entered) != 0 {
		t.Fatalf("source called %d more times", len(src.entered))
	}
}

func TestFailedBackgroundRefreshKeepsTokenAndBacksOff(t *testing.T) {
	c := clocktest.New()
	src := &source{clock: c, lifetime: time.Hour}
	p, ev := newTestProvider(t, src, c, Options{})
	mustHeader(t, p)
	ev.next(t)

	src.fail(errors.New("identity provider unavailable"))
	c.Advance(55*time.Minute + time.Second)
	want := headers.MinBackoff
	for i := range 5 {
		if got := mustHeader(t, p); got != "Bearer token-1" {
			t.Fatalf("attempt %d: got %q, want the still-valid token-1", i, got)
		}
		e := ev.next(t)
		if e.Err == nil || !e.Background {
			t.Fatalf("attempt %d: event %+v, want a failed background refresh", i, e)
		}
		lo, hi := want*3/4, want*5/4
		if e.RetryIn < lo || e.RetryIn > hi {
			t.Errorf("attempt %d: retry in %s, want within [%s, %s]", i, e.RetryIn, lo, hi)
		}
		// Calls before the retry time do not reach the source.
		calls := src.calls.Load()
		c.Advance(lo - time.Millisecond)
		mustHeader(t, p)
		ev.none(t)
		if src.calls.Load() != calls {
			t.Fatalf("attempt %d: source called during backoff", i)
		}
		c.Advance(hi - lo + 2*time.Millisecond)
		want = min(2*want, headers.MaxBackoff)
	}
	if s := p.Stats(); s.ConsecutiveFailures != 5 || s.Failures != 5 || s.Refreshes != 1 || !s.HasToken {
		t.Errorf("stats = %+v", s)
	}

	src.fail(nil)
	mustHeader(t, p)
	if e := ev.next(t); e.Err != nil {
		t.Fatalf("recovery failed: %v", e.Err)
	}
	if got := mustHeader(t, p); got != "Bearer token-7" {
		t.Fatalf("after recovery got %q, want token-7", got)
	}
	if s := p.Stats(); s.ConsecutiveFailures != 0 || s.LastError != nil {
		t.Errorf("stats after recovery = %+v", s)
	}
}

func TestBackoffIsCapped(t *testing.T) {
	for n := 1; n <= 10; n++ {
		if d := headers.Backoff(n, nil); d > headers.MaxBackoff*5/4 || d < headers.MinBackoff*3/4 {
			t.Errorf("backoff(%d) = %s, out of range", n, d)
		}
	}
}

// The last try of a failing source is made in the background while the
// token is still valid, not at expiry with every caller waiting; after it,
// callers fail fast until the next attempt.
func TestLastTryIsBeforeExpiryNotAtIt(t *testing.T) {
	c := clocktest.New()
	src := &source{clock: c, lifetime: 10 * time.Minute}
	p, ev := newTestProvider(t, src, c, Options{})
	mustHeader(t, p)
	ev.next(t)
	src.fail(headers.WithRetryAfter(errors.New("down"), time.Minute))
	c.Advance(9*time.Minute + 50*time.Second) // 10 s left; the backoff would end after expiry
	mustHeader(t, p)
	e := ev.next(t)
	if e.RetryIn <= 0 || e.RetryIn >= 10*time.Second {
		t.Fatalf("retry in %s, want before the expiry 10s away", e.RetryIn)
	}
	c.Advance(e.RetryIn)
	if got := mustHeader(t, p); got != "Bearer token-1" {
		t.Fatalf("at the last try got %q, want the still-valid token-1", got)
	}
	if e := ev.next(t); !e.Background || e.Err == nil {
		t.Fatalf("last try = %+v, want a failed background refresh", e)
	}
	c.Advance(10 * time.Second) // past expiry, inside the backoff
	calls := src.calls.Load()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := p.GetHeaders(ctx); err == nil || !strings.Contains(err.Error(), "next attempt in") {
		t.Fatalf("after expiry got %v, want a fast error naming the next attempt", err)
	}
	if src.calls.Load() != calls {
		t.Error("source called after expiry inside the backoff")
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	c := clocktest.New()
	src := &source{clock: c, lifetime: time.Hour}
	p, ev := newTestProvider(t, src, c, Options{})
	mustHeader(t, p)
	ev.next(t)
	src.fail(headers.WithRetryAfter(errors.New("throttled"), 2*time.Minute))
	c.Advance(56 * time.Minute)
	mustHeader(t, p)
	e := ev.next(t)
	if e.RetryIn != 2*time.Minute {
		t.Errorf("retry in %s, want the 2m the source asked for", e.RetryIn)
	}
	if d, ok := headers.RetryAfter(fmt.Errorf("wrapped: %w", e.Err)); !ok || d != 2*time.Minute {
		t.Errorf("RetryAfter of wrapped error = %s, %v", d, ok)
	}
	if _, ok := headers.RetryAfter(errors.New("plain")); ok {
		t.Error("RetryAfter found a wait in a plain error")
	}
	if headers.WithRetryAfter(nil, time.Second) != nil {
		t.Error("WithRetryAfter(nil) should be nil")
	}
}

func TestWithoutTokenCallersShareOneRefreshAndMayLeaveEarly(t *testing.T) {
	c := clocktest.New()
	src := &source{clock: c, lifetime: time.Hour, gate: make(chan struct{}), entered: make(chan int64, 10)}
	p, ev := newTestProvider(t, src, c, Options{})

	// One caller gives up; its cancellation must not cancel the refresh.
	ctx, cancel := context.WithCancel(context.Background())
	quitter := make(chan error)
	go func() {
		_, err := p.GetHeaders(ctx)
		quitter <- err
	}()

	var wg sync.WaitGroup
	results := make(chan string, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := p.GetHeaders(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			results <- h["authorization"]
		}()
	}
	recv(t, src.entered, "source call")
	cancel()
	if err := <-quitter; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled caller got %v, want context.Canceled", err)
	}
	src.gate <- struct{}{}
	wg.Wait()
	close(results)
	for got := range results {
		if got != "Bearer token-1" {
			t.Errorf("got %q, want token-1", got)
		}
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("source called %d times, want 1", n)
	}
	if e := ev.next(t); e.Background {
		t.Error("first fetch reported as background")
	}
}

func TestExpiredTokenIsNeverServed(t *testing.T) {
	c := clocktest.New()
	src := &source{clock: c, lifetime: time.Minute}
	p, ev := newTestProvider(t, src, c, Options{})
	mustHeader(t, p)
	ev.next(t)
	src.fail(errors.New("outage"))
	c.Advance(time.Minute) // exactly at expiry: no longer valid; the background tries failed
	for len(ev) > 0 {
		<-ev
	}

	calls := src.calls.Load()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := p.GetHeaders(ctx)
	if err == nil || !strings.Contains(err.Error(), "outage") {
		t.Fatalf("got %v, want the source's error", err)
	}
	if s := p.Stats(); s.HasToken {
		t.Error("Stats reports an expired token as valid")
	}

	// The source recovers: the first call after one backoff step succeeds.
	src.fail(nil)
	c.Advance(headers.MaxBackoff * 5 / 4)
	if got := mustHeader(t, p); !strings.HasPrefix(got, "Bearer token-") || src.calls.Load() == calls {
		t.Fatalf("after recovery got %q", got)
	}
}

func TestSourceReturningBadTokenIsAnError(t *testing.T) {
	c := clocktest.New()
	for name, tok := range map[string]Token{
		"expired":           NewToken("old", c.Now().Add(-time.Second)),
		"empty":             NewToken("", c.Now().Add(time.Hour)),
		"line break":        NewToken("eyJhbGciOiJFUzI1NiJ9.c2VjcmV0\n", c.Now().Add(time.Hour)),
		"control character": NewToken("eyJhbGciOiJFUzI1NiJ9\x00c2VjcmV0", c.Now().Add(time.Hour)),
		"non-ASCII byte":    NewToken("eyJhbGciOiJFUzI1NiJ9.c2VjcmV0é", c.Now().Add(time.Hour)),
	} {
		t.Run(name, func(t *testing.T) {
			src := &source{clock: c, fixed: &tok}
			p, _ := newTestProvider(t, src, c, Options{Name: "test-source"})
			_, err := p.GetHeaders(context.Background())
			if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "test-source") {
				t.Fatalf("got %v, want an error naming the source and the %s token", err, name)
			}
			if strings.Contains(err.Error(), "c2VjcmV0") {
				t.Fatalf("error shows the token: %v", err)
			}
			for range 100 {
				p.GetHeaders(context.Background())
			}
			if n := src.calls.Load(); n != 1 {
				t.Errorf("source called %d times, want 1: a bad token must not loop", n)
			}
		})
	}
}

func TestDefaultLeewayAdaptsToLifetime(t *testing.T) {
	for _, tc := range []struct {
		lifetime, leeway, wantRefreshAfter time.Duration
	}{
		{time.Hour, 0, 55 * time.Minute},                // capped at 5 minutes
		{8 * time.Minute, 0, 6 * time.Minute},           // a quarter of the lifetime
		{20 * time.Second, 0, 15 * time.Second},         // short tokens too
		{time.Hour, 10 * time.Minute, 50 * time.Minute}, // explicit leeway
		{4 * time.Minute, 10 * time.Minute, 2 * time.Minute},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.lifetime, tc.leeway), func(t *testing.T) {
			c := clocktest.New()
			src := &source{clock: c, lifetime: tc.lifetime}
			p, ev := newTestProvider(t, src, c, Options{Leeway: tc.leeway})
			mustHeader(t, p)
			ev.next(t)
			c.Advance(tc.wantRefreshAfter - time.Millisecond)
			mustHeader(t, p)
			ev.none(t)
			c.Advance(time.Millisecond)
			mustHeader(t, p)
			if e := ev.next(t); !e.Background {
				t.Errorf("refresh at %s was not a background refresh", tc.wantRefreshAfter)
			}
		})
	}
}

func TestSourceReturningSameTokenDoesNotSpin(t *testing.T) {
	// A source with a cache of its own (MSAL) hands back the same token
	// until it is 5 minutes from expiry, even when asked earlier.
	c := clocktest.New()
	tok := NewToken("same", c.Now().Add(8*time.Minute))
	src := &source{clock: c, fixed: &tok}
	p, ev := newTestProvider(t, src, c, Options{Leeway: 10 * time.Minute})
	for c.Now().Before(tok.Expiry.Add(-time.Second)) {
		for range 1000 {
			mustHeader(t, p)
		}
		select {
		case <-ev:
		case <-time.After(time.Millisecond):
		}
		c.Advance(time.Second)
	}
	// Halving the time left each refresh: about log2(8 min / 1 s) calls.
	if n := src.calls.Load(); n > 12 {
		t.Errorf("source called %d times in the token's 8 minutes, want at most 12", n)
	}
}

func TestRefreshAtHintFetchesEarly(t *testing.T) {
	c := clocktest.New()
	var calls atomic.Int64
	src := headers.TokenSourceFunc(func(context.Context) (Token, error) {
		n := calls.Add(1)
		tok := NewToken(fmt.Sprint("file-", n), time.Time{})
		tok.RefreshAt = c.Now().Add(time.Minute)
		return tok, nil
	})
	p, ev := newTestProvider(t, src, c, Options{})
	if got := mustHeader(t, p); got != "Bearer file-1" {
		t.Fatal(got)
	}
	ev.next(t)
	c.Advance(time.Minute)
	mustHeader(t, p) // the never-expiring token is served while it is re-read
	ev.next(t)
	if got := mustHeader(t, p); got != "Bearer file-2" {
		t.Fatalf("got %q, want file-2 after the hinted refresh", got)
	}
}

func TestInvalidateFetchesAtOnce(t *testing.T) {
	c := clocktest.New()
	src := &source{clock: c, lifetime: time.Hour}
	p, ev := newTestProvider(t, src, c, Options{})
	mustHeader(t, p)
	ev.next(t)
	p.Invalidate()
	if got := mustHeader(t, p); got != "Bearer token-2" {
		t.Fatalf("after Invalidate got %q, want token-2", got)
	}

	// Invalidate also clears a backoff.
	src.fail(errors.New("down"))
	p.Invalidate()
	if _, err := p.GetHeaders(context.Background()); err == nil {
		t.Fatal("want error while the source is down")
	}
	src.fail(nil)
	p.Invalidate()
	if got := mustHeader(t, p); got != "Bearer token-4" {
		t.Fatalf("got %q, want token-4", got)
	}
}

// An Invalidate while a failing refresh runs must not leave that failure's
// backoff in force: the source is asked again at once, and its answer is
// what callers get.
func TestInvalidateDuringFailingRefreshAsksAgain(t *testing.T) {
	c := clocktest.New()
	src := &source{clock: c, lifetime: time.Hour}
	p, ev := newTestProvider(t, src, c, Options{})
	mustHeader(t, p)
	ev.next(t)

	src.fail(errors.New("down"))
	src.gate = make(chan struct{})
	src.entered = make(chan int64, 10)
	p.Invalidate()
	got := getAsync(p)
	recv(t, src.entered, "refresh")
	p.Invalidate()         // while the call that will fail runs
	src.gate <- struct{}{} // it fails
	recv(t, src.entered, "second call after the Invalidate")
	blocked(t, got, "GetHeaders")
	src.fail(nil)
	src.gate <- struct{}{}
	if h := recv(t, got, "header"); h != "Bearer token-3" {
		t.Fatalf("got %q, want token-3 from the call made after the Invalidate", h)
	}
	if e := ev.next(t); e.Err != nil {
		t.Fatalf("event %+v, want the second call's success", e)
	}
}

func TestHeaderAndSchemeOptions(t *testing.T) {
	c := clocktest.New()
	p, _ := newTestProvider(t, &source{clock: c, lifetime: time.Hour}, c,
		Options{Header: "X-Temporal-Auth", Scheme: "Token"})
	h, err := p.GetHeaders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := h["x-temporal-auth"]; got != "Token token-1" || len(h) != 1 {
		t.Errorf("headers = %v, want only x-temporal-auth: Token token-1", h)
	}
	tok, err := p.Token(context.Background())
	if err != nil || tok.Value() != "token-1" {
		t.Errorf("Token() = %v, %v", tok, err)
	}
}

func TestInvalidOptionsAreReportedByEveryCall(t *testing.T) {
	for _, tc := range []struct {
		opts  Options
		field string
	}{
		{Options{Header: "x auth"}, "headers.Options.Header"},
		{Options{Header: "authorization\n"}, "headers.Options.Header"},
		{Options{Header: "grpc-auth"}, "headers.Options.Header"},
		{Options{Header: "Content-Type"}, "headers.Options.Header"},
		{Options{Header: "x-auth:"}, "headers.Options.Header"},
		{Options{Scheme: "Bear er"}, "headers.Options.Scheme"},
		{Options{Scheme: "Bearer\r\n"}, "headers.Options.Scheme"},
		{Options{Header: "authorization-bin"}, "headers.Options.Header"},
		{Options{WallClockCheck: 1}, "headers.Options.WallClockCheck"},
		{Options{WallClockCheck: headers.MinWallClockCheck - 1}, "headers.Options.WallClockCheck"},
	} {
		t.Run(fmt.Sprint(tc.opts.Header, tc.opts.Scheme, tc.opts.WallClockCheck), func(t *testing.T) {
			if err := tc.opts.Validate(); err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("Validate() = %v, want an error naming %s", err, tc.field)
			}
			c := clocktest.New()
			src := &source{clock: c, lifetime: time.Hour}
			p, _ := newTestProvider(t, src, c, tc.opts)
			for range 2 {
				_, err := p.GetHeaders(context.Background())
				if err == nil || !strings.Contains(err.Error(), tc.field) {
					t.Fatalf("GetHeaders: %v, want an error naming %s", err, tc.field)
				}
			}
			if n := src.calls.Load(); n != 0 {
				t.Errorf("source called %d times with invalid options", n)
			}
		})
	}
	for _, ok := range []Options{{}, {Header: "X-Temporal_Auth.v2", Scheme: "Token"},
		{WallClockCheck: headers.MinWallClockCheck}, {WallClockCheck: -1}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", ok, err)
		}
	}
}

func TestCloseCancelsRefreshAndStopsProvider(t *testing.T) {
	c := clocktest.New()
	src := &source{clock: c, lifetime: time.Hour, gate: make(chan struct{}), entered: make(chan int64, 1)}
	p := headers.New(src, Options{Clock: c, Logger: quietLogger()})
	errc := make(chan error)
	go func() {
		_, err := p.GetHeaders(context.Background())
		errc <- err
	}()
	recv(t, src.entered, "source call")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Error("waiting caller got no error when the provider closed")
	}
	if _, err := p.GetHeaders(context.Background()); !errors.Is(err, headers.ErrClosed) {
		t.Errorf("after Close got %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if n := c.Pending(); n != 0 {
		t.Errorf("%d timers pending after Close", n)
	}
}

// stubborn is a source whose call ignores its context until released.
type stubborn struct {
	entered, release chan struct{}
	closed           atomic.Int32
}

func (s *stubborn) Token(context.Context) (Token, error) {
	s.entered <- struct{}{}
	<-s.release
	return NewToken("late", time.Time{}), nil
}

func (s *stubborn) Close() error { s.closed.Add(1); return nil }

func TestCloseIsBoundedWhenSourceIgnoresCancellation(t *testing.T) {
	defer headers.SetCloseTimeout(50 * time.Millisecond)()
	src := &stubborn{entered: make(chan struct{}, 1), release: make(chan struct{})}
	p := headers.New(src, Options{Clock: clocktest.New(), Logger: quietLogger()})
	got := getAsync(p)
	recv(t, src.entered, "source call")

	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	err := recv(t, closed, "Close to return")
	if err == nil || !strings.Contains(err.Error(), "ignored cancellation") {
		t.Fatalf("Close = %v, want an error saying the source ignored cancellation", err)
	}
	if h := recv(t, got, "waiting caller"); !strings.HasPrefix(h, "error:") {
		t.Errorf("waiting caller got %q, want an error", h)
	}
	if n := src.closed.Load(); n != 0 {
		t.Fatal("source closed while its call was still running")
	}
	close(src.release)
	deadline := time.Now().Add(5 * time.Second)
	for src.closed.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := src.closed.Load(); n != 1 {
		t.Errorf("source closed %d times after its call returned, want 1", n)
	}
	if _, err := p.GetHeaders(context.Background()); !errors.Is(err, headers.ErrClosed) {
		t.Errorf("after Close got %v, want ErrClosed: the late token must not be installed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCloseFromOnRefresh(t *testing.T) {
	c := clocktest.New()
	src := &closingSource{source: source{clock: c, lifetime: time.Hour}}
	var p *Provider
	closed := make(chan error, 1)
	p = headers.New(src, Options{Clock: c, Logger: quietLogger(), OnRefresh: func(RefreshEvent) {
		closed <- p.Close()
	}})
	got := getAsync(p)
	if err := recv(t, closed, "Close from OnRefresh"); err != nil {
		t.Fatalf("Close from OnRefresh: %v", err)
	}
	// The caller that started the refresh returns: with the token, or
	// with ErrClosed if it saw the Close first.
	if h := recv(t, got, "GetHeaders"); h != "Bearer token-1" && !strings.Contains(h, headers.ErrClosed.Error()) {
		t.Errorf("got %q, want token-1 or ErrClosed", h)
	}
	if n := src.closed.Load(); n != 1 {
		t.Errorf("source closed %d times, want 1", n)
	}
}

func TestPanickingSourceBecomesAnError(t *testing.T) {
	c := clocktest.New()
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var panics atomic.Bool
	panics.Store(true)
	src := headers.TokenSourceFunc(func(context.Context) (Token, error) {
		if panics.Load() {
			panic("source bug")
		}
		return NewToken("ok", c.Now().Add(time.Hour)), nil
	})
	p, ev := newTestProvider(t, src, c, Options{Logger: log})
	_, err := p.GetHeaders(context.Background())
	if err == nil || !strings.Contains(err.Error(), "panicked: source bug") {
		t.Fatalf("got %v, want the panic as an error", err)
	}
	if e := ev.next(t); e.Err == nil {
		t.Errorf("event %+v, want a failure", e)
	}
	if out := buf.String(); !strings.Contains(out, "token source panicked") || !strings.Contains(out, "provider_test.go") {
		t.Errorf("log lacks the panic and its stack:\n%s", out)
	}
	panics.Store(false)
	c.Advance(headers.MinBackoff * 5 / 4)
	if got := mustHeader(t, p); got != "Bearer ok" {
		t.Errorf("after the panic got %q", got)
	}
}

func TestPanickingOnRefreshIsRecovered(t *testing.T) {
	c := clocktest.New()
	src := &source{clock: c, lifetime: time.Hour}
	p := headers.New(src, Options{Clock: c, Logger: quietLogger(), OnRefresh: func(RefreshEvent) { panic("metrics bug") }})
	defer p.Close()
	if got := mustHeader(t, p); got != "Bearer token-1" {
		t.Errorf("got %q", got)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestSecretsStayOutOfLogsErrorsAndFormatting(t *testing.T) {
	const secret = "eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"
	c := clocktest.New()
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var fail atomic.Bool
	src := headers.TokenSourceFunc(func(context.Context) (Token, error) {
		if fail.Load() {
			return Token{}, errors.New("identity provider said no")
		}
		return NewToken(secret, c.Now().Add(time.Minute)), nil
	})
	p, ev := newTestProvider(t, src, c, Options{Logger: log})
	tok, err := p.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ev.next(t)
	fail.Store(true)
	c.Advance(50 * time.Second)
	mustHeader(t, p)
	ev.next(t)
	c.Advance(time.Minute)
	_, err = p.GetHeaders(context.Background())
	log.Info("token", "token", tok)

	var out strings.Builder
	out.WriteString(buf.String())
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%t", "%x", "%X", "%08.3f", "%T %p %U %c %e %b %o"} {
		fmt.Fprintf(&out, verb+"\n", tok)
		fmt.Fprintf(&out, verb+"\n", &tok)
		fmt.Fprintf(&out, verb+"\n", []Token{tok})
		fmt.Fprintf(&out, verb+"\n", map[string]Token{"k": tok})
		fmt.Fprintf(&out, verb+"\n", struct{ T Token }{tok})
		fmt.Fprintf(&out, verb+"\n", struct{ T *Token }{&tok})
		fmt.Fprintf(&out, verb+"\n", []any{tok})
	}
	fmt.Fprintln(&out, tok)
	fmt.Fprintf(&out, "%v %+v %#v %s\n", p, p, p, p)
	fmt.Fprintf(&out, "%v %+v\n", p.Stats(), err)
	if strings.Contains(out.String(), secret) || strings.Contains(out.String(), "c2VjcmV0") ||
		strings.Contains(out.String(), fmt.Sprintf("%x", secret[:8])) {
		t.Fatalf("token leaked:\n%s", out.String())
	}
	for _, want := range []string{"token refresh failed", headers.Redacted, "identity provider said no"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if got, want := fmt.Sprintf("%#v", tok), "headers.Token{Value: REDACTED, Expiry: "; !strings.HasPrefix(got, want) {
		t.Errorf("%%#v = %s, want %s...", got, want)
	}
}

type closingSource struct {
	source
	closed atomic.Int32
}

func (s *closingSource) Close() error { s.closed.Add(1); return nil }

func TestCloseClosesSourceOnce(t *testing.T) {
	c := clocktest.New()
	src := &closingSource{source: source{clock: c, lifetime: time.Hour}}
	p := headers.New(src, Options{Clock: c, Logger: quietLogger()})
	mustHeader(t, p)
	p.Close()
	p.Close()
	if n := src.closed.Load(); n != 1 {
		t.Errorf("source closed %d times, want 1", n)
	}
}

// A RefreshAt already past when the token arrives asks for a refresh as
// soon as allowed, MinBackoff later (the token is served meanwhile),
// rather than being ignored.
func TestRefreshAtInThePastRefreshesNow(t *testing.T) {
	c := clocktest.New()
	var calls atomic.Int64
	src := headers.TokenSourceFunc(func(context.Context) (Token, error) {
		n := calls.Add(1)
		tok := NewToken(fmt.Sprint("file-", n), c.Now().Add(time.Hour))
		if n == 1 {
			tok.RefreshAt = c.Now().Add(-time.Second)
		}
		return tok, nil
	})
	p, ev := newTestProvider(t, src, c, Options{})
	if got := mustHeader(t, p); got != "Bearer file-1" {
		t.Fatal(got)
	}
	ev.next(t)
	c.Advance(headers.MinBackoff - time.Millisecond)
	mustHeader(t, p)
	ev.none(t)
	c.Advance(time.Millisecond)
	if got := mustHeader(t, p); got != "Bearer file-1" { // served while the refresh runs
		t.Fatal(got)
	}
	ev.next(t)
	if got := mustHeader(t, p); got != "Bearer file-2" {
		t.Fatalf("got %q, want file-2: a past RefreshAt means refresh now", got)
	}
}

// A source whose every token carries a past RefreshAt is asked once per
// MinBackoff, not on every call.
func TestPastRefreshAtDoesNotSpin(t *testing.T) {
	c := clocktest.New()
	var calls atomic.Int64
	src := headers.TokenSourceFunc(func(context.Context) (Token, error) {
		tok := NewToken(fmt.Sprint("file-", calls.Add(1)), time.Time{})
		tok.RefreshAt = c.Now().Add(-time.Minute)
		return tok, nil
	})
	p, ev := newTestProvider(t, src, c, Options{})
	mustHeader(t, p)
	ev.next(t)
	for range 100 {
		mustHeader(t, p)
	}
	ev.none(t)
	if n := calls.Load(); n != 1 {
		t.Errorf("%d source calls without the clock moving, want 1", n)
	}
}

// A source returning the credential with its scheme would send
// "Bearer Bearer x": such a token is refused with an error naming the
// mistake, never the token.
func TestTokenWithSchemeIsRefused(t *testing.T) {
	for _, v := range []string{"Bearer secret-x", "bearer secret-x"} {
		c := clocktest.New()
		src := headers.TokenSourceFunc(func(context.Context) (Token, error) {
			return NewToken(v, c.Now().Add(time.Hour)), nil
		})
		p, _ := newTestProvider(t, src, c, Options{})
		_, err := p.GetHeaders(context.Background())
		if err == nil || !strings.Contains(err.Error(), "begins with the scheme") || strings.Contains(err.Error(), "secret-x") {
			t.Errorf("GetHeaders with token %q: %v, want an error about the scheme without the token", v, err)
		}
	}
}

// A call RetryUnauthorized holds while it waits for a new token returns
// once the Provider closes, even when the source ignores its context.
func TestRetryWaitEndsWithClose(t *testing.T) {
	defer headers.SetCloseTimeout(50 * time.Millisecond)()
	c := clocktest.New()
	var n atomic.Int64
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{}, 1)
	src := headers.TokenSourceFunc(func(context.Context) (Token, error) {
		if n.Add(1) == 1 {
			return NewToken("first", c.Now().Add(time.Hour)), nil
		}
		entered <- struct{}{}
		<-release // ignores its context
		return NewToken("late", c.Now().Add(time.Hour)), nil
	})
	p, _ := newTestProvider(t, src, c, Options{})
	h := mustHeader(t, p)
	c.Advance(time.Minute) // old enough for a rejection to ask for a new token
	srv := &server{script: []error{unauthorized}}
	done := make(chan error, 1)
	go func() { done <- call(p, srv, h) }()
	recv(t, entered, "source call")
	p.Close()
	if err := recv(t, done, "the call to return after Close"); !errors.Is(err, unauthorized) {
		t.Errorf("call returned %v, want the server's refusal", err)
	}
}

// hangingCloser is a source whose Close does not return until released.
type hangingCloser struct {
	source
	release chan struct{}
}

func (s *hangingCloser) Close() error { <-s.release; return nil }

// Close names the source's Close, not a call to the source, when that is
// what hangs.
func TestCloseBlamesHangingCloser(t *testing.T) {
	defer headers.SetCloseTimeout(50 * time.Millisecond)()
	c := clocktest.New()
	src := &hangingCloser{source: source{clock: c, lifetime: time.Hour}, release: make(chan struct{})}
	defer close(src.release)
	var logs syncBuffer
	p := headers.New(src, Options{Clock: c, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	mustHeader(t, p)
	err := p.Close()
	if err == nil || !strings.Contains(err.Error(), "source's Close has not returned") || strings.Contains(err.Error(), "ignored cancellation") {
		t.Errorf("Close = %v, want an error naming the source's Close", err)
	}
	if strings.Contains(logs.String(), "ignored cancellation") {
		t.Errorf("log blames a call to the source:\n%s", logs.String())
	}
}
