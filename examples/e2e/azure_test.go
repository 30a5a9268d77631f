package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/temporalauth/temporalauth/azure/entratest"
	"github.com/temporalauth/temporalauth/headers"
)

// TestAzureWorkerAndStarter runs a worker and a starter that get their
// tokens from an Entra-like identity provider through azure.NewProvider
// (MSAL's client-credentials flow), against a Temporal server configured as
// an Azure team configures it: permissions in the roles claim, keys from the
// tenant's JWKS, the Temporal app's resource URI as audience.
func TestAzureWorkerAndStarter(t *testing.T) {
	idp := azureIdP(t) // tokens live an hour, as Entra ID's do
	serverLog, logs := azureServerLog()
	srv := azureStartServer(t, idp, time.Second, serverLog)
	const queue = "azure-worker-and-starter"

	workerAuth := azureProvider(t, idp, azureWorkerClientID)
	azureStartWorker(t, azureMustDial(t, srv, workerAuth), queue)
	starterAuth := azureProvider(t, idp, azureStarterClientID)
	starter := azureMustDial(t, srv, starterAuth)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const runs = 5
	began := time.Now()
	for i := range runs {
		if err := azureRun(ctx, starter, queue, "entra"); err != nil {
			t.Fatalf("workflow %d: %v", i, err)
		}
	}
	t.Logf("%d workflows in %v", runs, time.Since(began).Round(time.Millisecond))

	// The tokens are what Entra ID issues to these app registrations.
	tok, err := starterAuth.Token(ctx)
	if err != nil {
		t.Fatalf("starter token: %v", err)
	}
	claims, err := idp.VerifyToken(tok.Value())
	if err != nil {
		t.Fatalf("starter token does not verify: %v", err)
	}
	if claims.Subject != azureStarterClientID || !slices.Equal(claims.Roles, []string{azureRoleWrite}) ||
		!slices.Equal(claims.Audience, []string{entratest.DefaultResource}) {
		t.Errorf("starter token: sub %q roles %q aud %q, want sub %q roles [%s] aud [%s]",
			claims.Subject, claims.Roles, claims.Audience, azureStarterClientID, azureRoleWrite, entratest.DefaultResource)
	}

	// One token request per identity for the token's lifetime: the worker's
	// polls and the starter's calls reuse the cached token.
	got := azureTokenRequests(idp)
	for _, id := range []string{azureAdminClientID, azureWorkerClientID, azureStarterClientID} {
		if got[id] != 1 {
			t.Errorf("token requests from %s: %d, want 1 (all: %v)", id, got[id], got)
		}
	}
	if n := idp.Requests(entratest.EndpointToken); n != 3 {
		t.Errorf("token endpoint requests: %d, want 3", n)
	}
	t.Logf("identity provider requests: %d token, %d OpenID discovery",
		idp.Requests(entratest.EndpointToken), idp.Requests(entratest.EndpointDiscovery))
	for who, p := range map[string]*headers.Provider{"worker": workerAuth, "starter": starterAuth} {
		if s := p.Stats(); s.Refreshes != 1 || s.Failures != 0 {
			t.Errorf("%s provider: %d refreshes, %d failures; want 1 and 0", who, s.Refreshes, s.Failures)
		}
	}

	if refusals := azureRefusals(logs); len(refusals) > 0 {
		t.Errorf("server refused tokens: %q", refusals)
	}

	// An app registration granted only default:read may not start workflows:
	// its valid token is refused with the same answer as an invalid one.
	const readerID = "azure-e2e-reader"
	idp.RegisterClient(entratest.Client{ID: readerID, Secret: azureSecret(readerID), Roles: []string{azureNamespace + ":read"}})
	reader := azureMustDial(t, srv, azureProvider(t, idp, readerID))
	_, err = reader.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, azureWorkflow, "reader")
	azureWantUnauthorized(t, "ExecuteWorkflow with default:read", err)
}

// TestAzureKeyRotation rotates the identity provider's signing key the way
// Entra ID does (publish the new key, sign with it later, withdraw the old
// one later still) while a worker runs and a starter starts a workflow every
// 500 ms. A server that refreshes its keys more often than the notice the
// identity provider gives accepts every token throughout: no workflow fails.
func TestAzureKeyRotation(t *testing.T) {
	// Short-lived tokens make both clients renew within seconds of the
	// switch to the new key (the provider renews a quarter of the lifetime
	// before expiry, each time from the identity provider).
	idp := azureIdP(t, entratest.WithTokenLifetime(12*time.Second))
	const refresh = time.Second
	serverLog, logs := azureServerLog()
	srv := azureStartServer(t, idp, refresh, serverLog)
	const queue = "azure-key-rotation"

	workerAuth := azureProvider(t, idp, azureWorkerClientID)
	azureStartWorker(t, azureMustDial(t, srv, workerAuth), queue)
	starterAuth := azureProvider(t, idp, azureStarterClientID)
	starter := azureMustDial(t, srv, starterAuth)
	oldKey := idp.SigningKeyID()

	load := azureStartLoad(starter, queue, 500*time.Millisecond)
	stopped := false
	defer func() {
		if !stopped {
			load.stop()
		}
	}()

	time.Sleep(time.Second)
	newKey := idp.PublishNewKey()
	t.Logf("published key %s next to %s", newKey, oldKey)
	time.Sleep(2*refresh + 500*time.Millisecond) // the server fetches the JWKS at least once

	if got := idp.SignWithNewKey(); got != newKey {
		t.Fatalf("SignWithNewKey switched to %s, want the published %s", got, newKey)
	}
	t.Log("signing with the new key")
	azureWaitForKey(t, workerAuth, "worker", newKey, 30*time.Second)
	azureWaitForKey(t, starterAuth, "starter", newKey, 30*time.Second)

	withdrawn := idp.WithdrawOldKeys()
	if !slices.Equal(withdrawn, []string{oldKey}) {
		t.Fatalf("WithdrawOldKeys removed %v, want [%s]", withdrawn, oldKey)
	}
	t.Logf("withdrew %s", oldKey)
	time.Sleep(2*refresh + 2*time.Second) // the server drops the old key; work goes on

	stopped = true
	succeeded, failures := load.stop()
	for _, err := range failures {
		t.Errorf("workflow failed during rotation: %v", err)
	}
	t.Logf("%d workflows succeeded, %d failed", succeeded, len(failures))
	if succeeded < 10 {
		t.Errorf("only %d workflows succeeded, want at least 10", succeeded)
	}
	if refusals := azureRefusals(logs); len(refusals) > 0 {
		t.Errorf("server refused tokens during rotation: %q", refusals)
	}
	got := azureTokenRequests(idp)
	for _, id := range []string{azureWorkerClientID, azureStarterClientID} {
		if got[id] < 2 {
			t.Errorf("token requests from %s: %d, want at least 2 (one per key)", id, got[id])
		}
	}

	// After the rotation a new client still gets in with the new key only.
	fresh := azureMustDial(t, srv, azureProvider(t, idp, azureStarterClientID))
	ctx, cancel := context.WithTimeout(context.Background(), azureCallTimeout)
	defer cancel()
	if err := azureRun(ctx, fresh, queue, "after rotation"); err != nil {
		t.Fatalf("workflow after rotation: %v", err)
	}
}

// TestAzureKeyRotationWithoutServerRefresh reproduces the outage Azure
// teams report: the Temporal server reads the JWKS only when it starts, the
// identity provider starts signing with a key the server has never fetched,
// and each client fails as soon as it renews its token, with
// PERMISSION_DENIED "Request unauthorized.", until the server is restarted.
func TestAzureKeyRotationWithoutServerRefresh(t *testing.T) {
	// Tokens of five minutes; a renewal below reaches the identity provider
	// as the renewal of an hour-long token does after 45 to 55 minutes.
	idp := azureIdP(t, entratest.WithTokenLifetime(5*time.Minute))
	serverLog, logs := azureServerLog()
	srv := azureStartServer(t, idp, -1, serverLog) // no refreshInterval
	const queue = "azure-no-refresh"

	workerAuth := azureProvider(t, idp, azureWorkerClientID)
	workerClient := azureMustDial(t, srv, workerAuth)
	azureStartWorker(t, workerClient, queue)
	starterAuth := azureProvider(t, idp, azureStarterClientID)
	starter := azureMustDial(t, srv, starterAuth)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := azureRun(ctx, starter, queue, "before"); err != nil {
		t.Fatalf("workflow before the rotation: %v", err)
	}

	// An emergency rotation: the new key appears in the JWKS and signs
	// tokens at the same moment.
	newKey := idp.SignWithNewKey()
	// The starter renews its token, as it does about every 55 minutes.
	starterAuth.Invalidate()
	if kid, err := azureKeyID(ctx, starterAuth); err != nil || kid != newKey {
		t.Fatalf("starter's renewed token: kid %q, err %v; want kid %q", kid, err, newKey)
	}
	_, err := starter.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, azureWorkflow, "after")
	azureWantUnauthorized(t, "ExecuteWorkflow with a token signed by the new key", err)

	// A process that starts now cannot even connect.
	_, err = azureDial(srv, azureProvider(t, idp, azureStarterClientID))
	azureWantUnauthorized(t, "client.Dial with a token signed by the new key", err)

	// The worker still holds a token from the old key and keeps working
	// until it renews: the outage reaches each process at its own renewal.
	if err := azureRun(ctx, workerClient, queue, "old token"); err != nil {
		t.Fatalf("workflow started with the worker's old token: %v", err)
	}

	// Waiting does not help: the server never reads the JWKS again, though
	// the identity provider publishes the new key.
	time.Sleep(2 * time.Second)
	if !slices.Contains(idp.PublishedKeyIDs(), newKey) {
		t.Fatalf("JWKS %v lacks the signing key %s", idp.PublishedKeyIDs(), newKey)
	}
	_, err = starter.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, azureWorkflow, "later")
	azureWantUnauthorized(t, "ExecuteWorkflow 2 s later", err)

	// Only the server's log tells why.
	refusals := azureRefusals(logs)
	want := "RSA key not found for key ID: " + newKey
	if len(refusals) < 3 || !slices.ContainsFunc(refusals, func(r string) bool { return strings.Contains(r, want) }) {
		t.Errorf("server logged refusals %q, want at least 3 with %q", refusals, want)
	}
	if len(refusals) > 0 {
		t.Logf("server log: %q", refusals[0])
	}
}
