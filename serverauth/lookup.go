package serverauth

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/metrics"
)

// key looks kid up for alg, refetching when it is unknown (or aged out) and
// allowed to.
func (p *KeyProvider) key(ctx context.Context, alg, kid string) (heldKey, error) {
	if alg != algRS256 && alg != algES256 {
		return heldKey{}, fmt.Errorf("serverauth: signing algorithm %q is not supported (RS256, ES256)", truncate(alg, 20))
	}
	p.mu.Lock()
	now := p.ts.Now()
	if k, ok := p.keys[kid]; ok && !k.expired(now) {
		p.mu.Unlock()
		return k, nil
	}
	p.stats.UnknownKeyIDs++
	r := p.round
	joined := r != nil
	if r == nil {
		next := p.nextRefetchLocked(now)
		if p.closed || now.Before(next) {
			return p.refuseLocked(now, next, kid)
		}
		p.lastRefetch = now
		p.stats.Refetches++
		r = p.requestRoundLocked("unknown key ID", kid)
	}
	p.mu.Unlock()
	if !joined {
		p.logger.Info("JWT key ID unknown: refetching the key sources",
			tag.NewStringTag("kid", truncate(kid, maxKidInLogs)), tag.NewTimeTag("keys-fetched-at", p.Stats().LastFetch))
		p.count(metricRefetches)
	}
	return p.awaitRefetch(ctx, r, kid, now)
}

// awaitRefetch waits for round r, which fetches the sources for the unknown
// kid looked up at asked, and returns the key if the round found it.
func (p *KeyProvider) awaitRefetch(ctx context.Context, r *round, kid string, asked time.Time) (heldKey, error) {
	shownKid := truncate(kid, maxKidInLogs)
	select {
	case <-r.done:
	case <-ctx.Done():
		return heldKey{}, fmt.Errorf("serverauth: key ID %q unknown; gave up waiting for the refetch: %w", shownKid, ctx.Err())
	case <-p.ctx.Done():
		return heldKey{}, fmt.Errorf("serverauth: key ID %q unknown and the key provider is closed", shownKid)
	}

	p.mu.Lock()
	if k, ok := p.keys[kid]; ok && !k.expired(p.ts.Now()) {
		p.stats.FoundAfterRefetch++
		p.mu.Unlock()
		p.count(metricUnknownKeyIDs, metrics.Tag{Key: "outcome", Value: "found"})
		return k, nil
	}
	p.stats.NotFoundAfterRefetch++
	p.missing.remember(kid, asked)
	next := p.nextRefetchLocked(p.ts.Now())
	p.mu.Unlock()
	p.count(metricUnknownKeyIDs, metrics.Tag{Key: "outcome", Value: "not_found"})
	return heldKey{}, fmt.Errorf("serverauth: key ID %q is not in any key source, refetched just now; the next refetch may happen at %s",
		shownKid, next.UTC().Format(time.RFC3339))
}

// refuseLocked refuses an unknown kid without fetching, schedules one
// refetch for when it is allowed, and unlocks p.mu.
func (p *KeyProvider) refuseLocked(now, next time.Time, kid string) (heldKey, error) {
	shownKid := truncate(kid, maxKidInLogs)
	p.stats.RateLimited++
	seen := p.missing.has(kid)
	p.missing.remember(kid, now)
	if !p.closed {
		p.scheduleDeferredLocked(now, next)
	}
	logIt := !seen && p.logged < maxLoggedPerWindow
	if logIt {
		p.logged++
	} else {
		p.quiet++
	}
	fetched, closed := p.lastRound, p.closed
	p.mu.Unlock()
	p.count(metricUnknownKeyIDs, metrics.Tag{Key: "outcome", Value: "rate_limited"})
	if closed {
		return heldKey{}, fmt.Errorf("serverauth: key ID %q is not in the keys held, and the key provider is closed", shownKid)
	}
	if logIt {
		p.logger.Warn("JWT key ID unknown; refetch not allowed yet (rate limit), token refused",
			tag.NewStringTag("kid", shownKid),
			tag.NewTimeTag("keys-fetched-at", fetched),
			tag.NewTimeTag("next-refetch-at", next),
			tag.NewDurationTag("min-refetch-interval", p.minRefetch))
	}
	return heldKey{}, fmt.Errorf("serverauth: key ID %q is not in the keys fetched at %s; refetches are limited to one per %v, the next may happen at %s",
		shownKid, fetched.UTC().Format(time.RFC3339), p.minRefetch, next.UTC().Format(time.RFC3339))
}

// nextRefetchLocked returns when an unknown kid may trigger a refetch.
func (p *KeyProvider) nextRefetchLocked(now time.Time) time.Time {
	if p.lastRefetch.IsZero() {
		return now
	}
	return p.lastRefetch.Add(p.minRefetch)
}

func (p *KeyProvider) scheduleDeferredLocked(now, at time.Time) {
	if !p.deferredAt.IsZero() {
		return
	}
	p.deferredAt = at
	if p.deferred == nil {
		p.deferred = p.ts.AfterFunc(at.Sub(now), func() { signal(p.deferredC) })
	} else {
		p.deferred.Reset(at.Sub(now))
	}
}
