package azure

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/temporalauth/temporalauth/azure/entratest"
	"github.com/temporalauth/temporalauth/headers/clocktest"
)

// chainCert returns a certificate for the pool's key 0, valid from
// notBefore to notAfter and issued by a CA certificate for the pool's key 1.
func chainCert(t *testing.T, notBefore, notAfter time.Time) (leaf testCert, ca *x509.Certificate) {
	t.Helper()
	leafKey, caKey := poolCert(t, 0).key, poolCert(t, 1).key
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "temporalauth test CA"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "temporal-worker"},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{cert: cert, key: leafKey}, ca
}

func pfx(t *testing.T, leaf testCert, ca *x509.Certificate, password string) []byte {
	t.Helper()
	data, err := pkcs12.Modern2023.Encode(leaf.key, leaf.cert, []*x509.Certificate{ca}, password)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// assertionX5C returns the x5c header of the last client assertion posted.
func assertionX5C(t *testing.T, idp *entratest.Server) []string {
	t.Helper()
	assertion := lastRequest(t, idp).Values.Get("client_assertion")
	head, _, _ := strings.Cut(assertion, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatalf("assertion header: %v", err)
	}
	var h struct {
		X5C []string `json:"x5c"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("assertion header: %v", err)
	}
	return h.X5C
}

func TestPKCS12(t *testing.T) {
	leaf, ca := chainCert(t, time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour))
	for _, tc := range []struct {
		name, filePassword, password string
		chain                        bool
		wantErr                      string
	}{
		{name: "without password", filePassword: ""},
		{name: "with password", filePassword: " pass word ", password: " pass word "},
		{name: "with password, chain sent", filePassword: "pw", password: "pw", chain: true},
		{name: "password missing", filePassword: "pw", wantErr: "the PKCS#12 file has a password and AZURE_CLIENT_CERTIFICATE_PASSWORD is not set"},
		{name: "wrong password", filePassword: "pw", password: "Wr0ng-pw!", wantErr: "AZURE_CLIENT_CERTIFICATE_PASSWORD does not decrypt the PKCS#12 file"},
		{name: "password trimmed by someone", filePassword: " pass word ", password: "pass word", wantErr: "does not decrypt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := newIdP(t)
			idp.RegisterClient(entratest.Client{ID: "app-pfx", Certificate: leaf.cert, Roles: []string{"default:write"}})
			path := writeFile(t, "cert.pfx", pfx(t, leaf, ca, tc.filePassword))
			env := map[string]string{
				"AZURE_TENANT_ID": idp.Tenant(), "AZURE_CLIENT_ID": "app-pfx", "AZURE_AUTHORITY_HOST": idp.AuthorityHost(),
				"AZURE_DISABLE_INSTANCE_DISCOVERY": "true", "AZURE_CLIENT_CERTIFICATE_PATH": path,
				"AZURE_CLIENT_SEND_CERTIFICATE_CHAIN": map[bool]string{true: "true", false: ""}[tc.chain],
				"TEMPORAL_AUTH_SCOPE":                 testScope,
			}
			if tc.password != "" {
				env["AZURE_CLIENT_CERTIFICATE_PASSWORD"] = tc.password
			}
			cfg, err := ConfigFromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			cfg.HTTPClient = idp.Client()
			src, err := NewTokenSource(cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("NewTokenSource: %v; want %q naming the file", err, tc.wantErr)
				}
				if tc.password != "" {
					assertClean(t, err.Error(), tc.password)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewTokenSource: %v", err)
			}
			t.Cleanup(func() { _ = src.Close() })
			tok, err := src.Token(testContext(t))
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			if _, err := idp.VerifyToken(tok.Value()); err != nil {
				t.Fatal(err)
			}
			x5c := assertionX5C(t, idp)
			switch {
			case !tc.chain && len(x5c) != 0:
				t.Errorf("x5c sent without AZURE_CLIENT_SEND_CERTIFICATE_CHAIN: %d certificates", len(x5c))
			case tc.chain && (len(x5c) != 2 || x5c[0] != base64.StdEncoding.EncodeToString(leaf.cert.Raw) || x5c[1] != base64.StdEncoding.EncodeToString(ca.Raw)):
				t.Errorf("x5c %d certificates; want the leaf then the CA", len(x5c))
			}
			if got := slogText(src); !strings.Contains(got, "credential=certificate") || !strings.Contains(got, "certificate="+path) || (tc.password != "" && strings.Contains(got, tc.password)) {
				t.Errorf("LogValue %s", got)
			}
		})
	}
}

func slogText(v slog.LogValuer) string {
	var b lockedBuffer
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "src", v)
	return b.String()
}

func TestCertificateValidity(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name       string
		from, to   time.Time
		clock      time.Time // zero: the system clock
		wantErr    []string
		wantWarned bool
	}{
		{name: "expired", from: now.Add(-48 * time.Hour), to: now.Add(-time.Hour), wantErr: []string{"expired on " + now.Add(-time.Hour).UTC().Format("2006-01-02"), "renew"}},
		{name: "not yet valid", from: now.Add(time.Hour), to: now.Add(48 * time.Hour), wantErr: []string{"not valid before " + now.Add(time.Hour).UTC().Format("2006-01-02")}},
		{name: "expires in 10 days", from: now.Add(-time.Hour), to: now.Add(10 * 24 * time.Hour), wantWarned: true},
		{name: "expires in 60 days", from: now.Add(-time.Hour), to: now.Add(60 * 24 * time.Hour)},
		{name: "expired by Config.Clock", from: now.Add(-time.Hour), to: now.Add(60 * 24 * time.Hour), clock: now.Add(61 * 24 * time.Hour), wantErr: []string{"expired on"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf, ca := chainCert(t, tc.from, tc.to)
			idp := newIdP(t)
			cfg := appConfig(idp, "app-pfx")
			cfg.CertificatePath = writeFile(t, "cert.pfx", pfx(t, leaf, ca, ""))
			var logs lockedBuffer
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			if !tc.clock.IsZero() {
				cfg.Clock = clocktest.NewAt(tc.clock)
			}
			src, err := NewTokenSource(cfg)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatal("NewTokenSource accepted the certificate")
				}
				for _, w := range append(tc.wantErr, cfg.CertificatePath) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("NewTokenSource: %v", err)
			}
			_ = src.Close()
			warned := strings.Contains(logs.String(), "expires soon") && strings.Contains(logs.String(), tc.to.UTC().Format("2006-01-02"))
			if warned != tc.wantWarned {
				t.Errorf("warned %t, want %t; log:\n%s", warned, tc.wantWarned, logs.String())
			}
		})
	}
}
