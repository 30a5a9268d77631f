package jwtkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/temporalauth/temporalauth/internal/secretfile"
)

// Signing algorithms the Temporal server's default claim mapper accepts.
const (
	// AlgES256 is ECDSA on the P-256 curve with SHA-256 (RFC 7518, 3.4).
	AlgES256 = "ES256"
	// AlgRS256 is RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518, 3.3).
	AlgRS256 = "RS256"
)

// MinRSABits is the smallest RSA key, in bits, accepted for RS256
// (RFC 7518, 3.3 requires 2048).
const MinRSABits = 2048

// maxKeyFileSize bounds how much of a key file is read: PEM keys are a few
// kilobytes, so anything larger is the wrong file.
const maxKeyFileSize = 1 << 20

// Errors returned, wrapped, by the key functions. Test for them with
// errors.Is; the wrapping error says which key or file is at fault.
var (
	// ErrEncryptedKey reports a passphrase-protected private key.
	ErrEncryptedKey = errors.New("encrypted keys are not supported")
	// ErrUnsupportedKey reports a key the Temporal server cannot verify:
	// anything but ECDSA P-256 (ES256) and RSA of at least 2048 bits (RS256).
	ErrUnsupportedKey = errors.New("unsupported key")
	// ErrNoPrivateKey reports input that holds no private key: no PEM data,
	// a public key or a certificate.
	ErrNoPrivateKey = errors.New("no private key")
	// ErrKeyFilePermissions reports a key file that others may read or
	// write, or that its group may write (see CheckKeyFilePermissions).
	ErrKeyFilePermissions = errors.New("permissions too open")
)

// supportedKeys names what the Temporal server accepts, for error messages.
const supportedKeys = "the Temporal server accepts only ES256 (ECDSA P-256) and RS256 (RSA of at least 2048 bits)"

// ParsePrivateKeyPEM parses a PEM-encoded private key for signing JWTs. It
// accepts PKCS#8 ("PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY") and PKCS#1
// ("RSA PRIVATE KEY") blocks; other blocks in data, such as certificates or
// "EC PARAMETERS", are skipped, and exactly one private key must remain.
//
// The key must be ECDSA P-256 (signs ES256) or RSA of at least 2048 bits
// (signs RS256), the only algorithms the Temporal server accepts. Encrypted
// keys are refused with ErrEncryptedKey; other keys with ErrUnsupportedKey;
// input without a private key with ErrNoPrivateKey. Errors never contain key
// material. The result is an *ecdsa.PrivateKey or an *rsa.PrivateKey.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	key, err := parsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("jwtkey: parse private key: %w", err)
	}
	return key, nil
}

// LoadPrivateKeyFile reads and parses a PEM private key file as
// ParsePrivateKeyPEM does; its errors name the file. It does not check the
// file's permissions: call CheckKeyFilePermissions for that.
func LoadPrivateKeyFile(path string) (crypto.Signer, error) {
	return loadKeyFile(path, parsePrivateKeyPEM)
}

// ParsePublicKeyPEM returns the public key of a PEM-encoded private key,
// public key ("PUBLIC KEY" or "RSA PUBLIC KEY") or certificate, for
// publishing it in a JWKS. Only keys the Temporal server accepts are
// returned: an *ecdsa.PublicKey on P-256 or an *rsa.PublicKey of at least
// 2048 bits. The PEM data must hold exactly one key or certificate.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	pub, err := parsePublicKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("jwtkey: parse public key: %w", err)
	}
	return pub, nil
}

// LoadPublicKeyFile reads a PEM file as ParsePublicKeyPEM does; its errors
// name the file.
func LoadPublicKeyFile(path string) (crypto.PublicKey, error) {
	return loadKeyFile(path, parsePublicKeyPEM)
}

// loadKeyFile reads the key file at path and parses it with parse; errors
// name the file.
func loadKeyFile[K any](path string, parse func([]byte) (K, error)) (K, error) {
	var zero K
	data, err := readKeyFile(path)
	if err != nil {
		return zero, err
	}
	key, err := parse(data)
	if err != nil {
		return zero, &secretfile.Error{What: "key file", Path: path, Err: err}
	}
	return key, nil
}

// GenerateKey returns a new private key for alg: AlgES256 (ECDSA P-256) or
// AlgRS256 (RSA, MinRSABits bits).
func GenerateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case AlgES256:
		return GenerateES256Key()
	case AlgRS256:
		return GenerateRS256Key(MinRSABits)
	default:
		return nil, fmt.Errorf("jwtkey: generate key: algorithm %q: %w; %s", alg, ErrUnsupportedKey, supportedKeys)
	}
}

// GenerateES256Key returns a new ECDSA P-256 key, which signs ES256.
func GenerateES256Key() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("jwtkey: generate ES256 key: %w", err)
	}
	return key, nil
}

// GenerateRS256Key returns a new RSA key of the given size, which signs
// RS256. bits must be at least MinRSABits; 2048 and 3072 are usual.
func GenerateRS256Key(bits int) (*rsa.PrivateKey, error) {
	if bits < MinRSABits {
		return nil, fmt.Errorf("jwtkey: generate RS256 key: %d bits: %w: RS256 needs at least %d bits", bits, ErrUnsupportedKey, MinRSABits)
	}
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("jwtkey: generate RS256 key: %w", err)
	}
	return key, nil
}

// MarshalPrivateKeyPEM encodes key as an unencrypted PKCS#8 "PRIVATE KEY"
// PEM block. key must be an *ecdsa.PrivateKey on P-256 or an
// *rsa.PrivateKey of at least 2048 bits.
func MarshalPrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	if err := checkPrivateKey(key); err != nil {
		return nil, fmt.Errorf("jwtkey: marshal private key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("jwtkey: marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// WritePrivateKeyFile writes key to path as MarshalPrivateKeyPEM encodes it,
// readable only by its owner (mode 0600). It writes a temporary file in the
// same directory and renames it over path, so a Source watching path (see
// Config.KeyFile) never reads a half-written key: this is how to rotate a
// key in place.
func WritePrivateKeyFile(path string, key crypto.Signer) (err error) {
	data, err := MarshalPrivateKeyPEM(key)
	if err != nil {
		return err
	}
	fail := func(err error) error { return fmt.Errorf("jwtkey: write key file %q: %w", path, err) }
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fail(err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	return nil
}

// readKeyFile returns the content of a key file; errors name the file.
func readKeyFile(path string) ([]byte, error) {
	return secretfile.Read("key file", path, maxKeyFileSize)
}
