package jwtkey

import (
	"bytes"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestClaimSigner(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgRS256} {
		key, err := GenerateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewClaimSigner(key, "")
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.Sign(map[string]any{"iss": "client", "jti": "j1", "exp": 4102444800, "nested": map[string]int{"a": 1}})
		if err != nil {
			t.Fatal(err)
		}
		var claims jwt.MapClaims
		parsed, err := jwt.ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return key.Public(), nil }, jwt.WithValidMethods([]string{alg}))
		if err != nil {
			t.Fatalf("%s: does not verify: %v", alg, err)
		}
		if parsed.Header["kid"] != s.KeyID() || s.KeyID() != s.PublicJWK().KeyID || s.Algorithm() != alg {
			t.Errorf("%s: kid %v, KeyID %q, JWK kid %q, alg %q", alg, parsed.Header["kid"], s.KeyID(), s.PublicJWK().KeyID, s.Algorithm())
		}
		if claims["iss"] != "client" || claims["jti"] != "j1" {
			t.Errorf("%s: claims %v", alg, claims)
		}
		if _, err := s.Sign(map[string]any{"kid": "x"}); err == nil {
			t.Errorf("%s: a kid claim was signed", alg)
		}
	}
}

func TestClaimSignerFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "client.pem")
	first, _ := GenerateES256Key()
	if err := WritePrivateKeyFile(path, first); err != nil {
		t.Fatal(err)
	}
	s, err := NewClaimSignerFromFile(path, "registered-kid")
	if err != nil {
		t.Fatal(err)
	}
	second, _ := GenerateKey(AlgRS256)
	if err := WritePrivateKeyFile(path, second); err != nil {
		t.Fatal(err)
	}
	tok, err := s.Sign(map[string]any{"sub": "x"})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return second.Public(), nil }, jwt.WithValidMethods([]string{AlgRS256}))
	if err != nil {
		t.Fatalf("not signed with the replaced file's key: %v", err)
	}
	if parsed.Header["kid"] != "registered-kid" || s.PublicJWK().KeyID != "registered-kid" || s.Algorithm() != AlgRS256 {
		t.Errorf("kid %v, JWK kid %q, alg %q", parsed.Header["kid"], s.PublicJWK().KeyID, s.Algorithm())
	}
	if _, err := NewClaimSignerFromFile(filepath.Join(t.TempDir(), "missing.pem"), ""); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := NewClaimSigner(first, "bad kid"); err == nil {
		t.Error("kid with a space accepted")
	}

	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		fmt.Fprintf(&out, verb+"\n", s)
	}
	slog.New(slog.NewTextHandler(&out, nil)).Info("x", "s", s)
	rsaKey := second.(*rsa.PrivateKey)
	for _, secret := range []string{rsaKey.D.String(), fmt.Sprintf("%x", rsaKey.D.Bytes()), fmt.Sprintf("%x", first.D.Bytes()), first.D.String()} {
		if strings.Contains(out.String(), secret) {
			t.Fatalf("a private key printed:\n%s", out.String())
		}
	}
}
