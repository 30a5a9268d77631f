package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/jwtkey"
)

// kids returns the kids of a JWKS document.
func kids(t *testing.T, doc string) []string {
	t.Helper()
	var set jwtkey.JWKS
	if err := json.Unmarshal([]byte(doc), &set); err != nil {
		t.Fatalf("not a JWKS: %v\n%s", err, doc)
	}
	var ids []string
	for _, k := range set.Keys {
		if _, err := k.PublicKey(); err != nil {
			t.Errorf("key %q: %v", k.KeyID, err)
		}
		ids = append(ids, k.KeyID)
	}
	return ids
}

func TestJWKS(t *testing.T) {
	dir := t.TempDir()
	a := writeKey(t, filepath.Join(dir, "a.pem"))
	b := writeKey(t, filepath.Join(dir, "b.pem"))
	der, err := x509.MarshalPKIXPublicKey(a.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubA := writeFile(t, t.TempDir(), "a.pub.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	writeFile(t, dir, ".a.pem.tmp123", "half-written") // hidden: skipped
	writeFile(t, dir, "notes.txt", "not a key")        // not *.pem: skipped

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"one file", []string{filepath.Join(dir, "a.pem")}, []string{kidOf(t, a)}},
		{"two files", []string{filepath.Join(dir, "b.pem"), filepath.Join(dir, "a.pem")}, []string{kidOf(t, b), kidOf(t, a)}},
		{"private and public of one key", []string{filepath.Join(dir, "a.pem"), pubA}, []string{kidOf(t, a)}},
		{"directory", []string{dir}, []string{kidOf(t, a), kidOf(t, b)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, "", append([]string{"jwks"}, tt.args...)...)
			r.want(t, exitOK)
			if got := kids(t, r.stdout); !slices.Equal(got, tt.want) {
				t.Errorf("kids %q, want %q", got, tt.want)
			}
			if strings.Contains(r.stdout, `"d"`) || strings.Contains(r.stdout, "PRIVATE") {
				t.Errorf("the JWKS shows private material:\n%s", r.stdout)
			}
		})
	}
}

func TestJWKSErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.pem", "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n")
	notPEM := writeFile(t, dir, "plain.pem", "hello")
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(p384)
	p384File := writeFile(t, dir, "p384.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no files", nil, exitUsage, []string{"no key files given"}},
		{"missing file", []string{missing}, exitFailure, []string{`key file "` + missing + `"`, "no such file"}},
		{"bad PEM", []string{bad}, exitFailure, []string{`key file "` + bad + `"`}},
		{"not PEM", []string{notPEM}, exitFailure, []string{`key file "` + notPEM + `"`}},
		{"P-384", []string{p384File}, exitFailure, []string{`key file "` + p384File + `"`, "P-384"}},
		{"empty directory", []string{empty}, exitFailure, []string{"no *.pem files"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, "", append([]string{"jwks"}, tt.args...)...)
			r.want(t, tt.code)
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q lacks %q", r.stderr, w)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout %q", r.stdout)
			}
		})
	}
}

// get fetches url without keeping connections open.
func get(t *testing.T, method, url string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// startServe runs serve-jwks with args until the test ends and returns its
// URL, its stderr and a function that stops it and returns its status.
func startServe(t *testing.T, args ...string) (url string, stderr *syncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	done := make(chan int, 1)
	go func() {
		done <- runContext(ctx, append([]string{"serve-jwks"}, args...), nil, stdout, stderr, mapEnv(nil))
	}()
	stopped := false
	code := 0
	stop = func() int {
		if !stopped {
			stopped = true
			cancel()
			select {
			case code = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("serve-jwks did not stop within 10s of the cancel")
			}
		}
		return code
	}
	t.Cleanup(func() { stop() })
	url = stdout.waitLine(t, done)
	return url, stderr, stop
}

func TestServeJWKS(t *testing.T) {
	dir := t.TempDir()
	a := writeKey(t, filepath.Join(dir, "a.pem"))
	url, stderr, stop := startServe(t, "--addr", "127.0.0.1:0", dir)
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, "/jwks.json") {
		t.Fatalf("URL %q", url)
	}
	fetchKids := func() []string {
		t.Helper()
		code, body := get(t, http.MethodGet, url)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", url, code, body)
		}
		return kids(t, body)
	}
	if got := fetchKids(); !slices.Equal(got, []string{kidOf(t, a)}) {
		t.Fatalf("kids %q, want %q", got, kidOf(t, a))
	}
	base := strings.TrimSuffix(url, "/jwks.json")
	if code, body := get(t, http.MethodGet, base+"/.well-known/jwks.json"); code != http.StatusOK || !slices.Equal(kids(t, body), []string{kidOf(t, a)}) {
		t.Errorf("well-known: %d %s", code, body)
	}
	if code, _ := get(t, http.MethodGet, base+"/keys"); code != http.StatusNotFound {
		t.Errorf("/keys: %d, want 404", code)
	}
	if code, _ := get(t, http.MethodPost, url); code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", code)
	}

	// Rotation overlap: a second key is added next to the first.
	b := writeKey(t, filepath.Join(dir, "b.pem"))
	if got := fetchKids(); !slices.Equal(got, []string{kidOf(t, a), kidOf(t, b)}) {
		t.Fatalf("after adding b: kids %q", got)
	}
	// A key replaced in place is served at once.
	a2 := writeKey(t, filepath.Join(dir, "a.pem"))
	if got := fetchKids(); !slices.Equal(got, []string{kidOf(t, a2), kidOf(t, b)}) {
		t.Fatalf("after replacing a: kids %q", got)
	}
	if !strings.Contains(stderr.String(), "key files changed: now serving "+kidOf(t, a2)+", "+kidOf(t, b)) {
		t.Errorf("stderr does not log the change:\n%s", stderr)
	}
	// A broken file keeps the last good set and is logged once.
	bad := writeFile(t, dir, "c.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	for range 3 {
		if got := fetchKids(); !slices.Equal(got, []string{kidOf(t, a2), kidOf(t, b)}) {
			t.Fatalf("with a broken file: kids %q", got)
		}
	}
	if n := strings.Count(stderr.String(), "cannot reload the key files"); n != 1 || !strings.Contains(stderr.String(), bad) {
		t.Errorf("the broken file is logged %d times:\n%s", n, stderr)
	}
	// Removing files withdraws their keys.
	for _, p := range []string{bad, filepath.Join(dir, "a.pem")} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	if got := fetchKids(); !slices.Equal(got, []string{kidOf(t, b)}) {
		t.Fatalf("after removing a: kids %q", got)
	}
	if code := stop(); code != exitOK {
		t.Errorf("exit status %d after cancel\n%s", code, stderr)
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Errorf("stderr:\n%s", stderr)
	}
}

func TestServeJWKSFiles(t *testing.T) {
	dir := t.TempDir()
	a := writeKey(t, filepath.Join(dir, "a.pem"))
	b := writeKey(t, filepath.Join(dir, "b.pem"))
	url, _, _ := startServe(t, filepath.Join(dir, "a.pem"), filepath.Join(dir, "b.pem"))
	_, body := get(t, http.MethodGet, url)
	if got := kids(t, body); !slices.Equal(got, []string{kidOf(t, a), kidOf(t, b)}) {
		t.Errorf("kids %q", got)
	}
	// A missing file keeps the last good set.
	if err := os.Remove(filepath.Join(dir, "b.pem")); err != nil {
		t.Fatal(err)
	}
	_, body = get(t, http.MethodGet, url)
	if got := kids(t, body); !slices.Equal(got, []string{kidOf(t, a), kidOf(t, b)}) {
		t.Errorf("kids %q after removing a named file", got)
	}
}

func TestServeJWKSErrors(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k.pem")
	writeKey(t, key)
	bad := writeFile(t, dir, "bad.pem", "nope")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no files", nil, exitUsage, "no key files given"},
		{"empty addr", []string{"--addr", "", key}, exitUsage, "--addr is empty"},
		{"missing file", []string{filepath.Join(dir, "missing.pem")}, exitFailure, "missing.pem"},
		{"bad PEM", []string{bad}, exitFailure, `key file "` + bad + `"`},
		{"bad address", []string{"--addr", "127.0.0.1:99999", key}, exitFailure, "--addr 127.0.0.1:99999: invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, "", append([]string{"serve-jwks"}, tt.args...)...)
			r.want(t, tt.code)
			if !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
				t.Errorf("stdout %q, stderr %q; want %q", r.stdout, r.stderr, tt.want)
			}
		})
	}
}
