// Command starter runs the hello workflow once and prints its result,
//
//	Workflow result: Hello Temporal!
//
// against a Temporal server that enforces JWT authorization, with the worker
// example running. Like the worker it is a plain Temporal SDK program
// configured by temporalauth.LoadClientOptions from the environment
// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_JWT_PRIVATE_KEY_FILE,
// TEMPORAL_JWT_PERMISSIONS, ...; see the server example).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/temporalauth/temporalauth"
	"github.com/temporalauth/temporalauth/examples/hello"
)

func main() {
	name := flag.String("name", hello.Name, "name to greet")
	timeout := flag.Duration("timeout", time.Minute, "how long to wait for the workflow's result")
	flag.Parse()
	if err := run(*name, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "starter:", err)
		os.Exit(1)
	}
}

func run(name string, timeout time.Duration) error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts, auth, err := temporalauth.LoadClientOptions(temporalauth.EnvOptions{Logger: logger})
	if err != nil {
		if os.Getenv("TEMPORAL_API_KEY") != "" && strings.Contains(err.Error(), "TEMPORAL_API_KEY") {
			return fmt.Errorf("%w\n(was 'eval \"$(temporal-auth token --export)\"' run in this shell? "+
				"run it in a subshell, or: unset TEMPORAL_API_KEY TEMPORAL_CLI_AUTH TEMPORAL_TLS)", err)
		}
		return err
	}
	defer func() { _ = auth.Close() }()
	opts.Logger = sdklog.NewStructuredLogger(logger)

	c, err := client.Dial(opts)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", opts.HostPort, err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: hello.TaskQueue}, hello.Greet, name)
	if err != nil {
		return fmt.Errorf("starting workflow: %w", err)
	}
	var result string
	if err := run.Get(ctx, &result); err != nil {
		return fmt.Errorf("workflow %s: %w", run.GetID(), err)
	}
	fmt.Println("Workflow result:", result)
	return nil
}
