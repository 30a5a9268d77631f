package entratest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// signingKey is one RSA key pair the server signs tokens with.
type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
}

// keyPool holds the RSA keys generated so far in this process. Generating a
// 2048-bit key takes up to a few hundred milliseconds under the race
// detector, so servers share them: each server draws keys in pool order,
// generating more only when it needs more keys than any server before it.
var keyPool struct {
	sync.Mutex
	keys []*rsa.PrivateKey
}

// pooledKey returns the i-th key of the pool.
func pooledKey(i int) *rsa.PrivateKey {
	keyPool.Lock()
	defer keyPool.Unlock()
	for len(keyPool.keys) <= i {
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(fmt.Sprintf("entratest: generating an RSA key: %v", err))
		}
		keyPool.keys = append(keyPool.keys, priv)
	}
	return keyPool.keys[i]
}

// newSigningKey returns the server's next key.
func (s *Server) newSigningKey() *signingKey {
	priv := pooledKey(int(s.keysMade.Add(1) - 1))
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		panic(fmt.Sprintf("entratest: encoding an RSA public key: %v", err))
	}
	sum := sha256.Sum256(der)
	return &signingKey{kid: base64.RawURLEncoding.EncodeToString(sum[:20]), priv: priv}
}

// Key rotation follows Entra ID's practice in three steps that a test can
// separate in time:
//
//  1. PublishNewKey: a new key appears in the JWKS; tokens are still signed
//     with the current key. Verifiers that refresh their JWKS learn the key.
//  2. SignWithNewKey: new tokens are signed with the newest key. A verifier
//     that has not fetched the JWKS since step 1 rejects them (unknown kid).
//  3. WithdrawOldKeys: keys other than the signing key leave the JWKS; tokens
//     signed with them no longer verify once verifiers refresh.
//
// Calling SignWithNewKey without PublishNewKey first rotates without notice:
// the key is published and used at the same moment.

// PublishNewKey adds a new key to the JWKS without signing with it yet, and
// returns its key ID.
func (s *Server) PublishNewKey() string {
	k := s.newSigningKey()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, k)
	return k.kid
}

// SignWithNewKey makes the most recently published key the signing key and
// returns its key ID. If the signing key already is the most recent one, it
// first publishes a new key, so the rotation happens without notice.
func (s *Server) SignWithNewKey() string {
	s.mu.Lock()
	needNew := s.keys[len(s.keys)-1] == s.signing
	s.mu.Unlock()
	var fresh *signingKey
	if needNew {
		fresh = s.newSigningKey() // may be slow: made without holding s.mu
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if fresh != nil && s.keys[len(s.keys)-1] == s.signing {
		s.keys = append(s.keys, fresh)
	}
	s.signing = s.keys[len(s.keys)-1]
	return s.signing.kid
}

// WithdrawOldKeys removes from the JWKS every key but the signing key and
// returns the key IDs removed.
func (s *Server) WithdrawOldKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var removed []string
	for _, k := range s.keys {
		if k != s.signing {
			removed = append(removed, k.kid)
		}
	}
	s.keys = []*signingKey{s.signing}
	return removed
}

// SigningKeyID returns the key ID (kid header) of tokens issued now.
func (s *Server) SigningKeyID() string { return s.currentSigningKey().kid }

func (s *Server) currentSigningKey() *signingKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signing
}

// PublishedKeyIDs returns the key IDs in the JWKS, oldest first.
func (s *Server) PublishedKeyIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, len(s.keys))
	for i, k := range s.keys {
		ids[i] = k.kid
	}
	return ids
}

// jwk is one RSA public key in the JWKS.
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func (s *Server) serveKeys(w http.ResponseWriter, r *http.Request) {
	s.counts[EndpointKeys].Add(1)
	// Every tenant's URL, and the common one, serve the same keys.
	if _, ok := s.lookupTenant(r.PathValue("tenant")); !ok && !slices.Contains(sharedTenantSegments, strings.ToLower(r.PathValue("tenant"))) {
		s.writeTenantNotFound(w, r.PathValue("tenant"))
		return
	}
	s.mu.Lock()
	keys := make([]jwk, len(s.keys))
	for i, k := range s.keys {
		keys[i] = jwk{
			Kty: "RSA",
			Use: "sig",
			Kid: k.kid,
			N:   base64.RawURLEncoding.EncodeToString(k.priv.N.Bytes()),
			E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.priv.E)).Bytes()),
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// accessClaims are the claims of an issued access token.
type accessClaims struct {
	jwt.RegisteredClaims
	AuthorizedParty string   `json:"azp,omitempty"`   // v2.0 tokens
	AppID           string   `json:"appid,omitempty"` // v1.0 tokens
	TenantID        string   `json:"tid"`
	ObjectID        string   `json:"oid,omitempty"`
	Roles           []string `json:"roles,omitempty"`
	Version         string   `json:"ver"`
	IdentityType    string   `json:"idtyp"`
}

// issue signs an access token of tenant t for subject, acting as clientID,
// shaped as aud says.
func (s *Server) issue(t *Tenant, subject, clientID, objectID string, aud audience, roles []string, now time.Time) (string, error) {
	k := s.currentSigningKey()
	claims := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuerFor(aud.version),
			Subject:   subject,
			Audience:  jwt.ClaimStrings{aud.aud},
			IssuedAt:  jwt.NewNumericDate(now.Add(-clockSkewAllowance)),
			NotBefore: jwt.NewNumericDate(now.Add(-clockSkewAllowance)),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.lifetime)),
			ID:        randomString(22),
		},
		TenantID:     t.id,
		ObjectID:     objectID,
		Roles:        roles,
		IdentityType: "app",
	}
	if aud.version == 1 {
		claims.AppID, claims.Version = clientID, "1.0"
	} else {
		claims.AuthorizedParty, claims.Version = clientID, "2.0"
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = k.kid
	return tok.SignedString(k.priv)
}

// Claims are the verified claims of a token issued by the server.
type Claims struct {
	// KeyID is the kid header: the key that signed the token.
	KeyID string
	// Issuer (iss) is the issuing tenant's [Tenant.Issuer] (v2.0 tokens) or
	// [Tenant.IssuerV1] (v1.0 tokens).
	Issuer string
	// Version (ver) is "1.0" or "2.0".
	Version string
	// Subject (sub) is the client ID, or a managed identity's object ID.
	Subject string
	// Audience (aud) is the resource app's application ID (v2.0 tokens) or
	// the identifier the client asked for (v1.0 tokens and resources
	// registered with RegisterResource).
	Audience []string
	// ClientID (azp in v2.0 tokens, appid in v1.0) is the client the token
	// was issued to.
	ClientID string
	// TenantID (tid) is the issuing tenant's ID.
	TenantID string
	// Roles are the app roles granted (the roles claim).
	Roles []string
	// IssuedAt (iat), NotBefore (nbf) and Expiry (exp) bound the token's
	// validity; iat and nbf are backdated five minutes for clock skew.
	IssuedAt, NotBefore, Expiry time.Time
}

// VerifyToken checks token as a resource server of the home tenant would:
// see [Tenant.VerifyToken].
func (s *Server) VerifyToken(token string) (Claims, error) { return s.home.VerifyToken(token) }

// VerifyToken checks token as a resource server of tenant t would: an RS256
// signature by a key currently in the JWKS, one of t's two issuers (v1.0 or
// v2.0, matching the token's ver), and the time claims. It returns the
// token's claims. It does not check aud: each resource does that itself.
func (t *Tenant) VerifyToken(token string) (Claims, error) {
	s := t.s
	var claims accessClaims
	parsed, err := jwt.ParseWithClaims(token, &claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, k := range s.keys {
			if k.kid == kid {
				return &k.priv.PublicKey, nil
			}
		}
		return nil, fmt.Errorf("no key %q in the JWKS", kid)
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		return Claims{}, fmt.Errorf("entratest: token does not verify: %w", err)
	}
	if !parsed.Valid {
		return Claims{}, errors.New("entratest: token does not verify")
	}
	wantIss, clientID := t.Issuer(), claims.AuthorizedParty
	if claims.Version == "1.0" {
		wantIss, clientID = t.IssuerV1(), claims.AppID
	}
	if claims.Issuer != wantIss || claims.TenantID != t.id {
		return Claims{}, fmt.Errorf("entratest: token does not verify: %w: iss %q tid %q, want iss %q tid %q",
			jwt.ErrTokenInvalidIssuer, claims.Issuer, claims.TenantID, wantIss, t.id)
	}
	kid, _ := parsed.Header["kid"].(string)
	return Claims{
		KeyID:     kid,
		Issuer:    claims.Issuer,
		Version:   claims.Version,
		Subject:   claims.Subject,
		Audience:  claims.Audience,
		ClientID:  clientID,
		TenantID:  claims.TenantID,
		Roles:     claims.Roles,
		IssuedAt:  claims.IssuedAt.Time,
		NotBefore: claims.NotBefore.Time,
		Expiry:    claims.ExpiresAt.Time,
	}, nil
}
