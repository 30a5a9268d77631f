package azure

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des" // #nosec G502 -- only to read keys that OpenSSL encrypted with 3DES
	"crypto/pbkdf2"
	"crypto/sha1" // #nosec G505 -- HMAC-SHA1 is PBKDF2's default PRF, still common in key files
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
)

// Object identifiers of PKCS#5 v2 (RFC 8018) and the AES modes it uses.
var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

// maxPBKDF2Iterations refuses key files that would make decryption take
// more than about a second (it happens when the file is loaded, and again
// when it changes); OpenSSL writes 2048, modern tools up to a few hundred
// thousand.
const maxPBKDF2Iterations = 1_000_000

// encryptedPrivateKeyInfo is PKCS#8's EncryptedPrivateKeyInfo.
type encryptedPrivateKeyInfo struct {
	Algorithm     pkix.AlgorithmIdentifier
	EncryptedData []byte
}

// pbes2Params are PBES2's parameters.
type pbes2Params struct {
	KeyDerivationFunc pkix.AlgorithmIdentifier
	EncryptionScheme  pkix.AlgorithmIdentifier
}

// pbkdf2Params are PBKDF2's parameters (the salt as an OCTET STRING, the only
// form in use).
type pbkdf2Params struct {
	Salt           []byte
	IterationCount int
	KeyLength      int                      `asn1:"optional"`
	PRF            pkix.AlgorithmIdentifier `asn1:"optional"`
}

// errWrongPassword reports a key that does not decrypt.
var errWrongPassword = errors.New("cannot decrypt: wrong password or damaged key")

// decryptPKCS8 decrypts a PKCS#8 EncryptedPrivateKeyInfo protected with PBES2
// (PBKDF2 with HMAC-SHA-1/2, and AES-CBC or 3DES-CBC) and parses the key inside.
func decryptPKCS8(der []byte, password string) (any, error) {
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) > 0 {
		return nil, errors.New("malformed encrypted PKCS#8 key")
	}
	if !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("unsupported key encryption %v: only PBES2 is supported; re-encrypt with `openssl pkcs8 -topk8 -v2 aes-256-cbc`", info.Algorithm.Algorithm)
	}
	var params pbes2Params
	if _, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params); err != nil {
		return nil, errors.New("malformed PBES2 parameters")
	}
	if !params.KeyDerivationFunc.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("unsupported key derivation %v: only PBKDF2 is supported", params.KeyDerivationFunc.Algorithm)
	}
	var kdf pbkdf2Params
	if _, err := asn1.Unmarshal(params.KeyDerivationFunc.Parameters.FullBytes, &kdf); err != nil {
		return nil, errors.New("malformed PBKDF2 parameters")
	}
	if kdf.IterationCount < 1 || kdf.IterationCount > maxPBKDF2Iterations {
		return nil, fmt.Errorf("PBKDF2 iteration count %d out of range", kdf.IterationCount)
	}
	prf, err := pbkdf2Hash(kdf.PRF.Algorithm)
	if err != nil {
		return nil, err
	}
	keyLen, newCipher, err := keyCipher(params.EncryptionScheme.Algorithm)
	if err != nil {
		return nil, err
	}
	if kdf.KeyLength != 0 && kdf.KeyLength != keyLen {
		return nil, fmt.Errorf("PBKDF2 key length %d does not fit the cipher", kdf.KeyLength)
	}
	key, err := pbkdf2.Key(prf, password, kdf.Salt, kdf.IterationCount, keyLen)
	if err != nil {
		return nil, err
	}
	block, err := newCipher(key)
	if err != nil {
		return nil, err
	}
	var iv []byte
	if _, err := asn1.Unmarshal(params.EncryptionScheme.Parameters.FullBytes, &iv); err != nil || len(iv) != block.BlockSize() {
		return nil, errors.New("malformed CBC parameters")
	}
	if len(info.EncryptedData) == 0 || len(info.EncryptedData)%block.BlockSize() != 0 {
		return nil, errors.New("malformed encrypted key data")
	}
	plain := make([]byte, len(info.EncryptedData))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, info.EncryptedData)
	plain, ok := unpad(plain, block.BlockSize())
	if !ok {
		return nil, errWrongPassword
	}
	k, err := x509.ParsePKCS8PrivateKey(plain)
	if err != nil {
		return nil, errWrongPassword
	}
	return k, nil
}

// pbkdf2Hash maps a PRF identifier to its hash; an absent PRF means HMAC-SHA-1.
func pbkdf2Hash(oid asn1.ObjectIdentifier) (func() hash.Hash, error) {
	switch {
	case len(oid) == 0, oid.Equal(oidHMACSHA1):
		return sha1.New, nil
	case oid.Equal(oidHMACSHA224):
		return sha256.New224, nil
	case oid.Equal(oidHMACSHA256):
		return sha256.New, nil
	case oid.Equal(oidHMACSHA384):
		return sha512.New384, nil
	case oid.Equal(oidHMACSHA512):
		return sha512.New, nil
	}
	return nil, fmt.Errorf("unsupported PBKDF2 PRF %v", oid)
}

// keyCipher returns the key length and block cipher of a CBC scheme:
// AES-128/192/256-CBC, or DES-EDE3-CBC, which OpenSSL 3's req and genrsa
// still use by default.
func keyCipher(oid asn1.ObjectIdentifier) (int, func([]byte) (cipher.Block, error), error) {
	switch {
	case oid.Equal(oidAES128CBC):
		return 16, aes.NewCipher, nil
	case oid.Equal(oidAES192CBC):
		return 24, aes.NewCipher, nil
	case oid.Equal(oidAES256CBC):
		return 32, aes.NewCipher, nil
	case oid.Equal(oidDESEDE3CBC):
		return 24, des.NewTripleDESCipher, nil
	}
	return 0, nil, fmt.Errorf("unsupported key cipher %v: re-encrypt with `openssl pkcs8 -topk8 -v2 aes-256-cbc`", oid)
}

// unpad removes PKCS#7 padding, checking every padding byte.
func unpad(b []byte, blockSize int) ([]byte, bool) {
	if len(b) == 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	if n == 0 || n > blockSize || n > len(b) {
		return nil, false
	}
	want := make([]byte, n)
	for i := range want {
		want[i] = byte(n)
	}
	if subtle.ConstantTimeCompare(b[len(b)-n:], want) != 1 {
		return nil, false
	}
	return b[:len(b)-n], true
}
