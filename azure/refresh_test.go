package azure

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/azure/entratest"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/headers/clocktest"
)

// secretProvider returns a Provider over a client-secret Source for idp,
// timed by clock.
func secretProvider(t *testing.T, idp *entratest.Server, clock *clocktest.Clock, opts headers.Options) *headers.Provider {
	t.Helper()
	idp.RegisterClient(entratest.Client{ID: "app-1", Secret: testSecret, Roles: []string{"default:write"}})
	cfg := appConfig(idp, "app-1")
	cfg.ClientSecret = testSecret
	opts.Clock = clock
	p, err := NewProvider(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func bearerOf(t *testing.T, p *headers.Provider) string {
	t.Helper()
	h, err := p.GetHeaders(testContext(t))
	if err != nil {
		t.Fatalf("GetHeaders: %v", err)
	}
	return strings.TrimPrefix(h["authorization"], "Bearer ")
}

// waitFor polls cond until it holds or 10 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Invalidate (what RetryUnauthorized calls after the server rejects a
// token) yields a token fetched anew, not MSAL's cached one.
func TestInvalidateFetchesFromEntra(t *testing.T) {
	idp := newIdP(t)
	p := secretProvider(t, idp, clocktest.NewAt(time.Now()), headers.Options{})
	first := bearerOf(t, p)
	p.Invalidate()
	second := bearerOf(t, p)
	if second == first {
		t.Fatal("after Invalidate the Provider serves the rejected token again")
	}
	if n := idp.Requests(entratest.EndpointToken); n != 2 {
		t.Errorf("token endpoint called %d times, want 2", n)
	}
}

// A 15-minute leeway renews between 15 minutes and 11 min 15 s (three
// quarters of it, the renewal jitter's bound) before expiry, from Entra
// ID: the buffer against an identity-provider outage is the leeway, not
// MSAL's five minutes.
func TestLeewayRenewsEarlyFromEntra(t *testing.T) {
	idp := newIdP(t, entratest.WithTokenLifetime(time.Hour))
	clock := clocktest.NewAt(time.Now())
	p := secretProvider(t, idp, clock, headers.Options{Leeway: 15 * time.Minute})
	first := bearerOf(t, p)
	firstExpiry := p.Stats().Expiry

	clock.Advance(44 * time.Minute)
	if got := bearerOf(t, p); got != first {
		t.Fatal("renewed before the leeway")
	}
	if n := idp.Requests(entratest.EndpointToken); n != 1 {
		t.Fatalf("token endpoint called %d times 16 minutes before expiry, want 1", n)
	}
	clock.Advance(4*time.Minute + 46*time.Second) // 11m14s before expiry
	bearerOf(t, p)                                // serves the valid token, starts the refresh
	waitFor(t, "the early refresh", func() bool { return p.Stats().Refreshes == 2 })
	if n := idp.Requests(entratest.EndpointToken); n != 2 {
		t.Errorf("token endpoint called %d times, want 2", n)
	}
	if bearerOf(t, p) == first {
		t.Error("the early refresh installed the old token: MSAL's cache answered it")
	}
	// entratest stamps tokens with the real time, which the test clock left
	// behind: the new token expires after the first, by the real seconds
	// the test took.
	if exp := p.Stats().Expiry; !exp.After(firstExpiry) {
		t.Errorf("expiry after the early refresh %v, first token's %v", exp, firstExpiry)
	}
}

// refresh_in is honoured, and a failed refresh at that time is counted,
// reported, logged, and retried with backoff until it succeeds.
func TestRefreshInFailureSurfacedAndRetried(t *testing.T) {
	idp := newIdP(t, entratest.WithTokenLifetime(time.Hour), entratest.WithRefreshIn(30*time.Minute))
	clock := clocktest.NewAt(time.Now())
	var logs lockedBuffer
	events := make(chan headers.RefreshEvent, 10)
	p := secretProvider(t, idp, clock, headers.Options{
		Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
		OnRefresh: func(e headers.RefreshEvent) { events <- e },
	})
	first := bearerOf(t, p)
	<-events

	idp.FailNext(1, entratest.Unavailable(0))
	clock.Advance(30*time.Minute + time.Second)
	if got := bearerOf(t, p); got != first {
		t.Fatal("the valid token was not served during the refresh")
	}
	e := <-events
	if e.Err == nil || !e.Background || !strings.Contains(e.Err.Error(), "503") {
		t.Fatalf("refresh event %+v; want the failed background refresh", e)
	}
	st := p.Stats()
	if st.Failures != 1 || st.ConsecutiveFailures != 1 || st.LastError == nil {
		t.Errorf("Stats %+v; want the failure counted", st)
	}
	if !strings.Contains(logs.String(), "token refresh failed") {
		t.Errorf("no warning logged:\n%s", logs.String())
	}
	if e.RetryIn <= 0 || e.RetryIn > time.Minute {
		t.Fatalf("RetryIn %v", e.RetryIn)
	}
	clock.Advance(e.RetryIn + time.Millisecond)
	bearerOf(t, p)
	if e := <-events; e.Err != nil {
		t.Fatalf("retry: %v", e.Err)
	}
	if n := idp.Requests(entratest.EndpointToken); n != 3 {
		t.Errorf("token endpoint called %d times, want 3 (first, failed refresh, retry)", n)
	}
	if got := bearerOf(t, p); got == first {
		t.Error("the retry installed the old token")
	}
	if st := p.Stats(); st.ConsecutiveFailures != 0 || st.Refreshes != 2 {
		t.Errorf("Stats after the retry %+v", st)
	}
}

// A managed-identity token is fetched from the endpoint on every call (MSAL's
// process-wide cache is bypassed), and one that lives over two hours asks
// for a refresh at its half-life every time, not only the first.
func TestManagedIdentityFromNetworkWithHalfLife(t *testing.T) {
	idp := newIdP(t, entratest.WithTokenLifetime(24*time.Hour))
	useManagedIdentityEndpoint(t, idp)
	resource := "api://temporal-mi-halflife"
	idp.RegisterResource(resource)
	idp.RegisterManagedIdentity(entratest.ManagedIdentity{SystemAssigned: true, ObjectID: "system-object"})
	src := newSource(t, Config{ManagedIdentity: SystemAssigned(), Scopes: []string{resource}, HTTPClient: idp.Client()})
	var values []string
	for i := range 2 {
		before := time.Now()
		tok, err := src.Token(testContext(t))
		if err != nil {
			t.Fatalf("Token %d: %v", i, err)
		}
		values = append(values, tok.Value())
		if d := tok.RefreshAt.Sub(before.Add(12 * time.Hour)); d < -time.Minute || d > time.Minute {
			t.Errorf("Token %d: RefreshAt %v, want the half-life %v", i, tok.RefreshAt, before.Add(12*time.Hour))
		}
	}
	if values[0] == values[1] {
		t.Error("the second call was answered from MSAL's cache")
	}
	if n := idp.Requests(entratest.EndpointManagedIdentity); n != 2 {
		t.Errorf("managed-identity endpoint called %d times, want 2", n)
	}
}

// ResponseError names the setting an AADSTS code points at.
func TestAADSTSNamesTheSetting(t *testing.T) {
	idp := newIdP(t)
	idp.RegisterClient(entratest.Client{ID: "app-1", Secret: testSecret})
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		code string
		want string // with fromEnv; the field names otherwise
	}{
		{"wrong secret", func(c *Config) { c.ClientSecret = "wrong" }, "AADSTS7000215", "check AZURE_CLIENT_SECRET"},
		{"unknown client", func(c *Config) { c.ClientID = "app-unknown" }, "AADSTS700016", "check AZURE_CLIENT_ID or AZURE_TENANT_ID"},
		{"unknown resource", func(c *Config) { c.Scopes = []string{"api://nobody/.default"} }, "AADSTS500011", "check TEMPORAL_AUTH_SCOPE"},
		{"unknown tenant", func(c *Config) { c.TenantID = "contoso.example" }, "AADSTS90002", "check AZURE_TENANT_ID or AZURE_AUTHORITY_HOST"},
	} {
		for _, env := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/env=%t", tc.name, env), func(t *testing.T) {
				cfg := appConfig(idp, "app-1")
				cfg.ClientSecret = testSecret
				tc.cfg(&cfg)
				cfg.fromEnv = env
				_, err := newSource(t, cfg).Token(testContext(t))
				want := tc.want
				if !env {
					for f, v := range names.Env {
						want = strings.ReplaceAll(want, v, "azure.Config."+f)
					}
				}
				if err == nil || !strings.Contains(err.Error(), tc.code) || !strings.Contains(err.Error(), want) {
					t.Errorf("Token: %v; want %s and %q", err, tc.code, want)
				}
			})
		}
	}
}
