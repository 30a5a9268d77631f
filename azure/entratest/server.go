package entratest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultResource is the application ID URI registered by [NewServer], as if
// the tenant held an app registration for the Temporal server. Clients ask
// for it with the scope DefaultResource + "/.default".
const DefaultResource = "api://temporal-server"

// DefaultTokenLifetime is how long issued access tokens stay valid unless
// [WithTokenLifetime] says otherwise. Entra ID issues app tokens that live
// between 60 and 90 minutes.
const DefaultTokenLifetime = time.Hour

// clockSkewAllowance is how far iat and nbf are backdated, so that a verifier
// whose clock runs slightly behind still accepts a fresh token.
const clockSkewAllowance = 5 * time.Minute

// An Endpoint names one of the server's endpoints, for [Server.Requests].
type Endpoint int

const (
	// EndpointDiscovery is GET /<tenant>/v2.0/.well-known/openid-configuration.
	EndpointDiscovery Endpoint = iota
	// EndpointToken is POST /<tenant>/oauth2/v2.0/token.
	EndpointToken
	// EndpointKeys is GET /<tenant>/discovery/v2.0/keys on either listener.
	EndpointKeys
	// EndpointManagedIdentity is the App Service style managed-identity endpoint.
	EndpointManagedIdentity
	// EndpointInstanceDiscovery is GET /common/discovery/instance, reached
	// through [Server.Client] as https://login.microsoftonline.com/...
	EndpointInstanceDiscovery
	endpointCount
)

// String returns a short name for e.
func (e Endpoint) String() string {
	switch e {
	case EndpointDiscovery:
		return "discovery"
	case EndpointToken:
		return "token"
	case EndpointKeys:
		return "keys"
	case EndpointManagedIdentity:
		return "managed-identity"
	case EndpointInstanceDiscovery:
		return "instance-discovery"
	}
	return fmt.Sprintf("Endpoint(%d)", int(e))
}

// An Option configures a Server.
type Option func(*Server)

// WithTenant sets the ID of the home tenant (default: a random GUID).
func WithTenant(tenant string) Option {
	return func(s *Server) { s.tenant = tenant }
}

// WithTokenLifetime sets how long issued access tokens stay valid (default
// [DefaultTokenLifetime]). MSAL treats a token as expired five minutes before
// its expiry, so with a lifetime of five minutes or less every MSAL call
// reaches the server.
func WithTokenLifetime(d time.Duration) Option {
	return func(s *Server) { s.lifetime = d }
}

// WithRefreshIn makes token responses carry refresh_in (in whole seconds),
// the hint that asks MSAL to refresh a token early. Zero (the default) omits it.
func WithRefreshIn(d time.Duration) Option {
	return func(s *Server) { s.refreshIn = d }
}

// Server is a local Entra-ID-like identity provider. Create one with
// [NewServer] and stop it with [Server.Close]. It answers for its home tenant
// and for any tenant added with [Server.AddTenant], signing every tenant's
// tokens with the same keys. It is safe for concurrent use.
type Server struct {
	tenant    string // the home tenant's ID, set by WithTenant
	home      *Tenant
	lifetime  time.Duration
	refreshIn time.Duration

	tlsSrv         *httptest.Server
	plainSrv       *httptest.Server
	transport      *http.Transport
	client         *http.Client
	identityHeader string
	done           chan struct{}
	closeOnce      sync.Once

	counts   [endpointCount]atomic.Int64
	keysMade atomic.Int64 // signing keys drawn from the pool

	mu         sync.Mutex
	tenants    map[string]*Tenant
	identities []ManagedIdentity
	trustSelf  bool          // instance discovery vouches for the server's host
	keys       []*signingKey // published in the JWKS, oldest first
	signing    *signingKey
	failures   []Failure
	requests   []TokenRequest
}

// NewServer starts a Server on 127.0.0.1 with one published signing key and
// a home tenant in which [DefaultResource] is registered.
func NewServer(opts ...Option) *Server {
	s := &Server{
		tenant:         newGUID(),
		lifetime:       DefaultTokenLifetime,
		identityHeader: randomString(24),
		done:           make(chan struct{}),
		tenants:        make(map[string]*Tenant),
	}
	for _, o := range opts {
		o(s)
	}
	if s.tenant == "" {
		panic(`entratest: invalid tenant ""`)
	}
	if s.lifetime <= 0 {
		panic(fmt.Sprintf("entratest: token lifetime must be positive, got %v", s.lifetime))
	}
	s.home = s.AddTenant(s.tenant)
	s.home.RegisterResource(DefaultResource)
	k := s.newSigningKey()
	s.keys = []*signingKey{k}
	s.signing = k

	tlsMux := http.NewServeMux()
	tlsMux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.serveDiscovery)
	tlsMux.HandleFunc("GET /{tenant}/.well-known/openid-configuration", s.serveDiscoveryV1)
	tlsMux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.serveToken)
	tlsMux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.serveKeys)
	tlsMux.HandleFunc("GET /common/discovery/instance", s.serveInstanceDiscovery)
	s.tlsSrv = httptest.NewTLSServer(tlsMux)

	plainMux := http.NewServeMux()
	plainMux.HandleFunc("GET /msi/token", s.serveManagedIdentity)
	plainMux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.serveKeys)
	s.plainSrv = httptest.NewServer(plainMux)

	roots := x509.NewCertPool()
	roots.AddCert(s.tlsSrv.Certificate())
	s.transport = newLoopbackTransport(roots)
	s.client = &http.Client{Transport: discoveryRouter{next: s.transport, addr: s.tlsSrv.Listener.Addr().String()}}
	return s
}

// Close stops the server, releases requests held by a [HangFailure] and
// closes the idle connections of [Server.Client].
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.tlsSrv.Close()
		s.plainSrv.Close()
		s.transport.CloseIdleConnections()
	})
}

// Tenant returns the ID of the home tenant.
func (s *Server) Tenant() string { return s.home.id }

// AuthorityHost returns the server's base URL with a trailing slash, e.g.
// "https://127.0.0.1:41234/": what AZURE_AUTHORITY_HOST would hold.
func (s *Server) AuthorityHost() string { return s.tlsSrv.URL + "/" }

// Authority returns the home tenant's [Tenant.Authority].
func (s *Server) Authority() string { return s.home.Authority() }

// Issuer returns the home tenant's [Tenant.Issuer]: the iss claim of its
// v2.0 tokens (and of tokens for resources registered with
// [Server.RegisterResource]).
func (s *Server) Issuer() string { return s.home.Issuer() }

// TokenURL returns the home tenant's [Tenant.TokenURL].
func (s *Server) TokenURL() string { return s.home.TokenURL() }

// KeysURL returns the home tenant's [Tenant.KeysURL].
func (s *Server) KeysURL() string { return s.home.KeysURL() }

// HTTPKeysURL returns the home tenant's [Tenant.HTTPKeysURL].
func (s *Server) HTTPKeysURL() string { return s.home.HTTPKeysURL() }

// CommonKeysURL returns the HTTPS URL of the JWKS shared by all tenants, the
// counterpart of https://login.microsoftonline.com/common/discovery/v2.0/keys.
func (s *Server) CommonKeysURL() string { return s.tlsSrv.URL + "/common/discovery/v2.0/keys" }

// HTTPCommonKeysURL returns a plain-HTTP URL on 127.0.0.1 serving the JWKS
// shared by all tenants (see [Server.HTTPKeysURL]).
func (s *Server) HTTPCommonKeysURL() string { return s.plainSrv.URL + "/common/discovery/v2.0/keys" }

// Client returns an HTTP client that trusts the server's TLS certificate,
// uses no proxy, and refuses to dial anything but a loopback address, so
// code under test cannot reach a real Azure host or the instance metadata
// service (169.254.169.254) through it. Requests for Entra ID's instance
// discovery (https://login.microsoftonline.com/common/discovery/instance)
// are answered by the server itself: see [Server.TrustAuthorityHost].
func (s *Server) Client() *http.Client { return s.client }

// Requests returns how many requests endpoint e has received, failed ones
// included.
func (s *Server) Requests(e Endpoint) int64 {
	if e < 0 || e >= endpointCount {
		return 0
	}
	return s.counts[e].Load()
}

// RegisterResource registers an application ID URI in the home tenant: see
// [Tenant.RegisterResource].
func (s *Server) RegisterResource(appIDURI string) { s.home.RegisterResource(appIDURI) }

// RegisterApp registers a resource app in the home tenant: see
// [Tenant.RegisterApp].
func (s *Server) RegisterApp(a App) App { return s.home.RegisterApp(a) }

// TokenRequests returns a copy of every request received by the token and
// managed-identity endpoints, oldest first.
func (s *Server) TokenRequests() []TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TokenRequest, len(s.requests))
	for i, r := range s.requests {
		out[i] = r.clone()
	}
	return out
}

// A TokenRequest is what a client sent to the token or managed-identity
// endpoint. Its String and GoString hide the secrets it may carry.
type TokenRequest struct {
	// Endpoint is EndpointToken or EndpointManagedIdentity.
	Endpoint Endpoint
	// Values is the posted form (token endpoint) or the query (managed identity).
	Values url.Values
	// Header is the request's header.
	Header http.Header
	// Time is when the request arrived.
	Time time.Time
}

var secretFields = []string{"client_secret", "client_assertion", "x-identity-header"}

func (r TokenRequest) clone() TokenRequest {
	r.Values = cloneValues(r.Values)
	r.Header = r.Header.Clone()
	return r
}

// String describes r with client_secret, client_assertion and the
// managed-identity header redacted.
func (r TokenRequest) String() string {
	keys := make([]string, 0, len(r.Values))
	for k := range r.Values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "TokenRequest{Endpoint: %s, Values: {", r.Endpoint)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		v := strings.Join(r.Values[k], ",")
		if slices.Contains(secretFields, strings.ToLower(k)) {
			v = "REDACTED"
		}
		fmt.Fprintf(&b, "%s: %q", k, v)
	}
	b.WriteString("}}")
	return b.String()
}

// GoString is String, for %#v.
func (r TokenRequest) GoString() string { return "entratest." + r.String() }

func (s *Server) record(e Endpoint, r *http.Request, values url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, TokenRequest{
		Endpoint: e,
		Values:   cloneValues(values),
		Header:   r.Header.Clone(),
		Time:     time.Now(),
	})
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	s.serveDiscoveryAs(w, r, 2)
}

func (s *Server) serveDiscoveryV1(w http.ResponseWriter, r *http.Request) {
	s.serveDiscoveryAs(w, r, 1)
}

// serveDiscoveryAs answers a tenant's OpenID configuration, whose issuer is
// that of the tenant's tokens of the given version.
func (s *Server) serveDiscoveryAs(w http.ResponseWriter, r *http.Request, version int) {
	s.counts[EndpointDiscovery].Add(1)
	t, ok := s.lookupTenant(r.PathValue("tenant"))
	if !ok {
		s.writeTenantNotFound(w, r.PathValue("tenant"))
		return
	}
	base := t.Authority()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                t.issuerFor(version),
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"tenant_region_scope":                   "NA",
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func randomString(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
