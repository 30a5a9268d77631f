package temporalauth_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/temporalauth/temporalauth"
)

// gauges is a client.MetricsHandler that records metric names with their
// tags, and the last gauge values.
type gauges struct {
	mu    *sync.Mutex
	tags  string
	names map[string]float64
}

func (g *gauges) WithTags(tags map[string]string) client.MetricsHandler {
	t := g.tags
	for k, v := range tags {
		t += " " + k + "=" + v
	}
	return &gauges{mu: g.mu, tags: t, names: g.names}
}
func (g *gauges) set(name string, v float64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.names[name+g.tags] += v
}
func (g *gauges) Counter(name string) client.MetricsCounter {
	return counter(func(d int64) { g.set(name, float64(d)) })
}
func (g *gauges) Gauge(name string) client.MetricsGauge {
	return gauge(func(v float64) { g.set(name, v) })
}
func (g *gauges) Timer(name string) client.MetricsTimer {
	return timer(func(time.Duration) { g.set(name, 1) })
}

type (
	counter func(int64)
	gauge   func(float64)
	timer   func(time.Duration)
)

func (f counter) Inc(d int64)          { f(d) }
func (f gauge) Update(v float64)       { f(v) }
func (f timer) Record(d time.Duration) { f(d) }

func TestLoadClientOptionsMetricsAndLogs(t *testing.T) {
	path, _ := writeES256Key(t)
	h := &gauges{mu: new(sync.Mutex), names: map[string]float64{}}
	var logs bytes.Buffer
	opts, auth, err := temporalauth.LoadClientOptions(temporalauth.EnvOptions{
		Lookup: mapEnv(map[string]string{
			"TEMPORAL_JWT_PRIVATE_KEY_FILE": path,
			"TEMPORAL_JWT_PERMISSIONS":      "default:write",
			"TEMPORAL_JWT_ISSUER":           "ops",
		}),
		Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
		MetricsHandler: h,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()
	if opts.MetricsHandler != h {
		t.Error("the client's MetricsHandler is not the one given")
	}
	if n := len(opts.ConnectionOptions.DialOptions); n != 3 {
		t.Errorf("%d dial options, want RetryUnauthorized, the rejection log and the rejection counter", n)
	}
	if _, err := auth.GetHeaders(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	got := h.names
	if got["temporal_auth_token_refresh source=jwt outcome=success trigger=blocking"] != 1 && got["temporal_auth_token_refresh source=jwt trigger=blocking outcome=success"] != 1 {
		t.Errorf("metrics %v", got)
	}
	if v := got["temporal_auth_token_time_left_seconds source=jwt"]; v < 590 || v > 600 {
		t.Errorf("time left %v, want about 600", v)
	}
	h.mu.Unlock()
	kid := auth.String()
	_, kid, _ = strings.Cut(kid, "kid=")
	kid, _, _ = strings.Cut(kid, " ")
	if !strings.Contains(logs.String(), `msg="temporalauth: new token" source="jwt signer file=`) ||
		!strings.Contains(logs.String(), " kid="+kid+" iss=ops sub=temporalauth expiry=") {
		t.Errorf("no new-token record with kid %s:\n%s", kid, logs.String())
	}
}

// Load reports the time left on an azure certificate credential as a
// gauge, from the start, so that an alert sees an expiring certificate
// before renewals fail.
func TestLoadReportsCertificateTimeLeft(t *testing.T) {
	certFile := filepath.Join(t.TempDir(), "cert.pem")
	writeSelfSignedCert(t, certFile) // valid for one more hour
	h := &gauges{mu: new(sync.Mutex), names: map[string]float64{}}
	a, err := temporalauth.Load(temporalauth.EnvOptions{MetricsHandler: h, Lookup: mapEnv(map[string]string{
		"AZURE_CLIENT_ID": "app", "AZURE_TENANT_ID": "t1", "AZURE_CLIENT_CERTIFICATE_PATH": certFile,
		"TEMPORAL_AUTH_SCOPE": "api://t/.default"}),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	h.mu.Lock()
	got, ok := h.names["temporal_auth_certificate_time_left_seconds source=azure"]
	h.mu.Unlock()
	if !ok || got < 3000 || got > 3600 {
		t.Errorf("certificate gauge %v (reported: %v), want about 3600 s", got, ok)
	}
}
