package headers

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
)

// clock is a manual Clock for tests: time moves only by Advance, which
// runs the timers that fall due.
type clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped atomic.Bool
}

func (t *fakeTimer) Stop() bool { return !t.stopped.Swap(true) }

func newClock() *clock { return &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	pending := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			pending = append(pending, t)
		} else {
			due = append(due, t)
		}
	}
	c.timers = pending
	c.mu.Unlock()
	for _, t := range due {
		if !t.stopped.Swap(true) {
			t.f() // synchronously, so the test sees its effect at once
		}
	}
}

// source is a counting TokenSource. Each call issues "token-N" that lives
// for lifetime, unless fail or gate say otherwise.
type source struct {
	clock    *clock
	lifetime time.Duration
	calls    atomic.Int64
	gate     chan struct{} // when non-nil, each call waits for a receive
	mu       sync.Mutex
	err      error  // returned while set
	fixed    *Token // returned while set
}

func (s *source) Token(ctx context.Context) (Token, error) {
	n := s.calls.Add(1)
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
	return Token{Value: fmt.Sprintf("token-%d", n), Expiry: s.clock.Now().Add(s.lifetime)}, nil
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

func newTestProvider(t *testing.T, src TokenSource, c *clock, opts Options) (*Provider, events) {
	t.Helper()
	ev := make(events, 100)
	opts.Clock = c
	opts.OnRefresh = func(e RefreshEvent) { ev <- e }
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	p := New(src, opts)
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

func TestFreshTokenIsCachedAndSharedWithoutAllocating(t *testing.T) {
	c := newClock()
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
	c := newClock()
	src := &source{clock: c, lifetime: time.Hour}
	p, ev := newTestProvider(t, src, c, Options{})
	mustHeader(t, p)
	ev.next(t)

	src.gate = make(chan struct{}) // the refresh now blocks until released
	c.Advance(56 * time.Minute)    // inside the default 5-minute leeway

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
}

func TestFailedBackgroundRefreshKeepsTokenAndBacksOff(t *testing.T) {
	c := newClock()
	src := &source{clock: c, lifetime: time.Hour}
	p, ev := newTestProvider(t, src, c, Options{})
	mustHeader(t, p)
	ev.next(t)

	src.fail(errors.New("identity provider unavailable"))
	c.Advance(55*time.Minute + time.Second)
	want := MinBackoff
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
		want = min(2*want, MaxBackoff)
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

func TestBackoffIsCappedAndRetriesAtExpiry(t *testing.T) {
	c := newClock()
	src := &source{clock: c, lifetime: 10 * time.Minute}
	p, ev := newTestProvider(t, src, c, Options{})
	mustHeader(t, p)
	ev.next(t)
	src.fail(errors.New("down"))
	c.Advance(9*time.Minute + 55*time.Second) // 5 s left
	mustHeader(t, p)
	if e := ev.next(t); e.RetryIn > 5*time.Second {
		t.Errorf("retry in %s, want no later than the expiry 5s away", e.RetryIn)
	}
	for n := 1; n <= 10; n++ {
		if d := backoff(n, nil); d > MaxBackoff*5/4 || d < MinBackoff*3/4 {
			t.Errorf("backoff(%d) = %s, out of range", n, d)
		}
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	c := newClock()
	src := &source{clock: c, lifetime: time.Hour}
	p, ev := newTestProvider(t, src, c, Options{})
	mustHeader(t, p)
	ev.next(t)
	src.fail(WithRetryAfter(errors.New("throttled"), 2*time.Minute))
	c.Advance(56 * time.Minute)
	mustHeader(t, p)
	e := ev.next(t)
	if e.RetryIn != 2*time.Minute {
		t.Errorf("retry in %s, want the 2m the source asked for", e.RetryIn)
	}
	if d, ok := RetryAfter(fmt.Errorf("wrapped: %w", e.Err)); !ok || d != 2*time.Minute {
		t.Errorf("RetryAfter of wrapped error = %s, %v", d, ok)
	}
	if _, ok := RetryAfter(errors.New("plain")); ok {
		t.Error("RetryAfter found a wait in a plain error")
	}
	if WithRetryAfter(nil, time.Second) != nil {
		t.Error("WithRetryAfter(nil) should be nil")
	}
}

func TestWithoutTokenCallersShareOneRefreshAndMayLeaveEarly(t *testing.T) {
	c := newClock()
	src := &source{clock: c, lifetime: time.Hour, gate: make(chan struct{})}
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
	for src.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
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
	c := newClock()
	src := &source{clock: c, lifetime: time.Minute}
	p, ev := newTestProvider(t, src, c, Options{})
	mustHeader(t, p)
	ev.next(t)
	src.fail(errors.New("outage"))
	c.Advance(time.Minute) // exactly at expiry: no longer valid

	_, err := p.GetHeaders(context.Background())
	if err == nil || !strings.Contains(err.Error(), "outage") {
		t.Fatalf("got %v, want the source's error", err)
	}
	// Within the backoff, callers fail fast with the last error: no hang,
	// no new call to the source.
	calls := src.calls.Load()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = p.GetHeaders(ctx)
	if err == nil || !strings.Contains(err.Error(), "next attempt in") {
		t.Fatalf("got %v, want a fast error naming the next attempt", err)
	}
	if src.calls.Load() != calls {
		t.Error("source called again inside the backoff")
	}
	if s := p.Stats(); s.HasToken {
		t.Error("Stats reports an expired token as valid")
	}

	// The source recovers: the first call after one backoff step succeeds.
	src.fail(nil)
	c.Advance(MaxBackoff)
	if got := mustHeader(t, p); !strings.HasPrefix(got, "Bearer token-") {
		t.Fatalf("after recovery got %q", got)
	}
}

func TestSourceReturningBadTokenIsAnError(t *testing.T) {
	c := newClock()
	for name, tok := range map[string]Token{
		"expired": {Value: "old", Expiry: c.Now().Add(-time.Second)},
		"empty":   {Value: "", Expiry: c.Now().Add(time.Hour)},
	} {
		t.Run(name, func(t *testing.T) {
			src := &source{clock: c, fixed: &tok}
			p, _ := newTestProvider(t, src, c, Options{Name: "test-source"})
			_, err := p.GetHeaders(context.Background())
			if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "test-source") {
				t.Fatalf("got %v, want an error naming the source and the %s token", err, name)
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
			c := newClock()
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
	c := newClock()
	tok := Token{Value: "same", Expiry: c.Now().Add(8 * time.Minute)}
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
	c := newClock()
	var calls atomic.Int64
	src := TokenSourceFunc(func(context.Context) (Token, error) {
		n := calls.Add(1)
		return Token{Value: fmt.Sprint("file-", n), RefreshAt: c.Now().Add(time.Minute)}, nil
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
	c := newClock()
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

func TestHeaderAndSchemeOptions(t *testing.T) {
	c := newClock()
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
	if err != nil || tok.Value != "token-1" {
		t.Errorf("Token() = %v, %v", tok, err)
	}
}

func TestCloseCancelsRefreshAndStopsProvider(t *testing.T) {
	c := newClock()
	src := &source{clock: c, lifetime: time.Hour, gate: make(chan struct{})}
	p := New(src, Options{Clock: c, Logger: quietLogger()})
	errc := make(chan error)
	go func() {
		_, err := p.GetHeaders(context.Background())
		errc <- err
	}()
	for src.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Error("waiting caller got no error when the provider closed")
	}
	if _, err := p.GetHeaders(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close got %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestSecretsStayOutOfLogsErrorsAndFormatting(t *testing.T) {
	const secret = "eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"
	c := newClock()
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var fail atomic.Bool
	src := TokenSourceFunc(func(context.Context) (Token, error) {
		if fail.Load() {
			return Token{}, errors.New("identity provider said no")
		}
		return Token{Value: secret, Expiry: c.Now().Add(time.Minute)}, nil
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
	fmt.Fprintf(&out, "%v %+v %#v %s\n", tok, tok, tok, tok)
	fmt.Fprintf(&out, "%v %+v %#v %s\n", p, p, p, p)
	fmt.Fprintf(&out, "%v %+v\n", p.Stats(), err)
	if strings.Contains(out.String(), secret) || strings.Contains(out.String(), "c2VjcmV0") {
		t.Fatalf("token leaked:\n%s", out.String())
	}
	for _, want := range []string{"token refresh failed", Redacted, "identity provider said no"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

type closingSource struct {
	source
	closed atomic.Int32
}

func (s *closingSource) Close() error { s.closed.Add(1); return nil }

func TestCloseClosesSourceOnce(t *testing.T) {
	c := newClock()
	src := &closingSource{source: source{clock: c, lifetime: time.Hour}}
	p := New(src, Options{Clock: c, Logger: quietLogger()})
	mustHeader(t, p)
	p.Close()
	p.Close()
	if n := src.closed.Load(); n != 1 {
		t.Errorf("source closed %d times, want 1", n)
	}
}
