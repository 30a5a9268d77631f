// Package e2e runs temporalauth's token providers against a real Temporal
// server that enforces JWT authorization (package devserver): workers and
// starters run the hello workflow across token expiry, signing-key rotation
// and key withdrawal, and the server is shown to refuse what it must.
//
// Everything listens on 127.0.0.1. The tests take about a minute and a half,
// most of it spent in tests that wait for tokens to expire; they run in
// parallel, each with its own server.
//
// BenchmarkE2E (bench_test.go) compares the cost of a headers.Provider
// with that of a fixed header map on the same server.
//
// Shared helpers (this file), for every test and benchmark of the package
// (they take a testing.TB):
//
//   - newAuthority(t): a JWKS served on 127.0.0.1 from a jwtkey.KeySet
//     (field keys, URL in url); newKeyFile(t, publish) writes a new ES256
//     key file, rotateKeyFile(t, path, publish) replaces one; newKey(t)
//     generates a key and its JWK.
//   - provider(t, keyFile, perms, edit): a headers.Provider signing with
//     keyFile, closed at cleanup.
//   - startServer(t, cfg): a devserver.Server started with cfg as given,
//     stopped at cleanup.
//   - startLocalServer(t, refresh): an authority, one published key file and
//     a server trusting it, with the "default" namespace;
//     startLocalServerConfig(t, cfg) takes the server's other settings.
//   - dial / mustDial(t, hostPort, hp, dialOpts...): a client of namespace
//     "default", closed at cleanup.
//   - runWorker(t, hostPort, hp, dialOpts...): a hello worker on its own
//     client; returns its stop function (also called at cleanup).
//     runWorkerOn polls a task queue of its own.
//   - runWorkflow(ctx, c): runs hello.Greet and checks its result;
//     runWorkflowOn on a given task queue.
//   - wantPermissionDenied(t, what, err): asserts *serviceerror.PermissionDenied.
//   - bearer: a headers provider sending a fixed token, even an expired one.
//   - callCounter (a dial option counting attempts and refusals),
//     refreshCounter (for headers.Options.OnRefresh), tokenKID.
package e2e

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/temporalauth/temporalauth/examples/devserver"
	"github.com/temporalauth/temporalauth/examples/hello"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/jwtkey"
)

// namespace is the namespace every test server registers.
const namespace = devserver.DefaultNamespace

// wantGreeting is what hello.Greet returns for hello.Name.
const wantGreeting = "Hello Temporal!"

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, serverGoroutines()...)
}

// serverGoroutines are goroutines that the embedded Temporal server leaves
// behind when it stops: its system workers (SDK workers of its own worker
// service, blocked in their pollers), its gRPC connections between services,
// its membership (ringpop) loops and its SQLite connection pool. They cannot be told apart by name from
// the goroutines of an SDK worker that the tests start, so those are not
// checked here; runWorker's stop waits for its worker instead. Goroutines of
// temporalauth and of the tests' own code are still checked.
func serverGoroutines() []goleak.Option {
	var opts []goleak.Option
	for _, f := range []string{
		"go.temporal.io/sdk/internal.(*baseWorker).runPoller",
		"go.temporal.io/sdk/internal.(*baseWorker).runTaskDispatcher",
		"go.temporal.io/sdk/internal.(*baseWorker).runEagerTaskDispatcher",
		"go.temporal.io/sdk/internal.(*baseWorker).Start.func2",
		"go.temporal.io/sdk/internal.(*localActivityTunnel).getTask",
		"go.temporal.io/sdk/internal.(*sharedNamespaceWorker).run",
		"google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run",
		"google.golang.org/grpc.(*addrConn).resetTransportAndUnlock",
		"github.com/temporalio/ringpop-go.(*Ringpop).startTimers.func1",
		"github.com/temporalio/ringpop-go.(*Ringpop).startTimers.func2",
		"go.temporal.io/server/common/membership.(*grpcResolver).listen",
		"go.temporal.io/server/common/membership/ringpop.(*monitor).startHeartbeatUpsertLoop.func1",
		"github.com/rcrowley/go-metrics.(*meterArbiter).tick",
		"database/sql.(*DB).connectionOpener", // the server's in-memory SQLite pool
	} {
		opts = append(opts, goleak.IgnoreAnyFunction(f))
	}
	return opts
}

// headersProvider is the SDK's client.Options.HeadersProvider (an
// unexported interface type in the SDK).
type headersProvider = interface {
	GetHeaders(context.Context) (map[string]string, error)
}

// bearer sends a fixed token; unlike a headers.Provider it sends expired
// tokens too, which the refusal tests need.
type bearer string

func (b bearer) GetHeaders(context.Context) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// quietSDKLogger drops the SDK's info lines (worker start and stop).
var quietSDKLogger = sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))

// quietLogger is for headers.Options.Logger.
var quietLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

// authority publishes signing keys as a JWKS on 127.0.0.1 and keeps key
// files in a test directory.
type authority struct {
	keys *jwtkey.KeySet
	url  string // the JWKS URL, for devserver.Config.JWKSURLs
	dir  string
}

// newAuthority serves an empty key set; the server stops at cleanup.
func newAuthority(t testing.TB) *authority {
	t.Helper()
	a := &authority{keys: &jwtkey.KeySet{}, dir: t.TempDir()}
	url, stop, err := devserver.ServeJWKS(a.keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	a.url = url
	return a
}

// newKeyFile generates an ES256 key, writes it to a new file under the
// authority's directory and publishes it when publish is set. It returns
// the file's path and the key's JWK.
func (a *authority) newKeyFile(t testing.TB, publish bool) (string, jwtkey.JWK) {
	t.Helper()
	path := filepath.Join(a.dir, fmt.Sprintf("key-%d.pem", keyFiles.Add(1)))
	return path, a.rotateKeyFile(t, path, publish)
}

var keyFiles atomic.Int64

// rotateKeyFile writes a new ES256 key over path (atomically, as
// jwtkey.WritePrivateKeyFile does) and publishes it when publish is set.
// It returns the new key's JWK.
func (a *authority) rotateKeyFile(t testing.TB, path string, publish bool) jwtkey.JWK {
	t.Helper()
	key, jwk := newKey(t)
	if publish {
		if err := a.keys.Add(jwk); err != nil {
			t.Fatal(err)
		}
	}
	if err := jwtkey.WritePrivateKeyFile(path, key); err != nil {
		t.Fatal(err)
	}
	return jwk
}

// newKey generates an ES256 key and returns it with its JWK, whose kid is
// the key's thumbprint: the kid a Signer sends for it.
func newKey(t testing.TB) (*ecdsa.PrivateKey, jwtkey.JWK) {
	t.Helper()
	key, err := jwtkey.GenerateES256Key()
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := jwtkey.PublicJWK(key, "")
	if err != nil {
		t.Fatal(err)
	}
	return key, jwk
}

// provider returns a headers.Provider signing with keyFile and granting
// perms, closed at cleanup. edit, when set, adjusts the configuration.
func provider(t testing.TB, keyFile string, perms []string, edit func(*jwtkey.Config, *headers.Options)) *headers.Provider {
	t.Helper()
	cfg := jwtkey.Config{KeyFile: keyFile, Subject: "e2e-" + t.Name(), Permissions: perms}
	opts := headers.Options{Logger: quietLogger}
	if edit != nil {
		edit(&cfg, &opts)
	}
	p, err := jwtkey.NewProvider(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// startServer starts a devserver with cfg and stops it at cleanup.
func startServer(t testing.TB, cfg devserver.Config) *devserver.Server {
	t.Helper()
	began := time.Now()
	s, err := devserver.Start(cfg)
	if err != nil {
		t.Fatalf("devserver.Start: %v", err)
	}
	t.Cleanup(func() {
		began := time.Now()
		if err := s.Stop(); err != nil {
			t.Errorf("devserver Stop: %v", err)
		}
		t.Logf("server %s stopped in %v", s.HostPort(), time.Since(began).Round(time.Millisecond))
	})
	t.Logf("server %s ready in %v", s.HostPort(), time.Since(began).Round(time.Millisecond))
	return s
}

// localServer is a server trusting the keys of its authority, and one
// published key file.
type localServer struct {
	*devserver.Server
	auth    *authority
	keyFile string     // a published key; tests may rotate it
	keyJWK  jwtkey.JWK // keyFile's key as first written
}

// startLocalServer starts an authority with one published key file and a
// server that refetches the authority's JWKS every refresh (zero: the
// devserver default). The namespace is registered with a
// temporal-system:admin token signed by a key of its own.
func startLocalServer(t testing.TB, refresh time.Duration) *localServer {
	t.Helper()
	return startLocalServerConfig(t, devserver.Config{RefreshInterval: refresh})
}

// startLocalServerConfig is startLocalServer with the server's other
// settings from cfg; it sets JWKSURLs, Namespaces and SystemHeaders.
func startLocalServerConfig(t testing.TB, cfg devserver.Config) *localServer {
	t.Helper()
	a := newAuthority(t)
	adminKey, _ := a.newKeyFile(t, true)
	keyFile, jwk := a.newKeyFile(t, true)
	cfg.JWKSURLs = []string{a.url}
	cfg.Namespaces = []string{namespace}
	cfg.SystemHeaders = provider(t, adminKey, []string{"temporal-system:admin"}, nil)
	s := startServer(t, cfg)
	return &localServer{Server: s, auth: a, keyFile: keyFile, keyJWK: jwk}
}

// dial connects a client of the namespace to hostPort with hp (nil: no
// headers); it is closed at cleanup. It returns Dial's error, which a
// server refusing the token causes.
func dial(t testing.TB, hostPort string, hp headersProvider, dialOpts ...grpc.DialOption) (client.Client, error) {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:          hostPort,
		Namespace:         namespace,
		HeadersProvider:   hp,
		Logger:            quietSDKLogger,
		ConnectionOptions: client.ConnectionOptions{DialOptions: dialOpts},
	})
	if err != nil {
		return nil, err
	}
	t.Cleanup(c.Close)
	return c, nil
}

// mustDial is dial failing the test on error.
func mustDial(t testing.TB, hostPort string, hp headersProvider, dialOpts ...grpc.DialOption) client.Client {
	t.Helper()
	c, err := dial(t, hostPort, hp, dialOpts...)
	if err != nil {
		t.Fatalf("dial %s: %v", hostPort, err)
	}
	return c
}

// runWorker starts a worker for the hello workflow on its own client. The
// returned function stops the worker and closes its client; it is also
// called at cleanup and may be called more than once.
func runWorker(t testing.TB, hostPort string, hp headersProvider, dialOpts ...grpc.DialOption) (stop func()) {
	t.Helper()
	return runWorkerOn(t, hello.TaskQueue, hostPort, hp, dialOpts...)
}

// runWorkerOn is runWorker polling taskQueue.
func runWorkerOn(t testing.TB, taskQueue, hostPort string, hp headersProvider, dialOpts ...grpc.DialOption) (stop func()) {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:          hostPort,
		Namespace:         namespace,
		HeadersProvider:   hp,
		Logger:            quietSDKLogger,
		ConnectionOptions: client.ConnectionOptions{DialOptions: dialOpts},
	})
	if err != nil {
		t.Fatalf("worker dial %s: %v", hostPort, err)
	}
	w := worker.New(c, taskQueue, worker.Options{})
	hello.Register(w)
	if err := w.Start(); err != nil {
		c.Close()
		t.Fatalf("worker start: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			w.Stop()
			c.Close()
		})
	}
	t.Cleanup(stop)
	return stop
}

// runWorkflow runs hello.Greet to completion through c and checks that it
// returned wantGreeting.
func runWorkflow(ctx context.Context, c client.Client) error {
	return runWorkflowOn(ctx, c, hello.TaskQueue)
}

// runWorkflowOn is runWorkflow on taskQueue.
func runWorkflowOn(ctx context.Context, c client.Client, taskQueue string) error {
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: taskQueue}, hello.Greet, hello.Name)
	if err != nil {
		return fmt.Errorf("start workflow: %w", err)
	}
	var got string
	if err := run.Get(ctx, &got); err != nil {
		return fmt.Errorf("workflow %s: %w", run.GetID(), err)
	}
	if got != wantGreeting {
		return fmt.Errorf("workflow %s returned %q, want %q", run.GetID(), got, wantGreeting)
	}
	return nil
}

// wantPermissionDenied fails the test unless err is (or wraps) a
// *serviceerror.PermissionDenied.
func wantPermissionDenied(t testing.TB, what string, err error) {
	t.Helper()
	var denied *serviceerror.PermissionDenied
	if !errors.As(err, &denied) {
		t.Fatalf("%s: got %v (%T), want *serviceerror.PermissionDenied", what, err, err)
	}
}

// callCounter counts a client's gRPC call attempts and those the server
// refused for authorization (PERMISSION_DENIED or UNAUTHENTICATED). Put its
// dialOption after a RetryUnauthorized option to see every attempt.
type callCounter struct {
	calls, denied atomic.Int64
	mu            sync.Mutex
	lastDenial    error
}

func (cc *callCounter) dialOption() grpc.DialOption {
	return grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any,
		conn *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		cc.calls.Add(1)
		err := invoker(ctx, method, req, reply, conn, opts...)
		if c := status.Code(err); c == codes.PermissionDenied || c == codes.Unauthenticated {
			cc.denied.Add(1)
			cc.mu.Lock()
			cc.lastDenial = fmt.Errorf("%s: %w", method, err)
			cc.mu.Unlock()
		}
		return err
	})
}

// lastError returns the last refusal seen, or nil.
func (cc *callCounter) lastError() error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.lastDenial
}

// refreshCounter counts a provider's calls to its source via
// headers.Options.OnRefresh.
type refreshCounter struct {
	ok, failed atomic.Int64
}

func (rc *refreshCounter) onRefresh(e headers.RefreshEvent) {
	if e.Err != nil {
		rc.failed.Add(1)
		return
	}
	rc.ok.Add(1)
}

// tokenKID returns the kid header of a JWT.
func tokenKID(t testing.TB, token string) string {
	t.Helper()
	head, _, ok := strings.Cut(token, ".")
	if !ok {
		t.Fatal("token is not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatalf("token header: %v", err)
	}
	var h struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("token header: %v", err)
	}
	return h.KID
}
