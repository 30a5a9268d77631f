package azure

import (
	"context"
	"errors"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/temporalauth/temporalauth/azure/entratest"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/idperr"
)

// secretSource is a Source for a client registered with testSecret.
func secretSource(t *testing.T, idp *entratest.Server) *Source {
	t.Helper()
	idp.RegisterClient(entratest.Client{ID: "app-1", Secret: testSecret})
	cfg := appConfig(idp, "app-1")
	cfg.ClientSecret = testSecret
	return newSource(t, cfg)
}

// assertClean fails if msg holds a secret or anything like a JWT.
func assertClean(t *testing.T, msg string, secrets ...string) {
	t.Helper()
	for _, s := range append(secrets, testSecret, "eyJ") {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("%q contains %q", msg, s)
		}
	}
}

func TestWrongSecret(t *testing.T) {
	idp := newIdP(t)
	idp.RegisterClient(entratest.Client{ID: "app-1", Secret: testSecret})
	const wrong = "wrong~Secret.Value-123"
	cfg := appConfig(idp, "app-1")
	cfg.ClientSecret = wrong
	_, err := newSource(t, cfg).Token(testContext(t))

	var re *ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("Token: %v, want a *ResponseError", err)
	}
	if re.StatusCode != http.StatusUnauthorized || re.ErrorCode != "invalid_client" || re.AADSTS != "AADSTS7000215" {
		t.Errorf("ResponseError %+v", *re)
	}
	if !strings.HasPrefix(re.Description, "Invalid client secret provided.") || strings.Contains(re.Description, "Trace ID") {
		t.Errorf("Description %q, want the first line without the AADSTS prefix", re.Description)
	}
	if re.TraceID == "" || re.CorrelationID == "" {
		t.Error("trace or correlation ID missing")
	}
	msg := err.Error()
	for _, want := range []string{"401", "invalid_client", "AADSTS7000215", "Invalid client secret provided", idp.TokenURL(), "trace ID"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if _, ok := headers.RetryAfter(err); ok {
		t.Error("an answer without Retry-After carries one")
	}
	assertClean(t, msg, wrong)
}

func TestUnavailableWithRetryAfter(t *testing.T) {
	idp := newIdP(t)
	src := secretSource(t, idp)
	idp.FailNext(1, entratest.Unavailable(30*time.Second))
	_, err := src.Token(testContext(t))
	if d, ok := headers.RetryAfter(err); !ok || d != 30*time.Second {
		t.Fatalf("RetryAfter(%v) = %v, %v; want 30s", err, d, ok)
	}
	var re *ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusServiceUnavailable || re.ErrorCode != "temporarily_unavailable" || re.RetryAfter != 30*time.Second {
		t.Fatalf("error %v, want a 503 ResponseError", err)
	}
	if !strings.Contains(err.Error(), "retry after 30s") {
		t.Errorf("error %q does not mention the retry", err)
	}
	assertClean(t, err.Error())
	if _, err := src.Token(testContext(t)); err != nil {
		t.Fatalf("Token after the outage: %v", err)
	}
}

func TestUnreadableAnswers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		failure entratest.Failure
		want    []string
	}{
		{"HTML page", entratest.Failure{Kind: entratest.HTMLFailure}, []string{"502 Bad Gateway", "unexpected text/html response of", "bytes"}},
		{"HTML page with 200", entratest.Failure{Kind: entratest.HTMLFailure, Status: http.StatusOK}, []string{"200 OK", "text/html", "expected JSON"}},
		{"truncated JSON", entratest.Failure{Kind: entratest.TruncatedJSONFailure}, []string{"200 OK", "application/json", "truncated JSON"}},
		{"throttled", entratest.Failure{Kind: entratest.OAuthErrorFailure, Status: http.StatusTooManyRequests, Error: "throttled", Code: 50196, RetryAfter: 2 * time.Second}, []string{"429", "throttled", "AADSTS50196", "retry after 2s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := newIdP(t)
			src := secretSource(t, idp)
			idp.FailNext(1, tc.failure)
			_, err := src.Token(testContext(t))
			if err == nil {
				t.Fatal("Token succeeded")
			}
			msg := err.Error()
			t.Log(msg)
			for _, w := range append(tc.want, idp.TokenURL()) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if strings.Contains(msg, "<") || strings.Contains(msg, "{") || len(msg) > 400 {
				t.Errorf("error quotes the body: %q", msg)
			}
			assertClean(t, msg)
		})
	}
}

func TestHangingIdentityProvider(t *testing.T) {
	idp := newIdP(t)
	src := secretSource(t, idp)
	idp.FailNext(1, entratest.Failure{Kind: entratest.HangFailure})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := src.Token(ctx)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Token took %v despite a 300ms deadline", took)
	}
	t.Log(err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Token: %v, want context.DeadlineExceeded", err)
	}
	for _, w := range []string{"timed out", "POST " + idp.TokenURL()} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	assertClean(t, err.Error())
}

func TestUnreachableIdentityProvider(t *testing.T) {
	idp := newIdP(t)
	src := secretSource(t, idp)
	idp.Close()
	_, err := src.Token(testContext(t))
	if err == nil || !strings.Contains(err.Error(), "GET "+idp.Issuer()+"/.well-known/openid-configuration: ") || !strings.Contains(err.Error(), "connect") {
		t.Fatalf("Token: %v, want a connection error naming the URL", err)
	}
	t.Log(err)
	assertClean(t, err.Error())
}

func TestResponseErrorBodies(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  record
		want string
	}{
		{
			"Entra ID",
			record{method: "POST", url: "https://login/t/oauth2/v2.0/token", status: 400, contentType: "application/json",
				body: []byte(`{"error":"invalid_scope","error_description":"AADSTS1002012: The provided value for scope x is not valid.\r\nTrace ID: a\r\nCorrelation ID: b","error_codes":[1002012],"trace_id":"a","correlation_id":"b"}`)},
			"azure: POST https://login/t/oauth2/v2.0/token: 400 Bad Request: invalid_scope: AADSTS1002012: \"The provided value for scope x is not valid.\" (trace ID a, correlation ID b)",
		},
		{
			"error codes without prefix",
			record{method: "POST", url: "u", status: 400, body: []byte(`{"error":"invalid_request","error_description":"Bad.","error_codes":[900144]}`)},
			"azure: POST u: 400 Bad Request: invalid_request: AADSTS900144: \"Bad.\"",
		},
		{
			"App Service",
			record{method: "GET", url: "http://127.0.0.1:1/msi/token", status: 400, body: []byte(`{"statusCode":400,"message":"Unable to load the proper Managed Identity.","correlationId":"c"}`)},
			"azure: GET http://127.0.0.1:1/msi/token: 400 Bad Request: \"Unable to load the proper Managed Identity.\" (correlation ID c)",
		},
		{
			"nested error object",
			record{method: "GET", url: "u", status: 403, body: []byte(`{"error":{"code":"AuthorizationFailed","message":"No access."}}`)},
			"azure: GET u: 403 Forbidden: AuthorizationFailed: \"No access.\"",
		},
		{
			"secret echoed in a description",
			record{method: "POST", url: "u", status: 400, body: []byte(`{"error":"invalid_request","error_description":"bad value ` + testSecret + ` and eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}`)},
			"azure: POST u: 400 Bad Request: invalid_request: \"bad value REDACTED and REDACTED\"",
		},
		{
			// Control characters could forge log records: gone, and IDs
			// that are not plain identifiers are quoted.
			"control characters",
			record{method: "POST", url: "u", status: 400, body: []byte(`{"error":"invalid_client\u001b[2J","error_description":"AADSTS7000215: bad\u0007 secret\u2028forged","trace_id":"a\u001b]0;x\u0007\nlevel=ERROR","correlation_id":"c d\r\nforged"}`)},
			`azure: POST u: 400 Bad Request: AADSTS7000215: "bad  secret" (trace ID "a ]0;x", correlation ID "c d")`,
		},
		{
			"Authorization header echoed",
			record{method: "POST", url: "u", status: 401, body: []byte(`{"error":"invalid_client","error_description":"header Authorization: Basic ` + idperr.BasicCredential("app-1", testSecret) + `"}`)},
			`azure: POST u: 401 Unauthorized: invalid_client: "header Authorization: Basic REDACTED"`,
		},
		{
			"plain text",
			record{method: "GET", url: "u", status: 500, contentType: "text/plain", body: []byte("oops")},
			"azure: GET u: 500 Internal Server Error: unexpected text/plain response of 4 bytes",
		},
		{
			"empty",
			record{method: "GET", url: "u", status: 504},
			"azure: GET u: 504 Gateway Timeout: empty response",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.rec.responded, tc.rec.bodyLen = true, len(tc.rec.body)
			if got := responseError(tc.rec, []string{testSecret}).Error(); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestUnknownTenant(t *testing.T) {
	idp := newIdP(t)
	idp.RegisterClient(entratest.Client{ID: "app-1", Secret: testSecret})
	cfg := appConfig(idp, "app-1")
	cfg.TenantID = "someone-else.onmicrosoft.com"
	cfg.ClientSecret = testSecret
	_, err := newSource(t, cfg).Token(testContext(t))
	var re *ResponseError
	if !errors.As(err, &re) || re.AADSTS != "AADSTS90002" || !strings.Contains(re.URL, "/someone-else.onmicrosoft.com/v2.0/.well-known/openid-configuration") {
		t.Fatalf("Token: %v, want AADSTS90002 from the discovery request", err)
	}
	assertClean(t, err.Error())
}

func TestWhyUnusable(t *testing.T) {
	for _, tc := range []struct {
		body, contentType string
		want              string
	}{
		{`{"token_type":"Bearer","expires_in":3600}`, "application/json", "no access_token"},
		{`{"access_token":"x"}`, "application/json", "no expires_in or expires_on"},
		{`{"access_token":"x","expires_in":"soon"}`, "", "fields of unexpected types"},
		{`{"access_token": x}`, "application/json", "malformed JSON at byte 18"},
		{`["access_token"]`, "application/json", "not a JSON object"},
		{`<html></html>`, "text/html", "expected JSON"},
	} {
		rec := record{responded: true, status: 200, contentType: tc.contentType, body: []byte(tc.body), bodyLen: len(tc.body)}
		if got := whyUnusable(rec); got != tc.want {
			t.Errorf("whyUnusable(%s) = %q, want %q", tc.body, got, tc.want)
		}
	}
	big := record{responded: true, status: 200, contentType: "application/json", body: make([]byte, maxRecordedBody), bodyLen: maxRecordedBody + 1}
	if got := whyUnusable(big); got != "too large to be a token response" {
		t.Errorf("whyUnusable(large) = %q", got)
	}
}

func TestLongDescriptionTruncated(t *testing.T) {
	desc := "AADSTS50000: " + strings.Repeat("é", 500)
	body := `{"error":"server_error","error_description":"` + desc + `"}`
	re := responseError(record{method: "POST", url: "u", status: 500, responded: true, body: []byte(body), bodyLen: len(body)}, nil)
	if len(re.Description) > idperr.MaxText+3 || !strings.HasSuffix(re.Description, "...") || !utf8.ValidString(re.Description) {
		t.Errorf("Description of %d bytes: %q", len(re.Description), re.Description)
	}
}

// TestAADSTSCodesDocumented checks that TROUBLESHOOTING.md's table of
// AADSTS codes lists exactly the codes a ResponseError explains.
func TestAADSTSCodesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../TROUBLESHOOTING.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\| (AADSTS\d+) \|`).FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	for code := range aadstsCodes {
		if !documented[code] {
			t.Errorf("%s is explained but not in TROUBLESHOOTING.md", code)
		}
	}
	for code := range documented {
		if _, ok := aadstsCodes[code]; !ok {
			t.Errorf("%s is in TROUBLESHOOTING.md but not explained", code)
		}
	}
}
