package azure

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/azure/entratest"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/headers/clocktest"
)

// requestsPerDay runs a headers.Provider for a simulated day on a clocktest
// clock, serving a call every minute, over a source that answers like Entra
// ID with tokens of lifetime (every Source.Token call reaches the identity
// provider), and returns how many tokens it fetched.
func requestsPerDay(t *testing.T, lifetime, leeway time.Duration) int64 {
	t.Helper()
	return requestsPerDayOf(t, lifetime, leeway, false)
}

// requestsPerDayOf is requestsPerDay; with halfLife, each token also asks
// to be refreshed at its half-life, as Source.Token asks for a managed
// identity's tokens that live longer than two hours.
func requestsPerDayOf(t *testing.T, lifetime, leeway time.Duration, halfLife bool) int64 {
	t.Helper()
	clock := clocktest.NewAt(time.Now())
	var calls atomic.Int64
	src := headers.TokenSourceFunc(func(context.Context) (headers.Token, error) {
		n := calls.Add(1)
		now := clock.Now()
		tok := headers.NewToken(fmt.Sprintf("token-%d", n), now.Add(lifetime))
		if halfLife {
			tok.RefreshAt = now.Add(lifetime / 2)
		}
		return tok, nil
	})
	p := headers.New(src, headers.Options{Clock: clock, Leeway: leeway})
	defer p.Close()
	ctx := context.Background()
	// The Provider renews between Expiry - min(leeway, lifetime/2) and
	// three quarters of that (the renewal jitter); with no leeway set,
	// leeway is min(5m, lifetime/4).
	for elapsed := time.Duration(0); elapsed < 24*time.Hour; elapsed += time.Minute {
		if _, err := p.GetHeaders(ctx); err != nil {
			t.Fatal(err)
		}
		if p.Stats().Refreshing { // a background refresh started: let it finish at this time
			deadline := time.Now().Add(5 * time.Second)
			for p.Stats().Refreshing {
				if time.Now().After(deadline) {
					t.Fatal("the background refresh did not finish")
				}
				time.Sleep(time.Millisecond)
			}
		}
		clock.Advance(time.Minute)
	}
	return calls.Load()
}

// TestFigureRequestsPerDay reports identity-provider requests per provider
// per day for Entra ID's 60- and 90-minute tokens.
func TestFigureRequestsPerDay(t *testing.T) {
	for _, tc := range []struct {
		lifetime, leeway time.Duration
		least, most      int64
	}{
		// Fetches at 0, R, 2R, ... before 24 h, R the renewal interval,
		// between lifetime - leeway and lifetime - 3/4 leeway (the
		// renewal jitter), on a one-minute grid.
		{time.Hour, 0, 26, 27},                       // R = 55 to 57 min
		{90 * time.Minute, 0, 17, 17},                // R = 85 to 87 min
		{time.Hour, 15 * time.Minute, 30, 32},        // R = 45 to 49 min
		{90 * time.Minute, 15 * time.Minute, 19, 20}, // R = 75 to 79 min
	} {
		got := requestsPerDay(t, tc.lifetime, tc.leeway)
		leeway := "default"
		if tc.leeway > 0 {
			leeway = tc.leeway.String()
		}
		t.Logf("token lifetime %v, leeway %s: %d identity-provider requests per provider per day", tc.lifetime, leeway, got)
		if got < tc.least || got > tc.most {
			t.Errorf("lifetime %v leeway %v: %d requests, want %d to %d", tc.lifetime, tc.leeway, got, tc.least, tc.most)
		}
	}
}

// TestFigureManagedIdentityRequestsPerDay reports how often a managed
// identity provider asks the managed-identity endpoint (IMDS on a VM or an
// AKS node) for its tokens, which IMDS issues for 24 hours and Source.Token
// marks for refresh at their half-life: the figure behind sharing no
// credential between Providers (see managedCredential).
func TestFigureManagedIdentityRequestsPerDay(t *testing.T) {
	got := requestsPerDayOf(t, 24*time.Hour, 0, true)
	t.Logf("managed identity, 24-hour tokens refreshed at half-life: %d endpoint requests per provider per day", got)
	if got != 2 {
		t.Errorf("%d requests per day, want 2 (at start and after 12 hours)", got)
	}
}

// TestFigureSeveralClients measures what several Temporal clients in one
// process cost, with a Provider each or one shared Provider.
func TestFigureSeveralClients(t *testing.T) {
	const clients = 4
	for _, shared := range []bool{false, true} {
		idp := newIdP(t)
		idp.TrustAuthorityHost()
		idp.RegisterClient(entratest.Client{ID: "app-1", Secret: testSecret})
		cfg := appConfig(idp, "app-1")
		cfg.ClientSecret = testSecret
		cfg.DisableInstanceDiscovery = false // as in production
		providers := make([]*headers.Provider, clients)
		for i := range providers {
			if shared && i > 0 {
				providers[i] = providers[0]
				continue
			}
			p, err := NewProvider(cfg, headers.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Close() })
			providers[i] = p
		}
		for _, p := range providers {
			if _, err := p.GetHeaders(testContext(t)); err != nil {
				t.Fatal(err)
			}
		}
		token := idp.Requests(entratest.EndpointToken)
		setup := idp.Requests(entratest.EndpointInstanceDiscovery) + idp.Requests(entratest.EndpointDiscovery)
		t.Logf("%d clients, shared provider %t: %d token requests per renewal, %d authority requests (instance discovery and OpenID configuration) at start",
			clients, shared, token, setup)
		want := int64(clients)
		if shared {
			want = 1
		}
		if token != want {
			t.Errorf("shared %t: %d token requests, want %d", shared, token, want)
		}
	}
}
