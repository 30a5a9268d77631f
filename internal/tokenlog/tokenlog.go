// Package tokenlog logs each call the server refuses for its credentials,
// naming the kid of the token it carried, from outside headers.Provider (a
// dial option), so that every refused attempt is logged, including those
// RetryUnauthorized does not retry. headers.Provider logs new tokens and
// kid changes itself. Records never hold a token.
package tokenlog

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/jwtinfo"
)

func expiry(t time.Time) any {
	if t.IsZero() {
		return "never"
	}
	return t.UTC()
}

// DialOption returns a dial option that logs at Warn each call the server
// refuses for its credentials (see headers.Rejection), with the kid, issuer
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
		code, rejected := headers.Rejection(err)
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
