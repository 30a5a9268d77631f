package hydratest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// IDTokenKeySet is the name of the key set Hydra signs OpenID Connect ID
// tokens with; its keys are in the JWKS too.
const IDTokenKeySet = "hydra.openid.id-token"

// makeKeys imports a fresh RSA 2048-bit key into each of Hydra's key sets.
func (s *Server) makeKeys(ctx context.Context) error {
	for _, set := range []string{AccessTokenKeySet, IDTokenKeySet} {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return err
		}
		jwk, err := privateJWK(key, uuid.NewString())
		if err != nil {
			return err
		}
		body := map[string]any{"keys": []any{jwk}}
		if err := s.do(ctx, http.MethodPut, s.AdminURL()+"/admin/keys/"+set, body, http.StatusOK, nil); err != nil {
			return fmt.Errorf("importing the first key of %s: %w", set, err)
		}
	}
	return nil
}

// privateJWK returns an RSA private key as a JSON Web Key for RS256.
func privateJWK(key *rsa.PrivateKey, kid string) (map[string]any, error) {
	jwk, _, err := PublicJWK(&key.PublicKey, kid)
	if err != nil {
		return nil, err
	}
	if len(key.Primes) != 2 {
		return nil, errors.New("multi-prime RSA key")
	}
	key.Precompute()
	b64 := func(n *big.Int) string { return base64.RawURLEncoding.EncodeToString(n.Bytes()) }
	jwk["d"] = b64(key.D)
	jwk["p"] = b64(key.Primes[0])
	jwk["q"] = b64(key.Primes[1])
	jwk["dp"] = b64(key.Precomputed.Dp)
	jwk["dq"] = b64(key.Precomputed.Dq)
	jwk["qi"] = b64(key.Precomputed.Qinv)
	return jwk, nil
}

// AuthMethod is how a client authenticates at the token endpoint
// (token_endpoint_auth_method, RFC 7591).
type AuthMethod string

// The client authentication methods CreateClient supports.
const (
	// ClientSecretBasic sends client_id and client_secret in an HTTP Basic
	// Authorization header (form-encoded first, RFC 6749 section 2.3.1).
	ClientSecretBasic AuthMethod = "client_secret_basic"
	// ClientSecretPost sends client_id and client_secret as form fields.
	ClientSecretPost AuthMethod = "client_secret_post"
	// PrivateKeyJWT sends a JWT signed with the client's private key
	// (client_assertion_type urn:ietf:params:oauth:client-assertion-type:jwt-bearer,
	// RFC 7523): iss and sub the client ID, aud the token URL, a fresh jti,
	// and exp.
	PrivateKeyJWT AuthMethod = "private_key_jwt"
)

// ClientSpec describes an OAuth 2.0 client for CreateClient. Every client
// gets the client_credentials grant only.
type ClientSpec struct {
	// ID is the client ID; empty lets Hydra choose a UUID.
	ID string
	// Name is a human-readable client name (optional).
	Name string
	// Scopes the client may request, e.g. "default:write".
	Scopes []string
	// Audience lists the audiences the client may request (the "audience"
	// form field of a token request); granted ones appear in the token's "aud".
	Audience []string
	// AuthMethod defaults to ClientSecretBasic.
	AuthMethod AuthMethod
	// Secret is the client secret for the client_secret_* methods; empty
	// lets Hydra generate one.
	Secret string
	// AccessTokenLifespan overrides Options.AccessTokenLifespan for this
	// client's tokens (whole seconds); zero keeps the server's.
	AccessTokenLifespan time.Duration

	// For PrivateKeyJWT, the client's public keys: either JWKS, a JSON Web
	// Key Set ({"keys":[...]}), or PublicKey (*rsa.PublicKey or
	// *ecdsa.PublicKey) with its KeyID, which the client's assertions must
	// carry in their "kid" header.
	JWKS      json.RawMessage
	PublicKey crypto.PublicKey
	KeyID     string
	// SigningAlg is the algorithm of the client's assertions
	// (token_endpoint_auth_signing_alg): RS256 for RSA keys and ES256 for
	// P-256 keys when empty and PublicKey is set; required with JWKS unless its
	// first key names an "alg".
	SigningAlg string
}

// Client is a client CreateClient registered.
type Client struct {
	ID         string
	Secret     string // empty for PrivateKeyJWT
	Scopes     []string
	Audience   []string
	AuthMethod AuthMethod
}

// CreateClient registers an OAuth 2.0 client with the client_credentials
// grant through Hydra's admin API (POST /admin/clients).
func (s *Server) CreateClient(ctx context.Context, spec ClientSpec) (Client, error) {
	method := spec.AuthMethod
	if method == "" {
		method = ClientSecretBasic
	}
	body := map[string]any{
		"grant_types":                []string{"client_credentials"},
		"response_types":             []string{},
		"scope":                      strings.Join(spec.Scopes, " "),
		"token_endpoint_auth_method": string(method),
	}
	if spec.ID != "" {
		body["client_id"] = spec.ID
	}
	if spec.Name != "" {
		body["client_name"] = spec.Name
	}
	if len(spec.Audience) > 0 {
		body["audience"] = spec.Audience
	}
	if spec.AccessTokenLifespan > 0 {
		body["client_credentials_grant_access_token_lifespan"] = fmt.Sprintf("%ds", spec.AccessTokenLifespan/time.Second)
	}
	switch method {
	case ClientSecretBasic, ClientSecretPost:
		if spec.Secret != "" {
			body["client_secret"] = spec.Secret
		}
	case PrivateKeyJWT:
		jwks, alg, err := clientKeys(spec)
		if err != nil {
			return Client{}, fmt.Errorf("hydratest: CreateClient: %w", err)
		}
		body["jwks"] = jwks
		body["token_endpoint_auth_signing_alg"] = alg
	default:
		return Client{}, fmt.Errorf("hydratest: CreateClient: unsupported auth method %q", method)
	}
	var out struct {
		ClientID     string   `json:"client_id"`
		ClientSecret string   `json:"client_secret"`
		Audience     []string `json:"audience"`
	}
	if err := s.do(ctx, http.MethodPost, s.AdminURL()+"/admin/clients", body, http.StatusCreated, &out); err != nil {
		return Client{}, fmt.Errorf("hydratest: CreateClient: %w", err)
	}
	c := Client{ID: out.ClientID, Scopes: spec.Scopes, Audience: spec.Audience, AuthMethod: method}
	if method != PrivateKeyJWT {
		c.Secret = out.ClientSecret
	}
	return c, nil
}

// clientKeys returns the client's public JWKS and its assertion algorithm.
func clientKeys(spec ClientSpec) (json.RawMessage, string, error) {
	if (spec.JWKS == nil) == (spec.PublicKey == nil) {
		return nil, "", errors.New("private_key_jwt needs exactly one of JWKS and PublicKey")
	}
	alg := spec.SigningAlg
	if spec.JWKS != nil {
		var set struct {
			Keys []struct {
				Alg string `json:"alg"`
			} `json:"keys"`
		}
		if err := json.Unmarshal(spec.JWKS, &set); err != nil || len(set.Keys) == 0 {
			return nil, "", fmt.Errorf("JWKS is not a non-empty key set: %v", err)
		}
		if alg == "" {
			alg = set.Keys[0].Alg
		}
		if alg == "" {
			return nil, "", errors.New("SigningAlg is empty and the JWKS's first key names no alg")
		}
		return spec.JWKS, alg, nil
	}
	if spec.KeyID == "" {
		return nil, "", errors.New("PublicKey needs a KeyID")
	}
	jwk, defAlg, err := PublicJWK(spec.PublicKey, spec.KeyID)
	if err != nil {
		return nil, "", err
	}
	if alg == "" {
		alg = defAlg
	}
	jwk["alg"] = alg
	b, err := json.Marshal(map[string]any{"keys": []any{jwk}})
	return b, alg, err
}

// PublicJWK returns key (an *rsa.PublicKey or an *ecdsa.PublicKey on P-256,
// P-384 or P-521) as a JSON Web Key with "use":"sig" and the given kid, and
// the algorithm a signer with that key usually uses (RS256, ES256, ES384,
// ES512), which it also sets as "alg".
func PublicJWK(key crypto.PublicKey, kid string) (map[string]any, string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	jwk := map[string]any{"kid": kid, "use": "sig"}
	var alg string
	switch k := key.(type) {
	case *rsa.PublicKey:
		alg = "RS256"
		jwk["kty"] = "RSA"
		jwk["n"] = b64(k.N.Bytes())
		jwk["e"] = b64(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		var crv string
		switch k.Curve {
		case elliptic.P256():
			crv, alg = "P-256", "ES256"
		case elliptic.P384():
			crv, alg = "P-384", "ES384"
		case elliptic.P521():
			crv, alg = "P-521", "ES512"
		default:
			return nil, "", fmt.Errorf("unsupported curve %v", k.Curve.Params().Name)
		}
		point, err := k.Bytes() // 0x04 || X || Y, each padded to the field size
		if err != nil {
			return nil, "", err
		}
		n := (len(point) - 1) / 2
		jwk["kty"] = "EC"
		jwk["crv"] = crv
		jwk["x"] = b64(point[1 : 1+n])
		jwk["y"] = b64(point[1+n:])
	default:
		return nil, "", fmt.Errorf("unsupported public key type %T", key)
	}
	jwk["alg"] = alg
	return jwk, alg, nil
}

// Token gets an access token for c with the client_credentials grant from
// the token endpoint (through the proxy, so it is counted), requesting
// scopes (none: the client's scopes). It supports ClientSecretBasic and
// ClientSecretPost clients; PrivateKeyJWT clients sign their own assertions.
func (s *Server) Token(ctx context.Context, c Client, scopes ...string) (string, error) {
	if len(scopes) == 0 {
		scopes = c.Scopes
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {strings.Join(scopes, " ")}}
	if c.AuthMethod == ClientSecretPost {
		form.Set("client_id", c.ID)
		form.Set("client_secret", c.Secret)
	} else if c.AuthMethod != ClientSecretBasic && c.AuthMethod != "" {
		return "", fmt.Errorf("hydratest: Token: client %s uses %s", c.ID, c.AuthMethod)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.AuthMethod != ClientSecretPost {
		req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("hydratest: Token: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("hydratest: Token: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("hydratest: Token: no access_token in %s", b)
	}
	return tok.AccessToken, nil
}

// RotateKey adds a new RS256 key to Hydra's access-token key set and returns
// its kid. Hydra signs new access tokens with it at once, without notice;
// the JWKS lists it beside the old keys, which stay there.
func (s *Server) RotateKey(ctx context.Context) (string, error) {
	return s.RotateKeyAlg(ctx, "RS256")
}

// RotateKeyAlg is RotateKey with a new key for the given algorithm: Hydra's
// admin API documents RS256, ES256, ES512, HS256 and HS512; a Temporal
// server accepts only RS256 and ES256 tokens.
func (s *Server) RotateKeyAlg(ctx context.Context, alg string) (string, error) {
	kid := uuid.NewString()
	body := map[string]string{"alg": alg, "use": "sig", "kid": kid}
	if err := s.do(ctx, http.MethodPost, s.AdminURL()+"/admin/keys/"+AccessTokenKeySet, body, http.StatusCreated, nil); err != nil {
		return "", fmt.Errorf("hydratest: RotateKey: %w", err)
	}
	return kid, nil
}

// DeleteKey removes the key kid from Hydra's access-token key set, and so
// from the JWKS. Hydra makes a new key if the set becomes empty.
func (s *Server) DeleteKey(ctx context.Context, kid string) error {
	u := s.AdminURL() + "/admin/keys/" + AccessTokenKeySet + "/" + url.PathEscape(kid)
	if err := s.do(ctx, http.MethodDelete, u, nil, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("hydratest: DeleteKey: %w", err)
	}
	return nil
}

// SigningKeyIDs returns the kids of Hydra's access-token key set as the
// admin API lists them; the first is the key Hydra signs with.
func (s *Server) SigningKeyIDs(ctx context.Context) ([]string, error) {
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := s.getJSON(ctx, s.AdminURL()+"/admin/keys/"+AccessTokenKeySet, &set); err != nil {
		return nil, fmt.Errorf("hydratest: SigningKeyIDs: %w", err)
	}
	kids := make([]string, len(set.Keys))
	for i, k := range set.Keys {
		kids[i] = k.Kid
	}
	return kids, nil
}

// JWKSKeyIDs returns the kids the public JWKS lists (every key set's keys,
// ID-token keys included), read from Hydra's public port directly so that
// JWKSRequests does not count it.
func (s *Server) JWKSKeyIDs(ctx context.Context) ([]string, error) {
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := s.getJSON(ctx, "http://"+s.publicAddr+JWKSPath, &set); err != nil {
		return nil, fmt.Errorf("hydratest: JWKSKeyIDs: %w", err)
	}
	kids := make([]string, len(set.Keys))
	for i, k := range set.Keys {
		kids[i] = k.Kid
	}
	return kids, nil
}
