package main

import (
	"bytes"
	"context"
	"crypto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/temporalauth/temporalauth/jwtkey"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// result is what one run of the command printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the command line with env as the whole environment.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(stdin), &stdout, &stderr, mapEnv(env))
	return result{code, stdout.String(), stderr.String()}
}

// mapEnv looks variables up in m.
func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// want fails the test unless r exited with code.
func (r result) want(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
}

// writeKey writes a new ES256 key to path and returns it.
func writeKey(t *testing.T, path string) crypto.Signer {
	t.Helper()
	key, err := jwtkey.GenerateES256Key()
	if err != nil {
		t.Fatal(err)
	}
	if err := jwtkey.WritePrivateKeyFile(path, key); err != nil {
		t.Fatal(err)
	}
	return key
}

// kidOf returns the kid of a key.
func kidOf(t *testing.T, key crypto.Signer) string {
	t.Helper()
	kid, err := jwtkey.Thumbprint(key)
	if err != nil {
		t.Fatal(err)
	}
	return kid
}

// writeFile writes data to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer is a bytes.Buffer safe for concurrent use that signals each
// write.
type syncBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{wrote: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	select {
	case b.wrote <- struct{}{}:
	default:
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitLine waits for the first complete line written to b.
func (b *syncBuffer) waitLine(t *testing.T, done <-chan int) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		if line, _, ok := strings.Cut(b.String(), "\n"); ok {
			return line
		}
		select {
		case <-b.wrote:
		case code := <-done:
			t.Fatalf("the command ended with status %d before printing a line", code)
		case <-timeout:
			t.Fatal("no line written within 10s")
		}
	}
}

// testContext returns a context canceled when the test ends.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
