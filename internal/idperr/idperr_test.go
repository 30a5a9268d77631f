package idperr_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/internal/idperr"
)

const testSecret = "s3cr3t~value/with+chars"

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"12", 12 * time.Second},
		{" 3 ", 3 * time.Second},
		{"999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"soon", 0},
	} {
		if got := idperr.RetryAfter(tc.in, now); got != tc.want {
			t.Errorf("idperr.RetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestScrub(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"no secrets here", "no secrets here"},
		{"secret " + testSecret + " twice " + testSecret, "secret REDACTED twice REDACTED"},
		{"token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sig-nature_1 end", "token REDACTED end"},
		{`{"access_token":"eyJhbGciOiJSUzI1NiIsImtpZCI6In`, `{"access_token":"REDACTED`},
	} {
		if got := idperr.Scrub(tc.in, []string{testSecret, ""}); got != tc.want {
			t.Errorf("idperr.Scrub(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestScrubEncodedSecret(t *testing.T) {
	in := "client_secret=" + url.QueryEscape(testSecret) + "&x=1"
	if got := idperr.Scrub(in, []string{testSecret}); got != "client_secret=REDACTED&x=1" {
		t.Errorf("Scrub = %q", got)
	}
}

func TestURLDropsCredentials(t *testing.T) {
	u, _ := url.Parse("https://user:pw@idp.example/token?client_secret=x#frag")
	if got := idperr.URL(u); got != "https://idp.example/token" {
		t.Errorf("URL = %q", got)
	}
	if idperr.URL(nil) != "" {
		t.Error("URL(nil) is not empty")
	}
}

func TestTruncate(t *testing.T) {
	if got := idperr.Truncate("héllo", 2); got != "h..." {
		t.Errorf("Truncate cut inside a rune: %q", got)
	}
	if got := idperr.Truncate("abc", 3); got != "abc" {
		t.Errorf("Truncate = %q", got)
	}
}
