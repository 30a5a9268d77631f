package azure

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/azure/entratest"
	"github.com/temporalauth/temporalauth/headers"
)

const testSecret = "s3cr3t~Value.Of-An.App_Registration"

func TestClientSecret(t *testing.T) {
	idp := newIdP(t)
	idp.RegisterClient(entratest.Client{ID: "app-1", Secret: testSecret, Roles: []string{"default:write", "temporal-system:read"}})
	cfg := appConfig(idp, "app-1")
	cfg.ClientSecret = testSecret
	src := newSource(t, cfg)
	ctx := testContext(t)

	before := time.Now()
	tok, err := src.Token(ctx)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}

	req := lastRequest(t, idp)
	if req.Endpoint != entratest.EndpointToken {
		t.Fatalf("request went to %v", req.Endpoint)
	}
	for field, want := range map[string]string{
		"grant_type":    "client_credentials",
		"client_id":     "app-1",
		"client_secret": testSecret,
	} {
		if got := req.Values.Get(field); got != want {
			t.Errorf("posted %s = %q, want %q", field, got, want)
		}
	}
	if req.Values.Has("client_assertion") {
		t.Error("a client assertion was posted along with the secret")
	}
	if scopes := req.Values.Get("scope"); !slices.Contains(splitFields(scopes), testScope) {
		t.Errorf("posted scope %q does not hold %q", scopes, testScope)
	}

	claims, kid := verifyWithJWKS(t, idp, tok.Value())
	if kid != idp.SigningKeyID() {
		t.Errorf("kid %q, want the signing key %q", kid, idp.SigningKeyID())
	}
	if claims.Subject != "app-1" || claims.AZP != "app-1" {
		t.Errorf("sub %q azp %q, want app-1", claims.Subject, claims.AZP)
	}
	if !slices.Equal(claims.Audience, []string{entratest.DefaultResource}) {
		t.Errorf("aud %q, want %q", claims.Audience, entratest.DefaultResource)
	}
	if !slices.Equal(claims.Roles, []string{"default:write", "temporal-system:read"}) {
		t.Errorf("roles %q", claims.Roles)
	}
	wantExpiry := before.Add(entratest.DefaultTokenLifetime)
	if d := tok.Expiry.Sub(wantExpiry); d < -2*time.Second || d > 5*time.Second {
		t.Errorf("Expiry %v, want about %v", tok.Expiry, wantExpiry)
	}
	if !tok.RefreshAt.IsZero() {
		t.Errorf("RefreshAt %v without refresh_in", tok.RefreshAt)
	}

	// The Provider in front is the cache: a second call means it wants a
	// new token, so it reaches the identity provider, not MSAL's cache.
	// The authority's metadata is not fetched again.
	again, err := src.Token(ctx)
	if err != nil {
		t.Fatalf("second Token: %v", err)
	}
	if again.Value() == tok.Value() {
		t.Error("second call returned the first token again: MSAL's cache answered")
	}
	if n := idp.Requests(entratest.EndpointToken); n != 2 {
		t.Errorf("token endpoint called %d times, want 2", n)
	}
	if n := idp.Requests(entratest.EndpointDiscovery); n != 1 {
		t.Errorf("discovery called %d times, want 1", n)
	}
}

func TestRefreshInSetsRefreshAt(t *testing.T) {
	idp := newIdP(t, entratest.WithRefreshIn(30*time.Minute))
	idp.RegisterClient(entratest.Client{ID: "app-1", Secret: testSecret})
	cfg := appConfig(idp, "app-1")
	cfg.ClientSecret = testSecret
	before := time.Now()
	tok, err := newSource(t, cfg).Token(testContext(t))
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	want := before.Add(30 * time.Minute)
	if d := tok.RefreshAt.Sub(want); d < -2*time.Second || d > 5*time.Second {
		t.Errorf("RefreshAt %v, want about %v", tok.RefreshAt, want)
	}
}

// TestProviderOneCallPerLifetime hammers a headers.Provider from many
// goroutines: the identity provider must see one token request per token
// lifetime, not one per caller or per call.
func TestProviderOneCallPerLifetime(t *testing.T) {
	t.Run("hour-long token", func(t *testing.T) {
		idp := newIdP(t)
		idp.RegisterClient(entratest.Client{ID: "app-1", Secret: testSecret, Roles: []string{"default:write"}})
		cfg := appConfig(idp, "app-1")
		cfg.ClientSecret = testSecret
		p, err := NewProvider(cfg, headers.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })

		seen := hammer(t, p, 32, 50, 0)
		if len(seen) != 1 {
			t.Errorf("callers saw %d different headers, want 1", len(seen))
		}
		if n := idp.Requests(entratest.EndpointToken); n != 1 {
			t.Errorf("token endpoint called %d times, want 1", n)
		}
	})

	// A token shorter than MSAL's five-minute buffer makes MSAL go to the
	// network on every call: only the Provider keeps the rate down.
	t.Run("one-second token", func(t *testing.T) {
		idp := newIdP(t, entratest.WithTokenLifetime(time.Second))
		idp.RegisterClient(entratest.Client{ID: "app-1", Secret: testSecret})
		cfg := appConfig(idp, "app-1")
		cfg.ClientSecret = testSecret
		p, err := NewProvider(cfg, headers.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })

		start := time.Now()
		seen := hammer(t, p, 16, 0, 1600*time.Millisecond)
		elapsed := time.Since(start)
		n := idp.Requests(entratest.EndpointToken)
		// The Provider renews a 1 s token a quarter of its lifetime before
		// expiry: one fetch at the start, one per ~0.75 s after that.
		maxCalls := int64(elapsed/(750*time.Millisecond)) + 2
		if n < 2 || n > maxCalls {
			t.Errorf("token endpoint called %d times in %v, want 2..%d", n, elapsed.Round(time.Millisecond), maxCalls)
		}
		if len(seen) < 2 {
			t.Errorf("callers saw %d different tokens, want a renewed one", len(seen))
		}
	})
}

// hammer calls p.GetHeaders from workers goroutines, each calls times or for
// d, and returns the distinct authorization values seen.
func hammer(t *testing.T, p *headers.Provider, workers, calls int, d time.Duration) map[string]bool {
	t.Helper()
	ctx := testContext(t)
	deadline := time.Now().Add(d)
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for i := 0; (calls > 0 && i < calls) || (d > 0 && time.Now().Before(deadline)); i++ {
				h, err := p.GetHeaders(ctx)
				if err != nil {
					t.Errorf("GetHeaders: %v", err)
					return
				}
				mu.Lock()
				seen[h["authorization"]] = true
				mu.Unlock()
				if d > 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	return seen
}

func splitFields(s string) []string { return strings.Fields(s) }

// TestDefaultHTTPClient builds a Source without Config.HTTPClient: it gets a
// transport of its own, which Close releases. Nothing is sent.
func TestDefaultHTTPClient(t *testing.T) {
	src, err := NewTokenSource(Config{TenantID: "contoso.onmicrosoft.com", ClientID: "c", ClientSecret: testSecret, Scopes: []string{testScope}})
	if err != nil {
		t.Fatal(err)
	}
	if !src.own || src.http.client == http.DefaultClient || src.http.client.Transport == http.DefaultTransport {
		t.Error("the Source shares the default client or transport")
	}
	if got := src.Name(); got != "azure client_id=c tenant=contoso.onmicrosoft.com" {
		t.Errorf("Name = %q", got)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
}
