package entratest

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// managedIdentityAPIVersion is the App Service managed-identity API version
// MSAL Go uses.
const managedIdentityAPIVersion = "2019-08-01"

// A ManagedIdentity is an identity the managed-identity endpoint hands tokens
// out for, as the App Service host does for the identities assigned to an app.
// Managed identities live in the home tenant.
type ManagedIdentity struct {
	// SystemAssigned marks the identity used when a request names none.
	SystemAssigned bool
	// ClientID, ObjectID and ResourceID identify a user-assigned identity in
	// requests (query parameters client_id, object_id, mi_res_id). A
	// system-assigned identity has a client and object ID too; they appear in
	// its tokens (azp, sub and oid).
	ClientID   string
	ObjectID   string
	ResourceID string
	// Roles are the app roles granted to the identity; they become the roles claim.
	Roles []string
}

// RegisterManagedIdentity adds an identity the managed-identity endpoint
// serves. Empty ClientID and ObjectID are filled with random GUIDs.
func (s *Server) RegisterManagedIdentity(id ManagedIdentity) {
	if id.ClientID == "" {
		id.ClientID = newGUID()
	}
	if id.ObjectID == "" {
		id.ObjectID = newGUID()
	}
	id.Roles = slices.Clone(id.Roles)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.identities = append(s.identities, id)
}

// ManagedIdentityEndpoint returns the plain-HTTP loopback URL of the App
// Service style managed-identity endpoint.
func (s *Server) ManagedIdentityEndpoint() string { return s.plainSrv.URL + "/msi/token" }

// ManagedIdentityEnv returns the environment that makes MSAL Go's managed
// identity client use this server's endpoint: IDENTITY_ENDPOINT and
// IDENTITY_HEADER (its App Service source), with the variables that would
// select another source (Service Fabric, Cloud Shell, Azure ML, Azure Arc)
// set empty. Apply it with t.Setenv for each pair.
func (s *Server) ManagedIdentityEnv() map[string]string {
	return map[string]string{
		"IDENTITY_ENDPOINT":          s.ManagedIdentityEndpoint(),
		"IDENTITY_HEADER":            s.identityHeader,
		"IDENTITY_SERVER_THUMBPRINT": "",
		"MSI_ENDPOINT":               "",
		"MSI_SECRET":                 "",
		"IMDS_ENDPOINT":              "",
	}
}

// appServiceError is the App Service managed-identity error format.
type appServiceError struct {
	StatusCode    int    `json:"statusCode"`
	Message       string `json:"message"`
	CorrelationID string `json:"correlationId"`
}

func writeAppServiceError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, appServiceError{StatusCode: status, Message: fmt.Sprintf(format, args...), CorrelationID: newGUID()})
}

func (s *Server) serveManagedIdentity(w http.ResponseWriter, r *http.Request) {
	s.counts[EndpointManagedIdentity].Add(1)
	q := r.URL.Query()
	s.record(EndpointManagedIdentity, r, q)
	if f, ok := s.takeFailure(); ok {
		s.fail(w, r, f)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-IDENTITY-HEADER")), []byte(s.identityHeader)) != 1 {
		writeAppServiceError(w, http.StatusUnauthorized, "The X-IDENTITY-HEADER header is missing or wrong.")
		return
	}
	if v := q.Get("api-version"); v != managedIdentityAPIVersion {
		writeAppServiceError(w, http.StatusBadRequest, "Unsupported api-version '%s'; use %s.", v, managedIdentityAPIVersion)
		return
	}
	resource := strings.TrimSuffix(q.Get("resource"), "/.default")
	if resource == "" {
		writeAppServiceError(w, http.StatusBadRequest, "The resource parameter is required.")
		return
	}
	id, ok := s.findIdentity(q.Get("client_id"), q.Get("object_id"), q.Get("mi_res_id"))
	if !ok {
		writeAppServiceError(w, http.StatusBadRequest, "Unable to load the proper Managed Identity.")
		return
	}
	aud, ok := s.home.resolveResource(resource)
	if !ok {
		writeAppServiceError(w, http.StatusBadRequest,
			"AADSTS500011: The resource principal named %s was not found in the tenant named %s.", resource, s.home.id)
		return
	}
	now := time.Now()
	token, err := s.issue(s.home, id.ObjectID, id.ClientID, id.ObjectID, aud, id.Roles, now)
	if err != nil {
		writeAppServiceError(w, http.StatusInternalServerError, "signing failed: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": token,
		"expires_on":   strconv.FormatInt(now.Add(s.lifetime).Unix(), 10),
		"resource":     resource,
		"token_type":   "Bearer",
		"client_id":    id.ClientID,
	})
}

// findIdentity picks the identity a request names, or the system-assigned
// one when it names none.
func (s *Server) findIdentity(clientID, objectID, resourceID string) (ManagedIdentity, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.identities {
		switch {
		case clientID != "":
			if strings.EqualFold(id.ClientID, clientID) {
				return id, true
			}
		case objectID != "":
			if strings.EqualFold(id.ObjectID, objectID) {
				return id, true
			}
		case resourceID != "":
			if id.ResourceID != "" && strings.EqualFold(id.ResourceID, resourceID) {
				return id, true
			}
		case id.SystemAssigned:
			return id, true
		}
	}
	return ManagedIdentity{}, false
}
