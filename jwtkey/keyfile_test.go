package jwtkey_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/temporalauth/temporalauth/headers/clocktest"
	"github.com/temporalauth/temporalauth/jwtkey"
)

func TestKeyFileRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.pem")
	if err := jwtkey.WritePrivateKeyFile(path, testES256Key()); err != nil {
		t.Fatal(err)
	}
	s := mustSigner(t, jwtkey.Config{KeyFile: path, Clock: clocktest.NewAt(serverTime)})
	oldJWK := s.PublicJWK()
	first := mustToken(t, s)
	if _, err := verifyAsServer(first.Value(), jwksOf(t, oldJWK), serverTime); err != nil {
		t.Fatal(err)
	}
	// Rewriting the same key keeps the kid.
	if err := jwtkey.WritePrivateKeyFile(path, testES256Key()); err != nil {
		t.Fatal(err)
	}
	if tok := mustToken(t, s); jwtHeader(t, tok.Value())["kid"] != oldJWK.KeyID {
		t.Error("kid changed without a new key")
	}

	// Rotate to an RSA key: the next token has its kid and alg.
	if err := jwtkey.WritePrivateKeyFile(path, testRS256Key()); err != nil {
		t.Fatal(err)
	}
	second := mustToken(t, s)
	newJWK := s.PublicJWK()
	h := jwtHeader(t, second.Value())
	if h["kid"] == oldJWK.KeyID || h["kid"] != newJWK.KeyID || h["alg"] != "RS256" || s.KeyID() != newJWK.KeyID {
		t.Fatalf("after rotation: header %v, signer kid %s", h, s.KeyID())
	}
	if _, err := verifyAsServer(second.Value(), jwksOf(t, newJWK), serverTime); err != nil {
		t.Errorf("new token with new key: %v", err)
	}
	if _, err := verifyAsServer(second.Value(), jwksOf(t, oldJWK), serverTime); err == nil {
		t.Error("new token verified with the old key only")
	}
	// During the overlap the server holds both keys and accepts both tokens.
	both := jwksOf(t, oldJWK, newJWK)
	for _, tok := range []string{first.Value(), second.Value()} {
		if _, err := verifyAsServer(tok, both, serverTime); err != nil {
			t.Errorf("overlap: %v", err)
		}
	}
}

func TestKeyFileBrokenThenFixed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.pem")
	if err := jwtkey.WritePrivateKeyFile(path, testES256Key()); err != nil {
		t.Fatal(err)
	}
	s := mustSigner(t, jwtkey.Config{KeyFile: path})
	kid := s.KeyID()

	// A half-written file (not replaced atomically) fails clearly.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated file: %v", err)
	}
	if s.KeyID() != kid {
		t.Error("a failed load changed the kid")
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Token(context.Background()); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("removed file: %v", err)
	}

	if err := jwtkey.WritePrivateKeyFile(path, testES256Alt()); err != nil {
		t.Fatal(err)
	}
	tok := mustToken(t, s)
	if s.KeyID() == kid || jwtHeader(t, tok.Value())["kid"] != s.KeyID() {
		t.Errorf("after the fix: kid %s", s.KeyID())
	}
}

func TestKeyFileSignerDescribesItself(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.pem")
	if err := jwtkey.WritePrivateKeyFile(path, testES256Key()); err != nil {
		t.Fatal(err)
	}
	s := mustSigner(t, jwtkey.Config{KeyFile: path, Subject: "svc"})
	got := s.String()
	for _, want := range []string{path, "kid=" + s.KeyID(), "alg=ES256", `sub="svc"`} {
		if !strings.Contains(got, want) {
			t.Errorf("String() = %s, want %s", got, want)
		}
	}
	assertNoSecrets(t, "key file signer", got, secretsOf(t, testES256Key()))
}
