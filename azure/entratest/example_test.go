package entratest_test

import (
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/temporalauth/temporalauth/azure/entratest"
)

// A test registers a client with an app role and asks for a token with the
// client-credentials grant, as MSAL would.
func ExampleNewServer() {
	idp := entratest.NewServer()
	defer idp.Close()
	idp.RegisterClient(entratest.Client{ID: "worker-app", Secret: "test-secret", Roles: []string{"default:write"}})

	resp, err := idp.Client().PostForm(idp.TokenURL(), url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {"worker-app"},
		"client_secret": {"test-secret"},
		"scope":         {entratest.DefaultResource + "/.default"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		fmt.Println(err)
		return
	}
	claims, err := idp.VerifyToken(body.AccessToken)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode, body.TokenType, body.ExpiresIn)
	fmt.Println(claims.Subject, claims.Audience, claims.Roles)
	// Output:
	// 200 Bearer 3600
	// worker-app [api://temporal-server] [default:write]
}

// Rotating the signing key the way Entra ID does, in three steps a test can
// separate in time.
func ExampleServer_PublishNewKey() {
	idp := entratest.NewServer()
	defer idp.Close()
	first := idp.SigningKeyID()

	next := idp.PublishNewKey() // 1. in the JWKS, not used yet
	fmt.Println(len(idp.PublishedKeyIDs()), idp.SigningKeyID() == first)

	idp.SignWithNewKey() // 2. new tokens carry the new kid
	fmt.Println(idp.SigningKeyID() == next)

	idp.WithdrawOldKeys() // 3. the old key leaves the JWKS
	fmt.Println(idp.PublishedKeyIDs()[0] == next, len(idp.PublishedKeyIDs()))
	// Output:
	// 2 true
	// true
	// true 1
}

// Entra ID signs every tenant's tokens with the same keys: a resource server
// that trusts the keys must check iss (and tid) and aud itself. Here a second
// tenant's client holds an app role named like the cluster's admin role.
func ExampleServer_AddTenant() {
	idp := entratest.NewServer(entratest.WithTenant("tenant-a"))
	defer idp.Close()
	server := idp.RegisterApp(entratest.App{AppID: "7f4c1e0a-0000-4000-8000-00000000a0a0", AccessTokenAcceptedVersion: 2})

	other := idp.AddTenant("tenant-b")
	other.RegisterApp(entratest.App{IdentifierURIs: []string{"api://temporal-server"}}) // v1.0 tokens
	other.RegisterClient(entratest.Client{ID: "intruder", Secret: "s", Roles: []string{"temporal-system:admin"}})

	fmt.Println(other.KeysURL() != idp.KeysURL(), server.AppID)
	resp, err := idp.Client().PostForm(other.TokenURL(), url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {"intruder"},
		"client_secret": {"s"},
		"scope":         {"api://temporal-server/.default"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		fmt.Println(err)
		return
	}
	claims, err := other.VerifyToken(body.AccessToken)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(claims.KeyID == idp.SigningKeyID(), claims.Issuer, claims.TenantID)
	fmt.Println(claims.Audience, claims.Roles)
	_, err = idp.VerifyToken(body.AccessToken) // tenant-a's issuers only
	fmt.Println(err != nil)
	// Output:
	// true 7f4c1e0a-0000-4000-8000-00000000a0a0
	// true https://sts.windows.net/tenant-b/ tenant-b
	// [api://temporal-server] [temporal-system:admin]
	// true
}
