package headers_test

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"

	"github.com/temporalauth/temporalauth/headers"
)

// A Provider wraps any TokenSource; the Temporal SDK calls it before every
// RPC, and it asks the source again only when the token nears expiry.
func ExampleNew() {
	calls := 0
	src := headers.TokenSourceFunc(func(ctx context.Context) (headers.Token, error) {
		calls++
		return headers.NewToken("token-from-my-idp", time.Now().Add(time.Hour)), nil
	})
	p := headers.New(src, headers.Options{})
	defer p.Close()

	for range 3 {
		h, err := p.GetHeaders(context.Background())
		if err != nil {
			panic(err)
		}
		fmt.Println(h["authorization"])
	}
	fmt.Println("source calls:", calls)

	// Pass it to the SDK, with recovery from a token the server rejects.
	_ = client.Options{
		HostPort:          "127.0.0.1:7233",
		HeadersProvider:   p,
		ConnectionOptions: client.ConnectionOptions{DialOptions: []grpc.DialOption{p.RetryUnauthorized()}},
	}
	// Output:
	// Bearer token-from-my-idp
	// Bearer token-from-my-idp
	// Bearer token-from-my-idp
	// source calls: 1
}
