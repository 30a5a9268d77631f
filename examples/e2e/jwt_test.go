package e2e

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/temporalauth/temporalauth"
	"github.com/temporalauth/temporalauth/examples/hello"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/headers/clocktest"
	"github.com/temporalauth/temporalauth/jwtkey"
)

// workflowTimeout bounds one workflow of the load tests. Under a few
// workflows a second the embedded server now and then takes about 20 s to
// complete one (with or without any token change: a task waiting out a
// timeout), so this leaves room for that.
const workflowTimeout = time.Minute

// A worker and a starter with tokens signed by a local key run workflows,
// configured directly and through the environment.
func TestJWTWorkerAndStarter(t *testing.T) {
	t.Parallel()
	s := startLocalServer(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("headers provider", func(t *testing.T) {
		var workerCalls, starterCalls callCounter
		wp := provider(t, s.keyFile, []string{"default:write"}, nil)
		runWorker(t, s.HostPort(), wp, workerCalls.dialOption())
		sp := provider(t, s.keyFile, []string{"default:write"}, nil)
		c := mustDial(t, s.HostPort(), sp, starterCalls.dialOption())
		for i := range 3 {
			if err := runWorkflow(ctx, c); err != nil {
				t.Fatalf("workflow %d: %v", i, err)
			}
		}
		if n := workerCalls.denied.Load() + starterCalls.denied.Load(); n != 0 {
			t.Errorf("%d calls refused, want 0; last: %v", n, workerCalls.lastError())
		}
		for name, p := range map[string]*headers.Provider{"worker": wp, "starter": sp} {
			if st := p.Stats(); st.Refreshes != 1 {
				t.Errorf("%s provider signed %d tokens, want 1", name, st.Refreshes)
			}
		}
	})

	t.Run("LoadClientOptions", func(t *testing.T) {
		env := map[string]string{
			"TEMPORAL_ADDRESS":              s.HostPort(),
			"TEMPORAL_NAMESPACE":            namespace,
			"TEMPORAL_JWT_PRIVATE_KEY_FILE": s.keyFile,
			"TEMPORAL_JWT_PERMISSIONS":      "default:write",
			"TEMPORAL_CONFIG_FILE":          filepath.Join(t.TempDir(), "absent.toml"),
		}
		load := func() (client.Options, *temporalauth.Auth) {
			opts, auth, err := temporalauth.LoadClientOptions(temporalauth.EnvOptions{
				Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
				Logger: quietLogger,
			})
			if err != nil {
				t.Fatalf("LoadClientOptions: %v", err)
			}
			t.Cleanup(func() { _ = auth.Close() })
			if auth.Kind() != "jwt" {
				t.Fatalf("provider kind %q, want jwt", auth.Kind())
			}
			opts.Logger = quietSDKLogger
			return opts, auth
		}
		wopts, _ := load()
		wc, err := client.Dial(wopts)
		if err != nil {
			t.Fatalf("worker dial: %v", err)
		}
		defer wc.Close()
		w := worker.New(wc, hello.TaskQueue, worker.Options{})
		hello.Register(w)
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		defer w.Stop()

		sopts, _ := load()
		sc, err := client.Dial(sopts)
		if err != nil {
			t.Fatalf("starter dial: %v", err)
		}
		defer sc.Close()
		if err := runWorkflow(ctx, sc); err != nil {
			t.Fatal(err)
		}
	})
}

// Tokens that live 15 s are renewed before they expire while a worker runs
// for more than four lifetimes and a workflow starts every second: no call
// is refused, no workflow fails, and the providers sign about one token per
// lifetime, not one per call.
func TestJWTExpiryUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for a minute")
	}
	t.Parallel()
	const (
		lifetime  = 15 * time.Second
		lifetimes = 4
		duration  = lifetimes*lifetime + 2*time.Second
	)
	s := startLocalServer(t, 0)
	var workerCalls, starterCalls callCounter
	var workerTokens, starterTokens refreshCounter
	short := func(rc *refreshCounter) func(*jwtkey.Config, *headers.Options) {
		return func(cfg *jwtkey.Config, opts *headers.Options) {
			cfg.Expiration = lifetime
			// Renew 5 to 7 s before expiry (the default, 2.8 to 3.75 s for
			// a 15 s token, is less than a call can spend queued on a
			// loaded 2-core CI machine, where a token then expires in
			// flight and the SDK's 10 s call deadline may leave no time
			// for the retry).
			opts.Leeway = 7 * time.Second
			opts.OnRefresh = rc.onRefresh
		}
	}
	wp := provider(t, s.keyFile, []string{"default:write"}, short(&workerTokens))
	stopWorker := runWorker(t, s.HostPort(), wp, workerCalls.dialOption())
	sp := provider(t, s.keyFile, []string{"default:write"}, short(&starterTokens))
	c := mustDial(t, s.HostPort(), sp, starterCalls.dialOption())

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []error
		started  int
	)
	tick := time.NewTicker(time.Second)
	deadline := time.After(duration)
loop:
	for {
		select {
		case <-deadline:
			break loop
		case <-tick.C:
			started++
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
	tick.Stop()
	wg.Wait()
	stopWorker()

	t.Logf("%d workflows in %v; worker: %d calls, %d tokens; starter: %d calls, %d tokens",
		started, duration, workerCalls.calls.Load(), workerTokens.ok.Load(), starterCalls.calls.Load(), starterTokens.ok.Load())
	if len(failures) > 0 {
		t.Errorf("%d of %d workflows failed; first: %v", len(failures), started, failures[0])
	}
	if started < int(duration/time.Second)-2 {
		t.Errorf("only %d workflows started in %v", started, duration)
	}
	for name, cc := range map[string]*callCounter{"worker": &workerCalls, "starter": &starterCalls} {
		if n := cc.denied.Load(); n != 0 {
			t.Errorf("%s: %d calls refused, want 0; last: %v", name, n, cc.lastError())
		}
	}
	for name, rc := range map[string]*refreshCounter{"worker": &workerTokens, "starter": &starterTokens} {
		ok, failed := rc.ok.Load(), rc.failed.Load()
		if failed != 0 {
			t.Errorf("%s: %d failed token refreshes", name, failed)
		}
		if ok < lifetimes-1 || ok > 2*lifetimes+2 {
			t.Errorf("%s: signed %d tokens over %d lifetimes, want %d..%d", name, ok, lifetimes, lifetimes-1, 2*lifetimes+2)
		}
	}
	if calls := workerCalls.calls.Load(); calls < 2*workerTokens.ok.Load() {
		t.Errorf("worker made %d calls with %d tokens: tokens are not reused", calls, workerTokens.ok.Load())
	}
}

// A signing key is rotated under a running worker and starter: the new key
// is published next to the old one, the server refetches the JWKS, the key
// file is replaced and the providers invalidated, and the old key is
// withdrawn after another refresh. No workflow fails, no call is refused,
// and a token signed with the withdrawn key is then refused.
func TestJWTKeyRotation(t *testing.T) {
	t.Parallel()
	const refresh = time.Second
	// waitRefresh outlasts one refresh tick and the fetch it starts.
	const waitRefresh = 2*refresh + 500*time.Millisecond
	s := startLocalServer(t, refresh)
	var workerCalls, starterCalls callCounter
	wp := provider(t, s.keyFile, []string{"default:write"}, nil)
	stopWorker := runWorker(t, s.HostPort(), wp, workerCalls.dialOption())
	sp := provider(t, s.keyFile, []string{"default:write"}, nil)
	c := mustDial(t, s.HostPort(), sp, starterCalls.dialOption())
	oldToken, err := sp.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if kid := tokenKID(t, oldToken.Value()); kid != s.keyJWK.KeyID {
		t.Fatalf("first token kid %s, want the key file's %s", kid, s.keyJWK.KeyID)
	}

	// A workflow every 200 ms throughout the rotation.
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []error
		runs     int
	)
	done := make(chan struct{})
	stopLoad := sync.OnceFunc(func() {
		close(done)
		wg.Wait()
	})
	defer stopLoad() // on failure
	wg.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				runs++
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

	// 1. Publish the new key next to the old one; let the server fetch it.
	time.Sleep(time.Second)
	nextKey, newJWK := newKey(t)
	if err := s.auth.keys.Add(newJWK); err != nil {
		t.Fatal(err)
	}
	time.Sleep(waitRefresh)
	if err := jwtkey.WritePrivateKeyFile(s.keyFile, nextKey); err != nil {
		t.Fatal(err)
	}
	// 2. The signer now reads the new key; switch both providers at once.
	wp.Invalidate()
	sp.Invalidate()
	for name, p := range map[string]*headers.Provider{"worker": wp, "starter": sp} {
		tok, err := p.Token(context.Background())
		if err != nil {
			t.Fatalf("%s token after rotation: %v", name, err)
		}
		if kid := tokenKID(t, tok.Value()); kid != newJWK.KeyID {
			t.Fatalf("%s token kid after rotation %s, want the new key's %s", name, kid, newJWK.KeyID)
		}
	}
	// 3. Withdraw the old key once the server has fetched the JWKS again.
	time.Sleep(waitRefresh)
	if !s.auth.keys.Remove(s.keyJWK.KeyID) {
		t.Fatal("old key was not in the JWKS")
	}
	time.Sleep(waitRefresh + time.Second)

	stopLoad()
	stopWorker()
	t.Logf("%d workflows during the rotation; worker %d calls, starter %d calls", runs, workerCalls.calls.Load(), starterCalls.calls.Load())
	if len(failures) > 0 {
		t.Errorf("%d of %d workflows failed; first: %v", len(failures), runs, failures[0])
	}
	if runs < 20 {
		t.Errorf("only %d workflows ran during the rotation", runs)
	}
	for name, cc := range map[string]*callCounter{"worker": &workerCalls, "starter": &starterCalls} {
		if n := cc.denied.Load(); n != 0 {
			t.Errorf("%s: %d calls refused, want 0; last: %v", name, n, cc.lastError())
		}
	}
	// The withdrawn key is really gone: its still-unexpired token is refused.
	_, err = dial(t, s.HostPort(), bearer(oldToken.Value()))
	wantPermissionDenied(t, "dial with a token of the withdrawn key", err)
}

// The server refuses a call without a token, with an expired token, with a
// token signed by a key it does not know, and with a read token where write
// is needed.
func TestJWTServerRefuses(t *testing.T) {
	t.Parallel()
	s := startLocalServer(t, 0)
	unknownKey, _ := s.auth.newKeyFile(t, false)
	sign := func(t *testing.T, keyFile string, perms []string, now time.Time) bearer {
		t.Helper()
		signer, err := jwtkey.NewTokenSource(jwtkey.Config{
			KeyFile: keyFile, Permissions: perms, Expiration: time.Minute,
			Clock: clocktest.NewAt(now),
		})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := signer.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return bearer(tok.Value())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	startWorkflow := func(c client.Client) error {
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: hello.TaskQueue}, hello.Greet, hello.Name)
		return err
	}
	write := []string{"default:write"}

	tests := []struct {
		name string
		hp   headersProvider
		// dialRefused: an invalid token already fails Dial's
		// GetSystemInfo; a valid token (or none) fails at the first
		// namespace call.
		dialRefused bool
	}{
		{name: "no token", hp: nil},
		{name: "expired token", hp: sign(t, s.keyFile, write, time.Now().Add(-2*time.Minute)), dialRefused: true},
		{name: "unknown signing key", hp: sign(t, unknownKey, write, time.Now()), dialRefused: true},
		{name: "read where write is needed", hp: sign(t, s.keyFile, []string{"default:read"}, time.Now())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := dial(t, s.HostPort(), tt.hp)
			if tt.dialRefused {
				wantPermissionDenied(t, "dial", err)
				return
			}
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			wantPermissionDenied(t, "start workflow", startWorkflow(c))
		})
	}

	// Control: the same key with write permission is accepted, so the
	// refusals above are about the token, not the server.
	c := mustDial(t, s.HostPort(), sign(t, s.keyFile, write, time.Now()))
	if err := startWorkflow(c); err != nil {
		t.Fatalf("write token: %v", err)
	}
	// And the read token may read.
	rc := mustDial(t, s.HostPort(), sign(t, s.keyFile, []string{"default:read"}, time.Now()))
	if _, err := rc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace}); err != nil {
		t.Fatalf("read token describing the namespace: %v", err)
	}
}

// skewedClock is the system clock off by its value.
type skewedClock time.Duration

func (c skewedClock) Now() time.Time { return time.Now().Add(time.Duration(c)) }

func (skewedClock) AfterFunc(d time.Duration, f func()) headers.Timer { return time.AfterFunc(d, f) }

// A client whose clock runs 30 s ahead of the server's is accepted: the
// signer backdates iat and nbf by jwtkey.Config.ClockSkew (one minute by
// default). Without that backdating the server refuses its tokens.
func TestJWTClientClockAhead(t *testing.T) {
	t.Parallel()
	s := startLocalServer(t, 0)
	clockAhead := func(cfg *jwtkey.Config, _ *headers.Options) { cfg.Clock = skewedClock(30 * time.Second) }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	wp := provider(t, s.keyFile, []string{"default:write"}, clockAhead)
	runWorker(t, s.HostPort(), wp)
	sp := provider(t, s.keyFile, []string{"default:write"}, clockAhead)
	c := mustDial(t, s.HostPort(), sp)
	if err := runWorkflow(ctx, c); err != nil {
		t.Fatalf("client 30 s ahead: %v", err)
	}

	noSkew := provider(t, s.keyFile, []string{"default:write"}, func(cfg *jwtkey.Config, _ *headers.Options) {
		cfg.Clock = skewedClock(30 * time.Second)
		cfg.ClockSkew = -1 // no backdating: iat and nbf are 30 s in the server's future
	})
	_, err := dial(t, s.HostPort(), noSkew)
	wantPermissionDenied(t, "client 30 s ahead without clock skew allowance", err)
}
