package serverauth

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// A source that keeps failing loses its keys MaxKeyAge after its last
// success: a withdrawn key does not stay valid for as long as the JWKS is
// unreachable. The drop is logged and counted; the source's return brings
// the keys back.
func TestMaxKeyAgeDropsKeysOfAFailingSource(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, rsaJWK("a", &k.rsa[0].PublicKey))
	mh := newCountingHandler()
	f := newFixture(t, Config{JWKSURLs: []string{srv.url()}, RefreshInterval: time.Hour, MaxKeyAge: 3 * time.Hour, MetricsHandler: mh})
	start := f.ts.Now()

	srv.set(http.StatusServiceUnavailable, nil)
	for i := range 2 {
		f.ts.Advance(time.Hour)
		f.waitFetches(t, int64(i+2))
		if _, err := f.get("a"); err != nil {
			t.Fatalf("key a %v after the last success: %v", f.ts.Now().Sub(start), err)
		}
	}
	f.ts.Advance(time.Hour) // 3 h: the periodic fetch fails and drops the key
	f.waitFetches(t, 4)
	s := f.p.Stats()
	if s.Keys != 0 || s.KeysDroppedForAge != 1 || s.Sources[0].Keys != 0 {
		t.Fatalf("stats %+v, want the key dropped", s)
	}
	// The log line and the metric come after the counters, metric last.
	waitFor(t, "the drop to be counted", func() bool { return mh.count("jwt_keys_dropped_for_age") > 0 })
	e := f.logged("failed for longer than MaxKeyAge")
	if len(e) != 1 {
		t.Fatalf("%d drop log lines, want 1", len(e))
	}
	if m := e[0].ContextMap(); m["dropped-keys"] != int64(1) || m["source"] != srv.url() ||
		m["max-key-age"] != 3*time.Hour || !strings.Contains(m["last-error"].(string), "503") {
		t.Errorf("drop log %v", m)
	}
	if got := mh.count("jwt_keys_dropped_for_age"); got != 1 {
		t.Errorf("jwt_keys_dropped_for_age = %d, want 1", got)
	}
	if _, err := f.get("a"); err == nil { // refetches, fails
		t.Fatal("key a served after MaxKeyAge")
	}
	if got := len(f.logged("failed for longer than MaxKeyAge")); got != 1 {
		t.Errorf("%d drop log lines, want 1 (nothing more to drop)", got)
	}

	// The source answers again: the next lookup refetches and finds it.
	srv.publish(rsaJWK("a", &k.rsa[0].PublicKey))
	f.ts.Advance(DefaultMinRefetchInterval)
	if _, err := f.get("a"); err != nil {
		t.Fatalf("key a after the source recovered: %v", err)
	}
}

// Without a periodic refresh, the age is enforced at lookup: the first
// token after MaxKeyAge triggers a refetch, whose failure drops the keys.
func TestMaxKeyAgeAtLookup(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, rsaJWK("a", &k.rsa[0].PublicKey))
	f := newFixture(t, Config{JWKSURLs: []string{srv.url()}, RefreshInterval: -1, MaxKeyAge: 2 * time.Hour})
	srv.set(http.StatusServiceUnavailable, nil)
	f.ts.Advance(2*time.Hour - time.Second)
	if _, err := f.get("a"); err != nil {
		t.Fatalf("key a before MaxKeyAge: %v", err)
	}
	f.ts.Advance(time.Second)
	if _, err := f.get("a"); err == nil || !strings.Contains(err.Error(), "refetched just now") {
		t.Fatalf("key a at MaxKeyAge: %v, want a refusal after a refetch", err)
	}
	if s := f.p.Stats(); s.Fetches != 2 || s.KeysDroppedForAge != 1 || s.Keys != 0 {
		t.Errorf("stats %+v", s)
	}
}

// A negative MaxKeyAge keeps the last good keys for ever.
func TestMaxKeyAgeNegativeKeepsKeys(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, rsaJWK("a", &k.rsa[0].PublicKey))
	f := newFixture(t, Config{JWKSURLs: []string{srv.url()}, RefreshInterval: 24 * time.Hour, MaxKeyAge: -1})
	srv.set(http.StatusServiceUnavailable, nil)
	for i := range 5 {
		f.ts.Advance(24 * time.Hour)
		f.waitFetches(t, int64(i+2))
	}
	if _, err := f.get("a"); err != nil {
		t.Fatalf("key a after 5 days of failures with MaxKeyAge < 0: %v", err)
	}
	if s := f.p.Stats(); s.KeysDroppedForAge != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestMaxKeyAgeDefault(t *testing.T) {
	for _, tc := range []struct{ v, refresh, want time.Duration }{
		{0, time.Hour, DefaultMaxKeyAge},
		{0, -1, DefaultMaxKeyAge},
		{0, 24 * time.Hour, 48 * time.Hour},
		{-1, time.Hour, 0},
		{2 * time.Hour, time.Hour, 2 * time.Hour},
		{time.Minute, -1, time.Minute},
	} {
		if got, err := maxKeyAge(tc.v, tc.refresh); err != nil || got != tc.want {
			t.Errorf("maxKeyAge(%v, %v) = %v, %v; want %v", tc.v, tc.refresh, got, err, tc.want)
		}
	}
}
