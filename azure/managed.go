package azure

import (
	"context"
	"fmt"
	"strings"

	msi "github.com/AzureAD/microsoft-authentication-library-for-go/apps/managedidentity"

	"github.com/temporalauth/temporalauth/internal/setting"
)

// identityKind says how a ManagedIdentity is selected.
type identityKind int

const (
	noIdentity identityKind = iota
	systemAssigned
	userAssignedClientID
	userAssignedObjectID
	userAssignedResourceID
)

// A ManagedIdentity selects an Azure managed identity. The zero value selects
// none (Config then needs another credential); build one with
// [SystemAssigned], [UserAssignedClientID], [UserAssignedObjectID] or
// [UserAssignedResourceID].
type ManagedIdentity struct {
	kind identityKind
	id   string
}

// SystemAssigned selects the system-assigned identity of the Azure resource
// the program runs on.
func SystemAssigned() ManagedIdentity { return ManagedIdentity{kind: systemAssigned} }

// UserAssignedClientID selects a user-assigned identity by its client ID.
func UserAssignedClientID(clientID string) ManagedIdentity {
	return ManagedIdentity{kind: userAssignedClientID, id: clientID}
}

// UserAssignedObjectID selects a user-assigned identity by its object
// (principal) ID.
func UserAssignedObjectID(objectID string) ManagedIdentity {
	return ManagedIdentity{kind: userAssignedObjectID, id: objectID}
}

// UserAssignedResourceID selects a user-assigned identity by its Azure
// resource ID (/subscriptions/.../userAssignedIdentities/<name>).
func UserAssignedResourceID(resourceID string) ManagedIdentity {
	return ManagedIdentity{kind: userAssignedResourceID, id: resourceID}
}

// IsZero reports whether m selects no managed identity.
func (m ManagedIdentity) IsZero() bool { return m.kind == noIdentity }

// String describes m, e.g. "system-assigned" or "user-assigned client_id=<id>".
func (m ManagedIdentity) String() string {
	switch m.kind {
	case systemAssigned:
		return "system-assigned"
	case userAssignedClientID:
		return "user-assigned client_id=" + m.id
	case userAssignedObjectID:
		return "user-assigned object_id=" + m.id
	case userAssignedResourceID:
		return "user-assigned resource_id=" + m.id
	}
	return "none"
}

// validate checks m together with c.ClientID.
func (m ManagedIdentity) validate(c Config) error {
	if m.kind != systemAssigned && strings.TrimSpace(m.id) == "" {
		return c.errorf("ManagedIdentity", "selects a user-assigned identity with an empty ID")
	}
	if setting.HasSpaceOrControl(m.id) {
		return c.errorf("ManagedIdentity", "identity ID %s contains white space", setting.Quote(m.id))
	}
	selectUser := "set azure.Config.ManagedIdentity to UserAssignedClientID(id)"
	if c.fromEnv {
		selectUser = "set " + EnvManagedIdentity + "=user"
	}
	switch {
	case c.ClientID == "":
	case m.kind == userAssignedClientID && strings.EqualFold(c.ClientID, m.id):
	case m.kind == systemAssigned:
		return c.errorf("ClientID", "set but %s selects the system-assigned identity: to use a user-assigned identity %s; otherwise unset %s",
			c.name("ManagedIdentity"), selectUser, c.name("ClientID"))
	default:
		return c.errorf("ClientID", "%s contradicts %s (%s)", setting.Quote(c.ClientID), c.name("ManagedIdentity"), m)
	}
	return nil
}

// msalID converts m to MSAL's identity selector.
func (m ManagedIdentity) msalID() msi.ID {
	switch m.kind {
	case userAssignedClientID:
		return msi.UserAssignedClientID(m.id)
	case userAssignedObjectID:
		return msi.UserAssignedObjectID(m.id)
	case userAssignedResourceID:
		return msi.UserAssignedResourceID(m.id)
	}
	return msi.SystemAssigned()
}

// managedCredential gets tokens for a managed identity through MSAL, which
// picks the endpoint from the environment when the credential is built
// (App Service / Functions: IDENTITY_ENDPOINT and IDENTITY_HEADER; Service
// Fabric; Cloud Shell and Azure ML: MSI_ENDPOINT; Azure Arc; otherwise the
// instance metadata service of VMs and AKS nodes).
//
// Each Source has its own, and Providers share none, though the instance
// metadata service allows about 20 requests per second per VM, shared by
// every pod of an AKS node. The decision, and why: a Provider asks the
// endpoint once per token, at the half-life of the 24-hour tokens it
// issues (two requests a day, TestFigureManagedIdentityRequestsPerDay),
// once more per token the server rejects, and after a failure only with
// jittered backoff that honours Retry-After; a node reaches the limit
// through its pods' number, which sharing inside one process cannot
// lower. Sharing one credential per (identity, resource) would tie the
// Providers' tokens, failures and Close together through a process-wide
// registry. A program with several Temporal clients of one identity
// shares one Provider (or one temporalauth.Auth) instead, as the README
// says.
type managedCredential struct {
	client   msi.Client
	resource string
}

func newManagedCredential(cfg Config, hc *recordingClient) (*managedCredential, error) {
	// MSAL's own retry (three tries a second apart, each up to a minute)
	// ignores Retry-After and would hide it; the headers.Provider in front
	// retries with backoff and honors it, so MSAL's is turned off.
	client, err := msi.New(cfg.ManagedIdentity.msalID(), msi.WithHTTPClient(hc), msi.WithRetryPolicyDisabled())
	if err != nil {
		return nil, fmt.Errorf("azure: managed identity (%s): %w", cfg.ManagedIdentity, err)
	}
	return &managedCredential{client: client, resource: strings.TrimSuffix(cfg.Scopes[0], "/.default")}, nil
}

func (c *managedCredential) acquire(ctx context.Context) (result, error) {
	// MSAL keeps managed-identity tokens in a cache shared by the whole
	// process and answers from it until five minutes before expiry (or its
	// half-life refresh time, whose failure it swallows), and offers no
	// option to turn it off. Claims make it skip that cache; MSAL Go 1.10
	// sends them nowhere for managed identity. That is read in MSAL's
	// source, not documented: TestManagedIdentityBypassesMSALCacheWithoutClaims
	// pins the behaviour, and TestMSALVersionVerified fails on another
	// minor version of MSAL until it is read again. (MSAL for other
	// languages sends claims, with token_sha256_to_refresh, to the
	// endpoint.) The headers.Provider in front caches, and calls Token
	// only when it wants a new token.
	r, err := c.client.AcquireToken(ctx, c.resource, msi.WithClaims(bypassCacheClaims))
	if err != nil {
		return result{}, err
	}
	return result{token: r.AccessToken, expiresOn: r.ExpiresOn, refreshOn: r.Metadata.RefreshOn}, nil
}

func (c *managedCredential) secrets() []string { return nil }

// bypassCacheClaims is the claims value that makes MSAL's managed-identity
// client skip its cache: an empty claims request.
const bypassCacheClaims = "{}"
