package serverauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/server/common/config"
)

func TestFileSource(t *testing.T) {
	k := keys()
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, jwksBody(rsaJWK("a", &k.rsa[0].PublicKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, Config{JWKSURLs: []string{"file://" + path}, RefreshInterval: -1})
	if _, err := f.get("a"); err != nil {
		t.Fatal(err)
	}
	// The operator rewrites the file; the first token with the new kid reads it.
	if err := os.WriteFile(path, jwksBody(rsaJWK("a", &k.rsa[0].PublicKey), rsaJWK("b", &k.rsa[1].PublicKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.get("b"); err != nil {
		t.Fatalf("new key in the file: %v", err)
	}
	// A file removed keeps its last good keys.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	f.ts.Advance(time.Minute)
	if _, err := f.get("c"); err == nil {
		t.Fatal("kid c found")
	}
	s := f.p.Stats()
	if s.Keys != 2 || !strings.Contains(s.Sources[0].LastError, "no such file") || s.Sources[0].Source != "file://"+path {
		t.Errorf("stats %+v", s)
	}
}

// oidcServer is an OpenID provider whose discovery document a test can
// change.
type oidcServer struct {
	*httptest.Server
	jwks           *jwksServer
	issuer         atomic.Value // string: the issuer in the discovery document
	jwksURI        atomic.Value // string
	discoveryCalls atomic.Int64
}

func newOIDCServer(t *testing.T, jwks *jwksServer) *oidcServer {
	t.Helper()
	s := &oidcServer{jwks: jwks}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /tenant/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		s.discoveryCalls.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":   s.issuer.Load(),
			"jwks_uri": s.jwksURI.Load(),
		})
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	s.issuer.Store(s.URL + "/tenant/v2.0")
	s.jwksURI.Store(jwks.url())
	return s
}

func TestOIDCIssuer(t *testing.T) {
	k := keys()
	jwks := newJWKSServer(t, rsaJWK("a", &k.rsa[0].PublicKey))
	idp := newOIDCServer(t, jwks)
	f := newFixture(t, Config{Issuers: []string{idp.URL + "/tenant/v2.0/"}, RefreshInterval: -1})
	iss := idp.URL + "/tenant/v2.0" // as the discovery document names it
	if _, err := f.p.GetKey(context.Background(), tokenFrom(iss, "RS256", "a")); err != nil {
		t.Fatal(err)
	}
	jwks.publish(rsaJWK("b", &k.rsa[1].PublicKey))
	if _, err := f.p.GetKey(context.Background(), tokenFrom(iss, "RS256", "b")); err != nil {
		t.Fatalf("new key after rediscovery: %v", err)
	}
	if d, j := idp.discoveryCalls.Load(), jwks.requests.Load(); d != 2 || j != 2 {
		t.Errorf("discovery %d, JWKS %d requests; want 2 and 2", d, j)
	}
}

func TestOIDCIssuerMismatchRefused(t *testing.T) {
	k := keys()
	jwks := newJWKSServer(t, rsaJWK("a", &k.rsa[0].PublicKey))
	idp := newOIDCServer(t, jwks)
	idp.issuer.Store("https://evil.example/tenant/v2.0")
	f := newFixture(t, Config{Issuers: []string{idp.URL + "/tenant/v2.0"}})
	s := f.p.Stats()
	if s.Keys != 0 || !strings.Contains(s.Sources[0].LastError, `names issuer "https://evil.example/tenant/v2.0"`) {
		t.Errorf("stats %+v, want the issuer mismatch refused", s)
	}
	if n := jwks.requests.Load(); n != 0 {
		t.Errorf("JWKS of a mismatched issuer fetched %d times", n)
	}
}

func TestOIDCJWKSURIOverPlainHTTPRefused(t *testing.T) {
	jwks := newJWKSServer(t)
	idp := newOIDCServer(t, jwks)
	idp.jwksURI.Store("http://keys.example/jwks")
	f := newFixture(t, Config{Issuers: []string{idp.URL + "/tenant/v2.0"}})
	if e := f.p.Stats().Sources[0].LastError; !strings.Contains(e, `jwks_uri "http://keys.example/jwks" refused: http:// is allowed only for loopback hosts`) {
		t.Errorf("last error %q", e)
	}
}

func TestRedirectToPlainHTTPRefused(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.RedirectHandler("http://keys.example/jwks", http.StatusFound))
	t.Cleanup(tlsSrv.Close)
	f := newFixture(t, Config{JWKSURLs: []string{tlsSrv.URL + "/jwks"}, HTTPClient: tlsSrv.Client()})
	if e := f.p.Stats().Sources[0].LastError; !strings.Contains(e, `redirect to "http://keys.example/jwks" refused`) {
		t.Errorf("last error %q", e)
	}
}

func TestConfigErrors(t *testing.T) {
	// Cases about other settings opt out of issuer binding, whose errors
	// TestIssuerBindingConfigErrors checks.
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no source", Config{JWKSURLs: []string{" "}}, "no key source: set Config.JWKSURLs, Config.Issuers or Config.EntraTenants"},
		{"http elsewhere", Config{JWKSURLs: []string{"https://a.example/k", "http://keys.example/jwks"}, AllowAnyIssuer: true},
			`Config.JWKSURLs[1] "http://keys.example/jwks": http:// is allowed only for loopback hosts`},
		{"ftp", Config{JWKSURLs: []string{"ftp://keys.example/jwks"}}, "scheme must be https, http (loopback hosts only) or file"},
		{"relative file", Config{JWKSURLs: []string{"file:jwks.json"}}, "needs an absolute path"},
		{"file host", Config{JWKSURLs: []string{"file://server/jwks.json"}}, "must not name a host"},
		{"no host", Config{JWKSURLs: []string{"https:///jwks"}}, "no host"},
		{"issuer http", Config{Issuers: []string{"http://login.example/t/v2.0"}}, `Config.Issuers[0] "http://login.example/t/v2.0"`},
		{"issuer query", Config{Issuers: []string{"https://login.example/t?x=1"}}, "no query"},
		{"secret not echoed", Config{JWKSURLs: []string{"ftp://user:hunter2@keys.example/jwks?sig=hunter2"}}, `"ftp://keys.example/jwks"`},
		{"negative rate limit", Config{JWKSURLs: []string{"https://a.example/k"}, MinRefetchInterval: -time.Second, AllowAnyIssuer: true}, "Config.MinRefetchInterval is negative"},
		{"negative timeout", Config{JWKSURLs: []string{"https://a.example/k"}, FetchTimeout: -1, AllowAnyIssuer: true}, "Config.FetchTimeout is negative"},
		{"negative size", Config{JWKSURLs: []string{"https://a.example/k"}, MaxResponseBytes: -1, AllowAnyIssuer: true}, "Config.MaxResponseBytes is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewKeyProvider(tc.cfg)
			if err == nil {
				p.Close()
				t.Fatalf("NewKeyProvider succeeded, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q, want %q (and no secret)", err, tc.want)
			}
		})
	}
}

func TestLoopbackHTTPAllowed(t *testing.T) {
	for _, u := range []string{"http://localhost:1/k", "http://127.0.0.1:1/k", "http://127.1.2.3/k", "http://[::1]:1/k", "https://keys.example/k"} {
		if _, err := newJWKSSource("x", u); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	for _, u := range []string{"http://localhost.example/k", "http://10.0.0.1/k", "http://[::2]/k"} {
		if _, err := newJWKSSource("x", u); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
}

func TestConfigFromAuthorization(t *testing.T) {
	auth := &config.Authorization{
		JWTKeyProvider: config.JWTKeyProvider{
			KeySourceURIs: []string{
				"https://login.microsoftonline.com/t/discovery/v2.0/keys",
				"",
				"https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration",
				"file:///etc/temporal/jwks.json",
			},
			RefreshInterval: 10 * time.Minute,
		},
		PermissionsRegex: `^(?P<namespace>\w+):(?P<role>\w+)$`,
	}
	cfg, err := ConfigFromAuthorization(auth)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.JWKSURLs, " ") != "https://login.microsoftonline.com/t/discovery/v2.0/keys file:///etc/temporal/jwks.json" ||
		strings.Join(cfg.Issuers, " ") != "https://login.microsoftonline.com/t/v2.0" || cfg.RefreshInterval != 10*time.Minute {
		t.Errorf("config %+v", cfg)
	}

	for _, tc := range []struct {
		name string
		auth config.Authorization
		want string
	}{
		{"empty", config.Authorization{}, "global.authorization.jwtKeyProvider.keySourceURIs is empty"},
		{"http", config.Authorization{JWTKeyProvider: config.JWTKeyProvider{KeySourceURIs: []string{"https://a.example/k", "http://idp.example/keys"}}},
			`global.authorization.jwtKeyProvider.keySourceURIs[1] "http://idp.example/keys"`},
		{"regex", config.Authorization{JWTKeyProvider: config.JWTKeyProvider{KeySourceURIs: []string{"https://a.example/k"}}, PermissionsRegex: "("},
			"global.authorization.permissionsRegex does not compile"},
		{"regex groups", config.Authorization{JWTKeyProvider: config.JWTKeyProvider{KeySourceURIs: []string{"https://a.example/k"}}, PermissionsRegex: `(\w+):(\w+)`},
			"lacks the named group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ConfigFromAuthorization(&tc.auth); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
