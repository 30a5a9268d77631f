package azure

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/azure/entratest"
	"github.com/temporalauth/temporalauth/headers/clocktest"
	"github.com/temporalauth/temporalauth/internal/secretfile"
)

const testCertPassword = "correct horse battery staple"

func TestCertificate(t *testing.T) {
	cert := poolCert(t, 0)
	for _, tc := range []struct {
		name  string
		setup func(cfg *Config)
	}{
		{"path", func(cfg *Config) { cfg.CertificatePath = writeFile(t, "cert.pem", cert.pem(t)) }},
		{"PEM", func(cfg *Config) { cfg.Certificate = cert.pem(t) }},
		{"path with password", func(cfg *Config) {
			cfg.CertificatePath = writeFile(t, "cert.pem", cert.encryptedPEM(t, testCertPassword))
			cfg.CertificatePassword = testCertPassword
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := newIdP(t)
			idp.RegisterClient(entratest.Client{ID: "app-cert", Certificate: cert.cert, Roles: []string{"default:worker"}})
			cfg := appConfig(idp, "app-cert")
			tc.setup(&cfg)
			tok, err := newSource(t, cfg).Token(testContext(t))
			if err != nil {
				t.Fatalf("Token: %v", err)
			}

			req := lastRequest(t, idp)
			if got := req.Values.Get("client_assertion_type"); got != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
				t.Errorf("client_assertion_type %q", got)
			}
			if req.Values.Has("client_secret") {
				t.Error("a client secret was posted")
			}
			if got := req.Values.Get("grant_type"); got != "client_credentials" {
				t.Errorf("grant_type %q", got)
			}
			h := jwtHeader(t, req.Values.Get("client_assertion"))
			sum := sha256.Sum256(cert.cert.Raw)
			if got, _ := h["x5t#S256"].(string); !thumbprintEqual(got, sum[:]) {
				t.Errorf("assertion x5t#S256 %q does not name the certificate", got)
			}
			claims, _ := verifyWithJWKS(t, idp, tok.Value())
			if !slices.Equal(claims.Roles, []string{"default:worker"}) || claims.Subject != "app-cert" {
				t.Errorf("claims sub %q roles %q", claims.Subject, claims.Roles)
			}
		})
	}
}

func thumbprintEqual(header string, sum []byte) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(header); err == nil && bytes.Equal(b, sum) {
			return true
		}
	}
	return false
}

// TestCertificateRenewedInPlace replaces the certificate file under a
// running Source: the next token request signs with the new certificate.
func TestCertificateRenewedInPlace(t *testing.T) {
	oldCert, newCert := poolCert(t, 0), poolCert(t, 1)
	// Tokens shorter than MSAL's 5-minute buffer: every call reaches the IdP.
	idp := newIdP(t, entratest.WithTokenLifetime(time.Minute))
	idp.RegisterClient(entratest.Client{ID: "app-cert", Certificate: oldCert.cert})
	cfg := appConfig(idp, "app-cert")
	cfg.CertificatePath = writeFile(t, "cert.pem", oldCert.pem(t))
	src := newSource(t, cfg)
	ctx := testContext(t)
	if _, err := src.Token(ctx); err != nil {
		t.Fatalf("Token with the old certificate: %v", err)
	}

	idp.RegisterClient(entratest.Client{ID: "app-cert", Certificate: newCert.cert})
	if err := os.WriteFile(cfg.CertificatePath, newCert.pem(t), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Second) // a new mtime even on coarse file systems
	if err := os.Chtimes(cfg.CertificatePath, later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Token(ctx); err != nil {
		t.Fatalf("Token after the certificate was renewed: %v", err)
	}
	sum := sha256.Sum256(newCert.cert.Raw)
	if got, _ := jwtHeader(t, lastRequest(t, idp).Values.Get("client_assertion"))["x5t#S256"].(string); !thumbprintEqual(got, sum[:]) {
		t.Error("the assertion after renewal is not signed with the new certificate")
	}

	// A half-written file fails the call, naming the file; the next good
	// version works again.
	if err := os.WriteFile(cfg.CertificatePath, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(cfg.CertificatePath, later.Add(time.Second), later.Add(time.Second))
	_, err := src.Token(ctx)
	if err == nil || !strings.Contains(err.Error(), cfg.CertificatePath) {
		t.Fatalf("Token with a broken certificate file: %v, want an error naming the file", err)
	}
	if err := os.WriteFile(cfg.CertificatePath, newCert.pem(t), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(cfg.CertificatePath, later.Add(2*time.Second), later.Add(2*time.Second))
	if _, err := src.Token(ctx); err != nil {
		t.Fatalf("Token after the file was repaired: %v", err)
	}
}

// TestOpenSSLEncryptedKeys reads keys encrypted by OpenSSL 3 (testdata was
// made with `openssl req -x509 -newkey rsa:2048 -passout ...`, which uses
// PBES2 with 3DES, and `openssl pkcs8 -topk8 -v2 aes-256-cbc`).
func TestOpenSSLEncryptedKeys(t *testing.T) {
	for _, file := range []string{"testdata/openssl-pbes2-des3.pem", "testdata/openssl-pbes2-aes256.pem"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			certs, key, err := parseCertificate(data, "openssl-test-password", "AZURE_CLIENT_CERTIFICATE_PASSWORD")
			if err != nil {
				t.Fatalf("parseCertificate: %v", err)
			}
			if len(certs) != 1 || !key.PublicKey.Equal(certs[0].PublicKey) {
				t.Fatal("the decrypted key does not match the certificate")
			}
			if _, _, err := parseCertificate(data, "wrong password", "AZURE_CLIENT_CERTIFICATE_PASSWORD"); !errors.Is(err, errWrongPassword) {
				t.Errorf("wrong password: %v, want errWrongPassword", err)
			}
		})
	}
}

func TestCertificateErrors(t *testing.T) {
	cert, other := poolCert(t, 0), poolCert(t, 1)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(cert.key)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	legacy := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: []byte{1, 2, 3}})

	for _, tc := range []struct {
		name     string
		data     []byte
		password string
		want     []string
	}{
		{"empty", nil, "", []string{"neither PEM nor PKCS#12"}},
		{"DER or PKCS#12", []byte{0x30, 0x82, 0x01, 0x00}, "", []string{"not a PKCS#12 (.pfx) file", "openssl pkcs12"}},
		{"no key", cert.certPEM(), "", []string{"no private key"}},
		{"no certificate", keyPEM, "", []string{"no CERTIFICATE"}},
		{"two keys", append(cert.pem(t), keyPEM...), "", []string{"more than one private key"}},
		{"EC key", append(cert.certPEM(), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})...), "", []string{"RSA key"}},
		{"legacy encryption", append(cert.certPEM(), legacy...), testCertPassword, []string{"DEK-Info", "openssl pkcs8"}},
		{"encrypted without password", cert.encryptedPEM(t, testCertPassword), "", []string{"encrypted", "azure.Config.CertificatePassword is not set"}},
		{"wrong password", cert.encryptedPEM(t, testCertPassword), "not the password", []string{"wrong password"}},
		{"password for a plain key", cert.pem(t), testCertPassword, []string{"not encrypted", "azure.Config.CertificatePassword is set"}},
		{"key of another certificate", append(other.certPEM(), keyPEM...), "", []string{"matches none of its 1 certificates"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := newIdP(t)
			cfg := appConfig(idp, "app-cert")
			cfg.CertificatePath = writeFile(t, "cert.pem", tc.data)
			cfg.CertificatePassword = tc.password
			_, err := NewTokenSource(cfg)
			if err == nil {
				t.Fatal("NewTokenSource succeeded")
			}
			msg := err.Error()
			for _, w := range append(tc.want, cfg.CertificatePath) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if tc.password != "" && strings.Contains(msg, tc.password) {
				t.Errorf("error %q reveals the password", msg)
			}
			if strings.Contains(msg, "PRIVATE KEY") || strings.Contains(msg, "MII") {
				t.Errorf("error %q quotes key material", msg)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		idp := newIdP(t)
		cfg := appConfig(idp, "app-cert")
		cfg.CertificatePath = t.TempDir() + "/absent.pem"
		_, err := NewTokenSource(cfg)
		if err == nil || !strings.Contains(err.Error(), cfg.CertificatePath) || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("error %v, want one naming the file and matching os.ErrNotExist", err)
		}
	})
}

func TestDecryptPKCS8Malformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		der  []byte
	}{
		{"garbage", []byte{1, 2, 3}},
		{"empty sequence", []byte{0x30, 0x00}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decryptPKCS8(tc.der, "pw"); err == nil {
				t.Fatal("decryptPKCS8 accepted malformed input")
			}
		})
	}
}

func TestUnpad(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want []byte
		ok   bool
	}{
		{[]byte{'a', 'b', 2, 2}, []byte{'a', 'b'}, true},
		{[]byte{'a', 'b', 1, 2}, nil, false}, // padding bytes disagree
		{[]byte{'a', 'b', 'c', 0}, nil, false},
		{[]byte{1, 2, 3, 17}, nil, false},
		{nil, nil, false},
	} {
		got, ok := unpad(tc.in, 16)
		if ok != tc.ok || (ok && !bytes.Equal(got, tc.want)) {
			t.Errorf("unpad(%v) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDecryptPKCS8Algorithms(t *testing.T) {
	cert := poolCert(t, 0)
	der, err := x509.MarshalPKCS8PrivateKey(cert.key)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		choice pbes2Choice
		err    string // empty: decrypts
	}{
		{"default PRF (SHA-1), AES-128", pbes2Choice{hash: sha1.New, cipher: oidAES128CBC, keyLen: 16, newCipher: aes.NewCipher}, ""},
		{"SHA-224, AES-192", pbes2Choice{prf: oidHMACSHA224, hash: sha256.New224, cipher: oidAES192CBC, keyLen: 24, newCipher: aes.NewCipher}, ""},
		{"SHA-384, 3DES", pbes2Choice{prf: oidHMACSHA384, hash: sha512.New384, cipher: oidDESEDE3CBC, keyLen: 24, newCipher: des.NewTripleDESCipher}, ""},
		{"SHA-512, AES-256", pbes2Choice{prf: oidHMACSHA512, hash: sha512.New, cipher: oidAES256CBC, keyLen: 32, newCipher: aes.NewCipher}, ""},
		{"unknown PRF", pbes2Choice{prf: asn1.ObjectIdentifier{1, 2, 3}, hash: sha256.New, cipher: oidAES256CBC, keyLen: 32, newCipher: aes.NewCipher}, "unsupported PBKDF2 PRF"},
		{"unknown cipher", pbes2Choice{prf: oidHMACSHA256, hash: sha256.New, cipher: asn1.ObjectIdentifier{1, 2, 3}, keyLen: 32, newCipher: aes.NewCipher}, "unsupported key cipher"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := decryptPKCS8(encryptPKCS8With(t, der, testCertPassword, tc.choice), testCertPassword)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("decryptPKCS8: %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("decryptPKCS8: %v", err)
			}
			if !cert.key.Equal(key) {
				t.Fatal("decrypted another key")
			}
		})
	}
}

// A Token call waits for the reload of a changed certificate file no longer
// than its context allows; the reload goes on and a later call uses it.
func TestCertificateReloadHonoursContext(t *testing.T) {
	oldCert, newCert := poolCert(t, 0), poolCert(t, 1)
	idp := newIdP(t)
	idp.RegisterClient(entratest.Client{ID: "app-cert", Certificate: oldCert.cert})
	cfg := appConfig(idp, "app-cert")
	cfg.CertificatePath = writeFile(t, "cert.pem", oldCert.pem(t))
	src := newSource(t, cfg)
	if _, err := src.Token(testContext(t)); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	reloadStarted = func() { <-release }
	t.Cleanup(func() { reloadStarted = nil })

	idp.RegisterClient(entratest.Client{ID: "app-cert", Certificate: newCert.cert})
	if err := os.WriteFile(cfg.CertificatePath, newCert.pem(t), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Second)
	if err := os.Chtimes(cfg.CertificatePath, later, later); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := src.Token(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), cfg.CertificatePath) {
		t.Fatalf("Token during a stuck reload: %v; want the deadline, naming the file", err)
	}
	close(release)
	if _, err := src.Token(testContext(t)); err != nil {
		t.Fatalf("Token after the reload: %v", err)
	}
}

// TestCertificateExpiryCheckedOnRenewal runs a Source across its
// certificate's last month: it warns once a day through Config.Logger, and
// once the certificate has expired it refuses to ask Entra ID (which would
// answer AADSTS700027) with an error naming the setting.
func TestCertificateExpiryCheckedOnRenewal(t *testing.T) {
	cert := poolCert(t, 0)
	idp := newIdP(t)
	idp.RegisterClient(entratest.Client{ID: "app-cert", Certificate: cert.cert})
	path := writeFile(t, "cert.pem", cert.pem(t))
	cfg, err := ConfigFromLookup(func(name string) (string, bool) {
		v, ok := map[string]string{EnvTenantID: idp.Tenant(), EnvClientID: "app-cert", EnvCertificatePath: path,
			EnvAuthorityHost: idp.AuthorityHost(), EnvDisableInstanceDiscovery: "true", EnvScope: testScope}[name]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	clock := clocktest.NewAt(cert.cert.NotAfter.Add(-40 * 24 * time.Hour))
	var logs bytes.Buffer
	cfg.HTTPClient, cfg.Clock, cfg.Logger = idp.Client(), clock, slog.New(slog.NewTextHandler(&logs, nil))
	src := newSource(t, cfg)
	if na, ok := src.CertificateNotAfter(); !ok || !na.Equal(cert.cert.NotAfter) {
		t.Errorf("CertificateNotAfter = %v, %v; want %v", na, ok, cert.cert.NotAfter)
	}
	warnings := func() int { return strings.Count(logs.String(), "expires soon") }

	steps := []struct {
		jump     time.Duration
		warnings int
	}{
		{0, 0},                   // 40 days left
		{15 * 24 * time.Hour, 1}, // 25 days left: warned
		{time.Hour, 1},           // not again within a day
		{24 * time.Hour, 2},      // a day later: again
	}
	for i, st := range steps {
		clock.Jump(st.jump)
		if _, err := src.Token(testContext(t)); err != nil {
			t.Fatalf("step %d: Token: %v", i, err)
		}
		if got := warnings(); got != st.warnings {
			t.Errorf("step %d: %d warnings, want %d:\n%s", i, got, st.warnings, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "setting="+EnvCertificatePath) {
		t.Errorf("the warning does not name %s:\n%s", EnvCertificatePath, logs.String())
	}

	before := len(idp.TokenRequests())
	clock.Jump(cert.cert.NotAfter.Sub(clock.Now()) + time.Second)
	_, err = src.Token(testContext(t))
	var fe *secretfile.Error
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "expired on") || !strings.Contains(err.Error(), EnvCertificatePath) {
		t.Errorf("Token with an expired certificate: %v, want a FileError naming %s", err, EnvCertificatePath)
	}
	if n := len(idp.TokenRequests()); n != before {
		t.Errorf("%d token requests with an expired certificate, want none", n-before)
	}
}

func TestCertificateNotAfterOtherCredentials(t *testing.T) {
	idp := newIdP(t)
	if _, ok := secretSource(t, idp).CertificateNotAfter(); ok {
		t.Error("CertificateNotAfter reports a certificate for a client secret")
	}
}
