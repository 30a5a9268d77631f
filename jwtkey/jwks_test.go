package jwtkey_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/temporalauth/temporalauth/jwtkey"
)

// The RSA key of RFC 7638, section 3.1, and its thumbprint.
const (
	rfc7638N = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	rfc7638E = "AQAB"
	// rfc7638Thumbprint is the SHA-256 thumbprint the RFC computes.
	rfc7638Thumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
)

func rfc7638Key(t testing.TB) *rsa.PublicKey {
	t.Helper()
	n, err := base64.RawURLEncoding.DecodeString(rfc7638N)
	if err != nil {
		t.Fatal(err)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
}

func TestThumbprintRFC7638Vector(t *testing.T) {
	pub := rfc7638Key(t)
	got, err := jwtkey.Thumbprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	if got != rfc7638Thumbprint {
		t.Errorf("Thumbprint = %s, want %s", got, rfc7638Thumbprint)
	}
	jwk, err := jwtkey.PublicJWK(pub, "")
	if err != nil {
		t.Fatal(err)
	}
	if jwk.N != rfc7638N || jwk.E != rfc7638E || jwk.KeyID != rfc7638Thumbprint {
		t.Errorf("JWK = %+v", jwk)
	}
	// Members other than kty, n and e do not change the thumbprint.
	jwk.KeyID, jwk.Algorithm, jwk.Use = "2011-04-29", "RS256", "sig"
	if jwk.Thumbprint() != rfc7638Thumbprint {
		t.Errorf("JWK.Thumbprint = %s", jwk.Thumbprint())
	}
}

func TestThumbprintAcceptsSignersAndRejectsOthers(t *testing.T) {
	a, err := jwtkey.Thumbprint(testES256Key())
	if err != nil {
		t.Fatal(err)
	}
	b, err := jwtkey.Thumbprint(testES256Key().Public())
	if err != nil || a != b {
		t.Errorf("signer %s, public key %s (%v)", a, b, err)
	}
	if c, _ := jwtkey.Thumbprint(testES256Alt()); c == a {
		t.Error("two keys share a thumbprint")
	}
	p384 := mustKey(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
	if _, err := jwtkey.Thumbprint(p384); err != nil {
		t.Errorf("P-384 thumbprint: %v", err)
	}
	for _, k := range []crypto.PublicKey{nil, "key", []byte{1}} {
		if _, err := jwtkey.Thumbprint(k); err == nil {
			t.Errorf("Thumbprint(%T) succeeded", k)
		}
	}
}

func TestPublicJWK(t *testing.T) {
	ec, rk := testES256Key(), testRS256Key()
	for _, tc := range []struct {
		key            crypto.PublicKey
		kty, alg, crv  string
		wantPublicHalf crypto.PublicKey
	}{
		{ec, "EC", "ES256", "P-256", ec.Public()},
		{ec.Public(), "EC", "ES256", "P-256", ec.Public()},
		{rk, "RSA", "RS256", "", rk.Public()},
	} {
		jwk, err := jwtkey.PublicJWK(tc.key, "")
		if err != nil {
			t.Fatal(err)
		}
		if jwk.KeyType != tc.kty || jwk.Algorithm != tc.alg || jwk.Curve != tc.crv || jwk.Use != "sig" || jwk.KeyID != jwk.Thumbprint() {
			t.Errorf("JWK = %+v", jwk)
		}
		b, err := json.Marshal(jwk)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]string
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		if _, hasD := raw["d"]; hasD || raw["kty"] != tc.kty || raw["kid"] != jwk.KeyID || raw["alg"] != tc.alg {
			t.Errorf("JSON = %s", b)
		}
		pub, err := strictKey(raw)
		if err != nil || !samePublicKey(pub, tc.wantPublicHalf) {
			t.Errorf("strict decode: %v", err)
		}
		back, err := jwk.PublicKey()
		if err != nil || !samePublicKey(back, tc.wantPublicHalf) {
			t.Errorf("JWK.PublicKey: %v", err)
		}
	}
	jwk, err := jwtkey.PublicJWK(ec, "custom")
	if err != nil || jwk.KeyID != "custom" {
		t.Errorf("custom kid: %+v, %v", jwk, err)
	}
	p384 := mustKey(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
	if _, err := jwtkey.PublicJWK(p384, ""); !errors.Is(err, jwtkey.ErrUnsupportedKey) {
		t.Errorf("P-384: %v", err)
	}
}

// RFC 7518 requires full-length coordinates; the server's parser refuses
// shorter ones. About 1 key in 128 has a coordinate with a leading zero.
func TestPublicJWKPadsECCoordinates(t *testing.T) {
	for i := 0; i < 5000; i++ {
		key := mustKey(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
		raw := mustKey(key.PublicKey.Bytes())
		if raw[1] != 0 && raw[33] != 0 {
			continue
		}
		jwk, err := jwtkey.PublicJWK(key, "")
		if err != nil {
			t.Fatal(err)
		}
		x, _ := base64.RawURLEncoding.DecodeString(jwk.X)
		y, _ := base64.RawURLEncoding.DecodeString(jwk.Y)
		if len(x) != 32 || len(y) != 32 {
			t.Fatalf("coordinates of %d and %d bytes", len(x), len(y))
		}
		if _, err := strictKey(map[string]string{"kty": "EC", "crv": "P-256", "x": jwk.X, "y": jwk.Y}); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("no key with a leading zero coordinate in 5000 tries")
}

func TestJWKPublicKeyErrors(t *testing.T) {
	good, err := jwtkey.PublicJWK(testES256Key(), "k")
	if err != nil {
		t.Fatal(err)
	}
	rsaGood, err := jwtkey.PublicJWK(testRS256Key(), "r")
	if err != nil {
		t.Fatal(err)
	}
	small := mustKey(rsa.GenerateKey(rand.Reader, 1024))
	smallJWK := rsaGood
	smallJWK.N = base64.RawURLEncoding.EncodeToString(small.N.Bytes())
	with := func(base jwtkey.JWK, f func(*jwtkey.JWK)) jwtkey.JWK { f(&base); return base }
	for _, tc := range []struct {
		name string
		jwk  jwtkey.JWK
		want string
	}{
		{"no kty", with(good, func(k *jwtkey.JWK) { k.KeyType = "" }), "missing kty"},
		{"oct", with(good, func(k *jwtkey.JWK) { k.KeyType = "oct" }), `kty "oct"`},
		{"OKP", with(good, func(k *jwtkey.JWK) { k.KeyType = "OKP" }), `kty "OKP"`},
		{"P-384", with(good, func(k *jwtkey.JWK) { k.Curve = "P-384" }), "P-384"},
		{"short x", with(good, func(k *jwtkey.JWK) { k.X = k.X[4:] }), "32 bytes"},
		{"missing y", with(good, func(k *jwtkey.JWK) { k.Y = "" }), "missing y"},
		{"padded x", with(good, func(k *jwtkey.JWK) { k.X += "=" }), "base64url"},
		{"off the curve", with(good, func(k *jwtkey.JWK) { k.X = good.Y }), "not a point"},
		{"alg mismatch", with(good, func(k *jwtkey.JWK) { k.Algorithm = "RS256" }), `alg "RS256"`},
		{"ES384 alg", with(good, func(k *jwtkey.JWK) { k.Algorithm = "ES384" }), `alg "ES384"`},
		{"use enc", with(good, func(k *jwtkey.JWK) { k.Use = "enc" }), `use "enc"`},
		{"RSA 1024", smallJWK, "1024 bits"},
		{"even e", with(rsaGood, func(k *jwtkey.JWK) { k.E = "AQAA" }), "exponent"},
		{"huge e", with(rsaGood, func(k *jwtkey.JWK) { k.E = "AQAAAAAB" }), "exponent"},
		{"missing n", with(rsaGood, func(k *jwtkey.JWK) { k.N = "" }), "missing n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.jwk.PublicKey()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), fmt.Sprintf("JWK %q", tc.jwk.KeyID)) {
				t.Errorf("err = %v, want %q and the kid", err, tc.want)
			}
		})
	}
}

func mustJWK(t *testing.T, key crypto.PublicKey, kid string) jwtkey.JWK {
	t.Helper()
	jwk, err := jwtkey.PublicJWK(key, kid)
	if err != nil {
		t.Fatal(err)
	}
	return jwk
}

func TestKeySetAddRemoveSet(t *testing.T) {
	a, b := mustJWK(t, testES256Key(), ""), mustJWK(t, testRS256Key(), "")
	var set jwtkey.KeySet // the zero value is ready
	if err := set.Add(a); err != nil {
		t.Fatal(err)
	}
	if err := set.Add(a, b); err != nil { // a again is a no-op
		t.Fatal(err)
	}
	if got := set.KeyIDs(); !slices.Equal(got, []string{a.KeyID, b.KeyID}) {
		t.Fatalf("KeyIDs = %v", got)
	}
	// A different key under a kid in use is refused, and nothing is added.
	clash := mustJWK(t, testES256Alt(), a.KeyID)
	other := mustJWK(t, testES256Alt(), "other")
	if err := set.Add(other, clash); err == nil || !strings.Contains(err.Error(), "different key") {
		t.Errorf("clash: %v", err)
	}
	if got := set.KeyIDs(); len(got) != 2 {
		t.Errorf("after a failed Add: %v", got)
	}
	noKid := a
	noKid.KeyID = ""
	if err := set.Add(noKid); err == nil || !strings.Contains(err.Error(), "no kid") {
		t.Errorf("no kid: %v", err)
	}
	broken := a
	broken.KeyID, broken.X = "broken", "AAAA"
	if err := set.Add(broken); err == nil || !strings.Contains(err.Error(), `"broken"`) {
		t.Errorf("broken key: %v", err)
	}

	if !set.Remove(a.KeyID) || set.Remove(a.KeyID) {
		t.Error("Remove reports wrongly")
	}
	if _, ok := set.JWKS().Key(b.KeyID); !ok {
		t.Error("b is gone")
	}
	if err := set.Set(other); err != nil {
		t.Fatal(err)
	}
	if got := set.KeyIDs(); !slices.Equal(got, []string{"other"}) {
		t.Errorf("after Set: %v", got)
	}
	if err := set.Set(broken); err == nil {
		t.Error("Set accepted a broken key")
	}
	if got := set.KeyIDs(); !slices.Equal(got, []string{"other"}) {
		t.Errorf("after a failed Set: %v", got)
	}
	if _, err := jwtkey.NewKeySet(broken); err == nil {
		t.Error("NewKeySet accepted a broken key")
	}
	// JWKS returns a copy.
	snap := set.JWKS()
	snap.Keys[0].KeyID = "changed"
	if set.KeyIDs()[0] != "other" {
		t.Error("JWKS shares its slice with the set")
	}
}

func TestKeySetServeHTTP(t *testing.T) {
	set, err := jwtkey.NewKeySet()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(set)
	defer srv.Close()
	get := func(method string) (*http.Response, string) {
		req, err := http.NewRequest(method, srv.URL+"/.well-known/jwks.json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(body)
	}
	resp, body := get(http.MethodGet)
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"keys":[]}` {
		t.Errorf("empty set: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers = %v", resp.Header)
	}

	// Rotation overlap: old and new published together, then old withdrawn.
	old, next := mustJWK(t, testES256Key(), ""), mustJWK(t, testES256Alt(), "")
	if err := set.Add(old, next); err != nil {
		t.Fatal(err)
	}
	if got := fetchJWKS(t, set); len(got.Keys) != 2 || got.Keys[0]["kid"] != old.KeyID || got.Keys[1]["kid"] != next.KeyID {
		t.Errorf("both keys: %v", got)
	}
	set.Remove(old.KeyID)
	if got := fetchJWKS(t, set); len(got.Keys) != 1 || got.Keys[0]["kid"] != next.KeyID {
		t.Errorf("after withdrawal: %v", got)
	}

	resp, body = get(http.MethodHead)
	if resp.StatusCode != 200 || body != "" || resp.ContentLength <= 0 {
		t.Errorf("HEAD: %d %q length %d", resp.StatusCode, body, resp.ContentLength)
	}
	resp, _ = get(http.MethodPost)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestKeySetConcurrentUse(t *testing.T) {
	var set jwtkey.KeySet
	keys := []jwtkey.JWK{mustJWK(t, testES256Key(), ""), mustJWK(t, testES256Alt(), ""), mustJWK(t, testRS256Key(), "")}
	srv := httptest.NewServer(&set)
	defer srv.Close()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				k := keys[(i+j)%len(keys)]
				switch j % 4 {
				case 0:
					_ = set.Add(k)
				case 1:
					set.Remove(k.KeyID)
				case 2:
					_ = set.Set(keys...)
				default:
					resp, err := srv.Client().Get(srv.URL)
					if err != nil {
						t.Error(err)
						return
					}
					var got rawJWKS
					if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
						t.Error(err)
					}
					_ = resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	srv.Client().CloseIdleConnections()
}

func TestJWKSFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	priv := filepath.Join(dir, "current.pem")
	if err := jwtkey.WritePrivateKeyFile(priv, testES256Key()); err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(testES256Alt().Public())
	if err != nil {
		t.Fatal(err)
	}
	pub := write("next.pub.pem", pemBlock("PUBLIC KEY", pubDER, nil))
	cert := write("rsa.crt", selfSigned(t, testRS256Key()))

	set, err := jwtkey.JWKSFromFiles(priv, pub, cert)
	if err != nil {
		t.Fatal(err)
	}
	// Each kid is what a Source on that key sends.
	for i, key := range []crypto.Signer{testES256Key(), testES256Alt(), testRS256Key()} {
		s := mustSigner(t, jwtkey.Config{Key: key})
		if set.Keys[i] != s.PublicJWK() {
			t.Errorf("key %d = %+v, want %+v", i, set.Keys[i], s.PublicJWK())
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"d"`) || !strings.HasPrefix(string(b), `{"keys":[{"kty":"EC"`) {
		t.Errorf("JSON = %s", b)
	}

	dup := write("dup.pem", mustKey(jwtkey.MarshalPrivateKeyPEM(testES256Key())))
	broken := write("broken.pem", []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n"))
	for _, tc := range []struct {
		paths []string
		want  []string
	}{
		{nil, []string{"no key files"}},
		{[]string{priv, dup}, []string{"current.pem", "dup.pem", "same key"}},
		{[]string{priv, filepath.Join(dir, "gone.pem")}, []string{"gone.pem", "no such file"}},
		{[]string{broken}, []string{"broken.pem", "truncated"}},
	} {
		_, err := jwtkey.JWKSFromFiles(tc.paths...)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("JWKSFromFiles(%v) = %v, want %q", tc.paths, err, w)
			}
		}
	}
}

func TestJWKSMarshalsEmptyAsArray(t *testing.T) {
	b, err := json.Marshal(jwtkey.JWKS{})
	if err != nil || string(b) != `{"keys":[]}` {
		t.Errorf("%s %v", b, err)
	}
	if _, ok := (jwtkey.JWKS{}).Key("x"); ok {
		t.Error("found a key in an empty set")
	}
}
