package entratest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func newServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s := NewServer(opts...)
	t.Cleanup(s.Close)
	return s
}

// getJSON fetches u with the server's client and decodes a JSON object.
func getJSON(t *testing.T, s *Server, u string) (int, map[string]any) {
	t.Helper()
	resp, err := s.Client().Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: decoding: %v", u, err)
	}
	return resp.StatusCode, body
}

// postToken posts form to the token endpoint and decodes the answer.
func postToken(t *testing.T, s *Server, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := s.Client().PostForm(s.TokenURL(), form)
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

func secretForm(client, secret string) url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {client},
		"client_secret": {secret},
		"scope":         {DefaultResource + "/.default openid profile offline_access"},
	}
}

func TestDiscovery(t *testing.T) {
	s := newServer(t, WithTenant("contoso.onmicrosoft.com"))
	if s.Tenant() != "contoso.onmicrosoft.com" || !strings.HasPrefix(s.AuthorityHost(), "https://127.0.0.1:") || !strings.HasSuffix(s.AuthorityHost(), "/") {
		t.Fatalf("Tenant %q AuthorityHost %q", s.Tenant(), s.AuthorityHost())
	}
	status, doc := getJSON(t, s, s.Authority()+"/v2.0/.well-known/openid-configuration")
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	for k, want := range map[string]string{
		"issuer":                 s.Issuer(),
		"token_endpoint":         s.TokenURL(),
		"jwks_uri":               s.KeysURL(),
		"authorization_endpoint": s.Authority() + "/oauth2/v2.0/authorize",
	} {
		if doc[k] != want {
			t.Errorf("%s = %v, want %q", k, doc[k], want)
		}
	}
	status, body := getJSON(t, s, s.AuthorityHost()+"other-tenant/v2.0/.well-known/openid-configuration")
	if status != http.StatusBadRequest || body["error"] != "invalid_tenant" || !strings.HasPrefix(body["error_description"].(string), "AADSTS90002:") {
		t.Errorf("unknown tenant: %d %v", status, body)
	}
	if n := s.Requests(EndpointDiscovery); n != 2 {
		t.Errorf("Requests(discovery) = %d, want 2", n)
	}
}

func TestTokenResponse(t *testing.T) {
	s := newServer(t, WithTokenLifetime(10*time.Minute), WithRefreshIn(5*time.Minute))
	s.RegisterClient(Client{ID: "app", Secret: "pw", Roles: []string{"default:write"}})
	before := time.Now()
	status, body := postToken(t, s, secretForm("app", "pw"))
	if status != http.StatusOK {
		t.Fatalf("status %d: %v", status, body)
	}
	if body["token_type"] != "Bearer" || body["expires_in"] != 600.0 || body["ext_expires_in"] != 600.0 || body["refresh_in"] != 300.0 {
		t.Errorf("response %v", body)
	}
	claims, err := s.VerifyToken(body["access_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "app" || claims.ClientID != "app" || claims.TenantID != s.Tenant() || claims.Issuer != s.Issuer() ||
		!slices.Equal(claims.Audience, []string{DefaultResource}) || !slices.Equal(claims.Roles, []string{"default:write"}) || claims.KeyID != s.SigningKeyID() {
		t.Errorf("claims %+v", claims)
	}
	if d := claims.Expiry.Sub(before.Add(10 * time.Minute)); d < -time.Second || d > 2*time.Second {
		t.Errorf("exp %v", claims.Expiry)
	}
	if d := before.Sub(claims.IssuedAt); d < clockSkewAllowance-time.Second || d > clockSkewAllowance+time.Second || !claims.NotBefore.Equal(claims.IssuedAt) {
		t.Errorf("iat %v nbf %v, want both backdated by %v", claims.IssuedAt, claims.NotBefore, clockSkewAllowance)
	}
	reqs := s.TokenRequests()
	if len(reqs) != 1 || reqs[0].Values.Get("client_secret") != "pw" || reqs[0].Endpoint != EndpointToken {
		t.Errorf("TokenRequests %v", reqs)
	}
}

func TestTokenEndpointRefusals(t *testing.T) {
	s := newServer(t)
	s.RegisterClient(Client{ID: "app", Secret: "pw"})
	ok := secretForm("app", "pw")
	with := func(k, v string) url.Values {
		f := url.Values{}
		for key, vs := range ok {
			f[key] = slices.Clone(vs)
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"wrong grant", with("grant_type", "password"), 400, "AADSTS70003"},
		{"no client_id", with("client_id", ""), 400, "AADSTS900144"},
		{"unknown client", with("client_id", "nobody"), 400, "AADSTS700016"},
		{"wrong secret", with("client_secret", "nope"), 401, "AADSTS7000215"},
		{"no credential", with("client_secret", ""), 401, "AADSTS7000216"},
		{"secret and assertion", with("client_assertion", "x"), 400, "AADSTS90023"},
		{"scope without .default", with("scope", DefaultResource), 400, "AADSTS1002012"},
		{"unknown resource", with("scope", "api://elsewhere/.default"), 400, "AADSTS500011"},
		{"two resources", with("scope", DefaultResource+"/.default api://x/.default"), 400, "AADSTS70011"},
		{"no scope", with("scope", "openid"), 400, "AADSTS70011"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postToken(t, s, tc.form)
			desc, _ := body["error_description"].(string)
			if status != tc.status || !strings.HasPrefix(desc, tc.code+": ") {
				t.Errorf("got %d %q, want %d %s", status, desc, tc.status, tc.code)
			}
			if body["trace_id"] == "" || body["correlation_id"] == "" || body["error_codes"] == nil {
				t.Errorf("error body lacks Entra ID fields: %v", body)
			}
		})
	}
	resp, err := s.Client().PostForm(s.AuthorityHost()+"other/oauth2/v2.0/token", ok)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown tenant: status %d", resp.StatusCode)
	}
}

// assertion signs a client assertion the way MSAL does.
func assertion(t *testing.T, key *rsa.PrivateKey, cert *x509.Certificate, aud, iss string, exp time.Time) string {
	t.Helper()
	sum := sha256.Sum256(cert.Raw)
	tok := jwt.NewWithClaims(jwt.SigningMethodPS256, jwt.MapClaims{
		"aud": aud, "iss": iss, "sub": iss, "exp": exp.Unix(), "nbf": time.Now().Unix(), "jti": "1",
	})
	tok.Header["x5t#S256"] = base64.StdEncoding.EncodeToString(sum[:])
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func selfSigned(t *testing.T, key *rsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "c"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestClientAssertions(t *testing.T) {
	s := newServer(t)
	key, other := pooledKey(0), pooledKey(1)
	cert, otherCert := selfSigned(t, key), selfSigned(t, other)
	const federated = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6d29ya2VyIn0.c2ln"
	s.RegisterClient(Client{ID: "app", Certificate: cert, FederatedToken: federated})
	inAnHour := time.Now().Add(time.Hour)

	// A certificate whose header names the registered one but is signed by another key.
	forged := func() string {
		tok := assertion(t, other, otherCert, s.TokenURL(), "app", inAnHour)
		parts := strings.Split(tok, ".")
		sum := sha256.Sum256(cert.Raw)
		hdr, _ := json.Marshal(map[string]string{"alg": "PS256", "typ": "JWT", "x5t#S256": base64.StdEncoding.EncodeToString(sum[:])})
		return base64.RawURLEncoding.EncodeToString(hdr) + "." + parts[1] + "." + parts[2]
	}()

	for _, tc := range []struct {
		name      string
		assertion string
		code      string // empty: accepted
	}{
		{"certificate", assertion(t, key, cert, s.TokenURL(), "app", inAnHour), ""},
		{"federated", federated, ""},
		{"other federated token", strings.Replace(federated, "c2ln", "b3RoZXI", 1), "AADSTS70021"},
		{"not a JWT", "not-a-jwt", "AADSTS50027"},
		{"unregistered certificate", assertion(t, other, otherCert, s.TokenURL(), "app", inAnHour), "AADSTS700027"},
		{"forged signature", forged, "AADSTS700027"},
		{"expired", assertion(t, key, cert, s.TokenURL(), "app", time.Now().Add(-time.Hour)), "AADSTS700024"},
		{"wrong audience", assertion(t, key, cert, "https://elsewhere/token", "app", inAnHour), "AADSTS700016"},
		{"wrong issuer", assertion(t, key, cert, s.TokenURL(), "someone", inAnHour), "AADSTS700021"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{
				"grant_type":            {"client_credentials"},
				"client_id":             {"app"},
				"client_assertion_type": {clientAssertionType},
				"client_assertion":      {tc.assertion},
				"scope":                 {DefaultResource + "/.default"},
			}
			status, body := postToken(t, s, form)
			if tc.code == "" {
				if status != http.StatusOK {
					t.Fatalf("refused: %d %v", status, body["error_description"])
				}
				return
			}
			if desc, _ := body["error_description"].(string); !strings.HasPrefix(desc, tc.code+":") {
				t.Errorf("got %d %q, want %s", status, desc, tc.code)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	s := newServer(t)
	s.RegisterClient(Client{ID: "app", Secret: "pw"})
	issue := func() (string, string) {
		t.Helper()
		_, body := postToken(t, s, secretForm("app", "pw"))
		tok := body["access_token"].(string)
		h, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
		if err != nil {
			t.Fatal(err)
		}
		return tok, h.Header["kid"].(string)
	}
	jwksKids := func(u string) []string {
		t.Helper()
		_, body := getJSON(t, s, u)
		var kids []string
		for _, k := range body["keys"].([]any) {
			m := k.(map[string]any)
			if m["kty"] != "RSA" || m["use"] != "sig" || m["n"] == "" || m["e"] != "AQAB" {
				t.Errorf("JWKS key %v", m)
			}
			kids = append(kids, m["kid"].(string))
		}
		return kids
	}

	first := s.SigningKeyID()
	oldTok, kid := issue()
	if kid != first || !slices.Equal(jwksKids(s.KeysURL()), []string{first}) {
		t.Fatalf("kid %q JWKS %v, want only %q", kid, jwksKids(s.KeysURL()), first)
	}

	// Step 1: a new key is published, tokens are still signed with the old.
	second := s.PublishNewKey()
	if _, kid := issue(); kid != first {
		t.Errorf("signed with %q after PublishNewKey, want the old key", kid)
	}
	if got := jwksKids(s.HTTPKeysURL()); !slices.Equal(got, []string{first, second}) {
		t.Errorf("JWKS over HTTP %v, want both keys", got)
	}
	// Step 2: signing switches to the published key.
	if got := s.SignWithNewKey(); got != second {
		t.Errorf("SignWithNewKey = %q, want %q", got, second)
	}
	newTok, kid := issue()
	if kid != second {
		t.Errorf("signed with %q, want %q", kid, second)
	}
	if _, err := s.VerifyToken(oldTok); err != nil {
		t.Errorf("old token no longer verifies before withdrawal: %v", err)
	}
	// Step 3: the old key leaves the JWKS.
	if got := s.WithdrawOldKeys(); !slices.Equal(got, []string{first}) {
		t.Errorf("WithdrawOldKeys = %v", got)
	}
	if _, err := s.VerifyToken(oldTok); err == nil {
		t.Error("a token signed with a withdrawn key verifies")
	}
	if _, err := s.VerifyToken(newTok); err != nil {
		t.Errorf("new token: %v", err)
	}
	// Unannounced: SignWithNewKey alone publishes and signs at once.
	third := s.SignWithNewKey()
	if third == second || !slices.Equal(s.PublishedKeyIDs(), []string{second, third}) || s.SigningKeyID() != third {
		t.Errorf("unannounced rotation: signing %q published %v", s.SigningKeyID(), s.PublishedKeyIDs())
	}
	if n := s.Requests(EndpointKeys); n != 2 {
		t.Errorf("Requests(keys) = %d", n)
	}
}

func TestFailures(t *testing.T) {
	s := newServer(t)
	s.RegisterClient(Client{ID: "app", Secret: "pw"})
	s.FailNext(1, Unavailable(1500*time.Millisecond))
	s.FailNext(1, Failure{Kind: HTMLFailure})
	s.FailNext(1, Failure{Kind: TruncatedJSONFailure})
	s.FailNext(1, Failure{Kind: OAuthErrorFailure, Status: 401, Error: "invalid_client", Code: 7000215, Description: "Invalid client secret provided."})
	if n := s.PendingFailures(); n != 4 {
		t.Fatalf("PendingFailures = %d", n)
	}
	post := func() (*http.Response, []byte) {
		t.Helper()
		resp, err := s.Client().PostForm(s.TokenURL(), secretForm("app", "pw"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}

	resp, body := post()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" || !strings.Contains(string(body), `"temporarily_unavailable"`) {
		t.Errorf("unavailable: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, body = post()
	if resp.StatusCode != 502 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "<html>") {
		t.Errorf("HTML: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, body = post()
	if resp.StatusCode != 200 || json.Valid(body) || !strings.Contains(string(body), `"access_token":"eyJ`) {
		t.Errorf("truncated JSON: %d %s", resp.StatusCode, body)
	}
	resp, body = post()
	if resp.StatusCode != 401 || !strings.Contains(string(body), "AADSTS7000215: Invalid client secret provided.") {
		t.Errorf("OAuth error: %d %s", resp.StatusCode, body)
	}
	if resp, _ := post(); resp.StatusCode != 200 {
		t.Errorf("after the failures: %d", resp.StatusCode)
	}

	// A hanging answer lasts until the client gives up.
	s.FailNext(1, Failure{Kind: HangFailure})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.TokenURL(), strings.NewReader(secretForm("app", "pw").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	start := time.Now()
	_, err := s.Client().Do(req)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("hang: %v after %v", err, time.Since(start))
	}
	if n := s.Requests(EndpointToken); n != 6 {
		t.Errorf("Requests(token) = %d, want 6", n)
	}
}

// TestHangReleasedByClose checks that Close does not wait for a hanging
// request whose client never gives up.
func TestHangReleasedByClose(t *testing.T) {
	s := NewServer()
	s.RegisterClient(Client{ID: "app", Secret: "pw"})
	s.FailNext(1, Failure{Kind: HangFailure})
	done := make(chan error, 1)
	go func() {
		resp, err := s.Client().PostForm(s.TokenURL(), secretForm("app", "pw"))
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	for s.PendingFailures() != 0 {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on a hanging request")
	}
	<-done
}

func TestManagedIdentityEndpoint(t *testing.T) {
	s := newServer(t, WithTokenLifetime(30*time.Minute))
	s.RegisterManagedIdentity(ManagedIdentity{ClientID: "mi-client", Roles: []string{"default:read"}})
	env := s.ManagedIdentityEnv()
	if env["IDENTITY_ENDPOINT"] != s.ManagedIdentityEndpoint() || !strings.HasPrefix(env["IDENTITY_ENDPOINT"], "http://127.0.0.1:") || env["IDENTITY_HEADER"] == "" {
		t.Fatalf("env %v", env)
	}
	get := func(query, header string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.ManagedIdentityEndpoint()+"?"+query, nil)
		if header != "" {
			req.Header.Set("X-IDENTITY-HEADER", header)
		}
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	good := "api-version=2019-08-01&resource=" + url.QueryEscape(DefaultResource) + "&client_id=mi-client"
	before := time.Now()
	status, body := get(good, env["IDENTITY_HEADER"])
	if status != 200 || body["client_id"] != "mi-client" || body["token_type"] != "Bearer" || body["resource"] != DefaultResource {
		t.Fatalf("%d %v", status, body)
	}
	exp, err := time.Parse(time.RFC3339, "1970-01-01T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	var secs int64
	if _, err := fmt.Sscan(body["expires_on"].(string), &secs); err != nil {
		t.Fatalf("expires_on %v", body["expires_on"])
	}
	if exp = time.Unix(secs, 0); exp.Before(before.Add(29*time.Minute)) || exp.After(before.Add(31*time.Minute)) {
		t.Errorf("expires_on %v", exp)
	}
	claims, err := s.VerifyToken(body["access_token"].(string))
	if err != nil || claims.ClientID != "mi-client" || !slices.Equal(claims.Roles, []string{"default:read"}) {
		t.Errorf("claims %+v %v", claims, err)
	}

	for _, tc := range []struct {
		name, query, header string
		status              int
	}{
		{"no header", good, "", 401},
		{"wrong header", good, "guess", 401},
		{"old API version", strings.Replace(good, "2019-08-01", "2017-09-01", 1), env["IDENTITY_HEADER"], 400},
		{"no resource", "api-version=2019-08-01&client_id=mi-client", env["IDENTITY_HEADER"], 400},
		{"unknown identity", strings.Replace(good, "mi-client", "other", 1), env["IDENTITY_HEADER"], 400},
		{"no system-assigned identity", "api-version=2019-08-01&resource=" + url.QueryEscape(DefaultResource), env["IDENTITY_HEADER"], 400},
		{"unknown resource", "api-version=2019-08-01&resource=api%3A%2F%2Fother&client_id=mi-client", env["IDENTITY_HEADER"], 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := get(tc.query, tc.header)
			if status != tc.status || body["statusCode"] != float64(tc.status) || body["message"] == "" {
				t.Errorf("got %d %v, want %d", status, body, tc.status)
			}
		})
	}
	if n := s.Requests(EndpointManagedIdentity); n != 8 {
		t.Errorf("Requests(managed identity) = %d, want 8", n)
	}
}

func TestLoopbackGuard(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:443":                 true,
		"[::1]:80":                      true,
		"localhost:8080":                true,
		"169.254.169.254:80":            false,
		"login.microsoftonline.com:443": false,
		"10.0.0.1:80":                   false,
		"no-port":                       false,
	} {
		if err := checkLoopback(addr); (err == nil) != ok {
			t.Errorf("checkLoopback(%q) = %v", addr, err)
		}
	}
	s := newServer(t)
	_, err := s.Client().Get("http://169.254.169.254/metadata/identity/oauth2/token")
	if err == nil || !strings.Contains(err.Error(), "refusing to dial") {
		t.Errorf("Client reached the metadata address: %v", err)
	}
}

func TestRedaction(t *testing.T) {
	c := Client{ID: "app", Secret: "the-secret", FederatedToken: "the-token"}
	r := TokenRequest{Endpoint: EndpointToken, Values: url.Values{"client_id": {"app"}, "client_secret": {"the-secret"}, "client_assertion": {"the-token"}}}
	for _, v := range []any{c, &c, r} {
		for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(format, v)
			if strings.Contains(out, "the-secret") || strings.Contains(out, "the-token") || !strings.Contains(out, "REDACTED") {
				t.Errorf("%s of %T = %s", format, v, out)
			}
		}
	}
}

func TestEndpointString(t *testing.T) {
	for e, want := range map[Endpoint]string{EndpointDiscovery: "discovery", EndpointToken: "token", EndpointKeys: "keys", EndpointManagedIdentity: "managed-identity", Endpoint(9): "Endpoint(9)"} {
		if got := e.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(e), got, want)
		}
	}
	for k, want := range map[FailureKind]string{OAuthErrorFailure: "oauth-error", HTMLFailure: "html", TruncatedJSONFailure: "truncated-json", HangFailure: "hang", FailureKind(0): "FailureKind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(k), got, want)
		}
	}
}
