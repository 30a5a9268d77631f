package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/config"
	"google.golang.org/protobuf/types/known/durationpb"
	"gopkg.in/yaml.v3"

	"github.com/temporalauth/temporalauth/azure/entratest"
	"github.com/temporalauth/temporalauth/examples/devserver"
)

// entraKeysPrefix starts the JWKS URL of an Entra ID tenant.
const entraKeysPrefix = "https://login.microsoftonline.com/"

// readmeEntraAuthorization returns global.authorization of the Entra ID
// server configuration README.md gives, as its sh block writes it.
func readmeEntraAuthorization(t *testing.T) config.Authorization {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const start = "cat > entra-auth.yaml <<'EOF'\n"
	_, rest, ok := strings.Cut(string(data), start)
	body, _, ok2 := strings.Cut(rest, "\nEOF\n")
	if !ok || !ok2 {
		t.Fatalf("README.md has no block starting %q and ending with EOF", start)
	}
	var doc struct {
		Global struct {
			Authorization config.Authorization `yaml:"authorization"`
		} `yaml:"global"`
	}
	if err := yaml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("README.md's Entra configuration: %v", err)
	}
	return doc.Global.Authorization
}

// registerNamespace makes the admin call an intruder wants: registering a
// namespace needs temporal-system:admin.
func registerNamespace(ctx context.Context, c client.Client, name string) error {
	ctx, cancel := context.WithTimeout(ctx, azureCallTimeout)
	defer cancel()
	_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        name,
		WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	})
	return err
}

// TestEntraOtherTenant runs the stock Temporal server behind an Entra-like
// identity provider that signs for two tenants with the same keys. A
// client of tenant B, whose own app role is temporal-system:admin, tries
// to register a namespace: the README's former configuration (no audience)
// lets it, the README's configuration (audience = the server app's
// application ID, v2.0 tokens) refuses it. Tenant A's worker and starter
// run workflows throughout, without a failure.
func TestEntraOtherTenant(t *testing.T) {
	readme := readmeEntraAuthorization(t)
	if !strings.EqualFold(readme.Authorizer, "default") || !strings.EqualFold(readme.ClaimMapper, "default") ||
		readme.PermissionsRegex != "" || len(readme.JWTKeyProvider.KeySourceURIs) != 1 || readme.Audience == "" {
		t.Fatalf("README.md's configuration is not the shape this test runs: %+v", readme)
	}
	// The identity provider answers for the README's tenant, and its
	// server app has the README's application ID.
	keysURL := readme.JWTKeyProvider.KeySourceURIs[0]
	tenantA, ok := strings.CutSuffix(strings.TrimPrefix(keysURL, entraKeysPrefix), "/discovery/v2.0/keys")
	if !strings.HasPrefix(keysURL, entraKeysPrefix) || !ok || strings.Contains(tenantA, "/") {
		t.Fatalf("README.md's key source %q is not an Entra tenant's JWKS URL", keysURL)
	}
	idp := entratest.NewServer(entratest.WithTenant(tenantA))
	t.Cleanup(idp.Close)
	home := idp.HomeTenant()
	serverApp := home.RegisterApp(entratest.App{
		AppID:                      readme.Audience,
		IdentifierURIs:             []string{"api://temporal-server-a"},
		AccessTokenAcceptedVersion: 2,
	})
	home.RegisterClient(entratest.Client{ID: azureAdminClientID, Secret: azureSecret(azureAdminClientID), Roles: []string{azureRoleSystemAdmin}})
	home.RegisterClient(entratest.Client{ID: azureWorkerClientID, Secret: azureSecret(azureWorkerClientID), Roles: []string{azureRoleWrite}})
	scopeA := serverApp.AppID + "/.default"

	// Tenant B: anyone's tenant. Its owner registers an app with the
	// Application ID URI the README used to suggest, and one of its own
	// with v2.0 tokens, and grants a client the role temporal-system:admin
	// on both.
	tenantB := idp.AddTenant("")
	tenantB.RegisterApp(entratest.App{IdentifierURIs: []string{"api://temporal-server"}})
	ownApp := tenantB.RegisterApp(entratest.App{AccessTokenAcceptedVersion: 2})
	const intruderID = "intruder"
	tenantB.RegisterClient(entratest.Client{ID: intruderID, Secret: azureSecret(intruderID), Roles: []string{azureRoleSystemAdmin}})
	if home.KeysURL() == tenantB.KeysURL() {
		t.Fatal("the tenants share a JWKS URL")
	}

	rows := []struct {
		name     string
		audience string
		accepted bool
	}{
		{"README's former configuration (no audience)", "", true},
		{"README's configuration (audience = application ID, v2.0 tokens)", readme.Audience, false},
	}
	for i, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			serverLog, logs := azureServerLog()
			srv, err := devserver.Start(devserver.Config{
				Logger:               serverLog,
				JWKSURLs:             []string{home.HTTPKeysURL()}, // the README's URL, on the test identity provider
				RefreshInterval:      readme.JWTKeyProvider.RefreshInterval,
				PermissionsClaimName: readme.PermissionsClaimName,
				Audience:             row.audience,
				Namespaces:           []string{azureNamespace},
				SystemHeaders:        azureTenantProvider(t, idp, home.ID(), azureAdminClientID, scopeA),
			})
			if err != nil {
				t.Fatalf("devserver.Start: %v", err)
			}
			// Registered first, so that it runs last: after the worker stops.
			t.Cleanup(func() { _ = srv.Stop() })

			// Tenant A's worker and starter, under load throughout.
			workerHeaders := azureTenantProvider(t, idp, home.ID(), azureWorkerClientID, scopeA)
			c := azureMustDial(t, srv, workerHeaders)
			queue := "tenant-a-" + t.Name()
			azureStartWorker(t, c, queue)
			if err := azureRun(context.Background(), c, queue, "first"); err != nil {
				t.Fatalf("tenant A's first workflow: %v", err)
			}
			load := azureStartLoad(c, queue, 100*time.Millisecond)

			// Tenant B's intruder, with tokens of both of its apps.
			attempts := []struct {
				what, scope, iss string
			}{
				{"v1.0 token for api://temporal-server", "api://temporal-server/.default", tenantB.IssuerV1()},
				{"v2.0 token for its own app", ownApp.AppID + "/.default", tenantB.Issuer()},
			}
			for j, a := range attempts {
				p := azureTenantProvider(t, idp, tenantB.ID(), intruderID, a.scope)
				tok, err := p.Token(context.Background())
				if err != nil {
					t.Fatalf("%s: %v", a.what, err)
				}
				claims, err := tenantB.VerifyToken(tok.Value())
				if err != nil || claims.Issuer != a.iss || claims.KeyID != idp.SigningKeyID() {
					t.Fatalf("%s: claims %+v, %v; want iss %s signed with the shared key", a.what, claims, err, a.iss)
				}
				// A lazy client: the intruder's first call is the one that counts.
				ic, err := client.NewLazyClient(client.Options{HostPort: srv.HostPort(), Namespace: azureNamespace, HeadersProvider: p})
				if err != nil {
					t.Fatalf("client as the intruder: %v", err)
				}
				ns := "intruder-" + string(rune('a'+i)) + string(rune('a'+j))
				err = registerNamespace(context.Background(), ic, ns)
				ic.Close()
				if row.accepted {
					if err != nil {
						t.Errorf("%s: RegisterNamespace %s: %v; want it ACCEPTED (the documented exposure)", a.what, ns, err)
					} else {
						t.Logf("%s: tenant B registered namespace %s: ACCEPTED", a.what, ns)
					}
					continue
				}
				var denied *serviceerror.PermissionDenied
				if !errors.As(err, &denied) {
					t.Errorf("%s: RegisterNamespace %s: %v; want PermissionDenied", a.what, ns, err)
				} else {
					t.Logf("%s: REFUSED (%v)", a.what, err)
				}
			}

			// Let tenant A run a few more workflows after the attempts.
			waitSucceeded(t, load, 10)
			succeeded, failures := load.stop()
			if len(failures) > 0 || succeeded == 0 {
				t.Errorf("tenant A: %d workflows succeeded, %d failed: %v", succeeded, len(failures), failures)
			}
			t.Logf("tenant A: %d workflows succeeded, 0 failed", succeeded)
			refusals := azureRefusals(logs)
			if row.accepted && len(refusals) > 0 || !row.accepted && (len(refusals) != len(attempts) || !allEqual(refusals, "audience mismatch")) {
				t.Errorf("the server's refusals: %q", refusals)
			}
		})
	}
}

// waitSucceeded waits until l has seen n workflows succeed, or fails the
// test after a minute.
func waitSucceeded(t *testing.T, l *azureLoad, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		l.mu.Lock()
		got, failed := l.succeeded, len(l.failures)
		l.mu.Unlock()
		if got >= n || failed > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tenant A: %d workflows succeeded in a minute, want %d", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func allEqual(ss []string, want string) bool {
	for _, s := range ss {
		if s != want {
			return false
		}
	}
	return true
}
