package jwtkey

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

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
