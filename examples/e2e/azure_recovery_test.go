package e2e

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/grpc"

	"github.com/temporalauth/temporalauth/azure"
	"github.com/temporalauth/temporalauth/azure/entratest"
	"github.com/temporalauth/temporalauth/examples/devserver"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/headers/clocktest"
)

// azureClockedProvider is azureProvider timed by clock, with opts.
func azureClockedProvider(t *testing.T, idp *entratest.Server, clientID string, clock headers.Clock, opts headers.Options) *headers.Provider {
	t.Helper()
	opts.Clock = clock
	if opts.Logger == nil {
		opts.Logger = azureQuietLogger
	}
	p, err := azure.NewProvider(azure.Config{
		TenantID:                 idp.Tenant(),
		ClientID:                 clientID,
		ClientSecret:             azureSecret(clientID),
		Scopes:                   []string{entratest.DefaultResource + "/.default"},
		AuthorityHost:            idp.AuthorityHost(),
		DisableInstanceDiscovery: true,
		HTTPClient:               idp.Client(),
	}, opts)
	if err != nil {
		t.Fatalf("azure.NewProvider(%s): %v", clientID, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// azureMustDialRetrying dials a client that authenticates with p and
// retries a call once with a new token when the server rejects its token
// (headers.Provider.RetryUnauthorized), as the README tells users to.
func azureMustDialRetrying(t *testing.T, srv *devserver.Server, p *headers.Provider) client.Client {
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

// staticHeaders sends one fixed token.
type staticHeaders string

func (s staticHeaders) GetHeaders(context.Context) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(s)}, nil
}

// azureWaitRefused waits until the server refuses token (it has fetched a
// JWKS without the token's key).
func azureWaitRefused(t *testing.T, srv *devserver.Server, token string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := azureDial(srv, staticHeaders(token))
		if err != nil {
			azureWantUnauthorized(t, "client.Dial with the withdrawn key's token", err)
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts the withdrawn key's token after 15 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A signing key withdrawn without notice: the identity provider signs with
// a new key and drops the old one from its JWKS at once, the server
// refreshes its keys, and the hour-long tokens the clients hold are refused.
// Each client recovers on its next call with one token request, and no
// workflow fails.
func TestAzureRecoversFromKeyWithdrawnWithoutNotice(t *testing.T) {
	idp := azureIdP(t) // hour-long tokens
	srv := azureStartServer(t, idp, time.Second, nil)
	const queue = "azure-withdrawn-key"
	// The providers' clock: Jump ages their tokens past
	// headers.MinRejectInterval without waiting for it.
	clock := clocktest.NewAt(time.Now())
	workerAuth := azureClockedProvider(t, idp, azureWorkerClientID, clock, headers.Options{})
	azureStartWorker(t, azureMustDialRetrying(t, srv, workerAuth), queue)
	starterAuth := azureClockedProvider(t, idp, azureStarterClientID, clock, headers.Options{})
	starter := azureMustDialRetrying(t, srv, starterAuth)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := azureRun(ctx, starter, queue, "before"); err != nil {
		t.Fatalf("workflow before the rotation: %v", err)
	}
	old, err := starterAuth.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := azureTokenRequests(idp)

	newKey := idp.SignWithNewKey()
	idp.WithdrawOldKeys()
	azureWaitRefused(t, srv, old.Value())
	clock.Jump(headers.MinRejectInterval + time.Second)
	t.Logf("the server dropped the old key; signing with %s", newKey)

	for i := range 3 {
		if err := azureRun(ctx, starter, queue, "after"); err != nil {
			t.Fatalf("workflow %d after the withdrawal: %v", i, err)
		}
	}
	after := azureTokenRequests(idp)
	if n := after[azureStarterClientID] - before[azureStarterClientID]; n != 1 {
		t.Errorf("starter made %d token requests to recover, want 1", n)
	}
	if n := after[azureWorkerClientID] - before[azureWorkerClientID]; n != 1 {
		t.Errorf("worker made %d token requests to recover, want 1", n)
	}
	for who, p := range map[string]*headers.Provider{"starter": starterAuth, "worker": workerAuth} {
		if kid, err := azureKeyID(ctx, p); err != nil || kid != newKey {
			t.Errorf("%s serves a token with kid %q (err %v), want %q", who, kid, err, newKey)
		}
	}
}

// An app role granted after the client started: the token it holds lacks
// the role, the server refuses the call, and the retry with a new token
// (which carries the role) succeeds, with one token request.
func TestAzureRecoversFromRoleGrantedAfterStart(t *testing.T) {
	idp := azureIdP(t)
	const late = "azure-e2e-late-starter"
	idp.RegisterClient(entratest.Client{ID: late, Secret: azureSecret(late)}) // no role yet
	srv := azureStartServer(t, idp, time.Second, nil)
	const queue = "azure-role-granted"
	azureStartWorker(t, azureMustDial(t, srv, azureProvider(t, idp, azureWorkerClientID)), queue)
	clock := clocktest.NewAt(time.Now())
	starterAuth := azureClockedProvider(t, idp, late, clock, headers.Options{})
	starter := azureMustDialRetrying(t, srv, starterAuth)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Without the role the call is refused; a token this young is not
	// dropped, so the refusal costs no token request.
	_, err := starter.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, azureWorkflow, "no role")
	azureWantUnauthorized(t, "ExecuteWorkflow without the role", err)
	if n := azureTokenRequests(idp)[late]; n != 1 {
		t.Fatalf("token requests before the grant: %d, want 1", n)
	}

	idp.RegisterClient(entratest.Client{ID: late, Secret: azureSecret(late), Roles: []string{azureRoleWrite}})
	clock.Jump(headers.MinRejectInterval + time.Second)
	if err := azureRun(ctx, starter, queue, "granted"); err != nil {
		t.Fatalf("workflow after the grant: %v", err)
	}
	if n := azureTokenRequests(idp)[late]; n != 2 {
		t.Errorf("token requests: %d, want 2 (one before the grant, one after)", n)
	}
}

// A 15-minute leeway renews an hour-long token between 15 minutes and
// 11 min 15 s (three quarters of the leeway, the renewal jitter's bound)
// before expiry, from the identity provider, and the new token works on the
// server.
func TestAzureLeewayRenewsEarly(t *testing.T) {
	idp := azureIdP(t)
	srv := azureStartServer(t, idp, time.Second, nil)
	const queue = "azure-leeway"
	azureStartWorker(t, azureMustDial(t, srv, azureProvider(t, idp, azureWorkerClientID)), queue)
	clock := clocktest.NewAt(time.Now())
	starterAuth := azureClockedProvider(t, idp, azureStarterClientID, clock, headers.Options{Leeway: 15 * time.Minute})
	starter := azureMustDialRetrying(t, srv, starterAuth)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := azureRun(ctx, starter, queue, "first"); err != nil {
		t.Fatal(err)
	}
	first, _ := starterAuth.Token(ctx)

	clock.Advance(45*time.Minute - time.Second)
	if err := azureRun(ctx, starter, queue, "45 minutes in"); err != nil {
		t.Fatal(err)
	}
	if n := azureTokenRequests(idp)[azureStarterClientID]; n != 1 {
		t.Fatalf("token requests 15 min 1 s before expiry: %d, want 1", n)
	}
	clock.Advance(3*time.Minute + 46*time.Second) // 11 min 14 s before expiry
	if err := azureRun(ctx, starter, queue, "inside the leeway"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the early renewal", func() bool { return starterAuth.Stats().Refreshes == 2 })
	if n := azureTokenRequests(idp)[azureStarterClientID]; n != 2 {
		t.Errorf("token requests after the leeway began: %d, want 2", n)
	}
	renewed, _ := starterAuth.Token(ctx)
	if renewed.Value() == first.Value() {
		t.Fatal("the renewal installed the token it replaced")
	}
	if err := azureRun(ctx, starter, queue, "renewed"); err != nil {
		t.Fatalf("workflow with the renewed token: %v", err)
	}
}

// Entra ID's refresh_in: the provider renews at that time; a failed
// renewal shows in Stats, OnRefresh and the log while the valid token keeps
// working, and is retried with backoff.
func TestAzureRefreshInFailureVisibleAndRetried(t *testing.T) {
	idp := azureIdP(t, entratest.WithRefreshIn(30*time.Minute))
	srv := azureStartServer(t, idp, time.Second, nil)
	const queue = "azure-refresh-in"
	azureStartWorker(t, azureMustDial(t, srv, azureProvider(t, idp, azureWorkerClientID)), queue)
	clock := clocktest.NewAt(time.Now())
	logs := &lockedWriter{w: &strings.Builder{}}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	events := make(chan headers.RefreshEvent, 16)
	starterAuth := azureClockedProvider(t, idp, azureStarterClientID, clock, headers.Options{
		Logger: logger, OnRefresh: func(e headers.RefreshEvent) { events <- e },
	})
	starter := azureMustDialRetrying(t, srv, starterAuth)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := azureRun(ctx, starter, queue, "first"); err != nil {
		t.Fatal(err)
	}
	<-events

	idp.FailNext(1, entratest.Unavailable(0))
	clock.Advance(30*time.Minute + time.Second)
	if err := azureRun(ctx, starter, queue, "during the failed refresh"); err != nil {
		t.Fatalf("workflow while the refresh failed: %v", err)
	}
	e := <-events
	if e.Err == nil || !e.Background {
		t.Fatalf("refresh event %+v, want a failed background refresh", e)
	}
	st := starterAuth.Stats()
	var re *azure.ResponseError
	if st.Failures != 1 || st.ConsecutiveFailures != 1 || !errors.As(st.LastError, &re) || re.StatusCode != 503 {
		t.Errorf("Stats %+v, want one failure with the 503", st)
	}
	t.Logf("Stats after the failed refresh: failures=%d last_error=%v retry_in=%v", st.Failures, st.LastError, e.RetryIn)

	clock.Advance(e.RetryIn + time.Millisecond)
	if err := azureRun(ctx, starter, queue, "after the retry"); err != nil {
		t.Fatal(err)
	}
	if e := <-events; e.Err != nil {
		t.Fatalf("retry: %v", e.Err)
	}
	if st := starterAuth.Stats(); st.Refreshes != 2 || st.ConsecutiveFailures != 0 {
		t.Errorf("Stats after the retry %+v", st)
	}
	if n := azureTokenRequests(idp)[azureStarterClientID]; n != 3 {
		t.Errorf("token requests %d, want 3 (first, failed refresh, retry)", n)
	}
	if !strings.Contains(logs.String(), "token refresh failed") {
		t.Errorf("no warning logged for the failed refresh:\n%s", logs.String())
	}
}

// waitUntil polls cond until it holds or 15 seconds pass.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}
