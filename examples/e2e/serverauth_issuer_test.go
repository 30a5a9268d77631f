package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/common/config"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/temporalauth/temporalauth/azure/entratest"
	"github.com/temporalauth/temporalauth/examples/devserver"
	"github.com/temporalauth/temporalauth/examples/internal/hydratest"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/serverauth"
)

// The tests in this file attack a server built with serverauth the way
// issue #19 describes: a token signed with a key the server trusts, by an
// issuer the server never meant to trust.

// serverAuthIntruderID is the attacker's app in tenant B.
const serverAuthIntruderID = "tenant-b-intruder"

// serverAuthTenantB adds an attacker's tenant to idp. Entra ID signs its
// tokens with the keys every tenant shares. Its app registration borrows
// the cluster's Application ID URI (unique only within a tenant) and keeps
// v1.0 tokens, whose aud is that URI; its client holds an app role named
// like the cluster's admin role. It returns the client's token provider,
// built as a worker's is, with MSAL.
func serverAuthTenantB(t *testing.T, idp *entratest.Server) (*entratest.Tenant, *headers.Provider) {
	t.Helper()
	b := idp.AddTenant("")
	b.RegisterApp(entratest.App{IdentifierURIs: []string{entratest.DefaultResource}})
	b.RegisterClient(entratest.Client{ID: serverAuthIntruderID, Secret: azureSecret(serverAuthIntruderID), Roles: []string{azureRoleSystemAdmin}})
	return b, azureTenantProvider(t, idp, b.ID(), serverAuthIntruderID, entratest.DefaultResource+"/.default")
}

// serverAuthClaims reads the claims and kid of the token p sends, without
// verifying it.
func serverAuthClaims(t *testing.T, p azureHeaders) (jwt.MapClaims, string) {
	t.Helper()
	h, err := p.GetHeaders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(strings.TrimPrefix(h["authorization"], "Bearer "), claims)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := tok.Header["kid"].(string)
	return claims, kid
}

// serverAuthRegisterNamespace is what an admin may do and a stranger may
// not: register a namespace.
func serverAuthRegisterNamespace(t *testing.T, srv *devserver.Server, p azureHeaders, name string) error {
	t.Helper()
	c, err := azureDial(srv, p)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), azureCallTimeout)
	defer cancel()
	_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: name, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	})
	return err
}

// TestServerAuthOtherTenant: tenant B's client-credentials token, signed by
// the keys tenant A's JWKS serves and carrying the app role
// temporal-system:admin, tries to register a namespace on a server whose
// serverauth key provider is set up for tenant A (Config.EntraTenants),
// with the audience api://temporal-server and with none: refused both
// times, by the issuer binding. With the opt-out (AllowAnyIssuer over the
// tenant's JWKS URL) the same token is accepted, which is what the stock
// key provider does. Tenant A's worker and starter run workflows
// throughout, with none failing.
func TestServerAuthOtherTenant(t *testing.T) {
	idp := azureIdP(t)
	tenantB, intruder := serverAuthTenantB(t, idp)
	claims, kid := serverAuthClaims(t, intruder)
	t.Logf("tenant B's token: kid %s, iss %v, aud %v, roles %v", kid, claims["iss"], claims["aud"], claims["roles"])
	roles, _ := claims["roles"].([]any)
	aud, _ := claims.GetAudience()
	if claims["iss"] != tenantB.IssuerV1() || kid != idp.SigningKeyID() || !slices.Contains(aud, entratest.DefaultResource) ||
		!slices.Contains(roles, any(azureRoleSystemAdmin)) {
		t.Fatalf("tenant B's token is not the attack: kid %s (tenant A signs with %s), claims %v", kid, idp.SigningKeyID(), claims)
	}

	for i, row := range []struct {
		name      string
		audience  string
		anyIssuer bool
		accepted  bool
	}{
		{"serverauth/audience=" + entratest.DefaultResource, entratest.DefaultResource, false, false},
		{"serverauth/no audience", "", false, false},
		{"serverauth AllowAnyIssuer (opt-out)/audience=" + entratest.DefaultResource, entratest.DefaultResource, true, true},
	} {
		t.Run(row.name, func(t *testing.T) {
			serverLog, logs := azureServerLog()
			kc := serverauth.Config{HTTPClient: idp.Client(), Logger: serverLog}
			if row.anyIssuer {
				kc.JWKSURLs, kc.AllowAnyIssuer = []string{idp.KeysURL()}, true
			} else {
				kc.EntraTenants, kc.EntraAuthorityHost = []string{idp.Tenant()}, idp.AuthorityHost()
			}
			kp, err := serverauth.NewKeyProvider(kc)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(kp.Close)
			srv, err := devserver.Start(devserver.Config{
				Logger:               serverLog,
				KeyProvider:          kp,
				PermissionsClaimName: "roles",
				Audience:             row.audience,
				Namespaces:           []string{azureNamespace},
				SystemHeaders:        azureProvider(t, idp, azureAdminClientID),
			})
			if err != nil {
				t.Fatalf("devserver.Start: %v", err)
			}
			t.Cleanup(func() { _ = srv.Stop() })

			queue := fmt.Sprintf("tenant-a-%d", i)
			azureStartWorker(t, azureMustDial(t, srv, azureProvider(t, idp, azureWorkerClientID)), queue)
			starter := azureMustDial(t, srv, azureProvider(t, idp, azureStarterClientID))
			load := azureStartLoad(starter, queue, 200*time.Millisecond)
			time.Sleep(time.Second)
			err = serverAuthRegisterNamespace(t, srv, intruder, fmt.Sprintf("tenant-b-%d", i))
			time.Sleep(time.Second)
			succeeded, failures := load.stop()
			t.Logf("tenant B's admin token: %v; tenant A: %d workflows succeeded, %d failed", err, succeeded, len(failures))
			for _, f := range failures {
				t.Errorf("tenant A's workflow failed: %v", f)
			}
			if succeeded < 5 {
				t.Errorf("only %d of tenant A's workflows succeeded", succeeded)
			}

			if row.accepted {
				if err != nil {
					t.Fatalf("with the opt-out, tenant B's token was refused (%v): the exposure did not reproduce", err)
				}
				return
			}
			azureWantUnauthorized(t, "tenant B's admin token", err)
			want := fmt.Sprintf("token issuer %q may not use key ID %q", tenantB.IssuerV1(), kid)
			if r := azureRefusals(logs); !strings.Contains(strings.Join(r, "\n"), want) {
				t.Errorf("server refusals %q, want %q", r, want)
			}
			if s := kp.Stats(); s.IssuerRefused < 1 {
				t.Errorf("key provider stats %+v, want an issuer refusal", s)
			}
			e := logs.FilterMessageSnippet("its issuer may not use the key").All()
			if len(e) == 0 || e[0].ContextMap()["iss"] != fmt.Sprintf("%q", tenantB.IssuerV1()) {
				t.Errorf("key provider refusal log %v", e)
			}
		})
	}
}

// hydraShareKey makes Hydra sign its access tokens with key: it replaces
// Hydra's access-token key set, through Hydra's admin API, with that one
// private key.
func hydraShareKey(t *testing.T, hydra interface{ AdminURL() string }, key *rsa.PrivateKey, kid string) {
	t.Helper()
	jwk := map[string]any{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid}
	b64 := base64.RawURLEncoding.EncodeToString
	key.Precompute()
	jwk["n"], jwk["e"] = b64(key.N.Bytes()), b64([]byte{1, 0, 1})
	jwk["d"], jwk["p"], jwk["q"] = b64(key.D.Bytes()), b64(key.Primes[0].Bytes()), b64(key.Primes[1].Bytes())
	jwk["dp"], jwk["dq"], jwk["qi"] = b64(key.Precomputed.Dp.Bytes()), b64(key.Precomputed.Dq.Bytes()), b64(key.Precomputed.Qinv.Bytes())
	body, err := json.Marshal(map[string]any{"keys": []any{jwk}})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPut, hydra.AdminURL()+"/admin/keys/"+hydratest.AccessTokenKeySet, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("importing the shared key into Hydra: HTTP %d: %s", resp.StatusCode, msg)
	}
}

// TestServerAuthHydraForeignIssuer: two Ory Hydras sign with one key (an
// operator imported it into both, or one key set serves two issuers); the
// server's serverauth key provider reads the first Hydra's discovery
// document. A token of the second Hydra, signed with that key, is refused:
// its iss is not the discovery document's issuer. The first Hydra's tokens
// keep working.
func TestServerAuthHydraForeignIssuer(t *testing.T) {
	first := hydratest.Start(t, hydratest.Options{})
	second := hydratest.Start(t, hydratest.Options{})
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const kid = "shared-by-two-issuers"
	hydraShareKey(t, first, key, kid)
	hydraShareKey(t, second, key, kid)

	kc, err := serverauth.ConfigFromAuthorization(&config.Authorization{
		JWTKeyProvider: config.JWTKeyProvider{KeySourceURIs: []string{first.DiscoveryURL()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	serverLog, logs := azureServerLog()
	kc.Logger = serverLog
	kp, err := serverauth.NewKeyProvider(kc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kp.Close)
	srv, err := devserver.Start(devserver.Config{
		Logger:               serverLog,
		KeyProvider:          kp,
		PermissionsClaimName: "scp",
		Namespaces:           []string{azureNamespace},
		SystemHeaders:        hydraClient(t, first, "temporal-system:admin"),
	})
	if err != nil {
		t.Fatalf("devserver.Start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })

	const queue = "hydra-issuer"
	azureStartWorker(t, azureMustDial(t, srv, hydraClient(t, first, azureRoleWrite)), queue)
	ctx, cancel := context.WithTimeout(context.Background(), azureCallTimeout)
	defer cancel()
	if err := azureRun(ctx, azureMustDial(t, srv, hydraClient(t, first, azureRoleWrite)), queue, "first issuer"); err != nil {
		t.Fatalf("workflow with the first Hydra's token: %v", err)
	}

	foreign := hydraClient(t, second, "temporal-system:admin")
	claims, gotKid := serverAuthClaims(t, foreign)
	t.Logf("second Hydra's token: kid %s, iss %v (the server reads %s)", gotKid, claims["iss"], first.Issuer())
	if gotKid != kid || claims["iss"] != second.Issuer() || second.Issuer() == first.Issuer() {
		t.Fatalf("the second Hydra's token has kid %s and iss %v; want kid %s and iss %s", gotKid, claims["iss"], kid, second.Issuer())
	}
	err = serverAuthRegisterNamespace(t, srv, foreign, "second-hydra")
	azureWantUnauthorized(t, "the second Hydra's admin token", err)
	want := fmt.Sprintf("token issuer %q may not use key ID %q", second.Issuer(), kid)
	if r := azureRefusals(logs); !strings.Contains(strings.Join(r, "\n"), want) {
		t.Errorf("server refusals %q, want %q", r, want)
	}
	if s := kp.Stats(); s.IssuerRefused < 1 || strings.Join(s.Sources[0].Issuers, " ") != first.Issuer() {
		t.Errorf("key provider stats %+v", s)
	}
}
