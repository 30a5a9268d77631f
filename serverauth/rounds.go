package serverauth

import (
	"context"
	"sync"
	"time"
)

// round is one fetch of every source.
type round struct {
	done   chan struct{} // closed when the keys are updated
	reason string
	kid    string // the unknown key ID that triggered it, if one did
}

// requestRoundLocked returns the round requested or under way, or requests
// a new one.
func (p *KeyProvider) requestRoundLocked(reason, kid string) *round {
	if p.round == nil {
		p.round = &round{done: make(chan struct{}), reason: reason, kid: kid}
		signal(p.wake)
	}
	return p.round
}

// signal sends on a channel of capacity one without blocking. Timer
// callbacks use it: they must not block or take p.mu (a test clock runs
// them while holding its own lock).
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// loop runs the fetches: the requested ones, the periodic ones and the
// delayed refetch.
func (p *KeyProvider) loop() {
	defer p.wg.Done()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.wake:
		case <-p.periodicC:
			p.mu.Lock()
			if p.round == nil && p.ts.Now().Sub(p.lastRound) >= p.refresh { // not a stale signal
				p.requestRoundLocked("periodic refresh", "")
			}
			p.mu.Unlock()
		case <-p.deferredC:
			p.mu.Lock()
			if p.round == nil && !p.deferredAt.IsZero() {
				p.deferredAt = time.Time{}
				p.lastRefetch = p.ts.Now()
				p.stats.Refetches++
				p.requestRoundLocked("refetch for unknown key IDs, delayed by the rate limit", "")
				p.count(metricRefetches)
			}
			p.mu.Unlock()
		}
		p.mu.Lock()
		r := p.round
		p.mu.Unlock()
		if r != nil {
			p.run(r)
		}
	}
}

// fetchResult is what one source gave in a round.
type fetchResult struct {
	keys    []publicKey
	skipped []skippedKey
	issuer  string // an OpenID issuer's, as its discovery document names it
	err     error
}

// run fetches every source at once, then updates the keys.
func (p *KeyProvider) run(r *round) {
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	results := make([]fetchResult, len(p.sources))
	var wg sync.WaitGroup
	for i, s := range p.sources {
		wg.Go(func() {
			results[i] = p.fetcher.fetch(ctx, s)
		})
	}
	wg.Wait()
	cancel()
	if p.ctx.Err() != nil { // closed: keep the keys, log nothing
		p.mu.Lock()
		p.round = nil
		p.mu.Unlock()
		close(r.done)
		return
	}
	p.finish(r, results)
}

// finish stores a round's results and publishes the merged keys of every
// source: a source that failed keeps its last good keys. Waiters wake
// after the log lines, so the log reads in order.
func (p *KeyProvider) finish(r *round, results []fetchResult) {
	now := p.ts.Now()
	p.mu.Lock()
	failures := p.recordLocked(results, now)
	aged := p.dropAgedLocked(now)
	sum := p.publishLocked(now)
	p.endRoundLocked()
	sum.nextRefetch = p.nextRefetchLocked(now)
	p.mu.Unlock()
	defer close(r.done)

	p.logSources(results, failures, aged)
	p.logRound(r, sum, len(failures))
}

// sourceFailure is a source that failed in a round, and how many keys it
// keeps from its last success.
type sourceFailure struct {
	src  *source
	err  error
	kept int
}

// recordLocked updates each source with its result in a round.
func (p *KeyProvider) recordLocked(results []fetchResult, now time.Time) []sourceFailure {
	var failures []sourceFailure
	for i, res := range results {
		s := p.sources[i]
		s.fetches++
		if res.err != nil {
			s.failures++
			s.lastErr = res.err.Error()
			failures = append(failures, sourceFailure{s, res.err, len(s.keys)})
			continue
		}
		s.keys, s.lastSuccess, s.lastErr = res.keys, now, ""
		if s.kind == sourceIssuer {
			s.issuers = []string{res.issuer}
		}
	}
	return failures
}

// roundSummary is what a round changed, for its log line.
type roundSummary struct {
	old, merged map[string]heldKey // the keys before and after
	conflicts   []string           // key IDs two sources published with different keys
	waited      int                // unknown key IDs that waited for a fetch since the last one
	refused     int                // unknown key IDs refused without a refetch since the last fetch
	issRefused  int                // issuer refusals since the last fetch
	nextRefetch time.Time
}

// publishLocked replaces the keys held with the sources' merged keys and
// resets the per-window counters.
func (p *KeyProvider) publishLocked(now time.Time) roundSummary {
	sum := roundSummary{old: p.keys}
	sum.merged, sum.conflicts = p.mergeLocked()
	p.keys = sum.merged
	sum.waited = p.missing.len()
	p.missing.reset()
	sum.refused, sum.issRefused = p.logged+p.quiet, p.issLogged+p.issQuiet
	p.logged, p.quiet, p.issLogged, p.issQuiet = 0, 0, 0, 0
	p.lastRound = now
	p.stats.Fetches++
	return sum
}

// endRoundLocked marks the provider idle, cancels the delayed refetch (the
// round just fetched for it) and arms the periodic refresh.
func (p *KeyProvider) endRoundLocked() {
	p.round = nil
	if p.deferred != nil {
		p.deferred.Stop()
	}
	p.deferredAt = time.Time{}
	if p.refresh > 0 && !p.closed {
		if p.periodic == nil {
			p.periodic = p.ts.AfterFunc(p.refresh, func() { signal(p.periodicC) })
		} else {
			p.periodic.Reset(p.refresh)
		}
	}
}
