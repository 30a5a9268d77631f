package static_test

import (
	"encoding/base64"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/headers"
)

// t0 is the fake clocks' start time.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeClock is a manual clock, safe for concurrent use. It implements
// headers.Clock: Advance runs the functions whose time has come.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clock   *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) headers.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// Advance moves the clock on by d and runs, synchronously, the functions
// due by then.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	kept := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			due = append(due, t.f)
		default:
			kept = append(kept, t)
		}
	}
	c.timers = kept
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

// b64 encodes s as a JWT segment.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// jwtWithClaims returns an unsigned-looking JWT carrying the given claims
// JSON. Its signature segment is not a real signature: nothing here verifies.
func jwtWithClaims(claims string) string {
	return b64(`{"alg":"RS256","kid":"test-key","typ":"JWT"}`) + "." + b64(claims) + ".c2lnbmF0dXJlLW5vdC1jaGVja2Vk"
}

// jwtExpiring returns a JWT whose exp is at.
func jwtExpiring(at time.Time) string {
	return jwtWithClaims(`{"sub":"worker","exp":` + strconv.FormatInt(at.Unix(), 10) + `}`)
}

// assertNoSecret fails when s contains secret or, for a JWT, any of its
// segments.
func assertNoSecret(t *testing.T, what, s, secret string) {
	t.Helper()
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return
	}
	if strings.Contains(s, secret) {
		t.Errorf("%s shows the secret: %q", what, s)
	}
	for _, seg := range strings.Split(secret, ".") {
		if len(seg) >= 8 && strings.Contains(s, seg) {
			t.Errorf("%s shows part of the secret: %q", what, s)
		}
	}
}
