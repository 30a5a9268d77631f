package bench

import (
	"context"
	"crypto"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/temporalauth/temporalauth/jwtkey"
)

// signingKeys returns one key per algorithm the Temporal server accepts.
func signingKeys(tb testing.TB) map[string]crypto.Signer {
	tb.Helper()
	es, err := jwtkey.GenerateES256Key()
	if err != nil {
		tb.Fatal(err)
	}
	rs, err := jwtkey.GenerateRS256Key(2048)
	if err != nil {
		tb.Fatal(err)
	}
	return map[string]crypto.Signer{"ES256": es, "RS256": rs}
}

var benchPermissions = []string{"default:worker", "orders:write"}

// BenchmarkSign measures the cost of one token from jwtkey.Source, the
// source behind jwtkey.NewProvider, with golang-jwt/jwt/v5 signing the
// same claims as a reference. It is paid once per refresh, not per RPC.
func BenchmarkSign(b *testing.B) {
	keys := signingKeys(b)
	for _, alg := range []string{"ES256", "RS256"} {
		key := keys[alg]
		b.Run("alg="+alg+"/impl=headers", func(b *testing.B) {
			s, err := jwtkey.NewTokenSource(jwtkey.Config{Key: key, Permissions: benchPermissions})
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
					"sub":         jwtkey.DefaultSubject,
					"exp":         now.Add(jwtkey.DefaultExpiration).Unix(),
					"iat":         now.Add(-jwtkey.DefaultClockSkew).Unix(),
					"nbf":         now.Add(-jwtkey.DefaultClockSkew).Unix(),
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
		s, err := jwtkey.NewTokenSource(jwtkey.Config{Key: key, Permissions: benchPermissions})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := jwt.Parse(tok.Value(), func(*jwt.Token) (any, error) { return key.Public(), nil },
			jwt.WithValidMethods([]string{alg}))
		if err != nil {
			t.Fatalf("%s: golang-jwt rejects jwtkey.Source's token: %v", alg, err)
		}
		claims := parsed.Claims.(jwt.MapClaims)
		if got := claims["sub"]; got != jwtkey.DefaultSubject {
			t.Errorf("%s: sub = %v, want %q", alg, got, jwtkey.DefaultSubject)
		}
		if got := fmt.Sprint(claims["permissions"]); got != fmt.Sprint(benchPermissions) {
			t.Errorf("%s: permissions = %s, want %v", alg, got, benchPermissions)
		}
	}
}
