package jwtkey_test

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"go.temporal.io/sdk/client"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/jwtkey"
)

// A worker signs its own tokens with a key file; the matching public key is
// in the JWKS the Temporal server fetches. Replacing the file rotates the
// key.
func ExampleNewProvider() {
	provider, err := jwtkey.NewProvider(jwtkey.Config{
		KeyFile:     "/etc/temporal/signing-key.pem",
		Subject:     "orders-worker",
		Permissions: []string{"orders:write"},
	}, headers.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = provider.Close() }()

	c, err := client.Dial(client.Options{
		HostPort:        "temporal.example.com:7233",
		Namespace:       "orders",
		HeadersProvider: provider,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}

// A signer's token carries the key's thumbprint as kid, the kid its JWK is
// published under.
func ExampleNewTokenSource() {
	key, err := jwtkey.GenerateES256Key()
	if err != nil {
		log.Fatal(err)
	}
	signer, err := jwtkey.NewTokenSource(jwtkey.Config{Key: key, Permissions: []string{"default:read"}})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := signer.Token(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok.Value(), ".")[1])
	if err != nil {
		log.Fatal(err)
	}
	var claims struct {
		Sub         string   `json:"sub"`
		Permissions []string `json:"permissions"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		log.Fatal(err)
	}
	thumbprint, err := jwtkey.Thumbprint(key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("alg:", signer.Algorithm())
	fmt.Println("kid is the thumbprint:", signer.KeyID() == thumbprint && signer.PublicJWK().KeyID == thumbprint)
	fmt.Println("sub:", claims.Sub)
	fmt.Println("permissions:", claims.Permissions)
	// Output:
	// alg: ES256
	// kid is the thumbprint: true
	// sub: temporalauth
	// permissions: [default:read]
}

// A KeySet serves the public keys the Temporal server trusts. During a
// rotation it publishes the new key next to the old one, then withdraws the
// old key once no token signed with it is still valid.
func ExampleKeySet() {
	oldKey, _ := jwtkey.GenerateES256Key()
	newKey, _ := jwtkey.GenerateES256Key()
	oldJWK, _ := jwtkey.PublicJWK(oldKey, "2026-01")
	newJWK, _ := jwtkey.PublicJWK(newKey, "2026-02")

	keys, err := jwtkey.NewKeySet(oldJWK)
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(keys) // in production: http.Handle("/.well-known/jwks.json", keys)
	defer srv.Close()

	show := func() {
		resp, err := http.Get(srv.URL)
		if err != nil {
			log.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var set jwtkey.JWKS
		if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
			log.Fatal(err)
		}
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.KeyID+"/"+k.Algorithm)
		}
		fmt.Println(resp.Header.Get("Content-Type"), kids)
	}
	show()
	if err := keys.Add(newJWK); err != nil { // publish the new key first
		log.Fatal(err)
	}
	show()
	keys.Remove("2026-01") // later: withdraw the old key
	show()
	// Output:
	// application/json [2026-01/ES256]
	// application/json [2026-01/ES256 2026-02/ES256]
	// application/json [2026-02/ES256]
}

// The thumbprint of the example key in RFC 7638, section 3.1.
func ExampleThumbprint() {
	n, _ := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	thumbprint, err := jwtkey.Thumbprint(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(thumbprint)
	// Output: NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs
}

// Permissions are checked when the signer is built, as the server reads them.
func ExampleParsePermission() {
	for _, s := range []string{"orders:Write", "temporal-system:admin", "orders", "orders:owner"} {
		p, err := jwtkey.ParsePermission(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("namespace %q role %q\n", p.Namespace, p.Role)
	}
	// Output:
	// namespace "orders" role "write"
	// namespace "temporal-system" role "admin"
	// permission "orders": want "<namespace>:<role>", e.g. "default:write"
	// permission "orders:owner": role "owner" is not one of read, write, worker, admin
}

// Generate a key, store it for the signer and publish its JWKS.
func ExampleJWKSFromFiles() {
	dir, err := os.MkdirTemp("", "keys")
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()

	key, err := jwtkey.GenerateKey(jwtkey.AlgRS256)
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "signing.pem")
	if err := jwtkey.WritePrivateKeyFile(path, key); err != nil { // mode 0600
		log.Fatal(err)
	}
	set, err := jwtkey.JWKSFromFiles(path)
	if err != nil {
		log.Fatal(err)
	}
	thumbprint, _ := jwtkey.Thumbprint(key)
	fmt.Println(len(set.Keys), set.Keys[0].KeyType, set.Keys[0].Algorithm, set.Keys[0].Use, set.Keys[0].KeyID == thumbprint)
	// Output: 1 RSA RS256 sig true
}
