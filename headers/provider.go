package headers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
