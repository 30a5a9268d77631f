package headers_test

import (
	"context"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/headers"
)

func benchProvider(b *testing.B) *Provider {
	src := headers.TokenSourceFunc(func(context.Context) (Token, error) {
		return NewToken("header.payload.signature", time.Now().Add(time.Hour)), nil
	})
	p := headers.New(src, Options{Logger: quietLogger()})
	b.Cleanup(func() { p.Close() })
	if _, err := p.GetHeaders(context.Background()); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkGetHeaders is the SDK's hot path: a fresh token, one goroutine.
func BenchmarkGetHeaders(b *testing.B) {
	p := benchProvider(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.GetHeaders(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetHeadersParallel is the hot path with every P calling.
func BenchmarkGetHeadersParallel(b *testing.B) {
	p := benchProvider(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.GetHeaders(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
