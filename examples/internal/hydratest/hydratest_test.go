package hydratest_test

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
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/temporalauth/temporalauth/examples/internal/hydratest"
)

const lifespan = 90 * time.Second

// tokenResponse is the token endpoint's answer, success or error (RFC 6749 5.1, 5.2).
type tokenResponse struct {
	Status      int
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// postToken sends a token request with plain net/http.
func postToken(t *testing.T, tokenURL string, form url.Values, basicID, basicSecret string) (tokenResponse, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		// RFC 6749 2.3.1: form-encode both before the Basic encoding.
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return tokenResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	tr := tokenResponse{Status: resp.StatusCode}
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("token endpoint answered %s with %q: %v", resp.Status, b, err)
	}
	return tr, nil
}

// getToken is postToken for a request that must succeed.
func getToken(t *testing.T, tokenURL string, form url.Values, basicID, basicSecret string) tokenResponse {
	t.Helper()
	tr, err := postToken(t, tokenURL, form, basicID, basicSecret)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status != http.StatusOK || tr.AccessToken == "" {
		t.Fatalf("token request: HTTP %d %s: %s", tr.Status, tr.Error, tr.Description)
	}
	return tr
}

func ccForm(scopes ...string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "scope": {strings.Join(scopes, " ")}}
}

// jwks fetches a JSON Web Key Set and returns its RSA and EC keys by kid.
func jwks(t *testing.T, u string) map[string]crypto.PublicKey {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kid, Kty, Crv, N, E, X, Y string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	b64 := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("JWKS: %v", err)
		}
		return b
	}
	keys := make(map[string]crypto.PublicKey)
	for _, k := range set.Keys {
		switch k.Kty {
		case "RSA":
			keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(b64(k.N)), E: int(new(big.Int).SetBytes(b64(k.E)).Int64())}
		case "EC":
			if k.Crv != "P-256" {
				t.Fatalf("JWKS: key %s on %s", k.Kid, k.Crv)
			}
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, b64(k.X)...), b64(k.Y)...))
			if err != nil {
				t.Fatalf("JWKS: %v", err)
			}
			keys[k.Kid] = pub
		}
	}
	return keys
}

// accessClaims are the claims Hydra puts in a client-credentials JWT.
type accessClaims struct {
	jwt.RegisteredClaims
	ClientID string   `json:"client_id"`
	Scp      []string `json:"scp"` // a JSON array: decoding fails if it is a string
}

// verify checks tok's signature against the server's JWKS and its
// registered claims, and returns the claims and the header's kid and alg.
func verify(t *testing.T, s *hydratest.Server, tok string) (c accessClaims, kid, alg string) {
	t.Helper()
	keys := jwks(t, s.JWKSURL())
	parsed, err := jwt.ParseWithClaims(tok, &c, func(tk *jwt.Token) (any, error) {
		kid, _ = tk.Header["kid"].(string)
		alg = tk.Method.Alg()
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, errors.New("kid " + kid + " is not in the JWKS")
	}, jwt.WithValidMethods([]string{"RS256", "ES256"}), jwt.WithIssuer(s.Issuer()), jwt.WithIssuedAt(), jwt.WithExpirationRequired())
	if err != nil || !parsed.Valid {
		t.Fatalf("access token does not verify: %v", err)
	}
	return c, kid, alg
}

func checkLifespan(t *testing.T, c accessClaims, want time.Duration) {
	t.Helper()
	// Hydra counts exp from the start of the request and iat from its end,
	// each truncated to a second, so the two are want or want-1s apart.
	got := c.ExpiresAt.Sub(c.IssuedAt.Time)
	if got != want && got != want-time.Second {
		t.Errorf("exp-iat = %v, want %v (or 1s less)", got, want)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	start := time.Now()
	s := hydratest.Start(t, hydratest.Options{AccessTokenLifespan: lifespan})
	t.Logf("start to ready: %v", time.Since(start).Round(time.Millisecond))

	t.Run("discovery", func(t *testing.T) {
		resp, err := http.Get(s.DiscoveryURL())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var d struct {
			Issuer        string   `json:"issuer"`
			TokenEndpoint string   `json:"token_endpoint"`
			JWKSURI       string   `json:"jwks_uri"`
			AuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
			t.Fatal(err)
		}
		if d.Issuer != s.Issuer() || d.TokenEndpoint != s.TokenURL() || d.JWKSURI != s.JWKSURL() {
			t.Errorf("discovery: issuer %q token %q jwks %q; server says %q %q %q",
				d.Issuer, d.TokenEndpoint, d.JWKSURI, s.Issuer(), s.TokenURL(), s.JWKSURL())
		}
		for _, m := range []string{"client_secret_basic", "client_secret_post", "private_key_jwt"} {
			if !slices.Contains(d.AuthMethods, m) {
				t.Errorf("token_endpoint_auth_methods_supported %v lacks %s", d.AuthMethods, m)
			}
		}
	})

	t.Run("client_secret_basic", func(t *testing.T) {
		c, err := s.CreateClient(ctx, hydratest.ClientSpec{Scopes: []string{"default:write", "default:read"}})
		if err != nil {
			t.Fatal(err)
		}
		if c.ID == "" || c.Secret == "" {
			t.Fatalf("client %+v lacks an ID or a secret", c)
		}
		before := s.TokenRequests()
		tr := getToken(t, s.TokenURL(), ccForm("default:write", "default:read"), c.ID, c.Secret)
		if n := s.TokenRequests() - before; n != 1 {
			t.Errorf("TokenRequests grew by %d, want 1", n)
		}
		if !strings.EqualFold(tr.TokenType, "bearer") || tr.ExpiresIn <= 0 || tr.ExpiresIn > int64(lifespan/time.Second) {
			t.Errorf("token_type %q expires_in %d", tr.TokenType, tr.ExpiresIn)
		}
		claims, kid, alg := verify(t, s, tr.AccessToken)
		if alg != "RS256" || kid == "" {
			t.Errorf("header alg %q kid %q, want RS256 and a kid", alg, kid)
		}
		if claims.Subject != c.ID || claims.ClientID != c.ID {
			t.Errorf("sub %q client_id %q, want %q", claims.Subject, claims.ClientID, c.ID)
		}
		if want := []string{"default:write", "default:read"}; !slices.Equal(claims.Scp, want) {
			t.Errorf("scp %q, want %q", claims.Scp, want)
		}
		checkLifespan(t, claims, lifespan)
		signing, err := s.SigningKeyIDs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(signing) == 0 || signing[0] != kid {
			t.Errorf("SigningKeyIDs %q; token signed with %q", signing, kid)
		}

		// Hydra's own client, for the next engineer's convenience.
		tok, err := s.Token(ctx, c, "default:read")
		if err != nil {
			t.Fatal(err)
		}
		if claims, _, _ := verify(t, s, tok); !slices.Equal(claims.Scp, []string{"default:read"}) {
			t.Errorf("Token: scp %q, want [default:read]", claims.Scp)
		}
	})

	t.Run("client_secret_post", func(t *testing.T) {
		c, err := s.CreateClient(ctx, hydratest.ClientSpec{
			AuthMethod: hydratest.ClientSecretPost,
			Secret:     "a secret: with spaces & symbols",
			Scopes:     []string{"ns:write"},
		})
		if err != nil {
			t.Fatal(err)
		}
		form := ccForm("ns:write")
		form.Set("client_id", c.ID)
		form.Set("client_secret", c.Secret)
		tr := getToken(t, s.TokenURL(), form, "", "")
		claims, _, _ := verify(t, s, tr.AccessToken)
		if claims.Subject != c.ID || !slices.Equal(claims.Scp, []string{"ns:write"}) {
			t.Errorf("sub %q scp %q", claims.Subject, claims.Scp)
		}
		// A post client may not use Basic.
		tr, err = postToken(t, s.TokenURL(), ccForm("ns:write"), c.ID, c.Secret)
		if err != nil || tr.Status != http.StatusUnauthorized || tr.Error != "invalid_client" {
			t.Errorf("basic auth for a client_secret_post client: HTTP %d %q (%v), want 401 invalid_client", tr.Status, tr.Error, err)
		}
	})

	t.Run("private_key_jwt_ES256", func(t *testing.T) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		kid := "client-key-1"
		c, err := s.CreateClient(ctx, hydratest.ClientSpec{
			AuthMethod: hydratest.PrivateKeyJWT,
			PublicKey:  &key.PublicKey,
			KeyID:      kid,
			Scopes:     []string{"ns:worker"},
		})
		if err != nil {
			t.Fatal(err)
		}
		assertion := func(signer any, kid string) string {
			now := time.Now()
			tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.RegisteredClaims{
				Issuer:    c.ID,
				Subject:   c.ID,
				Audience:  jwt.ClaimStrings{s.TokenURL()},
				ID:        uuid.NewString(),
				IssuedAt:  jwt.NewNumericDate(now),
				ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)),
			})
			tok.Header["kid"] = kid
			signed, err := tok.SignedString(signer)
			if err != nil {
				t.Fatal(err)
			}
			return signed
		}
		form := func(a string) url.Values {
			f := ccForm("ns:worker")
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
			f.Set("client_assertion", a)
			return f
		}
		a := assertion(key, kid)
		tr := getToken(t, s.TokenURL(), form(a), "", "")
		claims, _, _ := verify(t, s, tr.AccessToken)
		if claims.Subject != c.ID || !slices.Equal(claims.Scp, []string{"ns:worker"}) {
			t.Errorf("sub %q scp %q", claims.Subject, claims.Scp)
		}
		// The same assertion again: its jti has been used, and Hydra says so
		// with an error code of its own.
		if tr, err := postToken(t, s.TokenURL(), form(a), "", ""); err != nil || tr.Status != http.StatusBadRequest || tr.Error != "jti_known" {
			t.Errorf("replayed assertion: HTTP %d %q (%v), want 400 jti_known", tr.Status, tr.Error, err)
		}
		// A fresh assertion is accepted again.
		getToken(t, s.TokenURL(), form(assertion(key, kid)), "", "")
		// One signed with another key is not.
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if tr, err := postToken(t, s.TokenURL(), form(assertion(other, kid)), "", ""); err != nil || tr.Status != http.StatusUnauthorized || tr.Error != "invalid_client" {
			t.Errorf("assertion signed by another key: HTTP %d %q (%v), want 401 invalid_client", tr.Status, tr.Error, err)
		}
	})

	t.Run("private_key_jwt_RS256_JWKS", func(t *testing.T) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		jwk, alg, err := hydratest.PublicJWK(&key.PublicKey, "rsa-1")
		if err != nil || alg != "RS256" {
			t.Fatalf("PublicJWK: %v, alg %q", err, alg)
		}
		set, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
		c, err := s.CreateClient(ctx, hydratest.ClientSpec{AuthMethod: hydratest.PrivateKeyJWT, JWKS: set, Scopes: []string{"a:read"}})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
			Issuer: c.ID, Subject: c.ID, Audience: jwt.ClaimStrings{s.TokenURL()}, ID: uuid.NewString(),
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
		})
		tok.Header["kid"] = "rsa-1"
		a, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		f := ccForm("a:read")
		f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		f.Set("client_assertion", a)
		getToken(t, s.TokenURL(), f, "", "")
	})

	t.Run("wrong_secret", func(t *testing.T) {
		c, err := s.CreateClient(ctx, hydratest.ClientSpec{Scopes: []string{"x:read"}})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := postToken(t, s.TokenURL(), ccForm("x:read"), c.ID, c.Secret+"x")
		if err != nil || tr.Status != http.StatusUnauthorized || tr.Error != "invalid_client" {
			t.Errorf("wrong secret: HTTP %d %q (%v), want 401 invalid_client", tr.Status, tr.Error, err)
		}
		tr, err = postToken(t, s.TokenURL(), ccForm("x:write"), c.ID, c.Secret)
		if err != nil || tr.Status != http.StatusBadRequest || tr.Error != "invalid_scope" {
			t.Errorf("scope not granted to the client: HTTP %d %q (%v), want 400 invalid_scope", tr.Status, tr.Error, err)
		}
	})

	t.Run("audience_and_client_lifespan", func(t *testing.T) {
		c, err := s.CreateClient(ctx, hydratest.ClientSpec{
			Scopes:              []string{"x:read"},
			Audience:            []string{"temporal"},
			AccessTokenLifespan: 30 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		form := ccForm("x:read")
		form.Set("audience", "temporal")
		tr := getToken(t, s.TokenURL(), form, c.ID, c.Secret)
		claims, _, _ := verify(t, s, tr.AccessToken)
		if !slices.Equal([]string(claims.Audience), []string{"temporal"}) {
			t.Errorf("aud %q, want [temporal]", claims.Audience)
		}
		checkLifespan(t, claims, 30*time.Second)
	})

	t.Run("Fail", func(t *testing.T) {
		c, err := s.CreateClient(ctx, hydratest.ClientSpec{Scopes: []string{"x:read"}})
		if err != nil {
			t.Fatal(err)
		}
		s.Fail(hydratest.TokenPath, http.StatusServiceUnavailable)
		before := s.TokenRequests()
		tr, err := postToken(t, s.TokenURL(), ccForm("x:read"), c.ID, c.Secret)
		if err != nil || tr.Status != http.StatusServiceUnavailable {
			t.Errorf("with Fail(503): HTTP %d (%v)", tr.Status, err)
		}
		if s.TokenRequests() != before+1 {
			t.Errorf("failed request not counted")
		}
		s.Fail(hydratest.TokenPath, 0)
		getToken(t, s.TokenURL(), ccForm("x:read"), c.ID, c.Secret)

		n := s.JWKSRequests()
		jwks(t, s.JWKSURL())
		if s.JWKSRequests() != n+1 {
			t.Errorf("JWKSRequests %d, want %d", s.JWKSRequests(), n+1)
		}
	})
}

func TestRotateKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := hydratest.Start(t, hydratest.Options{})
	c, err := s.CreateClient(ctx, hydratest.ClientSpec{Scopes: []string{"default:write"}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Token(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	claims, oldKid, _ := verify(t, s, tok)
	checkLifespan(t, claims, time.Hour) // Hydra's default

	newKid, err := s.RotateKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tok, err = s.Token(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, kid, alg := verify(t, s, tok); kid != newKid || alg != "RS256" {
		t.Errorf("after RotateKey: signed with %s %q, want RS256 %q", alg, kid, newKid)
	}
	kids, err := s.JWKSKeyIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(kids, oldKid) || !slices.Contains(kids, newKid) {
		t.Errorf("JWKS kids %q, want both %q and %q", kids, oldKid, newKid)
	}
	if signing, err := s.SigningKeyIDs(ctx); err != nil || len(signing) != 2 || signing[0] != newKid {
		t.Errorf("SigningKeyIDs %q (%v), want [%s %s]", signing, err, newKid, oldKid)
	}

	// An ES256 key, which a Temporal server also accepts.
	esKid, err := s.RotateKeyAlg(ctx, "ES256")
	if err != nil {
		t.Fatal(err)
	}
	tok, err = s.Token(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, kid, alg := verify(t, s, tok); kid != esKid || alg != "ES256" {
		t.Errorf("after RotateKeyAlg(ES256): signed with %s %q, want ES256 %q", alg, kid, esKid)
	}

	// Deleting the current key brings the previous one back.
	if err := s.DeleteKey(ctx, esKid); err != nil {
		t.Fatal(err)
	}
	tok, err = s.Token(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, kid, _ := verify(t, s, tok); kid != newKid {
		t.Errorf("after DeleteKey: signed with %q, want %q", kid, newKid)
	}
	if kids, _ := s.JWKSKeyIDs(ctx); slices.Contains(kids, esKid) {
		t.Errorf("JWKS still lists deleted key %s: %q", esKid, kids)
	}
}

func TestStopRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := hydratest.Start(t, hydratest.Options{AccessTokenLifespan: lifespan})
	c, err := s.CreateClient(ctx, hydratest.ClientSpec{Scopes: []string{"default:write"}})
	if err != nil {
		t.Fatal(err)
	}
	tr := getToken(t, s.TokenURL(), ccForm("default:write"), c.ID, c.Secret)
	_, kid, _ := verify(t, s, tr.AccessToken)

	s.Stop()
	if _, err := postToken(t, s.TokenURL(), ccForm("default:write"), c.ID, c.Secret); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("token request while stopped: %v, want connection refused", err)
	}
	if _, err := http.Get(s.JWKSURL()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("JWKS request while stopped: %v, want connection refused", err)
	}
	if _, err := s.CreateClient(ctx, hydratest.ClientSpec{}); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("admin request while stopped: %v, want connection refused", err)
	}
	s.Stop() // a no-op

	start := time.Now()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart to ready: %v", time.Since(start).Round(time.Millisecond))
	if err := s.Restart(); err == nil {
		t.Error("Restart of a running server succeeded")
	}
	tr = getToken(t, s.TokenURL(), ccForm("default:write"), c.ID, c.Secret)
	claims, kid2, _ := verify(t, s, tr.AccessToken)
	if kid2 != kid || claims.Subject != c.ID {
		t.Errorf("after Restart: kid %q sub %q, want %q %q (state lost?)", kid2, claims.Subject, kid, c.ID)
	}
	checkLifespan(t, claims, lifespan)
}
