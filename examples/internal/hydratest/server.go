// Package hydratest runs Ory Hydra v2, a certified OAuth 2.0 and OpenID
// Connect server that nobody on this project wrote, as a real identity
// provider for end-to-end tests: OAuth 2.0 client-credentials clients get JWT
// access tokens from it, and it publishes and rotates the keys that sign them.
//
// The package runs the hydra binary (see Binary); it does not link Hydra, so
// Hydra's large dependency graph stays in the tools/hydra module.
//
// Everything listens on 127.0.0.1 only. Hydra's telemetry is switched off, and
// its outbound HTTP proxy is pointed at a closed loopback port so that any
// request it might still try to make to the outside fails on this machine.
//
// # The counting proxy
//
// Clients do not talk to Hydra's public port directly. Start puts a small
// reverse proxy on a loopback port in front of it and makes that proxy's URL
// Hydra's issuer (URLS_SELF_ISSUER). Hydra builds every URL it publishes from
// the issuer, so the discovery document, the token endpoint, the JWKS URL, the
// "iss" claim of every token and the audience Hydra expects in private_key_jwt
// client assertions all name the proxy: what a client discovers is what the
// tokens say. The proxy
//   - counts the requests it forwards, per path (Requests, TokenRequests,
//     JWKSRequests);
//   - can answer a path with an error status instead of forwarding (Fail);
//   - stops with Hydra (Stop), so the issuer's port then refuses connections,
//     and comes back on the same port (Restart).
//
// The admin API (AdminURL) is Hydra's own admin port, not proxied.
package hydratest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Paths on the issuer that the proxy counts and can fail (see Requests, Fail).
const (
	TokenPath     = "/oauth2/token"
	JWKSPath      = "/.well-known/jwks.json"
	DiscoveryPath = "/.well-known/openid-configuration"
)

// AccessTokenKeySet is the name of the JSON Web Key Set whose keys Hydra signs
// JWT access tokens with (see RotateKey, SigningKeyIDs).
const AccessTokenKeySet = "hydra.jwt.access-token"

// Options configure Start. The zero value is a usable configuration.
type Options struct {
	// AccessTokenLifespan is how long access tokens live (Hydra's
	// TTL_ACCESS_TOKEN, whole seconds). Zero keeps Hydra's default, one hour.
	AccessTokenLifespan time.Duration

	// LogLevel is Hydra's log level: "debug", "info", "warn" (the default),
	// "error". Logs are kept in memory and shown only if the test fails.
	LogLevel string

	// StartTimeout bounds each start, from launching the process until its
	// health checks pass and its signing keys exist. Zero means one minute.
	StartTimeout time.Duration

	// Env holds extra NAME=value settings for Hydra, which reads any of its
	// configuration keys from the environment (for example
	// "STRATEGIES_JWT_SCOPE_CLAIM=both"). They are applied last.
	Env []string
}

// Server is a running (or stopped) Hydra. Its methods are safe for
// concurrent use; its URLs stay the same across Stop and Restart.
type Server struct {
	t    testing.TB
	bin  string
	opts Options

	env        []string
	publicAddr string // Hydra's public port, behind the proxy
	adminAddr  string
	proxyAddr  string // the issuer's host:port
	issuer     string
	tokenURL   string
	jwksURL    string

	http  *http.Client // loopback only: no proxy from the environment
	rp    *httputil.ReverseProxy
	logs  logBuffer
	count sync.Map // path -> *atomic.Int64
	fail  sync.Map // path -> int (HTTP status)

	mu      sync.Mutex // guards the fields below and serialises Stop/Restart
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
	exitErr error
	proxy   *http.Server
	// keysMade is set once the initial key sets are in the database.
	keysMade bool
}

// Start runs `hydra serve all --dev` on 127.0.0.1 and returns when it is ready
// to issue tokens: its health checks pass and its signing keys exist.
//
// Hydra would make its first keys itself on first use, RSA 4096-bit ones
// that take seconds to generate (and, inside the first token request, would
// set that token's "iat" seconds after the start its "exp" is counted from).
// Start instead generates a 2048-bit RSA key, the size Entra ID, Okta and
// Auth0 sign with, for each of Hydra's two key sets (access tokens and ID
// tokens) and imports them through the admin API, with fresh UUIDs as kids.
// Hydra signs with them like with its own; RotateKey makes Hydra generate.
//
// State lives in a SQLite database in t.TempDir(), encrypted with a random
// system secret kept for the server's life, so clients and keys survive Stop
// and Restart. Hydra is stopped when the test ends; its log is written to
// the test log if the test failed. Start must be called from the test's
// goroutine.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.LogLevel == "" {
		opts.LogLevel = "warn"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = time.Minute
	}
	s := &Server{t: t, bin: Binary(t), opts: opts}
	s.http = &http.Client{
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 8},
		Timeout:   30 * time.Second,
	}
	t.Cleanup(func() {
		s.Stop()
		s.http.CloseIdleConnections()
		if t.Failed() {
			t.Logf("hydratest: log of hydra serving %s (admin %s):\n%s", s.issuer, s.AdminURL(), s.logs.String())
		}
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("hydratest: %v", err)
	}
	s.proxyAddr = ln.Addr().String()
	s.issuer = "http://" + s.proxyAddr + "/"
	s.tokenURL = "http://" + s.proxyAddr + TokenPath
	s.jwksURL = "http://" + s.proxyAddr + JWKSPath
	s.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: "http", Host: s.publicAddr})
			r.Out.Host = r.In.Host
		},
		Transport: s.http.Transport,
		ErrorLog:  log.New(&s.logs, "hydratest proxy: ", log.Ltime|log.Lmicroseconds),
	}

	dir := t.TempDir()
	secret := make([]byte, 32)
	rand.Read(secret)
	dbPath := filepath.Join(dir, "hydra.sqlite")

	// Hydra's ports are chosen free and then released for Hydra to bind, so
	// another process may take one in between: then Hydra exits at once and
	// the first start is retried on fresh ports.
	const attempts = 3
	for i := 1; ; i++ {
		s.publicAddr, s.adminAddr = freeAddr(t), freeAddr(t)
		s.env = []string{
			"PATH=" + os.Getenv("PATH"),
			"HOME=" + dir,
			"DSN=" + sqliteDSN(dbPath),
			"SECRETS_SYSTEM=" + hex.EncodeToString(secret),
			"STRATEGIES_ACCESS_TOKEN=jwt",
			"URLS_SELF_ISSUER=" + s.issuer,
			"SERVE_PUBLIC_HOST=127.0.0.1",
			"SERVE_PUBLIC_PORT=" + port(s.publicAddr),
			"SERVE_ADMIN_HOST=127.0.0.1",
			"SERVE_ADMIN_PORT=" + port(s.adminAddr),
			"LOG_LEVEL=" + opts.LogLevel,
			"LOG_LEAK_SENSITIVE_VALUES=true", // test secrets only; makes failures readable
			// No telemetry, and nowhere to send anything if some code tried:
			// every outbound HTTP request goes to a closed loopback port.
			"SQA_OPT_OUT=true",
			"HTTP_PROXY=http://127.0.0.1:9",
			"HTTPS_PROXY=http://127.0.0.1:9",
			"NO_PROXY=127.0.0.1,localhost",
		}
		if opts.AccessTokenLifespan > 0 {
			s.env = append(s.env, "TTL_ACCESS_TOKEN="+strconv.FormatInt(int64(opts.AccessTokenLifespan/time.Second), 10)+"s")
		}
		s.env = append(s.env, opts.Env...)
		if i == 1 {
			s.migrate(t, dbPath)
		}
		err = s.launch(ln)
		if err == nil {
			break
		}
		if i == attempts || !strings.Contains(s.logs.String(), "address already in use") {
			t.Fatalf("hydratest: %v", err)
		}
		ln, err = net.Listen("tcp", s.proxyAddr)
		if err != nil {
			t.Fatalf("hydratest: %v", err)
		}
	}

	// The discovery document must name the URLs this package hands out.
	var disc struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
		JWKSURI       string `json:"jwks_uri"`
	}
	if err := s.getJSON(context.Background(), "http://"+s.publicAddr+DiscoveryPath, &disc); err != nil {
		t.Fatalf("hydratest: discovery: %v", err)
	}
	if disc.Issuer != s.issuer || disc.TokenEndpoint != s.tokenURL || disc.JWKSURI != s.jwksURL {
		t.Fatalf("hydratest: discovery names issuer %q, token endpoint %q, JWKS %q; want %q, %q, %q",
			disc.Issuer, disc.TokenEndpoint, disc.JWKSURI, s.issuer, s.tokenURL, s.jwksURL)
	}
	return s
}

// migrate creates Hydra's tables in a new SQLite database at dbPath. It
// copies a schema-only database made once per Hydra binary and kept in the
// user cache directory, since migrating takes a few seconds; where that
// fails it migrates dbPath itself.
func (s *Server) migrate(t testing.TB, dbPath string) {
	t.Helper()
	start := time.Now()
	template, made, err := s.schemaTemplate()
	if err == nil {
		err = copyFile(template, dbPath)
	}
	if err == nil {
		how := "copied"
		if made {
			how = "migrated and copied"
		}
		s.logf("%s the schema-only database %s in %v", how, template, time.Since(start))
		return
	}
	s.logf("no migrated database to copy (%v); migrating", err)
	os.Remove(dbPath)
	if err := s.migrateSQL(dbPath); err != nil {
		t.Fatalf("hydratest: %v", err)
	}
	s.logf("migrated the database in %v", time.Since(start))
}

// schemaTemplate returns the path of a freshly migrated database for s.bin,
// and whether it made it now (under a file lock shared with other test
// processes, so they migrate once between them).
func (s *Server) schemaTemplate() (path string, made bool, err error) {
	fi, err := os.Stat(s.bin)
	if err != nil {
		return "", false, err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", false, err
	}
	abs, _ := filepath.Abs(s.bin)
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d\x00%d", abs, fi.Size(), fi.ModTime().UnixNano())))
	dir := filepath.Join(cache, "temporalauth-hydra", "schema")
	path = filepath.Join(dir, hex.EncodeToString(h[:8])+".sqlite")
	if _, err := os.Stat(path); err == nil {
		return path, false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, err
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return "", false, err
	}
	defer unlock()
	if _, err := os.Stat(path); err == nil {
		return path, false, nil
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	if err := s.migrateSQL(tmp); err != nil {
		os.Remove(tmp)
		return "", false, err
	}
	return path, true, os.Rename(tmp, path)
}

// migrateSQL runs `hydra migrate sql up` on the SQLite database at dbPath.
func (s *Server) migrateSQL(dbPath string) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.StartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, "migrate", "sql", "up", "--read-from-env", "--yes")
	cmd.Env = append(slices.Clone(s.env), "DSN="+sqliteDSN(dbPath)) // the last DSN wins
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("hydra migrate sql up: %v\n%s", err, tail(string(out), 4000))
	}
	return nil
}

func sqliteDSN(path string) string {
	return "sqlite://" + filepath.ToSlash(path) + "?_fk=true"
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

// launch starts Hydra, waits until it is ready, and then serves the proxy on
// ln. On error it closes ln and stops what it started.
func (s *Server) launch(ln net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.logf("starting hydra, public %s (proxy %s), admin %s", s.publicAddr, s.proxyAddr, s.adminAddr)
	cmd := exec.Command(s.bin, "serve", "all", "--dev", "--sqa-opt-out")
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = &s.logs, &s.logs
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		ln.Close()
		return err
	}
	s.cmd, s.exited, s.exitErr = cmd, make(chan struct{}), nil
	go func(exited chan struct{}) {
		err := cmd.Wait()
		s.logf("hydra exited: %v", err)
		s.exitErr = err
		close(exited)
	}(s.exited)

	ctx, cancel := context.WithTimeout(context.Background(), s.opts.StartTimeout)
	defer cancel()
	if err := s.waitReady(ctx); err != nil {
		ln.Close()
		s.stopLocked()
		return err
	}
	// Until now connections to the issuer waited in ln's backlog, as they
	// would at an identity provider that is slow to answer.
	s.proxy = &http.Server{
		Handler:           http.HandlerFunc(s.serveProxy),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(&s.logs, "hydratest proxy: ", log.Ltime|log.Lmicroseconds),
	}
	go s.proxy.Serve(ln)
	return nil
}

// waitReady polls Hydra's health checks until they pass, gives a new Hydra
// its initial keys, and fetches the JWKS from its public port (uncounted).
func (s *Server) waitReady(ctx context.Context) error {
	start := time.Now()
	checks := []string{
		"http://" + s.adminAddr + "/health/ready",
		"http://" + s.publicAddr + "/health/alive",
	}
	for _, u := range checks {
		for {
			err := s.getJSON(ctx, u, nil)
			if err == nil {
				break
			}
			select {
			case <-s.exited:
				return fmt.Errorf("hydra exited before it was ready (%v)", s.exitErr)
			case <-ctx.Done():
				return fmt.Errorf("hydra not ready after %v: %v", s.opts.StartTimeout, err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	s.logf("health checks passed after %v", time.Since(start))
	if !s.keysMade {
		if err := s.makeKeys(ctx); err != nil {
			return err
		}
		s.keysMade = true
	}
	var jwks struct{ Keys []json.RawMessage }
	if err := s.getJSON(ctx, "http://"+s.publicAddr+JWKSPath, &jwks); err != nil {
		return fmt.Errorf("JWKS: %v", err)
	}
	if len(jwks.Keys) == 0 {
		return errors.New("JWKS is empty")
	}
	s.logf("ready with %d keys after %v", len(jwks.Keys), time.Since(start))
	return nil
}

// logf adds a line of its own to the log kept with Hydra's.
func (s *Server) logf(format string, args ...any) {
	s.logs.WriteString(time.Now().Format("15:04:05.000") + " hydratest: " + fmt.Sprintf(format, args...) + "\n")
}

// Stop stops Hydra and the proxy in front of it: afterwards connections to
// the issuer's and the admin port are refused, and open connections are
// closed. Hydra gets SIGTERM and, if it has not exited within ten seconds,
// SIGKILL; what it stored is kept for Restart. Stop on a stopped server does
// nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.proxy != nil {
		s.proxy.Close()
		s.proxy = nil
	}
	if s.cmd != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
		s.cmd = nil
	}
	s.http.CloseIdleConnections()
}

// Restart starts a stopped Hydra again on the same ports with the same
// database and secret, so its clients, keys and URLs are unchanged, and
// returns once it is ready. It fails if a port was taken meanwhile or if
// Hydra is running.
func (s *Server) Restart() error {
	s.mu.Lock()
	running := s.cmd != nil
	s.mu.Unlock()
	if running {
		return errors.New("hydratest: Restart: hydra is running")
	}
	ln, err := net.Listen("tcp", s.proxyAddr)
	if err != nil {
		return fmt.Errorf("hydratest: Restart: %w", err)
	}
	if err := s.launch(ln); err != nil {
		return fmt.Errorf("hydratest: Restart: %w", err)
	}
	return nil
}

// Issuer is the issuer URL, with the trailing slash Hydra puts in the
// discovery document and in every token's "iss" claim.
func (s *Server) Issuer() string { return s.issuer }

// TokenURL is the OAuth 2.0 token endpoint (through the counting proxy).
func (s *Server) TokenURL() string { return s.tokenURL }

// JWKSURL is the URL of the public JSON Web Key Set (through the counting
// proxy). It lists the keys of every Hydra key set, ID-token keys included.
func (s *Server) JWKSURL() string { return s.jwksURL }

// DiscoveryURL is the URL of the OpenID Connect discovery document.
func (s *Server) DiscoveryURL() string { return "http://" + s.proxyAddr + DiscoveryPath }

// AdminURL is the base URL of Hydra's admin API (not proxied), without a
// trailing slash: its endpoints are under AdminURL()+"/admin/...".
func (s *Server) AdminURL() string { return "http://" + s.adminAddr }

// Logs returns what Hydra has written so far, across restarts.
func (s *Server) Logs() string { return s.logs.String() }

// Requests reports how many requests for path (a URL path on the issuer,
// such as TokenPath) reached the proxy, failed ones included, since Start.
func (s *Server) Requests(path string) int64 {
	if c, ok := s.count.Load(path); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

// TokenRequests is Requests(TokenPath): every token request, whatever its outcome.
func (s *Server) TokenRequests() int64 { return s.Requests(TokenPath) }

// JWKSRequests is Requests(JWKSPath).
func (s *Server) JWKSRequests() int64 { return s.Requests(JWKSPath) }

// Fail makes the proxy answer requests for path with the HTTP status code
// and a JSON body {"error":"server_error",...} instead of forwarding them to
// Hydra, until Fail(path, 0). The requests are still counted.
func (s *Server) Fail(path string, status int) {
	if status == 0 {
		s.fail.Delete(path)
		return
	}
	s.fail.Store(path, status)
}

func (s *Server) serveProxy(w http.ResponseWriter, r *http.Request) {
	c, _ := s.count.LoadOrStore(r.URL.Path, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
	if status, ok := s.fail.Load(r.URL.Path); ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status.(int))
		fmt.Fprintf(w, `{"error":"server_error","error_description":"hydratest: injected HTTP %d"}`+"\n", status)
		return
	}
	s.rp.ServeHTTP(w, r)
}

// getJSON GETs u and decodes a 200 answer into v (v may be nil).
func (s *Server) getJSON(ctx context.Context, u string, v any) error {
	return s.do(ctx, http.MethodGet, u, nil, http.StatusOK, v)
}

// do sends a JSON request and decodes the JSON answer into v (if not nil)
// when the status is want.
func (s *Server) do(ctx context.Context, method, u string, body any, want int, v any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, bytes.TrimSpace(b))
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s %s: %v", method, u, err)
	}
	return nil
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("hydratest: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// logBuffer keeps the last logLimit bytes written to it.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const logLimit = 1 << 20

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > logLimit {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-logLimit:]...)
	}
	return len(p), nil
}

func (b *logBuffer) WriteString(s string) { b.Write([]byte(s)) }

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
