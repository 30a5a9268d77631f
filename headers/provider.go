package headers

import (
	"context"
	"errors"
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
)

// ErrClosed is returned by a Provider after Close.
var ErrClosed = errors.New("headers: provider closed")

// Options configure a Provider. The zero value is ready to use; every field
// documents its default.
type Options struct {
	// Leeway is how long before a token's expiry the Provider fetches the
	// next one, in the background, while it keeps serving the current
	// token. Zero means the smaller of MaxDefaultLeeway and a quarter of the
	// token's lifetime. A leeway longer than half the time a token has left
	// when it arrives is shortened to that half, so short-lived tokens are
	// not refetched on every call.
	Leeway time.Duration

	// RefreshTimeout bounds each call to the source. Zero means
	// DefaultRefreshTimeout.
	RefreshTimeout time.Duration

	// Header is the metadata key to set. Empty means DefaultHeader. It is
	// lowercased, as gRPC metadata keys must be.
	Header string

	// Scheme prefixes the token, separated by a space. Empty means
	// DefaultScheme; the Temporal server rejects a token without a scheme.
	Scheme string

	// Name identifies the source in logs and errors. Empty means the
	// source's String method, if it has one, else its type.
	Name string

	// Logger receives a debug record per refresh and a warning per failed
	// refresh. Nil means slog.Default(). Records never hold a token.
	Logger *slog.Logger

	// Clock tells the time and times the switch from serving the cached
	// token to refreshing it. Nil means the system clock. Tests set it.
	Clock Clock

	// OnRefresh, when set, is called after every call to the source, from
	// the goroutine that made it. It must not block.
	OnRefresh func(RefreshEvent)
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
}

// A Provider caches the token from a TokenSource and serves it as gRPC
// headers. It satisfies go.temporal.io/sdk's client.HeadersProvider: set it
// as client.Options.HeadersProvider. It is safe for concurrent use.
//
// A fresh token is served without locking or allocating. Once a token is
// within the leeway of its expiry, one background refresh runs while every
// caller keeps getting the still-valid token; a failed refresh is retried
// with exponential backoff (1 s doubling to 30 s, with jitter, at least any
// Retry-After the source reports) until the token expires. When there is no
// valid token, callers wait for one shared refresh, each for as long as its
// own context allows. A token is never served after its expiry.
type Provider struct {
	src     TokenSource
	name    string
	header  string
	scheme  string
	leeway  time.Duration
	timeout time.Duration
	log     *slog.Logger
	clock   Clock
	observe func(RefreshEvent)

	cur     atomic.Pointer[cached] // the token being served; nil if none
	flight  atomic.Pointer[flight] // the refresh under way; nil if none
	retryAt atomic.Int64           // UnixNano before which no refresh starts
	closed  atomic.Bool

	mu       sync.Mutex // serializes starting and finishing refreshes
	failures int        // consecutive; guarded by mu
	lastErr  error      // guarded by mu
	timer    Timer      // marks cur stale at its refresh time; guarded by mu

	refreshes     atomic.Int64
	failuresTotal atomic.Int64

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// cached is a token with its header map and refresh time. Only stale
// changes: a timer sets it at refreshAt, so that the hot path can tell a
// fresh token without reading the clock.
type cached struct {
	tok       Token
	headers   map[string]string
	refreshAt time.Time
	fetched   time.Time
	stale     atomic.Bool
}

// flight is one call to the source; done closes when it ends.
type flight struct {
	done       chan struct{}
	background bool
	cur        *cached
	err        error
}

// New returns a Provider that serves tokens from src. It fetches nothing
// until the first call. Call Close when done with it.
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
		observe: opts.OnRefresh,
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
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.clock == nil {
		p.clock = systemClock{}
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
// serving a fresh token costs the SDK one function call.
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
	if c != nil {
		now := p.clock.Now()
		if now.Before(c.refreshAt) {
			return c, nil
		}
		if c.tok.valid(now) {
			if p.flight.Load() == nil && now.UnixNano() >= p.retryAt.Load() {
				p.start(now, true)
			}
			return c, nil
		}
	}
	return p.wait(ctx)
}

// wait joins the refresh under way, or starts one, and waits for it as
// long as ctx allows. Leaving early does not cancel the refresh.
func (p *Provider) wait(ctx context.Context) (*cached, error) {
	f, c, err := p.start(p.clock.Now(), false)
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
	}
}

// start returns the refresh under way or starts one. When no refresh is
// needed or allowed it returns no flight but the token to serve or the
// error to report instead.
func (p *Provider) start(now time.Time, background bool) (*flight, *cached, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return nil, nil, ErrClosed
	}
	if f := p.flight.Load(); f != nil {
		return f, nil, nil
	}
	c := p.cur.Load()
	valid := c != nil && c.tok.valid(now)
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
	f := &flight{done: make(chan struct{}), background: valid}
	p.flight.Store(f)
	p.wg.Add(1)
	go p.refresh(f)
	return f, nil, nil
}

// refresh calls the source once and publishes the outcome.
func (p *Provider) refresh(f *flight) {
	defer p.wg.Done()
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	began := p.clock.Now()
	tok, err := p.src.Token(ctx)
	cancel()
	now := p.clock.Now()
	if err == nil {
		err = checkToken(tok, now)
	}
	ev := RefreshEvent{Source: p.name, Background: f.background, Took: now.Sub(began)}

	p.mu.Lock()
	if err == nil && p.closed.Load() {
		err = ErrClosed // Close ran meanwhile: install nothing it cannot stop
	}
	if err != nil {
		p.failures++
		p.lastErr = err
		p.failuresTotal.Add(1)
		retry := now.Add(backoff(p.failures, err))
		if c := p.cur.Load(); c != nil && c.tok.valid(now) {
			if !c.tok.Expiry.IsZero() && retry.After(c.tok.Expiry) {
				retry = c.tok.Expiry // try once more the moment callers would block
			}
			ev.TimeLeft = timeLeft(c.tok, now)
		}
		p.retryAt.Store(retry.UnixNano())
		ev.Err, ev.RetryIn = err, retry.Sub(now)
		f.err = fmt.Errorf("headers: fetching a token from %s: %w", p.name, err)
	} else {
		p.failures, p.lastErr = 0, nil
		p.refreshes.Add(1)
		p.retryAt.Store(0)
		f.cur = p.newCached(tok, now)
		p.install(f.cur, now)
		ev.Expiry, ev.TimeLeft = tok.Expiry, timeLeft(tok, now)
	}
	p.flight.Store(nil)
	p.mu.Unlock()
	defer close(f.done) // after the event is out, so waiters see it

	if ev.Err != nil {
		p.log.Warn("temporalauth: token refresh failed", "source", p.name,
			"time_left", ev.TimeLeft, "retry_in", ev.RetryIn, "error", ev.Err)
	} else {
		p.log.Debug("temporalauth: token refreshed", "source", p.name,
			"time_left", ev.TimeLeft, "took", ev.Took)
	}
	if p.observe != nil {
		p.observe(ev)
	}
}

// newCached builds the cache entry for a token fetched at now.
func (p *Provider) newCached(tok Token, now time.Time) *cached {
	c := &cached{
		tok:       tok,
		headers:   map[string]string{p.header: p.scheme + " " + tok.Value},
		refreshAt: farFuture,
		fetched:   now,
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
		c.refreshAt = tok.Expiry.Add(-min(leeway, left/2))
	}
	if tok.RefreshAt.After(now) && tok.RefreshAt.Before(c.refreshAt) {
		c.refreshAt = tok.RefreshAt
	}
	return c
}

// install makes c the token served, and arms the timer that marks it
// stale at its refresh time. Callers hold p.mu.
func (p *Provider) install(c *cached, now time.Time) {
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.cur.Store(c)
	if c != nil && c.refreshAt != farFuture {
		p.timer = p.clock.AfterFunc(c.refreshAt.Sub(now), func() { c.stale.Store(true) })
	}
}

// farFuture is the refresh time of a token that never expires.
var farFuture = time.Unix(1<<62, 0)

// checkToken rejects a token the Provider must not serve.
func checkToken(tok Token, now time.Time) error {
	if tok.Value == "" {
		return errors.New("source returned an empty token")
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
// once, ignoring any backoff. Use it when the server rejected the token. A
// refresh already under way is left to finish and its token is served.
func (p *Provider) Invalidate() {
	p.mu.Lock()
	p.install(nil, time.Time{})
	p.retryAt.Store(0)
	p.mu.Unlock()
}

// Stats returns a snapshot of the Provider's state.
func (p *Provider) Stats() Stats {
	p.mu.Lock()
	s := Stats{
		Refreshes:           p.refreshes.Load(),
		Failures:            p.failuresTotal.Load(),
		ConsecutiveFailures: p.failures,
		LastError:           p.lastErr,
	}
	p.mu.Unlock()
	if c := p.cur.Load(); c != nil {
		now := p.clock.Now()
		s.HasToken = c.tok.valid(now)
		if s.HasToken {
			s.Expiry, s.TimeLeft = c.tok.Expiry, timeLeft(c.tok, now)
		}
	}
	return s
}

// Close stops the Provider: a refresh under way is canceled and waited
// for, and later calls return ErrClosed. If the source is an io.Closer it
// is closed too, once. Close is idempotent.
func (p *Provider) Close() error {
	p.mu.Lock()
	first := !p.closed.Swap(true)
	p.install(nil, time.Time{})
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	if c, ok := p.src.(io.Closer); ok && first {
		return c.Close()
	}
	return nil
}

// String names the Provider and its source, never its token.
func (p *Provider) String() string { return "headers.Provider{source: " + p.name + "}" }

// GoString is String, for %#v.
func (p *Provider) GoString() string { return p.String() }
