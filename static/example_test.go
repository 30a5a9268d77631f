package static_test

import (
	"context"
	"fmt"
	"log"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/static"
)

// A token file kept fresh by a Vault agent or the kubelet, read again
// every minute by default.
func ExampleNewProvider() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "token")
	if err := os.WriteFile(path, []byte("example-opaque-token\n"), 0o600); err != nil {
		log.Fatal(err)
	}

	tokens, err := static.NewProvider(static.Config{TokenFile: path, PollInterval: 30 * time.Second}, headers.Options{})
	if err != nil {
		log.Fatal(err) // names the setting and the file, never shows the token
	}
	defer tokens.Close()

	// In a worker: client.Dial(client.Options{HeadersProvider: tokens, ...})
	h, err := tokens.GetHeaders(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(h["authorization"] == "Bearer example-opaque-token")
	// Output: true
}

// A fixed token, such as an API key, refused at start-up when it is
// empty, malformed or an expired JWT.
func ExampleNewProvider_fixedToken() {
	tokens, err := static.NewProvider(static.Config{Token: "example-api-key"}, headers.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer tokens.Close()
	h, err := tokens.GetHeaders(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(h["authorization"])

	_, err = static.NewProvider(static.Config{Token: "Bearer example-api-key"}, headers.Options{})
	fmt.Println(err)
	// Output:
	// Bearer example-api-key
	// static.Config.Token: malformed token: it starts with the Bearer scheme; give the token alone
}

// Settings from the environment: TEMPORAL_AUTH_TOKEN_FILE or
// TEMPORAL_AUTH_TOKEN. Errors name the variables; a Config prints without
// its token.
func ExampleConfigFromLookup() {
	env := map[string]string{static.EnvToken: "not-to-be-printed"}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
	cfg, err := static.ConfigFromLookup(lookup) // os.LookupEnv in a real program
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg)

	env[static.EnvTokenFile] = "/var/run/secrets/temporal/token"
	_, err = static.ConfigFromLookup(lookup)
	fmt.Println(err)
	// Output:
	// Config{Token: REDACTED, TokenFile: "", PollInterval: 0s}
	// TEMPORAL_AUTH_TOKEN: TEMPORAL_AUTH_TOKEN_FILE and TEMPORAL_AUTH_TOKEN are both set: give the token one way
}

// Merge a token provider with the headers envconfig loads from
// TEMPORAL_GRPC_META_* settings or a profile's grpc_meta table.
func ExampleMerge() {
	profile := envconfig.ClientConfigProfile{
		Address:  "127.0.0.1:7233",
		GRPCMeta: map[string]string{"x-tenant": "acme"},
	}
	opts, err := profile.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		log.Fatal(err)
	}
	tokens, err := static.NewProvider(static.Config{Token: "example-api-key"}, headers.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer tokens.Close()

	// Later providers win: the token's authorization header replaces any
	// configured one.
	opts.HeadersProvider = static.Merge(opts.HeadersProvider, tokens)

	h, err := opts.HeadersProvider.GetHeaders(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Join(slices.Sorted(maps.Keys(h)), ", "))
	// Output: authorization, x-tenant
}

func ExampleHeaders() {
	extra, err := static.Headers(map[string]string{"X-Tenant": "acme"})
	if err != nil {
		log.Fatal(err)
	}
	h, _ := extra.GetHeaders(context.Background())
	fmt.Println(h)
	fmt.Println(extra) // values are never printed

	_, err = static.Headers(map[string]string{"grpc-timeout": "1S"})
	fmt.Println(err)
	// Output:
	// map[x-tenant:acme]
	// static.Headers{x-tenant: REDACTED}
	// static: header "grpc-timeout": key is reserved by gRPC
}

func ExampleExpiryOf() {
	// An unsigned JWT whose payload is {"sub":"worker","exp":1893456000}.
	jwt := "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJ3b3JrZXIiLCJleHAiOjE4OTM0NTYwMDB9.c2ln"
	exp, ok, err := static.ExpiryOf(jwt)
	fmt.Println(exp, ok, err)

	exp, ok, err = static.ExpiryOf("opaque-api-key")
	fmt.Println(exp.IsZero(), ok, err)
	// Output:
	// 2030-01-01 00:00:00 +0000 UTC true <nil>
	// true false <nil>
}

func ExampleParseToken() {
	tok, err := static.ParseToken("opaque-api-key\r\n")
	fmt.Println(tok, err)

	_, err = static.ParseToken("Bearer opaque-api-key")
	fmt.Println(err)
	// Output:
	// Token{Value: REDACTED, Expiry: never} <nil>
	// malformed token: it starts with the Bearer scheme; give the token alone
}
