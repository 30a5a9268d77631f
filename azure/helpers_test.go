package azure

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/temporalauth/temporalauth/azure/entratest"
)

// testScope is the scope of the resource entratest registers by default.
const testScope = entratest.DefaultResource + "/.default"

// newIdP starts a local identity provider closed at the end of the test.
func newIdP(t *testing.T, opts ...entratest.Option) *entratest.Server {
	t.Helper()
	idp := entratest.NewServer(opts...)
	t.Cleanup(idp.Close)
	return idp
}

// appConfig is a Config for clientID at idp, without a credential.
func appConfig(idp *entratest.Server, clientID string) Config {
	return Config{
		TenantID:      idp.Tenant(),
		ClientID:      clientID,
		Scopes:        []string{testScope},
		AuthorityHost: idp.AuthorityHost(),
		// Entra ID's instance discovery does not know a local server.
		DisableInstanceDiscovery: true,
		HTTPClient:               idp.Client(),
	}
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newSource builds a Source and closes it at the end of the test.
func newSource(t *testing.T, cfg Config) *Source {
	t.Helper()
	src, err := NewTokenSource(cfg)
	if err != nil {
		t.Fatalf("NewTokenSource: %v", err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

// tokenClaims are the claims tests check.
type tokenClaims struct {
	jwt.RegisteredClaims
	Roles []string `json:"roles"`
	AZP   string   `json:"azp"`
}

// verifyWithJWKS verifies token as a Temporal server would: it fetches the
// identity provider's JWKS over HTTPS, picks the key named by the kid header
// and checks an RS256 signature.
func verifyWithJWKS(t *testing.T, idp *entratest.Server, token string) (tokenClaims, string) {
	t.Helper()
	resp, err := idp.Client().Get(idp.KeysURL())
	if err != nil {
		t.Fatalf("fetching the JWKS: %v", err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kty, Use, Kid, N, E string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("decoding the JWKS: %v", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Use != "sig" {
			t.Fatalf("JWKS key %q: kty %q use %q, want RSA sig", k.Kid, k.Kty, k.Use)
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil {
			t.Fatalf("JWKS key %q: bad n or e", k.Kid)
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	var claims tokenClaims
	parsed, err := jwt.ParseWithClaims(token, &claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("kid %q not in the JWKS", kid)
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(idp.Issuer()), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("token does not verify against the JWKS: %v", err)
	}
	kid, _ := parsed.Header["kid"].(string)
	return claims, kid
}

// testCert is a self-signed certificate with its RSA key.
type testCert struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
}

// certPool holds the certificates made so far: RSA key generation is slow
// under the race detector, and tests may share certificates.
var certPool struct {
	sync.Mutex
	certs []testCert
}

// poolCert returns the i-th certificate of the pool; tests that need two
// different certificates ask for 0 and 1.
func poolCert(t *testing.T, i int) testCert {
	t.Helper()
	certPool.Lock()
	defer certPool.Unlock()
	for len(certPool.certs) <= i {
		certPool.certs = append(certPool.certs, newTestCert(t))
	}
	return certPool.certs[i]
}

func newTestCert(t *testing.T) testCert {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "temporalauth test client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{cert: cert, key: key}
}

func (c testCert) certPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})
}

// pem returns the certificate and its PKCS#8 key.
func (c testCert) pem(t *testing.T) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	return append(c.certPEM(), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...)
}

// encryptedPEM returns the certificate and its key encrypted with PBES2
// (PBKDF2-HMAC-SHA256, AES-256-CBC) under password.
func (c testCert) encryptedPEM(t *testing.T, password string) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	return append(c.certPEM(), pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: encryptPKCS8(t, der, password)})...)
}

// encryptPKCS8 wraps a PKCS#8 key in an EncryptedPrivateKeyInfo with
// PBKDF2-HMAC-SHA256 and AES-256-CBC.
func encryptPKCS8(t *testing.T, der []byte, password string) []byte {
	t.Helper()
	return encryptPKCS8With(t, der, password, pbes2Choice{prf: oidHMACSHA256, hash: sha256.New, cipher: oidAES256CBC, keyLen: 32, newCipher: aes.NewCipher})
}

// pbes2Choice selects PBES2's algorithms; a nil prf leaves the PRF out
// (meaning HMAC-SHA-1).
type pbes2Choice struct {
	prf       asn1.ObjectIdentifier
	hash      func() hash.Hash
	cipher    asn1.ObjectIdentifier
	keyLen    int
	newCipher func([]byte) (cipher.Block, error)
}

func encryptPKCS8With(t *testing.T, der []byte, password string, c pbes2Choice) []byte {
	t.Helper()
	const iterations = 1000
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key, err := pbkdf2.Key(c.hash, password, salt, iterations, c.keyLen)
	if err != nil {
		t.Fatal(err)
	}
	block, err := c.newCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	iv := make([]byte, block.BlockSize())
	_, _ = rand.Read(iv)
	pad := block.BlockSize() - len(der)%block.BlockSize()
	plain := append(append([]byte(nil), der...), bytes.Repeat([]byte{byte(pad)}, pad)...)
	enc := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(enc, plain)

	mustMarshal := func(v any) asn1.RawValue {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return asn1.RawValue{FullBytes: b}
	}
	kdf := pbkdf2Params{Salt: salt, IterationCount: iterations}
	if c.prf != nil {
		kdf.PRF = pkix.AlgorithmIdentifier{Algorithm: c.prf, Parameters: asn1.NullRawValue}
	}
	params := pbes2Params{
		KeyDerivationFunc: pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: mustMarshal(kdf)},
		EncryptionScheme:  pkix.AlgorithmIdentifier{Algorithm: c.cipher, Parameters: mustMarshal(iv)},
	}
	out, err := asn1.Marshal(encryptedPrivateKeyInfo{
		Algorithm:     pkix.AlgorithmIdentifier{Algorithm: oidPBES2, Parameters: mustMarshal(params)},
		EncryptedData: enc,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeFile writes data to name in a fresh temporary directory.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// lastRequest returns the last token request the identity provider received.
func lastRequest(t *testing.T, idp *entratest.Server) entratest.TokenRequest {
	t.Helper()
	reqs := idp.TokenRequests()
	if len(reqs) == 0 {
		t.Fatal("the identity provider received no token request")
	}
	return reqs[len(reqs)-1]
}

// jwtHeader decodes a JWT's header without verifying anything.
func jwtHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatalf("parsing a JWT: %v", err)
	}
	return tok.Header
}
