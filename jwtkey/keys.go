package jwtkey

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/temporalauth/temporalauth/internal/config"
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
		return zero, &config.FileError{What: "key file", Path: path, Err: err}
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

// CheckKeyFilePermissions returns an error wrapping ErrKeyFilePermissions
// when the file at path may be read or written by others, or written by its
// group, as ssh does for identity files; or read by its group when this
// process owns the file (and so could restrict it). A group-readable file
// that this process does not own is accepted: that is how a Kubernetes
// Secret volume with fsGroup lets a non-root container read it (the kubelet
// turns defaultMode 0400 into 0440, group fsGroup). The error says how to
// fix it; callers typically log it as a warning and go on. It returns nil on
// Windows, whose permissions Go does not report.
func CheckKeyFilePermissions(path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(path) // through the symlinks of a Secret volume
	if err != nil {
		return &config.FileError{What: "key file", Path: path, Err: err}
	}
	open := fi.Mode().Perm() & 0o027
	if fileOwnedByProcess(fi) {
		open = fi.Mode().Perm() & 0o077
	}
	if open != 0 {
		return config.FileErrorf("key file", path, "%w: mode %#o lets %s; fix it with chmod 600 %s, or on a Kubernetes Secret volume with defaultMode: 0400",
			ErrKeyFilePermissions, fi.Mode().Perm(), whoMay(open), path)
	}
	return nil
}

// whoMay says who the permission bits open grant access to.
func whoMay(open fs.FileMode) string {
	var who []string
	if open&0o070 != 0 {
		who = append(who, "its group "+rw(open>>3))
	}
	if open&0o007 != 0 {
		who = append(who, "others "+rw(open))
	}
	return strings.Join(who, " and ")
}

// rw names the access the low three permission bits of m give.
func rw(m fs.FileMode) string {
	switch {
	case m&0o4 != 0 && m&0o2 != 0:
		return "read and write it"
	case m&0o2 != 0:
		return "write it"
	case m&0o4 != 0:
		return "read it"
	}
	return "execute it"
}

// readKeyFile returns the content of a key file; errors name the file.
func readKeyFile(path string) ([]byte, error) {
	return config.ReadFile("key file", path, maxKeyFileSize)
}

// pemKind classifies a PEM block by its type.
type pemKind int

const (
	pemOther pemKind = iota
	pemPrivate
	pemEncrypted
	pemPublic
	pemCertificate
	pemIgnored
)

func classify(b *pem.Block) pemKind {
	switch b.Type {
	case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
		if strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") || b.Headers["DEK-Info"] != "" {
			return pemEncrypted
		}
		return pemPrivate
	case "ENCRYPTED PRIVATE KEY":
		return pemEncrypted
	case "PUBLIC KEY", "RSA PUBLIC KEY":
		return pemPublic
	case "CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE":
		return pemCertificate
	case "EC PARAMETERS":
		return pemIgnored
	}
	return pemOther
}

// decodePEM returns every PEM block in data, or an error that says why
// there is none or why the data is malformed.
func decodePEM(data []byte) ([]*pem.Block, error) {
	var blocks []*pem.Block
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks = append(blocks, b)
	}
	if bytes.Contains(rest, []byte("-----BEGIN")) {
		return nil, errors.New("malformed or truncated PEM block (check the BEGIN and END lines and the base64 between them)")
	}
	if len(blocks) > 0 {
		return blocks, nil
	}
	return nil, noPEMError(whyNoPEM(bytes.TrimSpace(data)))
}

// A noPEMError says why data holds no PEM block; the parser of a private
// or a public key words it for its reader.
type noPEMError string

func (e noPEMError) Error() string { return string(e) }

// whyNoPEM tells what data, which holds no PEM block, seems to be.
func whyNoPEM(data []byte) string {
	switch {
	case len(data) == 0:
		return "it is empty"
	case data[0] == '{':
		return "it is JSON (a JWK or JWKS?), not PEM"
	case looksLikeWord(data) && bytes.Count(data, []byte(".")) == 2 && bytes.HasPrefix(data, []byte("eyJ")):
		return "it is a JWT (a token), not a key"
	case looksLikeWord(data):
		return "it looks like a shared HMAC secret (HS256), which the Temporal server cannot verify: it accepts ES256 and RS256 signatures only"
	default:
		return "it holds no PEM block (-----BEGIN ...-----)"
	}
}

// keygenHint is the command that makes a key, for error messages.
const keygenHint = "temporal-auth keygen --out FILE"

// looksLikeWord reports whether data is one word of printable ASCII, as a
// shared secret or a token is.
func looksLikeWord(data []byte) bool {
	if len(data) > 16<<10 {
		return false
	}
	for _, c := range data {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// blockType quotes a PEM type for an error message, cut short if long.
func blockType(b *pem.Block) string {
	t := b.Type
	if len(t) > 40 {
		t = t[:40] + "..."
	}
	return fmt.Sprintf("%q", t)
}

func encryptedError() error {
	return fmt.Errorf("%w: decrypt it first, e.g. with \"openssl pkey -in encrypted.pem -out key.pem\", and keep the result readable only by its owner (chmod 600)", ErrEncryptedKey)
}

func parsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	blocks, err := decodePEM(data)
	if why, ok := err.(noPEMError); ok {
		return nil, fmt.Errorf("%w: %s; make a key with: %s", ErrNoPrivateKey, why, keygenHint)
	}
	if err != nil {
		return nil, err
	}
	var keys []*pem.Block
	var encrypted, public, certificate bool
	var unknown []string
	for _, b := range blocks {
		switch classify(b) {
		case pemPrivate:
			keys = append(keys, b)
		case pemEncrypted:
			encrypted = true
		case pemPublic:
			public = true
		case pemCertificate:
			certificate = true
		case pemIgnored:
		default:
			unknown = append(unknown, blockType(b))
		}
	}
	switch {
	case len(keys) > 1:
		return nil, fmt.Errorf("found %d private keys, expected one", len(keys))
	case len(keys) == 1:
		return parsePrivateBlock(keys[0])
	case encrypted:
		return nil, encryptedError()
	case len(unknown) > 0 && unknown[0] == `"OPENSSH PRIVATE KEY"`:
		return nil, fmt.Errorf("%w: OpenSSH private key format; convert it to PKCS#8 with \"ssh-keygen -p -m PKCS8 -f <file>\"", ErrUnsupportedKey)
	case len(unknown) > 0 && strings.HasSuffix(unknown[0], ` PRIVATE KEY"`):
		return nil, fmt.Errorf("%w: PEM block %s; %s", ErrUnsupportedKey, unknown[0], supportedKeys)
	case public:
		return nil, fmt.Errorf("%w: found a public key; signing needs the private key (-----BEGIN PRIVATE KEY-----)", ErrNoPrivateKey)
	case certificate:
		return nil, fmt.Errorf("%w: found a certificate; signing needs the private key (-----BEGIN PRIVATE KEY-----)", ErrNoPrivateKey)
	default:
		return nil, fmt.Errorf("%w: found PEM block %s, expected PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY", ErrNoPrivateKey, strings.Join(unknown, ", "))
	}
}

// parsePrivateBlock decodes one private key block, trying the parser its
// type names first and then the other two (labels are often wrong).
func parsePrivateBlock(b *pem.Block) (crypto.Signer, error) {
	pkcs8 := func(der []byte) (any, error) { return x509.ParsePKCS8PrivateKey(der) }
	sec1 := func(der []byte) (any, error) { return x509.ParseECPrivateKey(der) }
	pkcs1 := func(der []byte) (any, error) { return x509.ParsePKCS1PrivateKey(der) }
	order := []func([]byte) (any, error){pkcs8, sec1, pkcs1}
	switch b.Type {
	case "EC PRIVATE KEY":
		order = []func([]byte) (any, error){sec1, pkcs8, pkcs1}
	case "RSA PRIVATE KEY":
		order = []func([]byte) (any, error){pkcs1, pkcs8, sec1}
	}
	var firstErr error
	for _, parse := range order {
		key, err := parse(b.Bytes)
		if err == nil {
			return supportedSigner(key)
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, fmt.Errorf("invalid %s block: %w", blockType(b), firstErr)
}

// supportedSigner returns key as a crypto.Signer if the Temporal server can
// verify its signatures.
func supportedSigner(key any) (crypto.Signer, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if err := checkPublicKey(&k.PublicKey); err != nil {
			return nil, err
		}
		return k, nil
	case *rsa.PrivateKey:
		if err := checkPublicKey(&k.PublicKey); err != nil {
			return nil, err
		}
		return k, nil
	case ed25519.PrivateKey:
		return nil, fmt.Errorf("%w: Ed25519 (EdDSA); %s", ErrUnsupportedKey, supportedKeys)
	case *ecdh.PrivateKey:
		return nil, fmt.Errorf("%w: %s is a key-agreement key, not a signing key; %s", ErrUnsupportedKey, k.Curve(), supportedKeys)
	default:
		return nil, fmt.Errorf("%w: %T; %s", ErrUnsupportedKey, key, supportedKeys)
	}
}

// checkPrivateKey reports whether key is an in-memory key this package can
// sign with and encode.
func checkPrivateKey(key crypto.Signer) error {
	if key == nil {
		return errors.New("key is nil")
	}
	_, err := supportedSigner(key)
	return err
}

// checkPublicKey reports why the Temporal server would not accept pub.
func checkPublicKey(pub crypto.PublicKey) error {
	_, err := algorithmFor(pub)
	return err
}

// algorithmFor returns AlgES256 or AlgRS256 for a supported public key.
func algorithmFor(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return "", fmt.Errorf("%w: empty ECDSA key", ErrUnsupportedKey)
		}
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("%w: ECDSA %s; %s", ErrUnsupportedKey, k.Curve.Params().Name, supportedKeys)
		}
		return AlgES256, nil
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return "", fmt.Errorf("%w: empty RSA key", ErrUnsupportedKey)
		}
		if bits := k.N.BitLen(); bits < MinRSABits {
			return "", fmt.Errorf("%w: RSA %d bits; RS256 needs at least %d bits", ErrUnsupportedKey, bits, MinRSABits)
		}
		return AlgRS256, nil
	case ed25519.PublicKey:
		return "", fmt.Errorf("%w: Ed25519 (EdDSA); %s", ErrUnsupportedKey, supportedKeys)
	case *ecdh.PublicKey:
		return "", fmt.Errorf("%w: %s is a key-agreement key, not a signing key; %s", ErrUnsupportedKey, k.Curve(), supportedKeys)
	case nil:
		return "", errors.New("key is nil")
	default:
		return "", fmt.Errorf("%w: %T; %s", ErrUnsupportedKey, pub, supportedKeys)
	}
}

func parsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	blocks, err := decodePEM(data)
	if why, ok := err.(noPEMError); ok {
		return nil, fmt.Errorf("no key or certificate: %s; expected a PEM public key, private key or certificate", why)
	}
	if err != nil {
		return nil, err
	}
	var found []*pem.Block
	encrypted := false
	for _, b := range blocks {
		switch classify(b) {
		case pemPrivate, pemPublic, pemCertificate:
			found = append(found, b)
		case pemEncrypted:
			encrypted = true
		}
	}
	switch {
	case len(found) > 1:
		return nil, fmt.Errorf("found %d keys or certificates, expected one", len(found))
	case len(found) == 0 && encrypted:
		return nil, encryptedError()
	case len(found) == 0:
		return nil, errors.New("no key or certificate found in the PEM data")
	}
	b := found[0]
	var pub any
	switch classify(b) {
	case pemPrivate:
		key, err := parsePrivateBlock(b)
		if err != nil {
			return nil, err
		}
		return key.Public(), nil
	case pemCertificate:
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("invalid certificate: %w", err)
		}
		pub = cert.PublicKey
	default:
		pub, err = x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			var err1 error
			if pub, err1 = x509.ParsePKCS1PublicKey(b.Bytes); err1 != nil {
				return nil, fmt.Errorf("invalid %s block: %w", blockType(b), err)
			}
		}
	}
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}
