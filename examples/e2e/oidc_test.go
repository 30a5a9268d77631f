package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"

	"github.com/temporalauth/temporalauth/examples/devserver"
	"github.com/temporalauth/temporalauth/examples/internal/hydratest"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/jwtkey"
	"github.com/temporalauth/temporalauth/oidc"
)

// The OIDC tests run a real identity provider, Ory Hydra v2.3.0, and the
// embedded Temporal server configured as a team running Temporal behind
// Hydra (or Okta, whose tokens look alike) configures it: permissions are
// the granted scopes, which Hydra puts in the "scp" claim as an array, and
// the keys come from Hydra's JWKS. The clients are configured through the
// TEMPORAL_OIDC_* variables (oidc.ConfigFromLookup), as a worker in a
// container would be.

// oidcEnv is a set of TEMPORAL_OIDC_* variables.
type oidcEnv map[string]string

func (e oidcEnv) lookup(k string) (string, bool) { v, ok := e[k]; return v, ok }

// oidcIdP is Hydra with the server's operator client registered.
type oidcIdP struct {
	*hydratest.Server
	admin hydratest.Client
}

// oidcStartIdP starts Hydra; lifespan is its access-token lifetime (0: an hour).
func oidcStartIdP(t *testing.T, lifespan time.Duration) *oidcIdP {
	t.Helper()
	began := time.Now()
	idp := &oidcIdP{Server: hydratest.Start(t, hydratest.Options{AccessTokenLifespan: lifespan})}
	idp.admin = idp.client(t, hydratest.ClientSpec{ID: "oidc-e2e-operator", Scopes: []string{azureRoleSystemAdmin}})
	t.Logf("hydra at %s ready in %v", idp.Issuer(), time.Since(began).Round(time.Millisecond))
	return idp
}

// client registers a client for the client-credentials grant.
func (idp *oidcIdP) client(t *testing.T, spec hydratest.ClientSpec) hydratest.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := idp.CreateClient(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// env returns the variables of a client that authenticates with a secret,
// found by discovery from the issuer.
func (idp *oidcIdP) env(c hydratest.Client) oidcEnv {
	return oidcEnv{
		oidc.EnvIssuer:       idp.Issuer(),
		oidc.EnvClientID:     c.ID,
		oidc.EnvClientSecret: c.Secret,
		oidc.EnvAuthMethod:   string(c.AuthMethod),
		oidc.EnvScopes:       strings.Join(c.Scopes, ","),
	}
}

// oidcProvider builds a headers.Provider from env; it is closed when the test ends.
func oidcProvider(t *testing.T, env oidcEnv, opts headers.Options) *headers.Provider {
	t.Helper()
	cfg, err := oidc.ConfigFromLookup(env.lookup)
	if err != nil {
		t.Fatalf("oidc.ConfigFromLookup: %v", err)
	}
	if opts.Logger == nil {
		opts.Logger = azureQuietLogger
	}
	p, err := oidc.NewProvider(cfg, opts)
	if err != nil {
		t.Fatalf("oidc.NewProvider: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// oidcStartServer starts the embedded Temporal server with Hydra's JWKS as
// its key source, "scp" as its permissions claim, and refresh as its key
// refresh interval; the namespace is registered with the operator's token.
func oidcStartServer(t *testing.T, idp *oidcIdP, refresh time.Duration) (*devserver.Server, *observer.ObservedLogs) {
	t.Helper()
	logger, logs := azureServerLog()
	began := time.Now()
	srv, err := devserver.Start(devserver.Config{
		Logger:               logger,
		JWKSURLs:             []string{idp.JWKSURL()},
		RefreshInterval:      refresh,
		PermissionsClaimName: "scp",
		Namespaces:           []string{azureNamespace},
		SystemHeaders:        oidcProvider(t, idp.env(idp.admin), headers.Options{}),
	})
	if err != nil {
		t.Fatalf("devserver.Start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	t.Logf("temporal server at %s ready in %v", srv.HostPort(), time.Since(began).Round(time.Millisecond))
	return srv, logs
}

// oidcDial connects a client with the provider's RetryUnauthorized recovery.
func oidcDial(t *testing.T, srv *devserver.Server, p *headers.Provider) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:          srv.HostPort(),
		Namespace:         azureNamespace,
		HeadersProvider:   p,
		Logger:            sdklog.NewStructuredLogger(azureQuietLogger),
		ConnectionOptions: client.ConnectionOptions{DialOptions: []grpc.DialOption{p.RetryUnauthorized()}},
	})
	if err != nil {
		t.Fatalf("client.Dial: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// oidcKeyClient registers a private_key_jwt client whose P-256 key is in a
// PEM file, and returns its variables.
func (idp *oidcIdP) keyClient(t *testing.T, id string, scopes ...string) oidcEnv {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), id+".pem")
	if err := jwtkey.WritePrivateKeyFile(path, key); err != nil {
		t.Fatal(err)
	}
	c := idp.client(t, hydratest.ClientSpec{ID: id, Scopes: scopes, AuthMethod: hydratest.PrivateKeyJWT,
		PublicKey: &key.PublicKey, KeyID: id + "-key"})
	return oidcEnv{
		oidc.EnvTokenURL:       idp.TokenURL(),
		oidc.EnvClientID:       c.ID,
		oidc.EnvPrivateKeyFile: path,
		oidc.EnvKeyID:          id + "-key",
		oidc.EnvScopes:         strings.Join(scopes, " "),
	}
}

// TestOIDCAuthMethods runs a worker and a starter with each client
// authentication method against Hydra and checks that their workflows
// complete, that each client asked Hydra for one token in the token's
// lifetime, and that the tokens are what Hydra issued.
func TestOIDCAuthMethods(t *testing.T) {
	idp := oidcStartIdP(t, 0) // Hydra's default: tokens live an hour
	srv, logs := oidcStartServer(t, idp, time.Minute)
	if n := idp.TokenRequests(); n != 1 {
		t.Errorf("token requests after the server's setup: %d, want 1 (the operator's)", n)
	}

	methods := []struct {
		name string
		env  func(role string) oidcEnv
	}{
		{"client_secret_basic", func(role string) oidcEnv {
			return idp.env(idp.client(t, hydratest.ClientSpec{ID: "basic-" + role, Scopes: []string{azureRoleWrite}}))
		}},
		{"client_secret_post", func(role string) oidcEnv {
			return idp.env(idp.client(t, hydratest.ClientSpec{ID: "post-" + role, Scopes: []string{azureRoleWrite},
				AuthMethod: hydratest.ClientSecretPost}))
		}},
		{"private_key_jwt", func(role string) oidcEnv { return idp.keyClient(t, "pkjwt-"+role, azureRoleWrite) }},
	}
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			before := idp.TokenRequests()
			queue := "oidc-" + m.name
			workerAuth := oidcProvider(t, m.env("worker"), headers.Options{})
			azureStartWorker(t, oidcDial(t, srv, workerAuth), queue)
			starterAuth := oidcProvider(t, m.env("starter"), headers.Options{})
			starter := oidcDial(t, srv, starterAuth)

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			const runs = 10
			began := time.Now()
			for i := range runs {
				if err := azureRun(ctx, starter, queue, m.name); err != nil {
					t.Fatalf("workflow %d: %v", i, err)
				}
			}
			t.Logf("%d workflows in %v", runs, time.Since(began).Round(time.Millisecond))

			tok, err := starterAuth.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			claims := oidcClaims(t, tok.Value())
			if claims["iss"] != strings.TrimSuffix(idp.Issuer(), "/") && claims["iss"] != idp.Issuer() {
				t.Errorf("iss %v, want Hydra's %s", claims["iss"], idp.Issuer())
			}
			if fmt.Sprint(claims["scp"]) != "["+azureRoleWrite+"]" {
				t.Errorf("scp %v, want [%s]", claims["scp"], azureRoleWrite)
			}
			if left := time.Until(tok.Expiry); left < 50*time.Minute {
				t.Errorf("token expires in %v, want about an hour (expires_in)", left)
			}
			// One token request per client for the token's lifetime.
			if n := idp.TokenRequests() - before; n != 2 {
				t.Errorf("token requests: %d for a worker and a starter, want 2", n)
			}
			for who, p := range map[string]*headers.Provider{"worker": workerAuth, "starter": starterAuth} {
				if s := p.Stats(); s.Refreshes != 1 || s.Failures != 0 {
					t.Errorf("%s provider: %d refreshes, %d failures; want 1 and 0", who, s.Refreshes, s.Failures)
				}
			}
		})
	}
	if r := azureRefusals(logs); len(r) > 0 {
		t.Errorf("server refused tokens: %q", r)
	}
	t.Logf("hydra: %d token requests, %d discovery requests, %d JWKS requests",
		idp.TokenRequests(), idp.Requests(hydratest.DiscoveryPath), idp.JWKSRequests())
}

// oidcClaims decodes a token's claims without verifying it.
func oidcClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		t.Fatalf("token claims: %v", err)
	}
	return claims
}

// TestOIDCBadCredentials checks what a platform engineer sees for a wrong
// secret, an unknown client and a scope the client may not have: an error
// from Hydra's answer that names the variable to fix, from the Provider and
// from client.Dial, and nothing of the secret.
func TestOIDCBadCredentials(t *testing.T) {
	idp := oidcStartIdP(t, 0)
	good := idp.client(t, hydratest.ClientSpec{ID: "oidc-e2e-worker", Scopes: []string{azureRoleWrite}})
	const wrongSecret = "not-the-secret-7f3a"
	cases := []struct {
		name    string
		edit    func(oidcEnv)
		code    string
		setting string
		names   []string
	}{
		{"wrong secret", func(e oidcEnv) { e[oidc.EnvClientSecret] = wrongSecret },
			"invalid_client", oidc.EnvClientSecret, []string{oidc.EnvClientID, oidc.EnvClientSecret}},
		{"unknown client", func(e oidcEnv) { e[oidc.EnvClientID] = "no-such-client"; e[oidc.EnvClientSecret] = wrongSecret },
			"invalid_client", oidc.EnvClientSecret, []string{oidc.EnvClientID, oidc.EnvClientSecret}},
		{"scope not granted", func(e oidcEnv) { e[oidc.EnvScopes] = "temporal-system:admin" },
			"invalid_scope", oidc.EnvScopes, []string{oidc.EnvScopes}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := idp.env(good)
			tc.edit(env)
			p := oidcProvider(t, env, headers.Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := p.Token(ctx)
			var re *oidc.ResponseError
			if !errors.As(err, &re) {
				t.Fatalf("Token: %v (%T), want an *oidc.ResponseError", err, err)
			}
			if re.ErrorCode != tc.code || len(re.Check) == 0 || re.Check[0] != tc.setting {
				t.Errorf("error code %q check %q, want %q and %q first", re.ErrorCode, re.Check, tc.code, tc.setting)
			}
			for _, s := range tc.names {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not name %s: %v", s, err)
				}
			}
			if strings.Contains(err.Error(), wrongSecret) || strings.Contains(err.Error(), good.Secret) {
				t.Errorf("error holds a secret: %v", err)
			}
			t.Logf("Provider.Token: %v", err)
			// client.Dial (its GetSystemInfo asks for headers) fails with it too.
			if c, err := client.Dial(client.Options{HostPort: "127.0.0.1:1", HeadersProvider: p,
				Logger: sdklog.NewStructuredLogger(azureQuietLogger)}); err == nil {
				c.Close()
				t.Error("client.Dial succeeded")
			} else if !strings.Contains(err.Error(), tc.setting) {
				t.Errorf("client.Dial: %v, want the error naming %s", err, tc.setting)
			}
		})
	}
}

// oidcLoad starts a workflow every interval and records each start time
// with its outcome.
type oidcLoad struct {
	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	results []oidcResult
}

type oidcResult struct {
	at  time.Time
	err error
}

func oidcStartLoad(c client.Client, queue string, interval time.Duration) *oidcLoad {
	ctx, cancel := context.WithCancel(context.Background())
	l := &oidcLoad{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				at := time.Now()
				err := azureRun(context.Background(), c, queue, fmt.Sprintf("load-%d", i))
				l.mu.Lock()
				l.results = append(l.results, oidcResult{at, err})
				l.mu.Unlock()
			}()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return l
}

func (l *oidcLoad) stop() []oidcResult {
	l.cancel()
	<-l.done
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.results)
}

// TestOIDCHydraOutage stops Hydra for less than a token's lifetime while a
// worker runs and a starter starts a workflow every 200 ms: the Provider
// keeps serving the valid token, retries with backoff, renews once Hydra
// is back, and no call fails.
func TestOIDCHydraOutage(t *testing.T) {
	const lifespan = 30 * time.Second
	const leeway = 15 * time.Second // renew halfway, so the outage falls in the renewal window
	idp := oidcStartIdP(t, lifespan)
	srv, logs := oidcStartServer(t, idp, time.Minute)
	queue := "oidc-outage"
	opts := headers.Options{Leeway: leeway}
	workerAuth := oidcProvider(t, idp.env(idp.client(t, hydratest.ClientSpec{ID: "outage-worker", Scopes: []string{azureRoleWrite}})), opts)
	azureStartWorker(t, oidcDial(t, srv, workerAuth), queue)
	starterAuth := oidcProvider(t, idp.env(idp.client(t, hydratest.ClientSpec{ID: "outage-starter", Scopes: []string{azureRoleWrite},
		AuthMethod: hydratest.ClientSecretPost})), opts)
	starter := oidcDial(t, srv, starterAuth)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first, err := workerAuth.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}

	load := oidcStartLoad(starter, queue, 200*time.Millisecond)
	defer load.stop()
	// Stop Hydra shortly before the worker's renewal is due.
	renewAt := first.Expiry.Add(-leeway)
	oidcSleepUntil(ctx, renewAt.Add(-2*time.Second))
	idp.Stop()
	stopped := time.Now()
	t.Logf("hydra stopped %v before the worker's token expires", time.Until(first.Expiry).Round(time.Millisecond))
	// Both providers fail to renew at least once while Hydra is down.
	oidcPoll(t, ctx, "renewals to fail", func() bool {
		return workerAuth.Stats().Failures > 0 && starterAuth.Stats().Failures > 0
	})
	t.Logf("worker provider while hydra is down: %d failures, last: %v", workerAuth.Stats().Failures, workerAuth.Stats().LastError)
	time.Sleep(time.Second) // an outage of a few seconds: let the backoff grow
	if err := idp.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	outage := time.Since(stopped)
	t.Logf("hydra back after %v; the worker's token has %v left", outage.Round(time.Millisecond), time.Until(first.Expiry).Round(time.Millisecond))
	if !time.Now().Before(first.Expiry) {
		t.Fatalf("the outage outlasted the token (%v); the test proves nothing", outage)
	}
	oidcPoll(t, ctx, "renewals after the outage", func() bool {
		return workerAuth.Stats().Refreshes >= 2 && starterAuth.Stats().Refreshes >= 2
	})
	time.Sleep(time.Second)
	results := load.stop()
	failed := 0
	for _, r := range results {
		if r.err != nil {
			failed++
			t.Errorf("workflow started at %s failed: %v", r.at.Format("15:04:05.000"), r.err)
		}
	}
	t.Logf("%d workflows, %d failed, over an outage of %v", len(results), failed, outage.Round(time.Millisecond))
	for who, p := range map[string]*headers.Provider{"worker": workerAuth, "starter": starterAuth} {
		s := p.Stats()
		t.Logf("%s provider: %d refreshes, %d failures, token has %v left", who, s.Refreshes, s.Failures, s.TimeLeft.Round(time.Second))
	}
	if r := azureRefusals(logs); len(r) > 0 {
		t.Errorf("server refused tokens: %q", r)
	}
	if len(results) < 20 {
		t.Errorf("only %d workflows ran", len(results))
	}
}

// TestOIDCKeyRotation rotates Hydra's signing key through its admin API
// under a running worker. Hydra signs with the new key at once, so for up
// to one server refresh interval the server refuses new tokens: the test
// measures that window with a fresh client while the worker and the starter,
// made to renew at once, send tokens the server refuses. RetryUnauthorized
// retries each refused call with the previous token, which the server still
// accepts (the rotation grace), so no workflow fails, in the window or after.
func TestOIDCKeyRotation(t *testing.T) {
	const lifespan = 8 * time.Second // the providers renew every ~6 s
	const refresh = 2 * time.Second
	idp := oidcStartIdP(t, lifespan)
	srv, logs := oidcStartServer(t, idp, refresh)
	queue := "oidc-rotation"
	workerAuth := oidcProvider(t, idp.env(idp.client(t, hydratest.ClientSpec{ID: "rotation-worker", Scopes: []string{azureRoleWrite}})), headers.Options{})
	azureStartWorker(t, oidcDial(t, srv, workerAuth), queue)
	starterAuth := oidcProvider(t, idp.env(idp.client(t, hydratest.ClientSpec{ID: "rotation-starter", Scopes: []string{azureRoleWrite}})), headers.Options{})
	starter := oidcDial(t, srv, starterAuth)
	probeClient := idp.client(t, hydratest.ClientSpec{ID: "rotation-probe", Scopes: []string{azureRoleWrite}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	oldKey, err := azureKeyID(ctx, workerAuth)
	if err != nil {
		t.Fatal(err)
	}

	load := oidcStartLoad(starter, queue, 200*time.Millisecond)
	defer load.stop()
	time.Sleep(time.Second)
	newKey, err := idp.RotateKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rotated := time.Now()
	t.Logf("rotated from %s to %s", oldKey, newKey)
	// The worst case: both clients renew right after the rotation, so they
	// send tokens signed with the new key before the server has it.
	refreshesAtRotation := workerAuth.Stats().Refreshes + starterAuth.Stats().Refreshes
	tokenRequestsAtRotation := idp.TokenRequests()
	workerAuth.Invalidate()
	starterAuth.Invalidate()

	// A client that gets its first token now gets one signed with the new
	// key, which the server refuses until its next JWKS refresh.
	var refused int
	var firstRefusal error
	var serverHasKey time.Time
	for serverHasKey.IsZero() {
		probe := oidcProvider(t, idp.env(probeClient), headers.Options{})
		kid, err := azureKeyID(ctx, probe)
		if err != nil {
			t.Fatal(err)
		}
		if kid != newKey {
			t.Fatalf("a token requested after the rotation is signed with %s, want %s", kid, newKey)
		}
		pc, err := azureDial(srv, probe)
		if err == nil {
			_, err = pc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: azureNamespace})
			pc.Close()
		}
		switch {
		case err == nil:
			serverHasKey = time.Now()
		case time.Since(rotated) > refresh+5*time.Second:
			t.Fatalf("the server still refuses the new key %v after the rotation: %v", time.Since(rotated), err)
		default:
			refused++
			if firstRefusal == nil {
				firstRefusal = err
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	window := serverHasKey.Sub(rotated)
	t.Logf("window: the server accepted the new key %v after the rotation; %d probe calls refused before, the first with: %v",
		window.Round(time.Millisecond), refused, firstRefusal)
	if window > refresh+time.Second {
		t.Errorf("window %v, want at most one refresh interval (%v) plus a second", window, refresh)
	}
	// Refused calls are retried with the previous token, never with a new
	// one from Hydra: the window costs no token requests beyond the two
	// renewals.
	if n := workerAuth.Stats().Refreshes + starterAuth.Stats().Refreshes - refreshesAtRotation; n > 2 {
		t.Errorf("%d renewals by the worker and the starter in the window, want at most 2", n)
	}
	t.Logf("token requests in the window: %d (%d probes, the worker and the starter)", idp.TokenRequests()-tokenRequestsAtRotation, refused+1)

	// Each client switches to the new key at its next probe of it.
	azureWaitForKey(t, workerAuth, "worker", newKey, headers.RotationProbeInterval+2*time.Second)
	azureWaitForKey(t, starterAuth, "starter", newKey, headers.RotationProbeInterval+2*time.Second)
	time.Sleep(3 * time.Second) // workflows on the new key only
	results := load.stop()
	var before, after, failedBefore, failedAfter int
	for _, r := range results {
		if r.at.Before(serverHasKey) {
			before++
			if r.err != nil {
				failedBefore++
				t.Errorf("in the window: workflow started at %s failed: %v", r.at.Format("15:04:05.000"), r.err)
			}
			continue
		}
		after++
		if r.err != nil {
			failedAfter++
			t.Errorf("workflow started at %s, after the server had the key, failed: %v", r.at.Format("15:04:05.000"), r.err)
		}
	}
	t.Logf("workflows: %d started before the server had the key (%d failed), %d after (%d failed)", before, failedBefore, after, failedAfter)
	if after < 10 {
		t.Errorf("only %d workflows after the server had the key", after)
	}
	t.Logf("server refusals (%d): %q", len(azureRefusals(logs)), firstN(azureRefusals(logs), 3))
	for who, p := range map[string]*headers.Provider{"worker": workerAuth, "starter": starterAuth} {
		s := p.Stats()
		t.Logf("%s provider: %d refreshes, %d failures, %d calls saved by the previous token, %d held", who, s.Refreshes, s.Failures, s.SavedCalls, s.HeldCalls)
	}
}

func firstN(s []string, n int) []string { return s[:min(n, len(s))] }

func oidcSleepUntil(ctx context.Context, at time.Time) {
	timer := time.NewTimer(time.Until(at))
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// oidcPoll waits until cond holds, polling every 50 ms.
func oidcPoll(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestOIDCTokenRequestsPerLifetime runs a worker and a starter under load
// for three token lifetimes and counts the token requests Hydra receives:
// the cache renews each client's token once per lifetime, a quarter of the
// lifetime before it expires, however many calls the clients make.
func TestOIDCTokenRequestsPerLifetime(t *testing.T) {
	const lifespan = 4 * time.Second
	idp := oidcStartIdP(t, lifespan)
	srv, logs := oidcStartServer(t, idp, time.Minute)
	queue := "oidc-per-lifetime"
	before := idp.TokenRequests()
	began := time.Now()
	workerAuth := oidcProvider(t, idp.env(idp.client(t, hydratest.ClientSpec{ID: "lifetime-worker", Scopes: []string{azureRoleWrite}})), headers.Options{})
	azureStartWorker(t, oidcDial(t, srv, workerAuth), queue)
	starterAuth := oidcProvider(t, idp.env(idp.client(t, hydratest.ClientSpec{ID: "lifetime-starter", Scopes: []string{azureRoleWrite}})), headers.Options{})
	tok, err := starterAuth.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Hydra answers expires_in in whole seconds, counted down from the
	// lifespan: the token the cache sees lives a little less.
	validity := time.Until(tok.Expiry)
	load := oidcStartLoad(oidcDial(t, srv, starterAuth), queue, 100*time.Millisecond)
	defer load.stop()
	oidcSleepUntil(context.Background(), began.Add(3*lifespan))
	results := load.stop()
	elapsed := time.Since(began)
	requests := idp.TokenRequests() - before
	lifetimes := float64(elapsed) / float64(lifespan)
	failed := 0
	for _, r := range results {
		if r.err != nil {
			failed++
			t.Errorf("workflow started at %s failed: %v", r.at.Format("15:04:05.000"), r.err)
		}
	}
	t.Logf("%d workflows (%d failed) in %v = %.1f token lifetimes (%v each; a fresh token has %v left as the cache sees it): %d token requests for 2 clients, %.2f per client per lifetime",
		len(results), failed, elapsed.Round(time.Millisecond), lifetimes, lifespan, validity.Round(10*time.Millisecond), requests, float64(requests)/2/lifetimes)
	for who, p := range map[string]*headers.Provider{"worker": workerAuth, "starter": starterAuth} {
		s := p.Stats()
		// One at the start and one every 3/4 lifetime: 1 + 3*4/3 = 5 in three lifetimes.
		if s.Refreshes < 4 || s.Refreshes > 6 || s.Failures != 0 {
			t.Errorf("%s provider: %d refreshes, %d failures in %.1f lifetimes; want 4 to 6 and 0", who, s.Refreshes, s.Failures, lifetimes)
		}
	}
	if r := azureRefusals(logs); len(r) > 0 {
		t.Errorf("server refused tokens: %q", r)
	}
}
