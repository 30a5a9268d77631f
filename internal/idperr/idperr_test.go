package idperr_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

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
		{"999999999", idperr.RetryAfterCap},
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

func TestScrubAuthorizationHeader(t *testing.T) {
	basic := idperr.BasicCredential("worker", testSecret)
	for _, tc := range []struct{ in, want string }{
		{"bad header Authorization: Basic " + basic + " rejected", "bad header Authorization: Basic REDACTED rejected"},
		{"header basic%20" + basic, "header basic REDACTED"},
		// Cut short by the identity provider: still a credential.
		{"Basic " + basic[:12], "Basic REDACTED"},
		{"Bearer opaque-api-key-0123456789", "Bearer REDACTED"},
		// Words, not credentials.
		{"Basic authentication is not supported", "Basic authentication is not supported"},
		{"Bearer token required", "Bearer token required"},
	} {
		if got := idperr.Scrub(tc.in, nil); got != tc.want {
			t.Errorf("Scrub(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// Given as a secret, the credential goes even without its scheme.
	if got := idperr.Scrub("echo: "+basic, []string{basic}); got != "echo: REDACTED" {
		t.Errorf("Scrub of the bare credential = %q", got)
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"  plain  ", 100, "plain"},
		{"first\nsecond", 100, "first"},
		{"first\r\nsecond", 100, "first"},
		{"line\u2028forged", 100, "line"},
		{"esc\x1b[31mred\x07bell\x00nul", 100, "esc [31mred bell nul"},
		{"bad \xff utf8", 100, "bad   utf8"},
		{"bidi \u202eevil", 100, "bidi  evil"},
		{"secret " + testSecret, 100, "secret REDACTED"},
		{strings.Repeat("x", 50), 10, strings.Repeat("x", 10) + "..."},
	} {
		if got := idperr.Text(tc.in, []string{testSecret}, tc.max); got != tc.want {
			t.Errorf("Text(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestFieldAndList(t *testing.T) {
	if got := idperr.Field("AADSTS7000215"); got != "AADSTS7000215" {
		t.Errorf("Field of a code = %q", got)
	}
	if got := idperr.Field("a b"); got != `"a b"` {
		t.Errorf("Field with a space = %q", got)
	}
	if got := idperr.Field(""); got != `""` {
		t.Errorf("Field of nothing = %q", got)
	}
	names := []string{"client_secret_basic", "bad\x1b[2Jname", "c", "d"}
	if got := idperr.List(names, 3); got != `client_secret_basic, "bad [2Jname", c and 1 more` {
		t.Errorf("List = %q", got)
	}
}

// FuzzText checks that whatever an identity provider sends, Text leaves
// one bounded line without control characters, the secret or its Basic
// credential, and Quote and Field print it on one line.
func FuzzText(f *testing.F) {
	basic := idperr.BasicCredential("worker", testSecret)
	f.Add("Authorization: Basic " + basic)
	f.Add("desc\x1b]0;title\x07\n2026-01-01 level=ERROR forged")
	f.Add(testSecret + " " + url.QueryEscape(testSecret))
	f.Add("\u2028\u0085\xff\xfe")
	f.Fuzz(func(t *testing.T, in string) {
		out := idperr.Text(in, []string{testSecret, basic}, idperr.MaxText)
		if len(out) > idperr.MaxText+3 {
			t.Fatalf("Text gave %d bytes", len(out))
		}
		if !utf8.ValidString(out) {
			t.Fatalf("Text gave invalid UTF-8: %q", out)
		}
		if strings.ContainsFunc(out, unicode.IsControl) {
			t.Fatalf("Text kept a control character: %q", out)
		}
		for _, bad := range []string{testSecret, basic, url.QueryEscape(testSecret)} {
			if strings.Contains(out, bad) {
				t.Fatalf("Text kept the secret: %q", out)
			}
		}
		for _, p := range []string{idperr.Quote(out), idperr.Field(out)} {
			if strings.ContainsFunc(p, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }) {
				t.Fatalf("printed as %q", p)
			}
		}
	})
}
