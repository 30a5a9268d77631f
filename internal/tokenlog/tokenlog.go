// Package tokenlog makes key rotations and rejected tokens visible in
// logs: an Info record per new token with its kid, issuer and expiry, an
// Info record when the kid changes, and a Warn record naming the kid of
// each token the server refuses. Records never hold a token.
//
// It works from outside headers.Provider: Source wraps the token source,
// and DialOption watches the calls.
package tokenlog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/jwtinfo"
	"github.com/temporalauth/temporalauth/metrics"
)

// Source returns a TokenSource that logs each new token src returns. name
// identifies src in the records (its String when empty). The returned
// source describes itself as src does, passes InvalidateToken on to src
// when src has it, and closes src if src is an io.Closer.
func Source(src headers.TokenSource, name string, log *slog.Logger) headers.TokenSource {
	if name == "" {
		name = describe(src)
	}
	if log == nil {
		log = slog.Default()
	}
	return &source{src: src, name: name, log: log}
}

type source struct {
	src  headers.TokenSource
	name string
	log  *slog.Logger

	mu      sync.Mutex
	last    string // the last token seen, to tell a new one from a cached one
	lastKid string
	seen    bool
}

// Token calls the wrapped source and logs a token it has not returned
// before.
func (s *source) Token(ctx context.Context) (headers.Token, error) {
	tok, err := s.src.Token(ctx)
	if err != nil {
		return tok, err
	}
	s.mu.Lock()
	if tok.Value == s.last {
		s.mu.Unlock()
		return tok, nil
	}
	info, isJWT := jwtinfo.Read(tok.Value)
	prevKid, hadOne := s.lastKid, s.seen
	s.last, s.lastKid, s.seen = tok.Value, info.KeyID, true
	s.mu.Unlock()

	attrs := []any{"source", s.name}
	if isJWT {
		attrs = append(attrs, "kid", info.KeyID)
		if info.Issuer != "" {
			attrs = append(attrs, "iss", info.Issuer)
		}
		if info.Subject != "" {
			attrs = append(attrs, "sub", info.Subject)
		}
	}
	attrs = append(attrs, "expiry", expiry(tok.Expiry))
	s.log.Info("temporalauth: new token", attrs...)
	if hadOne && isJWT && info.KeyID != prevKid {
		s.log.Info("temporalauth: signing key changed", "source", s.name, "old_kid", prevKid, "new_kid", info.KeyID)
	}
	return tok, nil
}

// InvalidateToken tells the wrapped source, if it caches, that the server
// rejected tok.
func (s *source) InvalidateToken(ctx context.Context, tok headers.Token) {
	if inv, ok := s.src.(interface {
		InvalidateToken(context.Context, headers.Token)
	}); ok {
		inv.InvalidateToken(ctx, tok)
	}
}

// Close closes the wrapped source if it is an io.Closer.
func (s *source) Close() error {
	if c, ok := s.src.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// String describes the wrapped source.
func (s *source) String() string { return describe(s.src) }

// LogValue describes the wrapped source for log/slog.
func (s *source) LogValue() slog.Value {
	if v, ok := s.src.(slog.LogValuer); ok {
		return v.LogValue()
	}
	return slog.StringValue(describe(s.src))
}

func describe(src headers.TokenSource) string {
	if st, ok := src.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprintf("%T", src)
}

func expiry(t time.Time) any {
	if t.IsZero() {
		return "never"
	}
	return t.UTC()
}

// DialOption returns a dial option that logs at Warn each call the server
// refuses for its credentials (see metrics.Rejection), with the kid, issuer
// and expiry of the token the call sent in header (lowercase; empty means
// headers.DefaultHeader). name identifies the provider in the records.
func DialOption(name, header string, log *slog.Logger) grpc.DialOption {
	if header == "" {
		header = headers.DefaultHeader
	}
	if log == nil {
		log = slog.Default()
	}
	return grpc.WithChainUnaryInterceptor(interceptor(name, header, log))
}

func interceptor(name, header string, log *slog.Logger) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any,
		cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		code, rejected := metrics.Rejection(err)
		if !rejected {
			return err
		}
		attrs := []any{"source", name, "method", method, "status_code", code}
		md, _ := metadata.FromOutgoingContext(ctx)
		if sent := md.Get(header); len(sent) == 0 {
			attrs = append(attrs, "token", "none sent")
		} else {
			_, tok, _ := strings.Cut(sent[len(sent)-1], " ")
			if info, ok := jwtinfo.Read(tok); ok {
				attrs = append(attrs, "kid", info.KeyID, "iss", info.Issuer, "expiry", expiry(info.Expiry))
			} else {
				attrs = append(attrs, "token", "not a JWT")
			}
		}
		log.Warn("temporalauth: the server rejected the call's token (the reason is in the server's log; check the kid against its JWKS with temporal-auth inspect --jwks)", attrs...)
		return err
	}
}
