// Command temporalcli stands in for the temporal CLI (github.com/temporalio/cli
// v1.9.1) in the README test: it makes the SDK calls of the few commands the
// README uses, with the CLI's flags, environment variables and TLS rule, so
// that those lines run as written without building the real CLI (its module
// is not served by the Go module proxy).
//
//	temporal operator cluster health [--address A] [--tls[=false]] [--api-key K]
//	temporal operator namespace create --namespace NS [--address A] [--tls[=false]] [--api-key K]
//
// Like the real CLI: the address defaults to TEMPORAL_ADDRESS, then
// localhost:7233; the API key to TEMPORAL_API_KEY, sent as
// "authorization: Bearer <key>"; TLS is on when --tls or TEMPORAL_TLS=true,
// and also whenever an API key is set unless --tls=false or TEMPORAL_TLS=false
// (the CLI's rule since v1.4, which makes a plaintext server fail).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 3 || args[0] != "operator" {
		return fmt.Errorf("this stand-in knows only 'operator cluster health' and 'operator namespace create', not %q", strings.Join(args, " "))
	}
	cmd := args[1] + " " + args[2]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	address := fs.String("address", envOr("TEMPORAL_ADDRESS", "localhost:7233"), "")
	apiKey := fs.String("api-key", os.Getenv("TEMPORAL_API_KEY"), "")
	namespace := fs.String("namespace", envOr("TEMPORAL_NAMESPACE", "default"), "")
	fs.StringVar(namespace, "n", *namespace, "")
	retention := fs.Duration("retention", 72*time.Hour, "")
	var tlsFlag *bool
	fs.Func("tls", "", func(v string) error {
		b, err := strconv.ParseBool(v)
		tlsFlag = &b
		return err
	})
	// --tls alone means true, as a boolean flag.
	for i, a := range args[3:] {
		if a == "--tls" {
			args[3+i] = "--tls=true"
		}
	}
	if err := fs.Parse(args[3:]); err != nil {
		return err
	}
	if tlsFlag == nil {
		if v := os.Getenv("TEMPORAL_TLS"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("TEMPORAL_TLS=%q: %w", v, err)
			}
			tlsFlag = &b
		}
	}
	opts := client.Options{HostPort: *address, Namespace: *namespace}
	useTLS := tlsFlag != nil && *tlsFlag || tlsFlag == nil && *apiKey != ""
	if *apiKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(*apiKey)
	}
	if useTLS {
		opts.ConnectionOptions.TLS = &tls.Config{}
	} else {
		opts.ConnectionOptions.TLSDisabled = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch cmd {
	case "cluster health":
		c, err := client.DialContext(ctx, opts)
		if err != nil {
			return tlsHint(err, useTLS)
		}
		defer c.Close()
		if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			return err
		}
		fmt.Println("SERVING")
		return nil
	case "namespace create":
		c, err := client.DialContext(ctx, opts) // fails fast, as the CLI does, on a TLS mismatch
		if err != nil {
			return tlsHint(err, useTLS)
		}
		c.Close()
		nc, err := client.NewNamespaceClient(opts)
		if err != nil {
			return tlsHint(err, useTLS)
		}
		defer nc.Close()
		err = nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        *namespace,
			WorkflowExecutionRetentionPeriod: durationpb.New(*retention),
		})
		if err != nil {
			return tlsHint(fmt.Errorf("unable to create namespace: %w", err), useTLS)
		}
		fmt.Printf("Namespace %s successfully registered.\n", *namespace)
		return nil
	}
	return fmt.Errorf("this stand-in does not know 'operator %s'", cmd)
}

// tlsHint words a TLS handshake with a plaintext server as the CLI does.
func tlsHint(err error, useTLS bool) error {
	if useTLS && (strings.Contains(err.Error(), "first record does not look like a TLS handshake") ||
		strings.Contains(err.Error(), "tls:")) {
		return errors.New("failed reaching server: TLS is enabled but the server did not respond with TLS: " + err.Error())
	}
	return err
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
