package static_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/temporalauth/temporalauth/static"
)

func TestExpiryOf(t *testing.T) {
	header := b64(`{"alg":"RS256","kid":"k"}`)
	tests := []struct {
		name    string
		token   string
		wantOK  bool
		wantExp time.Time
	}{
		{"integer exp", jwtWithClaims(`{"exp":1893456000}`), true, time.Unix(1893456000, 0).UTC()},
		{"fractional exp", jwtWithClaims(`{"exp":1893456000.25}`), true, time.Unix(1893456000, 250_000_000).UTC()},
		{"exponent exp", jwtWithClaims(`{"exp":1.8934560e9}`), true, time.Unix(1893456000, 0).UTC()},
		{"negative exp", jwtWithClaims(`{"exp":-60}`), true, time.Unix(-60, 0).UTC()},
		{"zero exp", jwtWithClaims(`{"exp":0}`), true, time.Unix(0, 0).UTC()},
		{"last duplicate exp wins", jwtWithClaims(`{"exp":1,"exp":1893456000}`), true, time.Unix(1893456000, 0).UTC()},
		{"padded segments", header + "==." + b64(`{"exp":1893456000}`) + "=.c2ln", true, time.Unix(1893456000, 0).UTC()},
		{"escaped claim name", jwtWithClaims(`{"e\u0078p":1893456000}`), true, time.Unix(1893456000, 0).UTC()},
		{"no exp", jwtWithClaims(`{"sub":"x"}`), false, time.Time{}},
		{"claim name case matters", jwtWithClaims(`{"EXP":1893456000}`), false, time.Time{}},
		{"empty signature", header + "." + b64(`{"exp":1893456000}`) + ".", true, time.Unix(1893456000, 0).UTC()},
		{"opaque", "tmprl_opaque_key", false, time.Time{}},
		{"two segments", header + "." + b64(`{"exp":1}`), false, time.Time{}},
		{"four segments", header + "." + b64(`{"exp":1}`) + ".c2ln.more", false, time.Time{}},
		{"five segments (JWE)", header + ".a.b.c.d", false, time.Time{}},
		{"header not base64url", "***." + b64(`{"exp":1}`) + ".c2ln", false, time.Time{}},
		{"header not an object", b64(`["alg"]`) + "." + b64(`{"exp":1}`) + ".c2ln", false, time.Time{}},
		{"header null", b64(`null`) + "." + b64(`{"exp":1}`) + ".c2ln", false, time.Time{}},
		{"empty", "", false, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp, ok, err := static.ExpiryOf(tt.token)
			if err != nil {
				t.Fatalf("ExpiryOf: %v", err)
			}
			if ok != tt.wantOK || !exp.Equal(tt.wantExp) {
				t.Errorf("ExpiryOf = %v, %v; want %v, %v", exp, ok, tt.wantExp, tt.wantOK)
			}
			if ok && exp.Location() != time.UTC {
				t.Errorf("expiry location = %v, want UTC", exp.Location())
			}
		})
	}
}

func TestExpiryOfAgreesWithGolangJWT(t *testing.T) {
	for _, claims := range []string{`{"exp":1893456000}`, `{"exp":1893456000.75,"sub":"a"}`, `{"exp":-5.5}`} {
		token := jwtWithClaims(claims)
		got, ok, err := static.ExpiryOf(token)
		if err != nil || !ok {
			t.Fatalf("ExpiryOf(%s) = %v, %v, %v", claims, got, ok, err)
		}
		want := libraryExpiry(t, token)
		if want == nil {
			t.Fatalf("golang-jwt found no exp in %s", claims)
		}
		if !got.Truncate(time.Second).Equal(*want) {
			t.Errorf("%s: ExpiryOf = %v, golang-jwt = %v", claims, got, *want)
		}
	}
}

// libraryExpiry returns the exp golang-jwt reads from token, to the second,
// or nil when it cannot parse the token or finds no usable exp.
func libraryExpiry(t testing.TB, token string) *time.Time {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		return nil
	}
	exp, ok := claims["exp"].(float64)
	if !ok || exp == 0 || math.IsNaN(exp) || exp <= -62135596800 || exp > 253402300799 {
		return nil
	}
	d, err := claims.GetExpirationTime()
	if err != nil || d == nil {
		t.Fatalf("golang-jwt: exp %v gave %v, %v", exp, d, err)
	}
	return &d.Time
}

// FuzzExpiryOf checks that ExpiryOf never panics, that its errors are the
// documented ones and never echo the token, and that it reads the same exp
// as golang-jwt whenever golang-jwt accepts the token.
func FuzzExpiryOf(f *testing.F) {
	for _, seed := range []string{
		"",
		"opaque-api-key",
		"a.b.c",
		jwtWithClaims(`{"exp":1893456000}`),
		jwtWithClaims(`{"exp":1893456000.5,"sub":"x"}`),
		jwtWithClaims(`{"exp":"1893456000"}`),
		jwtWithClaims(`{"exp":null}`),
		jwtWithClaims(`{"exp":1e999}`),
		jwtWithClaims(`[]`),
		b64(`{"alg":"none"}`) + ".e30.",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		exp, ok, err := static.ExpiryOf(token)
		if err != nil {
			if !errors.Is(err, static.ErrMalformedToken) {
				t.Fatalf("error %q does not wrap ErrMalformedToken", err)
			}
			if ok || !exp.IsZero() {
				t.Fatalf("error %q came with %v, %v", err, exp, ok)
			}
			if strings.Count(token, ".") != 2 {
				t.Fatalf("error %q for a token without three segments", err)
			}
			if len(token) > 100 && strings.Contains(err.Error(), token) {
				t.Fatalf("error %q echoes the token", err)
			}
			if want := libraryExpiry(t, token); want != nil {
				t.Fatalf("ExpiryOf failed (%v) where golang-jwt reads exp %v", err, *want)
			}
			return
		}
		if ok == exp.IsZero() {
			t.Fatalf("ok = %v with expiry %v", ok, exp)
		}
		if ok && (exp.Year() < 1 || exp.Year() > 9999) {
			t.Fatalf("expiry %v out of range", exp)
		}
		if want := libraryExpiry(t, token); want != nil {
			if !ok || !exp.Truncate(time.Second).Equal(*want) {
				t.Fatalf("ExpiryOf = %v, %v; golang-jwt reads %v", exp, ok, *want)
			}
		}
	})
}
