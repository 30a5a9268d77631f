package serverauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"go.temporal.io/server/common/config"
)

// A JWKS URL's keys verify only the tokens of its configured issuers; the
// refusal comes before any signature check, names the issuer quoted and
// truncated, and is counted.
func TestIssuerBindingJWKSURL(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, rsaJWK("a", &k.rsa[0].PublicKey))
	mh := newCountingHandler()
	f := newFixture(t, Config{
		JWKSURLs:       []string{srv.url()},
		JWKSIssuers:    map[string][]string{srv.url(): {"https://idp.test/a/", "https://idp.test/b/"}},
		MetricsHandler: mh,
	})
	ctx := context.Background()
	for _, iss := range []string{"https://idp.test/a/", "https://idp.test/b/"} {
		if got, err := f.p.GetKey(ctx, tokenFrom(iss, "RS256", "a")); err != nil || !k.rsa[0].PublicKey.Equal(got) {
			t.Errorf("GetKey for issuer %s = %v, %v; want the key", iss, got, err)
		}
	}

	long := "https://evil.test/\n" + strings.Repeat("x", 5000)
	noIss := token("RS256", "a")
	noIss.Claims = jwt.MapClaims{"sub": "x"}
	numIss := token("RS256", "a")
	numIss.Claims = jwt.MapClaims{"iss": 42}
	for _, tc := range []struct {
		name string
		tok  *jwt.Token
		want string
	}{
		{"other issuer", tokenFrom("https://idp.test/c/", "RS256", "a"), `token issuer "https://idp.test/c/" may not use key ID "a"`},
		{"trailing slash differs", tokenFrom("https://idp.test/a", "RS256", "a"), `token issuer "https://idp.test/a" may not`},
		{"long issuer", tokenFrom(long, "RS256", "a"), `token issuer "https://evil.test/\nxxx`},
		{"no issuer", noIss, "token issuer (none) may not"},
		{"issuer not a string", numIss, "token issuer (not a string) may not"},
		{"registered claims", &jwt.Token{Header: map[string]any{"kid": "a", "alg": "RS256"}, Method: jwt.SigningMethodRS256,
			Claims: &jwt.RegisteredClaims{Issuer: "https://idp.test/c/"}}, `token issuer "https://idp.test/c/"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.p.GetKey(ctx, tc.tok)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("GetKey = %v, %v; want a refusal %q", got, err, tc.want)
			}
			if got != nil {
				t.Errorf("a key came with the refusal: %v", got)
			}
			if !strings.Contains(err.Error(), `issuer(s) ["https://idp.test/a/" "https://idp.test/b/"]`) {
				t.Errorf("error %q does not name the allowed issuers", err)
			}
			if len(err.Error()) > 600 {
				t.Errorf("error of %d bytes: the issuer is not truncated", len(err.Error()))
			}
		})
	}
	if s := f.p.Stats(); s.IssuerRefused != 6 || s.UnknownKeyIDs != 0 {
		t.Errorf("stats %+v, want 6 issuer refusals and no unknown kid", s)
	}
	if got := mh.count("jwt_issuer_refusals"); got != 6 {
		t.Errorf("jwt_issuer_refusals = %d, want 6", got)
	}
	// Logged a few per window, each with the issuer quoted and truncated.
	logs := f.logged("its issuer may not use the key")
	if len(logs) != maxLoggedPerWindow {
		t.Fatalf("%d refusal log lines, want %d (the rest are counted)", len(logs), maxLoggedPerWindow)
	}
	if m := logs[0].ContextMap(); m["iss"] != `"https://idp.test/c/"` || m["kid"] != "a" || m["source"] != srv.url() {
		t.Errorf("refusal log %v", m)
	}
	if iss := logs[2].ContextMap()["iss"].(string); !strings.HasPrefix(iss, `"https://evil.test/\nxxx`) || !strings.HasSuffix(iss, `xxx..."`) ||
		len(iss) > maxIssuerInLogs+10 || strings.Contains(iss, "\n") {
		t.Errorf("long issuer logged as %d bytes %.40q, want it quoted and truncated to %d", len(iss), iss, maxIssuerInLogs)
	}
	if s := f.p.Stats().Sources[0]; strings.Join(s.Issuers, " ") != "https://idp.test/a/ https://idp.test/b/" || s.AnyIssuer {
		t.Errorf("source stats %+v", s)
	}
	// The next fetch reports the count and reopens the log.
	f.ts.Advance(DefaultRefreshInterval)
	f.waitFetches(t, 2)
	// The fetch's log line comes after its counters.
	waitFor(t, "the fetch's log line", func() bool { return len(f.logged("JWT keys fetched")) == 2 })
	fetched := f.logged("JWT keys fetched")
	if n := fetched[len(fetched)-1].ContextMap()["issuer-refusals-since-last-fetch"]; n != int64(6) {
		t.Errorf("fetch log counts %v issuer refusals, want 6", n)
	}
}

// An OpenID issuer's keys verify only the tokens of the issuer its
// discovery document names.
func TestIssuerBindingOpenIDIssuer(t *testing.T) {
	k := keys()
	jwks := newJWKSServer(t, rsaJWK("a", &k.rsa[0].PublicKey))
	idp := newOIDCServer(t, jwks)
	f := newFixture(t, Config{Issuers: []string{idp.URL + "/tenant/v2.0/"}})
	iss := idp.URL + "/tenant/v2.0"
	ctx := context.Background()
	if _, err := f.p.GetKey(ctx, tokenFrom(iss, "RS256", "a")); err != nil {
		t.Fatalf("token of the discovery issuer: %v", err)
	}
	for _, other := range []string{iss + "/", idp.URL + "/other/v2.0", testIssuer} {
		if _, err := f.p.GetKey(ctx, tokenFrom(other, "RS256", "a")); err == nil || !strings.Contains(err.Error(), "may not use key ID") {
			t.Errorf("token of issuer %s: %v, want a refusal", other, err)
		}
	}
	if s := f.p.Stats(); s.IssuerRefused != 3 || strings.Join(s.Sources[0].Issuers, " ") != iss {
		t.Errorf("stats %+v", s)
	}
}

// entraServer serves one key set at /<tenant>/discovery/v2.0/keys for any
// tenant, as Entra ID does.
func entraServer(t *testing.T, keys ...map[string]any) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(jwksBody(keys...))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// One Entra tenant setting allows that tenant's v1.0 and v2.0 issuers, and
// refuses another tenant's tokens signed with the same keys.
func TestIssuerBindingEntraTenants(t *testing.T) {
	const tenantA, tenantB, tenantC = "11111111-aaaa-4aaa-8aaa-111111111111", "22222222-bbbb-4bbb-8bbb-222222222222", "33333333-CCCC-4CCC-8CCC-333333333333"
	k := keys()
	srv := entraServer(t, rsaJWK("shared", &k.rsa[0].PublicKey))
	f := newFixture(t, Config{EntraTenants: []string{tenantA, tenantC}, EntraAuthorityHost: srv.URL + "/"})
	ctx := context.Background()
	lowerC := strings.ToLower(tenantC)
	for _, iss := range []string{
		"https://sts.windows.net/" + tenantA + "/", srv.URL + "/" + tenantA + "/v2.0",
		"https://sts.windows.net/" + lowerC + "/", srv.URL + "/" + lowerC + "/v2.0",
	} {
		if _, err := f.p.GetKey(ctx, tokenFrom(iss, "RS256", "shared")); err != nil {
			t.Errorf("token of %s: %v", iss, err)
		}
	}
	for _, iss := range []string{
		"https://sts.windows.net/" + tenantB + "/", srv.URL + "/" + tenantB + "/v2.0",
		"https://login.microsoftonline.com/" + tenantA + "/v2.0", // another authority
		"https://sts.windows.net/" + tenantA,                     // no trailing slash
	} {
		if _, err := f.p.GetKey(ctx, tokenFrom(iss, "RS256", "shared")); err == nil {
			t.Errorf("token of %s accepted", iss)
		}
	}
	s := f.p.Stats()
	if len(s.Sources) != 2 || s.Sources[0].Source != srv.URL+"/"+tenantA+"/discovery/v2.0/keys" || s.Keys != 1 {
		t.Errorf("stats %+v", s)
	}
	if len(f.logged("published by two sources")) != 0 {
		t.Error("the same key from two tenants was logged as a conflict")
	}
}

func TestEntraIssuers(t *testing.T) {
	got, err := EntraIssuers("", "72F988BF-86F1-41AF-91AB-2D7CD011DB47")
	if err != nil || strings.Join(got, " ") != "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/ https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0" {
		t.Errorf("EntraIssuers = %q, %v", got, err)
	}
	for _, tenant := range []string{"common", "organizations", "contoso.onmicrosoft.com", ""} {
		if _, err := EntraIssuers("", tenant); err == nil || !strings.Contains(err.Error(), "not a tenant ID") {
			t.Errorf("EntraIssuers(%q): %v, want a refusal", tenant, err)
		}
	}
}

// Keys that two sources publish identically serve the issuers of both; a
// kid published with different keys is bound to the first source only.
func TestIssuerBindingTwoSources(t *testing.T) {
	k := keys()
	one := newJWKSServer(t, rsaJWK("same", &k.rsa[0].PublicKey), rsaJWK("clash", &k.rsa[1].PublicKey))
	two := newJWKSServer(t, rsaJWK("same", &k.rsa[0].PublicKey), rsaJWK("clash", &k.rsa[2].PublicKey))
	f := newFixture(t, Config{
		JWKSURLs:    []string{one.url(), two.url()},
		JWKSIssuers: map[string][]string{one.url(): {"https://one.test/"}, two.url(): {"https://two.test/"}},
	})
	ctx := context.Background()
	for _, iss := range []string{"https://one.test/", "https://two.test/"} {
		if _, err := f.p.GetKey(ctx, tokenFrom(iss, "RS256", "same")); err != nil {
			t.Errorf("shared key for %s: %v", iss, err)
		}
	}
	if got, err := f.p.GetKey(ctx, tokenFrom("https://one.test/", "RS256", "clash")); err != nil || !k.rsa[1].PublicKey.Equal(got) {
		t.Errorf("clashing kid for the first source's issuer: %v, %v", got, err)
	}
	if _, err := f.p.GetKey(ctx, tokenFrom("https://two.test/", "RS256", "clash")); err == nil {
		t.Error("the second source's issuer may use the first source's key of a clashing kid")
	}
}

// AllowAnyIssuer leaves JWKS URLs without issuers unbound, as the stock
// server is; configured issuers stay bound.
func TestAllowAnyIssuer(t *testing.T) {
	k := keys()
	open := newJWKSServer(t, rsaJWK("open", &k.rsa[0].PublicKey))
	bound := newJWKSServer(t, rsaJWK("bound", &k.rsa[1].PublicKey))
	f := newFixture(t, Config{
		JWKSURLs:       []string{open.url(), bound.url()},
		JWKSIssuers:    map[string][]string{bound.url(): {"https://bound.test/"}},
		AllowAnyIssuer: true,
	})
	ctx := context.Background()
	noIss := token("RS256", "open")
	noIss.Claims = jwt.MapClaims{}
	for _, tok := range []*jwt.Token{tokenFrom("https://anyone.test/", "RS256", "open"), noIss} {
		if _, err := f.p.GetKey(ctx, tok); err != nil {
			t.Errorf("unbound key: %v", err)
		}
	}
	if rk, err := f.p.RsaKey("RS256", "open"); err != nil || !k.rsa[0].PublicKey.Equal(rk) {
		t.Errorf("RsaKey of an unbound key = %v, %v", rk, err)
	}
	if _, err := f.p.GetKey(ctx, tokenFrom("https://anyone.test/", "RS256", "bound")); err == nil {
		t.Error("a bound key verified another issuer's token")
	}
	if s := f.p.Stats().Sources; !s[0].AnyIssuer || s[1].AnyIssuer {
		t.Errorf("source stats %+v", s)
	}
}

// A key source without an allowed issuer is a startup error that names the
// opt-out.
func TestIssuerBindingConfigErrors(t *testing.T) {
	const u = "https://keys.test/jwks"
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no issuers", Config{JWKSURLs: []string{u}},
			`Config.JWKSURLs[0] "https://keys.test/jwks" has no allowed issuer, so its keys would verify tokens of any issuer`},
		{"opt-out named", Config{JWKSURLs: []string{u}}, "or set Config.AllowAnyIssuer to accept any issuer"},
		{"empty list", Config{JWKSURLs: []string{u}, JWKSIssuers: map[string][]string{u: {}}}, "has no allowed issuer"},
		{"blank issuer", Config{JWKSURLs: []string{u}, JWKSIssuers: map[string][]string{u: {" "}}}, `Config.JWKSIssuers["https://keys.test/jwks"][0] is blank`},
		{"typo", Config{JWKSURLs: []string{u}, JWKSIssuers: map[string][]string{u + "/": {"https://x/"}}},
			`Config.JWKSIssuers names "https://keys.test/jwks/", which is not in Config.JWKSURLs`},
		{"entra domain", Config{EntraTenants: []string{"contoso.onmicrosoft.com"}}, `Config.EntraTenants[0]: Entra tenant "contoso.onmicrosoft.com" is not a tenant ID`},
		{"entra common", Config{EntraTenants: []string{"common"}}, "not a tenant ID"},
		{"entra authority path", Config{EntraTenants: []string{"11111111-aaaa-4aaa-8aaa-111111111111"}, EntraAuthorityHost: "https://login.test/t"},
			"Config.EntraAuthorityHost \"https://login.test/t\": give the scheme and host only"},
		{"entra authority http", Config{EntraTenants: []string{"11111111-aaaa-4aaa-8aaa-111111111111"}, EntraAuthorityHost: "http://login.test"},
			"http:// is allowed only for loopback hosts"},
		{"max age below refresh", Config{JWKSURLs: []string{u}, AllowAnyIssuer: true, RefreshInterval: time.Hour, MaxKeyAge: time.Hour},
			"Config.MaxKeyAge (1h0m0s) must be longer than the refresh interval (1h0m0s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewKeyProvider(tc.cfg)
			if err == nil {
				p.Close()
				t.Fatalf("NewKeyProvider succeeded, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q", err, tc.want)
			}
		})
	}
}

// The YAML has no place for issuers: ConfigFromAuthorization derives them
// for an Entra tenant's JWKS URL only.
func TestConfigFromAuthorizationDerivesEntraIssuers(t *testing.T) {
	const tid = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	v2 := "https://login.microsoftonline.com/" + tid + "/discovery/v2.0/keys"
	v1 := "https://login.microsoftonline.com/" + tid + "/discovery/keys"
	common := "https://login.microsoftonline.com/common/discovery/v2.0/keys"
	other := "https://idp.test/.well-known/jwks.json"
	cfg, err := ConfigFromAuthorization(&config.Authorization{
		JWTKeyProvider: config.JWTKeyProvider{KeySourceURIs: []string{v2, v1, common, other}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "https://sts.windows.net/" + tid + "/ https://login.microsoftonline.com/" + tid + "/v2.0"
	for _, u := range []string{v2, v1} {
		if got := strings.Join(cfg.JWKSIssuers[u], " "); got != want {
			t.Errorf("issuers of %s: %q, want %q", u, got, want)
		}
	}
	for _, u := range []string{common, other} {
		if got, ok := cfg.JWKSIssuers[u]; ok {
			t.Errorf("issuers derived for %s: %q", u, got)
		}
	}
	// NewKeyProvider refuses the unbound ones.
	if _, err := NewKeyProvider(cfg); err == nil || !strings.Contains(err.Error(), `Config.JWKSURLs[2] "`+common+`" has no allowed issuer`) {
		t.Errorf("NewKeyProvider: %v", err)
	}
}

// A token signed with a foreign issuer's claims is refused by the claim
// mapper path too (GetKey through jwt's parser), before the signature.
func TestIssuerBindingThroughParser(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, rsaJWK("a", &k.rsa[0].PublicKey))
	f := newFixture(t, Config{JWKSURLs: []string{srv.url()}})
	sign := func(iss string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": iss, "sub": "x"})
		tok.Header["kid"] = "a"
		s, err := tok.SignedString(k.rsa[0])
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	keyFunc := func(tok *jwt.Token) (any, error) { return f.p.GetKey(context.Background(), tok) }
	if _, err := jwt.Parse(sign(testIssuer), keyFunc); err != nil {
		t.Errorf("token of the allowed issuer: %v", err)
	}
	_, err := jwt.Parse(sign("https://tenant-b.test/"), keyFunc)
	if err == nil || !strings.Contains(err.Error(), `token issuer "https://tenant-b.test/" may not use key ID "a"`) {
		t.Errorf("token of another issuer: %v", err)
	}
	if s := f.p.Stats(); s.IssuerRefused != 1 {
		t.Errorf("stats %+v, want 1 issuer refusal", s)
	}
}
