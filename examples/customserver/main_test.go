package main

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"
)

// configTemplate is a single-process cluster on 127.0.0.1 with SQLite in
// memory and JWT authorization from a file:// JWKS, refreshInterval absent,
// and an audience. The JWKS's issuer comes from SERVERAUTH_KEY_SOURCE1_ISSUERS.
const configTemplate = `
log:
  level: error
  stdout: true
persistence:
  defaultStore: db
  visibilityStore: db
  numHistoryShards: 1
  datastores:
    db:
      sql:
        pluginName: sqlite
        databaseName: {{.DB}}
        connectAddr: localhost
        connectProtocol: tcp
        connectAttributes: {mode: memory, cache: shared}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
  authorization:
    authorizer: default
    claimMapper: default
    audience: {{.Audience}}
    jwtKeyProvider:
      keySourceURIs: ["file://{{.JWKS}}"]
services:
{{- range $i, $s := .Services}}
  {{$s}}:
    rpc: {grpcPort: {{index $.Ports (mul $i 3)}}, membershipPort: {{index $.Ports (add (mul $i 3) 1)}}, httpPort: {{index $.Ports (add (mul $i 3) 2)}}, bindOnIP: 127.0.0.1}
{{- end}}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: 127.0.0.1:{{index .Ports 0}}
      clusterID: 6c3f4b52-2a1e-4f0e-9a57-0e6f3b1f9a11
dcRedirectionPolicy:
  policy: noop
`

// TestCustomServer runs the binary's run function on a YAML configuration
// whose identity provider starts signing with a new key without notice: a
// token signed with it is accepted at once.
func TestCustomServer(t *testing.T) {
	dir := t.TempDir()
	jwksPath := filepath.Join(dir, "jwks.json")
	oldKey, oldJWK := newES256Key(t, "old")
	writeJWKS(t, jwksPath, oldJWK)

	services := []string{"frontend", "internal-frontend", "history", "matching", "worker"}
	ports := freePorts(t, 3*len(services))
	tmpl := template.Must(template.New("config").Funcs(template.FuncMap{
		"mul": func(a, b int) int { return a * b }, "add": func(a, b int) int { return a + b },
	}).Parse(configTemplate))
	var yaml strings.Builder
	if err := tmpl.Execute(&yaml, map[string]any{
		"DB": fmt.Sprintf("customserver%d", time.Now().UnixNano()), "JWKS": jwksPath, "Services": services, "Ports": ports,
		"Audience": testAudience,
	}); err != nil {
		t.Fatal(err)
	}
	configFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(configFile, []byte(yaml.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Setenv("SERVERAUTH_KEY_SOURCE1_ISSUERS", testIssuer)
	interrupt := make(chan any)
	done := make(chan error, 1)
	go func() { done <- run(configFile, nil, time.Minute, interrupt) }()
	t.Cleanup(func() {
		close(interrupt)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the server did not stop")
		}
	})

	hostPort := fmt.Sprintf("127.0.0.1:%d", ports[0])
	admin := tokenHeaders{key: oldKey, kid: "old", perms: []string{"temporal-system:admin"}}
	nc, err := dialNamespaces(t, hostPort, admin)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: "default", WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	}); err != nil {
		t.Fatalf("registering the namespace with a token of the published key: %v", err)
	}

	// Rotation without notice: the new key is published and used at once.
	newKey, newJWK := newES256Key(t, "new")
	writeJWKS(t, jwksPath, oldJWK, newJWK)
	c, err := client.Dial(client.Options{
		HostPort:        hostPort,
		Namespace:       "default",
		HeadersProvider: tokenHeaders{key: newKey, kid: "new", perms: []string{"default:read"}},
		Logger:          sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		t.Fatalf("client.Dial with a token signed by the new key: %v", err)
	}
	defer c.Close()
	if _, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"}); err != nil {
		t.Fatalf("DescribeNamespace with the new key: %v", err)
	}

	// Signed with a published key, but for another issuer or audience:
	// refused.
	for _, h := range []tokenHeaders{
		{key: newKey, kid: "new", perms: []string{"default:read"}, iss: "https://other-tenant.test/"},
		{key: newKey, kid: "new", perms: []string{"default:read"}, aud: "api://another-api"},
	} {
		other, err := client.Dial(client.Options{
			HostPort: hostPort, Namespace: "default", HeadersProvider: h,
			Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
		})
		if err == nil {
			_, err = other.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
			other.Close()
		}
		var denied *serviceerror.PermissionDenied
		if !errors.As(err, &denied) {
			t.Errorf("token with iss %q, aud %q: %v, want PermissionDenied", h.issuer(), h.audience(), err)
		}
	}
}

func dialNamespaces(t *testing.T, hostPort string, h tokenHeaders) (client.NamespaceClient, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		nc, err := client.NewNamespaceClient(client.Options{
			HostPort: hostPort, HeadersProvider: h,
			Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
		})
		if err == nil {
			t.Cleanup(nc.Close)
			return nc, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The issuer the test's JWKS is bound to, and the server's audience.
const (
	testIssuer   = "https://idp.customserver.test/"
	testAudience = "api://customserver-test"
)

type tokenHeaders struct {
	key      *ecdsa.PrivateKey
	kid      string
	perms    []string
	iss, aud string // default testIssuer, testAudience
}

func (h tokenHeaders) issuer() string   { return cmp.Or(h.iss, testIssuer) }
func (h tokenHeaders) audience() string { return cmp.Or(h.aud, testAudience) }

func (h tokenHeaders) GetHeaders(context.Context) (map[string]string, error) {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": h.issuer(), "aud": h.audience(),
		"sub": "customserver-test", "permissions": h.perms,
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = h.kid
	s, err := tok.SignedString(h.key)
	return map[string]string{"authorization": "Bearer " + s}, err
}

func newES256Key(t *testing.T, kid string) (*ecdsa.PrivateKey, map[string]string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x, y := make([]byte, 32), make([]byte, 32)
	key.X.FillBytes(x)
	key.Y.FillBytes(y)
	return key, map[string]string{"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
		"x": base64.RawURLEncoding.EncodeToString(x), "y": base64.RawURLEncoding.EncodeToString(y)}
}

func writeJWKS(t *testing.T, path string, keys ...map[string]string) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	// Write and rename, so a fetch never reads half a file.
	if err := os.WriteFile(path+".tmp", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var listeners []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range listeners {
		_ = l.Close()
	}
	return ports
}
