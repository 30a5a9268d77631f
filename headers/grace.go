package headers

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Rotation timing; see Options.RotationGrace.
const (
	// DefaultRotationGrace is Options.RotationGrace's default: long
	// enough for a server that refetches its JWKS every minute (the Helm
	// chart's default refreshInterval), with room for the fetch itself. A
	// server that refreshes less often needs a longer RotationGrace, or a
	// leeway longer than its refresh interval, for a rotation to pass with
	// no failed call once the tokens before it have expired.
	DefaultRotationGrace = 2 * time.Minute
	// RotationProbeInterval is how often, during a rotation grace, one
	// call is sent with the newest token to learn whether the server
	// accepts its key yet. A refused probe is retried with the accepted
	// token, so it costs one extra round trip, not a failed call.
	RotationProbeInterval = 10 * time.Second
	// MaxHoldBackoff caps the wait between the attempts of a held call;
	// the first waits MinBackoff, and each wait doubles, with jitter.
	MaxHoldBackoff = 8 * time.Second
)

// A RotationKind tells what a RotationEvent reports.
type RotationKind int

// Rotation events.
const (
	// GraceStarted: the server refused a token signed with a key it has
	// not accepted from this Provider yet, while the last token it
	// accepted is still valid; the Provider serves that token meanwhile.
	GraceStarted RotationKind = iota + 1
	// GraceEnded: the Provider stopped serving the previously accepted
	// token; Reason says why.
	GraceEnded
	// HoldStarted: the server refused a token signed with a new key and
	// no token it accepted is valid any more; refused calls are held and
	// retried for up to Options.RotationGrace.
	HoldStarted
	// HoldEnded: calls are no longer held; Reason says why.
	HoldEnded
	// CallSaved: a call refused with the newest token succeeded when
	// retried with the accepted token.
	CallSaved
	// CallHeld: a refused call is held; reported when the hold begins,
	// and again with Ended set when it ends.
	CallHeld
)

// Reasons a grace or a hold ends, as RotationEvent.Reason.
const (
	ReasonAccepted = "the server accepted the new key"
	ReasonExpired  = "the previously accepted token expired"
	ReasonRefused  = "the server refused the previously accepted token too"
	ReasonTimeout  = "Options.RotationGrace passed"
	ReasonDropped  = "the token was invalidated or the provider closed"
	ReasonSameKey  = "the source returned a token signed with the accepted key"
)

// A RotationEvent reports a step of a key rotation, for metrics. It never
// holds a token.
type RotationEvent struct {
	// Source is Options.Name.
	Source string
	// Kind is what happened.
	Kind RotationKind
	// OldKid is the kid of the token the server accepted last; NewKid the
	// kid of the newest token.
	OldKid, NewKid string
	// Took is how long the grace or hold lasted (GraceEnded, HoldEnded),
	// or how long a held call waited (CallHeld, once it ends).
	Took time.Duration
	// Reason says why a grace or hold ended.
	Reason string
	// Ended is set on the CallHeld event of a held call that has ended.
	Ended bool
	// Err is an ended held call's outcome: nil when the server accepted
	// it.
	Err error
}

// rotation is a grace (old set: the accepted token is served while the
// newest is refused) or a hold (old nil: no accepted token is valid, and
// calls refused for the newest are held). It is immutable once published
// through Provider.rot, except probeAt.
type rotation struct {
	old     *cached       // the accepted token served during a grace
	next    *cached       // the newest token, not yet accepted
	oldKid  string        // the accepted token's kid
	since   time.Time     // wall time the grace or hold began
	until   time.Time     // hold: the end of Options.RotationGrace
	probeAt *atomic.Int64 // UnixNano of the next probe; shared by the copies of a rotation
}

// rejection is what a refusal of the sent token calls for.
type rejection int

const (
	rejToday    rejection = iota // today's handling: replace
	rejFallback                  // retry with the accepted token
	rejRefused                   // the fallback token was refused: fail
	rejHold                      // hold and retry
	rejFail                      // fail with the server's error
)

// noteSuccess records that a call carrying sent succeeded, when sent is
// the current token and the server had not accepted it before. It costs
// two atomic loads once the current token is accepted.
func (p *Provider) noteSuccess(ctx context.Context) {
	c := p.cur.Load()
	if c == nil || c.accepted.Load() {
		return
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	if sent := md.Get(p.header); len(sent) > 0 && sent[len(sent)-1] == c.headers[p.header] {
		p.accept(c)
	}
}

// accept records that the server accepted c. If c carries the key a
// grace or hold waits for, that ends it: a grace's newest token is then
// served.
func (p *Provider) accept(c *cached) {
	if c.accepted.Load() {
		return
	}
	p.mu.Lock()
	if c.accepted.Swap(true) {
		p.mu.Unlock()
		return
	}
	p.accepted = c
	r := p.rot.Load()
	var ev *RotationEvent
	if r != nil && c.kid == r.next.kid {
		now := p.now()
		ev = p.endRotationLocked(r, now, ReasonAccepted)
		if r.old != nil && p.cur.Load() == r.old && !p.closed.Load() {
			if r.next.tok.valid(now) {
				p.install(r.next, now)
			} else {
				p.install(nil, now)
			}
		}
	}
	p.mu.Unlock()
	p.emitRotation(ev)
}

// endRotationLocked unpublishes r and returns the event to report once
// p.mu is released. Callers hold p.mu.
func (p *Provider) endRotationLocked(r *rotation, now time.Time, reason string) *RotationEvent {
	if p.rot.Load() != r {
		return nil
	}
	p.rot.Store(nil)
	kind := GraceEnded
	if r.old == nil {
		kind = HoldEnded
	}
	return &RotationEvent{Source: p.name, Kind: kind, OldKid: r.oldKid, NewKid: r.next.kid,
		Took: now.Sub(r.since), Reason: reason}
}

// classify decides what the refusal of the header value sent calls for,
// starting a grace or a hold when it is the first refusal of a new key.
// It returns the token to retry with, for rejFallback and rejHold.
func (p *Provider) classify(sent string) (*cached, rejection) {
	if p.grace < 0 {
		return nil, rejToday
	}
	p.mu.Lock()
	var ev *RotationEvent
	defer func() {
		p.mu.Unlock()
		p.emitRotation(ev)
	}()
	if p.closed.Load() {
		return nil, rejFail
	}
	now := p.now()
	if r := p.rot.Load(); r != nil && r.old != nil && !r.old.tok.valid(now) {
		// The accepted token expired, on the wall clock, before a timer
		// caught it: serve the newest, and hold from now on.
		ev, _ = p.expireGraceLocked(r, now)
		p.mu.Unlock()
		p.emitRotation(ev)
		p.mu.Lock()
		ev = nil
	}
	if r := p.rot.Load(); r != nil {
		if r.old != nil && sent == r.old.headers[p.header] {
			// A key withdrawn for compromise is refused both ways.
			ev = p.endRotationLocked(r, now, ReasonRefused)
			p.accepted = nil
			if p.cur.Load() == r.old {
				p.install(r.next, now)
			}
			return nil, rejRefused
		}
		if kidOfHeader(sent, p.scheme) != r.next.kid {
			return nil, rejToday
		}
		if r.old != nil {
			return r.old, rejFallback // valid: checked above
		}
		if now.Before(r.until) {
			return r.next, rejHold
		}
		ev = p.endRotationLocked(r, now, ReasonTimeout)
		p.accepted = nil // fail as before from now on
		return nil, rejFail
	}
	// A rotation when the token sent carries a key other than the one the
	// server accepted last, and the token served now carries that key too
	// and has not been accepted (the token sent may be an earlier one of
	// the same key).
	c := p.cur.Load()
	a := p.accepted
	if c == nil || c.accepted.Load() || a == nil || c.kid == "" || a.kid == "" || c.kid == a.kid ||
		kidOfHeader(sent, p.scheme) != c.kid {
		return nil, rejToday // not a new key: a revoked token or a missing permission
	}
	if a.tok.valid(now) {
		old := &cached{tok: a.tok, headers: a.headers, refreshAt: a.tok.Expiry, fetched: a.fetched, kid: a.kid}
		old.accepted.Store(true)
		p.accepted = old
		p.install(old, now)
		r := &rotation{old: old, next: c, oldKid: a.kid, since: now, probeAt: new(atomic.Int64)}
		r.probeAt.Store(now.Add(RotationProbeInterval).UnixNano())
		p.rot.Store(r)
		ev = &RotationEvent{Source: p.name, Kind: GraceStarted, OldKid: a.kid, NewKid: c.kid}
		return old, rejFallback
	}
	r := &rotation{next: c, oldKid: a.kid, since: now, until: now.Add(p.grace)}
	p.rot.Store(r)
	ev = &RotationEvent{Source: p.name, Kind: HoldStarted, OldKid: a.kid, NewKid: c.kid}
	return c, rejHold
}

// graceExpired ends the grace r whose accepted token has expired, and
// returns the newest token if it is still valid, which it serves.
func (p *Provider) graceExpired(r *rotation, now time.Time) *cached {
	p.mu.Lock()
	ev, c := p.expireGraceLocked(r, now)
	p.mu.Unlock()
	p.emitRotation(ev)
	return c
}

// expireGraceLocked ends the grace r, whose accepted token has expired,
// and serves its newest token if that is valid, returning it. Callers
// hold p.mu.
func (p *Provider) expireGraceLocked(r *rotation, now time.Time) (*RotationEvent, *cached) {
	ev := p.endRotationLocked(r, now, ReasonExpired)
	if ev == nil || p.cur.Load() != r.old || p.closed.Load() {
		return ev, nil
	}
	if !r.next.tok.valid(now) {
		p.install(nil, now)
		return ev, nil
	}
	p.install(r.next, now)
	return ev, r.next
}

// refreshedLocked handles a token fetched during a grace: it becomes the
// newest token unless it carries the accepted key, which ends the grace.
// It reports whether c is to be installed. Callers hold p.mu.
func (p *Provider) refreshedLocked(c *cached, now time.Time) (install bool, ev *RotationEvent) {
	r := p.rot.Load()
	if r == nil || r.old == nil {
		return true, nil
	}
	if c.kid == r.old.kid || !r.old.tok.valid(now) {
		return true, p.endRotationLocked(r, now, ReasonSameKey)
	}
	n := *r
	n.next = c
	p.rot.Store(&n)
	return false, nil
}

// dropRotationLocked ends any grace or hold, for Invalidate and Close.
// Callers hold p.mu.
func (p *Provider) dropRotationLocked(now time.Time) *RotationEvent {
	if r := p.rot.Load(); r != nil {
		return p.endRotationLocked(r, now, ReasonDropped)
	}
	return nil
}

// probe reports whether this call is to carry the newest token of the
// grace r: one call per RotationProbeInterval does.
func (p *Provider) probe(r *rotation) bool {
	now := p.now().UnixNano()
	at := r.probeAt.Load()
	return now >= at && r.probeAt.CompareAndSwap(at, now+int64(RotationProbeInterval))
}

// withHeaders returns ctx with c's header in place of the one it carries.
func (p *Provider) withHeaders(ctx context.Context, c *cached) context.Context {
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	for k, v := range c.headers {
		md.Set(k, v)
	}
	return metadata.NewOutgoingContext(ctx, md)
}

// sendProbe sends a call of a grace with its newest token, retrying it
// with the accepted token if the server refuses it.
func (p *Provider) sendProbe(ctx context.Context, r *rotation, method string, req, reply any,
	cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(p.withHeaders(ctx, r.next), method, req, reply, cc, opts...)
	if err == nil {
		p.accept(r.next)
		return nil
	}
	if !tokenRejected(err) {
		return err
	}
	// The grace may have ended meanwhile: refused handles that too.
	return p.refused(ctx, r.next.headers[p.header], method, req, reply, cc, invoker, err, opts...)
}

// fallback handles the refusal of the header value sent, when it may be
// a new key the server has not fetched yet: it retries with the accepted
// token, or holds the call. It returns errToday, which must never reach a
// caller, when the refusal is not one of a new key.
func (p *Provider) fallback(ctx context.Context, sent, method string, req, reply any,
	cc *grpc.ClientConn, invoker grpc.UnaryInvoker, err error, opts ...grpc.CallOption) error {
	c, what := p.classify(sent)
	switch what {
	case rejFallback:
		err2 := invoker(p.withHeaders(ctx, c), method, req, reply, cc, opts...)
		switch {
		case err2 == nil:
			p.saved.Add(1)
			p.emitRotation(&RotationEvent{Source: p.name, Kind: CallSaved, OldKid: c.kid, NewKid: kidOfHeader(sent, p.scheme)})
		case tokenRejected(err2):
			p.classify(c.headers[p.header]) // ends the grace
		}
		return err2
	case rejHold:
		return p.hold(ctx, c, method, req, reply, cc, invoker, err, opts...)
	case rejToday:
		return errToday
	}
	return err
}

// errToday tells retryUnauthorized to handle a refusal as it did before
// rotation graces.
var errToday = &todayError{}

type todayError struct{}

func (*todayError) Error() string { return "headers: not a rotation" }

// hold retries a call refused for c, the newest token, with backoff,
// until the server accepts its key, the hold ends, ctx is done or p is
// closed. It returns the last error the server gave.
func (p *Provider) hold(ctx context.Context, c *cached, method string, req, reply any,
	cc *grpc.ClientConn, invoker grpc.UnaryInvoker, err error, opts ...grpc.CallOption) error {
	p.held.Add(1)
	began := p.now()
	ev := RotationEvent{Source: p.name, Kind: CallHeld, NewKid: c.kid}
	p.emitRotation(&ev)
	defer func() {
		ev.Took, ev.Err, ev.Ended = p.now().Sub(began), err, true
		p.emitRotation(&ev)
	}()
	for n := 1; ; n++ {
		r := p.rot.Load()
		if r != nil && r.old == nil {
			wait := holdBackoff(n)
			if left := r.until.Sub(p.now()); left < wait {
				wait = left
			}
			if wait <= 0 || !p.sleep(ctx, wait) {
				return err
			}
		}
		cur, gerr := p.current(ctx)
		if gerr != nil {
			return err
		}
		err2 := invoker(p.withHeaders(ctx, cur), method, req, reply, cc, opts...)
		if err2 == nil {
			p.accept(cur)
			err = nil
			return nil
		}
		if !tokenRejected(err2) {
			err = err2
			return err
		}
		err = err2
		if next, what := p.classify(cur.headers[p.header]); what != rejHold || next.kid != cur.kid {
			return err
		}
	}
}

// current returns the token being served, fetching one if needed.
func (p *Provider) current(ctx context.Context) (*cached, error) {
	if c := p.fresh(); c != nil {
		return c, nil
	}
	return p.getStale(ctx)
}

// sleep waits d on p's clock; it reports false when ctx is done or p
// closed first.
func (p *Provider) sleep(ctx context.Context, d time.Duration) bool {
	done := make(chan struct{})
	t := p.clock.AfterFunc(d, func() { close(done) })
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-ctx.Done():
	case <-p.ctx.Done():
	}
	return false
}

// holdBackoff is the wait before the n-th retry of a held call (n >= 1).
func holdBackoff(n int) time.Duration {
	d := MaxHoldBackoff
	if n < 5 {
		d = min(MinBackoff<<(n-1), MaxHoldBackoff)
	}
	return time.Duration(float64(d) * (0.75 + 0.5*rand.Float64()))
}

// emitRotation logs ev when it starts or ends a grace or hold, and hands
// it to Options.OnRotation.
func (p *Provider) emitRotation(ev *RotationEvent) {
	if ev == nil {
		return
	}
	switch ev.Kind {
	case GraceStarted:
		p.log.Info("temporalauth: rotation grace started: the server refuses the new key, so the last token it accepted is served until it accepts the new one",
			"source", p.name, "old_kid", ev.OldKid, "new_kid", ev.NewKid)
	case GraceEnded:
		p.log.Info("temporalauth: rotation grace ended", "source", p.name, "old_kid", ev.OldKid, "new_kid", ev.NewKid,
			"lasted", ev.Took.Round(time.Millisecond), "reason", ev.Reason)
	case HoldStarted:
		p.log.Info("temporalauth: the server refuses the new key and no token it accepted is valid any more; holding refused calls until it accepts the key",
			"source", p.name, "old_kid", ev.OldKid, "new_kid", ev.NewKid, "for_at_most", p.grace)
	case HoldEnded:
		p.log.Info("temporalauth: holding calls for the new key ended", "source", p.name, "old_kid", ev.OldKid, "new_kid", ev.NewKid,
			"lasted", ev.Took.Round(time.Millisecond), "reason", ev.Reason)
	}
	if p.onRotation != nil {
		defer p.recoverPanic("OnRotation", nil)
		p.onRotation(*ev)
	}
}

// kidOfHeader returns the kid of the JWT in a header value sent with
// scheme, or "".
func kidOfHeader(h, scheme string) string {
	if len(h) > len(scheme) && h[:len(scheme)] == scheme && h[len(scheme)] == ' ' {
		h = h[len(scheme)+1:]
	}
	return kidOf(Token{value: &h})
}
