package tokenlog

import (
	"bytes"
	"context"
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
		{metadata.Pairs("authorization", "Bearer "+tok.Value()), denied},
		{metadata.Pairs("authorization", "Bearer opaque"), status.Error(codes.Unauthenticated, "no")},
		{nil, denied},
		{metadata.Pairs("authorization", "Bearer "+tok.Value()), status.Error(codes.NotFound, "no such workflow")},
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
	assertNoToken(t, out.String(), tok.Value(), "opaque")
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
