package azure

import (
	"os"
	"strings"
)

// The environment variables ConfigFromEnv reads. The AZURE_ names are those
// of the Azure SDK for Go (azidentity).
const (
	envTenantID            = "AZURE_TENANT_ID"
	envClientID            = "AZURE_CLIENT_ID"
	envClientSecret        = "AZURE_CLIENT_SECRET"
	envCertificatePath     = "AZURE_CLIENT_CERTIFICATE_PATH"
	envCertificatePassword = "AZURE_CLIENT_CERTIFICATE_PASSWORD"
	envFederatedTokenFile  = "AZURE_FEDERATED_TOKEN_FILE"
	envAuthorityHost       = "AZURE_AUTHORITY_HOST"
	envManagedIdentity     = "AZURE_MANAGED_IDENTITY"
	envScope               = "TEMPORAL_AUTH_SCOPE"
)

var envNames = settingNames{
	tenantID:            envTenantID,
	clientID:            envClientID,
	scopes:              envScope,
	authorityHost:       envAuthorityHost,
	clientSecret:        envClientSecret,
	certificatePath:     envCertificatePath,
	certificatePEM:      "Config.CertificatePEM",
	certificatePassword: envCertificatePassword,
	federatedTokenFile:  envFederatedTokenFile,
	managedIdentity:     envManagedIdentity,
	selectUserAssigned:  "set " + envManagedIdentity + "=user",
}

// ConfigFromEnv builds a Config from the environment; see the package
// documentation for the variables. Errors name the variables at fault.
func ConfigFromEnv() (Config, error) { return ConfigFromLookup(os.LookupEnv) }

// ConfigFromLookup is ConfigFromEnv reading variables through lookup (for
// tests, or settings kept elsewhere). Values are trimmed of surrounding white
// space; a variable that is empty after trimming counts as unset.
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	cfg := Config{
		TenantID:            get(envTenantID),
		ClientID:            get(envClientID),
		AuthorityHost:       get(envAuthorityHost),
		ClientSecret:        get(envClientSecret),
		CertificatePath:     get(envCertificatePath),
		CertificatePassword: get(envCertificatePassword),
		FederatedTokenFile:  get(envFederatedTokenFile),
	}
	for _, s := range strings.Split(get(envScope), ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.Scopes = append(cfg.Scopes, s)
		}
	}
	if v := get(envManagedIdentity); v != "" {
		id, err := parseManagedIdentity(v, cfg.ClientID)
		if err != nil {
			return Config{}, err
		}
		cfg.ManagedIdentity = id
	}
	if _, err := cfg.validate(envNames); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// parseManagedIdentity reads AZURE_MANAGED_IDENTITY.
func parseManagedIdentity(v, clientID string) (ManagedIdentity, error) {
	if strings.EqualFold(v, "system") {
		return SystemAssigned(), nil
	}
	if strings.EqualFold(v, "user") {
		if clientID == "" {
			return ManagedIdentity{}, invalid("%s=user needs %s, the client ID of the user-assigned identity", envManagedIdentity, envClientID)
		}
		return UserAssignedClientID(clientID), nil
	}
	if kind, id, ok := strings.Cut(v, "="); ok {
		id = strings.TrimSpace(id)
		if id == "" {
			return ManagedIdentity{}, invalid("%s %q: the identity ID after %q is empty", envManagedIdentity, v, kind+"=")
		}
		switch strings.ToLower(strings.TrimSpace(kind)) {
		case "client_id":
			return UserAssignedClientID(id), nil
		case "object_id":
			return UserAssignedObjectID(id), nil
		case "resource_id":
			return UserAssignedResourceID(id), nil
		}
	}
	return ManagedIdentity{}, invalid("%s %q: use system, user (with %s), client_id=<id>, object_id=<id> or resource_id=<id>",
		envManagedIdentity, v, envClientID)
}
