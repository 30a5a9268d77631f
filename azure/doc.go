// Package azure sends Temporal calls with access tokens from Microsoft Entra
// ID (Azure AD), obtained with MSAL Go for an app registration (client secret,
// certificate or workload identity federation) or an Azure managed identity.
//
//	cfg, err := azure.ConfigFromLookup(os.LookupEnv)
//	if err != nil { ... }
//	hp, err := azure.NewProvider(cfg, headers.Options{})
//	if err != nil { ... }
//	defer hp.Close()
//	c, err := client.Dial(client.Options{HostPort: ..., HeadersProvider: hp,
//		ConnectionOptions: client.ConnectionOptions{DialOptions: []grpc.DialOption{hp.RetryUnauthorized()}}})
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
// [ConfigFromLookup] reads the Azure SDK's variables, with the same
// meaning, plus three of its own:
//
//	AZURE_TENANT_ID                      directory (tenant) ID; app registrations only
//	AZURE_CLIENT_ID                      application (client) ID; with AZURE_MANAGED_IDENTITY=user,
//	                                     the client ID of the user-assigned identity
//	AZURE_CLIENT_SECRET                  client secret
//	AZURE_CLIENT_CERTIFICATE_PATH        PKCS#12 (.pfx) or PEM file with the certificate and its RSA key
//	AZURE_CLIENT_CERTIFICATE_PASSWORD    password of the PKCS#12 file, or of an encrypted PEM key;
//	                                     used as given (not trimmed)
//	AZURE_CLIENT_SEND_CERTIFICATE_CHAIN  "true": send the certificate chain (x5c) with each assertion
//	AZURE_FEDERATED_TOKEN_FILE           token file for workload identity federation (AKS sets it)
//	AZURE_AUTHORITY_HOST                 Entra ID host, https only; default https://login.microsoftonline.com/
//	AZURE_DISABLE_INSTANCE_DISCOVERY     "true": do not validate the authority host (ours)
//	AZURE_MANAGED_IDENTITY               use a managed identity (ours): "system" (system-assigned),
//	                                     "user" (user-assigned, client ID in AZURE_CLIENT_ID),
//	                                     "client_id=<id>", "object_id=<id>" or "resource_id=<id>"
//	TEMPORAL_AUTH_SCOPE                  the scope, e.g. api://temporal-server/.default (required, ours)
//
// Exactly one credential must be configured: AZURE_CLIENT_SECRET,
// AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE or
// AZURE_MANAGED_IDENTITY. Managed identity is used only when asked for; the
// presence of IDENTITY_ENDPOINT or MSI_ENDPOINT alone does not select it.
// Values other than the password are trimmed of surrounding white space; an
// empty variable counts as unset. Errors are *headers.ConfigError naming the
// variable at fault (or the Config field, for a Config built in code).
//
// # Authority validation
//
// An authority host outside Microsoft's own list of Entra ID hosts is
// checked with Entra ID's instance discovery before any credential is sent
// to it, so a mistyped AZURE_AUTHORITY_HOST never receives the client secret
// or assertion. Config.DisableInstanceDiscovery turns the check off for a
// private cloud or a local test identity provider.
//
// # Managed identity
//
// MSAL chooses the managed-identity endpoint from the environment when the
// Source is built: App Service and Functions (IDENTITY_ENDPOINT and
// IDENTITY_HEADER), Service Fabric, Cloud Shell and Azure ML (MSI_ENDPOINT),
// Azure Arc, and otherwise the instance metadata service of VMs and AKS
// nodes. The resource asked for is the scope without "/.default". MSAL's
// process-wide managed-identity cache is bypassed, and MSAL's own retries
// are turned off: the headers.Provider caches, retries with backoff and
// honors Retry-After.
//
// # Tokens and errors
//
// Every Source.Token call asks the identity provider: MSAL's token cache,
// which would answer with the same token until five minutes before expiry,
// is bypassed, and the headers.Provider in front is the cache. So a leeway
// of any length renews that early, a token the server rejected is replaced
// by a new one, and a failed renewal is seen by the Provider. Entra ID's app
// tokens live 60 to 90 minutes. A Source reports the expiry, and the refresh
// time when Entra ID asked for an early refresh (refresh_in) or a managed
// identity token lives over two hours (its half-life). An error answer from
// the identity provider comes back as a [*ResponseError] with the HTTP
// status, the AADSTS code, the first line of the description, the trace and
// correlation IDs and the settings to check for the AADSTS codes that point
// at one, marked with
// headers.WithRetryAfter when the answer carried Retry-After. An HTML page or
// a truncated answer is described by its status, content type and length,
// and a request that runs out of time says so and wraps
// context.DeadlineExceeded. No error, log record or printed value of this
// package contains a client secret, certificate key or password, assertion
// or token.
package azure
