package serverauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"go.temporal.io/server/common/clock"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// keySet holds the keys the tests publish. RSA key generation is slow
// under the race detector, so they are made once.
type keySet struct {
	rsa  [3]*rsa.PrivateKey
	ec   [2]*ecdsa.PrivateKey
	weak *rsa.PrivateKey // 1024 bits
	p384 *ecdsa.PrivateKey
}

var (
	testKeys     keySet
	testKeysOnce sync.Once
)

func keys() *keySet {
	testKeysOnce.Do(func() {
		var err error
		for i := range testKeys.rsa {
			if testKeys.rsa[i], err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				panic(err)
			}
		}
		for i := range testKeys.ec {
			if testKeys.ec[i], err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
				panic(err)
			}
		}
		if testKeys.weak, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			panic(err)
		}
		if testKeys.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			panic(err)
		}
	})
	return &testKeys
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, pub *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "use": "sig", "kid": kid, "n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
}

func ecJWK(kid string, pub *ecdsa.PublicKey) map[string]any {
	size := (pub.Curve.Params().BitSize + 7) / 8
	crv := map[int]string{32: "P-256", 48: "P-384"}[size]
	x := make([]byte, size)
	y := make([]byte, size)
	pub.X.FillBytes(x)
	pub.Y.FillBytes(y)
	return map[string]any{"kty": "EC", "kid": kid, "crv": crv, "x": b64(x), "y": b64(y)}
}

func jwksBody(keys ...map[string]any) []byte {
	if keys == nil {
		keys = []map[string]any{}
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(err)
	}
	return b
}

// jwksServer serves a JWKS that a test can change, fail or hold.
type jwksServer struct {
	*httptest.Server
	requests atomic.Int64

	mu     sync.Mutex
	body   []byte
	status int
	hold   chan struct{} // when not nil, requests wait for it to close
	seen   chan struct{} // when not nil, gets a value per request received
}

func newJWKSServer(t *testing.T, keys ...map[string]any) *jwksServer {
	t.Helper()
	s := &jwksServer{body: jwksBody(keys...), status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	body, status, hold, seen := s.body, s.status, s.hold, s.seen
	s.mu.Unlock()
	if seen != nil {
		seen <- struct{}{}
	}
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *jwksServer) set(status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

func (s *jwksServer) publish(keys ...map[string]any) { s.set(http.StatusOK, jwksBody(keys...)) }

func (s *jwksServer) url() string { return s.URL + "/keys" }

// fixture is a provider on a test clock with its log recorded.
type fixture struct {
	p    *KeyProvider
	ts   *clock.EventTimeSource
	logs *observer.ObservedLogs
}

// testIssuer is the issuer of the tests' tokens; newFixture binds every
// JWKS URL without issuers to it.
const testIssuer = "https://idp.test/tenant/v2.0"

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	if !cfg.AllowAnyIssuer {
		for _, u := range cfg.JWKSURLs {
			if _, ok := cfg.JWKSIssuers[u]; !ok {
				if cfg.JWKSIssuers == nil {
					cfg.JWKSIssuers = map[string][]string{}
				}
				cfg.JWKSIssuers[u] = []string{testIssuer}
			}
		}
	}
	f := &fixture{ts: clock.NewEventTimeSource()}
	f.ts.Update(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC))
	var core zapcore.Core
	core, f.logs = observer.New(zapcore.DebugLevel)
	cfg.Logger = log.NewZapLogger(zap.New(core))
	cfg.TimeSource = f.ts
	p, err := NewKeyProvider(cfg)
	if err != nil {
		t.Fatalf("NewKeyProvider: %v", err)
	}
	t.Cleanup(p.Close)
	f.p = p
	return f
}

// token is a parsed token as the claim mapper hands it to GetKey, issued
// by testIssuer.
func token(alg, kid string) *jwt.Token {
	return tokenFrom(testIssuer, alg, kid)
}

// tokenFrom is a parsed token with "iss" iss.
func tokenFrom(iss, alg, kid string) *jwt.Token {
	t := jwt.NewWithClaims(jwt.GetSigningMethod(alg), jwt.MapClaims{"iss": iss})
	if kid != "" {
		t.Header["kid"] = kid
	}
	return t
}

func (f *fixture) get(kid string) (any, error) {
	return f.p.GetKey(context.Background(), token("RS256", kid))
}

// waitFor polls cond until it holds: for work that the provider's goroutine
// does after a timer of the test clock fires.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitFetches waits until the provider has completed n fetches.
func (f *fixture) waitFetches(t *testing.T, n int64) {
	t.Helper()
	waitFor(t, "fetch", func() bool { return f.p.Stats().Fetches >= n })
	if got := f.p.Stats().Fetches; got != n {
		t.Fatalf("fetches: %d, want %d", got, n)
	}
}

func (f *fixture) logged(msg string) []observer.LoggedEntry {
	return f.logs.FilterMessageSnippet(msg).All()
}

// countingHandler is a metrics.Handler that sums counters by name and tags.
type countingHandler struct {
	mu     sync.Mutex
	counts map[string]int64
	gauges map[string]float64
}

func newCountingHandler() *countingHandler {
	return &countingHandler{counts: map[string]int64{}, gauges: map[string]float64{}}
}

func key(name string, tags []metrics.Tag) string {
	parts := []string{name}
	for _, t := range tags {
		parts = append(parts, t.Key+"="+t.Value)
	}
	return strings.Join(parts, ",")
}

func (h *countingHandler) WithTags(...metrics.Tag) metrics.Handler { return h }
func (h *countingHandler) Counter(name string) metrics.CounterIface {
	return metrics.CounterFunc(func(v int64, tags ...metrics.Tag) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.counts[key(name, tags)] += v
	})
}
func (h *countingHandler) Gauge(name string) metrics.GaugeIface {
	return metrics.GaugeFunc(func(v float64, tags ...metrics.Tag) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.gauges[key(name, tags)] = v
	})
}
func (h *countingHandler) Timer(string) metrics.TimerIface { return metrics.NoopTimerMetricFunc }
func (h *countingHandler) Histogram(string, metrics.MetricUnit) metrics.HistogramIface {
	return metrics.NoopHistogramMetricFunc
}
func (h *countingHandler) Stop(log.Logger)                        {}
func (h *countingHandler) StartBatch(string) metrics.BatchHandler { return nil }
func (h *countingHandler) count(name string, tags ...metrics.Tag) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[key(name, tags)]
}
