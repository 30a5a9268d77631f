package azure

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// maxCertificateFileSize bounds the certificate file.
const maxCertificateFileSize = 1 << 20

// certificateCredential authenticates an app registration with a certificate:
// MSAL signs a client assertion with its private key. A certificate given by
// path is loaded again when the file changes.
type certificateCredential struct {
	cfg      Config
	hc       *recordingClient
	password string

	mu      sync.Mutex
	app     *appCredential
	version fileVersion // of CertificatePath when app was built
}

// fileVersion identifies one version of a file.
type fileVersion struct {
	modTime time.Time
	size    int64
}

func newCertificateCredential(cfg Config, hc *recordingClient) (*certificateCredential, error) {
	c := &certificateCredential{cfg: cfg, hc: hc, password: cfg.CertificatePassword}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

// load (re)builds the MSAL client from the certificate.
func (c *certificateCredential) load() error {
	data, version := c.cfg.CertificatePEM, fileVersion{}
	source := fieldNames.certificatePEM
	if c.cfg.CertificatePath != "" {
		source = c.cfg.CertificatePath
		info, err := os.Stat(c.cfg.CertificatePath)
		if err != nil {
			return &fileError{what: "certificate file", path: c.cfg.CertificatePath, err: unwrapPathError(err)}
		}
		if info.Size() > maxCertificateFileSize {
			return &fileError{what: "certificate file", path: c.cfg.CertificatePath, err: fmt.Errorf("larger than %d bytes", maxCertificateFileSize)}
		}
		version = fileVersion{modTime: info.ModTime(), size: info.Size()}
		if data, err = os.ReadFile(c.cfg.CertificatePath); err != nil {
			return &fileError{what: "certificate file", path: c.cfg.CertificatePath, err: unwrapPathError(err)}
		}
	}
	certs, key, err := parseCertificate(data, c.password)
	if err != nil {
		return &fileError{what: "certificate", path: source, err: err}
	}
	cred, err := confidential.NewCredFromCert(certs, key)
	if err != nil {
		return &fileError{what: "certificate", path: source, err: errors.New("the private key matches none of its certificates")}
	}
	app, err := newAppCredential(c.cfg, cred, c.hc)
	if err != nil {
		return err
	}
	c.app, c.version = app, version
	return nil
}

func (c *certificateCredential) acquire(ctx context.Context) (result, error) {
	app, err := c.current()
	if err != nil {
		return result{}, err
	}
	return app.acquire(ctx)
}

// current returns the MSAL client, rebuilt first when the certificate file
// has changed since it was loaded.
func (c *certificateCredential) current() (*appCredential, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg.CertificatePath != "" {
		info, err := os.Stat(c.cfg.CertificatePath)
		if err != nil {
			return nil, &fileError{what: "certificate file", path: c.cfg.CertificatePath, err: unwrapPathError(err)}
		}
		if (fileVersion{modTime: info.ModTime(), size: info.Size()}) != c.version {
			if err := c.load(); err != nil {
				return nil, err
			}
		}
	}
	return c.app, nil
}

func (c *certificateCredential) secrets() []string { return []string{c.password} }

// parseCertificate reads certificates and one RSA private key from PEM data.
// The key may be PKCS#1, PKCS#8, or PKCS#8 encrypted with PBES2 (what
// `openssl pkcs8 -topk8` and OpenSSL 3 write), decrypted with password.
func parseCertificate(data []byte, password string) ([]*x509.Certificate, *rsa.PrivateKey, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		if len(data) > 0 && data[0] == 0x30 {
			return nil, nil, errors.New("not PEM (it looks like DER or a PKCS#12/.pfx file); convert it to PEM, e.g. `openssl pkcs12 -in cert.pfx -out cert.pem`")
		}
		return nil, nil, errors.New("no PEM data found")
	}
	var (
		certs     []*x509.Certificate
		key       any
		encrypted bool
	)
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("certificate %d: %v", len(certs)+1, err)
			}
			certs = append(certs, cert)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			if key != nil {
				return nil, nil, errors.New("more than one private key")
			}
			if _, legacy := block.Headers["DEK-Info"]; legacy {
				return nil, nil, errors.New("the private key uses legacy PEM encryption (DEK-Info), which is weak and unsupported; re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`")
			}
			var err error
			switch block.Type {
			case "PRIVATE KEY":
				key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
			case "RSA PRIVATE KEY":
				key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
			default:
				encrypted = true
				if password == "" {
					return nil, nil, errors.New("the private key is encrypted and no password is set (AZURE_CLIENT_CERTIFICATE_PASSWORD, Config.CertificatePassword)")
				}
				key, err = decryptPKCS8(block.Bytes, password)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("private key: %w", err)
			}
		case "EC PRIVATE KEY":
			return nil, nil, errors.New("the private key is an EC key; Entra ID certificate credentials need an RSA key")
		}
	}
	if len(certs) == 0 {
		return nil, nil, errors.New("no CERTIFICATE block")
	}
	if key == nil {
		return nil, nil, errors.New("no private key block")
	}
	if password != "" && !encrypted {
		return nil, nil, errors.New("a password is set (AZURE_CLIENT_CERTIFICATE_PASSWORD, Config.CertificatePassword) but the private key is not encrypted; unset the password")
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("the private key is a %T; Entra ID certificate credentials need an RSA key", key)
	}
	return certs, rsaKey, nil
}
