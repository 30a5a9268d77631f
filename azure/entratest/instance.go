package entratest

import (
	"net/http"
	"net/url"
	"strings"
)

// InstanceDiscoveryHost is the host of Entra ID's instance discovery, which
// MSAL asks whether an authority host it does not know is trusted.
// [Server.Client] sends requests for it to the server instead.
const InstanceDiscoveryHost = "login.microsoftonline.com"

// TrustAuthorityHost makes the server's instance discovery vouch for its
// own authority host, as Entra ID's does for its clouds' hosts. Without it
// the server answers like Entra ID for a host it does not know (400
// invalid_instance, AADSTS50049), and a client that validates authorities
// must be told not to (azure.Config.DisableInstanceDiscovery).
func (s *Server) TrustAuthorityHost() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trustSelf = true
}

// serveInstanceDiscovery answers GET /common/discovery/instance, Entra ID's
// authority validation, for the authorization_endpoint in the query.
func (s *Server) serveInstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	s.counts[EndpointInstanceDiscovery].Add(1)
	s.mu.Lock()
	trusted := s.trustSelf
	s.mu.Unlock()
	self, _ := url.Parse(s.tlsSrv.URL)
	ep, err := url.Parse(r.URL.Query().Get("authorization_endpoint"))
	if err != nil || ep.Host == "" || !trusted || ep.Host != self.Host {
		s.writeOAuthError(w, oauthError{http.StatusBadRequest, "invalid_instance", 50049,
			"Unknown or invalid instance."}, 0)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": s.tlsSrv.URL + "/" + tenantOf(ep.Path) + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": self.Host,
			"preferred_cache":   self.Host,
			"aliases":           []string{self.Host},
		}},
	})
}

// discoveryRouter sends requests for InstanceDiscoveryHost to the server's
// own listener, and every other request to next.
type discoveryRouter struct {
	next http.RoundTripper
	addr string // host:port of the server's TLS listener
}

func (d discoveryRouter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Hostname() != InstanceDiscoveryHost {
		return d.next.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.URL.Host, r.Host = d.addr, d.addr
	return d.next.RoundTrip(r)
}

// CloseIdleConnections closes the idle connections of the transport.
func (d discoveryRouter) CloseIdleConnections() {
	if c, ok := d.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// tenantOf returns the first segment of an authorization endpoint's path,
// /<tenant>/oauth2/v2.0/authorize.
func tenantOf(path string) string {
	tenant, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return url.PathEscape(tenant)
}
