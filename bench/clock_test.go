package bench

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/temporalauth/temporalauth/headers"
)

// A testClock is a headers.Clock that a benchmark can move forward. A wall
// test clock is the system clock plus an offset: it costs what time.Now
// costs, and its timers also fire as real time passes. A manual test clock
// stands still between Advance calls, for deterministic simulations.
type testClock struct {
	wall   bool
	start  time.Time // a manual clock's time at offset zero
	offset atomic.Int64

	mu     sync.Mutex
	timers []*clockTimer // pending; guarded by mu
}

// newWallClock returns a test clock that follows the system clock.
func newWallClock() *testClock { return &testClock{wall: true} }

// newManualClock returns a test clock that reads start until advanced.
func newManualClock(start time.Time) *testClock { return &testClock{start: start} }

// Now returns the clock's time.
func (c *testClock) Now() time.Time {
	base := c.start
	if c.wall {
		base = time.Now()
	}
	return base.Add(time.Duration(c.offset.Load()))
}

// AfterFunc calls f in its own goroutine once the clock has moved d ahead,
// by Advance or, on a wall clock, by real time passing.
func (c *testClock) AfterFunc(d time.Duration, f func()) headers.Timer {
	t := &clockTimer{at: c.Now().Add(d), f: f}
	if c.wall {
		t.real.Store(time.AfterFunc(d, func() { t.fire() }))
	}
	c.mu.Lock()
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	return t
}

// Advance moves the clock d ahead and runs the timers that became due,
// each in its own goroutine, returning once they have run. It returns how
// many ran.
func (c *testClock) Advance(d time.Duration) int {
	c.offset.Add(int64(d))
	now := c.Now()
	var due []*clockTimer
	c.mu.Lock()
	pending := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.done.Load():
		case !t.at.After(now):
			due = append(due, t)
		default:
			pending = append(pending, t)
		}
	}
	clear(c.timers[len(pending):])
	c.timers = pending
	c.mu.Unlock()

	fired := 0
	for _, t := range due {
		ran := make(chan bool)
		go func() { ran <- t.fire() }()
		if <-ran {
			fired++
		}
	}
	return fired
}

// A clockTimer is a call scheduled by testClock.AfterFunc.
type clockTimer struct {
	at   time.Time
	f    func()
	done atomic.Bool                // fired or stopped
	real atomic.Pointer[time.Timer] // on a wall clock
}

// fire runs the call unless it already ran or was stopped.
func (t *clockTimer) fire() bool {
	if !t.done.CompareAndSwap(false, true) {
		return false
	}
	if r := t.real.Load(); r != nil {
		r.Stop()
	}
	t.f()
	return true
}

// Stop prevents the call if it has not run yet.
func (t *clockTimer) Stop() bool {
	stopped := t.done.CompareAndSwap(false, true)
	if r := t.real.Load(); r != nil {
		r.Stop()
	}
	return stopped
}
