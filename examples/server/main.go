// Command server runs a local Temporal server that enforces JWT
// authorization, for trying the worker and starter examples.
//
//	go run ./server --key dev-signing-key.pem
//
// It loads the ES256 or RS256 private key in --key, or generates an ES256 key
// there (mode 0600) when the file does not exist, serves the key's public
// half as a JWKS on 127.0.0.1, and starts the embedded server of package
// devserver, which accepts tokens signed with that key. It registers the
// "default" namespace and prints the environment a worker or starter needs:
//
//	export TEMPORAL_ADDRESS=127.0.0.1:<port>
//	export TEMPORAL_NAMESPACE=default
//	export TEMPORAL_JWT_PRIVATE_KEY_FILE=<absolute path of --key>
//	export TEMPORAL_JWT_PERMISSIONS=default:write
//
// It runs until interrupted (Ctrl-C or SIGTERM). It is a development tool:
// it keeps its data in memory, and the key file is the only credential.
package main

import (
	"context"
	"crypto"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/temporalauth/temporalauth/examples/devserver"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/jwtkey"
)

const (
	namespace = "default"
)

func main() {
	keyFile := flag.String("key", "dev-signing-key.pem",
		"PEM private key file (ES256 or RS256) whose tokens the server accepts; an ES256 key is generated there if it does not exist")
	refresh := flag.Duration("refresh", 10*time.Second, "how often the server refetches the JWKS")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "server: unexpected arguments %q\n", flag.Args())
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *keyFile, *refresh); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, keyFile string, refresh time.Duration) (err error) {
	if refresh <= 0 {
		return fmt.Errorf("--refresh %s: must be positive", refresh)
	}
	keyFile, err = filepath.Abs(keyFile)
	if err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	key, created, err := loadOrCreateKey(keyFile)
	if err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	jwk, err := jwtkey.PublicJWK(key, "")
	if err != nil {
		return fmt.Errorf("--key %s: %w", keyFile, err)
	}
	keys, err := jwtkey.NewKeySet(jwk)
	if err != nil {
		return err
	}
	jwksURL, stopJWKS, err := devserver.ServeJWKS(keys)
	if err != nil {
		return err
	}
	defer stopJWKS()

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	admin, err := jwtkey.NewProvider(jwtkey.Config{
		Key:         key,
		Subject:     "dev-server-admin",
		Permissions: []string{"temporal-system:admin"},
	}, headers.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer func() { _ = admin.Close() }()

	srv, err := devserver.Start(devserver.Config{
		JWKSURLs:        []string{jwksURL},
		RefreshInterval: refresh,
		Namespaces:      []string{namespace},
		SystemHeaders:   admin,
	})
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := srv.Stop(); stopErr != nil && err == nil {
			err = fmt.Errorf("stopping: %w", stopErr)
		}
	}()

	verb := "loaded"
	if created {
		verb = "generated"
	}
	fmt.Printf("Signing key %s: %s (%s, kid %s)\n", verb, keyFile, jwk.Algorithm, jwk.KeyID)
	fmt.Printf("JWKS:   %s (refetched every %s)\n", jwksURL, refresh)
	fmt.Printf("Server: %s, namespace %q, JWT authorization enforced\n", srv.HostPort(), namespace)
	fmt.Println()
	fmt.Println("Run a worker and a starter with:")
	fmt.Printf("export TEMPORAL_ADDRESS=%s\n", srv.HostPort())
	fmt.Printf("export TEMPORAL_NAMESPACE=%s\n", namespace)
	fmt.Printf("export TEMPORAL_JWT_PRIVATE_KEY_FILE=%s\n", keyFile)
	fmt.Printf("export TEMPORAL_JWT_PERMISSIONS=%s:write\n", namespace)
	fmt.Println()
	fmt.Println("Press Ctrl-C to stop.")

	<-ctx.Done()
	fmt.Println("Stopping.")
	return nil
}

// loadOrCreateKey loads the private key in path, or generates an ES256 key
// and writes it there (mode 0600) when the file does not exist.
func loadOrCreateKey(path string) (key crypto.Signer, created bool, err error) {
	key, err = jwtkey.LoadPrivateKeyFile(path)
	if err == nil {
		if err := jwtkey.CheckKeyFilePermissions(path); err != nil {
			fmt.Fprintln(os.Stderr, "warning:", err)
		}
		return key, false, nil
	}
	if _, statErr := os.Stat(path); !errors.Is(statErr, fs.ErrNotExist) {
		return nil, false, err
	}
	ec, err := jwtkey.GenerateES256Key()
	if err != nil {
		return nil, false, err
	}
	if err := jwtkey.WritePrivateKeyFile(path, ec); err != nil {
		return nil, false, err
	}
	return ec, true, nil
}
