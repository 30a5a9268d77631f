package jwtkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/temporalauth/temporalauth/internal/secretfile"
)

// A signingKey is a key ready to sign with: its algorithm, kid, public JWK
// and the encoded JWS header that goes with them.
type signingKey struct {
	signer crypto.Signer
	alg    string
	kid    string
	jwk    JWK
	header string // base64url of the JOSE header
	// verify is set for signers other than in-memory keys (an HSM or a
	// cloud KMS): each signature is checked with the public key so that a
	// signer using another key or padding fails here, not at the server.
	verify bool
}

// newSigningKey checks signer and prepares it; kid "" means the thumbprint.
func newSigningKey(signer crypto.Signer, kid string) (*signingKey, error) {
	if signer == nil {
		return nil, fmt.Errorf("key is nil")
	}
	pub := signer.Public()
	jwk, err := publicJWK(pub, kid)
	if err != nil {
		return nil, err
	}
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{jwk.Algorithm, jwk.KeyID, "JWT"})
	if err != nil {
		return nil, err
	}
	k := &signingKey{
		signer: signer,
		alg:    jwk.Algorithm,
		kid:    jwk.KeyID,
		jwk:    jwk,
		header: base64.RawURLEncoding.EncodeToString(header),
	}
	switch signer.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey:
	default:
		k.verify = true
	}
	return k, nil
}

// A keyFile is a PEM private key file that may be replaced at any time.
//
// It is read again before every signature: signing happens once per token
// lifetime, and a read of a small file costs microseconds, so this is
// cheaper and surer than watching modification times (whose resolution
// can hide a quick replacement). The key is parsed again only when the
// file's SHA-256 changes.
type keyFile struct {
	path string

	mu  sync.Mutex
	sum [sha256.Size]byte
	key *signingKey
}

// openKeyFile loads path for the first time.
func openKeyFile(path string) (*keyFile, error) {
	f := &keyFile{path: path}
	if _, err := f.load(); err != nil {
		return nil, err
	}
	return f, nil
}

// load returns the key the file holds now. On error the previous key stays
// current (see current) but is not returned: a file that cannot be read or
// parsed must be fixed, not silently ignored.
func (f *keyFile) load() (*signingKey, error) {
	data, err := readKeyFile(f.path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.key != nil && sum == f.sum {
		return f.key, nil
	}
	signer, err := parsePrivateKeyPEM(data)
	if err != nil {
		return nil, &secretfile.Error{What: "key file", Path: f.path, Err: err}
	}
	key, err := newSigningKey(signer, "")
	if err != nil {
		return nil, &secretfile.Error{What: "key file", Path: f.path, Err: err}
	}
	f.sum, f.key = sum, key
	return key, nil
}

// current returns the key last loaded successfully.
func (f *keyFile) current() *signingKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.key
}
