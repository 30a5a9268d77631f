package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/temporalauth/temporalauth/jwtkey"
)

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "worker.pem")
	r := runCLI(t, nil, "", "keygen", "--out", out)
	r.want(t, exitOK)
	key, err := jwtkey.LoadPrivateKeyFile(out)
	if err != nil {
		t.Fatal(err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		t.Fatalf("key is %T, want ECDSA P-256", key)
	}
	if got, want := r.stdout, kidOf(t, key)+"\n"; got != want {
		t.Errorf("stdout %q, want the kid %q", got, want)
	}
	if !strings.Contains(r.stderr, "wrote a new ES256 key to "+out+" (mode 0600)") {
		t.Errorf("stderr %q", r.stderr)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", fi.Mode().Perm())
		}
	}

	// An existing file is kept.
	before, _ := os.ReadFile(out)
	r = runCLI(t, nil, "", "keygen", "--out", out)
	r.want(t, exitFailure)
	if !strings.Contains(r.stderr, out+" exists: not replaced (use --force to replace it)") || r.stdout != "" {
		t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if after, _ := os.ReadFile(out); string(after) != string(before) {
		t.Error("the existing key was changed")
	}

	// --force replaces it.
	r = runCLI(t, nil, "", "keygen", "--out", out, "--force")
	r.want(t, exitOK)
	key2, err := jwtkey.LoadPrivateKeyFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if kid := kidOf(t, key2); kid == kidOf(t, key) || r.stdout != kid+"\n" {
		t.Errorf("after --force: stdout %q, new kid %q, old kid %q", r.stdout, kid, kidOf(t, key))
	}
}

func TestKeygenDefaultOut(t *testing.T) {
	t.Chdir(t.TempDir())
	runCLI(t, nil, "", "keygen").want(t, exitOK)
	if _, err := jwtkey.LoadPrivateKeyFile("key.pem"); err != nil {
		t.Fatal(err)
	}
}

func TestKeygenRSAAndPublic(t *testing.T) {
	dir := t.TempDir()
	out, pub := filepath.Join(dir, "rsa.pem"), filepath.Join(dir, "rsa.pub.pem")
	r := runCLI(t, nil, "", "keygen", "--rsa", "--out", out, "--pub", pub)
	r.want(t, exitOK)
	key, err := jwtkey.LoadPrivateKeyFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := key.(*rsa.PrivateKey); !ok || k.N.BitLen() != 2048 {
		t.Fatalf("key %T, want RSA 2048", key)
	}
	if !strings.Contains(r.stderr, "RS256") || !strings.Contains(r.stderr, "its public key to "+pub) {
		t.Errorf("stderr %q", r.stderr)
	}
	// The public key file has the same kid and holds no private key.
	data, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "BEGIN PUBLIC KEY") || strings.Contains(string(data), "PRIVATE") {
		t.Errorf("public key file:\n%s", data)
	}
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(pub); fi.Mode().Perm() != 0o644 {
			t.Errorf("public key mode %v, want 0644", fi.Mode().Perm())
		}
	}
	j := runCLI(t, nil, "", "jwks", pub)
	j.want(t, exitOK)
	if !strings.Contains(j.stdout, `"kid": "`+strings.TrimSpace(r.stdout)+`"`) || !strings.Contains(j.stdout, `"alg": "RS256"`) {
		t.Errorf("jwks of the public key:\n%s", j.stdout)
	}
}

func TestKeygenPublicExists(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "k.pem")
	pub := writeFile(t, dir, "k.pub.pem", "keep me")
	r := runCLI(t, nil, "", "keygen", "--out", out, "--pub", pub)
	r.want(t, exitFailure)
	if !strings.Contains(r.stderr, pub+" exists") {
		t.Errorf("stderr %q", r.stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the private key was written although the public key file exists: %v", err)
	}
	if data, _ := os.ReadFile(pub); string(data) != "keep me" {
		t.Error("the public key file was changed")
	}
}

func TestKeygenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bits without rsa", []string{"--bits", "3072"}, exitUsage, "--bits applies to RSA keys"},
		{"bits too small", []string{"--rsa", "--bits", "1024"}, exitUsage, "RS256 needs at least 2048 bits"},
		{"bits too large", []string{"--rsa", "--bits", "16384"}, exitUsage, "at most 8192"},
		{"bits not a number", []string{"--rsa", "--bits", "many"}, exitUsage, `--bits many: not a whole number`},
		{"argument", []string{"key.pem"}, exitUsage, `unexpected argument "key.pem"`},
		{"empty out", []string{"--out", ""}, exitUsage, "--out is empty"},
		{"same files", []string{"--out", "a.pem", "--pub", "a.pem"}, exitUsage, "name the same file"},
		{"missing directory", []string{"--out", filepath.Join(dir, "no", "such", "k.pem")}, exitFailure, "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, "", append([]string{"keygen"}, tt.args...)...)
			r.want(t, tt.code)
			if !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
				t.Errorf("stdout %q, stderr %q; want %q", r.stdout, r.stderr, tt.want)
			}
		})
	}
}
