package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/temporalauth/temporalauth"
	"github.com/temporalauth/temporalauth/azure/entratest"
)

// azureCertificate returns a certificate for a new RSA key, issued by a new
// CA, valid from notBefore to notAfter, with its key and the CA.
func azureCertificate(t *testing.T, notBefore, notAfter time.Time) (*x509.Certificate, *rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "temporal-worker"},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key, ca
}

// A worker and a starter configured from AZURE_* variables with a PKCS#12
// certificate (with a password, and without, sending the chain) run
// workflows; an expired certificate is refused when the provider is built.
func TestAzureCertificatePFX(t *testing.T) {
	idp := azureIdP(t)
	srv := azureStartServer(t, idp, time.Second, nil)
	const queue = "azure-pfx"
	dir := t.TempDir()
	load := func(clientID, password string, chain bool, notBefore, notAfter time.Time) (*temporalauth.Auth, error) {
		cert, key, ca := azureCertificate(t, notBefore, notAfter)
		idp.RegisterClient(entratest.Client{ID: clientID, Certificate: cert, Roles: []string{azureRoleWrite}})
		data, err := pkcs12.Modern2023.Encode(key, cert, []*x509.Certificate{ca}, password)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, clientID+".pfx")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{
			"AZURE_TENANT_ID": idp.Tenant(), "AZURE_CLIENT_ID": clientID, "AZURE_CLIENT_CERTIFICATE_PATH": path,
			"AZURE_AUTHORITY_HOST": idp.AuthorityHost(), "AZURE_DISABLE_INSTANCE_DISCOVERY": "true",
			"TEMPORAL_AUTH_SCOPE": entratest.DefaultResource + "/.default",
		}
		if password != "" {
			env["AZURE_CLIENT_CERTIFICATE_PASSWORD"] = password
		}
		if chain {
			env["AZURE_CLIENT_SEND_CERTIFICATE_CHAIN"] = "true"
		}
		a, err := temporalauth.Load(temporalauth.EnvOptions{
			Lookup:     func(k string) (string, bool) { v, ok := env[k]; return v, ok },
			HTTPClient: idp.Client(),
			Logger:     azureQuietLogger,
		})
		if err == nil {
			t.Cleanup(func() { _ = a.Close() })
		}
		return a, err
	}
	now := time.Now()
	workerAuth, err := load("azure-e2e-pfx-worker", " pfx password ", false, now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatalf("worker with a password-protected PFX: %v", err)
	}
	azureStartWorker(t, azureMustDial(t, srv, workerAuth), queue)
	starterAuth, err := load("azure-e2e-pfx-starter", "", true, now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatalf("starter with a PFX without password: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := azureRun(ctx, azureMustDial(t, srv, starterAuth), queue, "pfx"); err != nil {
		t.Fatalf("workflow with PFX credentials: %v", err)
	}
	t.Logf("worker: %v; starter: %v", workerAuth, starterAuth)
	for _, r := range idp.TokenRequests() {
		id := r.Values.Get("client_id")
		if !strings.HasPrefix(id, "azure-e2e-pfx-") || !r.Values.Has("client_assertion") {
			continue // the operator's client secret
		}
		head, _, _ := strings.Cut(r.Values.Get("client_assertion"), ".")
		raw, err := base64.RawURLEncoding.DecodeString(head)
		if err != nil {
			t.Fatalf("assertion of %s: %v", id, err)
		}
		var h struct {
			X5C []string `json:"x5c"`
		}
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatalf("assertion header of %s: %v", id, err)
		}
		switch {
		case id == "azure-e2e-pfx-starter" && len(h.X5C) != 2:
			t.Errorf("starter sent %d certificates in x5c, want its chain of 2", len(h.X5C))
		case id == "azure-e2e-pfx-worker" && len(h.X5C) != 0:
			t.Errorf("worker sent x5c without AZURE_CLIENT_SEND_CERTIFICATE_CHAIN")
		}
	}

	_, err = load("azure-e2e-pfx-expired", "", false, now.Add(-48*time.Hour), now.Add(-time.Hour))
	if err == nil {
		t.Fatal("an expired certificate was accepted")
	}
	t.Logf("expired certificate: %v", err)
}
