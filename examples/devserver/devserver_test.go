package devserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/temporalauth/temporalauth/examples/devserver"
)

// signer is a test-only ES256 token issuer with its JWKS served over HTTP.
type signer struct {
	key  *ecdsa.PrivateKey
	kid  string
	jwks *httptest.Server
}

func newSigner(t *testing.T) *signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := &signer{key: key, kid: "test-key-" + rand.Text()[:8]}
	body := s.jwksJSON(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	s.jwks = srv
	return s
}

// jwksJSON renders the public key as an RFC 7517 key set.
func (s *signer) jwksJSON(t *testing.T) []byte {
	t.Helper()
	pub, err := s.key.PublicKey.Bytes() // 0x04 || X || Y, 32 bytes each for P-256
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	b, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC",
		"crv": "P-256",
		"x":   enc.EncodeToString(pub[1:33]),
		"y":   enc.EncodeToString(pub[33:65]),
		"kid": s.kid,
		"alg": "ES256",
		"use": "sig",
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (s *signer) url() string { return s.jwks.URL + "/.well-known/jwks.json" }

// token signs a token for sub with the given permissions under claimName
// ("permissions" when empty); aud is set when non-empty.
func (s *signer) token(t *testing.T, claimName, aud string, perms ...string) string {
	t.Helper()
	if claimName == "" {
		claimName = "permissions"
	}
	now := time.Now()
	claims := jwt.MapClaims{
		"sub":     "devserver-test",
		"iat":     now.Add(-time.Minute).Unix(),
		"exp":     now.Add(time.Hour).Unix(),
		claimName: perms,
	}
	if aud != "" {
		claims["aud"] = []string{aud}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = s.kid
	str, err := tok.SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return str
}

// headersProvider is what client.Options.HeadersProvider takes.
type headersProvider = interface {
	GetHeaders(context.Context) (map[string]string, error)
}

// bearer is a headers provider sending a fixed token.
type bearer string

func (b bearer) GetHeaders(context.Context) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

var quietSDKLogger = sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))

func dial(t *testing.T, s *devserver.Server, headers headersProvider) (client.Client, error) {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:        s.HostPort(),
		Namespace:       "default",
		HeadersProvider: headers,
		Logger:          quietSDKLogger,
	})
	if err == nil {
		t.Cleanup(c.Close)
	}
	return c, err
}

func mustDial(t *testing.T, s *devserver.Server, headers headersProvider) client.Client {
	t.Helper()
	c, err := dial(t, s, headers)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return c
}

func start(t *testing.T, cfg devserver.Config) *devserver.Server {
	t.Helper()
	began := time.Now()
	s, err := devserver.Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("server at %s ready in %v", s.HostPort(), time.Since(began))
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

func Greet(_ workflow.Context, name string) (string, error) {
	return "hello " + name, nil
}

func wantPermissionDenied(t *testing.T, what string, err error) {
	t.Helper()
	var pd *serviceerror.PermissionDenied
	if !errors.As(err, &pd) {
		t.Fatalf("%s: got %v (%T), want *serviceerror.PermissionDenied", what, err, err)
	}
}

func TestAuthorization(t *testing.T) {
	sig := newSigner(t)
	s := start(t, devserver.Config{
		JWKSURLs:      []string{sig.url()},
		SystemHeaders: bearer(sig.token(t, "", "", "temporal-system:admin")),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("write token runs a workflow", func(t *testing.T) {
		c := mustDial(t, s, bearer(sig.token(t, "", "", "default:write")))
		const queue = "devserver-test"
		w := worker.New(c, queue, worker.Options{})
		w.RegisterWorkflow(Greet)
		if err := w.Start(); err != nil {
			t.Fatalf("worker start: %v", err)
		}
		defer w.Stop()

		began := time.Now()
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, Greet, "jwt")
		if err != nil {
			t.Fatalf("ExecuteWorkflow: %v", err)
		}
		var got string
		if err := run.Get(ctx, &got); err != nil {
			t.Fatalf("workflow result: %v", err)
		}
		if got != "hello jwt" {
			t.Fatalf("result %q, want %q", got, "hello jwt")
		}
		t.Logf("workflow round trip %v", time.Since(began))
	})

	t.Run("no token is refused", func(t *testing.T) {
		c, err := dial(t, s, nil) // GetSystemInfo is allowed without a token
		if err != nil {
			t.Fatalf("dial without token: %v", err)
		}
		_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
		wantPermissionDenied(t, "DescribeNamespace without token", err)
		_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "q"}, Greet, "x")
		wantPermissionDenied(t, "ExecuteWorkflow without token", err)
	})

	t.Run("read token cannot start a workflow", func(t *testing.T) {
		c := mustDial(t, s, bearer(sig.token(t, "", "", "default:read")))
		// The token is valid and may read ...
		if _, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"}); err != nil {
			t.Fatalf("DescribeNamespace with read token: %v", err)
		}
		// ... but not write.
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "q"}, Greet, "x")
		wantPermissionDenied(t, "ExecuteWorkflow with read token", err)
	})

	t.Run("other namespace's token is refused", func(t *testing.T) {
		c := mustDial(t, s, bearer(sig.token(t, "", "", "other:admin")))
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "q"}, Greet, "x")
		wantPermissionDenied(t, "ExecuteWorkflow with other:admin", err)
	})

	t.Run("token from an unknown key fails dial", func(t *testing.T) {
		other := newSigner(t)
		_, err := dial(t, s, bearer(other.token(t, "", "", "default:write")))
		wantPermissionDenied(t, "dial with unknown key", err)
	})
}

// TestTwoServersAudienceAndStop runs two servers at once, the second with an
// audience, the "roles" claim and several namespaces, and stops both twice.
func TestTwoServersAudienceAndStop(t *testing.T) {
	sig := newSigner(t)
	a := start(t, devserver.Config{
		JWKSURLs:      []string{sig.url()},
		SystemHeaders: bearer(sig.token(t, "", "", "temporal-system:admin")),
	})
	const aud = "api://devserver-test"
	b := start(t, devserver.Config{
		JWKSURLs:             []string{sig.url()},
		RefreshInterval:      -1,
		PermissionsClaimName: "roles",
		Audience:             aud,
		Namespaces:           []string{"default", "second"},
		SystemHeaders:        bearer(sig.token(t, "roles", aud, "temporal-system:admin")),
	})
	if a.HostPort() == b.HostPort() {
		t.Fatalf("both servers at %s", a.HostPort())
	}
	for _, hp := range []string{a.HostPort(), b.HostPort()} {
		if !strings.HasPrefix(hp, "127.0.0.1:") {
			t.Fatalf("HostPort %q is not on 127.0.0.1", hp)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Both serve at the same time.
	ca := mustDial(t, a, bearer(sig.token(t, "", "", "default:read")))
	if _, err := ca.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"}); err != nil {
		t.Fatalf("server a DescribeNamespace: %v", err)
	}
	cb := mustDial(t, b, bearer(sig.token(t, "roles", aud, "second:read")))
	if _, err := cb.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "second"}); err != nil {
		t.Fatalf("server b DescribeNamespace second: %v", err)
	}
	// Server b checks the audience: a token without aud fails at dial.
	_, err := dial(t, b, bearer(sig.token(t, "roles", "", "second:read")))
	wantPermissionDenied(t, "dial b without aud", err)
	// Server b reads "roles", not "permissions".
	cp := mustDial(t, b, bearer(sig.token(t, "", aud, "second:read")))
	_, err = cp.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "second"})
	wantPermissionDenied(t, "b with permissions claim instead of roles", err)

	// Stop is idempotent and closes the frontend port.
	for _, s := range []*devserver.Server{a, b} {
		began := time.Now()
		if err := s.Stop(); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		t.Logf("stopped %s in %v", s.HostPort(), time.Since(began))
		if err := s.Stop(); err != nil {
			t.Fatalf("second Stop: %v", err)
		}
		if conn, err := net.DialTimeout("tcp", s.HostPort(), time.Second); err == nil {
			conn.Close()
			t.Fatalf("frontend %s still accepts connections after Stop", s.HostPort())
		}
	}
	// Stop also ended server a's JWKS refresh goroutine (b had none).
	buf := make([]byte, 1<<22)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "timerCallback") {
		t.Fatal("a JWKS refresh goroutine is still running after Stop")
	}
}

func TestStartValidates(t *testing.T) {
	if _, err := devserver.Start(devserver.Config{SystemHeaders: bearer("x")}); err == nil {
		t.Error("Start without JWKSURLs succeeded")
	}
	if _, err := devserver.Start(devserver.Config{JWKSURLs: []string{"file:///nonexistent"}}); err == nil {
		t.Error("Start without SystemHeaders succeeded")
	}
}

// TestMaxRPS shows that Config.MaxRPS replaces the frontend's rate limits:
// at 5 requests a second (bursts of 10), 50 calls in a row are throttled,
// where the default limits (2400) would let them all through.
func TestMaxRPS(t *testing.T) {
	sig := newSigner(t)
	s := start(t, devserver.Config{
		JWKSURLs:      []string{sig.url()},
		SystemHeaders: bearer(sig.token(t, "", "", "temporal-system:admin")),
		MaxRPS:        5,
	})
	c := mustDial(t, s, bearer(sig.token(t, "", "", "default:read")))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 50 {
		_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
		var limited *serviceerror.ResourceExhausted
		if errors.As(err, &limited) {
			t.Logf("call %d throttled: %v", i+1, err)
			return
		}
		if err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	t.Fatal("50 calls at MaxRPS 5: none throttled")
}
