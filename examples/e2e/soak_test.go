package e2e

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/jwtkey"
)

// soakEnv turns the soak test on and sets its length, e.g. 10m; CI runs
// it for 60s (scripts/test.sh). Unset, the test is skipped.
const soakEnv = "TEMPORALAUTH_SOAK"

// blipSource is a token source with outages: after goDown, it fails every
// call until blip has passed since the first call it failed.
type blipSource struct {
	headers.TokenSource
	blip  time.Duration
	fails atomic.Int64

	mu   sync.Mutex
	down bool
	upAt time.Time // zero until the outage's first failed call
}

func (b *blipSource) Token(ctx context.Context) (headers.Token, error) {
	b.mu.Lock()
	if b.down {
		now := time.Now()
		if b.upAt.IsZero() {
			b.upAt = now.Add(b.blip)
		}
		if now.Before(b.upAt) {
			b.mu.Unlock()
			b.fails.Add(1)
			return headers.Token{}, errors.New("identity provider unavailable (soak blip)")
		}
		b.down = false
	}
	b.mu.Unlock()
	return b.TokenSource.Token(ctx)
}

// goDown starts an outage.
func (b *blipSource) goDown() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down, b.upAt = true, time.Time{}
}

// isDown reports whether the outage has not ended yet.
func (b *blipSource) isDown() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.down
}

// TestSoak runs a worker and a starter on the real server with 20-second
// tokens through two signing-key rotations and two outages of the token
// source, shorter than a token's leeway: no workflow may fail.
func TestSoak(t *testing.T) {
	length, err := time.ParseDuration(os.Getenv(soakEnv))
	if err != nil || length <= 0 {
		t.Skipf("set %s to a duration (e.g. 10m) to run the soak test", soakEnv)
	}
	t.Parallel()
	const (
		refresh     = time.Second
		waitRefresh = 2*refresh + 500*time.Millisecond
		lifetime    = 20 * time.Second
		blip        = 2 * time.Second // from the first failure: under the 5s leeway of a 20s token
	)
	s := startLocalServer(t, refresh)
	newProvider := func() (*headers.Provider, *blipSource) {
		signer, err := jwtkey.NewTokenSource(jwtkey.Config{KeyFile: s.keyFile, Subject: "e2e-soak",
			Permissions: []string{"default:write"}, Expiration: lifetime})
		if err != nil {
			t.Fatal(err)
		}
		src := &blipSource{TokenSource: signer, blip: blip}
		p := headers.New(src, headers.Options{Logger: quietLogger})
		t.Cleanup(func() { p.Close() })
		return p, src
	}
	wp, wsrc := newProvider()
	sp, ssrc := newProvider()
	var workerCalls, starterCalls callCounter
	stopWorker := runWorker(t, s.HostPort(), wp, workerCalls.dialOption(), wp.RetryUnauthorized())
	c := mustDial(t, s.HostPort(), sp, starterCalls.dialOption(), sp.RetryUnauthorized())

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []error
		runs     atomic.Int64
	)
	done := make(chan struct{})
	wg.Go(func() {
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				runs.Add(1)
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), workflowTimeout)
					defer cancel()
					if err := runWorkflow(ctx, c); err != nil {
						mu.Lock()
						failures = append(failures, err)
						mu.Unlock()
					}
				})
			}
		}
	})

	start := time.Now()
	at := func(frac float64) { time.Sleep(time.Until(start.Add(time.Duration(frac * float64(length))))) }
	// outage takes the token sources down until each has failed its
	// refreshes for blip: callers must ride it out on the still-valid
	// token while the refresh backs off. Each source's outage is timed
	// from its own first failure, as the providers' refresh times differ.
	outage := func() {
		wsrc.goDown()
		ssrc.goDown()
		deadline := time.Now().Add(lifetime + blip + waitRefresh)
		for (wsrc.isDown() || ssrc.isDown()) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	old := s.keyJWK
	rotate := func() {
		key, jwk := newKey(t)
		if err := s.auth.keys.Add(jwk); err != nil {
			t.Error(err)
			return
		}
		time.Sleep(waitRefresh) // the server knows the new key before any token uses it
		if err := jwtkey.WritePrivateKeyFile(s.keyFile, key); err != nil {
			t.Error(err)
			return
		}
		// Tokens of the old key stay valid until they expire; withdraw it
		// after that, as an operator would.
		time.Sleep(lifetime + waitRefresh)
		if !s.auth.keys.Remove(old.KeyID) {
			t.Errorf("key %s was not published", old.KeyID)
		}
		old = jwk
	}
	at(0.1)
	outage()
	at(0.2)
	rotate()
	at(0.5)
	outage()
	at(0.6)
	rotate()
	at(1)

	close(done)
	wg.Wait()
	stopWorker()
	t.Logf("soak %s: %d workflows; worker %d calls, %d source failures; starter %d calls, %d source failures; tokens: worker %d, starter %d",
		length, runs.Load(), workerCalls.calls.Load(), wsrc.fails.Load(), starterCalls.calls.Load(), ssrc.fails.Load(),
		wp.Stats().Refreshes, sp.Stats().Refreshes)
	if wsrc.fails.Load() < 2 || ssrc.fails.Load() < 2 {
		t.Errorf("the outages caused %d and %d failed refreshes, want at least one each", wsrc.fails.Load(), ssrc.fails.Load())
	}
	if len(failures) > 0 {
		t.Errorf("%d of %d workflows failed; first: %v", len(failures), runs.Load(), failures[0])
	}
	for name, cc := range map[string]*callCounter{"worker": &workerCalls, "starter": &starterCalls} {
		if n := cc.denied.Load(); n != 0 {
			t.Errorf("%s: %d calls refused, want 0; last: %v", name, n, cc.lastError())
		}
	}
}
