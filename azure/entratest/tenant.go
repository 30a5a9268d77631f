package entratest

import (
	"fmt"
	"slices"
	"strings"
)

// Entra ID serves the keys that sign every tenant's tokens at a URL of its
// own, and under each tenant's URL too. These are the tenant segments that
// name no tenant.
var sharedTenantSegments = []string{"common", "organizations", "consumers"}

// v1IssuerPrefix starts the issuer of v1.0 access tokens, whatever cloud
// instance issued them: https://sts.windows.net/<tenant-id>/.
const v1IssuerPrefix = "https://sts.windows.net/"

// A Tenant is one directory of a [Server], with its own app registrations,
// clients, issuer and authority. Every tenant of a server signs its tokens
// with the server's keys, as every tenant of Entra ID does: only a token's
// iss and tid claims tell which tenant issued it. The tenant made by
// [NewServer] is [Server.HomeTenant]; [Server.AddTenant] adds others. A
// Tenant is safe for concurrent use.
type Tenant struct {
	s  *Server
	id string

	// guarded by s.mu
	clients map[string]Client
	apps    []*appRegistration
}

// An App is the app registration of a resource (an API such as a Temporal
// server) that clients ask tokens for.
type App struct {
	// AppID is the application (client) ID, a GUID unique across all
	// tenants. v2.0 tokens for the app carry it as aud. Default: a random
	// GUID.
	AppID string
	// IdentifierURIs are the app's Application ID URIs, such as
	// "api://temporal-server". A URI is unique only within its tenant: any
	// other tenant may register the same one. Default: none (clients name
	// the app by its AppID).
	IdentifierURIs []string
	// AccessTokenAcceptedVersion is the manifest setting of that name
	// (api.requestedAccessTokenVersion in Microsoft Graph): 2 makes the
	// app's access tokens v2.0 tokens (iss <authority>/<tenant>/v2.0, aud the
	// AppID); 0 (null in the manifest) or 1 makes them v1.0 tokens (iss
	// https://sts.windows.net/<tenant>/, aud the identifier the client asked
	// for, an Application ID URI or the AppID), whichever token endpoint the
	// client used. Default: 0, v1.0 tokens, as Entra ID does.
	AccessTokenAcceptedVersion int
}

// appRegistration is a registered App; legacy marks a resource registered
// with RegisterResource, whose tokens keep the shape this package issued
// before it modelled token versions: the v2.0 issuer with the identifier
// asked for as aud.
type appRegistration struct {
	App
	legacy bool
}

// AddTenant adds a tenant with the given ID (a random GUID when id is
// empty) and returns it. The tenant starts with no clients and no apps. It
// panics if id is already a tenant of s, names no tenant (common,
// organizations, consumers) or cannot be a URL path segment.
func (s *Server) AddTenant(id string) *Tenant {
	if id == "" {
		id = newGUID()
	}
	if strings.ContainsAny(id, "/?#% ") || slices.Contains(sharedTenantSegments, strings.ToLower(id)) {
		panic(fmt.Sprintf("entratest: invalid tenant %q", id))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.tenants[id]; dup {
		panic(fmt.Sprintf("entratest: tenant %q already exists", id))
	}
	t := &Tenant{s: s, id: id, clients: make(map[string]Client)}
	s.tenants[id] = t
	return t
}

// HomeTenant returns the tenant made by [NewServer], the one the Server's
// own tenant methods (Tenant, Authority, Issuer, RegisterClient...) act on.
func (s *Server) HomeTenant() *Tenant { return s.home }

// lookupTenant returns the tenant a path segment names.
func (s *Server) lookupTenant(id string) (*Tenant, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tenants[id]
	return t, ok
}

// ID returns the tenant ID: the tid claim of the tenant's tokens.
func (t *Tenant) ID() string { return t.id }

// Authority returns the server's authority host followed by the tenant ID:
// the authority URL MSAL is built with.
func (t *Tenant) Authority() string { return t.s.tlsSrv.URL + "/" + t.id }

// Issuer returns the iss claim of the tenant's v2.0 tokens and the issuer of
// its v2.0 OpenID configuration: <authority>/v2.0, the counterpart of
// https://login.microsoftonline.com/<tenant>/v2.0.
func (t *Tenant) Issuer() string { return t.Authority() + "/v2.0" }

// IssuerV1 returns the iss claim of the tenant's v1.0 tokens and the issuer
// of its v1.0 OpenID configuration: https://sts.windows.net/<tenant>/, as
// Entra ID writes it (the server never serves that host).
func (t *Tenant) IssuerV1() string { return v1IssuerPrefix + t.id + "/" }

// TokenURL returns the URL of the tenant's token endpoint.
func (t *Tenant) TokenURL() string { return t.Authority() + "/oauth2/v2.0/token" }

// KeysURL returns the HTTPS URL of the tenant's JWKS, the counterpart of
// https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys. Like
// Entra ID's, it serves the same keys as every other tenant's.
func (t *Tenant) KeysURL() string { return t.Authority() + "/discovery/v2.0/keys" }

// HTTPKeysURL returns a plain-HTTP URL on 127.0.0.1 serving the tenant's
// JWKS, for consumers that cannot be told to trust the server's certificate
// (a Temporal server fetches keySourceURIs with Go's default HTTP client).
func (t *Tenant) HTTPKeysURL() string {
	return t.s.plainSrv.URL + "/" + t.id + "/discovery/v2.0/keys"
}

// RegisterClient registers c in the tenant, replacing any client with the
// same ID. A client may ask tokens for the apps of its own tenant only.
func (t *Tenant) RegisterClient(c Client) {
	if c.ID == "" {
		panic("entratest: RegisterClient: empty client ID")
	}
	c.Roles = slices.Clone(c.Roles)
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	t.clients[c.ID] = c
}

// RegisterApp registers a resource app in the tenant and returns it with its
// defaults filled in. It panics if the AppID or an identifier URI is already
// registered in the tenant, or if AccessTokenAcceptedVersion is not 0, 1 or 2.
func (t *Tenant) RegisterApp(a App) App {
	if a.AppID == "" {
		a.AppID = newGUID()
	}
	if v := a.AccessTokenAcceptedVersion; v < 0 || v > 2 {
		panic(fmt.Sprintf("entratest: RegisterApp: AccessTokenAcceptedVersion %d, want 0, 1 or 2", v))
	}
	a.IdentifierURIs = slices.Clone(a.IdentifierURIs)
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	for _, name := range append([]string{a.AppID}, a.IdentifierURIs...) {
		if _, taken := t.findAppLocked(name); taken {
			panic(fmt.Sprintf("entratest: RegisterApp: %q is already registered in tenant %s", name, t.id))
		}
	}
	t.apps = append(t.apps, &appRegistration{App: a})
	return a
}

// RegisterResource registers an application ID URI (such as
// "api://temporal-server") as a resource clients of the tenant may ask
// tokens for. Its tokens keep the package's original shape: the v2.0 issuer
// ([Tenant.Issuer]) with the URI as aud. (Entra ID itself never pairs the
// two: register an [App] for tokens shaped exactly like Entra ID's.)
// Registering a URI twice has no further effect.
func (t *Tenant) RegisterResource(appIDURI string) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if _, ok := t.findAppLocked(appIDURI); ok {
		return
	}
	t.apps = append(t.apps, &appRegistration{App: App{AppID: newGUID(), IdentifierURIs: []string{appIDURI}}, legacy: true})
}

// findAppLocked returns the app that name (an AppID or identifier URI)
// names. t.s.mu must be held.
func (t *Tenant) findAppLocked(name string) (*appRegistration, bool) {
	for _, a := range t.apps {
		if strings.EqualFold(a.AppID, name) || slices.Contains(a.IdentifierURIs, name) {
			return a, true
		}
	}
	return nil, false
}

// audience is what a token is issued for: the resource app and how it was named.
type audience struct {
	aud     string // the aud claim
	version int    // 1 or 2: the token version
}

// resolveResource returns the token shape for a resource the client named.
func (t *Tenant) resolveResource(name string) (audience, bool) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	a, ok := t.findAppLocked(name)
	switch {
	case !ok:
		return audience{}, false
	case a.legacy:
		return audience{aud: name, version: 2}, true
	case a.AccessTokenAcceptedVersion == 2:
		return audience{aud: a.AppID, version: 2}, true
	default:
		return audience{aud: name, version: 1}, true
	}
}

// issuerFor returns the iss claim of a token of the given version.
func (t *Tenant) issuerFor(version int) string {
	if version == 1 {
		return t.IssuerV1()
	}
	return t.Issuer()
}

func (t *Tenant) client(id string) (Client, bool) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	c, ok := t.clients[id]
	return c, ok
}
