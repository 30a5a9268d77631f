package headers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/headers/clocktest"
)

// Token expiry is wall time; the Provider's timers follow a clock that
// stands still during a suspend. clocktest's Jump moves the wall time
// alone (a suspend of that long, or an NTP step), Tick the timer time
// alone (running time while the wall clock is stepped back).

// everyCall reads the wall clock on every call.
var everyCall = Options{WallClockCheck: -1}

func TestJumpPastExpiryFetchesAtTheNextCall(t *testing.T) {
	c := clocktest.New()
	src := &source{clock: c, lifetime: time.Hour}
	p, ev := newTestProvider(t, src, c, everyCall)
	if got := mustHeader(t, p); got != "Bearer token-1" {
		t.Fatal(got)
	}
	ev.next(t)

	src.gate = make(chan struct{})
	c.Jump(2 * time.Hour) // the laptop slept; token-1 expired an hour ago
	got := getAsync(p)
	blocked(t, got, "GetHeaders after the jump") // it waits for a new token
	src.gate <- struct{}{}
	if h := recv(t, got, "header"); h != "Bearer token-2" {
		t.Fatalf("after the jump got %q, want token-2", h)
	}
	if e := ev.next(t); e.Background {
		t.Error("the fetch after the jump was a background refresh; the token had expired")
	}
}

func TestJumpPastExpiryIsNoticedWithinTheWallClockCheck(t *testing.T) {
	c := clocktest.New()
	src := &source{clock: c, lifetime: time.Hour}
	p, ev := newTestProvider(t, src, c, Options{}) // default: timers, re-checking the wall clock
	mustHeader(t, p)
	ev.next(t)

	c.Jump(2 * time.Hour)
	// The bound Options.WallClockCheck documents: until the timer time
	// moves, the hot path has not read the clock.
	c.Tick(headers.DefaultWallClockCheck)
	if h := mustHeader(t, p); h != "Bearer token-2" {
		t.Fatalf("%s of running time after the jump got %q, want token-2", headers.DefaultWallClockCheck, h)
	}
	if e := ev.next(t); e.Background {
		t.Error("the fetch after the jump was a background refresh; the token had expired")
	}
	if s := p.Stats(); s.TimeLeft != time.Hour {
		t.Errorf("stats %+v, want token-2 with an hour left", s)
	}
}

func TestJumpIntoLeewayStartsBackgroundRefresh(t *testing.T) {
	for name, tc := range map[string]struct {
		opts Options
		tick time.Duration
	}{
		"every call": {everyCall, 0},
		"default":    {Options{}, headers.DefaultWallClockCheck},
	} {
		t.Run(name, func(t *testing.T) {
			c := clocktest.New()
			src := &source{clock: c, lifetime: time.Hour}
			p, ev := newTestProvider(t, src, c, tc.opts)
			mustHeader(t, p)
			ev.next(t)

			c.Jump(57 * time.Minute) // into the 5-minute leeway, token still valid
			c.Tick(tc.tick)
			if h := mustHeader(t, p); h != "Bearer token-1" {
				t.Fatalf("first call after the jump got %q, want the still-valid token-1", h)
			}
			if e := ev.next(t); !e.Background || e.Err != nil {
				t.Fatalf("event %+v, want a background refresh started by the first call", e)
			}
			if h := mustHeader(t, p); h != "Bearer token-2" {
				t.Fatalf("got %q, want token-2", h)
			}
		})
	}
}

// Timer time passing while the wall clock was stepped back must not make
// the Provider refresh early.
func TestTimersAheadOfWallClockDoNotRefreshEarly(t *testing.T) {
	c := clocktest.New()
	src := &source{clock: c, lifetime: time.Hour}
	p, ev := newTestProvider(t, src, c, Options{})
	mustHeader(t, p)
	ev.next(t)
	c.Tick(3 * time.Hour) // wall time stands still
	mustHeader(t, p)
	ev.none(t)
	c.Jump(55 * time.Minute) // wall time reaches the refresh time
	c.Tick(headers.DefaultWallClockCheck)
	mustHeader(t, p)
	if e := ev.next(t); !e.Background {
		t.Fatalf("event %+v, want a background refresh", e)
	}
}

// A suspend the wall-clock check has not caught up with yet: the server
// rejects the expired token, and RetryUnauthorized, which reads the wall
// clock, retries with a new one.
func TestRejectedTokenThatExpiredDuringSuspendIsReplaced(t *testing.T) {
	c := clocktest.New()
	src := &source{clock: c, lifetime: time.Hour}
	p, _ := newTestProvider(t, src, c, Options{})
	h := mustHeader(t, p)
	c.Jump(2 * time.Hour)
	srv := &server{script: []error{status.Error(codes.Unauthenticated, "token expired")}}
	if err := call(p, srv, h); err != nil {
		t.Fatalf("call after the suspend: %v", err)
	}
	wantSent(t, srv, h, "Bearer token-2")
	if got := mustHeader(t, p); got != "Bearer token-2" {
		t.Errorf("served %q, want token-2", got)
	}
}

// Expiries carrying a monotonic reading (time.Now's, and MSAL's ExpiresOn)
// are compared as wall times: the Provider strips the reading.
func TestExpiryIsWallTime(t *testing.T) {
	src := headers.TokenSourceFunc(func(context.Context) (Token, error) {
		tok := NewToken("v", time.Now().Add(time.Hour))
		tok.RefreshAt = time.Now().Add(time.Minute)
		return tok, nil
	})
	p := headers.New(src, Options{Logger: quietLogger()})
	defer p.Close()
	tok, err := p.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range []time.Time{tok.Expiry, tok.RefreshAt, p.Stats().Expiry} {
		if strings.Contains(tm.String(), "m=") {
			t.Errorf("%v carries a monotonic reading", tm)
		}
	}
	// A token whose wall expiry has passed is refused, whatever its
	// monotonic reading says.
	c := clocktest.NewAt(time.Now().Add(2 * time.Hour))
	p2, _ := newTestProvider(t, src, c, Options{Name: "msal"})
	if _, err := p2.GetHeaders(context.Background()); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("got %v, want the token refused as expired", err)
	}
}
