package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/common/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/temporalauth/temporalauth/azure"
	"github.com/temporalauth/temporalauth/azure/entratest"
	"github.com/temporalauth/temporalauth/examples/devserver"
	"github.com/temporalauth/temporalauth/headers"
)

// Names the Azure tests use on the Temporal side and in the identity provider.
const (
	azureNamespace = "default"
	azureWorkflow  = "AzureGreet"
	// azureRoleWrite lets a client poll a task queue and start workflows in
	// azureNamespace; azureRoleSystemAdmin lets the server's setup register it.
	azureRoleWrite       = azureNamespace + ":write"
	azureRoleSystemAdmin = "temporal-system:admin"
	azureAdminClientID   = "azure-e2e-operator"
	azureWorkerClientID  = "azure-e2e-worker"
	azureStarterClientID = "azure-e2e-starter"
	// azureUnauthorized is the message of the PermissionDenied a Temporal
	// server answers for a token it does not accept.
	azureUnauthorized = "Request unauthorized."
	// azureCallTimeout bounds one workflow round trip.
	azureCallTimeout = 15 * time.Second
)

// azureQuietLogger passes on warnings and errors only.
var azureQuietLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

// AzureGreet is the workflow the Azure tests run (registered as
// azureWorkflow).
func AzureGreet(_ workflow.Context, name string) (string, error) {
	return "hello " + name, nil
}

// azureIdP starts a local Entra-like identity provider with the operator,
// worker and starter app registrations of a team that runs Temporal with
// Azure AD, and stops it when the test ends.
func azureIdP(t *testing.T, opts ...entratest.Option) *entratest.Server {
	t.Helper()
	idp := entratest.NewServer(opts...)
	t.Cleanup(idp.Close)
	idp.RegisterClient(entratest.Client{ID: azureAdminClientID, Secret: azureSecret(azureAdminClientID), Roles: []string{azureRoleSystemAdmin}})
	idp.RegisterClient(entratest.Client{ID: azureWorkerClientID, Secret: azureSecret(azureWorkerClientID), Roles: []string{azureRoleWrite}})
	idp.RegisterClient(entratest.Client{ID: azureStarterClientID, Secret: azureSecret(azureStarterClientID), Roles: []string{azureRoleWrite}})
	return idp
}

// azureSecret is the test client secret of clientID.
func azureSecret(clientID string) string { return "secret-of-" + clientID }

// azureProvider is what a worker or starter builds from AZURE_* settings:
// azure.NewProvider for a client-secret app registration, asking idp for
// the Temporal server's resource. The provider is closed when the test ends.
func azureProvider(t *testing.T, idp *entratest.Server, clientID string) *headers.Provider {
	t.Helper()
	return azureTenantProvider(t, idp, idp.Tenant(), clientID, entratest.DefaultResource+"/.default")
}

// azureTenantProvider is a worker's or intruder's provider: a client of
// tenant tenantID with a secret, asking for scope. The provider is closed
// when the test ends.
func azureTenantProvider(t *testing.T, idp *entratest.Server, tenantID, clientID, scope string) *headers.Provider {
	t.Helper()
	p, err := azure.NewProvider(azure.Config{
		TenantID:      tenantID,
		ClientID:      clientID,
		ClientSecret:  azureSecret(clientID),
		Scopes:        []string{scope},
		AuthorityHost: idp.AuthorityHost(),
		// Entra ID's instance discovery does not know the local server.
		DisableInstanceDiscovery: true,
		HTTPClient:               idp.Client(),
	}, headers.Options{Logger: azureQuietLogger})
	if err != nil {
		t.Fatalf("azure.NewProvider(%s): %v", clientID, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// azureStartServer starts a JWT-enforcing Temporal server configured as
// Azure teams configure theirs: permissions from the roles claim, keys from
// the tenant's JWKS, the audience of the Temporal server's app registration.
// The namespace is registered with the operator's token. refresh is the
// server's key refresh interval (negative: never refresh);
// logger, when not nil, receives the server's log.
func azureStartServer(t *testing.T, idp *entratest.Server, refresh time.Duration, logger log.Logger) *devserver.Server {
	t.Helper()
	began := time.Now()
	srv, err := devserver.Start(devserver.Config{
		Logger:               logger,
		JWKSURLs:             []string{idp.HTTPKeysURL()},
		RefreshInterval:      refresh,
		PermissionsClaimName: "roles",
		Audience:             entratest.DefaultResource,
		Namespaces:           []string{azureNamespace},
		SystemHeaders:        azureProvider(t, idp, azureAdminClientID),
	})
	if err != nil {
		t.Fatalf("devserver.Start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	t.Logf("temporal server at %s ready in %v", srv.HostPort(), time.Since(began).Round(time.Millisecond))
	return srv
}

// azureServerLog records the warnings and errors a Temporal server logs,
// such as the reason it refused a token.
func azureServerLog() (log.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.WarnLevel)
	return log.NewZapLogger(zap.New(core)), logs
}

// azureRefusals returns the reasons the server logged for refusing tokens.
func azureRefusals(logs *observer.ObservedLogs) []string {
	var reasons []string
	for _, e := range logs.FilterMessage("Authorization error").All() {
		reasons = append(reasons, fmt.Sprint(e.ContextMap()["error"]))
	}
	return reasons
}

// azureHeaders is what client.Options.HeadersProvider takes.
type azureHeaders = interface {
	GetHeaders(context.Context) (map[string]string, error)
}

// azureDial connects a client that authenticates with hp.
func azureDial(srv *devserver.Server, hp azureHeaders) (client.Client, error) {
	return client.Dial(client.Options{
		HostPort:        srv.HostPort(),
		Namespace:       azureNamespace,
		HeadersProvider: hp,
		Logger:          sdklog.NewStructuredLogger(azureQuietLogger),
	})
}

// azureMustDial is azureDial that fails the test on error and closes the
// client when the test ends.
func azureMustDial(t *testing.T, srv *devserver.Server, hp azureHeaders) client.Client {
	t.Helper()
	c, err := azureDial(srv, hp)
	if err != nil {
		t.Fatalf("client.Dial: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// azureStartWorker runs a worker for AzureGreet on queue until the test ends.
func azureStartWorker(t *testing.T, c client.Client, queue string) {
	t.Helper()
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(AzureGreet, workflow.RegisterOptions{Name: azureWorkflow})
	if err := w.Start(); err != nil {
		t.Fatalf("worker start: %v", err)
	}
	t.Cleanup(w.Stop)
}

// azureRun starts AzureGreet on queue and waits for its result.
func azureRun(ctx context.Context, c client.Client, queue, name string) error {
	ctx, cancel := context.WithTimeout(ctx, azureCallTimeout)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, azureWorkflow, name)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	var got string
	if err := run.Get(ctx, &got); err != nil {
		return fmt.Errorf("result of %s: %w", run.GetID(), err)
	}
	if want := "hello " + name; got != want {
		return fmt.Errorf("result of %s: got %q, want %q", run.GetID(), got, want)
	}
	return nil
}

// azureLoad starts a workflow every interval until stop is called, each in
// its own goroutine, and counts the outcomes.
type azureLoad struct {
	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup

	mu        sync.Mutex
	succeeded int
	failures  []error
}

// azureStartLoad begins starting workflows on queue through c.
func azureStartLoad(c client.Client, queue string, interval time.Duration) *azureLoad {
	ctx, cancel := context.WithCancel(context.Background())
	l := &azureLoad{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				// Not ctx: a workflow started before stop runs to its end.
				err := azureRun(context.Background(), c, queue, fmt.Sprintf("load-%d", i))
				l.mu.Lock()
				defer l.mu.Unlock()
				if err != nil {
					l.failures = append(l.failures, fmt.Errorf("%s: %w", time.Now().Format("15:04:05.000"), err))
				} else {
					l.succeeded++
				}
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

// stop ends the load, waits for the workflows under way, and returns the
// count of successes and the failures.
func (l *azureLoad) stop() (int, []error) {
	l.cancel()
	<-l.done
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.succeeded, append([]error(nil), l.failures...)
}

// azureKeyID returns the kid header of the token p serves now.
func azureKeyID(ctx context.Context, p *headers.Provider) (string, error) {
	tok, err := p.Token(ctx)
	if err != nil {
		return "", err
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok.Value(), jwt.MapClaims{})
	if err != nil {
		return "", fmt.Errorf("parsing the token served: %w", err)
	}
	kid, _ := parsed.Header["kid"].(string)
	return kid, nil
}

// azureWaitForKey waits until p serves a token signed with kid.
func azureWaitForKey(t *testing.T, p *headers.Provider, who, kid string, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	began := time.Now()
	for {
		got, err := azureKeyID(ctx, p)
		if err == nil && got == kid {
			t.Logf("%s serves a token signed with the new key after %v", who, time.Since(began).Round(time.Millisecond))
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s still serves a token signed with %q (err %v) after %v, want key %q", who, got, err, within, kid)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// azureTokenRequests counts idp's token requests from each client.
func azureTokenRequests(idp *entratest.Server) map[string]int {
	n := map[string]int{}
	for _, r := range idp.TokenRequests() {
		n[r.Values.Get("client_id")]++
	}
	return n
}

// azureWantUnauthorized fails the test unless err holds the
// *serviceerror.PermissionDenied "Request unauthorized." that a Temporal
// server answers for a token it cannot verify.
func azureWantUnauthorized(t *testing.T, what string, err error) {
	t.Helper()
	var pd *serviceerror.PermissionDenied
	if !errors.As(err, &pd) {
		t.Fatalf("%s: got %v (%T), want *serviceerror.PermissionDenied", what, err, err)
	}
	if pd.Message != azureUnauthorized {
		t.Fatalf("%s: PermissionDenied %q, want %q", what, pd.Message, azureUnauthorized)
	}
	t.Logf("%s: %v", what, err)
}
