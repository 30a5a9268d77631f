package headers_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/headers/clocktest"
)

// server is a fake invoker that answers each call with the next error of
// its script and records the authorization header each attempt carried.
type server struct {
	mu     sync.Mutex
	script []error
	sent   []string
}

func (s *server) invoke(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
	md, _ := metadata.FromOutgoingContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, md.Get("authorization")...)
	if len(s.script) == 0 {
		return nil
	}
	err := s.script[0]
	s.script = s.script[1:]
	return err
}

var unauthorized = status.Error(codes.PermissionDenied, "Request unauthorized.")

// call runs one RPC through p's RetryUnauthorized interceptor against srv,
// sending header h as the SDK would.
func call(p *Provider, srv *server, h string) error {
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", h, "other", "kept")
	return p.Interceptor()(ctx, "/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution",
		nil, nil, nil, srv.invoke)
}

func wantSent(t *testing.T, srv *server, want ...string) {
	t.Helper()
	if len(srv.sent) != len(want) {
		t.Fatalf("attempts sent %q, want %q", srv.sent, want)
	}
	for i := range srv.sent {
		if srv.sent[i] != want[i] {
			t.Errorf("attempt %d sent %q, want %q", i, srv.sent[i], want[i])
		}
	}
}

func TestRetryUnauthorized(t *testing.T) {
	for _, tc := range []struct {
		name      string
		age       time.Duration // of the token when the call fails
		script    []error
		wantErr   codes.Code
		wantSent  []string
		wantCalls int64 // to the source
	}{
		{"rejected old token is replaced", time.Minute, []error{unauthorized},
			codes.OK, []string{"Bearer token-1", "Bearer token-2"}, 2},
		{"unauthenticated too", time.Minute, []error{status.Error(codes.Unauthenticated, "bad token")},
			codes.OK, []string{"Bearer token-1", "Bearer token-2"}, 2},
		{"retried at most once", time.Minute, []error{unauthorized, unauthorized},
			codes.PermissionDenied, []string{"Bearer token-1", "Bearer token-2"}, 2},
		{"young token is not dropped", time.Second, []error{unauthorized},
			codes.PermissionDenied, []string{"Bearer token-1"}, 1},
		{"other denials pass through", time.Minute, []error{status.Error(codes.PermissionDenied, "namespace is not active")},
			codes.PermissionDenied, []string{"Bearer token-1"}, 1},
		{"other errors pass through", time.Minute, []error{status.Error(codes.Unavailable, "down")},
			codes.Unavailable, []string{"Bearer token-1"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clocktest.New()
			src := &source{clock: c, lifetime: time.Hour}
			p, _ := newTestProvider(t, src, c, Options{})
			h := mustHeader(t, p)
			c.Advance(tc.age)
			srv := &server{script: tc.script}
			err := call(p, srv, h)
			if got := status.Code(err); got != tc.wantErr {
				t.Errorf("error %v, want code %s", err, tc.wantErr)
			}
			wantSent(t, srv, tc.wantSent...)
			if n := src.calls.Load(); n != tc.wantCalls {
				t.Errorf("source called %d times, want %d", n, tc.wantCalls)
			}
		})
	}
}

func TestRetryUnauthorizedUsesTokenAlreadyReplaced(t *testing.T) {
	c := clocktest.New()
	src := &source{clock: c, lifetime: time.Hour}
	p, _ := newTestProvider(t, src, c, Options{})
	old := mustHeader(t, p)
	p.Invalidate()
	current := mustHeader(t, p) // another caller already fetched token-2
	srv := &server{script: []error{unauthorized}}
	if err := call(p, srv, old); err != nil {
		t.Fatal(err)
	}
	wantSent(t, srv, old, current)
	if n := src.calls.Load(); n != 2 {
		t.Errorf("source called %d times, want 2: the young replacement must be kept", n)
	}
	if p.RetryUnauthorized() == nil {
		t.Error("no dial option")
	}
}

// A rejection while the identity provider is down: the server may have
// refused a good token for a missing permission, so the token is kept and
// served to every other call, and the rejected call gets the server's own
// error.
func TestRejectionKeepsValidTokenWhileSourceFails(t *testing.T) {
	c := clocktest.New()
	src := &source{clock: c, lifetime: time.Hour}
	p, ev := newTestProvider(t, src, c, Options{})
	h := mustHeader(t, p)
	ev.next(t)
	c.Advance(time.Minute)

	src.fail(errors.New("identity provider down"))
	src.gate = make(chan struct{})
	src.entered = make(chan int64, 10)
	srv := &server{script: []error{unauthorized}}
	done := make(chan error, 1)
	go func() { done <- call(p, srv, h) }()
	recv(t, src.entered, "refresh after the rejection")
	// While the replacement is fetched, every other call gets the token.
	if got := mustHeader(t, p); got != h {
		t.Fatalf("during the refresh got %q, want the rejected but valid %q", got, h)
	}
	src.gate <- struct{}{}
	err := recv(t, done, "rejected call")
	if err != unauthorized {
		t.Fatalf("rejected call returned %v, want the server's own error", err)
	}
	wantSent(t, srv, h)
	if e := ev.next(t); e.Err == nil || !e.Background {
		t.Errorf("event %+v, want a failed background refresh", e)
	}
	if got := mustHeader(t, p); got != h {
		t.Fatalf("after the failed refresh got %q, want the still-valid %q", got, h)
	}
	if s := p.Stats(); !s.HasToken || s.TimeLeft != 59*time.Minute {
		t.Errorf("stats = %+v, want the token with 59 minutes left", s)
	}

	// A second rejection right after does not call the source again.
	srv2 := &server{script: []error{unauthorized}}
	if err := call(p, srv2, h); err != unauthorized {
		t.Fatalf("second rejected call returned %v", err)
	}
	if n := src.calls.Load(); n != 2 {
		t.Errorf("source called %d times, want 2", n)
	}
}

// cachingSource hands back its cached token until told it was rejected,
// as MSAL does until 5 minutes before expiry.
type cachingSource struct {
	clock       *clocktest.Clock
	invalidator bool
	mu          sync.Mutex
	cur         Token
	n           int
	rejected    []Token
	calls       atomic.Int64
}

func (s *cachingSource) Token(context.Context) (Token, error) {
	s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur.Value() == "" {
		s.n++
		s.cur = NewToken("cached-"+string(rune('0'+s.n)), s.clock.Now().Add(time.Hour))
	}
	return s.cur, nil
}

func (s *cachingSource) invalidate(rejected Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected = append(s.rejected, rejected)
	if rejected.Value() == s.cur.Value() {
		s.cur = Token{}
	}
}

type invalidatingSource struct{ *cachingSource }

func (s invalidatingSource) InvalidateToken(_ context.Context, rejected Token) {
	s.invalidate(rejected)
}

var _ headers.Invalidator = invalidatingSource{}

func TestRetryCarriesADifferentToken(t *testing.T) {
	t.Run("Invalidator", func(t *testing.T) {
		c := clocktest.New()
		cs := &cachingSource{clock: c}
		p, _ := newTestProvider(t, invalidatingSource{cs}, c, Options{})
		h := mustHeader(t, p)
		c.Advance(time.Minute)
		srv := &server{script: []error{unauthorized}}
		if err := call(p, srv, h); err != nil {
			t.Fatalf("retried call: %v", err)
		}
		wantSent(t, srv, "Bearer cached-1", "Bearer cached-2")
		if len(cs.rejected) != 1 || cs.rejected[0].Value() != "cached-1" {
			t.Errorf("source told of %v, want the rejected cached-1", cs.rejected)
		}
		if got := mustHeader(t, p); got != "Bearer cached-2" {
			t.Errorf("served %q after the retry, want cached-2", got)
		}
	})
	t.Run("Invalidate", func(t *testing.T) {
		c := clocktest.New()
		cs := &cachingSource{clock: c}
		p, _ := newTestProvider(t, invalidatingSource{cs}, c, Options{})
		mustHeader(t, p)
		p.Invalidate()
		if got := mustHeader(t, p); got != "Bearer cached-2" {
			t.Errorf("served %q after Invalidate, want cached-2", got)
		}
		if len(cs.rejected) != 1 || cs.rejected[0].Value() != "cached-1" {
			t.Errorf("source told of %v, want the invalidated cached-1", cs.rejected)
		}
	})
	t.Run("no Invalidator", func(t *testing.T) {
		// The source hands back the rejected token: no retry, the server's
		// error, and the token kept.
		c := clocktest.New()
		cs := &cachingSource{clock: c}
		p, _ := newTestProvider(t, cs, c, Options{})
		h := mustHeader(t, p)
		c.Advance(time.Minute)
		srv := &server{script: []error{unauthorized}}
		if err := call(p, srv, h); err != unauthorized {
			t.Fatalf("got %v, want the server's error", err)
		}
		wantSent(t, srv, h)
		if n := cs.calls.Load(); n != 2 {
			t.Errorf("source called %d times, want 2", n)
		}
		if got := mustHeader(t, p); got != h {
			t.Errorf("served %q, want %q", got, h)
		}
	})
}

// Concurrent rejections of the same token share one new token.
func TestConcurrentRejectionsShareOneRefresh(t *testing.T) {
	c := clocktest.New()
	src := &source{clock: c, lifetime: time.Hour}
	p, _ := newTestProvider(t, src, c, Options{})
	h := mustHeader(t, p)
	c.Advance(time.Minute)
	src.gate = make(chan struct{})
	src.entered = make(chan int64, 10)
	const n = 20
	servers := make([]*server, n)
	errs := make(chan error, n)
	for i := range servers {
		servers[i] = &server{script: []error{unauthorized}}
	}
	go func() { errs <- call(p, servers[0], h) }()
	recv(t, src.entered, "refresh")
	for _, srv := range servers[1:] {
		go func() { errs <- call(p, srv, h) }()
	}
	time.Sleep(20 * time.Millisecond) // let them join the refresh
	src.gate <- struct{}{}
	for range n {
		if err := recv(t, errs, "call"); err != nil {
			t.Errorf("call: %v", err)
		}
	}
	for _, srv := range servers {
		wantSent(t, srv, h, "Bearer token-2")
	}
	if n := src.calls.Load(); n != 2 {
		t.Errorf("source called %d times, want 2", n)
	}
}
