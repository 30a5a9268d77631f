package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/temporalauth/temporalauth/jwtkey"
)

var jwksCommand = &command{
	name:     "jwks",
	synopsis: "print the JWKS (JSON Web Key Set) of key files",
	args:     "KEYFILE|DIR...",
	about: `
Prints the JSON Web Key Set holding the public key of each PEM file: a
private key, a public key or a certificate, ECDSA P-256 (ES256) or RSA of at
least 2048 bits (RS256). A directory stands for its *.pem files. Each key's
kid is its RFC 7638 thumbprint, the kid a temporalauth signer sends.

The Temporal server reads this document from its
global.authorization.jwtKeyProvider.keySourceURIs (an http(s) or file URI).`,
	flags: func(c *cli, fs *flagSet) func(context.Context, []string) error {
		return func(_ context.Context, args []string) error {
			if len(args) == 0 {
				return usagef("no key files given")
			}
			files, err := readKeyFiles(args)
			if err != nil {
				return err
			}
			set, err := keySet(files)
			if err != nil {
				return err
			}
			out, err := json.MarshalIndent(set, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(c.stdout, "%s\n", out)
			return err
		}
	},
}

// jwksPaths are the paths serve-jwks serves the key set at.
var jwksPaths = []string{"/jwks.json", "/.well-known/jwks.json"}

var serveJWKSCommand = &command{
	name:     "serve-jwks",
	synopsis: "serve the JWKS of key files over HTTP, following changes to the files",
	args:     "[--addr HOST:PORT] KEYFILE|DIR...",
	about: `
Serves the JSON Web Key Set of the key files (see 'temporal-auth jwks') at
/jwks.json and /.well-known/jwks.json, and prints the URL once listening.
Point the Temporal server's jwtKeyProvider.keySourceURIs at it.

The files are read again on every request, so a key file replaced in place,
or a *.pem file added to or removed from a directory, is served at once. If
the files cannot be read or parsed, the last good key set is served and the
error is logged to standard error.

To rotate a key without rejected tokens: add the new key, wait at least one
refresh interval of the server (jwtKeyProvider.refreshInterval; the server
does not refetch on an unknown kid), switch the signer to the new key, wait
until the old key's last token has expired, then remove the old key.

Stops on SIGINT or SIGTERM.`,
	flags: func(c *cli, fs *flagSet) func(context.Context, []string) error {
		addr := fs.String("addr", "HOST:PORT", "127.0.0.1:0", "the address to listen on (port 0: any free port)")
		return func(ctx context.Context, args []string) error {
			if len(args) == 0 {
				return usagef("no key files given")
			}
			if *addr == "" {
				return usagef("--addr is empty")
			}
			return serveJWKS(ctx, c, *addr, args)
		}
	},
}

// serveJWKS serves the key set of paths on addr until ctx is done.
func serveJWKS(ctx context.Context, c *cli, addr string, paths []string) error {
	logger := log.New(c.stderr, "temporal-auth serve-jwks: ", log.LstdFlags)
	h := &jwksHandler{paths: paths, logger: logger}
	if err := h.reload(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return listenError(addr, err)
	}
	mux := http.NewServeMux()
	for _, p := range jwksPaths {
		mux.Handle(p, h)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          logger,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	base := "http://" + ln.Addr().String()
	logger.Printf("serving %s at %s%s and %s%s", strings.Join(h.set.KeyIDs(), ", "), base, jwksPaths[0], base, jwksPaths[1])
	if _, err := fmt.Fprintln(c.stdout, base+jwksPaths[0]); err != nil {
		_ = srv.Close()
		<-served
		return err
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) && serveErr != nil {
		err = errors.Join(err, serveErr)
	}
	if err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	logger.Printf("stopped")
	return nil
}

// listenError words a failure to listen on --addr: the address once, the
// cause, the fix.
func listenError(addr string, err error) error {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return fmt.Errorf("--addr %s: %s; give HOST:PORT, such as 127.0.0.1:7299 (port 0: any free port)", addr, ae.Err)
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err // "listen tcp ADDR: " repeats the address
	}
	fix := "give an address of this host"
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		fix = "another process listens there: choose another port, or stop it"
	case errors.Is(err, syscall.EACCES):
		fix = "ports below 1024 need privileges: choose a higher port"
	}
	return fmt.Errorf("--addr %s: %w; %s", addr, err, fix)
}

// A jwksHandler serves the key set of its files, reading them again on
// every request and parsing them when their content changed.
type jwksHandler struct {
	paths  []string
	logger *log.Logger
	set    jwtkey.KeySet

	mu      sync.Mutex
	sum     [sha256.Size]byte // digest of the files behind set
	lastErr string            // the last reload error logged, to log each once
}

// reload reads the files and, if their content changed, publishes their
// keys. On error the previous keys stay.
func (h *jwksHandler) reload() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	err := h.reloadLocked()
	if err == nil {
		h.lastErr = ""
	}
	return err
}

func (h *jwksHandler) reloadLocked() error {
	files, err := readKeyFiles(h.paths)
	if err != nil {
		return err
	}
	sum := digest(files)
	if sum == h.sum {
		return nil
	}
	set, err := keySet(files)
	if err != nil {
		return err
	}
	if err := h.set.Set(set.Keys...); err != nil {
		return err
	}
	first := h.sum == [sha256.Size]byte{}
	h.sum = sum
	if !first {
		h.logger.Printf("key files changed: now serving %s", strings.Join(h.set.KeyIDs(), ", "))
	}
	return nil
}

func (h *jwksHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.reload(); err != nil {
		h.mu.Lock()
		if msg := err.Error(); msg != h.lastErr {
			h.lastErr = msg
			h.logger.Printf("cannot reload the key files, still serving %s: %v", strings.Join(h.set.KeyIDs(), ", "), err)
		}
		h.mu.Unlock()
	}
	h.set.ServeHTTP(w, r)
}
