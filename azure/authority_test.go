package azure

import (
	"errors"
	"strings"
	"testing"

	"github.com/temporalauth/temporalauth/azure/entratest"
)

// An authority host that Entra ID's instance discovery does not know is
// refused before any credential is sent to it.
func TestUnknownAuthorityHostRefused(t *testing.T) {
	idp := newIdP(t)
	idp.RegisterClient(entratest.Client{ID: "app-1", Secret: testSecret})
	for _, env := range []bool{false, true} {
		cfg := appConfig(idp, "app-1")
		cfg.ClientSecret = testSecret
		cfg.DisableInstanceDiscovery = false
		cfg.fromEnv = env
		src := newSource(t, cfg)
		_, err := src.Token(testContext(t))
		var re *ResponseError
		if !errors.As(err, &re) || re.AADSTS != "AADSTS50049" {
			t.Fatalf("Token: %v; want AADSTS50049 from instance discovery", err)
		}
		want := []string{"invalid_instance", "azure.Config.AuthorityHost or azure.Config.DisableInstanceDiscovery"}
		if env {
			want[1] = "AZURE_AUTHORITY_HOST or AZURE_DISABLE_INSTANCE_DISCOVERY"
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
		assertClean(t, err.Error(), testSecret)
	}
	if n := idp.Requests(entratest.EndpointInstanceDiscovery); n == 0 {
		t.Errorf("instance discovery never asked")
	}
	// Neither the OpenID configuration nor the token endpoint of the
	// unknown host was reached: the secret never left the process.
	if n := idp.Requests(entratest.EndpointDiscovery) + idp.Requests(entratest.EndpointToken); n != 0 {
		t.Errorf("the unknown host got %d requests, want 0", n)
	}
	for _, r := range idp.TokenRequests() {
		t.Errorf("the unknown host got a token request: %v", r)
	}
}

// A host instance discovery vouches for is used, and validated once per
// client.
func TestTrustedAuthorityHost(t *testing.T) {
	idp := newIdP(t)
	idp.TrustAuthorityHost()
	idp.RegisterClient(entratest.Client{ID: "app-1", Secret: testSecret})
	cfg := appConfig(idp, "app-1")
	cfg.ClientSecret = testSecret
	cfg.DisableInstanceDiscovery = false
	src := newSource(t, cfg)
	var first int64
	for i := range 3 {
		if _, err := src.Token(testContext(t)); err != nil {
			t.Fatalf("Token %d: %v", i, err)
		}
		if i == 0 {
			first = idp.Requests(entratest.EndpointInstanceDiscovery)
		}
	}
	// MSAL asks twice for the first token (its cache looks up the host's
	// aliases, its resolver the endpoints), then keeps the answers.
	if n := idp.Requests(entratest.EndpointInstanceDiscovery); first == 0 || first > 2 || n != first {
		t.Errorf("instance discovery asked %d times for the first token and %d for 3, want 1 or 2 and no more later", first, n)
	}
	if n := idp.Requests(entratest.EndpointDiscovery); n != 1 {
		t.Errorf("OpenID configuration fetched %d times for 3 tokens, want 1", n)
	}
	if n := idp.Requests(entratest.EndpointToken); n != 3 {
		t.Errorf("token endpoint called %d times, want 3", n)
	}
}
