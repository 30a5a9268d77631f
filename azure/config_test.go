package azure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/temporalauth/temporalauth/azure/entratest"
	"github.com/temporalauth/temporalauth/headers"
)

const (
	tenant = "72f988bf-0000-4000-8000-000000000001"
	client = "8b1f0c2e-0000-4000-8000-000000000002"
	scope  = "api://temporal-server/.default"
)

func TestConfigValidate(t *testing.T) {
	base := Config{TenantID: tenant, ClientID: client, Scopes: []string{scope}, ClientSecret: testSecret}
	with := func(f func(*Config)) Config {
		c := base
		c.Scopes = append([]string(nil), base.Scopes...)
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // substrings of the error; nil means valid
	}{
		{"client secret", base, nil},
		{"certificate PEM", with(func(c *Config) { c.ClientSecret, c.Certificate = "", []byte("pem") }), nil},
		{"federated", with(func(c *Config) { c.ClientSecret, c.FederatedTokenFile = "", "/token" }), nil},
		{"system-assigned", Config{ManagedIdentity: SystemAssigned(), Scopes: []string{"api://temporal-server"}}, nil},
		{"user-assigned with matching client ID", Config{ClientID: client, ManagedIdentity: UserAssignedClientID(client), Scopes: []string{scope}}, nil},
		{"sovereign cloud", with(func(c *Config) { c.AuthorityHost = "https://login.microsoftonline.us" }), nil},
		{"domain tenant", with(func(c *Config) { c.TenantID = "contoso.onmicrosoft.com" }), nil},

		{"no credential", with(func(c *Config) { c.ClientSecret = "" }), []string{"no credential", "azure.Config.ClientSecret", "azure.Config.CertificatePath", "azure.Config.FederatedTokenFile", "azure.Config.ManagedIdentity"}},
		{"secret and certificate", with(func(c *Config) { c.CertificatePath = "/c.pem" }), []string{"azure.Config.ClientSecret and azure.Config.CertificatePath are set", "exactly one"}},
		{"three credentials", with(func(c *Config) { c.FederatedTokenFile, c.ManagedIdentity = "/t", SystemAssigned() }), []string{"azure.Config.ClientSecret, azure.Config.FederatedTokenFile and azure.Config.ManagedIdentity"}},
		{"certificate path and PEM", with(func(c *Config) { c.ClientSecret, c.CertificatePath, c.Certificate = "", "/c.pem", []byte("x") }), []string{"azure.Config.CertificatePath and azure.Config.Certificate"}},
		{"password without certificate", with(func(c *Config) { c.CertificatePassword = "pw" }), []string{"azure.Config.CertificatePassword", "no certificate"}},
		{"no scope", with(func(c *Config) { c.Scopes = nil }), []string{"azure.Config.Scopes: empty", "/.default"}},
		{"empty scope", with(func(c *Config) { c.Scopes = []string{""} }), []string{"empty scope"}},
		{"scope with space", with(func(c *Config) { c.Scopes = []string{"api://x/.default api://y/.default"} }), []string{"white space"}},
		{"scope without .default", with(func(c *Config) { c.Scopes = []string{"api://temporal-server"} }), []string{"does not end in /.default"}},
		{"managed identity with two scopes", Config{ManagedIdentity: SystemAssigned(), Scopes: []string{"a", "b"}}, []string{"exactly one resource"}},
		{"no tenant", with(func(c *Config) { c.TenantID = "" }), []string{"azure.Config.TenantID: not set"}},
		{"bad tenant", with(func(c *Config) { c.TenantID = "contoso/evil" }), []string{"azure.Config.TenantID", "contoso/evil"}},
		{"no client", with(func(c *Config) { c.ClientID = "" }), []string{"azure.Config.ClientID: not set"}},
		{"client with space", with(func(c *Config) { c.ClientID = "a b" }), []string{"azure.Config.ClientID", "white space"}},
		{"http authority", with(func(c *Config) { c.AuthorityHost = "http://login.microsoftonline.com/" }), []string{"azure.Config.AuthorityHost", "https"}},
		{"authority with path", with(func(c *Config) { c.AuthorityHost = "https://login.microsoftonline.com/tenant" }), []string{"azure.Config.AuthorityHost", "only a scheme and host"}},
		{"authority not a URL", with(func(c *Config) { c.AuthorityHost = "login.microsoftonline.com" }), []string{"azure.Config.AuthorityHost", "not a URL"}},
		{"http authority with managed identity", Config{ManagedIdentity: SystemAssigned(), Scopes: []string{"r"}, AuthorityHost: "http://x"}, []string{"azure.Config.AuthorityHost"}},
		{"empty user-assigned ID", Config{ManagedIdentity: UserAssignedObjectID(" "), Scopes: []string{"r"}}, []string{"azure.Config.ManagedIdentity", "empty ID"}},
		{"client ID with system-assigned", Config{ClientID: client, ManagedIdentity: SystemAssigned(), Scopes: []string{"r"}}, []string{"azure.Config.ClientID", "system-assigned", "UserAssignedClientID"}},
		{"client ID contradicting identity", Config{ClientID: client, ManagedIdentity: UserAssignedObjectID("other"), Scopes: []string{"r"}}, []string{"azure.Config.ClientID", "contradicts"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if !isConfigError(err) {
				t.Fatalf("validate: %v, want a *headers.ConfigError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			assertClean(t, err.Error(), "pw")
			if _, err := NewTokenSource(tc.cfg); !isConfigError(err) {
				t.Errorf("NewTokenSource accepted what validate refused: %v", err)
			}
		})
	}
}

func TestConfigFromLookup(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want Config
		errs []string // substrings of the error; nil means success
	}{
		{
			name: "client secret, trimmed",
			env:  map[string]string{"AZURE_TENANT_ID": " " + tenant + "\n", "AZURE_CLIENT_ID": client, "AZURE_CLIENT_SECRET": testSecret + "\n", "TEMPORAL_AUTH_SCOPE": " " + scope + " "},
			want: Config{TenantID: tenant, ClientID: client, ClientSecret: testSecret, Scopes: []string{scope}},
		},
		{
			name: "certificate with password and sovereign cloud",
			env: map[string]string{"AZURE_TENANT_ID": tenant, "AZURE_CLIENT_ID": client, "AZURE_CLIENT_CERTIFICATE_PATH": "/etc/cert.pem",
				"AZURE_CLIENT_CERTIFICATE_PASSWORD": "pw", "AZURE_AUTHORITY_HOST": "https://login.chinacloudapi.cn/", "TEMPORAL_AUTH_SCOPE": scope},
			want: Config{TenantID: tenant, ClientID: client, CertificatePath: "/etc/cert.pem", CertificatePassword: "pw", AuthorityHost: "https://login.chinacloudapi.cn/", Scopes: []string{scope}},
		},
		{
			name: "workload identity as AKS sets it",
			env:  map[string]string{"AZURE_TENANT_ID": tenant, "AZURE_CLIENT_ID": client, "AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token", "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com/", "TEMPORAL_AUTH_SCOPE": scope},
			want: Config{TenantID: tenant, ClientID: client, FederatedTokenFile: "/var/run/secrets/azure/tokens/azure-identity-token", AuthorityHost: "https://login.microsoftonline.com/", Scopes: []string{scope}},
		},
		{
			name: "password used as given",
			env: map[string]string{"AZURE_TENANT_ID": tenant, "AZURE_CLIENT_ID": client, "AZURE_CLIENT_CERTIFICATE_PATH": "/etc/cert.pfx",
				"AZURE_CLIENT_CERTIFICATE_PASSWORD": " pw ", "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN": "true", "AZURE_DISABLE_INSTANCE_DISCOVERY": "1", "TEMPORAL_AUTH_SCOPE": scope},
			want: Config{TenantID: tenant, ClientID: client, CertificatePath: "/etc/cert.pfx", CertificatePassword: " pw ", SendCertificateChain: true, DisableInstanceDiscovery: true, Scopes: []string{scope}},
		},
		{
			name: "system-assigned managed identity, tenant ignored",
			env:  map[string]string{"AZURE_MANAGED_IDENTITY": "System", "AZURE_TENANT_ID": tenant, "TEMPORAL_AUTH_SCOPE": scope},
			want: Config{TenantID: tenant, ManagedIdentity: SystemAssigned(), Scopes: []string{scope}},
		},
		{
			name: "user-assigned from AZURE_CLIENT_ID",
			env:  map[string]string{"AZURE_MANAGED_IDENTITY": "user", "AZURE_CLIENT_ID": client, "TEMPORAL_AUTH_SCOPE": scope},
			want: Config{ClientID: client, ManagedIdentity: UserAssignedClientID(client), Scopes: []string{scope}},
		},
		{
			name: "user-assigned by resource ID",
			env:  map[string]string{"AZURE_MANAGED_IDENTITY": "resource_id=/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/w", "TEMPORAL_AUTH_SCOPE": scope},
			want: Config{ManagedIdentity: UserAssignedResourceID("/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/w"), Scopes: []string{scope}},
		},
		{
			name: "user-assigned by object ID",
			env:  map[string]string{"AZURE_MANAGED_IDENTITY": "object_id = abc", "TEMPORAL_AUTH_SCOPE": scope},
			want: Config{ManagedIdentity: UserAssignedObjectID("abc"), Scopes: []string{scope}},
		},
		{
			name: "blank variables count as unset",
			env:  map[string]string{"AZURE_TENANT_ID": tenant, "AZURE_CLIENT_ID": client, "AZURE_CLIENT_SECRET": "x", "AZURE_CLIENT_CERTIFICATE_PATH": "  ", "AZURE_MANAGED_IDENTITY": "", "TEMPORAL_AUTH_SCOPE": scope},
			want: Config{TenantID: tenant, ClientID: client, ClientSecret: "x", Scopes: []string{scope}},
		},

		{name: "nothing set", env: map[string]string{}, errs: []string{"no credential", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_MANAGED_IDENTITY"}},
		{name: "no scope", env: map[string]string{"AZURE_TENANT_ID": tenant, "AZURE_CLIENT_ID": client, "AZURE_CLIENT_SECRET": "x"}, errs: []string{"TEMPORAL_AUTH_SCOPE: empty"}},
		{name: "only commas in scope", env: map[string]string{"AZURE_TENANT_ID": tenant, "AZURE_CLIENT_ID": client, "AZURE_CLIENT_SECRET": "x", "TEMPORAL_AUTH_SCOPE": " , "}, errs: []string{"TEMPORAL_AUTH_SCOPE", "empty"}},
		{name: "several .default scopes", env: map[string]string{"AZURE_TENANT_ID": tenant, "AZURE_CLIENT_ID": client, "AZURE_CLIENT_SECRET": "x", "TEMPORAL_AUTH_SCOPE": scope + ",api://other/.default"}, errs: []string{"TEMPORAL_AUTH_SCOPE", "2 .default scopes", "one resource"}},
		{name: "chain flag not a boolean", env: map[string]string{"AZURE_TENANT_ID": tenant, "AZURE_CLIENT_ID": client, "AZURE_CLIENT_CERTIFICATE_PATH": "/c", "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN": "yes please", "TEMPORAL_AUTH_SCOPE": scope}, errs: []string{"AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "boolean"}},
		{name: "chain without certificate", env: map[string]string{"AZURE_TENANT_ID": tenant, "AZURE_CLIENT_ID": client, "AZURE_CLIENT_SECRET": "x", "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN": "true", "TEMPORAL_AUTH_SCOPE": scope}, errs: []string{"AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "no certificate"}},
		{name: "no tenant", env: map[string]string{"AZURE_CLIENT_ID": client, "AZURE_CLIENT_SECRET": "x", "TEMPORAL_AUTH_SCOPE": scope}, errs: []string{"AZURE_TENANT_ID: not set"}},
		{name: "no client", env: map[string]string{"AZURE_TENANT_ID": tenant, "AZURE_CLIENT_SECRET": "x", "TEMPORAL_AUTH_SCOPE": scope}, errs: []string{"AZURE_CLIENT_ID: not set"}},
		{name: "secret and certificate", env: map[string]string{"AZURE_TENANT_ID": tenant, "AZURE_CLIENT_ID": client, "AZURE_CLIENT_SECRET": "x", "AZURE_CLIENT_CERTIFICATE_PATH": "/c", "TEMPORAL_AUTH_SCOPE": scope}, errs: []string{"AZURE_CLIENT_SECRET and AZURE_CLIENT_CERTIFICATE_PATH are set"}},
		{name: "secret and managed identity", env: map[string]string{"AZURE_MANAGED_IDENTITY": "system", "AZURE_CLIENT_SECRET": "x", "TEMPORAL_AUTH_SCOPE": scope}, errs: []string{"AZURE_CLIENT_SECRET and AZURE_MANAGED_IDENTITY are set"}},
		{name: "password without certificate", env: map[string]string{"AZURE_TENANT_ID": tenant, "AZURE_CLIENT_ID": client, "AZURE_CLIENT_SECRET": "x", "AZURE_CLIENT_CERTIFICATE_PASSWORD": "pw", "TEMPORAL_AUTH_SCOPE": scope}, errs: []string{"AZURE_CLIENT_CERTIFICATE_PASSWORD: set but no certificate", "AZURE_CLIENT_CERTIFICATE_PATH"}},
		{name: "http authority host", env: map[string]string{"AZURE_TENANT_ID": tenant, "AZURE_CLIENT_ID": client, "AZURE_CLIENT_SECRET": "x", "AZURE_AUTHORITY_HOST": "http://login.microsoftonline.com/", "TEMPORAL_AUTH_SCOPE": scope}, errs: []string{"AZURE_AUTHORITY_HOST", "https"}},
		{name: "scope without .default", env: map[string]string{"AZURE_TENANT_ID": tenant, "AZURE_CLIENT_ID": client, "AZURE_CLIENT_SECRET": "x", "TEMPORAL_AUTH_SCOPE": "api://temporal-server"}, errs: []string{"TEMPORAL_AUTH_SCOPE", "/.default"}},
		{name: "unknown managed identity kind", env: map[string]string{"AZURE_MANAGED_IDENTITY": "yes", "TEMPORAL_AUTH_SCOPE": scope}, errs: []string{"AZURE_MANAGED_IDENTITY", `"yes"`, "system, user"}},
		{name: "user without client ID", env: map[string]string{"AZURE_MANAGED_IDENTITY": "user", "TEMPORAL_AUTH_SCOPE": scope}, errs: []string{"AZURE_MANAGED_IDENTITY: user needs AZURE_CLIENT_ID"}},
		{name: "empty identity ID", env: map[string]string{"AZURE_MANAGED_IDENTITY": "client_id=", "TEMPORAL_AUTH_SCOPE": scope}, errs: []string{"AZURE_MANAGED_IDENTITY", "empty"}},
		{name: "system with client ID", env: map[string]string{"AZURE_MANAGED_IDENTITY": "system", "AZURE_CLIENT_ID": client, "TEMPORAL_AUTH_SCOPE": scope}, errs: []string{"AZURE_CLIENT_ID: set but", "AZURE_MANAGED_IDENTITY=user"}},
		{name: "client ID contradicting identity", env: map[string]string{"AZURE_MANAGED_IDENTITY": "client_id=other", "AZURE_CLIENT_ID": client, "TEMPORAL_AUTH_SCOPE": scope}, errs: []string{"AZURE_CLIENT_ID", "contradicts", "AZURE_MANAGED_IDENTITY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromLookup(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if tc.errs == nil {
				if err != nil {
					t.Fatalf("ConfigFromLookup: %v", err)
				}
				tc.want.fromEnv = true
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got  %v\nwant %v", got, tc.want)
				}
				return
			}
			if !isConfigError(err) {
				t.Fatalf("ConfigFromLookup: %v, want a *headers.ConfigError", err)
			}
			for _, w := range tc.errs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "Config.") {
				t.Errorf("error %q names a Config field instead of the variable", err)
			}
			assertClean(t, err.Error(), "pw")
		})
	}
}

func isConfigError(err error) bool {
	var ce *headers.ConfigError
	return errors.As(err, &ce)
}

func TestSeveralDefaultScopesRefused(t *testing.T) {
	cfg := Config{TenantID: tenant, ClientID: client, ClientSecret: testSecret, Scopes: []string{scope, "api://other/.default"}}
	_, err := NewTokenSource(cfg)
	var ce *headers.ConfigError
	if !errors.As(err, &ce) || ce.Setting != "azure.Config.Scopes" || !strings.Contains(err.Error(), "2 .default scopes") {
		t.Fatalf("NewTokenSource with two .default scopes: %v; want a ConfigError for azure.Config.Scopes", err)
	}
}

// TestNoSecretsShown prints and logs every value a user might print or log,
// and checks that no secret, key or token shows.
func TestNoSecretsShown(t *testing.T) {
	cert := poolCert(t, 0)
	const password = "Pa55word-of-the-key"
	pemData := cert.encryptedPEM(t, password)
	cfg := Config{
		TenantID: tenant, ClientID: client, Scopes: []string{scope},
		ClientSecret: testSecret, Certificate: pemData, CertificatePassword: password,
		HTTPClient: http.DefaultClient,
	}
	var out lockedBuffer // the Provider logs from its refresh goroutine
	logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	logger.Info("config", "cfg", cfg)
	fmt.Fprintf(&out, "%v\n%+v\n%#v\n%s\n", cfg, cfg, cfg, cfg)
	fmt.Fprintf(&out, "%v %+v %#v\n", &cfg, &cfg, &cfg)

	for _, want := range []string{"ClientSecret", "Certificate", "CertificatePassword", headers.Redacted, client} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output does not mention %q:\n%s", want, out.String())
		}
	}

	// A Provider over a working source, and one over a failing source,
	// logging at debug level.
	idp := newIdP(t)
	idp.RegisterClient(entratest.Client{ID: "app-1", Secret: testSecret})
	good := appConfig(idp, "app-1")
	good.ClientSecret = testSecret
	bad := good
	bad.ClientSecret = "wrong-" + testSecret
	ctx := context.Background()
	var tokens []string
	for _, c := range []Config{good, bad} {
		src := newSource(t, c)
		p := headers.New(src, headers.Options{Logger: logger})
		h, err := p.GetHeaders(ctx)
		fmt.Fprintf(&out, "%v %+v %#v %v %+v %#v %v\n", src, src, src, p, p, p, err)
		if err == nil {
			tokens = append(tokens, strings.TrimPrefix(h["authorization"], "Bearer "))
			tok, _ := src.Token(ctx)
			fmt.Fprintf(&out, "%v %+v %#v\n", tok, tok, tok)
		}
		_ = p.Close() // waits for the refresh goroutine and its log record
	}
	if len(tokens) != 1 || len(tokens[0]) < 100 {
		t.Fatalf("expected one token from the good source, got %d", len(tokens))
	}
	if !strings.Contains(out.String(), "AADSTS7000215") {
		t.Errorf("the failing source's error is missing from the output")
	}
	assertClean(t, out.String(), password, tokens[0], "PRIVATE KEY", string(pemData[40:80]))
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
