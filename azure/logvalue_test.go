package azure

import (
	"fmt"
	"strings"
	"testing"
)

// Source.LogValue describes the identity and credential without secrets;
// the root package's Auth shows it as its description.
func TestSourceLogValue(t *testing.T) {
	idp := newIdP(t)
	useManagedIdentityEndpoint(t, idp)
	cert := poolCert(t, 0)
	certPath := writeFile(t, "cert.pem", cert.encryptedPEM(t, testCertPassword))
	tokenFile := writeFile(t, "token", []byte("federated-assertion-value"))
	app := appConfig(idp, "app-1")
	for _, tc := range []struct {
		name string
		cfg  func(c *Config)
		want []string
	}{
		{"secret", func(c *Config) { c.ClientSecret = testSecret }, []string{
			"client_id=app-1", "tenant=" + idp.Tenant(), "scopes=[" + testScope + "]", "credential=client_secret",
			"authority=" + idp.AuthorityHost(), "instance_discovery=off"}},
		{"certificate", func(c *Config) {
			c.CertificatePath, c.CertificatePassword, c.SendCertificateChain = certPath, testCertPassword, true
		}, []string{"credential=certificate", "certificate=" + certPath, "send_chain=true"}},
		{"workload identity", func(c *Config) { c.FederatedTokenFile = tokenFile }, []string{
			"credential=workload_identity", "federated_token_file=" + tokenFile}},
		{"managed identity", func(c *Config) {
			*c = Config{ManagedIdentity: UserAssignedClientID("mi-1"), Scopes: []string{"api://x"}, HTTPClient: idp.Client()}
		}, []string{"credential=managed_identity", "identity=\"user-assigned client_id=mi-1\"", "scopes=[api://x]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := app
			tc.cfg(&cfg)
			src := newSource(t, cfg)
			got := slogText(src)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("LogValue %s\ndoes not contain %s", got, w)
				}
			}
			if tc.name == "managed identity" && (strings.Contains(got, "tenant=") || strings.Contains(got, "authority=")) {
				t.Errorf("LogValue of a managed identity names a tenant or authority: %s", got)
			}
			printed := got + fmt.Sprintf("%v %+v %#v %s %q %x", src, src, src, src, src, src)
			assertClean(t, printed, testSecret, testCertPassword, "federated-assertion-value", "PRIVATE KEY")
		})
	}
}
