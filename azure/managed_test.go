package azure

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/azure/entratest"
	"github.com/temporalauth/temporalauth/headers"
)

// useManagedIdentityEndpoint points MSAL's managed-identity client at idp's
// loopback endpoint (its App Service source).
func useManagedIdentityEndpoint(t *testing.T, idp *entratest.Server) {
	t.Helper()
	for k, v := range idp.ManagedIdentityEnv() {
		t.Setenv(k, v)
	}
}

// MSAL keeps managed-identity tokens in one process-wide cache keyed by
// identity and resource, so every test asks for a resource of its own.

func TestManagedIdentity(t *testing.T) {
	for _, tc := range []struct {
		name      string
		id        ManagedIdentity
		wantParam string // query parameter naming the identity
		wantValue string
	}{
		{"system-assigned", SystemAssigned(), "", ""},
		{"client ID", UserAssignedClientID("11111111-1111-1111-1111-111111111111"), "client_id", "11111111-1111-1111-1111-111111111111"},
		{"object ID", UserAssignedObjectID("22222222-2222-2222-2222-222222222222"), "object_id", "22222222-2222-2222-2222-222222222222"},
		{"resource ID", UserAssignedResourceID("/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/temporal-worker"), "mi_res_id", "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/temporal-worker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := newIdP(t)
			useManagedIdentityEndpoint(t, idp)
			resource := "api://temporal-mi-" + strings.ReplaceAll(tc.name, " ", "-")
			idp.RegisterResource(resource)
			idp.RegisterManagedIdentity(entratest.ManagedIdentity{SystemAssigned: true, ObjectID: "system-object", Roles: []string{"default:read"}})
			idp.RegisterManagedIdentity(entratest.ManagedIdentity{
				ClientID:   "11111111-1111-1111-1111-111111111111",
				ObjectID:   "22222222-2222-2222-2222-222222222222",
				ResourceID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/temporal-worker",
				Roles:      []string{"default:write"},
			})
			src := newSource(t, Config{ManagedIdentity: tc.id, Scopes: []string{resource + "/.default"}, HTTPClient: idp.Client()})
			before := time.Now()
			tok, err := src.Token(testContext(t))
			if err != nil {
				t.Fatalf("Token: %v", err)
			}

			req := lastRequest(t, idp)
			if req.Endpoint != entratest.EndpointManagedIdentity {
				t.Fatalf("request went to %v", req.Endpoint)
			}
			if got := req.Values.Get("resource"); got != resource {
				t.Errorf("resource %q, want %q", got, resource)
			}
			if req.Header.Get("X-IDENTITY-HEADER") == "" {
				t.Error("no X-IDENTITY-HEADER sent")
			}
			for _, p := range []string{"client_id", "object_id", "mi_res_id"} {
				if got, want := req.Values.Get(p), map[bool]string{true: tc.wantValue}[p == tc.wantParam]; got != want {
					t.Errorf("query %s = %q, want %q", p, got, want)
				}
			}
			claims, err := idp.VerifyToken(tok.Value())
			if err != nil {
				t.Fatal(err)
			}
			wantRoles, wantSub := []string{"default:write"}, "22222222-2222-2222-2222-222222222222"
			if tc.wantParam == "" {
				wantRoles, wantSub = []string{"default:read"}, "system-object"
			}
			if !slices.Equal(claims.Roles, wantRoles) || claims.Subject != wantSub || claims.Audience[0] != resource {
				t.Errorf("claims sub %q aud %q roles %q", claims.Subject, claims.Audience, claims.Roles)
			}
			if d := tok.Expiry.Sub(before.Add(entratest.DefaultTokenLifetime)); d < -2*time.Second || d > 5*time.Second {
				t.Errorf("Expiry %v is not about an hour away", tok.Expiry)
			}
		})
	}
}

func TestManagedIdentityUnavailable(t *testing.T) {
	idp := newIdP(t)
	useManagedIdentityEndpoint(t, idp)
	idp.RegisterResource("api://temporal-mi-unavailable")
	idp.RegisterManagedIdentity(entratest.ManagedIdentity{SystemAssigned: true})
	idp.FailNext(1, entratest.Unavailable(7*time.Second))
	src := newSource(t, Config{ManagedIdentity: SystemAssigned(), Scopes: []string{"api://temporal-mi-unavailable"}, HTTPClient: idp.Client()})

	_, err := src.Token(testContext(t))
	var re *ResponseError
	if !errors.As(err, &re) || re.StatusCode != 503 {
		t.Fatalf("Token: %v, want a 503 ResponseError", err)
	}
	if d, ok := headers.RetryAfter(err); !ok || d != 7*time.Second {
		t.Errorf("RetryAfter = %v, %v; want 7s", d, ok)
	}
	if n := idp.Requests(entratest.EndpointManagedIdentity); n != 1 {
		t.Errorf("endpoint called %d times: MSAL retried instead of leaving it to the Provider", n)
	}
	if _, err := src.Token(testContext(t)); err != nil {
		t.Fatalf("Token after the outage: %v", err)
	}
}

func TestManagedIdentityUnknown(t *testing.T) {
	idp := newIdP(t)
	useManagedIdentityEndpoint(t, idp)
	idp.RegisterResource("api://temporal-mi-unknown")
	src := newSource(t, Config{ManagedIdentity: UserAssignedClientID("33333333-3333-3333-3333-333333333333"), Scopes: []string{"api://temporal-mi-unknown"}, HTTPClient: idp.Client()})
	_, err := src.Token(testContext(t))
	var re *ResponseError
	if !errors.As(err, &re) || re.StatusCode != 400 || !strings.Contains(re.Description, "Managed Identity") || re.CorrelationID == "" {
		t.Fatalf("Token: %v, want the App Service error message", err)
	}
}

// TestNoInstanceMetadataService runs a managed identity with no endpoint in
// the environment, so MSAL falls back to the instance metadata service at
// 169.254.169.254: the test client refuses to dial it, and the error says so.
func TestNoInstanceMetadataService(t *testing.T) {
	idp := newIdP(t)
	for k := range idp.ManagedIdentityEnv() {
		t.Setenv(k, "")
	}
	src := newSource(t, Config{ManagedIdentity: SystemAssigned(), Scopes: []string{"api://temporal-mi-imds"}, HTTPClient: idp.Client()})
	_, err := src.Token(testContext(t))
	if err == nil || !strings.Contains(err.Error(), "169.254.169.254") || !strings.Contains(err.Error(), "refusing to dial") {
		t.Fatalf("Token: %v, want the loopback guard's refusal", err)
	}
	if strings.Contains(err.Error(), "?") {
		t.Errorf("error %q shows the request's query", err)
	}
}

// TestServiceFabricSource checks the Service Fabric source, which MSAL picks
// when IDENTITY_SERVER_THUMBPRINT is set too: it pins the endpoint's
// certificate on the HTTP client (through ConfigureClient) and takes no
// user-assigned identity.
func TestServiceFabricSource(t *testing.T) {
	idp := newIdP(t)
	useManagedIdentityEndpoint(t, idp)
	t.Setenv("IDENTITY_ENDPOINT", idp.AuthorityHost()+"service-fabric/token") // Service Fabric requires https
	t.Setenv("IDENTITY_SERVER_THUMBPRINT", strings.Repeat("AB", 20))
	// MSAL pins the certificate on a plain *http.Transport; this one dials
	// nothing (no request is made here).
	hc := &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no dialing in this test")
	}}}
	src, err := NewTokenSource(Config{ManagedIdentity: SystemAssigned(), Scopes: []string{"api://temporal-mi-sf"}, HTTPClient: hc})
	if err != nil {
		t.Fatalf("NewTokenSource: %v", err)
	}
	_ = src.Close()
	_, err = NewTokenSource(Config{ManagedIdentity: UserAssignedClientID("c"), Scopes: []string{"api://temporal-mi-sf"}, HTTPClient: hc})
	if err == nil || !strings.Contains(err.Error(), "Service Fabric") || !strings.Contains(err.Error(), "user-assigned client_id=c") {
		t.Fatalf("NewTokenSource with a user-assigned identity: %v", err)
	}
}

// TestManagedIdentityBypassesMSALCacheWithoutClaims pins the MSAL behaviour
// managedCredential relies on: WithClaims makes MSAL skip its process-wide
// managed-identity cache (each Token call reaches the endpoint) and sends
// the claims nowhere. MSAL for other languages sends claims, with
// token_sha256_to_refresh, to the endpoint; an MSAL Go that starts doing so
// would ask for tokens with an empty claims challenge, and fails this test.
func TestManagedIdentityBypassesMSALCacheWithoutClaims(t *testing.T) {
	idp := newIdP(t)
	useManagedIdentityEndpoint(t, idp)
	const resource = "api://temporal-mi-no-claims"
	idp.RegisterResource(resource)
	idp.RegisterManagedIdentity(entratest.ManagedIdentity{SystemAssigned: true})
	src := newSource(t, Config{ManagedIdentity: SystemAssigned(), Scopes: []string{resource}, HTTPClient: idp.Client()})
	var tokens []string
	for range 3 {
		tok, err := src.Token(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok.Value())
	}
	reqs := idp.TokenRequests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests to the managed-identity endpoint for 3 Token calls: MSAL answered from its cache", len(reqs))
	}
	for i, r := range reqs {
		for name := range r.Values {
			if n := strings.ToLower(name); n == "claims" || n == "token_sha256_to_refresh" || n == "xms_cc" {
				t.Errorf("request %d carries the parameter %s=%q", i+1, name, r.Values.Get(name))
			}
		}
		for name := range r.Header {
			if n := strings.ToLower(name); strings.Contains(n, "claims") || strings.Contains(n, "sha256") {
				t.Errorf("request %d carries the header %s", i+1, name)
			}
		}
	}
}

// msalVerified is the MSAL Go minor version whose managed-identity client
// was read to confirm what bypassCacheClaims relies on: AcquireToken with
// claims skips the cache and getToken sends no claims
// (apps/managedidentity/managedidentity.go).
const msalVerified = "v1.10."

// TestMSALVersionVerified fails when go.mod moves MSAL Go to another minor
// version, so that the upgrade re-reads its managed-identity AcquireToken
// before msalVerified is changed: WithClaims("{}") is not documented to
// bypass the cache. TestManagedIdentityBypassesMSALCacheWithoutClaims
// checks the behaviour itself.
func TestMSALVersionVerified(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/AzureAD/microsoft-authentication-library-for-go (v\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod does not require MSAL Go")
	}
	if v := string(m[1]); !strings.HasPrefix(v, msalVerified) {
		t.Fatalf("MSAL Go %s; managedCredential was verified against %sx: read apps/managedidentity AcquireToken (cache bypass with claims, claims not sent), then update msalVerified", v, msalVerified)
	}
}
