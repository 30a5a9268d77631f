package bench

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/temporalauth/temporalauth/headers"
)

// A tokenSource stands in for an identity provider: every fetch counts as
// one call, takes delay and returns a new token that lives for life from
// now(). It is shared by all contenders, each wrapping it in its own
// source interface.
type tokenSource struct {
	now   func() time.Time
	life  time.Duration
	delay atomic.Int64 // time.Duration

	calls    atomic.Int64 // fetches made, primed ones excluded
	lastCall atomic.Int64 // now() of the last counted fetch, in UnixNano
	active   atomic.Int64 // fetches under way
	seq      atomic.Int64 // numbers token values

	primed atomic.Pointer[time.Time] // expiry of the next token, served at once
}

func newTokenSource(now func() time.Time, life time.Duration) *tokenSource {
	return &tokenSource{now: now, life: life}
}

// prime makes the next fetch return at once, uncounted, a token that
// expires at expiry: the token the cache holds when a benchmark begins.
func (s *tokenSource) prime(expiry time.Time) { s.primed.Store(&expiry) }

// setDelay sets how long each later fetch takes.
func (s *tokenSource) setDelay(d time.Duration) { s.delay.Store(int64(d)) }

// fetch returns a new token value and its expiry.
func (s *tokenSource) fetch(ctx context.Context) (string, time.Time, error) {
	n := s.seq.Add(1)
	value := "token-" + strconv.FormatInt(n, 10)
	if expiry := s.primed.Swap(nil); expiry != nil {
		return value, *expiry, nil
	}
	s.calls.Add(1)
	s.lastCall.Store(s.now().UnixNano())
	s.active.Add(1)
	defer s.active.Add(-1)
	if d := time.Duration(s.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return "", time.Time{}, ctx.Err()
		}
	}
	return value, s.now().Add(s.life), nil
}

// headersSource adapts s to headers.TokenSource.
func (s *tokenSource) headersSource() headers.TokenSource {
	return headers.TokenSourceFunc(func(ctx context.Context) (headers.Token, error) {
		value, expiry, err := s.fetch(ctx)
		if err != nil {
			return headers.Token{}, err
		}
		return headers.NewToken(value, expiry), nil
	})
}
