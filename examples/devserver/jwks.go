package devserver

import (
	"fmt"
	"net"
	"net/http"
	"time"
)

// JWKSPath is where ServeJWKS serves the key set.
const JWKSPath = "/.well-known/jwks.json"

// ServeJWKS serves keys (such as a *jwtkey.KeySet) at JWKSPath on a free
// 127.0.0.1 port, for Config.JWKSURLs. It returns the JWKS URL and a
// function that stops the HTTP server.
func ServeJWKS(keys http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("JWKS listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(JWKSPath, keys)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln) // returns http.ErrServerClosed after Close
	}()
	stop = func() {
		_ = hs.Close()
		<-done
	}
	return "http://" + ln.Addr().String() + JWKSPath, stop, nil
}
