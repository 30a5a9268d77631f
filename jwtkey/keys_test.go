package jwtkey_test

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
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/jwtkey"
)

func pemBlock(typ string, der []byte, hdr map[string]string) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Headers: hdr, Bytes: der})
}

func pkcs8(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func selfSigned(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test"},
		NotBefore:    serverTime,
		NotAfter:     serverTime.Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("CERTIFICATE", der, nil)
}

func samePublicKey(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

func TestParsePrivateKeyPEMAcceptsUsualEncodings(t *testing.T) {
	ec, rk := testES256Key(), testRS256Key()
	sec1, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	ecParams := pemBlock("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, nil)
	for _, tc := range []struct {
		name string
		data []byte
		want crypto.Signer
	}{
		{"PKCS#8 EC", pemBlock("PRIVATE KEY", pkcs8(t, ec), nil), ec},
		{"SEC 1 EC", pemBlock("EC PRIVATE KEY", sec1, nil), ec},
		{"openssl ecparam output", slices2(ecParams, pemBlock("EC PRIVATE KEY", sec1, nil)), ec},
		{"PKCS#8 RSA", pemBlock("PRIVATE KEY", pkcs8(t, rk), nil), rk},
		{"PKCS#1 RSA", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk), nil), rk},
		{"PKCS#1 labelled PRIVATE KEY", pemBlock("PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk), nil), rk},
		{"certificate then key", slices2(selfSigned(t, ec), pemBlock("PRIVATE KEY", pkcs8(t, ec), nil)), ec},
		{"text around the block", slices2([]byte("Bag Attributes\n  friendlyName: x\n"), pemBlock("PRIVATE KEY", pkcs8(t, ec), nil), []byte("trailer\n")), ec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jwtkey.ParsePrivateKeyPEM(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if !samePublicKey(got.Public(), tc.want.Public()) {
				t.Fatal("parsed a different key")
			}
		})
	}
}

func slices2(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestParsePrivateKeyPEMErrors(t *testing.T) {
	ec := testES256Key()
	p384 := mustKey(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
	p521 := mustKey(ecdsa.GenerateKey(elliptic.P521(), rand.Reader))
	_, ed := mustKey2(ed25519.GenerateKey(rand.Reader))
	x25519 := mustKey(ecdh.X25519().GenerateKey(rand.Reader))
	rsa1024 := mustKey(rsa.GenerateKey(rand.Reader, 1024))
	good := pemBlock("PRIVATE KEY", pkcs8(t, ec), nil)
	pubDER, err := x509.MarshalPKIXPublicKey(ec.Public())
	if err != nil {
		t.Fatal(err)
	}
	random := make([]byte, 120)
	_, _ = rand.Read(random)
	for _, tc := range []struct {
		name   string
		data   []byte
		target error
		want   string
	}{
		{"empty", nil, jwtkey.ErrNoPrivateKey, "empty"},
		{"blank", []byte("  \n\t"), jwtkey.ErrNoPrivateKey, "empty"},
		{"HMAC secret", []byte("my-shared-secret-0123456789abcdef"), jwtkey.ErrNoPrivateKey, "HMAC"},
		{"raw DER", pkcs8(t, ec), jwtkey.ErrNoPrivateKey, "no PEM block"},
		{"a token", []byte("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\n"), jwtkey.ErrNoPrivateKey, "it is a JWT (a token), not a key"},
		{"text", []byte("not a key at all\n"), jwtkey.ErrNoPrivateKey, "no PEM block"},
		{"JWK JSON", []byte(`{"kty":"EC","crv":"P-256","d":"x"}`), jwtkey.ErrNoPrivateKey, "JSON"},
		{"truncated", good[:len(good)/2], nil, "truncated"},
		{"missing END line", bytes.Replace(good, []byte("-----END PRIVATE KEY-----"), nil, 1), nil, "truncated"},
		{"corrupt base64", bytes.Replace(good, []byte("M"), []byte("*"), 3), nil, "malformed"},
		{"garbage DER", pemBlock("PRIVATE KEY", random, nil), nil, `invalid "PRIVATE KEY" block`},
		{"public key", pemBlock("PUBLIC KEY", pubDER, nil), jwtkey.ErrNoPrivateKey, "public key"},
		{"RSA public key", pemBlock("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&testRS256Key().PublicKey), nil), jwtkey.ErrNoPrivateKey, "public key"},
		{"certificate", selfSigned(t, ec), jwtkey.ErrNoPrivateKey, "certificate"},
		{"PKCS#8 encrypted", pemBlock("ENCRYPTED PRIVATE KEY", random, nil), jwtkey.ErrEncryptedKey, "openssl pkey"},
		{"legacy encrypted", pemBlock("EC PRIVATE KEY", random, map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}), jwtkey.ErrEncryptedKey, "decrypt it"},
		{"P-384", pemBlock("PRIVATE KEY", pkcs8(t, p384), nil), jwtkey.ErrUnsupportedKey, "the Temporal server accepts only ES256 (ECDSA P-256) and RS256"},
		{"P-521", pemBlock("EC PRIVATE KEY", mustKey(x509.MarshalECPrivateKey(p521)), nil), jwtkey.ErrUnsupportedKey, "P-521"},
		{"Ed25519", pemBlock("PRIVATE KEY", pkcs8(t, ed), nil), jwtkey.ErrUnsupportedKey, "Ed25519"},
		{"X25519", pemBlock("PRIVATE KEY", pkcs8(t, x25519), nil), jwtkey.ErrUnsupportedKey, "key-agreement"},
		{"RSA 1024", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa1024), nil), jwtkey.ErrUnsupportedKey, "1024 bits"},
		{"OpenSSH", pemBlock("OPENSSH PRIVATE KEY", random, nil), jwtkey.ErrUnsupportedKey, "ssh-keygen -p -m PKCS8"},
		{"DSA", pemBlock("DSA PRIVATE KEY", random, nil), jwtkey.ErrUnsupportedKey, "DSA"},
		{"two keys", slices2(good, pemBlock("PRIVATE KEY", pkcs8(t, testES256Alt()), nil)), nil, "2 private keys"},
		{"other block", pemBlock("X509 CRL", random, nil), jwtkey.ErrNoPrivateKey, `"X509 CRL"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := jwtkey.ParsePrivateKeyPEM(tc.data)
			if err == nil {
				t.Fatalf("parsed %T", key)
			}
			if tc.target != nil && !errors.Is(err, tc.target) {
				t.Errorf("error %q is not %v", err, tc.target)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			assertNoPEMBodies(t, err.Error(), tc.data, true)
		})
	}
}

// assertNoPEMBodies fails if msg quotes any PEM body in data in base64 or,
// with raw, the start of data itself when it holds no PEM.
func assertNoPEMBodies(t *testing.T, msg string, data []byte, raw bool) {
	t.Helper()
	if raw && len(data) >= 12 && !bytes.Contains(data, []byte("-----BEGIN")) &&
		(strings.Contains(msg, string(data[:12])) || strings.Contains(msg, base64.StdEncoding.EncodeToString(data)[:16])) {
		t.Errorf("error quotes the input: %s", msg)
	}
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return
		}
		if len(b.Bytes) >= 12 && strings.Contains(msg, base64.StdEncoding.EncodeToString(b.Bytes)[:16]) {
			t.Errorf("error quotes a PEM body: %s", msg)
		}
	}
}

func TestLoadPrivateKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "signing.pem")
	if err := jwtkey.WritePrivateKeyFile(path, testRS256Key()); err != nil {
		t.Fatal(err)
	}
	key, err := jwtkey.LoadPrivateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !samePublicKey(key.Public(), testRS256Key().Public()) {
		t.Fatal("loaded a different key")
	}

	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, bytes.Repeat([]byte("A"), 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(cert, selfSigned(t, testES256Key()), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path   string
		target error
		want   string
	}{
		{filepath.Join(dir, "missing.pem"), fs.ErrNotExist, "no such file"},
		{dir, nil, "is a directory"},
		{big, nil, "larger than"},
		{cert, jwtkey.ErrNoPrivateKey, "certificate"},
	} {
		_, err := jwtkey.LoadPrivateKeyFile(tc.path)
		if err == nil || !strings.Contains(err.Error(), `key file "`+tc.path+`"`) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadPrivateKeyFile(%s) = %v; want an error naming the file and %q", tc.path, err, tc.want)
		}
		if tc.target != nil && !errors.Is(err, tc.target) {
			t.Errorf("error %v is not %v", err, tc.target)
		}
		if err != nil && strings.Count(err.Error(), tc.path) != 1 {
			t.Errorf("error names the file more than once: %v", err)
		}
	}
}

func TestWritePrivateKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := jwtkey.WritePrivateKeyFile(path, testES256Key()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !isWindows() && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Errorf("file does not start with a PKCS#8 block")
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("directory holds %v (%v), want only the key file", entries, err)
	}
	if err := jwtkey.CheckKeyFilePermissions(path); err != nil {
		t.Errorf("CheckKeyFilePermissions after write: %v", err)
	}

	err = jwtkey.WritePrivateKeyFile(filepath.Join(dir, "no-such-dir", "key.pem"), testES256Key())
	if err == nil || !strings.Contains(err.Error(), "no-such-dir") {
		t.Errorf("write into a missing directory: %v", err)
	}
	p384 := mustKey(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
	if err := jwtkey.WritePrivateKeyFile(filepath.Join(dir, "p384.pem"), p384); !errors.Is(err, jwtkey.ErrUnsupportedKey) {
		t.Errorf("write P-384 key: %v", err)
	}
}

func TestCheckKeyFilePermissions(t *testing.T) {
	if isWindows() {
		t.Skip("Go does not report Windows ACLs")
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := jwtkey.WritePrivateKeyFile(path, testES256Key()); err != nil {
		t.Fatal(err)
	}
	for mode, open := range map[os.FileMode]bool{0o600: false, 0o400: false, 0o640: true, 0o604: true, 0o660: true, 0o644: true} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		err := jwtkey.CheckKeyFilePermissions(path)
		if open != (err != nil) {
			t.Errorf("mode %#o: err = %v", mode, err)
		}
		if open && (!errors.Is(err, jwtkey.ErrKeyFilePermissions) || !strings.Contains(err.Error(), "chmod 600 "+path)) {
			t.Errorf("mode %#o: err = %v, want ErrKeyFilePermissions with the fix", mode, err)
		}
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	err := jwtkey.CheckKeyFilePermissions(path)
	if want := `key file "` + path + `": permissions too open: mode 0644 lets its group read it and others read it; fix it with chmod 600 ` + path +
		", or on a Kubernetes Secret volume with defaultMode: 0400"; err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	if err := jwtkey.CheckKeyFilePermissions(path + ".missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestKeyFileReadableByGroupItDoesNotOwn: a file the process does not own
// but may read through its group, as a Kubernetes Secret volume with
// fsGroup gives a non-root container (mode 0440), is accepted; others may
// still not read it, nor the group write it.
func TestKeyFileReadableByGroupItDoesNotOwn(t *testing.T) {
	if isWindows() || os.Geteuid() != 0 {
		t.Skip("needs root, to give the file to another user")
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := jwtkey.WritePrivateKeyFile(path, testES256Key()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 4242, os.Getegid()); err != nil {
		t.Fatal(err)
	}
	for mode, open := range map[os.FileMode]bool{0o440: false, 0o400: false, 0o444: true, 0o460: true} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if err := jwtkey.CheckKeyFilePermissions(path); open != (err != nil) {
			t.Errorf("mode %#o, owned by another user: err = %v", mode, err)
		}
	}
}

func TestGenerateKey(t *testing.T) {
	for alg, check := range map[string]func(crypto.Signer) bool{
		jwtkey.AlgES256: func(k crypto.Signer) bool { e, ok := k.(*ecdsa.PrivateKey); return ok && e.Curve == elliptic.P256() },
		jwtkey.AlgRS256: func(k crypto.Signer) bool { r, ok := k.(*rsa.PrivateKey); return ok && r.N.BitLen() == 2048 },
	} {
		key, err := jwtkey.GenerateKey(alg)
		if err != nil || !check(key) {
			t.Errorf("GenerateKey(%s) = %T, %v", alg, key, err)
		}
	}
	for _, alg := range []string{"HS256", "ES384", "es256", ""} {
		if _, err := jwtkey.GenerateKey(alg); !errors.Is(err, jwtkey.ErrUnsupportedKey) || !strings.Contains(err.Error(), "ES256") {
			t.Errorf("GenerateKey(%q): %v", alg, err)
		}
	}
	if _, err := jwtkey.GenerateRS256Key(1024); !errors.Is(err, jwtkey.ErrUnsupportedKey) {
		t.Errorf("GenerateRS256Key(1024): %v", err)
	}
}

func TestMarshalPrivateKeyPEMRoundTrip(t *testing.T) {
	for _, key := range []crypto.Signer{testES256Key(), testRS256Key()} {
		data, err := jwtkey.MarshalPrivateKeyPEM(key)
		if err != nil {
			t.Fatal(err)
		}
		back, err := jwtkey.ParsePrivateKeyPEM(data)
		if err != nil || !samePublicKey(back.Public(), key.Public()) {
			t.Errorf("round trip of %T: %v", key, err)
		}
	}
	if _, err := jwtkey.MarshalPrivateKeyPEM(nil); err == nil {
		t.Error("MarshalPrivateKeyPEM(nil) succeeded")
	}
	if _, err := jwtkey.MarshalPrivateKeyPEM(wrappedSigner{Signer: testES256Key()}); !errors.Is(err, jwtkey.ErrUnsupportedKey) {
		t.Errorf("MarshalPrivateKeyPEM(opaque signer): %v", err)
	}
}

func TestParsePublicKeyPEM(t *testing.T) {
	ec, rk := testES256Key(), testRS256Key()
	pkix, err := x509.MarshalPKIXPublicKey(ec.Public())
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		data []byte
		want crypto.PublicKey
	}{
		"PKIX public key":   {pemBlock("PUBLIC KEY", pkix, nil), ec.Public()},
		"PKCS#1 public key": {pemBlock("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rk.PublicKey), nil), rk.Public()},
		"certificate":       {selfSigned(t, ec), ec.Public()},
		"private key":       {pemBlock("PRIVATE KEY", pkcs8(t, rk), nil), rk.Public()},
	} {
		got, err := jwtkey.ParsePublicKeyPEM(tc.data)
		if err != nil || !samePublicKey(got, tc.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	p384 := mustKey(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
	p384DER, err := x509.MarshalPKIXPublicKey(p384.Public())
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		data   []byte
		target error
		want   string
	}{
		"P-384":      {pemBlock("PUBLIC KEY", p384DER, nil), jwtkey.ErrUnsupportedKey, "P-384"},
		"encrypted":  {pemBlock("ENCRYPTED PRIVATE KEY", []byte("xxxxxxxxxxxxxxxx"), nil), jwtkey.ErrEncryptedKey, "openssl"},
		"two keys":   {slices2(pemBlock("PUBLIC KEY", pkix, nil), selfSigned(t, ec)), nil, "2 keys or certificates"},
		"no PEM":     {[]byte("secret"), nil, "expected a PEM public key, private key or certificate"},
		"bad PUBLIC": {pemBlock("PUBLIC KEY", []byte("xxxxxxxxxxxxxxxx"), nil), nil, `invalid "PUBLIC KEY" block`},
		"other":      {pemBlock("X509 CRL", []byte("xxxxxxxxxxxxxxxx"), nil), nil, "no key or certificate"},
	} {
		_, err := jwtkey.ParsePublicKeyPEM(tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.target != nil && !errors.Is(err, tc.target)) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

func FuzzParsePrivateKeyPEM(f *testing.F) {
	ec := testES256Key()
	f.Add(mustKey(jwtkey.MarshalPrivateKeyPEM(ec)))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: mustKey(x509.MarshalECPrivateKey(ec))}))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("not a key"))
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := jwtkey.ParsePrivateKeyPEM(data)
		if err != nil {
			if key != nil {
				t.Fatal("key and error")
			}
			assertNoPEMBodies(t, err.Error(), data, false)
			return
		}
		switch k := key.(type) {
		case *ecdsa.PrivateKey:
			if k.Curve != elliptic.P256() {
				t.Fatalf("accepted curve %s", k.Curve.Params().Name)
			}
		case *rsa.PrivateKey:
			if k.N.BitLen() < 2048 {
				t.Fatalf("accepted RSA %d", k.N.BitLen())
			}
		default:
			t.Fatalf("accepted %T", key)
		}
		// A key that parses must sign tokens.
		if _, err := jwtkey.NewTokenSource(jwtkey.Config{Key: key}); err != nil {
			t.Fatalf("parsed key refused by NewTokenSource: %v", err)
		}
	})
}
