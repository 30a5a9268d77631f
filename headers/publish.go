package headers

import (
	"math/rand/v2"
	"time"
)

// newCached builds the cache entry for a token fetched at now.
func (p *Provider) newCached(tok Token, now time.Time) *cached {
	c := &cached{
		tok:       tok,
		headers:   map[string]string{p.header: p.scheme + " " + tok.Value()},
		refreshAt: farFuture,
		fetched:   now,
		kid:       kidOf(tok),
	}
	if !tok.Expiry.IsZero() {
		left := tok.Expiry.Sub(now)
		leeway := p.leeway
		if leeway <= 0 {
			leeway = min(MaxDefaultLeeway, left/4)
		}
		// Never plan the next refresh sooner than halfway to expiry: a
		// source with a cache of its own, which hands back the same token
		// until shortly before expiry (a token file, a vault agent, an
		// SDK's credential cache), must not be asked again on every call.
		leeway = min(leeway, left/2)
		// Spread a fleet's renewals over the last quarter of the leeway.
		leeway -= time.Duration(float64(leeway/4) * jitter())
		c.refreshAt = tok.Expiry.Add(-leeway)
	}
	if !tok.RefreshAt.IsZero() && tok.RefreshAt.Before(c.refreshAt) {
		// A hint already past asks for a refresh as soon as allowed:
		// MinBackoff after this one, so that a source whose every token
		// carries a past hint (a clock behind the Provider's, a poll
		// slower than its interval) is asked once a second, not on every
		// call.
		hint := tok.RefreshAt
		if soonest := now.Add(MinBackoff); hint.Before(soonest) {
			hint = soonest
		}
		if hint.Before(c.refreshAt) {
			c.refreshAt = hint
		}
	}
	return c
}

// install makes c the token served, and arms the timer that re-judges it
// on the wall clock. Callers hold p.mu.
func (p *Provider) install(c *cached, now time.Time) {
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if c != nil && c.refreshAt != farFuture && (p.check < 0 || !now.Before(c.refreshAt)) {
		c.stale.Store(true) // getStale reads the clock (on every call, or now: a refresh is due)
	}
	p.cur.Store(c)
	if c != nil && c.refreshAt != farFuture && p.check > 0 && !c.stale.Load() {
		p.arm(c, now)
	}
}

// arm sets the timer that calls judge for c at its refresh time, or after
// WallClockCheck if that is sooner. Callers hold p.mu.
func (p *Provider) arm(c *cached, now time.Time) {
	p.timer = p.clock.AfterFunc(min(c.refreshAt.Sub(now), p.check), func() { p.judge(c) })
}

// judge reads the wall clock and marks c stale if it is due for a refresh,
// or arms the timer again. The timer that calls it follows the monotonic
// clock, which may lag the wall clock by any amount after a suspend or a
// clock step.
func (p *Provider) judge(c *cached) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur.Load() != c || c.stale.Load() {
		return // replaced, dropped or closed since the timer was set
	}
	p.timer = nil
	if now := p.now(); now.Before(c.refreshAt) {
		p.arm(c, now)
		return
	}
	c.stale.Store(true)
}

// farFuture is the refresh time of a token that never expires.
var farFuture = time.Unix(1<<62, 0)

// jitter returns a uniformly random number in [0, 1) that places a
// renewal within the leeway; tests replace it.
var jitter = rand.Float64

func timeLeft(tok Token, now time.Time) time.Duration {
	if tok.Expiry.IsZero() {
		return 0
	}
	return tok.Expiry.Sub(now)
}
