package bench

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/temporalauth/temporalauth/headers"
)

// A wallClock is a headers.Clock that follows the system clock plus an
// offset that a benchmark can move forward: a reading costs what time.Now
// costs, and its timers fire as real time passes or when Advance moves the
// offset past them. The storm needs real time (its source takes 50 ms); the
// deterministic simulations use clocktest instead.
type wallClock struct {
	offset atomic.Int64

	mu     sync.Mutex
	timers []*clockTimer // pending; guarded by mu
}

// newWallClock returns a clock that follows the system clock.
func newWallClock() *wallClock { return &wallClock{} }

// Now returns the system time plus the offset.
func (c *wallClock) Now() time.Time {
	return time.Now().Add(time.Duration(c.offset.Load()))
}

// AfterFunc calls f in its own goroutine once the clock has moved d ahead,
// by Advance or by real time passing.
func (c *wallClock) AfterFunc(d time.Duration, f func()) headers.Timer {
	t := &clockTimer{at: c.Now().Add(d), f: f}
	t.real.Store(time.AfterFunc(d, func() { t.fire() }))
	c.mu.Lock()
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	return t
}

// Advance moves the clock d ahead and runs the timers that became due,
// each in its own goroutine, returning once they have run. It returns how
// many ran.
func (c *wallClock) Advance(d time.Duration) int {
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

// A clockTimer is a call scheduled by wallClock.AfterFunc.
type clockTimer struct {
	at   time.Time
	f    func()
	done atomic.Bool // fired or stopped
	real atomic.Pointer[time.Timer]
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
