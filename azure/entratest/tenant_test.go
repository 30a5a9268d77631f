package entratest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// postTenantToken posts a client-credentials request to tenant t's token
// endpoint and returns the status and decoded body.
func postTenantToken(t *testing.T, tn *Tenant, client, secret, scope string) (int, map[string]any) {
	t.Helper()
	form := secretForm(client, secret)
	form.Set("scope", scope)
	resp, err := tn.s.Client().PostForm(tn.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decoding the token response: %v", err)
	}
	return resp.StatusCode, body
}

func fetchBody(t *testing.T, s *Server, u string) (int, string) {
	t.Helper()
	resp, err := s.Client().Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestTenantsShareKeys(t *testing.T) {
	s := newServer(t)
	b := s.AddTenant("tenant-b")
	if b.ID() != "tenant-b" || s.HomeTenant().ID() != s.Tenant() || b.Authority() != s.AuthorityHost()+"tenant-b" {
		t.Fatalf("ID %q home %q authority %q", b.ID(), s.HomeTenant().ID(), b.Authority())
	}
	_, home := fetchBody(t, s, s.KeysURL())
	for _, u := range []string{b.KeysURL(), b.HTTPKeysURL(), s.CommonKeysURL(), s.HTTPCommonKeysURL(), s.AuthorityHost() + "organizations/discovery/v2.0/keys"} {
		status, body := fetchBody(t, s, u)
		if status != http.StatusOK || body != home {
			t.Errorf("GET %s: %d %s, want the home tenant's JWKS %s", u, status, body, home)
		}
	}
	if status, _ := fetchBody(t, s, s.AuthorityHost()+"tenant-c/discovery/v2.0/keys"); status != http.StatusBadRequest {
		t.Errorf("an unknown tenant's JWKS: status %d, want 400", status)
	}

	// Both tenants' tokens carry the same kid; iss and tid tell them apart.
	s.RegisterClient(Client{ID: "a-app", Secret: "pa"})
	b.RegisterResource(DefaultResource)
	b.RegisterClient(Client{ID: "b-app", Secret: "pb", Roles: []string{"temporal-system:admin"}})
	_, ba := postTenantToken(t, s.HomeTenant(), "a-app", "pa", DefaultResource+"/.default")
	_, bb := postTenantToken(t, b, "b-app", "pb", DefaultResource+"/.default")
	ca, err := s.VerifyToken(ba["access_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.VerifyToken(bb["access_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if ca.KeyID != cb.KeyID || cb.Issuer != b.Issuer() || cb.TenantID != "tenant-b" || ca.Issuer == cb.Issuer ||
		!slices.Equal(cb.Roles, []string{"temporal-system:admin"}) || !slices.Equal(cb.Audience, ca.Audience) {
		t.Errorf("home claims %+v\ntenant-b claims %+v", ca, cb)
	}
	// Each tenant's verifier refuses the other's token.
	if _, err := s.VerifyToken(bb["access_token"].(string)); !errors.Is(err, jwt.ErrTokenInvalidIssuer) {
		t.Errorf("home tenant verifying tenant-b's token: %v, want ErrTokenInvalidIssuer", err)
	}
	if _, err := b.VerifyToken(ba["access_token"].(string)); !errors.Is(err, jwt.ErrTokenInvalidIssuer) {
		t.Errorf("tenant-b verifying the home token: %v, want ErrTokenInvalidIssuer", err)
	}
}

func TestTenantsKeepTheirOwnRegistrations(t *testing.T) {
	s := newServer(t)
	b := s.AddTenant("")
	if len(b.ID()) != 36 {
		t.Errorf("random tenant ID %q, want a GUID", b.ID())
	}
	s.RegisterClient(Client{ID: "a-app", Secret: "pa"})
	b.RegisterClient(Client{ID: "b-app", Secret: "pb"})
	// A client of one tenant is unknown to the other.
	status, body := postTenantToken(t, b, "a-app", "pa", DefaultResource+"/.default")
	if status != http.StatusBadRequest || !strings.HasPrefix(body["error_description"].(string), "AADSTS700016:") ||
		!strings.Contains(body["error_description"].(string), b.ID()) {
		t.Errorf("home client at tenant B: %d %v", status, body)
	}
	// NewServer registers DefaultResource in the home tenant only.
	status, body = postTenantToken(t, b, "b-app", "pb", DefaultResource+"/.default")
	if status != http.StatusBadRequest || body["error"] != "invalid_resource" {
		t.Errorf("home resource from tenant B: %d %v", status, body)
	}
	// Discovery answers per tenant, for both token versions.
	for path, want := range map[string]string{"/v2.0/.well-known/openid-configuration": b.Issuer(), "/.well-known/openid-configuration": b.IssuerV1()} {
		status, doc := getJSON(t, s, b.Authority()+path)
		if status != http.StatusOK || doc["issuer"] != want || doc["token_endpoint"] != b.TokenURL() {
			t.Errorf("GET %s: %d %v, want issuer %s", path, status, doc, want)
		}
	}
	if b.IssuerV1() != "https://sts.windows.net/"+b.ID()+"/" {
		t.Errorf("IssuerV1 %q", b.IssuerV1())
	}
}

func TestTokenVersions(t *testing.T) {
	s := newServer(t)
	home := s.HomeTenant()
	v2 := home.RegisterApp(App{IdentifierURIs: []string{"api://temporal-v2"}, AccessTokenAcceptedVersion: 2})
	v1 := home.RegisterApp(App{AppID: "11111111-2222-3333-4444-555555555555", IdentifierURIs: []string{"api://temporal-v1"}})
	if len(v2.AppID) != 36 || v1.AccessTokenAcceptedVersion != 0 {
		t.Fatalf("registered %+v %+v", v2, v1)
	}
	s.RegisterClient(Client{ID: "app", Secret: "pw", Roles: []string{"default:write"}})
	cases := []struct {
		name, scope, iss, ver, aud string
	}{
		{"v2 by URI", "api://temporal-v2/.default", home.Issuer(), "2.0", v2.AppID},
		{"v2 by app ID", v2.AppID + "/.default", home.Issuer(), "2.0", v2.AppID},
		{"v1 by URI", "api://temporal-v1/.default", home.IssuerV1(), "1.0", "api://temporal-v1"},
		{"v1 by app ID", strings.ToUpper(v1.AppID) + "/.default", home.IssuerV1(), "1.0", strings.ToUpper(v1.AppID)},
		{"RegisterResource", DefaultResource + "/.default", home.Issuer(), "2.0", DefaultResource},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := postTenantToken(t, home, "app", "pw", c.scope)
			if status != http.StatusOK {
				t.Fatalf("status %d: %v", status, body)
			}
			tok := body["access_token"].(string)
			claims, err := s.VerifyToken(tok)
			if err != nil {
				t.Fatal(err)
			}
			if claims.Issuer != c.iss || claims.Version != c.ver || !slices.Equal(claims.Audience, []string{c.aud}) ||
				claims.ClientID != "app" || claims.TenantID != home.ID() {
				t.Errorf("claims %+v, want iss %s ver %s aud %s", claims, c.iss, c.ver, c.aud)
			}
			// The client ID claim is azp in v2.0 tokens and appid in v1.0 ones.
			raw := jwt.MapClaims{}
			if _, _, err := jwt.NewParser().ParseUnverified(tok, raw); err != nil {
				t.Fatal(err)
			}
			idClaim, other := "azp", "appid"
			if c.ver == "1.0" {
				idClaim, other = other, idClaim
			}
			if raw[idClaim] != "app" || raw[other] != nil {
				t.Errorf("claims %v: want %s, no %s", raw, idClaim, other)
			}
		})
	}
}

func TestTenantMisuse(t *testing.T) {
	s := newServer(t)
	s.AddTenant("dup")
	app := s.RegisterApp(App{IdentifierURIs: []string{"api://x"}})
	for name, f := range map[string]func(){
		"duplicate tenant":     func() { s.AddTenant("dup") },
		"home tenant again":    func() { s.AddTenant(s.Tenant()) },
		"common":               func() { s.AddTenant("Common") },
		"slash":                func() { s.AddTenant("a/b") },
		"duplicate URI":        func() { s.RegisterApp(App{IdentifierURIs: []string{"api://x"}}) },
		"duplicate app ID":     func() { s.RegisterApp(App{AppID: app.AppID}) },
		"URI of RegisterRes..": func() { s.RegisterApp(App{IdentifierURIs: []string{DefaultResource}}) },
		"version 3":            func() { s.RegisterApp(App{AccessTokenAcceptedVersion: 3}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	// Another tenant may register the same Application ID URI.
	s.AddTenant("other").RegisterApp(App{IdentifierURIs: []string{"api://x"}})
}
