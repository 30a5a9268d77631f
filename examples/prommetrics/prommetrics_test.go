package prommetrics_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/temporalauth/temporalauth"
	"github.com/temporalauth/temporalauth/examples/devserver"
	"github.com/temporalauth/temporalauth/examples/prommetrics"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/jwtkey"
)

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

// writeKey writes a new ES256 key to path and returns its JWK.
func writeKey(t *testing.T, path string) jwtkey.JWK {
	t.Helper()
	key, err := jwtkey.GenerateES256Key()
	if err != nil {
		t.Fatal(err)
	}
	kid, err := jwtkey.Thumbprint(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := jwtkey.PublicJWK(key.Public(), kid)
	if err != nil {
		t.Fatal(err)
	}
	if err := jwtkey.WritePrivateKeyFile(path, key); err != nil {
		t.Fatal(err)
	}
	return jwk
}

// TestScrape runs a worker's client configured by LoadClientOptions with
// the Prometheus exporter against a JWT-enforcing server, rotates its key
// before the server knows the new one, then publishes it, and scrapes
// /metrics over loopback HTTP.
func TestScrape(t *testing.T) {
	dir := t.TempDir()
	keys := &jwtkey.KeySet{}
	adminFile, workerFile := filepath.Join(dir, "admin.pem"), filepath.Join(dir, "worker.pem")
	adminJWK, oldJWK := writeKey(t, adminFile), writeKey(t, workerFile)
	if err := keys.Add(adminJWK, oldJWK); err != nil {
		t.Fatal(err)
	}
	url, stopJWKS, err := devserver.ServeJWKS(keys)
	if err != nil {
		t.Fatal(err)
	}
	defer stopJWKS()
	admin, err := jwtkey.NewProvider(jwtkey.Config{KeyFile: adminFile, Permissions: []string{"temporal-system:admin"}},
		headers.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	srv, err := devserver.Start(devserver.Config{JWKSURLs: []string{url}, RefreshInterval: 200 * time.Millisecond,
		Namespaces: []string{"default"}, SystemHeaders: admin})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Stop() }()

	exp, err := prommetrics.New(50 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close()
	scrape := httptest.NewServer(exp.HTTPHandler()) // 127.0.0.1
	defer scrape.Close()

	var logs syncBuffer
	env := map[string]string{
		"TEMPORAL_ADDRESS":              srv.HostPort(),
		"TEMPORAL_NAMESPACE":            "default",
		"TEMPORAL_JWT_PRIVATE_KEY_FILE": workerFile,
		"TEMPORAL_JWT_PERMISSIONS":      "default:write",
		"TEMPORAL_JWT_ISSUER":           "ops-demo",
	}
	opts, auth, err := temporalauth.LoadClientOptions(temporalauth.EnvOptions{
		Lookup:         func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
		MetricsHandler: exp.Handler(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()
	c, err := client.Dial(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	describe := func() error {
		_, err := c.WorkflowService().DescribeNamespace(ctx, describeRequest())
		return err
	}
	if err := describe(); err != nil {
		t.Fatalf("before the rotation: %v", err)
	}

	// Rotate the key file before the server knows the new key: the next
	// token is refused, the log names its kid, and RetryUnauthorized
	// retries the call with the previous token (the rotation grace).
	newJWK := writeKey(t, workerFile)
	auth.Provider().Invalidate()
	if err := describe(); err != nil {
		t.Fatalf("with an unpublished key: %v, want the call saved by the previous token", err)
	}
	if st := auth.Provider().Stats(); !st.Rotating || st.SavedCalls != 1 {
		t.Fatalf("Stats %+v, want a rotation grace and one saved call", st)
	}
	// Publish it: once the server has refetched, the next call that tries
	// the new key (one per headers.RotationProbeInterval) is accepted and
	// the grace ends.
	if err := keys.Add(newJWK); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(headers.RotationProbeInterval + 30*time.Second)
	for auth.Provider().Stats().Rotating {
		if err := describe(); err != nil {
			t.Fatalf("during the grace: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the grace never ended after the key was published")
		}
		time.Sleep(100 * time.Millisecond)
	}

	want := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^temporal_auth_token_refresh\{outcome="success",source="jwt",trigger="blocking"\} 2$`),
		regexp.MustCompile(`(?m)^temporal_auth_token_rejected\{source="jwt",status_code="PERMISSION_DENIED"\} [1-9]`),
		regexp.MustCompile(`(?m)^temporal_auth_token_time_left_seconds\{source="jwt"\} (5[5-9]\d|600)(\.\d+)?$`),
		regexp.MustCompile(`(?m)^temporal_auth_token_refresh_latency_count\{outcome="success",source="jwt"\} 2$`),
		regexp.MustCompile(`(?m)^temporal_auth_rotation_grace\{source="jwt"\} 1$`),
		regexp.MustCompile(`(?m)^temporal_auth_rotation_saved_calls\{source="jwt"\} [1-9]`),
	}
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; {
		body = get(t, scrape.URL+"/metrics")
		missing := 0
		for _, re := range want {
			if !re.MatchString(body) {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, re := range want {
				if !re.MatchString(body) {
					t.Errorf("scrape lacks %s", re)
				}
			}
			t.Fatalf("scrape:\n%s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	var excerpt []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "temporal_auth_") && !strings.Contains(line, "_bucket{") {
			excerpt = append(excerpt, line)
		}
	}
	t.Logf("scrape excerpt:\n%s", strings.Join(excerpt, "\n"))

	got := logs.String()
	t.Logf("log of the rotation:\n%s", got)
	for _, w := range []string{
		`msg="temporalauth: new token" source="jwt signer file=`,
		" kid=" + oldJWK.KeyID + " iss=ops-demo sub=temporalauth expiry=",
		" kid=" + newJWK.KeyID + " iss=ops-demo sub=temporalauth expiry=",
		`msg="temporalauth: signing key changed" source="jwt signer file=`,
		" old_kid=" + oldJWK.KeyID + " new_kid=" + newJWK.KeyID,
		`level=WARN msg="temporalauth: the server rejected the call's token`,
		"status_code=PERMISSION_DENIED kid=" + newJWK.KeyID,
		`level=INFO msg="temporalauth: rotation grace started`,
		`level=INFO msg="temporalauth: rotation grace ended" source="jwt signer file=`,
		" old_kid=" + oldJWK.KeyID + " new_kid=" + newJWK.KeyID + " lasted=",
		`reason="the server accepted the new key"`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("log lacks %q", w)
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
