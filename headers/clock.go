package headers

import "time"

// A Clock tells the time and calls functions later. The system clock is
// the default; tests supply a manual one.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// A Timer is a pending call made by Clock.AfterFunc.
type Timer interface {
	// Stop prevents the call if it has not run yet.
	Stop() bool
}

// SystemClock returns the clock a Provider uses when Options.Clock is nil:
// time.Now and time.AfterFunc.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time                            { return time.Now() }
func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
