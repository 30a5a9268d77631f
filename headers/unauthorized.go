package headers

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/temporalauth/temporalauth/internal/jwtinfo"
)

// MinRejectInterval is how old a token must be before a rejection by the
// server makes RetryUnauthorized ask for a new one, and how long after
// asking it waits before asking again for the same token. A caller that
// truly lacks a permission therefore causes at most one new token per
// interval.
const MinRejectInterval = 10 * time.Second

// RetryUnauthorized returns a dial option for
// client.Options.ConnectionOptions.DialOptions. When the server rejects a
// call's token (PERMISSION_DENIED "Request unauthorized." or
// UNAUTHENTICATED) it fetches a new token and retries the call once with
// it. This recovers at once from a revoked token, a signing key withdrawn
// under a running worker, or a token that expired while the machine slept.
//
// The rejected token is not dropped: every other call keeps getting it
// while the new one is fetched, and keeps getting it if the fetch fails,
// since the server answers "Request unauthorized." as well to a valid
// token that lacks a permission. A source that is an Invalidator is told
// which token was rejected before it is asked for the next. The call is
// retried only with a token that differs from the one rejected; when none
// can be had (the source fails, or returns the same token), the call
// returns the server's original error. A call is retried at most once, and
// not at all when the rejected token is younger than MinRejectInterval, so
// a caller without the permission gets the denial, never a loop; such a
// call costs one extra round trip.
//
// A key rotation is handled first: when the server refuses a token signed
// with a key other than that of the last token it accepted (a key it has
// not fetched yet), the call is retried with that accepted token while it
// is valid, and held and retried until the server accepts the new key
// when it is not; see Options.RotationGrace. The interceptor learns which
// token the server accepted from the calls that succeed, at the cost of
// two atomic loads per call.
func (p *Provider) RetryUnauthorized() grpc.DialOption {
	return grpc.WithChainUnaryInterceptor(p.retryUnauthorized)
}

func (p *Provider) retryUnauthorized(ctx context.Context, method string, req, reply any,
	cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if r := p.rot.Load(); r != nil && r.old != nil && p.probe(r) {
		return p.sendProbe(ctx, r, method, req, reply, cc, invoker, opts...)
	}
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err == nil {
		p.noteSuccess(ctx)
		return nil
	}
	if !tokenRejected(err) {
		return err
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	sent := md.Get(p.header)
	if len(sent) == 0 {
		return err
	}
	return p.refused(ctx, sent[len(sent)-1], method, req, reply, cc, invoker, err, opts...)
}

// refused handles the server's refusal, err, of a call that carried the
// header value sent: as a key rotation (see fallback) when it is one,
// else by retrying once with a replacement token (see replace). It
// returns the call's final error.
func (p *Provider) refused(ctx context.Context, sent, method string, req, reply any,
	cc *grpc.ClientConn, invoker grpc.UnaryInvoker, err error, opts ...grpc.CallOption) error {
	if err2 := p.fallback(ctx, sent, method, req, reply, cc, invoker, err, opts...); err2 != errToday {
		return err2
	}
	c, ok := p.replace(ctx, sent, method)
	if !ok {
		return err
	}
	err = invoker(p.withHeaders(ctx, c), method, req, reply, cc, opts...)
	if err == nil {
		p.accept(c)
	}
	return err
}

// tokenRejected reports whether err is the server refusing credentials.
func tokenRejected(err error) bool {
	_, ok := Rejection(err)
	return ok
}

// Rejection reports whether err is the Temporal server refusing a call's
// credentials: UNAUTHENTICATED, or PERMISSION_DENIED with the message
// "Request unauthorized." (which the server also answers for a valid token
// that lacks the permission). code is the status code's name as the SDK's
// metrics tag it. RetryUnauthorized, package metrics and the rejection
// logs all use it.
func Rejection(err error) (code string, ok bool) {
	if err == nil {
		return "", false
	}
	s, isStatus := status.FromError(err)
	if !isStatus {
		return "", false
	}
	switch s.Code() {
	case codes.Unauthenticated:
		return "UNAUTHENTICATED", true
	case codes.PermissionDenied:
		if strings.HasPrefix(s.Message(), "Request unauthorized") {
			return "PERMISSION_DENIED", true
		}
	}
	return "", false
}

// replace handles the server's rejection of the header value sent. It
// returns the token to retry with, which differs from the one sent, or
// false when the call is not to be retried.
func (p *Provider) replace(ctx context.Context, sent, method string) (*cached, bool) {
	p.mu.Lock()
	c := p.cur.Load()
	if p.closed.Load() {
		p.mu.Unlock()
		return nil, false
	}
	if c == nil || c.headers[p.header] != sent {
		p.mu.Unlock()
		return p.other(ctx, sent, method) // already replaced: retry with the current token
	}
	now := p.now()
	if !c.tok.valid(now) {
		// Served after its expiry: a suspend or a clock step that the
		// wall-clock check has not caught up with yet. Callers now wait
		// for a new token.
		p.gen++
		p.rejected = &c.tok
		c.stale.Store(true)
		p.mu.Unlock()
		p.log.Info("temporalauth: server rejected a token that had expired; fetching a new one",
			"source", p.name, "method", method, "kid", kidOf(c.tok), "expired_for", now.Sub(c.tok.Expiry).Round(time.Second))
		return p.other(ctx, sent, method)
	}
	f := p.flight.Load()
	ask := true
	switch {
	case f != nil && !c.rejectedAt.IsZero() && now.Sub(c.rejectedAt) < MinRejectInterval:
		ask = false // a rejection of this token already asked for a new one: share it
	case now.Sub(c.fetched) < MinRejectInterval || now.Sub(c.rejectedAt) < MinRejectInterval:
		p.mu.Unlock()
		return nil, false
	}
	if ask {
		c.rejectedAt = now
		p.gen++ // a refresh under way asks again, after telling the source
		p.rejected = &c.tok
		if f == nil {
			f, _, _ = p.startLocked(now, true, true) // not closed: checked above under p.mu
		}
	}
	p.mu.Unlock()
	if ask {
		p.log.Info("temporalauth: server rejected the token; fetching a new one while serving it",
			"source", p.name, "method", method, "kid", kidOf(c.tok), "age", now.Sub(c.fetched).Round(time.Second),
			"time_left", timeLeft(c.tok, now).Round(time.Second))
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, false
	case <-p.ctx.Done(): // closed, even if the source ignores cancellation
		return nil, false
	}
	if f.err != nil {
		p.log.Warn("temporalauth: no new token after the server rejected one; the call fails with the server's error",
			"source", p.name, "method", method, "error", f.err)
		return nil, false
	}
	if f.cur.headers[p.header] != sent {
		return f.cur, true
	}
	p.log.Warn("temporalauth: the source returned the token the server rejected; the call fails with the server's error (a source with a cache should implement headers.Invalidator)",
		"source", p.name, "method", method)
	return nil, false
}

// other returns the current token if it differs from the one sent,
// fetching one if needed.
func (p *Provider) other(ctx context.Context, sent, method string) (*cached, bool) {
	c, err := p.current(ctx)
	if err != nil {
		p.log.Warn("temporalauth: no new token after the server rejected one; the call fails with the server's error",
			"source", p.name, "method", method, "error", err)
		return nil, false
	}
	if c.headers[p.header] == sent {
		return nil, false
	}
	return c, true
}

// kidOf returns the kid of a JWT token, read without verifying it, or ""
// for a token that is not a JWT or has none.
func kidOf(tok Token) string {
	info, _ := jwtinfo.Read(tok.Value())
	return info.KeyID
}
