package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/temporalauth/temporalauth/azure/entratest"
	"github.com/temporalauth/temporalauth/examples/devserver"
	"github.com/temporalauth/temporalauth/serverauth"
)

// The tests in this file run the same Azure-configured Temporal server as
// azure_test.go, once with the server's own key provider and once with a
// serverauth.KeyProvider built from the same authorization settings.

// serverAuthKeys builds a serverauth.KeyProvider as serveropts.FromConfig
// does from a server configuration whose keySourceURIs names the tenant's
// OpenID configuration, plus overrides. It is closed when the test ends.
func serverAuthKeys(t *testing.T, idp *entratest.Server, refresh time.Duration, logger log.Logger, override func(*serverauth.Config)) *serverauth.KeyProvider {
	t.Helper()
	cfg, err := serverauth.ConfigFromAuthorization(&config.Authorization{
		JWTKeyProvider: config.JWTKeyProvider{
			KeySourceURIs:   []string{idp.Issuer() + "/.well-known/openid-configuration"},
			RefreshInterval: refresh,
		},
		PermissionsClaimName: "roles",
		Audience:             entratest.DefaultResource,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTPClient = idp.Client() // trusts the identity provider's certificate
	cfg.Logger = logger
	if override != nil {
		override(&cfg)
	}
	kp, err := serverauth.NewKeyProvider(cfg)
	if err != nil {
		t.Fatalf("serverauth.NewKeyProvider: %v", err)
	}
	t.Cleanup(kp.Close)
	return kp
}

// serverAuthStartServer is azureStartServer with kp as the claim mapper's
// key provider; a nil kp keeps the server's own, refreshing every
// stockRefresh (negative: never).
func serverAuthStartServer(t *testing.T, idp *entratest.Server, kp authorization.TokenKeyProvider, stockRefresh time.Duration, logger log.Logger) *devserver.Server {
	t.Helper()
	cfg := devserver.Config{
		Logger:               logger,
		PermissionsClaimName: "roles",
		Audience:             entratest.DefaultResource,
		Namespaces:           []string{azureNamespace},
		SystemHeaders:        azureProvider(t, idp, azureAdminClientID),
	}
	if kp != nil {
		cfg.KeyProvider = kp
	} else {
		cfg.JWKSURLs = []string{idp.HTTPKeysURL()}
		cfg.RefreshInterval = stockRefresh
	}
	srv, err := devserver.Start(cfg)
	if err != nil {
		t.Fatalf("devserver.Start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

// serverAuthRenewable makes tokens live five minutes: MSAL's cache treats
// them as due for renewal, so Invalidate reaches the identity provider as
// the hourly renewal of a real token does.
var serverAuthRenewable = entratest.WithTokenLifetime(5 * time.Minute)

// serverAuthRotateUnderLoad runs a worker and a starter that starts a
// workflow every 200 ms; meanwhile the identity provider starts signing with
// a brand-new key without notice and both clients renew their tokens. It
// returns the new key ID and the load's outcome.
func serverAuthRotateUnderLoad(t *testing.T, idp *entratest.Server, srv *devserver.Server, queue string) (string, int, []error) {
	t.Helper()
	workerAuth := azureProvider(t, idp, azureWorkerClientID)
	azureStartWorker(t, azureMustDial(t, srv, workerAuth), queue)
	starterAuth := azureProvider(t, idp, azureStarterClientID)
	starter := azureMustDial(t, srv, starterAuth)
	ctx, cancel := context.WithTimeout(context.Background(), azureCallTimeout)
	defer cancel()
	if err := azureRun(ctx, starter, queue, "before"); err != nil {
		t.Fatalf("workflow before the rotation: %v", err)
	}

	load := azureStartLoad(starter, queue, 200*time.Millisecond)
	time.Sleep(time.Second)
	newKey := idp.SignWithNewKey() // published and signing at once
	t.Logf("identity provider signs with the new key %s", newKey)
	workerAuth.Invalidate() // each client renews its token, as it does hourly
	starterAuth.Invalidate()
	azureWaitForKey(t, workerAuth, "worker", newKey, 10*time.Second)
	azureWaitForKey(t, starterAuth, "starter", newKey, 10*time.Second)
	time.Sleep(2 * time.Second)
	succeeded, failures := load.stop()
	return newKey, succeeded, failures
}

// TestServerAuthRotationWithoutNotice shows the problem of the seed's
// configuration and its fix: the identity provider signs with a key it has
// just published, under a running worker. With the server's own key provider
// (refreshInterval absent, i.e. 0 = never, or 10 minutes) workflows fail;
// with serverauth's, built from the same settings, none fails and the JWKS
// is fetched once for the new key.
func TestServerAuthRotationWithoutNotice(t *testing.T) {
	for _, refresh := range []time.Duration{0, 10 * time.Minute} {
		t.Run(fmt.Sprintf("refreshInterval=%v/stock", refresh), func(t *testing.T) {
			idp := azureIdP(t, serverAuthRenewable)
			serverLog, logs := azureServerLog()
			stock := refresh
			if stock == 0 {
				stock = -1 // devserver's "never", the stock server's 0
			}
			srv := serverAuthStartServer(t, idp, nil, stock, serverLog)
			newKey, succeeded, failures := serverAuthRotateUnderLoad(t, idp, srv, "stock-rotation")
			t.Logf("stock key provider: %d workflows succeeded, %d failed", succeeded, len(failures))
			if len(failures) == 0 {
				t.Fatal("no workflow failed with the stock key provider: the problem did not reproduce")
			}
			var pd *serviceerror.PermissionDenied
			if !errors.As(failures[len(failures)-1], &pd) {
				t.Errorf("last failure %v, want PermissionDenied", failures[len(failures)-1])
			}
			want := "RSA key not found for key ID: " + newKey
			if refusals := azureRefusals(logs); len(refusals) == 0 || !strings.Contains(strings.Join(refusals, "\n"), want) {
				t.Errorf("server log %q, want %q", refusals, want)
			}
		})
		t.Run(fmt.Sprintf("refreshInterval=%v/serverauth", refresh), func(t *testing.T) {
			idp := azureIdP(t, serverAuthRenewable)
			serverLog, logs := azureServerLog()
			kp := serverAuthKeys(t, idp, refresh, serverLog, nil)
			srv := serverAuthStartServer(t, idp, kp, 0, serverLog)
			keysBefore := idp.Requests(entratest.EndpointKeys)
			newKey, succeeded, failures := serverAuthRotateUnderLoad(t, idp, srv, "serverauth-rotation")
			fetches := idp.Requests(entratest.EndpointKeys) - keysBefore
			t.Logf("serverauth key provider: %d workflows succeeded, %d failed; JWKS fetched %d time(s) for the new key %s",
				succeeded, len(failures), fetches, newKey)
			for _, err := range failures {
				t.Errorf("workflow failed: %v", err)
			}
			if succeeded < 10 {
				t.Errorf("only %d workflows succeeded", succeeded)
			}
			if fetches != 1 {
				t.Errorf("JWKS fetched %d times during the rotation, want 1", fetches)
			}
			if s := kp.Stats(); s.Refetches != 1 || s.FoundAfterRefetch < 1 || s.Keys != 2 {
				t.Errorf("key provider stats %+v, want 1 refetch that found the key", s)
			}
			if refusals := azureRefusals(logs); len(refusals) > 0 {
				t.Errorf("server refused tokens: %q", refusals)
			}
		})
	}
}

// flakyJWKS serves a copy of upstream's JWKS until it is taken down, then
// answers 503.
type flakyJWKS struct {
	upstream string
	down     atomic.Bool
	requests atomic.Int64
}

func (f *flakyJWKS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	if f.down.Load() {
		http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
		return
	}
	resp, err := http.Get(f.upstream)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// TestServerAuthJWKSDown takes the JWKS endpoint down while workflows run:
// the refreshes fail and the last good keys keep working.
func TestServerAuthJWKSDown(t *testing.T) {
	idp := azureIdP(t)
	jwks := &flakyJWKS{upstream: idp.HTTPKeysURL()}
	front := httptest.NewServer(jwks)
	t.Cleanup(front.Close)
	serverLog, logs := azureServerLog()
	kp, err := serverauth.NewKeyProvider(serverauth.Config{
		JWKSURLs:        []string{front.URL + "/keys"},
		JWKSIssuers:     map[string][]string{front.URL + "/keys": {idp.Issuer()}},
		RefreshInterval: 500 * time.Millisecond,
		Logger:          serverLog,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kp.Close)
	srv := serverAuthStartServer(t, idp, kp, 0, serverLog)

	workerAuth := azureProvider(t, idp, azureWorkerClientID)
	azureStartWorker(t, azureMustDial(t, srv, workerAuth), "jwks-down")
	starter := azureMustDial(t, srv, azureProvider(t, idp, azureStarterClientID))
	load := azureStartLoad(starter, "jwks-down", 200*time.Millisecond)
	jwks.down.Store(true)
	time.Sleep(3 * time.Second)
	workerAuth.Invalidate() // a renewed token, same key
	time.Sleep(time.Second)
	succeeded, failures := load.stop()
	jwks.down.Store(false)

	s := kp.Stats()
	t.Logf("JWKS down for 4 s: %d workflows succeeded, %d failed; source %+v", succeeded, len(failures), s.Sources[0])
	for _, err := range failures {
		t.Errorf("workflow failed while the JWKS endpoint was down: %v", err)
	}
	if s.Sources[0].Failures < 3 || s.Keys != 1 || !strings.Contains(s.Sources[0].LastError, "503") {
		t.Errorf("source stats %+v, want several failed refreshes and the key kept", s.Sources[0])
	}
	if refusals := azureRefusals(logs); len(refusals) > 0 {
		t.Errorf("server refused tokens: %q", refusals)
	}
	if n := len(logs.FilterMessageSnippet("its last good keys stay in use").All()); n == 0 {
		t.Error("the failed refreshes were not logged")
	}
}

// TestServerAuthUnknownKeyIDFlood sends 1,000 calls whose tokens carry
// random unknown key IDs: the JWKS is fetched at most once per
// MinRefetchInterval, and valid clients keep working.
func TestServerAuthUnknownKeyIDFlood(t *testing.T) {
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, minRefetch := range []time.Duration{0, 250 * time.Millisecond} {
		name := "MinRefetchInterval=default"
		if minRefetch != 0 {
			name = fmt.Sprintf("MinRefetchInterval=%v", minRefetch)
		}
		t.Run(name, func(t *testing.T) {
			idp := azureIdP(t)
			serverLog, _ := azureServerLog()
			kp := serverAuthKeys(t, idp, 0, serverLog, func(c *serverauth.Config) { c.MinRefetchInterval = minRefetch })
			srv := serverAuthStartServer(t, idp, kp, 0, serverLog)
			if minRefetch == 0 {
				minRefetch = serverauth.DefaultMinRefetchInterval
			}

			conn, err := grpc.NewClient(srv.HostPort(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			api := workflowservice.NewWorkflowServiceClient(conn)

			const calls, parallel = 1000, 20
			keysBefore := idp.Requests(entratest.EndpointKeys)
			began := time.Now()
			var refused atomic.Int64
			var wg sync.WaitGroup
			sem := make(chan struct{}, parallel)
			for i := range calls {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					now := time.Now()
					tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
						"sub": "intruder", "aud": entratest.DefaultResource, "roles": []string{azureRoleWrite},
						"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
					})
					tok.Header["kid"] = fmt.Sprintf("random-%d-%x", i, attacker.N.Bytes()[i%64:i%64+4])
					signed, err := tok.SignedString(attacker)
					if err != nil {
						t.Error(err)
						return
					}
					ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+signed), 20*time.Second)
					defer cancel()
					_, err = api.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: azureNamespace})
					var pd *serviceerror.PermissionDenied
					if errors.As(serviceerror.FromStatus(status.Convert(err)), &pd) {
						refused.Add(1)
					} else {
						t.Errorf("call %d: %v, want PermissionDenied", i, err)
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(began)
			fetches := idp.Requests(entratest.EndpointKeys) - keysBefore
			bound := int64(elapsed/minRefetch) + 2 // one per window begun, and the delayed one
			s := kp.Stats()
			t.Logf("%d calls with random kids in %v: %d refused, %d JWKS fetches (bound %d); stats: %d refetches, %d rate-limited, %d waited for a refetch",
				calls, elapsed.Round(time.Millisecond), refused.Load(), fetches, bound, s.Refetches, s.RateLimited, s.NotFoundAfterRefetch)
			if refused.Load() != calls {
				t.Errorf("%d of %d calls refused", refused.Load(), calls)
			}
			if fetches < 1 || fetches > bound {
				t.Errorf("JWKS fetched %d times during the flood, want between 1 and %d", fetches, bound)
			}

			// Valid clients are not locked out.
			starterAuth := azureProvider(t, idp, azureStarterClientID)
			azureStartWorker(t, azureMustDial(t, srv, azureProvider(t, idp, azureWorkerClientID)), "flood")
			ctx, cancel := context.WithTimeout(context.Background(), azureCallTimeout)
			defer cancel()
			if err := azureRun(ctx, azureMustDial(t, srv, starterAuth), "flood", "after the flood"); err != nil {
				t.Fatalf("workflow after the flood: %v", err)
			}
		})
	}
}
