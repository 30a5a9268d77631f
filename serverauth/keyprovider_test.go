package serverauth

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/server/common/metrics"
)

func TestKnownKeys(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, rsaJWK("rsa-1", &k.rsa[0].PublicKey), ecJWK("ec-1", &k.ec[0].PublicKey))
	f := newFixture(t, Config{JWKSURLs: []string{srv.url()}})

	got, err := f.p.GetKey(context.Background(), token("RS256", "rsa-1"))
	if err != nil || !k.rsa[0].PublicKey.Equal(got) {
		t.Fatalf("GetKey(RS256, rsa-1) = %v, %v; want the RSA key", got, err)
	}
	got, err = f.p.GetKey(context.Background(), token("ES256", "ec-1"))
	if err != nil || !k.ec[0].PublicKey.Equal(got) {
		t.Fatalf("GetKey(ES256, ec-1) = %v, %v; want the EC key", got, err)
	}
	// A lookup by kid alone cannot check the issuer: bound keys are refused.
	if rk, err := f.p.RsaKey("RS256", "rsa-1"); err == nil || !strings.Contains(err.Error(), "call GetKey") {
		t.Errorf("RsaKey of a key bound to an issuer = %v, %v; want a refusal", rk, err)
	}
	if ek, err := f.p.EcdsaKey("ES256", "ec-1"); err == nil || !strings.Contains(err.Error(), "call GetKey") {
		t.Errorf("EcdsaKey of a key bound to an issuer = %v, %v; want a refusal", ek, err)
	}
	// A key serves only its own algorithm.
	if _, err := f.p.GetKey(context.Background(), token("ES256", "rsa-1")); err == nil || !strings.Contains(err.Error(), "holds a RS256 key") {
		t.Errorf("GetKey(ES256, rsa-1) error = %v, want a key type mismatch", err)
	}
	if _, err := f.p.RsaKey("PS256", "rsa-1"); err == nil {
		t.Error("RsaKey(PS256) succeeded")
	}
	if _, err := f.p.HmacKey("HS256", "x"); err == nil {
		t.Error("HmacKey succeeded")
	}
	if _, err := f.p.GetKey(context.Background(), token("HS256", "rsa-1")); err == nil {
		t.Error("GetKey(HS256) succeeded")
	}
	if _, err := f.p.GetKey(context.Background(), token("RS256", "")); err == nil || !strings.Contains(err.Error(), "kid") {
		t.Errorf("GetKey without kid: %v", err)
	}
	if got := f.p.SupportedMethods(); fmt.Sprint(got) != "[RS256 ES256]" {
		t.Errorf("SupportedMethods = %v", got)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("JWKS requests: %d, want 1 (known keys need no fetch)", n)
	}
}

// An unknown kid triggers exactly one refetch, which finds the new key.
func TestUnknownKeyIDRefetchesOnce(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, rsaJWK("old", &k.rsa[0].PublicKey))
	f := newFixture(t, Config{JWKSURLs: []string{srv.url()}, RefreshInterval: -1})

	srv.publish(rsaJWK("old", &k.rsa[0].PublicKey), rsaJWK("new", &k.rsa[1].PublicKey))
	got, err := f.get("new")
	if err != nil || !k.rsa[1].PublicKey.Equal(got) {
		t.Fatalf("GetKey(new) = %v, %v; want the new key", got, err)
	}
	for range 10 {
		if _, err := f.get("new"); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("JWKS requests: %d, want 2 (first fetch, one refetch)", n)
	}
	s := f.p.Stats()
	if s.Refetches != 1 || s.UnknownKeyIDs != 1 || s.FoundAfterRefetch != 1 || s.Keys != 2 {
		t.Errorf("stats %+v, want 1 refetch, 1 unknown kid found, 2 keys", s)
	}
	// The log says which kid was unknown and that the refetch found it.
	if e := f.logged("JWT key ID unknown: refetching"); len(e) != 1 || e[0].ContextMap()["kid"] != "new" {
		t.Errorf("refetch log: %v", e)
	}
	fetched := f.logged("JWT keys fetched")
	last := fetched[len(fetched)-1].ContextMap()
	if last["kid"] != "new" || last["kid-found"] != true {
		t.Errorf("fetch log %v, want kid new found", last)
	}
}

// Concurrent lookups of unknown kids share one refetch.
func TestConcurrentUnknownKeyIDsSingleFlight(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, rsaJWK("old", &k.rsa[0].PublicKey))
	f := newFixture(t, Config{JWKSURLs: []string{srv.url()}, RefreshInterval: -1})

	hold, seen := make(chan struct{}), make(chan struct{}, 100)
	srv.mu.Lock()
	srv.hold, srv.seen = hold, seen
	srv.mu.Unlock()
	srv.publish(rsaJWK("old", &k.rsa[0].PublicKey), rsaJWK("new", &k.rsa[1].PublicKey))

	const callers = 50
	var wg sync.WaitGroup
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() {
			kid := "new"
			if i%2 == 1 {
				kid = fmt.Sprintf("random-%d", i)
			}
			_, errs[i] = f.get(kid)
		})
	}
	<-seen // the refetch reached the server
	waitFor(t, "every caller to wait for the refetch", func() bool { return f.p.Stats().UnknownKeyIDs == callers })
	close(hold)
	wg.Wait()
	for i, err := range errs {
		if wantOK := i%2 == 0; (err == nil) != wantOK {
			t.Errorf("caller %d: err %v, want success %v", i, err, wantOK)
		}
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("JWKS requests: %d, want 2 (first fetch, one shared refetch)", n)
	}
	if s := f.p.Stats(); s.Refetches != 1 || s.FoundAfterRefetch != callers/2 || s.NotFoundAfterRefetch != callers/2 {
		t.Errorf("stats %+v", s)
	}
}

// 1,000 tokens with random unknown kids cause at most one refetch per
// MinRefetchInterval.
func TestRandomKeyIDFloodIsRateLimited(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, rsaJWK("good", &k.rsa[0].PublicKey))
	mh := newCountingHandler()
	f := newFixture(t, Config{JWKSURLs: []string{srv.url()}, RefreshInterval: -1, MetricsHandler: mh})

	flood := func(n int) {
		t.Helper()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		for range n {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				kid := fmt.Sprintf("attacker-%016x", rand.Uint64())
				if _, err := f.get(kid); err == nil {
					t.Errorf("GetKey(%s) succeeded", kid)
				}
			})
		}
		wg.Wait()
	}

	// 1,000 at one instant: one refetch.
	flood(1000)
	if n := srv.requests.Load(); n != 2 {
		t.Fatalf("JWKS requests after 1,000 random kids: %d, want 2 (first fetch, one refetch)", n)
	}
	if _, err := f.get("good"); err != nil {
		t.Fatalf("the published key during the flood: %v", err)
	}

	// Ten more minutes of floods, 200 every 10 s: at most one refetch per
	// minute (the one delayed by the rate limit).
	for range 60 {
		f.ts.Advance(10 * time.Second)
		waitFor(t, "a delayed refetch to end", func() bool {
			s := f.p.Stats()
			return s.Fetches == srv.requests.Load()
		})
		flood(200)
	}
	fetches := srv.requests.Load() - 1
	if limit := int64(1 + 10*time.Minute/DefaultMinRefetchInterval); fetches > limit || fetches < 2 {
		t.Errorf("refetches for 13,000 random kids over 10 minutes: %d, want between 2 and %d", fetches, limit)
	}
	s := f.p.Stats()
	t.Logf("13,000 random kids over 10 min: %d JWKS fetches; stats %+v", fetches, s)
	if s.UnknownKeyIDs != 13000 || s.Refetches != fetches {
		t.Errorf("stats %+v", s)
	}
	// Rate-limited refusals are logged a few at a time, not one line each.
	if n := len(f.logged("refetch not allowed yet")); n > maxLoggedPerWindow*int(fetches+1) {
		t.Errorf("%d rate-limit log lines, want at most %d per window", n, maxLoggedPerWindow)
	}
	if got := mh.count("jwt_unknown_key_ids", metrics.Tag{Key: "outcome", Value: "rate_limited"}); got != s.RateLimited || got == 0 {
		t.Errorf("jwt_unknown_key_ids{outcome=rate_limited} = %d, want %d", got, s.RateLimited)
	}
	if got := mh.count("jwt_key_refetches"); got != s.Refetches {
		t.Errorf("jwt_key_refetches = %d, want %d", got, s.Refetches)
	}
}

// A kid refused for the rate limit is remembered, and the refetch delayed
// by the rate limit finds it once the identity provider publishes it.
func TestRateLimitedKeyIDFoundByDelayedRefetch(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, rsaJWK("old", &k.rsa[0].PublicKey))
	f := newFixture(t, Config{JWKSURLs: []string{srv.url()}, RefreshInterval: -1, MinRefetchInterval: 30 * time.Second})

	// The identity provider signs before its JWKS shows the key.
	if _, err := f.get("new"); err == nil || !strings.Contains(err.Error(), "refetched just now") {
		t.Fatalf("GetKey(new) before it is published: %v", err)
	}
	srv.publish(rsaJWK("old", &k.rsa[0].PublicKey), rsaJWK("new", &k.rsa[1].PublicKey))
	f.ts.Advance(10 * time.Second)
	_, err := f.get("new")
	if err == nil || !strings.Contains(err.Error(), "the next may happen at 2025-01-01T12:00:30Z") {
		t.Fatalf("GetKey(new) 10 s later: %v, want a refusal naming the next refetch", err)
	}
	// "new" was logged when the refetch missed it; another kid is logged
	// when it is refused.
	if e := f.logged("refetch not allowed yet"); len(e) != 0 {
		t.Errorf("rate-limit log for a kid already reported: %v", e)
	}
	if _, err := f.get("other"); err == nil {
		t.Fatal("GetKey(other) succeeded")
	}
	if e := f.logged("refetch not allowed yet"); len(e) != 1 || e[0].ContextMap()["kid"] != "other" ||
		e[0].ContextMap()["next-refetch-at"] != time.Date(2025, 1, 1, 12, 0, 30, 0, time.UTC) {
		t.Errorf("rate-limit log %v", e)
	}
	if n := srv.requests.Load(); n != 2 {
		t.Fatalf("JWKS requests: %d, want 2", n)
	}
	f.ts.Advance(20 * time.Second)
	f.waitFetches(t, 3)
	if got, err := f.get("new"); err != nil || !k.rsa[1].PublicKey.Equal(got) {
		t.Fatalf("GetKey(new) after the delayed refetch: %v, %v", got, err)
	}
	if n := srv.requests.Load(); n != 3 {
		t.Errorf("JWKS requests: %d, want 3", n)
	}
}

func TestPeriodicRefresh(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, rsaJWK("a", &k.rsa[0].PublicKey))
	f := newFixture(t, Config{JWKSURLs: []string{srv.url()}}) // default: hourly

	srv.publish(rsaJWK("b", &k.rsa[1].PublicKey))
	f.ts.Advance(DefaultRefreshInterval - time.Second)
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("JWKS requests before the hour: %d, want 1", n)
	}
	f.ts.Advance(time.Second)
	f.waitFetches(t, 2)
	s := f.p.Stats()
	if s.Keys != 1 || s.Refetches != 0 {
		t.Errorf("stats %+v", s)
	}
	if _, err := f.get("a"); err == nil { // an unknown kid now: one refetch
		t.Error("the withdrawn key a is still served")
	}
	// An unknown-kid refetch restarts the hour.
	f.ts.Advance(30 * time.Minute)
	if _, err := f.get("c"); err == nil {
		t.Fatal("unknown kid c found")
	}
	f.ts.Advance(59 * time.Minute)
	if n := srv.requests.Load(); n != 4 {
		t.Fatalf("JWKS requests: %d, want 4", n)
	}
	f.ts.Advance(time.Minute)
	f.waitFetches(t, 5)
}

// A source that stops answering keeps serving its last good keys.
func TestEndpointDownKeepsLastGoodKeys(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, rsaJWK("a", &k.rsa[0].PublicKey))
	mh := newCountingHandler()
	f := newFixture(t, Config{JWKSURLs: []string{srv.url()}, RefreshInterval: time.Minute, MetricsHandler: mh})

	srv.set(http.StatusServiceUnavailable, []byte("<html>down</html>"))
	for i := range 3 {
		f.ts.Advance(time.Minute)
		f.waitFetches(t, int64(i+2))
	}
	if _, err := f.get("a"); err != nil {
		t.Fatalf("last good key a: %v", err)
	}
	if _, err := f.get("b"); err == nil { // refetch fails too
		t.Fatal("unknown kid b found")
	}
	s := f.p.Stats()
	src := s.Sources[0]
	if src.Failures != 4 || src.Fetches != 5 || src.Keys != 1 || !strings.Contains(src.LastError, "HTTP status 503") {
		t.Errorf("source stats %+v", src)
	}
	if e := f.logged("its last good keys stay in use"); len(e) != 4 || e[0].ContextMap()["kept-keys"] != int64(1) {
		t.Errorf("failure logs: %d %v", len(e), e)
	}
	if got := mh.count("jwt_key_source_fetches", metrics.Tag{Key: "outcome", Value: "failure"}); got != 4 {
		t.Errorf("jwt_key_source_fetches{failure} = %d", got)
	}
	// Back up: the next fetch replaces the keys.
	srv.publish(rsaJWK("b", &k.rsa[1].PublicKey))
	f.ts.Advance(time.Minute)
	f.waitFetches(t, 6)
	if _, err := f.get("b"); err != nil {
		t.Fatal(err)
	}
	if s := f.p.Stats().Sources[0]; s.LastError != "" || s.LastSuccess != f.ts.Now() {
		t.Errorf("source stats after recovery %+v", s)
	}
}

// One failing source does not drop the keys of another.
func TestOneOfTwoSourcesFailing(t *testing.T) {
	k := keys()
	one := newJWKSServer(t, rsaJWK("one-a", &k.rsa[0].PublicKey))
	two := newJWKSServer(t, ecJWK("two-a", &k.ec[0].PublicKey))
	f := newFixture(t, Config{JWKSURLs: []string{one.url(), two.url()}, RefreshInterval: -1})

	two.set(http.StatusInternalServerError, nil)
	one.publish(rsaJWK("one-b", &k.rsa[1].PublicKey))
	if _, err := f.get("one-b"); err != nil {
		t.Fatalf("new key of the working source: %v", err)
	}
	if _, err := f.p.GetKey(context.Background(), token("ES256", "two-a")); err != nil {
		t.Fatalf("last good key of the failing source: %v", err)
	}
	if _, err := f.get("one-a"); err == nil {
		t.Error("key withdrawn by the working source is still served")
	}
	s := f.p.Stats()
	if s.Keys != 2 || s.Sources[0].Failures != 0 || s.Sources[1].Failures != 1 || s.Sources[1].Keys != 1 {
		t.Errorf("stats %+v", s)
	}
}

// Bad answers fail the source: status, size, JSON.
func TestBadResponses(t *testing.T) {
	k := keys()
	good := jwksBody(rsaJWK("a", &k.rsa[0].PublicKey))
	big := jwksBody(rsaJWK("a", &k.rsa[0].PublicKey), rsaJWK("pad", &k.rsa[1].PublicKey))
	for _, tc := range []struct {
		name   string
		status int
		body   []byte
		want   string
	}{
		{"not found", http.StatusNotFound, good, "HTTP status 404"},
		{"server error", http.StatusInternalServerError, nil, "HTTP status 500"},
		{"redirect status without location", http.StatusFound, good, "HTTP status 302"},
		{"oversize", http.StatusOK, big, "larger than 700 bytes"},
		{"HTML", http.StatusOK, []byte("<html>login</html>"), "not a JSON Web Key Set"},
		{"truncated", http.StatusOK, good[:len(good)/2], "not a JSON Web Key Set"},
		{"no keys", http.StatusOK, []byte(`{"error":"tenant not found"}`), `no "keys" array`},
		{"keys not an array", http.StatusOK, []byte(`{"keys":{}}`), "not a JSON Web Key Set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t)
			srv.set(tc.status, tc.body)
			f := newFixture(t, Config{JWKSURLs: []string{srv.url()}, MaxResponseBytes: 700})
			s := f.p.Stats()
			if s.Keys != 0 || s.Sources[0].Failures != 1 || !strings.Contains(s.Sources[0].LastError, tc.want) {
				t.Errorf("stats %+v, want a failure with %q", s, tc.want)
			}
			// The first fetch failed; a token triggers a refetch at once.
			srv.set(http.StatusOK, good)
			if _, err := f.get("a"); err != nil {
				t.Errorf("after recovery: %v", err)
			}
		})
	}
}

func TestFetchTimeout(t *testing.T) {
	srv := newJWKSServer(t)
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	srv.mu.Lock()
	srv.hold = hold
	srv.mu.Unlock()
	began := time.Now()
	f := newFixture(t, Config{JWKSURLs: []string{srv.url()}, FetchTimeout: 100 * time.Millisecond})
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("NewKeyProvider took %v with a hanging source", took)
	}
	if e := f.p.Stats().Sources[0].LastError; !strings.Contains(e, "deadline exceeded") {
		t.Errorf("last error %q, want a timeout", e)
	}
}

func TestSkippedKeys(t *testing.T) {
	k := keys()
	rsaPS := rsaJWK("rsa-ps256", &k.rsa[1].PublicKey)
	rsaPS["alg"] = "PS256"
	enc := rsaJWK("rsa-enc", &k.rsa[1].PublicKey)
	enc["use"] = "enc"
	noKid := rsaJWK("", &k.rsa[1].PublicKey)
	badN := rsaJWK("rsa-bad-n", &k.rsa[1].PublicKey)
	badN["n"] = "!!!"
	offCurve := ecJWK("ec-off-curve", &k.ec[1].PublicKey)
	offCurve["y"] = offCurve["x"]
	srv := newJWKSServer(t,
		rsaJWK("rsa-ok", &k.rsa[0].PublicKey),
		ecJWK("ec-ok", &k.ec[0].PublicKey),
		rsaPS, enc, noKid, badN, offCurve,
		rsaJWK("rsa-1024", &k.weak.PublicKey),
		ecJWK("ec-p384", &k.p384.PublicKey),
		map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "okp", "x": b64(make([]byte, 32))},
		map[string]any{"kty": "oct", "kid": "hmac", "k": b64([]byte("secret"))},
		rsaJWK("rsa-ok", &k.rsa[1].PublicKey), // repeated kid
	)
	f := newFixture(t, Config{JWKSURLs: []string{srv.url()}})
	if s := f.p.Stats(); s.Keys != 2 || s.Sources[0].Failures != 0 {
		t.Fatalf("stats %+v, want 2 keys", s)
	}
	if got, err := f.get("rsa-ok"); err != nil || !k.rsa[0].PublicKey.Equal(got) {
		t.Errorf("rsa-ok: %v, %v (the first of a repeated kid wins)", got, err)
	}
	skipped := map[string]string{}
	for _, e := range f.logged("JWT key skipped") {
		m := e.ContextMap()
		skipped[m["kid"].(string)] = m["reason"].(string)
	}
	for kid, want := range map[string]string{
		"rsa-ps256": "only RS256", "rsa-enc": `use "enc"`, "#4": "no kid", "rsa-bad-n": "modulus",
		"ec-off-curve": "not on the P-256 curve", "rsa-1024": "1024 bits", "ec-p384": `curve "P-384"`,
		"okp": `key type "OKP"`, "hmac": `key type "oct"`, "rsa-ok": "repeats a kid",
	} {
		if !strings.Contains(skipped[kid], want) {
			t.Errorf("skip reason for %s: %q, want %q", kid, skipped[kid], want)
		}
	}
	if len(skipped) != 10 {
		t.Errorf("skipped %d keys, want 10: %v", len(skipped), skipped)
	}
}

func TestSourcesConflictFirstWins(t *testing.T) {
	k := keys()
	one := newJWKSServer(t, rsaJWK("same", &k.rsa[0].PublicKey))
	two := newJWKSServer(t, rsaJWK("same", &k.rsa[1].PublicKey))
	f := newFixture(t, Config{JWKSURLs: []string{one.url(), two.url()}})
	if got, err := f.get("same"); err != nil || !k.rsa[0].PublicKey.Equal(got) {
		t.Errorf("GetKey(same) = %v, %v, want the first source's key", got, err)
	}
	if len(f.logged("published by two sources")) != 1 {
		t.Error("conflict not logged")
	}
}

func TestCloseStopsFetching(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, rsaJWK("a", &k.rsa[0].PublicKey))
	f := newFixture(t, Config{JWKSURLs: []string{srv.url()}, RefreshInterval: time.Minute})
	f.p.Close()
	f.p.Close()
	f.ts.Advance(time.Hour)
	if _, err := f.get("a"); err != nil {
		t.Errorf("a held key after Close: %v", err)
	}
	if _, err := f.get("b"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("unknown kid after Close: %v", err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("JWKS requests: %d, want 1", n)
	}
}

func TestGetKeyContextCancelled(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, rsaJWK("a", &k.rsa[0].PublicKey))
	f := newFixture(t, Config{JWKSURLs: []string{srv.url()}})
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	srv.mu.Lock()
	srv.hold = hold
	srv.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.p.GetKey(ctx, token("RS256", "b"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("GetKey with a cancelled context: %v", err)
	}
}
