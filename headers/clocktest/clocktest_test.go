package clocktest_test

import (
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/headers/clocktest"
)

var _ headers.Clock = (*clocktest.Clock)(nil)

func TestAdvanceRunsDueTimersInOrder(t *testing.T) {
	c := clocktest.New()
	var got []string
	c.AfterFunc(2*time.Second, func() { got = append(got, "b") })
	var at time.Time
	c.AfterFunc(1500*time.Millisecond, func() { at = c.Now() })
	c.AfterFunc(time.Second, func() {
		got = append(got, "a")
		c.AfterFunc(0, func() { got = append(got, "a2") }) // due within the same move
	})
	late := c.AfterFunc(3*time.Second, func() { got = append(got, "late") })

	if n := c.Advance(2 * time.Second); n != 4 {
		t.Fatalf("Advance ran %d timers, want 4", n)
	}
	if want := clocktest.Start.Add(1500 * time.Millisecond); !at.Equal(want) {
		t.Fatalf("a timer due at Start+1.5s saw Now = %v, want %v", at, want)
	}
	if want := "a a2 b"; join(got) != want {
		t.Fatalf("ran %q, want %q", join(got), want)
	}
	if !c.Now().Equal(clocktest.Start.Add(2 * time.Second)) {
		t.Fatalf("Now = %v, want Start+2s", c.Now())
	}
	if d, ok := c.NextIn(); !ok || d != time.Second {
		t.Fatalf("NextIn = %v, %v; want 1s, true", d, ok)
	}
	if !late.Stop() || late.Stop() {
		t.Fatal("Stop of a pending timer must report true once")
	}
	if c.Advance(time.Hour) != 0 || c.Pending() != 0 {
		t.Fatal("a stopped timer ran or stayed pending")
	}
}

func TestJumpMovesWallTimeOnly(t *testing.T) {
	c := clocktest.New()
	ran := false
	c.AfterFunc(time.Minute, func() { ran = true })

	c.Jump(2 * time.Hour) // a suspend: timers were frozen
	if ran {
		t.Fatal("Jump ran a timer")
	}
	if !c.Now().Equal(clocktest.Start.Add(2 * time.Hour)) {
		t.Fatalf("Now = %v after Jump(2h)", c.Now())
	}
	if d, _ := c.NextIn(); d != time.Minute {
		t.Fatalf("NextIn = %v after Jump, want 1m", d)
	}
	c.Tick(time.Minute) // timer time alone
	if !ran {
		t.Fatal("Tick did not run the due timer")
	}
	if !c.Now().Equal(clocktest.Start.Add(2 * time.Hour)) {
		t.Fatal("Tick moved the wall time")
	}
	c.Jump(-3 * time.Hour) // an NTP step back
	if !c.Now().Equal(clocktest.Start.Add(-time.Hour)) {
		t.Fatalf("Now = %v after a step back", c.Now())
	}
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out
}
