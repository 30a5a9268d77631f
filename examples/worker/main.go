// Command worker runs the hello workflow's worker against a Temporal server
// that enforces JWT authorization. It is a plain Temporal SDK program: the
// only temporalauth call is LoadClientOptions, which reads the connection
// and the token settings from the environment, e.g. those that the server
// example prints:
//
//	export TEMPORAL_ADDRESS=127.0.0.1:7233
//	export TEMPORAL_NAMESPACE=default
//	export TEMPORAL_JWT_PRIVATE_KEY_FILE=/path/to/dev-signing-key.pem
//	export TEMPORAL_JWT_PERMISSIONS=default:write
//	go run ./worker
//
// Every call carries a token signed with the key, renewed before it expires.
// The worker runs until interrupted (Ctrl-C or SIGTERM).
package main

import (
	"fmt"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/temporalauth/temporalauth"
	"github.com/temporalauth/temporalauth/examples/hello"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run() error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	opts, auth, err := temporalauth.LoadClientOptions(temporalauth.EnvOptions{Logger: logger})
	if err != nil {
		return err
	}
	defer func() { _ = auth.Close() }()
	opts.Logger = sdklog.NewStructuredLogger(logger)
	logger.Info("connecting to Temporal", "address", opts.HostPort, "namespace", opts.Namespace, "auth", auth)

	c, err := client.Dial(opts)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", opts.HostPort, err)
	}
	defer c.Close()

	w := worker.New(c, hello.TaskQueue, worker.Options{})
	hello.Register(w)
	return w.Run(worker.InterruptCh())
}
