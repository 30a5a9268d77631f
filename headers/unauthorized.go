package headers

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// MinRejectInterval is how old a token must be before a rejection by the
// server makes RetryUnauthorized drop it. A caller that truly lacks a
// permission therefore causes at most one new token per interval.
const MinRejectInterval = 10 * time.Second

// RetryUnauthorized returns a dial option for
// client.Options.ConnectionOptions.DialOptions. When the server rejects a
// call's token (PERMISSION_DENIED "Request unauthorized." or
// UNAUTHENTICATED) it drops that token, fetches a new one and retries the
// call once. This recovers at once from a revoked token or a signing key
// withdrawn under a running worker. A call is retried at most once, and
// not at all when the rejected token is younger than MinRejectInterval, so
// a caller without the permission gets the denial, never a loop.
//
// The Temporal server also answers "Request unauthorized." when a valid
// token lacks the permission; such a call costs one extra round trip.
func (p *Provider) RetryUnauthorized() grpc.DialOption {
	return grpc.WithChainUnaryInterceptor(p.retryUnauthorized)
}

func (p *Provider) retryUnauthorized(ctx context.Context, method string, req, reply any,
	cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err == nil || !tokenRejected(err) {
		return err
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	sent := md.Get(p.header)
	if len(sent) == 0 || !p.reject(sent[len(sent)-1]) {
		return err
	}
	h, herr := p.GetHeaders(ctx)
	if herr != nil {
		p.log.Warn("temporalauth: no new token after the server rejected one",
			"source", p.name, "method", method, "error", herr)
		return err
	}
	md = md.Copy()
	for k, v := range h {
		md.Set(k, v)
	}
	return invoker(metadata.NewOutgoingContext(ctx, md), method, req, reply, cc, opts...)
}

// tokenRejected reports whether err is the server refusing credentials.
func tokenRejected(err error) bool {
	s, ok := status.FromError(err)
	if !ok {
		return false
	}
	switch s.Code() {
	case codes.Unauthenticated:
		return true
	case codes.PermissionDenied:
		return strings.HasPrefix(s.Message(), "Request unauthorized")
	}
	return false
}

// reject handles the server's rejection of the header value sent and
// reports whether a retry may send a different token. It drops the cached
// token if that is the one rejected and it is old enough.
func (p *Provider) reject(sent string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cur.Load()
	if c == nil || c.headers[p.header] != sent {
		return true // already replaced: retry with the current token
	}
	now := p.clock.Now()
	if now.Sub(c.fetched) < MinRejectInterval {
		return false
	}
	p.log.Info("temporalauth: server rejected the token; fetching a new one", "source", p.name,
		"age", now.Sub(c.fetched).Round(time.Second), "time_left", timeLeft(c.tok, now).Round(time.Second))
	p.install(nil, now)
	p.retryAt.Store(0)
	return true
}
