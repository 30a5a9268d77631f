package serverauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/golang-jwt/jwt/v4"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"

	"github.com/temporalauth/temporalauth/serverauth"
)

// An identity provider starts signing with a key the server has never
// fetched: the first token signed with it makes the provider refetch the
// JWKS, and the claim mapper accepts the token.
func Example() {
	signer := func(kid string) (*ecdsa.PrivateKey, map[string]any) {
		priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		x, y := make([]byte, 32), make([]byte, 32)
		priv.X.FillBytes(x)
		priv.Y.FillBytes(y)
		return priv, map[string]any{"kty": "EC", "crv": "P-256", "kid": kid,
			"x": base64.RawURLEncoding.EncodeToString(x), "y": base64.RawURLEncoding.EncodeToString(y)}
	}
	_, oldJWK := signer("2024-key")
	newKey, newJWK := signer("2025-key")
	var published atomic.Value
	published.Store([]any{oldJWK})
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": published.Load()})
	}))
	defer idp.Close()

	// What the server's YAML says: the JWKS URL and no refreshInterval.
	auth := &config.Authorization{
		JWTKeyProvider: config.JWTKeyProvider{KeySourceURIs: []string{idp.URL + "/keys"}},
		Authorizer:     "default",
		ClaimMapper:    "default",
	}
	cfg, err := serverauth.ConfigFromAuthorization(auth)
	if err != nil {
		fmt.Println(err)
		return
	}
	// What the YAML cannot say: whose tokens the JWKS's keys may verify.
	cfg.JWKSIssuers = map[string][]string{idp.URL + "/keys": {"https://idp.example/"}}
	keys, err := serverauth.NewKeyProvider(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer keys.Close()
	mapper := authorization.NewDefaultJWTClaimMapper(keys, auth, log.NewNoopLogger())

	// Key rotation without notice.
	published.Store([]any{oldJWK, newJWK})
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": "https://idp.example/", "sub": "worker", "permissions": []string{"default:write"},
	})
	tok.Header["kid"] = newJWK["kid"]
	signed, _ := tok.SignedString(newKey)

	claims, err := mapper.GetClaims(&authorization.AuthInfo{AuthToken: "Bearer " + signed})
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	s := keys.Stats()
	fmt.Println("subject:", claims.Subject, "writer on default:", claims.Namespaces["default"] == authorization.RoleWriter)
	fmt.Println("fetches:", s.Fetches, "refetches:", s.Refetches, "keys:", s.Keys)
	// Output:
	// subject: worker writer on default: true
	// fetches: 2 refetches: 1 keys: 2
}
