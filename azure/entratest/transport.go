package entratest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"time"
)

// newLoopbackTransport returns a transport that trusts roots, ignores proxy
// settings from the environment and dials loopback addresses only.
func newLoopbackTransport(roots *x509.CertPool) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         dialLoopback,
		TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     30 * time.Second,
	}
}

var loopbackDialer = &net.Dialer{Timeout: 5 * time.Second}

// dialLoopback dials addr only when its host is a loopback IP or "localhost".
func dialLoopback(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}
	return loopbackDialer.DialContext(ctx, network, addr)
}

// checkLoopback reports an error unless addr ("host:port") names a loopback
// address.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("entratest: refusing to dial %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("entratest: refusing to dial %s: tests may reach loopback addresses only", addr)
}
