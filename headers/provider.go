package headers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/temporalauth/temporalauth/internal/jwtinfo"
)

// Defaults for Options.
const (
	// DefaultHeader is the metadata key the Temporal server reads.
	DefaultHeader = "authorization"
	// DefaultScheme prefixes the token in the header value.
	DefaultScheme = "Bearer"
	// MaxDefaultLeeway caps the default leeway: without Options.Leeway a
	// token is renewed the smaller of this and a quarter of its lifetime
	// before it expires.
	MaxDefaultLeeway = 5 * time.Minute
	// DefaultRefreshTimeout bounds one call to the source.
	DefaultRefreshTimeout = 30 * time.Second
	// DefaultWallClockCheck is how often, at most, a Provider goes without
	// reading the wall clock while it serves a fresh token; see
	// Options.WallClockCheck.
	DefaultWallClockCheck = time.Second
	// MinWallClockCheck is the smallest positive Options.WallClockCheck:
	// each period arms a timer, and a shorter one (a unit typo, such as 1
	// for one nanosecond) burns a core.
	MinWallClockCheck = 10 * time.Millisecond
	// CloseTimeout bounds how long Close waits for a call to the source
	// that ignores the cancellation of its context, or for the source's
	// own Close.
	CloseTimeout = time.Second
)

// ErrClosed is returned by a Provider after Close.
var ErrClosed = errors.New("headers: provider closed")

// Options configure a Provider. The zero value is ready to use; every field
// documents its default.
type Options struct {
	// Leeway is how long before a token's expiry the Provider fetches the
	// next one, in the background, while it keeps serving the current
	// token. A leeway longer than half the time a token has left when it
	// arrives is shortened to that half, so short-lived tokens are not
	// refetched on every call. Each renewal point is jittered within the
	// leeway, so that a fleet started together does not renew together:
	// a token is renewed between the full leeway and three quarters of it
	// before it expires, at a uniformly random point. Default: the smaller
	// of MaxDefaultLeeway and a quarter of the token's lifetime.
	Leeway time.Duration

	// RefreshTimeout bounds each call to the source. Default:
	// DefaultRefreshTimeout.
	RefreshTimeout time.Duration

	// Header is the metadata key to set. It is lowercased, as gRPC
	// metadata keys must be. Default: DefaultHeader.
	Header string

	// Scheme prefixes the token, separated by a space; the Temporal server
	// rejects a token without a scheme. Default: DefaultScheme.
	Scheme string

	// Name identifies the source in logs and errors. Default: the source's
	// String method, if it has one, else its type.
	Name string

	// Logger receives an Info record per new token (its kid, iss, sub and
	// expiry, read from a JWT without verifying it), an Info record when
	// the kid changes (a key rotation), Info records of rejected tokens
	// naming their kid, and a warning per failed refresh. Records never
	// hold a token. Default: slog.Default().
	Logger *slog.Logger

	// Clock tells the time and times the switch from serving the cached
	// token to refreshing it; tests set it (see package clocktest). Its Now
	// is wall time, which expiries are compared with; its timers may
	// follow another clock (the system clock's follow the monotonic clock),
	// so the Provider reads Now again whenever one fires. Default: the
	// system clock.
	Clock Clock

	// WallClockCheck bounds how long the Provider goes without reading
	// Clock.Now while it serves a fresh token. A fresh token is served
	// without reading the clock: a timer marks it stale at its refresh
	// time. But expiry is wall time and timers follow the monotonic clock,
	// which stands still while the machine sleeps (a laptop suspend, a VM
	// pause or snapshot restore) and ignores clock steps. So the timer
	// fires at least every WallClockCheck, reads Clock.Now and re-judges
	// the token: after a resume or a clock step, a token past its refresh
	// time or its expiry is served for at most WallClockCheck of running
	// time (a call the server rejects meanwhile is retried with a new
	// token by RetryUnauthorized, which reads the wall clock). A negative
	// value reads Clock.Now on every call instead: a token is never served
	// after its expiry, at the price of one clock reading per call (see
	// BENCHMARKS.md). Default: DefaultWallClockCheck.
	WallClockCheck time.Duration

	// OnRefresh is called after every call to the source, from the
	// goroutine that made it. It must not block. It may call Close. A panic
	// in it is recovered and logged. Default: none.
	OnRefresh func(RefreshEvent)

	// RotationGrace bounds how long RetryUnauthorized holds a call that
	// the server refused for a token signed with a key it has not
	// accepted from this Provider yet, retrying it with backoff (within
	// the call's own context), when no token the server accepted is
	// valid any more. A server learns a new signing key only at its next
	// JWKS refresh (its refreshInterval: one minute in the Helm chart).
	//
	// While the last token the server accepted is still valid, a call
	// refused with the newest token is not held but retried at once with
	// that token, which is served until the server accepts the new key
	// or it expires: the rotation grace. One call per
	// RotationProbeInterval tries the newest token meanwhile. A refusal
	// of a token whose key the server accepted before (a revoked token, a
	// permission removed) is never held, and a grace ends as soon as the
	// server refuses the accepted token too (a key withdrawn): such calls
	// fail as they would without a grace. A negative value turns the
	// grace and holding off. Default: DefaultRotationGrace.
	RotationGrace time.Duration

	// OnRotation is called at each step of a key rotation (see
	// RotationKind), for metrics. It must not block. A panic in it is
	// recovered and logged. Default: none.
	OnRotation func(RotationEvent)
}

// Validate reports an Options field that New cannot use, naming it. A
// Provider made from such Options fetches nothing and returns the same
// error from every call; Validate lets a program fail at start instead.
func (o Options) Validate() error {
	if err := validKey(strings.ToLower(o.Header)); o.Header != "" && err != nil {
		return &ConfigError{Setting: "headers.Options.Header", Err: fmt.Errorf("%q: %w", o.Header, err)}
	}
	if o.WallClockCheck > 0 && o.WallClockCheck < MinWallClockCheck {
		return &ConfigError{Setting: "headers.Options.WallClockCheck", Err: fmt.Errorf("%v is below the minimum %v (a unit typo? it is a time.Duration: write 2*time.Second; a negative value reads the clock on every call)",
			o.WallClockCheck, MinWallClockCheck)}
	}
	if o.Scheme != "" {
		if i := strings.IndexFunc(o.Scheme, func(r rune) bool { return r <= ' ' || r > '~' }); i >= 0 {
			return &ConfigError{Setting: "headers.Options.Scheme", Err: fmt.Errorf("%q: a space, control character or non-ASCII byte at %d (the scheme is one word, such as %q)",
				o.Scheme, i, DefaultScheme)}
		}
	}
	return nil
}

// validKey reports why key (lowercased) cannot be the metadata key of a
// gRPC call, or nil.
func validKey(key string) error {
	for i := range len(key) {
		if c := key[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("byte %d is %q; a gRPC metadata key holds only 0-9 a-z - _ .", i, c)
		}
	}
	switch {
	case strings.HasSuffix(key, "-bin"):
		return errors.New("a -bin key carries binary values, which gRPC base64-encodes, and the server reads the token as text")
	case strings.HasPrefix(key, "grpc-"):
		return errors.New("the grpc- prefix is reserved for gRPC itself")
	case key == "content-type" || key == "user-agent" || key == "te":
		return errors.New("gRPC sets this header itself")
	}
	return nil
}

// A RefreshEvent describes one call to the source, for metrics.
type RefreshEvent struct {
	// Source is Options.Name.
	Source string
	// Background reports whether a still-valid token was being served
	// while the call ran.
	Background bool
	// Err is the call's error, or nil.
	Err error
	// Expiry is the new token's expiry after a successful call.
	Expiry time.Time
	// TimeLeft is how long the token now being served remains valid: the
	// new token's after a success, the old one's (zero if none) after a
	// failure. It is zero for a token that never expires.
	TimeLeft time.Duration
	// Took is how long the call to the source took.
	Took time.Duration
	// RetryIn is how long the Provider waits before the next attempt after
	// a failure.
	RetryIn time.Duration
}

// Stats is a snapshot of a Provider's state.
type Stats struct {
	// Refreshes counts successful calls to the source.
	Refreshes int64
	// Failures counts failed calls to the source.
	Failures int64
	// ConsecutiveFailures counts failures since the last success.
	ConsecutiveFailures int
	// HasToken reports whether a valid token is cached.
	HasToken bool
	// Expiry is the cached token's expiry; zero if there is none or it
	// never expires.
	Expiry time.Time
	// TimeLeft is how long the cached token remains valid.
	TimeLeft time.Duration
	// LastError is the most recent failure since the last success, or nil.
	LastError error
	// Refreshing reports whether a call to the source is under way.
	Refreshing bool
	// Rotating reports whether a rotation grace or hold is on (see
	// Options.RotationGrace).
	Rotating bool
	// SavedCalls counts calls the server refused with the newest token
	// that succeeded when retried with the token it accepted last.
	SavedCalls int64
	// HeldCalls counts calls held while the server did not accept the
	// newest token's key.
	HeldCalls int64
}

// A Provider caches the token from a TokenSource and serves it as gRPC
// headers. It satisfies go.temporal.io/sdk's client.HeadersProvider: set it
// as client.Options.HeadersProvider. It is safe for concurrent use.
//
// A fresh token is served without locking, allocating or reading the clock.
// Once a token is within the leeway of its expiry, one background refresh
// runs while every caller keeps getting the still-valid token; a failed
// refresh is retried with exponential backoff (1 s doubling to 30 s, with
// jitter, at least any Retry-After the source reports), and once more
// shortly before the token expires. When there is no valid token, callers
// wait for one shared refresh, each for as long as its own context allows.
// Expiry is judged on the wall clock, so a suspend or a clock step cannot
// stretch a token's life: see Options.WallClockCheck for how soon a running
// Provider notices one.
type Provider struct {
	src     TokenSource
	name    string
	header  string
	scheme  string
	leeway  time.Duration
	timeout time.Duration
	log     *slog.Logger
	clock   Clock
	check   time.Duration // WallClockCheck: > 0 a bound, < 0 every call
	observe func(RefreshEvent)
	cfgErr  error         // from Options.Validate; returned by every call
	grace   time.Duration // RotationGrace; < 0 off

	onRotation func(RotationEvent)
	rot        atomic.Pointer[rotation] // the grace or hold under way; nil if none
	saved      atomic.Int64
	held       atomic.Int64
	// accepted is the last token a call succeeded with, as far as
	// RetryUnauthorized saw; guarded by mu.
	accepted *cached
	// closingSource is set once the source's Close has been called.
	closingSource atomic.Bool

	cur     atomic.Pointer[cached] // the token being served; nil if none
	flight  atomic.Pointer[flight] // the refresh under way; nil if none
	retryAt atomic.Int64           // UnixNano before which no refresh starts
	closed  atomic.Bool

	mu       sync.Mutex // serializes starting and finishing refreshes
	failures int        // consecutive; guarded by mu
	lastErr  error      // guarded by mu
	timer    Timer      // re-judges cur on the wall clock; guarded by mu
	// gen counts invalidations (Invalidate, and rejections that ask for a
	// new token); a refresh that sees it change while it called the source
	// asks again. Guarded by mu.
	gen uint64
	// rejected is the token to tell an Invalidator about before the next
	// call to the source; guarded by mu.
	rejected *Token
	// lastValue and lastKid are the last token installed and its kid, to
	// log each new token and each change of signing key once. Guarded by mu.
	lastValue, lastKid string

	refreshes     atomic.Int64
	failuresTotal atomic.Int64

	ctx      context.Context // canceled by Close
	cancel   context.CancelFunc
	wg       sync.WaitGroup // calls to the source under way
	stopped  chan struct{}  // closed when Close has seen them end
	closeErr error          // the source's Close error; set before stopped closes
}

// cached is a token with its header map and refresh time, both on the wall
// clock. stale is set once the token is due for a refresh (by a timer that
// reads the wall clock), so that the hot path can tell a fresh token
// without reading the clock.
type cached struct {
	tok        Token // its times carry no monotonic reading
	headers    map[string]string
	refreshAt  time.Time
	fetched    time.Time
	stale      atomic.Bool
	rejectedAt time.Time   // the last rejection that asked for a new token; guarded by Provider.mu
	kid        string      // the JWT's kid, or ""
	accepted   atomic.Bool // a call succeeded with it
}

// flight is one call to the source; done closes when it ends.
type flight struct {
	done       chan struct{}
	background bool
	cur        *cached
	err        error
}

// New returns a Provider that serves tokens from src. It fetches nothing
// until the first call. Call Close when done with it. If opts is invalid
// (see Options.Validate), every call returns the error naming the field.
func New(src TokenSource, opts Options) *Provider {
	p := &Provider{
		src:     src,
		name:    opts.Name,
		header:  strings.ToLower(opts.Header),
		scheme:  opts.Scheme,
		leeway:  opts.Leeway,
		timeout: opts.RefreshTimeout,
		log:     opts.Logger,
		clock:   opts.Clock,
		check:   opts.WallClockCheck,
		observe: opts.OnRefresh,
		stopped: make(chan struct{}),
		grace:   opts.RotationGrace,

		onRotation: opts.OnRotation,
	}
	if p.grace == 0 {
		p.grace = DefaultRotationGrace
	}
	if p.name == "" {
		if s, ok := src.(fmt.Stringer); ok {
			p.name = s.String()
		} else {
			p.name = fmt.Sprintf("%T", src)
		}
	}
	if p.header == "" {
		p.header = DefaultHeader
	}
	if p.scheme == "" {
		p.scheme = DefaultScheme
	}
	if p.timeout <= 0 {
		p.timeout = DefaultRefreshTimeout
	}
	if p.check == 0 {
		p.check = DefaultWallClockCheck
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.clock == nil {
		p.clock = SystemClock()
	}
	if err := opts.Validate(); err != nil {
		p.cfgErr = fmt.Errorf("headers: provider for %s: %w", p.name, err)
		p.log.Error("temporalauth: invalid options; every call will fail", "source", p.name, "error", err)
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

// GetHeaders returns the header map carrying a valid token, fetching one
// if needed. The map is shared and read-only: callers must not modify it.
// The Temporal SDK calls GetHeaders before every RPC attempt.
func (p *Provider) GetHeaders(ctx context.Context) (map[string]string, error) {
	if c := p.fresh(); c != nil {
		return c.headers, nil
	}
	c, err := p.getStale(ctx)
	if err != nil {
		return nil, err
	}
	return c.headers, nil
}

// Token returns a valid token, fetching one if needed.
func (p *Provider) Token(ctx context.Context) (Token, error) {
	if c := p.fresh(); c != nil {
		return c.tok, nil
	}
	c, err := p.getStale(ctx)
	if err != nil {
		return Token{}, err
	}
	return c.tok, nil
}

// fresh is the hot path: the cached token when it is outside its refresh
// window, else nil. It costs three atomic loads, with no lock, no clock
// reading and no allocation, and is inlined into GetHeaders and Token, so
// serving a fresh token costs the SDK one function call. With a negative
// WallClockCheck every token is stale from the start, so that getStale
// reads the clock on every call.
func (p *Provider) fresh() *cached {
	if c := p.cur.Load(); c != nil && !c.stale.Load() && !p.closed.Load() {
		return c
	}
	return nil
}

// getStale is the rest of GetHeaders and Token when fresh has no token:
// the cached token is missing or stale, or the provider is closed. It
// serves a token that is before its refresh time or still valid (starting
// a background refresh), or waits for a fetch.
func (p *Provider) getStale(ctx context.Context) (*cached, error) {
	c := p.cur.Load()
	if p.closed.Load() {
		return nil, ErrClosed
	}
	if p.cfgErr != nil {
		return nil, p.cfgErr
	}
	if c != nil {
		now := p.now()
		if now.Before(c.refreshAt) {
			return c, nil
		}
		if c.tok.valid(now) {
			if p.flight.Load() == nil && now.UnixNano() >= p.retryAt.Load() {
				p.start(now, true, false)
			}
			return c, nil
		}
		if r := p.rot.Load(); r != nil && r.old == c {
			if n := p.graceExpired(r, now); n != nil {
				return n, nil
			}
		}
	}
	return p.wait(ctx)
}

// now reads the wall clock, without the monotonic reading that would make
// comparisons with it ignore a suspend or a clock step.
func (p *Provider) now() time.Time { return p.clock.Now().Round(0) }

// wait joins the refresh under way, or starts one, and waits for it as
// long as ctx allows and the Provider is open. Leaving early does not
// cancel the refresh.
func (p *Provider) wait(ctx context.Context) (*cached, error) {
	f, c, err := p.start(p.now(), false, false)
	if f == nil {
		return c, err
	}
	select {
	case <-f.done:
		if f.err != nil {
			return nil, f.err
		}
		return f.cur, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("headers: waiting for a token from %s: %w", p.name, context.Cause(ctx))
	case <-p.ctx.Done(): // closed, even if the source ignores cancellation
		return nil, ErrClosed
	}
}

// start returns the refresh under way or starts one. When no refresh is
// needed or allowed it returns no flight but the token to serve or the
// error to report instead. A caller with no valid token asks for a
// refresh that is not background; force starts one even for a fresh token
// and during a backoff.
func (p *Provider) start(now time.Time, background, force bool) (*flight, *cached, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.startLocked(now, background, force)
}

// startLocked is start for a caller that holds p.mu.
func (p *Provider) startLocked(now time.Time, background, force bool) (*flight, *cached, error) {
	if p.closed.Load() {
		return nil, nil, ErrClosed
	}
	if f := p.flight.Load(); f != nil {
		return f, nil, nil
	}
	c := p.cur.Load()
	valid := c != nil && c.tok.valid(now)
	if !force {
		if valid && (!background || now.Before(c.refreshAt)) {
			// Another caller's refresh finished since we looked.
			return nil, c, nil
		}
		if retryAt := p.retryAt.Load(); now.UnixNano() < retryAt {
			if valid {
				return nil, c, nil
			}
			return nil, nil, fmt.Errorf("headers: no valid token from %s (next attempt in %s): %w",
				p.name, time.Duration(retryAt-now.UnixNano()).Round(time.Millisecond), p.lastErr)
		}
	}
	f := &flight{done: make(chan struct{}), background: valid}
	p.flight.Store(f)
	p.wg.Add(1)
	go p.refresh(f)
	return f, nil, nil
}

// refresh calls the source and publishes the outcome. If the token is
// invalidated while the source runs, what it returns may be the token
// invalidated, so it asks once more, after telling an Invalidator.
func (p *Provider) refresh(f *flight) {
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	began := p.clock.Now()
	var (
		tok Token
		err error
		gen uint64
	)
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
	cancel()
	end := p.clock.Now()
	now := end.Round(0)
	tok.Expiry, tok.RefreshAt = tok.Expiry.Round(0), tok.RefreshAt.Round(0)
	if err == nil {
		err = checkToken(tok, now, p.scheme)
	}
	ev := RefreshEvent{Source: p.name, Background: f.background, Took: end.Sub(began)}
	var (
		newTok *jwtinfo.Info // set when the token is one not installed before
		oldKid string        // set when its kid differs from the last token's
		rotEv  *RotationEvent
	)

	p.mu.Lock()
	invalidated := p.gen != gen // again, during the second call
	switch {
	case err == nil && p.closed.Load():
		err = ErrClosed // Close ran meanwhile: install nothing it cannot stop
	case err == nil && invalidated && p.rejected != nil && p.rejected.Value() == tok.Value():
		err = errors.New("source returned the token invalidated while it ran")
	}
	if err != nil {
		p.failures++
		p.lastErr = err
		p.failuresTotal.Add(1)
		retry := now.Add(backoff(p.failures, err))
		if c := p.cur.Load(); c != nil && c.tok.valid(now) {
			// One more try shortly before the token expires, in the
			// background, rather than at expiry with every caller waiting.
			if last := c.tok.Expiry.Add(-finalTryLead(ev.Took)); !c.tok.Expiry.IsZero() && retry.After(last) && last.After(now) {
				retry = last
			}
			ev.TimeLeft = timeLeft(c.tok, now)
		}
		if invalidated {
			retry = now // the next call tries at once, as Invalidate promises
		}
		p.retryAt.Store(retry.UnixNano())
		ev.Err, ev.RetryIn = err, retry.Sub(now)
		f.err = fmt.Errorf("headers: fetching a token from %s: %w", p.name, err)
	} else {
		p.failures, p.lastErr = 0, nil
		p.refreshes.Add(1)
		p.retryAt.Store(0)
		f.cur = p.newCached(tok, now)
		var install bool
		if install, rotEv = p.refreshedLocked(f.cur, now); install {
			p.install(f.cur, now)
		}
		ev.Expiry, ev.TimeLeft = tok.Expiry, timeLeft(tok, now)
		if tok.Value() != p.lastValue {
			info, isJWT := jwtinfo.Read(tok.Value())
			newTok = &info
			if isJWT && p.lastValue != "" && info.KeyID != p.lastKid {
				oldKid = p.lastKid
			}
			p.lastValue, p.lastKid = tok.Value(), info.KeyID
		}
	}
	p.flight.Store(nil)
	p.mu.Unlock()
	// Close waits for the source, not for the records below, so that
	// OnRefresh may call Close.
	p.wg.Done()
	defer close(f.done) // after the event is out, so waiters see it
	p.emitRotation(rotEv)

	if ev.Err != nil {
		p.log.Warn("temporalauth: token refresh failed", "source", p.name,
			"time_left", ev.TimeLeft, "retry_in", ev.RetryIn, "error", ev.Err)
	} else if newTok != nil {
		attrs := []any{"source", p.name}
		for _, a := range [][2]string{{"kid", newTok.KeyID}, {"iss", newTok.Issuer}, {"sub", newTok.Subject}} {
			if a[1] != "" {
				attrs = append(attrs, a[0], a[1])
			}
		}
		expiry := any("never")
		if !ev.Expiry.IsZero() {
			expiry = ev.Expiry.UTC()
		}
		p.log.Info("temporalauth: new token", append(attrs, "expiry", expiry, "took", ev.Took)...)
		if oldKid != "" {
			p.log.Info("temporalauth: signing key changed", "source", p.name, "old_kid", oldKid, "new_kid", newTok.KeyID)
		}
	} else {
		p.log.Debug("temporalauth: token refreshed; the source returned the same token", "source", p.name,
			"time_left", ev.TimeLeft, "took", ev.Took)
	}
	if p.observe != nil {
		defer p.recoverPanic("OnRefresh", nil)
		p.observe(ev)
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
		// source that hands back the same cached token (MSAL does, inside
		// its own 5-minute buffer) must not be asked again on every call.
		leeway = min(leeway, left/2)
		// Spread a fleet's renewals over the last quarter of the leeway.
		leeway -= time.Duration(float64(leeway/4) * jitter())
		c.refreshAt = tok.Expiry.Add(-leeway)
	}
	if !tok.RefreshAt.IsZero() && tok.RefreshAt.Before(c.refreshAt) {
		c.refreshAt = tok.RefreshAt // in the past: at once
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

func timeLeft(tok Token, now time.Time) time.Duration {
	if tok.Expiry.IsZero() {
		return 0
	}
	return tok.Expiry.Sub(now)
}

// Invalidate drops the cached token: the next call fetches a new one, at
// once, ignoring any backoff. Use it when the server rejected the token;
// RetryUnauthorized does more gently, keeping a still-valid token until a
// replacement is in hand. A source that is an Invalidator is told about
// the dropped token before it is asked for the next. A refresh already
// under way asks the source again once it ends, and its second answer is
// served.
func (p *Provider) Invalidate() {
	p.mu.Lock()
	p.gen++
	if c := p.cur.Load(); c != nil {
		p.rejected = &c.tok
	}
	p.install(nil, time.Time{})
	p.retryAt.Store(0)
	ev := p.dropRotationLocked(p.now())
	p.mu.Unlock()
	p.emitRotation(ev)
}

// Stats returns a snapshot of the Provider's state.
func (p *Provider) Stats() Stats {
	p.mu.Lock()
	s := Stats{
		Refreshes:           p.refreshes.Load(),
		Failures:            p.failuresTotal.Load(),
		ConsecutiveFailures: p.failures,
		LastError:           p.lastErr,
		Refreshing:          p.flight.Load() != nil,
		Rotating:            p.rot.Load() != nil,
		SavedCalls:          p.saved.Load(),
		HeldCalls:           p.held.Load(),
	}
	p.mu.Unlock()
	if c := p.cur.Load(); c != nil {
		now := p.now()
		s.HasToken = c.tok.valid(now)
		if s.HasToken {
			s.Expiry, s.TimeLeft = c.tok.Expiry, timeLeft(c.tok, now)
		}
	}
	return s
}

// closeTimeout is CloseTimeout; tests shorten it.
var closeTimeout = CloseTimeout

// Close stops the Provider: a refresh under way is canceled and waited
// for, and later calls return ErrClosed. If the source is an io.Closer it
// is closed too, once, after its last call has returned. Close is
// idempotent and may be called from OnRefresh.
//
// A source that ignores the cancellation is waited for at most
// CloseTimeout: Close then returns an error saying so, while the call goes
// on in its goroutine; whatever it returns is discarded, and the source is
// closed (if it is an io.Closer) when it returns, the error of that being
// logged.
func (p *Provider) Close() error {
	p.mu.Lock()
	first := !p.closed.Swap(true)
	p.install(nil, time.Time{})
	p.rot.Store(nil)
	p.mu.Unlock()
	p.cancel()
	if first {
		go func() {
			p.wg.Wait()
			if c, ok := p.src.(io.Closer); ok {
				p.closingSource.Store(true)
				p.closeErr = c.Close()
			}
			close(p.stopped)
		}()
	}
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case <-p.stopped:
		if first {
			return p.closeErr
		}
		return nil
	case <-t.C:
	}
	what := "a call to the token source ignored cancellation"
	if p.closingSource.Load() {
		what = "the token source's Close has not returned"
	}
	p.log.Warn("temporalauth: "+what+"; Close stops waiting for it",
		"source", p.name, "waited", closeTimeout)
	go func() {
		<-p.stopped
		if p.closeErr != nil && first {
			p.log.Warn("temporalauth: closing the token source failed", "source", p.name, "error", p.closeErr)
		}
	}()
	if p.closingSource.Load() {
		return fmt.Errorf("headers: closing the provider for %s: the source's Close has not returned after %s; it is left to end on its own",
			p.name, closeTimeout)
	}
	return fmt.Errorf("headers: closing the provider for %s: a call to the source ignored cancellation for %s; it is left to end on its own, and the source is closed when it does",
		p.name, closeTimeout)
}

// String names the Provider and its source, never its token.
func (p *Provider) String() string { return "headers.Provider{source: " + p.name + "}" }

// GoString is String, for %#v.
func (p *Provider) GoString() string { return p.String() }
