package temporalauth_test

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/temporalauth/temporalauth/headers"
)

// The SDK's HeadersProvider type is internal: these assignments fail to
// compile if a provider stops satisfying it.
var _ = client.Options{HeadersProvider: (*headers.Provider)(nil)}

func TestProviderPlugsIntoClientOptions(t *testing.T) {
	src := headers.TokenSourceFunc(func(context.Context) (headers.Token, error) {
		return headers.NewToken("t", time.Now().Add(time.Hour)), nil
	})
	p := headers.New(src, headers.Options{})
	defer p.Close()
	opts := client.Options{HeadersProvider: p}
	h, err := opts.HeadersProvider.GetHeaders(context.Background())
	if err != nil || h["authorization"] != "Bearer t" {
		t.Fatalf("GetHeaders through client.Options = %v, %v", h, err)
	}
}
