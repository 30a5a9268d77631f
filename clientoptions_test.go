package temporalauth_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/temporalauth/temporalauth"
)

// envOptions returns EnvOptions reading m, with a config file path that
// does not exist unless m names one, so that no test reads the user's own
// Temporal config file.
func envOptions(t *testing.T, m map[string]string) temporalauth.EnvOptions {
	t.Helper()
	if _, ok := m["TEMPORAL_CONFIG_FILE"]; !ok {
		m["TEMPORAL_CONFIG_FILE"] = filepath.Join(t.TempDir(), "absent.toml")
	}
	return temporalauth.EnvOptions{
		Lookup: mapEnv(m),
		Environ: func() []string {
			var out []string
			for k, v := range m {
				out = append(out, k+"="+v)
			}
			return out
		},
	}
}

// loadClientOptions calls LoadClientOptions and closes the Auth at the end.
func loadClientOptions(t *testing.T, o temporalauth.EnvOptions) (headersOf func() map[string]string, hostPort, namespace string, dialOptions int, auth *temporalauth.Auth) {
	t.Helper()
	opts, auth, err := temporalauth.LoadClientOptions(o)
	if err != nil {
		t.Fatalf("LoadClientOptions: %v", err)
	}
	t.Cleanup(func() { _ = auth.Close() })
	headersOf = func() map[string]string {
		t.Helper()
		if opts.HeadersProvider == nil {
			return nil
		}
		h, err := opts.HeadersProvider.GetHeaders(context.Background())
		if err != nil {
			t.Fatalf("GetHeaders: %v", err)
		}
		return h
	}
	return headersOf, opts.HostPort, opts.Namespace, len(opts.ConnectionOptions.DialOptions), auth
}

func TestLoadClientOptionsMergesHeaders(t *testing.T) {
	token := randomSecret(t, "tok")
	o := envOptions(t, map[string]string{
		"TEMPORAL_ADDRESS":             " temporal.example.com:7233 ",
		"TEMPORAL_NAMESPACE":           "orders",
		"TEMPORAL_GRPC_META_X_TENANT":  "acme ",
		"TEMPORAL_AUTH_TOKEN":          token,
		"TEMPORAL_GRPC_META_X_REGION":  "eu",
		"UNRELATED_GRPC_META_X_IGNORE": "1",
	})
	headersOf, hostPort, namespace, dialOptions, auth := loadClientOptions(t, o)
	if hostPort != "temporal.example.com:7233" || namespace != "orders" {
		t.Errorf("HostPort, Namespace = %q, %q; want temporal.example.com:7233, orders", hostPort, namespace)
	}
	h := headersOf()
	if len(h) != 3 || h["authorization"] != "Bearer "+token || h["x-tenant"] != "acme" || h["x-region"] != "eu" {
		t.Errorf("headers = %v; want authorization, x-tenant=acme and x-region=eu", h)
	}
	if dialOptions != 2 || auth.Kind() != "static" {
		t.Errorf("%d dial options, Kind %q; want RetryUnauthorized and the rejection log from the static provider", dialOptions, auth.Kind())
	}
}

func TestLoadClientOptionsTokenOnly(t *testing.T) {
	path, key := writeES256Key(t)
	headersOf, _, _, dialOptions, auth := loadClientOptions(t, envOptions(t, map[string]string{
		"TEMPORAL_JWT_PRIVATE_KEY_FILE": path,
		"TEMPORAL_JWT_PERMISSIONS":      "default:write",
	}))
	h := headersOf()
	tok, ok := strings.CutPrefix(h["authorization"], "Bearer ")
	if len(h) != 1 || !ok {
		t.Fatalf("headers = %v; want the authorization header alone", h)
	}
	verifyJWT(t, tok, key)
	if dialOptions != 2 || auth.Kind() != "jwt" {
		t.Errorf("%d dial options, Kind %q", dialOptions, auth.Kind())
	}
}

func TestLoadClientOptionsTokenReplacesConfiguredAuthorization(t *testing.T) {
	token := randomSecret(t, "tok")
	o := envOptions(t, map[string]string{
		"TEMPORAL_GRPC_META_AUTHORIZATION": "Bearer configured",
		"TEMPORAL_AUTH_TOKEN":              token,
	})
	log, buf := captureLogs()
	o.Logger = log
	headersOf, _, _, _, _ := loadClientOptions(t, o)
	if got := headersOf()["authorization"]; got != "Bearer "+token {
		t.Errorf("authorization = %q; want the provider's token", got)
	}
	if out := buf.String(); !strings.Contains(out, "WARN") || !strings.Contains(out, "TEMPORAL_GRPC_META_AUTHORIZATION") || strings.Contains(out, token) {
		t.Errorf("log = %s; want one warning naming TEMPORAL_GRPC_META_AUTHORIZATION, without the token", out)
	}
}

func TestLoadClientOptionsNone(t *testing.T) {
	apiKey := randomSecret(t, "key")
	o := envOptions(t, map[string]string{"TEMPORAL_ADDRESS": "a:7233", "TEMPORAL_API_KEY": apiKey})
	opts, auth, err := temporalauth.LoadClientOptions(o)
	if err != nil {
		t.Fatal(err)
	}
	if auth.Kind() != "none" || opts.HeadersProvider != nil || opts.Credentials == nil ||
		len(opts.ConnectionOptions.DialOptions) != 0 || opts.ConnectionOptions.TLS == nil {
		t.Errorf("none with an API key: Kind %q, HeadersProvider %v, Credentials %v, %d dial options, TLS %v; want envconfig's options untouched",
			auth.Kind(), opts.HeadersProvider, opts.Credentials, len(opts.ConnectionOptions.DialOptions), opts.ConnectionOptions.TLS)
	}
	headersOf, _, _, _, _ := loadClientOptions(t, envOptions(t, map[string]string{"TEMPORAL_GRPC_META_X_TENANT": "acme"}))
	if h := headersOf(); len(h) != 1 || h["x-tenant"] != "acme" {
		t.Errorf("none with TEMPORAL_GRPC_META_X_TENANT: headers = %v", h)
	}
}

func TestLoadClientOptionsProfileFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "temporal.toml")
	if err := os.WriteFile(file, []byte(`
[profile.default]
address = "default:7233"

[profile.prod]
address = "prod.example.com:7233"
namespace = "prod"
[profile.prod.grpc_meta]
x-tenant = "from-file"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	token := randomSecret(t, "tok")
	headersOf, hostPort, namespace, _, _ := loadClientOptions(t, envOptions(t, map[string]string{
		"TEMPORAL_CONFIG_FILE": file,
		"TEMPORAL_PROFILE":     "prod",
		"TEMPORAL_AUTH_TOKEN":  token,
	}))
	if hostPort != "prod.example.com:7233" || namespace != "prod" {
		t.Errorf("HostPort, Namespace = %q, %q; want the prod profile's", hostPort, namespace)
	}
	if h := headersOf(); h["x-tenant"] != "from-file" || h["authorization"] != "Bearer "+token {
		t.Errorf("headers = %v; want x-tenant from the file and the token", h)
	}
}

func TestLoadClientOptionsWithoutEnviron(t *testing.T) {
	o := envOptions(t, map[string]string{"TEMPORAL_GRPC_META_X_TENANT": "acme", "TEMPORAL_AUTH_TOKEN": "t"})
	o.Environ = nil // Lookup alone cannot list TEMPORAL_GRPC_META_* variables
	headersOf, _, _, _, _ := loadClientOptions(t, o)
	if h := headersOf(); len(h) != 1 || h["authorization"] != "Bearer t" {
		t.Errorf("headers = %v; want the token alone", h)
	}
}

func TestLoadClientOptionsFromProcessEnvironment(t *testing.T) {
	clearAuthEnv(t)
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "absent.toml"))
	t.Setenv("TEMPORAL_PROFILE", "")
	t.Setenv("TEMPORAL_ADDRESS", "from-env:7233")
	t.Setenv("TEMPORAL_API_KEY", "")
	t.Setenv("TEMPORAL_GRPC_META_X_FROM_ENV", "yes")
	headersOf, hostPort, _, _, _ := loadClientOptions(t, temporalauth.EnvOptions{})
	if hostPort != "from-env:7233" || headersOf()["x-from-env"] != "yes" {
		t.Errorf("HostPort %q, headers %v; want the process environment's", hostPort, headersOf())
	}
}

func TestLoadClientOptionsErrors(t *testing.T) {
	path, _ := writeES256Key(t)
	apiKey := randomSecret(t, "key")
	token := randomSecret(t, "tok")
	file := filepath.Join(t.TempDir(), "temporal.toml")
	if err := os.WriteFile(file, []byte("[profile.default]\napi_key = \""+apiKey+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"API key and jwt", map[string]string{"TEMPORAL_API_KEY": apiKey, "TEMPORAL_JWT_PRIVATE_KEY_FILE": path},
			[]string{"TEMPORAL_API_KEY and TEMPORAL_JWT_PRIVATE_KEY_FILE are both set", "authorization", "TEMPORAL_AUTH_PROVIDER=none"}},
		{"API key and explicit static", map[string]string{"TEMPORAL_API_KEY": apiKey, "TEMPORAL_AUTH_PROVIDER": "static", "TEMPORAL_AUTH_TOKEN": token},
			[]string{"TEMPORAL_API_KEY and TEMPORAL_AUTH_PROVIDER=static are both set"}},
		{"API key in the config file", map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_AUTH_TOKEN": token},
			[]string{`api_key of profile "default"`, "TEMPORAL_CONFIG_FILE", "TEMPORAL_AUTH_TOKEN"}},
		{"unknown profile", map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "staging"},
			[]string{"TEMPORAL_PROFILE", "staging"}},
		{"bad TLS settings", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": "/c.pem"},
			[]string{"TEMPORAL_TLS", "client cert or key path"}},
		{"bad auth settings", map[string]string{"TEMPORAL_AUTH_PROVIDER": "oauth"},
			[]string{"TEMPORAL_AUTH_PROVIDER"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, auth, err := temporalauth.LoadClientOptions(envOptions(t, tc.env))
			if err == nil {
				auth.Close()
				t.Fatalf("LoadClientOptions succeeded: %+v", opts)
			}
			if auth != nil {
				t.Errorf("LoadClientOptions returned an Auth with error %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\n does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), apiKey) || strings.Contains(err.Error(), token) {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}
