package azure

import (
	"strconv"
	"strings"

	"github.com/temporalauth/temporalauth/internal/setting"
)

// The environment variables ConfigFromLookup reads. The AZURE_ names other
// than EnvManagedIdentity and EnvDisableInstanceDiscovery are those of the
// Azure SDK for Go (azidentity), with the same meaning.
const (
	EnvTenantID            = "AZURE_TENANT_ID"
	EnvClientID            = "AZURE_CLIENT_ID"
	EnvClientSecret        = "AZURE_CLIENT_SECRET"
	EnvCertificatePath     = "AZURE_CLIENT_CERTIFICATE_PATH"
	EnvCertificatePassword = "AZURE_CLIENT_CERTIFICATE_PASSWORD"
	// EnvSendCertificateChain is "true" (or 1) to send the certificate chain.
	EnvSendCertificateChain = "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN"
	EnvFederatedTokenFile   = "AZURE_FEDERATED_TOKEN_FILE"
	EnvAuthorityHost        = "AZURE_AUTHORITY_HOST"
	// EnvDisableInstanceDiscovery is "true" (or 1) to turn authority
	// validation off (Config.DisableInstanceDiscovery). It is this
	// package's; azidentity has the option in code only.
	EnvDisableInstanceDiscovery = "AZURE_DISABLE_INSTANCE_DISCOVERY"
	// EnvManagedIdentity selects a managed identity: system, user (with
	// AZURE_CLIENT_ID), client_id=<id>, object_id=<id> or resource_id=<id>.
	EnvManagedIdentity = "AZURE_MANAGED_IDENTITY"
	// EnvScope is the scope, the Temporal server's application ID URI
	// followed by /.default.
	EnvScope = "TEMPORAL_AUTH_SCOPE"
)

// ConfigFromLookup builds a Config from environment variables read through
// lookup (os.LookupEnv for the process environment); see the package
// documentation for the variables. Values are trimmed of surrounding white
// space, except AZURE_CLIENT_CERTIFICATE_PASSWORD, which is used as given;
// a variable that is empty after trimming counts as unset. It checks the
// settings as NewTokenSource does, without reading files; errors are
// *headers.ConfigError naming the variable, and NewTokenSource and
// NewProvider name the variables too for a Config read here.
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	env := setting.Lookup(lookup)
	cfg := Config{
		TenantID:           env.Get(EnvTenantID),
		ClientID:           env.Get(EnvClientID),
		AuthorityHost:      env.Get(EnvAuthorityHost),
		ClientSecret:       env.Get(EnvClientSecret),
		CertificatePath:    env.Get(EnvCertificatePath),
		FederatedTokenFile: env.Get(EnvFederatedTokenFile),
		fromEnv:            true,
	}
	if lookup != nil {
		// A password is a secret chosen by someone else: spaces are part of it.
		cfg.CertificatePassword, _ = lookup(EnvCertificatePassword)
	}
	var err error
	if cfg.DisableInstanceDiscovery, err = envBool(env, EnvDisableInstanceDiscovery); err != nil {
		return Config{}, err
	}
	if cfg.SendCertificateChain, err = envBool(env, EnvSendCertificateChain); err != nil {
		return Config{}, err
	}
	if cfg.Scopes, err = env.List(EnvScope, "api://temporal-server/.default"); err != nil {
		return Config{}, err
	}
	if v := env.Get(EnvManagedIdentity); v != "" {
		id, err := parseManagedIdentity(v, cfg.ClientID)
		if err != nil {
			return Config{}, err
		}
		cfg.ManagedIdentity = id
	}
	if _, err := cfg.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// envBool reads a boolean variable as strconv.ParseBool does; unset is false.
func envBool(env setting.Lookup, name string) (bool, error) {
	v := env.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, names.Errorf(true, fieldOf(name), "%s is not a boolean; want true or false", setting.Quote(v))
	}
	return b, nil
}

// fieldOf returns the Config field read from variable name.
func fieldOf(name string) string {
	for f, v := range names.Env {
		if v == name {
			return f
		}
	}
	return name
}

// parseManagedIdentity reads AZURE_MANAGED_IDENTITY.
func parseManagedIdentity(v, clientID string) (ManagedIdentity, error) {
	if strings.EqualFold(v, "system") {
		return SystemAssigned(), nil
	}
	if strings.EqualFold(v, "user") {
		if clientID == "" {
			return ManagedIdentity{}, names.Errorf(true, "ManagedIdentity", "user needs %s, the client ID of the user-assigned identity", EnvClientID)
		}
		return UserAssignedClientID(clientID), nil
	}
	if kind, id, ok := strings.Cut(v, "="); ok {
		id = strings.TrimSpace(id)
		if id == "" {
			return ManagedIdentity{}, names.Errorf(true, "ManagedIdentity", "%s: the identity ID after %q is empty", setting.Quote(v), kind+"=")
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
	return ManagedIdentity{}, names.Errorf(true, "ManagedIdentity", "%s: use system, user (with %s), client_id=<id>, object_id=<id> or resource_id=<id>",
		setting.Quote(v), EnvClientID)
}
