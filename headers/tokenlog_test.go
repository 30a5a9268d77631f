package headers_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/jwtkey"
)

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestProviderLogsNewTokensAndKeyChanges: an Info record per new token
// with its kid, issuer and expiry, one when the kid changes, none for the
// same token again, and never the token.
func TestProviderLogsNewTokensAndKeyChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "worker.pem")
	writeKid := func() string {
		k, err := jwtkey.GenerateES256Key()
		if err != nil {
			t.Fatal(err)
		}
		if err := jwtkey.WritePrivateKeyFile(path, k); err != nil {
			t.Fatal(err)
		}
		kid, err := jwtkey.Thumbprint(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		return kid
	}
	kid1 := writeKid()
	src, err := jwtkey.NewTokenSource(jwtkey.Config{KeyFile: path, Issuer: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	p := headers.New(src, headers.Options{Name: "worker", Logger: slog.New(slog.NewTextHandler(&out, nil))})
	defer p.Close()
	var tokens []string
	token := func() {
		tok, err := p.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok.Value())
	}
	token()
	token() // cached: no record
	kid2 := writeKid()
	p.Invalidate()
	token()

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 records, got:\n%s", out.String())
	}
	for i, kid := range []string{kid1, kid2} {
		want := `level=INFO msg="temporalauth: new token" source=worker kid=` + kid + " iss=ops sub=temporalauth expiry=20"
		if !strings.Contains(lines[i], want) {
			t.Errorf("record %d = %q, want %q", i, lines[i], want)
		}
	}
	if want := `level=INFO msg="temporalauth: signing key changed" source=worker old_kid=` + kid1 + " new_kid=" + kid2; !strings.Contains(lines[2], want) {
		t.Errorf("record %q, want %q", lines[2], want)
	}
	for _, tok := range tokens {
		for _, part := range strings.Split(tok, ".") {
			if strings.Contains(out.String(), part) {
				t.Fatalf("a record holds part of a token:\n%s", out.String())
			}
		}
	}
}

// TestProviderLogsOpaqueToken: a token that is not a JWT is logged without
// a kid, and a static token's expiry as never.
func TestProviderLogsOpaqueToken(t *testing.T) {
	var out lockedBuffer
	p := headers.New(headers.TokenSourceFunc(func(context.Context) (headers.Token, error) {
		return headers.NewToken("opaque-api-key", time.Time{}), nil
	}), headers.Options{Name: "static", Logger: slog.New(slog.NewTextHandler(&out, nil))})
	defer p.Close()
	if _, err := p.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.Contains(got, `msg="temporalauth: new token" source=static expiry=never`) || strings.Contains(got, "opaque-api-key") || strings.Contains(got, "kid") {
		t.Errorf("record %q", got)
	}
}
