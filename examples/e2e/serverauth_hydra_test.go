package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/server/common/config"

	"github.com/temporalauth/temporalauth/examples/devserver"
	"github.com/temporalauth/temporalauth/examples/internal/hydratest"
	"github.com/temporalauth/temporalauth/serverauth"
)

// hydraHeaders serves a client-credentials token from Hydra, kept until
// renew, as a client's token source keeps it until it nears expiry.
type hydraHeaders struct {
	hydra  *hydratest.Server
	client hydratest.Client

	mu    sync.Mutex
	token string
}

func (h *hydraHeaders) GetHeaders(ctx context.Context) (map[string]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.token == "" {
		tok, err := h.hydra.Token(ctx, h.client)
		if err != nil {
			return nil, err
		}
		h.token = tok
	}
	return map[string]string{"authorization": "Bearer " + h.token}, nil
}

// renew drops the token held, so the next call gets a new one.
func (h *hydraHeaders) renew() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.token = ""
}

func hydraClient(t *testing.T, hydra *hydratest.Server, scope string) *hydraHeaders {
	t.Helper()
	c, err := hydra.CreateClient(context.Background(), hydratest.ClientSpec{Scopes: []string{scope}})
	if err != nil {
		t.Fatal(err)
	}
	return &hydraHeaders{hydra: hydra, client: c}
}

// TestServerAuthHydraRotationWithoutNotice is TestServerAuthRotationWithoutNotice
// against Ory Hydra: Hydra starts signing access tokens with a new ES256 key
// the moment it makes it (RotateKeyAlg), under a running worker. Permissions
// are in Hydra's "scp" claim.
func TestServerAuthHydraRotationWithoutNotice(t *testing.T) {
	for _, refresh := range []time.Duration{0, 10 * time.Minute} {
		for _, provider := range []string{"stock", "serverauth"} {
			t.Run(fmt.Sprintf("refreshInterval=%v/%s", refresh, provider), func(t *testing.T) {
				hydra := hydratest.Start(t, hydratest.Options{})
				serverLog, logs := azureServerLog()
				cfg := devserver.Config{
					Logger:               serverLog,
					PermissionsClaimName: "scp",
					Namespaces:           []string{azureNamespace},
					SystemHeaders:        hydraClient(t, hydra, "temporal-system:admin"),
				}
				var keys *serverauth.KeyProvider
				if provider == "stock" {
					cfg.JWKSURLs = []string{hydra.JWKSURL()}
					cfg.RefreshInterval = refresh
					if refresh == 0 {
						cfg.RefreshInterval = -1 // the stock server's 0: never
					}
				} else {
					kc, err := serverauth.ConfigFromAuthorization(&config.Authorization{
						JWTKeyProvider: config.JWTKeyProvider{KeySourceURIs: []string{hydra.DiscoveryURL()}, RefreshInterval: refresh},
					})
					if err != nil {
						t.Fatal(err)
					}
					kc.Logger = serverLog
					if keys, err = serverauth.NewKeyProvider(kc); err != nil {
						t.Fatal(err)
					}
					t.Cleanup(keys.Close)
					cfg.KeyProvider = keys
				}
				srv, err := devserver.Start(cfg)
				if err != nil {
					t.Fatalf("devserver.Start: %v", err)
				}
				t.Cleanup(func() { _ = srv.Stop() })

				const queue = "hydra-rotation"
				workerAuth := hydraClient(t, hydra, azureRoleWrite)
				azureStartWorker(t, azureMustDial(t, srv, workerAuth), queue)
				starterAuth := hydraClient(t, hydra, azureRoleWrite)
				starter := azureMustDial(t, srv, starterAuth)
				ctx, cancel := context.WithTimeout(context.Background(), azureCallTimeout)
				defer cancel()
				if err := azureRun(ctx, starter, queue, "before"); err != nil {
					t.Fatalf("workflow before the rotation: %v", err)
				}

				jwksBefore := hydra.JWKSRequests()
				load := azureStartLoad(starter, queue, 200*time.Millisecond)
				time.Sleep(time.Second)
				newKey, err := hydra.RotateKeyAlg(ctx, "ES256")
				if err != nil {
					t.Fatal(err)
				}
				workerAuth.renew()
				starterAuth.renew()
				time.Sleep(3 * time.Second)
				succeeded, failures := load.stop()
				fetches := hydra.JWKSRequests() - jwksBefore
				t.Logf("%s key provider: %d workflows succeeded, %d failed; JWKS fetched %d time(s) for the new key %s",
					provider, succeeded, len(failures), fetches, newKey)

				if provider == "stock" {
					if len(failures) == 0 {
						t.Fatal("no workflow failed with the stock key provider: the problem did not reproduce")
					}
					var pd *serviceerror.PermissionDenied
					if !errors.As(failures[len(failures)-1], &pd) {
						t.Errorf("last failure %v, want PermissionDenied", failures[len(failures)-1])
					}
					want := "ECDSA key not found for key ID: " + newKey
					if refusals := azureRefusals(logs); !strings.Contains(strings.Join(refusals, "\n"), want) {
						t.Errorf("server log %q, want %q", refusals, want)
					}
					return
				}
				for _, err := range failures {
					t.Errorf("workflow failed: %v", err)
				}
				if succeeded < 10 {
					t.Errorf("only %d workflows succeeded", succeeded)
				}
				if fetches != 1 {
					t.Errorf("JWKS fetched %d times during the rotation, want 1", fetches)
				}
				if s := keys.Stats(); s.Refetches != 1 || s.FoundAfterRefetch < 1 {
					t.Errorf("key provider stats %+v, want 1 refetch that found the key", s)
				}
				if refusals := azureRefusals(logs); len(refusals) > 0 {
					t.Errorf("server refused tokens: %q", refusals)
				}
			})
		}
	}
}
