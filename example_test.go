package temporalauth_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"

	"github.com/temporalauth/temporalauth"
)

// A worker or starter loads everything from its environment: the server
// address, namespace and TLS settings through envconfig, and the token
// provider chosen by TEMPORAL_AUTH_PROVIDER or the variables present.
func ExampleLoad() {
	auth, err := temporalauth.Load(temporalauth.EnvOptions{})
	if err != nil {
		slog.Error("temporal authorization settings", "error", err)
		os.Exit(1)
	}
	defer auth.Close()
	slog.Info("temporal authorization", "auth", auth) // never shows a token or key

	c, err := client.Dial(client.Options{
		HostPort:        "temporal.example.com:7233",
		HeadersProvider: auth,
		ConnectionOptions: client.ConnectionOptions{
			DialOptions: auth.DialOptions(),
		},
	})
	if err != nil {
		slog.Error("connecting to Temporal", "error", err)
		os.Exit(1)
	}
	defer c.Close()
}

// LoadClientOptions builds complete client options. Here a map stands in
// for the process environment; a program passes EnvOptions{} to read its
// own.
func ExampleLoadClientOptions() {
	env := map[string]string{
		"TEMPORAL_ADDRESS":            "temporal.example.com:7233",
		"TEMPORAL_NAMESPACE":          "orders",
		"TEMPORAL_GRPC_META_X_TENANT": "acme",
		"TEMPORAL_AUTH_TOKEN":         "opaque-token",
		"TEMPORAL_CONFIG_FILE":        "/nonexistent/temporal.toml",
	}
	opts, auth, err := temporalauth.LoadClientOptions(temporalauth.EnvOptions{
		Lookup: func(name string) (string, bool) { v, ok := env[name]; return v, ok },
		Environ: func() []string {
			return []string{"TEMPORAL_GRPC_META_X_TENANT=acme"}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer auth.Close()
	fmt.Println(opts.HostPort, opts.Namespace)
	fmt.Println(auth)

	// client.Dial(opts) would send these headers with every call.
	h, err := opts.HeadersProvider.GetHeaders(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(h["authorization"], h["x-tenant"])
	// Output:
	// temporal.example.com:7233 orders
	// static setting=TEMPORAL_AUTH_TOKEN leeway=default(min(5m,lifetime/4))
	// Bearer opaque-token acme
}

// Without any provider variable the none provider sends no header.
func ExampleLoad_none() {
	auth, err := temporalauth.Load(temporalauth.EnvOptions{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		fmt.Println(err)
		return
	}
	h, err := auth.GetHeaders(context.Background())
	fmt.Println(auth, h == nil, err)
	// Output:
	// none true <nil>
}
