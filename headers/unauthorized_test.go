package headers

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// server is a fake invoker that answers each call with the next error of
// its script and records the authorization header each attempt carried.
type server struct {
	script []error
	sent   []string
}

func (s *server) invoke(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
	md, _ := metadata.FromOutgoingContext(ctx)
	s.sent = append(s.sent, md.Get("authorization")...)
	if len(s.script) == 0 {
		return nil
	}
	err := s.script[0]
	s.script = s.script[1:]
	return err
}

var unauthorized = status.Error(codes.PermissionDenied, "Request unauthorized.")

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
			c := newClock()
			src := &source{clock: c, lifetime: time.Hour}
			p, _ := newTestProvider(t, src, c, Options{})
			h := mustHeader(t, p)
			c.Advance(tc.age)
			ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", h, "other", "kept")
			srv := &server{script: tc.script}
			err := p.retryUnauthorized(ctx, "/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution",
				nil, nil, nil, srv.invoke)
			if got := status.Code(err); got != tc.wantErr {
				t.Errorf("error %v, want code %s", err, tc.wantErr)
			}
			if len(srv.sent) != len(tc.wantSent) {
				t.Fatalf("attempts sent %q, want %q", srv.sent, tc.wantSent)
			}
			for i := range srv.sent {
				if srv.sent[i] != tc.wantSent[i] {
					t.Errorf("attempt %d sent %q, want %q", i, srv.sent[i], tc.wantSent[i])
				}
			}
			if n := src.calls.Load(); n != tc.wantCalls {
				t.Errorf("source called %d times, want %d", n, tc.wantCalls)
			}
		})
	}
}

func TestRetryUnauthorizedUsesTokenAlreadyReplaced(t *testing.T) {
	c := newClock()
	src := &source{clock: c, lifetime: time.Hour}
	p, _ := newTestProvider(t, src, c, Options{})
	old := mustHeader(t, p)
	p.Invalidate()
	current := mustHeader(t, p) // another caller already fetched token-2
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", old)
	srv := &server{script: []error{unauthorized}}
	if err := p.retryUnauthorized(ctx, "/m", nil, nil, nil, srv.invoke); err != nil {
		t.Fatal(err)
	}
	if len(srv.sent) != 2 || srv.sent[1] != current {
		t.Errorf("sent %q, want the retry to carry %q", srv.sent, current)
	}
	if n := src.calls.Load(); n != 2 {
		t.Errorf("source called %d times, want 2: the young replacement must be kept", n)
	}
	if p.RetryUnauthorized() == nil {
		t.Error("no dial option")
	}
}
