package static_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/static"
)

func TestParseTokenAccepts(t *testing.T) {
	exp := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	jwt := jwtExpiring(exp)
	noExp := jwtWithClaims(`{"sub":"worker"}`)
	tests := []struct {
		name       string
		in         string
		wantValue  string
		wantExpiry time.Time
	}{
		{"opaque API key", "tmprl_0123456789abcdef", "tmprl_0123456789abcdef", time.Time{}},
		{"JWT with exp", jwt, jwt, exp},
		{"JWT without exp", noExp, noExp, time.Time{}},
		{"trailing LF", jwt + "\n", jwt, exp},
		{"trailing CRLF", jwt + "\r\n", jwt, exp},
		{"surrounding blanks", " \t" + jwt + " \r\n\r\n", jwt, exp},
		{"dotted opaque key", "a.b.c", "a.b.c", time.Time{}},
		{"word bearer alone", "bearer", "bearer", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := static.ParseToken(tt.in)
			if err != nil {
				t.Fatalf("ParseToken: %v", err)
			}
			if tok.Value() != tt.wantValue {
				t.Errorf("Value = %q, want %q", tok.Value(), tt.wantValue)
			}
			if !tok.Expiry.Equal(tt.wantExpiry) {
				t.Errorf("Expiry = %v, want %v", tok.Expiry, tt.wantExpiry)
			}
			if !tok.RefreshAt.IsZero() {
				t.Errorf("RefreshAt = %v, want zero", tok.RefreshAt)
			}
		})
	}
}

func TestParseTokenRejects(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr error
		wantMsg string
	}{
		{"empty", "", static.ErrEmptyToken, "token is empty"},
		{"whitespace only", " \r\n\t ", static.ErrEmptyToken, "token is empty"},
		{"inner space", "secret-part one-more", static.ErrMalformedToken, "whitespace at byte 12"},
		{"two lines", "first-line-token\r\nsecond-line-token", static.ErrMalformedToken, "whitespace at byte 17"},
		{"control character", "secret\x00value", static.ErrMalformedToken, "a control character at byte 7"},
		{"DEL", "secret\x7fvalue", static.ErrMalformedToken, "a control character at byte 7"},
		{"non-ASCII", "secrét-value", static.ErrMalformedToken, "a non-ASCII character at byte 5"},
		{"Bearer scheme", "Bearer " + jwtExpiring(t0), static.ErrMalformedToken, "Bearer scheme"},
		{"lowercase bearer scheme", "bearer opaque-secret", static.ErrMalformedToken, "Bearer scheme"},
		{"payload not base64url", b64(`{"alg":"RS256"}`) + ".***secret***.c2ln", static.ErrMalformedToken, "payload is not base64url"},
		{"payload not JSON", b64(`{"alg":"RS256"}`) + "." + b64("secret-claims") + ".c2ln", static.ErrMalformedToken, "payload is not a JSON object"},
		{"payload JSON array", jwtWithClaims(`["secret-claims"]`), static.ErrMalformedToken, "payload is not a JSON object"},
		{"payload null", jwtWithClaims(`null`), static.ErrMalformedToken, "payload is not a JSON object"},
		{"exp string", jwtWithClaims(`{"exp":"1893456000"}`), static.ErrMalformedToken, "exp claim is not a number"},
		{"exp word", jwtWithClaims(`{"exp":"tomorrow"}`), static.ErrMalformedToken, "exp claim is not a number"},
		{"exp null", jwtWithClaims(`{"exp":null}`), static.ErrMalformedToken, "exp claim is not a number"},
		{"exp bool", jwtWithClaims(`{"exp":true}`), static.ErrMalformedToken, "exp claim is not a number"},
		{"exp object", jwtWithClaims(`{"exp":{"secret":1}}`), static.ErrMalformedToken, "exp claim is not a number"},
		{"exp too large", jwtWithClaims(`{"exp":1e300}`), static.ErrMalformedToken, "exp claim is out of range"},
		{"exp beyond float", jwtWithClaims(`{"exp":1e999}`), static.ErrMalformedToken, "exp claim is out of range"},
		{"exp too small", jwtWithClaims(`{"exp":-1e12}`), static.ErrMalformedToken, "exp claim is out of range"},
		{"exp at the zero time", jwtWithClaims(`{"exp":-62135596800}`), static.ErrMalformedToken, "exp claim is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := static.ParseToken(tt.in)
			if err == nil {
				t.Fatalf("ParseToken = %v, want an error", tok)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error %q is not %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
			assertNoSecret(t, "error", err.Error(), tt.in)
			assertNoSecret(t, "error", err.Error(), "secret")
			if tok.Value() != "" {
				t.Errorf("a failed ParseToken returned a value")
			}
		})
	}
}
