package headers

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/temporalauth/temporalauth/internal/jwtinfo"
)

// refresh calls the source and publishes the outcome: the new token, or
// the failure and when to try again. It then logs it and reports it to
// OnRefresh.
func (p *Provider) refresh(f *flight) {
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	began := p.clock.Now()
	tok, gen, err := p.fetch(ctx)
	cancel()
	end := p.clock.Now()
	now := end.Round(0)
	tok.Expiry, tok.RefreshAt = tok.Expiry.Round(0), tok.RefreshAt.Round(0)
	if err == nil {
		err = checkToken(tok, now, p.scheme)
	}
	out := outcome{ev: RefreshEvent{Source: p.name, Background: f.background, Took: end.Sub(began)}}

	p.mu.Lock()
	invalidated := p.gen != gen // again, during the second call
	switch {
	case err == nil && p.closed.Load():
		err = ErrClosed // Close ran meanwhile: install nothing it cannot stop
	case err == nil && invalidated && p.rejected != nil && p.rejected.Value() == tok.Value():
		err = errors.New("source returned the token invalidated while it ran")
	}
	if err != nil {
		p.failedLocked(f, err, now, invalidated, &out)
	} else {
		p.succeededLocked(f, tok, now, &out)
	}
	p.flight.Store(nil)
	p.mu.Unlock()
	// Close waits for the source, not for the records below, so that
	// OnRefresh may call Close.
	p.wg.Done()
	defer close(f.done) // after the event is out, so waiters see it
	p.emitRotation(out.rotation)
	p.logRefresh(out)
	if p.observe != nil {
		defer p.recoverPanic("OnRefresh", nil)
		p.observe(out.ev)
	}
}

// outcome is what a refresh reports once p.mu is released.
type outcome struct {
	ev       RefreshEvent
	newTok   *jwtinfo.Info  // set when the token is one not installed before
	oldKid   string         // set when its kid differs from the last token's
	rotation *RotationEvent // set when the token ends a rotation grace
}

// fetch calls the source. If the token is invalidated while the source
// runs, what it returns may be the token invalidated, so it asks once
// more, after telling an Invalidator. It returns the invalidation count
// it last saw.
func (p *Provider) fetch(ctx context.Context) (tok Token, gen uint64, err error) {
	for try := 0; try < 2; try++ {
		p.mu.Lock()
		gen = p.gen
		rejected := p.rejected
		p.rejected = nil
		p.mu.Unlock()
		tok, err = p.call(ctx, rejected)
		p.mu.Lock()
		again := p.gen != gen && !p.closed.Load()
		p.mu.Unlock()
		if !again {
			break
		}
	}
	return tok, gen, err
}

// failedLocked records a failed refresh and sets when to try again.
// Callers hold p.mu.
func (p *Provider) failedLocked(f *flight, err error, now time.Time, invalidated bool, out *outcome) {
	p.failures++
	p.lastErr = err
	p.failuresTotal.Add(1)
	retry := now.Add(backoff(p.failures, err))
	if c := p.cur.Load(); c != nil && c.tok.valid(now) {
		// One more try shortly before the token expires, in the
		// background, rather than at expiry with every caller waiting.
		if last := c.tok.Expiry.Add(-finalTryLead(out.ev.Took)); !c.tok.Expiry.IsZero() && retry.After(last) && last.After(now) {
			retry = last
		}
		out.ev.TimeLeft = timeLeft(c.tok, now)
	}
	if invalidated {
		retry = now // the next call tries at once, as Invalidate promises
	}
	p.retryAt.Store(retry.UnixNano())
	out.ev.Err, out.ev.RetryIn = err, retry.Sub(now)
	f.err = fmt.Errorf("headers: fetching a token from %s: %w", p.name, err)
}

// succeededLocked publishes a new token (during a rotation grace it
// becomes the grace's newest token instead). Callers hold p.mu.
func (p *Provider) succeededLocked(f *flight, tok Token, now time.Time, out *outcome) {
	p.failures, p.lastErr = 0, nil
	p.refreshes.Add(1)
	p.retryAt.Store(0)
	f.cur = p.newCached(tok, now)
	var install bool
	if install, out.rotation = p.refreshedLocked(f.cur, now); install {
		p.install(f.cur, now)
	}
	out.ev.Expiry, out.ev.TimeLeft = tok.Expiry, timeLeft(tok, now)
	if tok.Value() != p.lastValue {
		info, isJWT := jwtinfo.Read(tok.Value())
		out.newTok = &info
		if isJWT && p.lastValue != "" && info.KeyID != p.lastKid {
			out.oldKid = p.lastKid
		}
		p.lastValue, p.lastKid = tok.Value(), info.KeyID
	}
}

// call tells an Invalidator about a rejected token, if any, and asks the
// source for a token. A panic in the source becomes an error.
func (p *Provider) call(ctx context.Context, rejected *Token) (tok Token, err error) {
	defer p.recoverPanic("token source", &err)
	if inv, ok := p.src.(Invalidator); ok && rejected != nil {
		inv.InvalidateToken(ctx, *rejected)
	}
	return p.src.Token(ctx)
}

// recoverPanic, deferred, recovers a panic in code the Provider calls on
// its own goroutine, logs it with its stack and, if err is not nil, stores
// it there as an error.
func (p *Provider) recoverPanic(what string, err *error) {
	r := recover()
	if r == nil {
		return
	}
	p.log.Error("temporalauth: "+what+" panicked", "source", p.name,
		"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	if err != nil {
		*err = fmt.Errorf("%s panicked: %v", what, r)
	}
}

// finalTryLead is how long before expiry the last background try after
// failures is made: long enough for a call that takes as long as the last
// one to end before the token expires.
func finalTryLead(took time.Duration) time.Duration {
	return max(2*took, time.Second)
}

// checkToken rejects a token the Provider must not serve, sent after
// scheme. Its errors never show the token.
func checkToken(tok Token, now time.Time, scheme string) error {
	if tok.Value() == "" {
		return errors.New("source returned an empty token")
	}
	if v := tok.Value(); len(v) > len(scheme) && strings.EqualFold(v[:len(scheme)], scheme) && v[len(scheme)] == ' ' {
		return fmt.Errorf("source returned a token that begins with the scheme %q; a TokenSource returns the credential alone, and the Provider adds Options.Scheme", scheme)
	}
	for i := range len(tok.Value()) {
		if c := tok.Value()[i]; c < ' ' || c > '~' {
			what := "a non-ASCII byte"
			if c < ' ' || c == 0x7f {
				what = "a control character"
			}
			if c == '\n' || c == '\r' {
				what = "a line break"
			}
			return fmt.Errorf("source returned a token with %s at byte %d of %d; a gRPC header value holds only printable ASCII",
				what, i, len(tok.Value()))
		}
	}
	if !tok.valid(now) {
		return fmt.Errorf("source returned a token that expired at %s (%s ago)",
			tok.Expiry.UTC().Format(time.RFC3339), now.Sub(tok.Expiry).Round(time.Second))
	}
	return nil
}
