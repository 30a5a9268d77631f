package entratest

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha1" // #nosec G505 -- x5t is defined as a SHA-1 thumbprint
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// clientAssertionType is the only client_assertion_type Entra ID accepts.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// oidcScopes are scopes MSAL adds to every request; they name no resource.
var oidcScopes = []string{"openid", "offline_access", "profile", "email"}

// A Client is an application registration (with its service principal in the
// tenant) allowed to use the client-credentials grant. Set the credentials it
// may authenticate with; any of them is accepted.
type Client struct {
	// ID is the application (client) ID, also the sub and azp of its tokens.
	ID string
	// Secret, when set, is accepted as client_secret.
	Secret string
	// Certificate, when set, is the registered certificate: a client
	// assertion whose x5t or x5t#S256 header names it and whose signature its
	// public key verifies is accepted.
	Certificate *x509.Certificate
	// FederatedToken, when set, is accepted as a client assertion verbatim:
	// the token a workload identity federation would present (the content of
	// AZURE_FEDERATED_TOKEN_FILE).
	FederatedToken string
	// Roles are the app roles granted to the client on every resource; they
	// become the tokens' roles claim.
	Roles []string
}

// String describes c without its secrets.
func (c Client) String() string {
	return fmt.Sprintf("entratest.Client{ID: %q, Secret: %s, Certificate: %t, FederatedToken: %s, Roles: %q}",
		c.ID, redact(c.Secret), c.Certificate != nil, redact(c.FederatedToken), c.Roles)
}

// GoString is String, for %#v.
func (c Client) GoString() string { return c.String() }

func redact(s string) string {
	if s == "" {
		return `""`
	}
	return "REDACTED"
}

// RegisterClient registers c in the home tenant: see [Tenant.RegisterClient].
func (s *Server) RegisterClient(c Client) { s.home.RegisterClient(c) }

// oauthError is an error answer in Entra ID's JSON format.
type oauthError struct {
	status      int
	err         string // the OAuth "error" field
	code        int    // the AADSTS number
	description string
}

func (s *Server) writeOAuthError(w http.ResponseWriter, e oauthError, retryAfter time.Duration) {
	trace, correlation := newGUID(), newGUID()
	now := time.Now().UTC()
	if retryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int((retryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, e.status, map[string]any{
		"error": e.err,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
			e.code, e.description, trace, correlation, now.Format("2006-01-02 15:04:05Z")),
		"error_codes":    []int{e.code},
		"timestamp":      now.Format("2006-01-02 15:04:05Z"),
		"trace_id":       trace,
		"correlation_id": correlation,
		"error_uri":      fmt.Sprintf("%s/error?code=%d", s.tlsSrv.URL, e.code),
	})
}

func (s *Server) writeTenantNotFound(w http.ResponseWriter, tenant string) {
	s.writeOAuthError(w, oauthError{http.StatusBadRequest, "invalid_tenant", 90002,
		fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant)}, 0)
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	s.counts[EndpointToken].Add(1)
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		s.writeOAuthError(w, oauthError{http.StatusBadRequest, "invalid_request", 900144, "The request body must be a form: " + err.Error()}, 0)
		return
	}
	s.record(EndpointToken, r, r.PostForm)
	if f, ok := s.takeFailure(); ok {
		s.fail(w, r, f)
		return
	}
	tenant, ok := s.lookupTenant(r.PathValue("tenant"))
	if !ok {
		s.writeTenantNotFound(w, r.PathValue("tenant"))
		return
	}
	token, oerr := s.clientCredentials(tenant, r)
	if oerr != nil {
		s.writeOAuthError(w, *oerr, 0)
		return
	}
	body := map[string]any{
		"token_type":     "Bearer",
		"expires_in":     int(s.lifetime / time.Second),
		"ext_expires_in": int(s.lifetime / time.Second),
		"access_token":   token,
	}
	if s.refreshIn > 0 {
		body["refresh_in"] = int(s.refreshIn / time.Second)
	}
	writeJSON(w, http.StatusOK, body)
}

// clientCredentials checks a client-credentials request to tenant t and
// issues a token.
func (s *Server) clientCredentials(t *Tenant, r *http.Request) (string, *oauthError) {
	form := r.PostForm
	if gt := form.Get("grant_type"); gt != "client_credentials" {
		return "", &oauthError{http.StatusBadRequest, "unsupported_grant_type", 70003,
			fmt.Sprintf("The app requested an unsupported grant type '%s'.", gt)}
	}
	id := form.Get("client_id")
	client, known := t.client(id)
	if id == "" {
		return "", &oauthError{http.StatusBadRequest, "invalid_request", 900144,
			"The request body must contain the following parameter: 'client_id'."}
	}
	if !known {
		return "", &oauthError{http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", id, t.id)}
	}
	if oerr := s.authenticate(t, client, form.Get("client_secret"), form.Get("client_assertion_type"), form.Get("client_assertion")); oerr != nil {
		return "", oerr
	}
	aud, oerr := t.resourceFromScope(form.Get("scope"))
	if oerr != nil {
		return "", oerr
	}
	token, err := s.issue(t, client.ID, client.ID, client.ID, aud, client.Roles, time.Now())
	if err != nil {
		return "", &oauthError{http.StatusInternalServerError, "server_error", 50000, "signing failed: " + err.Error()}
	}
	return token, nil
}

// authenticate checks the client's credential: a secret or an assertion.
func (s *Server) authenticate(t *Tenant, c Client, secret, assertionType, assertion string) *oauthError {
	switch {
	case secret != "" && assertion != "":
		return &oauthError{http.StatusBadRequest, "invalid_request", 90023,
			"Send either client_secret or client_assertion, not both."}
	case secret != "":
		if c.Secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
			return &oauthError{http.StatusUnauthorized, "invalid_client", 7000215,
				fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", c.ID)}
		}
		return nil
	case assertion != "":
		if assertionType != clientAssertionType {
			return &oauthError{http.StatusBadRequest, "invalid_request", 50027,
				fmt.Sprintf("client_assertion_type must be '%s'.", clientAssertionType)}
		}
		return s.checkAssertion(t, c, assertion)
	default:
		return &oauthError{http.StatusUnauthorized, "invalid_client", 7000216,
			"'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type."}
	}
}

// checkAssertion accepts a certificate-signed assertion (its header carries a
// certificate thumbprint) or the client's federated token.
func (s *Server) checkAssertion(t *Tenant, c Client, assertion string) *oauthError {
	if c.FederatedToken != "" && subtle.ConstantTimeCompare([]byte(assertion), []byte(c.FederatedToken)) == 1 {
		return nil
	}
	unverified, _, err := jwt.NewParser().ParseUnverified(assertion, jwt.MapClaims{})
	if err != nil {
		return &oauthError{http.StatusBadRequest, "invalid_request", 50027,
			"JWT token is invalid or malformed."}
	}
	x5t, hasX5t := unverified.Header["x5t"].(string)
	x5t256, hasX5t256 := unverified.Header["x5t#S256"].(string)
	if !hasX5t && !hasX5t256 {
		return &oauthError{http.StatusUnauthorized, "invalid_client", 70021,
			"No matching federated identity record found for presented assertion."}
	}
	if c.Certificate == nil || !thumbprintMatches(c.Certificate, x5t, x5t256) {
		return &oauthError{http.StatusUnauthorized, "invalid_client", 700027,
			fmt.Sprintf("The certificate with identifier used to sign the client assertion is not registered on application '%s'.", c.ID)}
	}
	pub, ok := c.Certificate.PublicKey.(*rsa.PublicKey)
	if !ok {
		return &oauthError{http.StatusUnauthorized, "invalid_client", 700027,
			"The registered certificate does not hold an RSA key."}
	}
	var claims jwt.RegisteredClaims
	_, err = jwt.ParseWithClaims(assertion, &claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"PS256", "RS256"}),
		jwt.WithExpirationRequired(),
		jwt.WithAudience(t.TokenURL()),
		jwt.WithLeeway(time.Minute))
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return &oauthError{http.StatusUnauthorized, "invalid_client", 700027, "Client assertion contains an invalid signature."}
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet):
		return &oauthError{http.StatusUnauthorized, "invalid_client", 700024, "Client assertion is not within its valid time range."}
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return &oauthError{http.StatusUnauthorized, "invalid_client", 700016,
			fmt.Sprintf("Client assertion audience does not match the token endpoint '%s'.", t.TokenURL())}
	case err != nil:
		return &oauthError{http.StatusBadRequest, "invalid_request", 50027, "JWT token is invalid or malformed."}
	}
	if claims.Issuer != c.ID || claims.Subject != c.ID {
		return &oauthError{http.StatusUnauthorized, "invalid_client", 700021,
			"Client assertion application identifier doesn't match 'client_id' parameter."}
	}
	return nil
}

// thumbprintMatches reports whether either header value is the certificate's
// thumbprint, accepting base64url as the JOSE spec says and standard base64
// as MSAL sends it.
func thumbprintMatches(cert *x509.Certificate, x5t, x5t256 string) bool {
	s1 := sha1.Sum(cert.Raw) // #nosec G401 -- x5t is defined as a SHA-1 thumbprint
	s256 := sha256.Sum256(cert.Raw)
	return (x5t != "" && bytes.Equal(decodeThumbprint(x5t), s1[:])) ||
		(x5t256 != "" && bytes.Equal(decodeThumbprint(x5t256), s256[:]))
}

func decodeThumbprint(v string) []byte {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return b
		}
	}
	return nil
}

// resourceFromScope returns the token shape for the one resource of tenant
// t that a client-credentials scope parameter names.
func (t *Tenant) resourceFromScope(scope string) (audience, *oauthError) {
	var resources []string
	for _, sc := range strings.Fields(scope) {
		if !slices.Contains(oidcScopes, sc) {
			resources = append(resources, sc)
		}
	}
	if len(resources) != 1 {
		return audience{}, &oauthError{http.StatusBadRequest, "invalid_scope", 70011,
			fmt.Sprintf("The provided request must include a 'scope' input parameter naming exactly one resource, got '%s'.", scope)}
	}
	sc := resources[0]
	resource, ok := strings.CutSuffix(sc, "/.default")
	if !ok {
		return audience{}, &oauthError{http.StatusBadRequest, "invalid_scope", 1002012,
			fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", sc)}
	}
	aud, ok := t.resolveResource(resource)
	if !ok {
		return audience{}, &oauthError{http.StatusBadRequest, "invalid_resource", 500011,
			fmt.Sprintf("The resource principal named %s was not found in the tenant named %s.", resource, t.id)}
	}
	return aud, nil
}
