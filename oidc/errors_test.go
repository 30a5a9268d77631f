package oidc

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/temporalauth/temporalauth/internal/idperr"
)

// jwtLike matches what idperr.Scrub removes: JWTs and fragments of them
// long enough to carry a secret.
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_\-]{4,}`)

// FuzzResponseError checks that whatever an identity provider answers, the
// error made from it never holds the client secret, its Basic credential
// nor a JWT, stays one line without control characters, and is bounded.
func FuzzResponseError(f *testing.F) {
	f.Add(`{"error":"invalid_client","error_description":"secret s3cr3t-Value+/= rejected"}`, "7")
	f.Add(`error=invalid_client&error_description=s3cr3t-Value%2B%2F%3D`, "")
	f.Add(`{"error":"x","error_description":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"}`, "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add("<html>s3cr3t-Value+/=</html>", "-1")
	f.Add(`{"error":{"code":"s3cr3t-Value+/="}}`, "99999999999999999999")
	basic := idperr.BasicCredential("c", testSecret)
	f.Add(`{"error":"invalid_client","error_description":"Authorization: Basic `+basic+`"}`, "")
	f.Add("{\"error\":\"x\\u001b[2J\",\"error_description\":\"a\\u0007b\\u2028c\"}", "")
	u, _ := url.Parse("https://idp.example.com/token?x=1")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body, retryAfter string) {
		resp := &http.Response{StatusCode: 400, Header: http.Header{"Retry-After": {retryAfter}, "Content-Type": {"application/json"}}}
		e := responseError(http.MethodPost, u, resp, []byte(body), now, []string{testSecret, basic})
		(&Source{checked: checked{method: AuthSecretBasic}, clientID: "c", credential: "ClientSecret"}).hint(e)
		msg := e.Error()
		for _, bad := range []string{testSecret, "s3cr3t-Value%2B%2F%3D"} {
			if strings.Contains(msg, bad) {
				t.Fatalf("error holds the secret: %q", msg)
			}
		}
		if jwtLike.MatchString(msg) {
			t.Fatalf("error holds something like a JWT: %q", msg)
		}
		if strings.ContainsFunc(msg, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }) {
			t.Fatalf("error holds a control character or line break: %q", msg)
		}
		if strings.Contains(msg, basic) {
			t.Fatalf("error holds the Basic credential: %q", msg)
		}
		if len(msg) > 1000 {
			t.Fatalf("error of %d bytes", len(msg))
		}
		if e.RetryAfter < 0 || e.RetryAfter > idperr.RetryAfterCap {
			t.Fatalf("RetryAfter %v", e.RetryAfter)
		}
	})
}
