package headers_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/headers/clocktest"
	"github.com/temporalauth/temporalauth/internal/jwtinfo"
)

// jwt returns an unsigned JWT-shaped token with the kid, numbered n so
// that each is distinct.
func jwt(kid string, n int64) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"ES256","kid":"`+kid+`"}`)) + "." + enc([]byte(fmt.Sprintf(`{"sub":"worker","n":%d}`, n))) + ".sig"
}

// keySource signs each token it returns with its current kid; each lives
// lifetime on clock.
type keySource struct {
	clock    *clocktest.Clock
	lifetime time.Duration
	mu       sync.Mutex
	kid      string
	calls    atomic.Int64
}

func (s *keySource) Token(context.Context) (Token, error) {
	n := s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	return NewToken(jwt(s.kid, n), s.clock.Now().Add(s.lifetime)), nil
}

func (s *keySource) rotate(kid string) {
	s.mu.Lock()
	s.kid = kid
	s.mu.Unlock()
}

// keyServer is a stock server: it accepts a token whose kid is in the keys
// it has fetched, and records the kid of each attempt.
type keyServer struct {
	mu    sync.Mutex
	keys  map[string]bool
	kids  []string
	calls int
}

func newKeyServer(kids ...string) *keyServer {
	s := &keyServer{keys: map[string]bool{}}
	for _, k := range kids {
		s.keys[k] = true
	}
	return s
}

func (s *keyServer) set(kids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = map[string]bool{}
	for _, k := range kids {
		s.keys[k] = true
	}
}

func (s *keyServer) invoke(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
	md, _ := metadata.FromOutgoingContext(ctx)
	h := md.Get("authorization")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if len(h) == 0 {
		s.kids = append(s.kids, "none")
		return unauthorized
	}
	info, _ := jwtinfo.Read(strings.TrimPrefix(h[len(h)-1], "Bearer "))
	s.kids = append(s.kids, info.KeyID)
	if !s.keys[info.KeyID] {
		return unauthorized
	}
	return nil
}

// attempts returns the kids sent since the last call, and forgets them.
func (s *keyServer) attempts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.kids
	s.kids = nil
	return k
}

// rpc makes one call as the SDK does: GetHeaders, then the interceptor.
func rpc(ctx context.Context, p *Provider, srv *keyServer) error {
	h, err := p.GetHeaders(ctx)
	if err != nil {
		return err
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", h["authorization"])
	return p.Interceptor()(ctx, "/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution",
		nil, nil, nil, srv.invoke)
}

func servedKid(t *testing.T, p *Provider) string {
	t.Helper()
	info, _ := jwtinfo.Read(strings.TrimPrefix(mustHeader(t, p), "Bearer "))
	return info.KeyID
}

func wantKids(t *testing.T, srv *keyServer, want ...string) {
	t.Helper()
	if got := srv.attempts(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("attempts carried kids %q, want %q", got, want)
	}
}

// rotationEvents collects RotationEvents.
type rotationEvents struct {
	mu  sync.Mutex
	evs []headers.RotationEvent
}

func (r *rotationEvents) add(ev headers.RotationEvent) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

func (r *rotationEvents) kinds() []headers.RotationKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var k []headers.RotationKind
	for _, ev := range r.evs {
		k = append(k, ev.Kind)
	}
	return k
}

func (r *rotationEvents) last(kind headers.RotationKind) (headers.RotationEvent, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.evs) - 1; i >= 0; i-- {
		if r.evs[i].Kind == kind {
			return r.evs[i], true
		}
	}
	return headers.RotationEvent{}, false
}

// rotated returns a Provider whose first token (kid k1, lifetime on the
// clock) the server accepted, and which has renewed into a token signed
// with k2 that the server does not know yet.
func rotated(t *testing.T, lifetime time.Duration, opts Options) (*Provider, *clocktest.Clock, *keySource, *keyServer, *rotationEvents) {
	t.Helper()
	c := clocktest.New()
	src := &keySource{clock: c, lifetime: lifetime, kid: "k1"}
	srv := newKeyServer("k1")
	rot := &rotationEvents{}
	opts.OnRotation = rot.add
	p, ev := newTestProvider(t, src, c, opts)
	if err := rpc(context.Background(), p, srv); err != nil {
		t.Fatalf("first call: %v", err)
	}
	ev.next(t)
	src.rotate("k2")
	st := p.Stats()
	c.Advance(st.TimeLeft - min(headers.MaxDefaultLeeway, lifetime/4)) // to the renewal point (default leeway, no jitter)
	if got := servedKid(t, p); got != "k1" {
		t.Fatalf("at the renewal point served %s, want k1 while the renewal runs", got)
	}
	ev.next(t)
	if got := servedKid(t, p); got != "k2" {
		t.Fatalf("after the renewal served %s, want k2", got)
	}
	wantKids(t, srv, "k1")
	return p, c, src, srv, rot
}

func TestRotationGraceServesAcceptedTokenUntilServerAcceptsNewKey(t *testing.T) {
	var logs syncBuffer
	p, c, _, srv, rot := rotated(t, time.Hour, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()

	// The server refuses k2: the call is retried with the k1 token, which
	// is served from now on.
	if err := rpc(ctx, p, srv); err != nil {
		t.Fatalf("call refused for k2: %v, want it saved by the accepted token", err)
	}
	wantKids(t, srv, "k2", "k1")
	if got := servedKid(t, p); got != "k1" {
		t.Errorf("during the grace served %s, want k1", got)
	}
	for range 3 {
		if err := rpc(ctx, p, srv); err != nil {
			t.Fatal(err)
		}
	}
	wantKids(t, srv, "k1", "k1", "k1")

	// One call per RotationProbeInterval tries k2, and falls back.
	c.Advance(headers.RotationProbeInterval)
	if err := rpc(ctx, p, srv); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if err := rpc(ctx, p, srv); err != nil {
		t.Fatal(err)
	}
	wantKids(t, srv, "k2", "k1", "k1")
	if st := p.Stats(); !st.Rotating || st.SavedCalls != 2 {
		t.Errorf("Stats: Rotating=%v SavedCalls=%d, want true, 2", st.Rotating, st.SavedCalls)
	}

	// The server fetches its JWKS: the next probe is accepted and k2 is
	// served from then on.
	srv.set("k1", "k2")
	c.Advance(headers.RotationProbeInterval)
	if err := rpc(ctx, p, srv); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if err := rpc(ctx, p, srv); err != nil {
		t.Fatal(err)
	}
	wantKids(t, srv, "k2", "k2")
	if got := servedKid(t, p); got != "k2" {
		t.Errorf("after the grace served %s, want k2", got)
	}
	if st := p.Stats(); st.Rotating {
		t.Error("Stats: Rotating after the server accepted k2")
	}
	ended, ok := rot.last(headers.GraceEnded)
	if !ok || ended.Reason != headers.ReasonAccepted || ended.OldKid != "k1" || ended.NewKid != "k2" ||
		ended.Took != 2*headers.RotationProbeInterval {
		t.Errorf("GraceEnded event %+v, want k1 -> k2 after %v, accepted", ended, 2*headers.RotationProbeInterval)
	}
	for _, want := range []string{
		`msg="temporalauth: rotation grace started`,
		`old_kid=k1 new_kid=k2`,
		`msg="temporalauth: rotation grace ended" source=`,
		`lasted=20s reason="the server accepted the new key"`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestRotationGraceNeverServesExpiredToken(t *testing.T) {
	// Tokens of 8 minutes: the default leeway is 2 minutes, so the k1
	// token has 2 minutes left at the renewal.
	p, c, _, srv, rot := rotated(t, 8*time.Minute, Options{})
	ctx := context.Background()
	if err := rpc(ctx, p, srv); err != nil {
		t.Fatal(err)
	}
	wantKids(t, srv, "k2", "k1")

	// The machine sleeps past the k1 token's expiry: its timers stand
	// still. A refused call is not retried with the expired token.
	c.Jump(2*time.Minute + time.Second)
	hctx, cancel := context.WithCancel(ctx)
	cancel() // the hold ends at once: this test is about the fallback
	err := rpc(hctx, p, srv)
	if err == nil {
		t.Fatal("call succeeded, want it refused")
	}
	for _, k := range srv.attempts() {
		if k == "k1" {
			t.Fatalf("an attempt carried the expired k1 token")
		}
	}
	if got := servedKid(t, p); got != "k2" {
		t.Errorf("after the accepted token expired served %s, want k2", got)
	}
	if ev, ok := rot.last(headers.GraceEnded); !ok || ev.Reason != headers.ReasonExpired {
		t.Errorf("GraceEnded %+v, want reason %q", ev, headers.ReasonExpired)
	}
}

func TestRotationGraceEndsAtExpiryOnTimers(t *testing.T) {
	p, c, _, srv, _ := rotated(t, 8*time.Minute, Options{})
	if err := rpc(context.Background(), p, srv); err != nil {
		t.Fatal(err)
	}
	srv.attempts()
	c.Advance(2*time.Minute - time.Millisecond)
	if got := servedKid(t, p); got != "k1" {
		t.Fatalf("just before its expiry served %s, want k1", got)
	}
	c.Advance(time.Millisecond)
	if got := servedKid(t, p); got != "k2" {
		t.Errorf("at the k1 token's expiry served %s, want k2", got)
	}
}

func TestSameKidRefusalNeverFallsBack(t *testing.T) {
	c := clocktest.New()
	src := &keySource{clock: c, lifetime: time.Hour, kid: "k1"}
	srv := newKeyServer("k1")
	p, ev := newTestProvider(t, src, c, Options{})
	if err := rpc(context.Background(), p, srv); err != nil {
		t.Fatal(err)
	}
	ev.next(t)
	c.Advance(55 * time.Minute)
	mustHeader(t, p)
	ev.next(t)
	srv.attempts()
	// A permission removed: the server refuses every token of k1 now.
	srv.set()
	if err := rpc(context.Background(), p, srv); err == nil {
		t.Fatal("call succeeded, want the server's refusal")
	}
	wantKids(t, srv, "k1") // the renewed token is young: no retry, as before
	if st := p.Stats(); st.Rotating || st.SavedCalls != 0 || st.HeldCalls != 0 {
		t.Errorf("Stats %+v, want no grace, no saved or held call", st)
	}
}

func TestWithdrawnKeyRefusedBothWaysFailsAtOnce(t *testing.T) {
	p, _, _, srv, rot := rotated(t, time.Hour, Options{})
	srv.set() // k1 withdrawn; k2 not fetched yet
	err := rpc(context.Background(), p, srv)
	if err == nil {
		t.Fatal("call succeeded")
	}
	wantKids(t, srv, "k2", "k1")
	if ev, ok := rot.last(headers.GraceEnded); !ok || ev.Reason != headers.ReasonRefused {
		t.Errorf("GraceEnded %+v, want reason %q", ev, headers.ReasonRefused)
	}
	// No grace and no hold after: the next call fails at once.
	if err := rpc(context.Background(), p, srv); err == nil {
		t.Fatal("call succeeded")
	}
	wantKids(t, srv, "k2")
	if st := p.Stats(); st.Rotating || st.HeldCalls != 0 {
		t.Errorf("Stats %+v, want no grace or hold", st)
	}
}

// heldCall runs rpc in a goroutine and waits until it sleeps in a hold.
func heldCall(t *testing.T, ctx context.Context, p *Provider, srv *keyServer, c *clocktest.Clock) <-chan error {
	t.Helper()
	pending := c.Pending()
	done := make(chan error, 1)
	go func() { done <- rpc(ctx, p, srv) }()
	deadline := time.Now().Add(5 * time.Second)
	for c.Pending() <= pending {
		select {
		case err := <-done:
			t.Fatalf("call returned %v, want it held", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the call was not held within 5s")
		}
		time.Sleep(time.Millisecond)
	}
	return done
}

// expiredRotation returns a Provider whose accepted k1 token has expired
// while the server still refuses k2.
func expiredRotation(t *testing.T, opts Options) (*Provider, *clocktest.Clock, *keyServer, *rotationEvents) {
	t.Helper()
	opts.WallClockCheck = -1 // no timers but the holds'
	p, c, _, srv, rot := rotated(t, 4*time.Minute, opts)
	if err := rpc(context.Background(), p, srv); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute) // the k1 token expires
	if got := servedKid(t, p); got != "k2" {
		t.Fatalf("served %s, want k2", got)
	}
	srv.attempts()
	return p, c, srv, rot
}

func TestRefusedCallIsHeldUntilServerAcceptsNewKey(t *testing.T) {
	p, c, srv, rot := expiredRotation(t, Options{})
	done := heldCall(t, context.Background(), p, srv, c)
	wantKids(t, srv, "k2")
	c.Advance(20 * time.Second) // backoffs of about 1, 2, 4, 8 s
	blocked(t, done, "held call")
	srv.set("k2") // the server fetches its JWKS
	// Up to 80 s of clock (well inside the 2m grace), so that a held
	// goroutine slowed down by -race on a loaded machine still sees its
	// backoff timer fire.
	for i := 0; i < 80; i++ {
		c.Advance(time.Second)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("held call: %v", err)
			}
			if st := p.Stats(); st.HeldCalls != 1 || st.Rotating {
				t.Errorf("Stats HeldCalls=%d Rotating=%v, want 1, false", st.HeldCalls, st.Rotating)
			}
			if ev, ok := rot.last(headers.CallHeld); !ok || !ev.Ended || ev.Err != nil || ev.Took <= 20*time.Second {
				t.Errorf("CallHeld %+v, want success after more than 20s", ev)
			}
			if ev, ok := rot.last(headers.HoldEnded); !ok || ev.Reason != headers.ReasonAccepted {
				t.Errorf("HoldEnded %+v, want reason %q", ev, headers.ReasonAccepted)
			}
			// Later calls go straight through.
			srv.attempts()
			if err := rpc(context.Background(), p, srv); err != nil {
				t.Fatal(err)
			}
			wantKids(t, srv, "k2")
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("held call did not end after the server accepted k2")
}

func TestHoldEndsAfterRotationGrace(t *testing.T) {
	p, c, srv, rot := expiredRotation(t, Options{RotationGrace: 30 * time.Second})
	done := heldCall(t, context.Background(), p, srv, c)
	for i := 0; i < 120; i++ {
		c.Advance(time.Second)
		select {
		case err := <-done:
			if !errors.Is(err, unauthorized) {
				t.Fatalf("held call returned %v, want the server's refusal", err)
			}
			if ev, ok := rot.last(headers.HoldEnded); !ok || ev.Reason != headers.ReasonTimeout {
				t.Errorf("HoldEnded %+v, want reason %q", ev, headers.ReasonTimeout)
			}
			// Then calls fail as before (the token is old enough for
			// one retry with a new one), with no hold.
			if err := rpc(context.Background(), p, srv); err == nil {
				t.Fatal("call succeeded")
			}
			if st := p.Stats(); st.HeldCalls != 1 || st.Rotating {
				t.Errorf("Stats HeldCalls=%d Rotating=%v, want 1, false", st.HeldCalls, st.Rotating)
			}
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("held call outlived RotationGrace")
}

func TestHoldEndsWithCallContext(t *testing.T) {
	p, c, srv, _ := expiredRotation(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := heldCall(t, ctx, p, srv, c)
	cancel()
	if err := recv(t, done, "held call's end"); !errors.Is(err, unauthorized) {
		t.Errorf("held call returned %v, want the server's refusal", err)
	}
}

func TestHoldEndsWithClose(t *testing.T) {
	p, c, srv, _ := expiredRotation(t, Options{})
	done := heldCall(t, context.Background(), p, srv, c)
	p.Close()
	if err := recv(t, done, "held call's end"); err == nil {
		t.Error("held call succeeded after Close")
	}
}

func TestNegativeRotationGraceKeepsOldBehaviour(t *testing.T) {
	p, _, _, srv, _ := rotated(t, time.Hour, Options{RotationGrace: -1})
	if err := rpc(context.Background(), p, srv); err == nil {
		t.Fatal("call succeeded with the grace off")
	}
	wantKids(t, srv, "k2")
}

func TestFirstTokenRefusedIsNotHeld(t *testing.T) {
	// A misconfiguration (a key the server never had) fails at once: no
	// token was ever accepted, so this is no rotation.
	c := clocktest.New()
	src := &keySource{clock: c, lifetime: time.Hour, kid: "k1"}
	srv := newKeyServer()
	p, _ := newTestProvider(t, src, c, Options{})
	if err := rpc(context.Background(), p, srv); err == nil {
		t.Fatal("call succeeded")
	}
	wantKids(t, srv, "k1")
	if st := p.Stats(); st.HeldCalls != 0 || st.Rotating {
		t.Errorf("Stats %+v, want no hold", st)
	}
}

func TestConcurrentCallsDuringRotation(t *testing.T) {
	p, c, _, srv, _ := rotated(t, time.Hour, Options{})
	var wg sync.WaitGroup
	var failed atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := rpc(context.Background(), p, srv); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 5; i++ {
		c.Advance(headers.RotationProbeInterval)
	}
	srv.set("k1", "k2")
	c.Advance(headers.RotationProbeInterval)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d calls failed during the rotation", n)
	}
	if err := rpc(context.Background(), p, srv); err != nil {
		t.Fatal(err)
	}
	c.Advance(headers.RotationProbeInterval)
	if err := rpc(context.Background(), p, srv); err != nil {
		t.Fatal(err)
	}
	if got := servedKid(t, p); got != "k2" {
		t.Errorf("served %s after the server accepted k2", got)
	}
}

// A call refused with an earlier token of the new key, sent before the
// Provider fetched a later one, starts the grace as well.
func TestRotationGraceForEarlierTokenOfNewKey(t *testing.T) {
	p, _, _, srv, _ := rotated(t, time.Hour, Options{})
	earlier := mustHeader(t, p)
	p.Invalidate()
	if later := mustHeader(t, p); later == earlier {
		t.Fatal("no new token after Invalidate")
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", earlier)
	if err := p.Interceptor()(ctx, "/m", nil, nil, nil, srv.invoke); err != nil {
		t.Fatalf("call refused for an earlier k2 token: %v, want it saved by the k1 token", err)
	}
	wantKids(t, srv, "k2", "k1")
	if got := servedKid(t, p); got != "k1" {
		t.Errorf("during the grace served %s, want k1", got)
	}
}

// Timers running ahead of the wall clock (a clock stepped back) do not end
// the grace: the accepted token is judged on the wall clock.
func TestRotationGraceOnWallClockNotTimers(t *testing.T) {
	p, c, _, srv, _ := rotated(t, 8*time.Minute, Options{})
	if err := rpc(context.Background(), p, srv); err != nil {
		t.Fatal(err)
	}
	c.Tick(10 * time.Minute) // the k1 token's 2 minutes pass on the timers only
	if got := servedKid(t, p); got != "k1" {
		t.Errorf("after timers ran ahead, served %s, want k1 (valid on the wall clock)", got)
	}
	if st := p.Stats(); !st.Rotating {
		t.Error("the grace ended on timer time")
	}
}

// A probe that the server refuses after its grace has ended (another call
// found the accepted token refused too: a key withdrawn) fails with the
// server's refusal, after the usual retry with a new token; the grace's
// internal "not a rotation" result never reaches the caller.
func TestProbeRefusedAfterGraceEndedReturnsServersError(t *testing.T) {
	p, c, _, srv, _ := rotated(t, time.Hour, Options{})
	if err := rpc(context.Background(), p, srv); err != nil { // k2 refused, saved by k1: the grace starts
		t.Fatal(err)
	}
	k1 := mustHeader(t, p) // served during the grace
	c.Advance(headers.RotationProbeInterval)
	probed := false
	invoke := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		md, _ := metadata.FromOutgoingContext(ctx)
		if h := md.Get("authorization"); !probed && len(h) > 0 && h[len(h)-1] != k1 {
			probed = true
			// While the probe is on the wire, the server withdraws every
			// key and another call, refused with k1, ends the grace.
			srv.set()
			other := metadata.AppendToOutgoingContext(context.Background(), "authorization", k1)
			if err := p.Interceptor()(other, method, nil, nil, nil, srv.invoke); err == nil {
				t.Error("a call with k1 succeeded after every key was withdrawn")
			}
		}
		return srv.invoke(ctx, method, req, reply, cc, opts...)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", k1)
	err := p.Interceptor()(ctx, "/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution", nil, nil, nil, invoke)
	if !probed {
		t.Fatal("the call was not a probe")
	}
	if _, ok := headers.Rejection(err); !ok {
		t.Fatalf("probe refused after the grace ended: %v, want the server's refusal", err)
	}
}
