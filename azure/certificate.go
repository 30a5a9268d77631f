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
	"software.sslmate.com/src/go-pkcs12"

	"github.com/temporalauth/temporalauth/internal/secretfile"
)

// maxCertificateFileSize bounds the certificate file.
const maxCertificateFileSize = 1 << 20

// certificateExpiryWarning is how long before its expiry a certificate is
// warned about when it is loaded.
const certificateExpiryWarning = 30 * 24 * time.Hour

// certificateCredential authenticates an app registration with a certificate:
// MSAL signs a client assertion with its private key. A certificate given by
// path is loaded again when the file changes.
type certificateCredential struct {
	cfg      Config
	hc       *recordingClient
	password string

	mu        sync.Mutex
	app       *appCredential
	version   fileVersion // of CertificatePath when app was built
	reloading *reload     // a reload of the changed file under way, or nil

	warnMu     sync.Mutex
	warnedAt   time.Time         // when the last expiry warning was logged
	warnedCert *x509.Certificate // the certificate it was about
}

// certificateWarningInterval is how often the warning about a certificate
// that expires soon is repeated while tokens are renewed with it.
const certificateWarningInterval = 24 * time.Hour

// reloadStarted, when set (by tests), is called as a reload begins.
var reloadStarted func()

// reload is one reload of a changed certificate file, run in its own
// goroutine so that a Token call waits for it no longer than its context
// allows (decrypting a key can take a second).
type reload struct {
	done chan struct{}
	err  error // set before done is closed
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

// what is how errors call the certificate: its file or the Config field.
func (c *certificateCredential) what() (string, string) {
	if c.cfg.CertificatePath != "" {
		return "certificate file", c.cfg.CertificatePath
	}
	return "certificate", c.cfg.name("Certificate")
}

// load builds the MSAL client from the certificate and installs it.
func (c *certificateCredential) load() error {
	app, version, err := c.build()
	if err != nil {
		return err
	}
	c.app, c.version = app, version
	return nil
}

// build builds the MSAL client from the certificate. The private key is
// decrypted here, once per version of the file, never per token.
func (c *certificateCredential) build() (*appCredential, fileVersion, error) {
	what, source := c.what()
	data, version := c.cfg.Certificate, fileVersion{}
	if c.cfg.CertificatePath != "" {
		info, err := os.Stat(c.cfg.CertificatePath)
		if err != nil {
			_, err = secretfile.Read(what, source, maxCertificateFileSize) // the same error, in its form
			return nil, version, err
		}
		version = fileVersion{modTime: info.ModTime(), size: info.Size()}
		if data, err = secretfile.Read(what, source, maxCertificateFileSize); err != nil {
			return nil, version, err
		}
	}
	certs, key, err := parseCertificate(data, c.password, c.cfg.name("CertificatePassword"))
	if err != nil {
		return nil, version, &secretfile.Error{What: what, Path: source, Err: err}
	}
	leaf := matchingCertificate(certs, key)
	if leaf < 0 {
		return nil, version, secretfile.Errorf(what, source, "the private key matches none of its %d certificates", len(certs))
	}
	// The certificate the key belongs to goes first: MSAL takes its
	// thumbprint, and x5c lists the chain from it.
	certs[0], certs[leaf] = certs[leaf], certs[0]
	if err := c.checkValidity(certs[0]); err != nil {
		return nil, version, err
	}
	cred, err := confidential.NewCredFromCert(certs, key)
	if err != nil {
		return nil, version, secretfile.Errorf(what, source, "the private key matches none of its certificates")
	}
	var opts []confidential.Option
	if c.cfg.SendCertificateChain {
		opts = append(opts, confidential.WithX5C())
	}
	app, err := newAppCredential(c.cfg, cred, c.hc, opts...)
	if err != nil {
		return nil, version, err
	}
	app.cert = certs[0]
	return app, version, nil
}

// matchingCertificate returns the index of the certificate whose public key
// is key's, or -1.
func matchingCertificate(certs []*x509.Certificate, key *rsa.PrivateKey) int {
	for i, cert := range certs {
		if pub, ok := cert.PublicKey.(*rsa.PublicKey); ok && pub.Equal(&key.PublicKey) {
			return i
		}
	}
	return -1
}

// checkValidity refuses a certificate outside its validity period, and warns
// about one that expires within certificateExpiryWarning (once a day while
// it is used): Entra ID refuses assertions signed with an expired
// certificate (AADSTS700027). It runs when the certificate is loaded and
// before each token request, so that a long-running program learns of the
// expiry from an error that names the setting, ahead of Entra ID's.
func (c *certificateCredential) checkValidity(cert *x509.Certificate) error {
	what, source := c.what()
	setting := c.cfg.name("CertificatePath")
	if c.cfg.CertificatePath == "" {
		setting = c.cfg.name("Certificate")
	}
	now := c.cfg.Clock.Now()
	const day = "2006-01-02 15:04:05 UTC"
	switch {
	case now.Before(cert.NotBefore):
		return secretfile.Errorf(what, source, "the certificate is not valid before %s (valid %s to %s)",
			cert.NotBefore.UTC().Format(day), cert.NotBefore.UTC().Format(day), cert.NotAfter.UTC().Format(day))
	case now.After(cert.NotAfter):
		return secretfile.Errorf(what, source, "the certificate expired on %s (valid %s to %s): renew it, register the new one with the app registration, and put it where %s says",
			cert.NotAfter.UTC().Format(day), cert.NotBefore.UTC().Format(day), cert.NotAfter.UTC().Format(day), setting)
	case cert.NotAfter.Sub(now) < certificateExpiryWarning:
		c.warnMu.Lock()
		warn := c.warnedCert != cert || now.Sub(c.warnedAt) >= certificateWarningInterval
		if warn {
			c.warnedCert, c.warnedAt = cert, now
		}
		c.warnMu.Unlock()
		if warn {
			c.cfg.Logger.Warn("azure: the certificate expires soon: renew it and register the new one with the app registration",
				"certificate", source, "setting", setting, "not_after", cert.NotAfter.UTC(),
				"expires_in", cert.NotAfter.Sub(now).Round(time.Hour).String(), "subject", cert.Subject.String())
		}
	}
	return nil
}

func (c *certificateCredential) acquire(ctx context.Context) (result, error) {
	app, err := c.current(ctx)
	if err != nil {
		return result{}, err
	}
	if err := c.checkValidity(app.cert); err != nil {
		return result{}, err
	}
	return app.acquire(ctx)
}

// notAfter returns the expiry of the certificate in use.
func (c *certificateCredential) notAfter() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.app.cert.NotAfter
}

// current returns the MSAL client, rebuilt first when the certificate file
// has changed since it was loaded. It waits for the rebuild as long as ctx
// allows; a rebuild that outlasts ctx goes on and is used by a later call.
func (c *certificateCredential) current(ctx context.Context) (*appCredential, error) {
	c.mu.Lock()
	if c.cfg.CertificatePath != "" && c.reloading == nil {
		info, err := os.Stat(c.cfg.CertificatePath)
		if err != nil {
			c.mu.Unlock()
			what, source := c.what()
			_, err = secretfile.Read(what, source, maxCertificateFileSize)
			return nil, err
		}
		if (fileVersion{modTime: info.ModTime(), size: info.Size()}) != c.version {
			r := &reload{done: make(chan struct{})}
			c.reloading = r
			hook := reloadStarted
			go func() {
				if hook != nil {
					hook()
				}
				app, version, err := c.build()
				c.mu.Lock()
				if err == nil {
					c.app, c.version = app, version
				}
				c.reloading = nil
				c.mu.Unlock()
				r.err = err
				close(r.done)
			}()
		}
	}
	r, app := c.reloading, c.app
	c.mu.Unlock()
	if r == nil {
		return app, nil
	}
	select {
	case <-r.done:
		if r.err != nil {
			return nil, r.err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.app, nil
	case <-ctx.Done():
		return nil, &secretfile.Error{What: "certificate file", Path: c.cfg.CertificatePath,
			Err: fmt.Errorf("changed; reloading it outlasted the token request (a later one uses it): %w", context.Cause(ctx))}
	}
}

func (c *certificateCredential) secrets() []string { return []string{c.password} }

// parseCertificate reads certificates and one RSA private key from a
// PKCS#12 (.pfx) file, decrypted with password, or from PEM data, whose key
// may be PKCS#1, PKCS#8, or PKCS#8 encrypted with PBES2 (what `openssl
// pkcs8 -topk8` and OpenSSL 3 write), decrypted with password.
// passwordSetting names the password in errors.
func parseCertificate(data []byte, password, passwordSetting string) ([]*x509.Certificate, *rsa.PrivateKey, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		if len(data) > 0 && data[0] == 0x30 {
			return parsePKCS12(data, password, passwordSetting)
		}
		return nil, nil, errors.New("neither PEM nor PKCS#12 (.pfx)")
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
					return nil, nil, fmt.Errorf("the private key is encrypted and %s is not set", passwordSetting)
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
		return nil, nil, fmt.Errorf("%s is set but the private key is not encrypted; unset the password", passwordSetting)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("the private key is a %T; Entra ID certificate credentials need an RSA key", key)
	}
	return certs, rsaKey, nil
}

// parsePKCS12 reads a PKCS#12 (.pfx) file: a certificate, its RSA private
// key and the rest of its chain.
func parsePKCS12(data []byte, password, passwordSetting string) ([]*x509.Certificate, *rsa.PrivateKey, error) {
	key, cert, chain, err := pkcs12.DecodeChain(data, password)
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword) && password == "":
		return nil, nil, fmt.Errorf("the PKCS#12 file has a password and %s is not set", passwordSetting)
	case errors.Is(err, pkcs12.ErrIncorrectPassword):
		return nil, nil, fmt.Errorf("%s does not decrypt the PKCS#12 file", passwordSetting)
	case err != nil:
		return nil, nil, fmt.Errorf("not a PKCS#12 (.pfx) file this package can read (%v); or convert it to PEM with `openssl pkcs12 -in cert.pfx -out cert.pem -nodes`", err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("the private key is a %T; Entra ID certificate credentials need an RSA key", key)
	}
	return append([]*x509.Certificate{cert}, chain...), rsaKey, nil
}
