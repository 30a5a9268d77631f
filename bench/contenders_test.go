package bench

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"cloud.google.com/go/auth"
	"github.com/temporalauth/temporalauth/headers"
	"golang.org/x/oauth2"
)

// headersProvider is the method the Temporal SDK calls before every RPC
// attempt (its HeadersProvider interface is internal).
type headersProvider interface {
	GetHeaders(ctx context.Context) (map[string]string, error)
}

// The header every contender sets, as headers.Provider sets it by default.
const (
	headerKey    = headers.DefaultHeader
	headerPrefix = headers.DefaultScheme + " "
)

// Early-expiry settings of the peers, as a user would configure them.
const (
	// oauth2EarlyExpiry is oauth2's default expiry delta, passed explicitly
	// to ReuseTokenSourceWithExpiry.
	oauth2EarlyExpiry = 10 * time.Second
	// gauthEarlyExpiry is cloud.google.com/go/auth's default ExpireEarly
	// (3m45s); the contenders leave it unset and this documents it.
	gauthEarlyExpiry = 225 * time.Second
	// samplesRegenLeeway is the serverjwtauth sample's default RegenLeeway.
	samplesRegenLeeway = time.Minute
)

// A contender is one token cache under test.
type contender struct {
	name string
	// clocked reports whether the cache reads the time from the clock it
	// is given. The others read the wall clock and are set up with tokens
	// whose expiry is near in wall time.
	clocked bool
	// build returns the cache over src, reading the time from clk (nil
	// means the system clock) if clocked, and a function that releases it.
	build func(src *tokenSource, clk headers.Clock) (headersProvider, func())
}

// contenders lists ours (default, and reading the clock per call), the
// peers and the floor, in the order the tables
// in BENCHMARKS.md show them.
var contenders = []contender{
	{name: "ours", clocked: true, build: buildOurs},
	{name: "ours-percall", clocked: true, build: buildOursPerCall},
	{name: "oauth2", build: buildOAuth2},
	{name: "gauth", build: buildGAuth(false)},
	{name: "gauth-blocking", build: buildGAuth(true)},
	{name: "samples", clocked: true, build: buildSamples},
	{name: "floor", clocked: true, build: buildFloor},
}

// discardLogger keeps refresh records out of benchmark output.
var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

func buildOurs(src *tokenSource, clk headers.Clock) (headersProvider, func()) {
	p := headers.New(src.headersSource(), headers.Options{Clock: clk, Logger: discardLogger})
	return p, func() { p.Close() }
}

// buildOursPerCall is ours reading the wall clock on every call
// (WallClockCheck < 0), the alternative to its default of timers that
// re-read it at least every second.
func buildOursPerCall(src *tokenSource, clk headers.Clock) (headersProvider, func()) {
	p := headers.New(src.headersSource(), headers.Options{Clock: clk, Logger: discardLogger, WallClockCheck: -1})
	return p, func() { p.Close() }
}

// oauth2Headers wraps an oauth2.TokenSource the way a user would: it builds
// the header map from the token on every call.
type oauth2Headers struct{ ts oauth2.TokenSource }

func (h oauth2Headers) GetHeaders(context.Context) (map[string]string, error) {
	tok, err := h.ts.Token()
	if err != nil {
		return nil, err
	}
	return map[string]string{headerKey: headerPrefix + tok.AccessToken}, nil
}

// oauth2Source adapts a tokenSource to oauth2.TokenSource, whose Token
// method takes no context.
type oauth2Source struct{ src *tokenSource }

func (s oauth2Source) Token() (*oauth2.Token, error) {
	value, expiry, err := s.src.fetch(context.Background())
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: value, TokenType: "Bearer", Expiry: expiry}, nil
}

func buildOAuth2(src *tokenSource, _ headers.Clock) (headersProvider, func()) {
	ts := oauth2.ReuseTokenSourceWithExpiry(nil, oauth2Source{src}, oauth2EarlyExpiry)
	return oauth2Headers{ts}, func() {}
}

// gauthHeaders wraps a cloud.google.com/go/auth TokenProvider, building the
// header map on every call.
type gauthHeaders struct{ tp auth.TokenProvider }

func (h gauthHeaders) GetHeaders(ctx context.Context) (map[string]string, error) {
	tok, err := h.tp.Token(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]string{headerKey: headerPrefix + tok.Value}, nil
}

// gauthSource adapts a tokenSource to auth.TokenProvider.
type gauthSource struct{ src *tokenSource }

func (s gauthSource) Token(ctx context.Context) (*auth.Token, error) {
	value, expiry, err := s.src.fetch(ctx)
	if err != nil {
		return nil, err
	}
	return &auth.Token{Value: value, Type: "Bearer", Expiry: expiry}, nil
}

// buildGAuth builds cloud.google.com/go/auth's cached provider with its
// defaults (asynchronous refresh in the 3m45s before expiry), or with
// DisableAsyncRefresh.
func buildGAuth(blocking bool) func(*tokenSource, headers.Clock) (headersProvider, func()) {
	return func(src *tokenSource, _ headers.Clock) (headersProvider, func()) {
		var opts *auth.CachedTokenProviderOptions
		if blocking {
			opts = &auth.CachedTokenProviderOptions{DisableAsyncRefresh: true}
		}
		return gauthHeaders{auth.NewCachedTokenProvider(gauthSource{src}, opts)}, func() {}
	}
}

// samplesHeaders caches a token the way the serverjwtauth sample does:
// callers read the token and its regeneration time under a read lock; a
// caller that finds the regeneration time passed fetches a new token
// itself, outside the lock, and stores it under the write lock. There is no
// single-flight, so concurrent callers may each fetch, and every caller
// reads the clock. The header map is built on every call.
type samplesHeaders struct {
	src    *tokenSource
	now    func() time.Time
	leeway time.Duration

	mu      sync.RWMutex
	token   string
	regenAt time.Time
}

func (h *samplesHeaders) GetHeaders(ctx context.Context) (map[string]string, error) {
	h.mu.RLock()
	token, regenAt := h.token, h.regenAt
	h.mu.RUnlock()
	if h.now().After(regenAt) {
		value, expiry, err := h.src.fetch(ctx)
		if err != nil {
			return nil, err
		}
		token = value
		h.mu.Lock()
		h.token, h.regenAt = value, expiry.Add(-h.leeway)
		h.mu.Unlock()
	}
	return map[string]string{headerKey: headerPrefix + token}, nil
}

func buildSamples(src *tokenSource, clk headers.Clock) (headersProvider, func()) {
	now := time.Now
	if clk != nil {
		now = clk.Now
	}
	return &samplesHeaders{src: src, now: now, leeway: samplesRegenLeeway}, func() {}
}

// floorHeaders returns a constant map: the least a HeadersProvider can do.
type floorHeaders struct{ m map[string]string }

func (h floorHeaders) GetHeaders(context.Context) (map[string]string, error) { return h.m, nil }

func buildFloor(*tokenSource, headers.Clock) (headersProvider, func()) {
	return floorHeaders{map[string]string{headerKey: headerPrefix + "constant"}}, func() {}
}
