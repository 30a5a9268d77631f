// Command quickstart runs the whole story in one process: a Temporal server
// that enforces JWT authorization, a worker and a starter that authenticate
// with tokens signed by a local key, and a client without a token that the
// server refuses.
//
//	go run ./quickstart
//
// It generates an ES256 signing key in a temporary directory, publishes its
// public half as a JWKS on 127.0.0.1, starts the embedded server (package
// devserver) with that JWKS, registers the "default" namespace with a
// temporal-system:admin token, runs the hello workflow with a default:write
// token, shows that a call without a token gets PERMISSION_DENIED, and stops
// everything. It exits 0 when all of that went as expected.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"google.golang.org/grpc"

	"github.com/temporalauth/temporalauth/examples/devserver"
	"github.com/temporalauth/temporalauth/examples/hello"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/jwtkey"
)

const (
	namespace = "default"
	// runTimeout bounds the workflow run and the refused call.
	runTimeout = 30 * time.Second
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
	fmt.Println("Stopped cleanly.")
}

func run() (err error) {
	// Warnings and errors only: the SDK logs every worker start at info.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sdkLogger := sdklog.NewStructuredLogger(logger)

	// 1. A signing key in a temporary directory.
	dir, err := os.MkdirTemp("", "temporalauth-quickstart-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	keyFile := filepath.Join(dir, "signing-key.pem")
	key, err := jwtkey.GenerateES256Key()
	if err != nil {
		return err
	}
	if err := jwtkey.WritePrivateKeyFile(keyFile, key); err != nil {
		return err
	}
	jwk, err := jwtkey.PublicJWK(key, "")
	if err != nil {
		return err
	}
	fmt.Printf("Signing key:   %s (%s, kid %s)\n", keyFile, jwk.Algorithm, jwk.KeyID)

	// 2. Its public half, served as the JWKS the server fetches.
	keys, err := jwtkey.NewKeySet(jwk)
	if err != nil {
		return err
	}
	jwksURL, stopJWKS, err := devserver.ServeJWKS(keys)
	if err != nil {
		return err
	}
	defer stopJWKS()
	fmt.Printf("JWKS:          %s\n", jwksURL)

	// 3. The server, which registers the namespace with a system admin token.
	admin, err := jwtkey.NewProvider(jwtkey.Config{
		KeyFile:     keyFile,
		Subject:     "quickstart-admin",
		Permissions: []string{"temporal-system:admin"},
	}, headers.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer func() { _ = admin.Close() }()
	srv, err := devserver.Start(devserver.Config{
		JWKSURLs:      []string{jwksURL},
		Namespaces:    []string{namespace},
		SystemHeaders: admin,
	})
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := srv.Stop(); stopErr != nil && err == nil {
			err = fmt.Errorf("stopping the server: %w", stopErr)
		}
	}()
	fmt.Printf("Server:        %s (JWT required; namespace %q registered with a temporal-system:admin token)\n", srv.HostPort(), namespace)

	// 4. A worker and a starter with default:write tokens from the same key.
	writer, err := jwtkey.NewProvider(jwtkey.Config{
		KeyFile:     keyFile,
		Subject:     "quickstart-worker",
		Permissions: []string{namespace + ":write"},
	}, headers.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer func() { _ = writer.Close() }()
	c, err := client.Dial(client.Options{
		HostPort:          srv.HostPort(),
		Namespace:         namespace,
		HeadersProvider:   writer,
		ConnectionOptions: client.ConnectionOptions{DialOptions: []grpc.DialOption{writer.RetryUnauthorized()}},
		Logger:            sdkLogger,
	})
	if err != nil {
		return fmt.Errorf("worker client: %w", err)
	}
	defer c.Close()
	w := worker.New(c, hello.TaskQueue, worker.Options{})
	hello.Register(w)
	if err := w.Start(); err != nil {
		return fmt.Errorf("starting the worker: %w", err)
	}
	defer w.Stop()
	fmt.Printf("Worker:        polling %q with a %s:write token\n", hello.TaskQueue, namespace)

	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	wf, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: hello.TaskQueue}, hello.Greet, hello.Name)
	if err != nil {
		return fmt.Errorf("starting the workflow: %w", err)
	}
	var result string
	if err := wf.Get(ctx, &result); err != nil {
		return fmt.Errorf("workflow %s: %w", wf.GetID(), err)
	}
	fmt.Printf("Workflow result: %s\n", result)

	// 5. A client without a token: the connection check passes, the first
	// namespace call is refused.
	anon, err := client.Dial(client.Options{HostPort: srv.HostPort(), Namespace: namespace, Logger: sdkLogger})
	if err != nil {
		return fmt.Errorf("client without a token: %w", err)
	}
	defer anon.Close()
	_, err = anon.DescribeWorkflowExecution(ctx, wf.GetID(), "")
	var denied *serviceerror.PermissionDenied
	if !errors.As(err, &denied) {
		return fmt.Errorf("client without a token: got %v, want PERMISSION_DENIED", err)
	}
	fmt.Printf("Without token: refused, PERMISSION_DENIED: %s\n", denied.Message)
	return nil
}
