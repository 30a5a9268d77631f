// Package azure sends Temporal calls with access tokens from Microsoft Entra
// ID (Azure AD), obtained with MSAL Go for an app registration (client secret,
// certificate or workload identity federation) or an Azure managed identity.
//
//	cfg, err := azure.ConfigFromEnv()
//	if err != nil { ... }
//	hp, err := azure.NewProvider(cfg, headers.Options{})
//	if err != nil { ... }
//	defer hp.Close()
//	c, err := client.Dial(client.Options{HostPort: ..., HeadersProvider: hp})
//
// [NewTokenSource] returns the bare [Source] (a headers.TokenSource);
// [NewProvider] puts a headers.Provider in front of it, which caches the
// token, renews it in the background before it expires, backs off after
// failures (honoring the identity provider's Retry-After) and sets the
// "authorization: Bearer <token>" header on every call.
//
// # Entra ID setup
//
// Register an application for the Temporal server (say "temporal-server"),
// set its Application ID URI (say api://temporal-server) and define app
// roles whose values are Temporal permissions, "<namespace>:<role>" with role
// read, write, worker or admin: for example "default:write" for workers and
// starters of namespace default, or "temporal-system:admin" for operators.
// Allow the member type Applications. Then grant the roles to each client:
// to an app registration as application permissions of temporal-server (with
// admin consent), to a managed identity by an app role assignment on
// temporal-server's service principal. Entra ID lists the granted roles in
// the token's roles claim, and the client asks for the scope
// "api://temporal-server/.default".
//
// # Temporal server configuration
//
// The Temporal server verifies the tokens with Entra ID's public keys and
// reads the permissions from the roles claim:
//
//	global:
//	  authorization:
//	    authorizer: default
//	    claimMapper: default
//	    permissionsClaimName: roles
//	    jwtKeyProvider:
//	      keySourceURIs:
//	        - https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys
//	      refreshInterval: 5m
//
// Set refreshInterval. The server fetches the keys when it starts and then
// only every refreshInterval; a token signed with a key it has not fetched
// yet is refused, and an unknown key does not make it fetch again. Entra ID
// rotates its signing keys on its own schedule (and at once in an
// emergency): a server without refreshInterval keeps the keys it started
// with and, after a rotation, refuses every call with "PERMISSION_DENIED:
// Request unauthorized." until it is restarted. Entra ID normally publishes a
// new key in the JWKS well before it signs with it, so with a refresh
// interval of a few minutes the server knows the key before the first token
// signed with it arrives; after an emergency rotation it recovers within one
// interval. (The
// official Helm chart sets it from TEMPORAL_JWT_KEY_REFRESH.) Entra ID app
// tokens carry sub (the client's service principal), which the server
// requires.
//
// # Environment variables
//
// [ConfigFromEnv] reads the Azure SDK's variables, plus two of its own:
//
//	AZURE_TENANT_ID                    directory (tenant) ID; app registrations only
//	AZURE_CLIENT_ID                    application (client) ID; with AZURE_MANAGED_IDENTITY=user,
//	                                   the client ID of the user-assigned identity
//	AZURE_CLIENT_SECRET                client secret
//	AZURE_CLIENT_CERTIFICATE_PATH      PEM file with the certificate and its RSA private key
//	AZURE_CLIENT_CERTIFICATE_PASSWORD  password of an encrypted (PKCS#8) private key
//	AZURE_FEDERATED_TOKEN_FILE         token file for workload identity federation (AKS sets it)
//	AZURE_AUTHORITY_HOST               Entra ID host, https only; default https://login.microsoftonline.com/
//	AZURE_MANAGED_IDENTITY             use a managed identity: "system" (system-assigned),
//	                                   "user" (user-assigned, client ID in AZURE_CLIENT_ID),
//	                                   "client_id=<id>", "object_id=<id>" or "resource_id=<id>"
//	TEMPORAL_AUTH_SCOPE                scope(s) to ask for, comma-separated, e.g.
//	                                   api://temporal-server/.default (required)
//
// Exactly one credential must be configured: AZURE_CLIENT_SECRET,
// AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE or
// AZURE_MANAGED_IDENTITY. Managed identity is used only when asked for; the
// presence of IDENTITY_ENDPOINT or MSI_ENDPOINT alone does not select it.
// Values are trimmed of surrounding white space; an empty variable counts as
// unset. Errors name the variables at fault.
//
// # Managed identity
//
// MSAL chooses the managed-identity endpoint from the environment when the
// Source is built: App Service and Functions (IDENTITY_ENDPOINT and
// IDENTITY_HEADER), Service Fabric, Cloud Shell and Azure ML (MSI_ENDPOINT),
// Azure Arc, and otherwise the instance metadata service of VMs and AKS
// nodes. The resource asked for is the scope without "/.default". MSAL keeps
// managed-identity tokens in one cache for the whole process. MSAL's own
// retries are turned off: the headers.Provider retries with backoff and
// honors Retry-After.
//
// # Tokens and errors
//
// MSAL caches tokens and treats one as expired five minutes before its
// expiry; Entra ID's app tokens live 60 to 90 minutes. A Source reports the
// expiry MSAL reports, and the refresh time when Entra ID asked for an early
// refresh (refresh_in). An error answer from the identity provider comes back
// as a [*ResponseError] with the HTTP status, the AADSTS code, the first line
// of the description and the trace and correlation IDs, marked with
// headers.WithRetryAfter when the answer carried Retry-After. An HTML page or
// a truncated answer is described by its status, content type and length,
// and a request that runs out of time says so and wraps
// context.DeadlineExceeded. No error, log record or printed value of this
// package contains a client secret, certificate key or password, assertion
// or token.
package azure
