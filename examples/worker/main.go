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
// With METRICS_ADDR=127.0.0.1:9090 it serves the SDK's and temporalauth's
// metrics for Prometheus at http://127.0.0.1:9090/metrics.
// The worker runs until interrupted (Ctrl-C or SIGTERM).
package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/temporalauth/temporalauth"
	"github.com/temporalauth/temporalauth/examples/hello"
	"github.com/temporalauth/temporalauth/examples/prommetrics"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run() error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	envOpts := temporalauth.EnvOptions{Logger: logger}
	if addr := os.Getenv("METRICS_ADDR"); addr != "" {
		// Prometheus: the SDK's metrics and temporalauth's token metrics.
		exp, err := prommetrics.New(time.Second)
		if err != nil {
			return err
		}
		defer func() { _ = exp.Close() }()
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", exp.HTTPHandler())
		go func() { _ = http.Serve(ln, mux) }()
		logger.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
		envOpts.MetricsHandler = exp.Handler()
	}
	opts, auth, err := temporalauth.LoadClientOptions(envOpts)
	if err != nil {
		return apiKeyHint(err)
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

// apiKeyHint explains the usual reason for an API key beside a token
// provider: the shell still holds what temporal-auth token --export set.
func apiKeyHint(err error) error {
	if os.Getenv("TEMPORAL_API_KEY") != "" && strings.Contains(err.Error(), "TEMPORAL_API_KEY") {
		return fmt.Errorf("%w\n(was 'eval \"$(temporal-auth token --export)\"' run in this shell? "+
			"run it in a subshell, or: unset TEMPORAL_API_KEY TEMPORAL_CLI_AUTH TEMPORAL_TLS)", err)
	}
	return err
}
