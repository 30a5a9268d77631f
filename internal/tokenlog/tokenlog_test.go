package tokenlog

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/jwtkey"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func writeKey(t *testing.T, path string) string {
	t.Helper()
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

func TestSourceLogsRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "worker.pem")
	kid1 := writeKey(t, path)
	js, err := jwtkey.NewTokenSource(jwtkey.Config{KeyFile: path, Issuer: "ops-test", Permissions: []string{"default:write"}})
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	src := Source(js, "", slog.New(slog.NewTextHandler(&out, nil)))
	if got, want := src.(interface{ String() string }).String(), js.String(); got != want {
		t.Errorf("String = %q, want the wrapped source's %q", got, want)
	}
	p := headers.New(src, headers.Options{Logger: slog.New(slog.DiscardHandler)})
	defer p.Close()

	ctx := context.Background()
	var tokens []string
	tok, err := p.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tokens = append(tokens, tok.Value)
	kid2 := writeKey(t, path) // rotation: the key file is replaced
	p.Invalidate()
	if tok, err = p.Token(ctx); err != nil {
		t.Fatal(err)
	}
	tokens = append(tokens, tok.Value)

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 records (new token, new token, key changed), got:\n%s", out.String())
	}
	for i, kid := range []string{kid1, kid2} {
		for _, want := range []string{"level=INFO", `msg="temporalauth: new token"`, "kid=" + kid, "iss=ops-test", "sub=temporalauth", "expiry=20"} {
			if !strings.Contains(lines[i], want) {
				t.Errorf("record %d %q lacks %q", i, lines[i], want)
			}
		}
	}
	if want := `msg="temporalauth: signing key changed" source="`; !strings.Contains(lines[2], want) ||
		!strings.Contains(lines[2], "old_kid="+kid1) || !strings.Contains(lines[2], "new_kid="+kid2) {
		t.Errorf("record %q does not tell the key change %s -> %s", lines[2], kid1, kid2)
	}
	assertNoToken(t, out.String(), tokens...)
}

// cachingSource returns the same token until told it was rejected.
type cachingSource struct {
	tok         headers.Token
	invalidated int
}

func (c *cachingSource) Token(context.Context) (headers.Token, error) { return c.tok, nil }
func (c *cachingSource) InvalidateToken(context.Context, headers.Token) {
	c.invalidated++
}
func (c *cachingSource) Close() error { return errors.New("closed") }

func TestSourceSameTokenLoggedOnce(t *testing.T) {
	var out syncBuffer
	inner := &cachingSource{tok: headers.Token{Value: "opaque-api-key"}}
	src := Source(inner, "static", slog.New(slog.NewTextHandler(&out, nil)))
	for range 3 {
		if _, err := src.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(out.String(), "new token"); n != 1 {
		t.Errorf("%d new-token records for one token:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "source=static expiry=never") {
		t.Errorf("record %q", out.String())
	}
	assertNoToken(t, out.String(), "opaque-api-key")
	src.(interface {
		InvalidateToken(context.Context, headers.Token)
	}).InvalidateToken(context.Background(), inner.tok)
	if inner.invalidated != 1 {
		t.Error("InvalidateToken not passed on")
	}
	if err := src.(interface{ Close() error }).Close(); err == nil || err.Error() != "closed" {
		t.Errorf("Close = %v, want the wrapped source's", err)
	}
}

func TestDialOptionNamesKid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "worker.pem")
	kid := writeKey(t, path)
	js, err := jwtkey.NewTokenSource(jwtkey.Config{KeyFile: path})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := js.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	if DialOption("jwt", "", nil) == nil {
		t.Fatal("nil option")
	}
	// The invoker stands for the server.
	var calls []func(context.Context) error
	intercept := interceptor("jwt", headers.DefaultHeader, slog.New(slog.NewTextHandler(&out, nil)))
	denied := status.Error(codes.PermissionDenied, "Request unauthorized.")
	for _, c := range []struct {
		md  metadata.MD
		err error
	}{
		{metadata.Pairs("authorization", "Bearer "+tok.Value), denied},
		{metadata.Pairs("authorization", "Bearer opaque"), status.Error(codes.Unauthenticated, "no")},
		{nil, denied},
		{metadata.Pairs("authorization", "Bearer "+tok.Value), status.Error(codes.NotFound, "no such workflow")},
	} {
		calls = append(calls, func(ctx context.Context) error {
			if c.md != nil {
				ctx = metadata.NewOutgoingContext(ctx, c.md)
			}
			return intercept(ctx, "/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution", nil, nil, nil,
				func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return c.err })
		})
	}
	for _, call := range calls {
		_ = call(context.Background())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 warnings, got:\n%s", out.String())
	}
	for i, want := range []string{"kid=" + kid, `token="not a JWT"`, `token="none sent"`} {
		if !strings.Contains(lines[i], "level=WARN") || !strings.Contains(lines[i], want) || !strings.Contains(lines[i], "method=/temporal.api") {
			t.Errorf("record %d %q lacks %q", i, lines[i], want)
		}
	}
	assertNoToken(t, out.String(), tok.Value, "opaque")
}

// assertNoToken fails if out holds any dot-separated part of the tokens.
func assertNoToken(t *testing.T, out string, tokens ...string) {
	t.Helper()
	for _, tok := range tokens {
		for _, part := range strings.Split(tok, ".") {
			if len(part) > 4 && strings.Contains(out, part) {
				t.Errorf("log holds part of a token:\n%s", out)
			}
		}
	}
}

func TestObserverLogsRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "worker.pem")
	kid1 := writeKey(t, path)
	js, err := jwtkey.NewTokenSource(jwtkey.Config{KeyFile: path, Permissions: []string{"default:write"}})
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	obs := NewObserver("jwt", slog.New(slog.NewTextHandler(&out, nil)))
	p := headers.New(js, headers.Options{Logger: slog.New(slog.DiscardHandler), OnRefresh: obs.OnRefresh})
	defer p.Close()
	obs.SetProvider(p)
	var tokens []string
	tok, err := p.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tokens = append(tokens, tok.Value)
	kid2 := writeKey(t, path)
	p.Invalidate()
	if tok, err = p.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	tokens = append(tokens, tok.Value)
	obs.OnRefresh(headers.RefreshEvent{Err: errors.New("down")}) // logs nothing
	got := out.String()
	if strings.Count(got, `msg="temporalauth: new token"`) != 2 || !strings.Contains(got, "kid="+kid1) ||
		!strings.Contains(got, "old_kid="+kid1+" new_kid="+kid2) {
		t.Errorf("records:\n%s", got)
	}
	assertNoToken(t, got, tokens...)
}
