// Package clocktest provides a manual [headers.Clock] for tests of code
// that reads the time and sets timers.
//
// A [Clock] keeps two times apart, as a real machine does: the wall time
// that Now returns, which token expiry is measured against, and the timer
// time that AfterFunc counts, which follows the monotonic clock. Advance
// moves both; Jump moves the wall time alone, as a laptop suspend, a VM
// pause or an NTP step does; Tick moves the timer time alone.
package clocktest

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/temporalauth/temporalauth/headers"
)

// Start is the wall time of a Clock made by New.
var Start = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// A Clock is a manual headers.Clock, safe for concurrent use. Time stands
// still until the test moves it. The zero value is not usable; call New.
type Clock struct {
	mu     sync.Mutex
	wall   time.Time     // what Now returns
	mono   time.Duration // timer time since New
	seq    int           // orders timers due at the same time
	timers []*timer      // pending, unordered
}

// New returns a clock whose wall time is [Start].
func New() *Clock { return NewAt(Start) }

// NewAt returns a clock whose wall time is start.
func NewAt(start time.Time) *Clock { return &Clock{wall: start.Round(0)} }

// Now returns the clock's wall time. It carries no monotonic reading.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wall
}

// AfterFunc arranges for f to be called once the timer time has moved d
// ahead. f runs in the goroutine that moves the clock, before Advance or
// Tick returns.
func (c *Clock) AfterFunc(d time.Duration, f func()) headers.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &timer{clock: c, at: c.mono + max(d, 0), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the wall time and the timer time d ahead, as time passing
// on a running machine does, and runs the timers that fall due, earliest
// first. It returns how many ran.
func (c *Clock) Advance(d time.Duration) int { return c.move(d, true) }

// Jump moves the wall time alone by d, which may be negative: what a
// process sees after a suspend or VM pause of d (its timers were frozen
// meanwhile), or after an NTP step. No timer runs.
func (c *Clock) Jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wall = c.wall.Add(d)
}

// Tick moves the timer time alone d ahead and runs the timers that fall
// due, earliest first, as when the wall clock is stepped back by d while
// d passes. It returns how many ran. Each timer runs at its own timer
// time, so one it sets runs too if it falls due within the same move.
func (c *Clock) Tick(d time.Duration) int { return c.move(d, false) }

// move moves the timer time d ahead, and the wall time with it when wall
// is set, running each timer at the time it falls due.
func (c *Clock) move(d time.Duration, wall bool) int {
	c.mu.Lock()
	target := c.mono + max(d, 0)
	c.mu.Unlock()
	ran := 0
	for {
		t := c.nextDue(target, wall)
		if t == nil {
			break
		}
		t.f()
		ran++
	}
	c.mu.Lock()
	c.setMono(target, wall)
	c.mu.Unlock()
	return ran
}

// Pending returns how many timers have not yet run or been stopped.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// NextIn returns how far the timer time must move for the next timer to
// run, and false when no timer is pending.
func (c *Clock) NextIn() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return 0, false
	}
	return slices.MinFunc(c.timers, (*timer).compare).at - c.mono, true
}

// nextDue removes and returns the earliest timer due by the timer time
// target, moving the timer time to when it falls due, or returns nil.
func (c *Clock) nextDue(target time.Duration, wall bool) *timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return nil
	}
	i := 0
	for j, t := range c.timers {
		if t.compare(c.timers[i]) < 0 {
			i = j
		}
	}
	t := c.timers[i]
	if t.at > target {
		return nil
	}
	c.setMono(t.at, wall)
	c.timers = slices.Delete(c.timers, i, i+1)
	return t
}

// setMono moves the timer time forward to at, and the wall time by as
// much when wall is set. The caller holds c.mu.
func (c *Clock) setMono(at time.Duration, wall bool) {
	if at <= c.mono {
		return
	}
	if wall {
		c.wall = c.wall.Add(at - c.mono)
	}
	c.mono = at
}

// A timer is a call set by Clock.AfterFunc.
type timer struct {
	clock *Clock
	at    time.Duration // timer time it falls due
	seq   int
	f     func()
}

func (t *timer) compare(u *timer) int {
	if c := cmp.Compare(t.at, u.at); c != 0 {
		return c
	}
	return cmp.Compare(t.seq, u.seq)
}

// Stop prevents the call if it has not run yet, and reports whether it
// did so.
func (t *timer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.timers, t)
	if i < 0 {
		return false
	}
	c.timers = slices.Delete(c.timers, i, i+1)
	return true
}
