package oidc

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/golang-jwt/jwt/v5"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/headers/clocktest"
	"github.com/temporalauth/temporalauth/internal/idperr"
	"github.com/temporalauth/temporalauth/jwtkey"
)

const testSecret = "s3cr3t-Value+/="

func newSource(t *testing.T, cfg Config) *Source {
	t.Helper()
	src, err := NewTokenSource(cfg)
	if err != nil {
		t.Fatalf("NewTokenSource: %v", err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

func TestClientSecretBasic(t *testing.T) {
	idp := newFakeIdP(t)
	clock := clocktest.New()
	src := newSource(t, Config{TokenURL: idp.tokenURL(), ClientID: "worker:1", ClientSecret: testSecret,
		Scopes: []string{"default:write", "temporal-system:read"}, Audience: "temporal",
		Resource: []string{"https://temporal.example.com", "urn:temporal"}, Clock: clock})
	tok, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.Value() != "tok-1" || !tok.Expiry.Equal(clock.Now().Add(time.Hour)) {
		t.Errorf("token %q expiry %v, want tok-1 at %v", tok.Value(), tok.Expiry, clock.Now().Add(time.Hour))
	}
	r := idp.last(t)
	// RFC 6749 2.3.1: the ID and secret are form-encoded before Basic.
	if !r.HasBasic || r.BasicUser != "worker%3A1" || r.BasicPass != "s3cr3t-Value%2B%2F%3D" {
		t.Errorf("basic auth %v %q %q", r.HasBasic, r.BasicUser, r.BasicPass)
	}
	if r.Form.Has("client_secret") {
		t.Error("client_secret in the form with client_secret_basic")
	}
	want := map[string][]string{
		"grant_type": {"client_credentials"},
		"scope":      {"default:write temporal-system:read"},
		"audience":   {"temporal"},
		"resource":   {"https://temporal.example.com", "urn:temporal"},
	}
	for k, v := range want {
		if got := r.Form[k]; strings.Join(got, "|") != strings.Join(v, "|") {
			t.Errorf("form %s = %q, want %q", k, got, v)
		}
	}
}

func TestClientSecretPost(t *testing.T) {
	idp := newFakeIdP(t)
	src := newSource(t, Config{TokenURL: idp.tokenURL(), ClientID: "worker", ClientSecret: testSecret, AuthMethod: AuthSecretPost})
	if _, err := src.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := idp.last(t)
	if r.HasBasic {
		t.Error("Authorization header sent with client_secret_post")
	}
	if r.Form.Get("client_id") != "worker" || r.Form.Get("client_secret") != testSecret {
		t.Errorf("form client_id %q client_secret %q", r.Form.Get("client_id"), r.Form.Get("client_secret"))
	}
	if r.Form.Has("scope") {
		t.Errorf("scope %q sent without Scopes", r.Form.Get("scope"))
	}
}

func TestPrivateKeyJWT(t *testing.T) {
	idp := newFakeIdP(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	clock := clocktest.New()
	src := newSource(t, Config{TokenURL: idp.tokenURL(), ClientID: "worker", PrivateKey: key, KeyID: "k1", Clock: clock})
	jtis := map[string]bool{}
	for range 2 {
		if _, err := src.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		r := idp.last(t)
		if r.HasBasic || r.Form.Has("client_secret") {
			t.Error("a secret sent with private_key_jwt")
		}
		if r.Form.Get("client_assertion_type") != assertionType || r.Form.Get("client_id") != "worker" {
			t.Errorf("client_assertion_type %q client_id %q", r.Form.Get("client_assertion_type"), r.Form.Get("client_id"))
		}
		var claims jwt.MapClaims
		parsed, err := jwt.ParseWithClaims(r.Form.Get("client_assertion"), &claims, func(*jwt.Token) (any, error) { return &key.PublicKey, nil },
			jwt.WithValidMethods([]string{"ES256"}), jwt.WithTimeFunc(clock.Now))
		if err != nil {
			t.Fatalf("assertion does not verify: %v", err)
		}
		if parsed.Header["kid"] != "k1" {
			t.Errorf("kid %v", parsed.Header["kid"])
		}
		if claims["iss"] != "worker" || claims["sub"] != "worker" || claims["aud"] != idp.tokenURL() {
			t.Errorf("iss %v sub %v aud %v", claims["iss"], claims["sub"], claims["aud"])
		}
		iat, _ := claims.GetIssuedAt()
		exp, _ := claims.GetExpirationTime()
		if !iat.Equal(clock.Now().Truncate(time.Second)) || exp.Sub(iat.Time) != AssertionLifetime {
			t.Errorf("iat %v exp %v, want iat now and exp %v later", iat, exp, AssertionLifetime)
		}
		jti, _ := claims["jti"].(string)
		if len(jti) < 20 || jtis[jti] {
			t.Errorf("jti %q: want a fresh random one per request", jti)
		}
		jtis[jti] = true
	}
}

func TestPrivateKeyFileRotates(t *testing.T) {
	idp := newFakeIdP(t)
	path := filepath.Join(t.TempDir(), "client.pem")
	write := func() *ecdsa.PrivateKey {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err := jwtkey.WritePrivateKeyFile(path, k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	write()
	src := newSource(t, Config{TokenURL: idp.tokenURL(), ClientID: "worker", PrivateKeyFile: path})
	second := write()
	if _, err := src.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := idp.last(t).Form.Get("client_assertion")
	if _, err := jwt.Parse(a, func(*jwt.Token) (any, error) { return &second.PublicKey, nil }); err != nil {
		t.Errorf("assertion not signed with the replaced key file's key: %v", err)
	}
}

func TestClientSecretFileReread(t *testing.T) {
	idp := newFakeIdP(t)
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := newSource(t, Config{TokenURL: idp.tokenURL(), ClientID: "w", ClientSecretFile: path, AuthMethod: AuthSecretPost})
	if _, err := src.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := idp.last(t).Form.Get("client_secret"); got != "first" {
		t.Errorf("secret %q, want first (trailing newline dropped)", got)
	}
	// A Kubernetes secret mount swaps a symlink; a rename is the same to a reader.
	tmp := path + ".new"
	_ = os.WriteFile(tmp, []byte("second"), 0o600)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := idp.last(t).Form.Get("client_secret"); got != "second" {
		t.Errorf("secret %q after the file changed, want second", got)
	}
	_ = os.WriteFile(path, []byte(" \n"), 0o600)
	_, err := src.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty secret file: %v", err)
	}
	if _, err := NewTokenSource(Config{TokenURL: idp.tokenURL(), ClientID: "w", ClientSecretFile: path + ".missing"}); !isConfigError(err, "oidc.Config.ClientSecretFile") {
		t.Errorf("missing secret file: %v", err)
	}
}

func isConfigError(err error, setting string) bool {
	var ce *headers.ConfigError
	return errors.As(err, &ce) && ce.Setting == setting
}

func TestDiscovery(t *testing.T) {
	idp := newFakeIdP(t)
	src := newSource(t, Config{Issuer: idp.URL + "/", ClientID: "w", ClientSecret: testSecret})
	for range 2 {
		if _, err := src.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if idp.discoveries != 1 || idp.count() != 2 {
		t.Errorf("%d discoveries and %d token requests, want 1 and 2", idp.discoveries, idp.count())
	}

	idp.discovery = map[string]any{"issuer": "https://evil.example.com", "token_endpoint": idp.tokenURL()}
	cfg, err := ConfigFromLookup(env(map[string]string{EnvIssuer: idp.URL, EnvClientID: "w", EnvClientSecret: testSecret}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = newSource(t, cfg).Token(context.Background())
	if !isConfigError(err, EnvIssuer) || !strings.Contains(err.Error(), "evil.example.com") {
		t.Errorf("issuer mismatch: %v", err)
	}

	idp.discovery = map[string]any{"issuer": idp.URL, "token_endpoint": idp.tokenURL(),
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic"}}
	cfg.AuthMethod = AuthSecretPost
	_, err = newSource(t, cfg).Token(context.Background())
	if !isConfigError(err, EnvAuthMethod) || !strings.Contains(err.Error(), "supports client_secret_basic") {
		t.Errorf("unsupported auth method: %v", err)
	}

	idp.discovery = map[string]any{"issuer": idp.URL, "token_endpoint": "http://idp.example.com/token"}
	cfg.AuthMethod = ""
	_, err = newSource(t, cfg).Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "unencrypted") {
		t.Errorf("http token endpoint off loopback: %v", err)
	}

	cfg.Issuer = idp.URL + "/nowhere"
	_, err = newSource(t, cfg).Token(context.Background())
	var re *ResponseError
	if !errors.As(err, &re) || re.StatusCode != 404 || len(re.Check) != 1 || re.Check[0] != EnvIssuer || !strings.Contains(err.Error(), EnvTokenURL) {
		t.Errorf("no discovery document: %v", err)
	}
}

func TestErrorAnswers(t *testing.T) {
	idp := newFakeIdP(t)
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		ctype      string
		code       string
		setting    string
		retryAfter time.Duration
		contains   []string
	}{
		{name: "invalid_client", status: 401, body: `{"error":"invalid_client","error_description":"Client authentication failed: secret ` + testSecret + ` is wrong"}`,
			code: "invalid_client", setting: EnvClientSecret, contains: []string{EnvClientID, EnvClientSecret, "REDACTED"}},
		{name: "unauthorized_client", status: 400, body: `{"error":"unauthorized_client","error_description":"The client is not allowed to request a token using this grant type."}`,
			code: "unauthorized_client", setting: EnvClientID, contains: []string{"client_credentials"}},
		{name: "invalid_scope", status: 400, body: `{"error":"invalid_scope","error_description":"The requested scope is invalid"}`,
			code: "invalid_scope", setting: EnvScopes, contains: []string{`"default:admin"`}},
		{name: "invalid_target", status: 400, body: `{"error":"invalid_target"}`, code: "invalid_target", setting: EnvResource},
		{name: "429", status: 429, header: map[string]string{"Retry-After": "7"}, body: `{"error":"slow_down"}`, code: "slow_down", retryAfter: 7 * time.Second, contains: []string{"retry after 7s"}},
		{name: "503 date", status: 503, header: map[string]string{"Retry-After": time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)},
			body: "<html>maintenance</html>", ctype: "text/html", retryAfter: 89 * time.Second, contains: []string{"unexpected text/html response of 24 bytes"}},
		{name: "echoed Basic credential", status: 401, body: `{"error":"invalid_client","error_description":"bad header Authorization: Basic ` +
			idperr.BasicCredential("w", testSecret) + `"}`, code: "invalid_client", setting: EnvClientSecret, contains: []string{`"bad header Authorization: Basic REDACTED"`}},
		{name: "control characters", status: 400, body: `{"error":"invalid_request","error_description":"bad\u001b[2J\u0007 request\u2028level=ERROR forged"}`,
			code: "invalid_request", contains: []string{`"bad [2J  request"`}},
		{name: "token in description", status: 400, body: `{"error":"invalid_grant","error_description":"bad eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\nsecond line"}`,
			code: "invalid_grant", contains: []string{"bad REDACTED"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp.answer = func(w http.ResponseWriter, _ int) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/json")
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}
			cfg, err := ConfigFromLookup(env(map[string]string{EnvTokenURL: idp.tokenURL(), EnvClientID: "w",
				EnvClientSecret: testSecret, EnvScopes: "default:admin"}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = newSource(t, cfg).Token(context.Background())
			var re *ResponseError
			if !errors.As(err, &re) {
				t.Fatalf("error %v (%T), want a *ResponseError", err, err)
			}
			var setting string
			if len(re.Check) > 0 {
				setting = re.Check[0]
			}
			if re.StatusCode != tt.status || re.ErrorCode != tt.code || setting != tt.setting {
				t.Errorf("status %d code %q check %q, want %d %q %q", re.StatusCode, re.ErrorCode, re.Check, tt.status, tt.code, tt.setting)
			}
			ra, ok := headers.RetryAfter(err)
			if tt.retryAfter == 0 && ok {
				t.Errorf("RetryAfter %v without Retry-After", ra)
			}
			if tt.retryAfter > 0 && (!ok || ra < tt.retryAfter || ra > tt.retryAfter+2*time.Second) {
				t.Errorf("RetryAfter %v %v, want %v", ra, ok, tt.retryAfter)
			}
			msg := err.Error()
			for _, s := range tt.contains {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q lacks %q", msg, s)
				}
			}
			if strings.ContainsFunc(msg, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' }) {
				t.Errorf("error %q holds a control character", msg)
			}
			for _, s := range []string{testSecret, idperr.BasicCredential("w", testSecret), "eyJ", "second line", "forged", "<html>"} {
				if strings.Contains(msg, s) {
					t.Errorf("error %q holds %q", msg, s)
				}
			}
		})
	}
}

func TestPrivateKeyJWTErrorsNameKey(t *testing.T) {
	idp := newFakeIdP(t)
	idp.answer = func(w http.ResponseWriter, _ int) {
		writeJSON(w, 401, map[string]string{"error": "invalid_client", "error_description": "assertion rejected"})
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, err := newSource(t, Config{TokenURL: idp.tokenURL(), ClientID: "w", PrivateKey: key}).Token(context.Background())
	var re *ResponseError
	if !errors.As(err, &re) || len(re.Check) == 0 || re.Check[0] != "oidc.Config.PrivateKey" || !strings.Contains(err.Error(), "private_key_jwt") {
		t.Errorf("invalid_client with a key: %v", err)
	}
	if strings.Contains(err.Error(), idp.last(t).Form.Get("client_assertion")) {
		t.Error("error holds the assertion")
	}
}

func TestExpiry(t *testing.T) {
	idp := newFakeIdP(t)
	clock := clocktest.New()
	jwtExp := clock.Now().Add(17 * time.Minute).Unix()
	payload := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"sub":"w","exp":%d}`, jwtExp)))
	jwtToken := "eyJhbGciOiJSUzI1NiJ9." + payload + ".c2ln"
	jwtWith := func(claims string, args ...any) string {
		return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(claims, args...))) + ".c2ln"
	}
	paddedPayload := base64.URLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"sub":"w","exp":%d}`, jwtExp)))
	if !strings.HasSuffix(paddedPayload, "=") {
		t.Fatalf("test payload %q has no padding", paddedPayload)
	}
	tests := []struct {
		name   string
		answer map[string]any
		want   time.Time
	}{
		{"expires_in", map[string]any{"access_token": jwtToken, "expires_in": 60}, clock.Now().Add(time.Minute)},
		{"quoted expires_in", map[string]any{"access_token": "opaque", "expires_in": "120"}, clock.Now().Add(2 * time.Minute)},
		{"fractional expires_in", map[string]any{"access_token": "opaque", "expires_in": 3600.5}, clock.Now().Add(time.Hour + 500*time.Millisecond)},
		{"exponent expires_in", map[string]any{"access_token": "opaque", "expires_in": json.RawMessage("3.6e3")}, clock.Now().Add(time.Hour)},
		{"quoted fractional expires_in", map[string]any{"access_token": "opaque", "expires_in": "90.25"}, clock.Now().Add(90250 * time.Millisecond)},
		// x/oauth2 caps expires_in at 2^31-1 seconds (68 years): so does Token,
		// rather than overflow into the past.
		{"huge expires_in", map[string]any{"access_token": "opaque", "expires_in": 1e10}, clock.Now().Add(math.MaxInt32 * time.Second)},
		{"huge quoted expires_in", map[string]any{"access_token": "opaque", "expires_in": "1e300"}, clock.Now().Add(math.MaxInt32 * time.Second)},
		{"zero expires_in", map[string]any{"access_token": "opaque", "expires_in": 0}, clock.Now().Add(DefaultLifetime)},
		{"null expires_in", map[string]any{"access_token": "opaque", "expires_in": nil}, clock.Now().Add(DefaultLifetime)},
		{"JWT exp", map[string]any{"access_token": jwtToken, "token_type": "bearer"}, time.Unix(jwtExp, 0)},
		{"opaque", map[string]any{"access_token": "opaque", "token_type": "Bearer"}, clock.Now().Add(DefaultLifetime)},
		// The same reading of exp as static.ExpiryOf: padding allowed,
		// fractions kept; an exp that is malformed or not after 1970 is
		// ignored.
		{"padded JWT exp", map[string]any{"access_token": "eyJhbGciOiJSUzI1NiJ9." + paddedPayload + ".c2ln"}, time.Unix(jwtExp, 0)},
		{"fractional JWT exp", map[string]any{"access_token": jwtWith(`{"exp":%d.25}`, jwtExp)}, time.Unix(jwtExp, 25e7)},
		{"zero JWT exp", map[string]any{"access_token": jwtWith(`{"exp":0}`)}, clock.Now().Add(DefaultLifetime)},
		{"string JWT exp", map[string]any{"access_token": jwtWith(`{"exp":"%d"}`, jwtExp)}, clock.Now().Add(DefaultLifetime)},
		{"JWT exp past 9999", map[string]any{"access_token": jwtWith(`{"exp":1e300}`)}, clock.Now().Add(DefaultLifetime)},
	}
	src := newSource(t, Config{TokenURL: idp.tokenURL(), ClientID: "w", ClientSecret: testSecret, Clock: clock})
	for _, tt := range tests {
		idp.answer = func(w http.ResponseWriter, _ int) { writeJSON(w, 200, tt.answer) }
		tok, err := src.Token(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !tok.Expiry.Equal(tt.want) {
			t.Errorf("%s: expiry %v, want %v", tt.name, tok.Expiry, tt.want)
		}
	}
	idp.answer = func(w http.ResponseWriter, _ int) {
		writeJSON(w, 200, map[string]any{"access_token": "opaque", "token_type": "DPoP", "expires_in": 60})
	}
	if _, err := src.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "Bearer") {
		t.Errorf("DPoP token: %v", err)
	}
	idp.answer = func(w http.ResponseWriter, _ int) { writeJSON(w, 200, map[string]any{"token_type": "Bearer"}) }
	if _, err := src.Token(context.Background()); err == nil {
		t.Error("answer without access_token accepted")
	}
}

func TestProviderBacksOff(t *testing.T) {
	idp := newFakeIdP(t)
	idp.answer = func(w http.ResponseWriter, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "120")
			writeJSON(w, 429, map[string]string{"error": "rate_limited"})
			return
		}
		writeJSON(w, 200, map[string]any{"access_token": "ok", "expires_in": 3600})
	}
	clock := clocktest.New()
	p, err := NewProvider(Config{TokenURL: idp.tokenURL(), ClientID: "w", ClientSecret: testSecret}, headers.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.Token(ctx); err == nil {
		t.Fatal("first Token succeeded against a 429")
	}
	// Within the Retry-After, callers get the error without a request.
	clock.Advance(time.Minute)
	if _, err := p.Token(ctx); err == nil {
		t.Error("Token succeeded within Retry-After")
	}
	if n := idp.count(); n != 1 {
		t.Errorf("%d requests within Retry-After, want 1", n)
	}
	clock.Advance(2 * time.Minute)
	if tok, err := p.Token(ctx); err != nil || tok.Value() != "ok" {
		t.Errorf("after Retry-After: %v %v", tok, err)
	}
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestConfigFromLookup(t *testing.T) {
	cfg, err := ConfigFromLookup(env(map[string]string{
		EnvIssuer: " https://idp.example.com/realms/t ", EnvClientID: "w", EnvClientSecretFile: "/s",
		EnvScopes: "default:write, temporal-system:read openid", EnvResource: "https://a, https://b", EnvAudience: "api",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer != "https://idp.example.com/realms/t" || strings.Join(cfg.Scopes, "|") != "default:write|temporal-system:read|openid" ||
		strings.Join(cfg.Resource, "|") != "https://a|https://b" || cfg.Audience != "api" || cfg.ClientSecretFile != "/s" {
		t.Errorf("config %v", cfg)
	}
	bad := []struct {
		env     map[string]string
		setting string
		says    string
	}{
		{map[string]string{EnvClientID: "w", EnvClientSecret: "x"}, EnvIssuer, EnvTokenURL},
		{map[string]string{EnvIssuer: "https://a", EnvTokenURL: "https://a/t", EnvClientID: "w", EnvClientSecret: "x"}, EnvTokenURL, "not both"},
		{map[string]string{EnvTokenURL: "https://a/t", EnvClientSecret: "x"}, EnvClientID, "required"},
		{map[string]string{EnvTokenURL: "https://a/t", EnvClientID: "w"}, EnvClientSecret, EnvPrivateKeyFile},
		{map[string]string{EnvTokenURL: "https://a/t", EnvClientID: "w", EnvClientSecret: "x", EnvClientSecretFile: "/f"}, EnvClientSecretFile, "one client credential"},
		{map[string]string{EnvTokenURL: "http://idp.example.com/t", EnvClientID: "w", EnvClientSecret: "x"}, EnvTokenURL, EnvAllowHTTP},
		{map[string]string{EnvTokenURL: "https://u:p@a/t", EnvClientID: "w", EnvClientSecret: "x"}, EnvTokenURL, "user information"},
		{map[string]string{EnvTokenURL: "https://a/t", EnvClientID: "w", EnvClientSecret: "x", EnvAuthMethod: "private_key_jwt"}, EnvAuthMethod, EnvPrivateKeyFile},
		{map[string]string{EnvTokenURL: "https://a/t", EnvClientID: "w", EnvPrivateKeyFile: "/k", EnvAuthMethod: "client_secret_post"}, EnvAuthMethod, EnvClientSecret},
		{map[string]string{EnvTokenURL: "https://a/t", EnvClientID: "w", EnvClientSecret: "x", EnvAuthMethod: "tls_client_auth"}, EnvAuthMethod, "want client_secret_basic"},
		{map[string]string{EnvTokenURL: "https://a/t", EnvClientID: "w", EnvClientSecret: "x", EnvKeyID: "k"}, EnvKeyID, "private_key_jwt"},
		{map[string]string{EnvTokenURL: "https://a/t", EnvClientID: "w", EnvClientSecret: "x", EnvResource: "not-a-uri"}, EnvResource, "RFC 8707"},
		{map[string]string{EnvTokenURL: "https://a/t", EnvClientID: "w", EnvClientSecret: "x", EnvAllowHTTP: "maybe"}, EnvAllowHTTP, "true or false"},
	}
	for _, b := range bad {
		_, err := ConfigFromLookup(env(b.env))
		if !isConfigError(err, b.setting) || !strings.Contains(err.Error(), b.says) {
			t.Errorf("%v: error %v, want one naming %s and saying %q", b.env, err, b.setting, b.says)
		}
		if err != nil && strings.Contains(err.Error(), `"x"`) {
			t.Errorf("error shows the secret: %v", err)
		}
	}
	if _, err := ConfigFromLookup(env(map[string]string{EnvTokenURL: "http://idp.internal/t", EnvClientID: "w", EnvClientSecret: "x", EnvAllowHTTP: "true"})); err != nil {
		t.Errorf("AllowHTTP: %v", err)
	}
	for _, u := range []string{"http://127.0.0.1:8080/t", "http://[::1]/t", "http://localhost/t"} {
		if _, err := NewTokenSource(Config{TokenURL: u, ClientID: "w", ClientSecret: "x"}); err != nil {
			t.Errorf("loopback %s: %v", u, err)
		}
	}
}

func TestNothingSecretPrinted(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der := key.D.Text(16)
	cfgs := []Config{
		{TokenURL: "https://a/t", ClientID: "w", ClientSecret: testSecret},
		{Issuer: "https://a", ClientID: "w", PrivateKey: key},
	}
	for _, cfg := range cfgs {
		src, err := NewTokenSource(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []any{cfg, &cfg, src} {
			var out bytes.Buffer
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
				fmt.Fprintf(&out, verb+"\n", v)
			}
			slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "v", v)
			slog.New(slog.NewTextHandler(&out, nil)).Info("x", "v", v)
			s := out.String()
			if strings.Contains(s, testSecret) || strings.Contains(s, der) || strings.Contains(s, fmt.Sprintf("%x", key.D.Bytes())) {
				t.Errorf("%T printed a secret:\n%s", v, s)
			}
		}
	}
}

func TestNewProviderChecksOptions(t *testing.T) {
	_, err := NewProvider(Config{TokenURL: "https://idp.example.com/token", ClientID: "w", ClientSecret: testSecret},
		headers.Options{Header: "bad header"})
	if !isConfigError(err, "headers.Options.Header") {
		t.Errorf("NewProvider with a bad header name: %v", err)
	}
}

// TestDiscoveryAuthMethodsBounded checks that a discovery document's
// token_endpoint_auth_methods_supported reaches the error bounded, one
// line, without control characters.
func TestDiscoveryAuthMethodsBounded(t *testing.T) {
	idp := newFakeIdP(t)
	methods := []string{"client_secret_basic", "x\x1b[2J\r\n2026-01-01T00:00:00Z level=ERROR msg=forged"}
	for i := range 5000 {
		methods = append(methods, fmt.Sprintf("method_%d", i))
	}
	idp.discovery = map[string]any{"issuer": idp.URL, "token_endpoint": idp.tokenURL(), "token_endpoint_auth_methods_supported": methods}
	_, err := newSource(t, Config{Issuer: idp.URL, ClientID: "w", ClientSecret: testSecret, AuthMethod: AuthSecretPost}).Token(context.Background())
	if !isConfigError(err, "oidc.Config.AuthMethod") {
		t.Fatalf("unsupported auth method: %v", err)
	}
	msg := err.Error()
	if len(msg) > 2000 || strings.ContainsFunc(msg, unicode.IsControl) || strings.Contains(msg, "method_4999") {
		t.Errorf("error of %d bytes: %q", len(msg), msg[:min(len(msg), 400)])
	}
	if !strings.Contains(msg, "supports client_secret_basic, ") || !strings.Contains(msg, "more") {
		t.Errorf("error does not list the methods: %q", msg[:min(len(msg), 400)])
	}
}

func TestAssertionAudience(t *testing.T) {
	idp := newFakeIdP(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	aud := func(t *testing.T, cfg Config) any {
		t.Helper()
		if _, err := newSource(t, cfg).Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		var claims jwt.MapClaims
		if _, _, err := jwt.NewParser().ParseUnverified(idp.last(t).Form.Get("client_assertion"), &claims); err != nil {
			t.Fatal(err)
		}
		return claims["aud"]
	}
	// The issuer as the discovery document names it, trailing slash and
	// all (Auth0's issuer ends in one).
	idp.discovery = map[string]any{"issuer": idp.URL + "/", "token_endpoint": idp.tokenURL()}
	if got := aud(t, Config{Issuer: idp.URL, ClientID: "w", PrivateKey: key, AssertionAudience: AudienceIssuer}); got != idp.URL+"/" {
		t.Errorf("aud %v with AudienceIssuer, want %q", got, idp.URL+"/")
	}
	if got := aud(t, Config{Issuer: idp.URL, ClientID: "w", PrivateKey: key}); got != idp.tokenURL() {
		t.Errorf("aud %v by default, want the token endpoint %q", got, idp.tokenURL())
	}
	if got := aud(t, Config{TokenURL: idp.tokenURL(), ClientID: "w", PrivateKey: key, AssertionAudience: "https://idp.example.com/"}); got != "https://idp.example.com/" {
		t.Errorf("aud %v with a URL, want it as given", got)
	}

	for _, tc := range []struct {
		env     map[string]string
		setting string
	}{
		// No issuer to name.
		{map[string]string{EnvTokenURL: idp.tokenURL(), EnvAssertionAudience: "issuer"}, EnvAssertionAudience},
		{map[string]string{EnvIssuer: idp.URL, EnvAssertionAudience: "not a url"}, EnvAssertionAudience},
		// A client secret sends no assertion.
		{map[string]string{EnvIssuer: idp.URL, EnvAssertionAudience: "issuer", EnvClientSecret: testSecret}, EnvAssertionAudience},
	} {
		tc.env[EnvClientID] = "w"
		if tc.env[EnvClientSecret] == "" {
			tc.env[EnvPrivateKeyFile] = "/nonexistent.pem"
		}
		if _, err := ConfigFromLookup(env(tc.env)); !isConfigError(err, tc.setting) {
			t.Errorf("ConfigFromLookup(%v): %v, want a ConfigError for %s", tc.env, err, tc.setting)
		}
	}
	cfg, err := ConfigFromLookup(env(map[string]string{EnvIssuer: idp.URL, EnvClientID: "w", EnvPrivateKeyFile: "/k.pem", EnvAssertionAudience: "issuer"}))
	if err != nil || cfg.AssertionAudience != AudienceIssuer {
		t.Errorf("ConfigFromLookup: %v, AssertionAudience %q", err, cfg.AssertionAudience)
	}
}
