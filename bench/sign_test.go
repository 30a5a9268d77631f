package bench

import (
	"context"
	"crypto"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/temporalauth/temporalauth/headers"
)

// signingKeys returns one key per algorithm the Temporal server accepts.
func signingKeys(tb testing.TB) map[string]crypto.Signer {
	tb.Helper()
	es, err := headers.GenerateES256Key()
	if err != nil {
		tb.Fatal(err)
	}
	rs, err := headers.GenerateRS256Key(2048)
	if err != nil {
		tb.Fatal(err)
	}
	return map[string]crypto.Signer{"ES256": es, "RS256": rs}
}

var benchPermissions = []string{"default:worker", "orders:write"}

// BenchmarkSign measures the cost of one token from headers.Signer, the
// source behind headers.NewJWTProvider, with golang-jwt/jwt/v5 signing the
// same claims as a reference. It is paid once per refresh, not per RPC.
func BenchmarkSign(b *testing.B) {
	keys := signingKeys(b)
	for _, alg := range []string{"ES256", "RS256"} {
		key := keys[alg]
		b.Run("alg="+alg+"/impl=headers", func(b *testing.B) {
			s, err := headers.NewSigner(headers.JWTConfig{Key: key, Permissions: benchPermissions})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Token(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("alg="+alg+"/impl=golang-jwt", func(b *testing.B) {
			method := jwt.GetSigningMethod(alg)
			b.ReportAllocs()
			for b.Loop() {
				now := time.Now()
				tok := jwt.NewWithClaims(method, jwt.MapClaims{
					"sub":         headers.DefaultJWTSubject,
					"exp":         now.Add(headers.DefaultJWTExpiration).Unix(),
					"iat":         now.Add(-headers.DefaultClockSkew).Unix(),
					"nbf":         now.Add(-headers.DefaultClockSkew).Unix(),
					"permissions": benchPermissions,
				})
				tok.Header["kid"] = "bench"
				if _, err := tok.SignedString(key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSignersAgree checks that both signers in BenchmarkSign produce
// tokens golang-jwt verifies with the key's public half, so that the
// benchmark compares like with like.
func TestSignersAgree(t *testing.T) {
	for alg, key := range signingKeys(t) {
		s, err := headers.NewSigner(headers.JWTConfig{Key: key, Permissions: benchPermissions})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := jwt.Parse(tok.Value, func(*jwt.Token) (any, error) { return key.Public(), nil },
			jwt.WithValidMethods([]string{alg}))
		if err != nil {
			t.Fatalf("%s: golang-jwt rejects headers.Signer's token: %v", alg, err)
		}
		claims := parsed.Claims.(jwt.MapClaims)
		if got := claims["sub"]; got != headers.DefaultJWTSubject {
			t.Errorf("%s: sub = %v, want %q", alg, got, headers.DefaultJWTSubject)
		}
		if got := fmt.Sprint(claims["permissions"]); got != fmt.Sprint(benchPermissions) {
			t.Errorf("%s: permissions = %s, want %v", alg, got, benchPermissions)
		}
	}
}
