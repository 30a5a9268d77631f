package azure

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/temporalauth/temporalauth/headers"
)

// DefaultAuthorityHost is the Entra ID host of Azure's public cloud.
const DefaultAuthorityHost = "https://login.microsoftonline.com/"

// ErrInvalidConfig is matched (with errors.Is) by every error that reports a
// missing, malformed or contradictory setting.
var ErrInvalidConfig = errors.New("invalid configuration")

// Config says which Entra ID identity asks for tokens and for what.
//
// Exactly one credential must be set: ClientSecret, a certificate
// (CertificatePath or CertificatePEM, with CertificatePassword when its key is
// encrypted), FederatedTokenFile, or ManagedIdentity. The first three
// authenticate an app registration (TenantID and ClientID are required); a
// managed identity needs neither.
//
// String, GoString and LogValue redact the client secret, the certificate
// and its password, so a Config may be printed or logged.
type Config struct {
	// TenantID is the directory (tenant) ID or a verified domain such as
	// contoso.onmicrosoft.com.
	TenantID string
	// ClientID is the application (client) ID of the app registration.
	// With ManagedIdentity leave it empty (or equal to the identity's client ID).
	ClientID string
	// Scopes are the scopes to ask for: for the client-credentials flow the
	// Temporal server's application ID URI followed by "/.default", such as
	// "api://temporal-server/.default". Managed identity takes exactly one.
	Scopes []string
	// AuthorityHost is the Entra ID host, DefaultAuthorityHost when empty.
	// Sovereign clouds use their own, such as https://login.microsoftonline.us/
	// or https://login.chinacloudapi.cn/. It must be an https URL of a host
	// without a path. Managed identity ignores it.
	AuthorityHost string
	// HTTPClient sends the requests to the identity provider (for proxies,
	// custom TLS, tests). When nil, a client with its own copy of
	// http.DefaultTransport is used (it honors HTTPS_PROXY and NO_PROXY).
	HTTPClient *http.Client

	// ClientSecret is a client secret of the app registration.
	ClientSecret string
	// CertificatePath is a PEM file holding the certificate registered with
	// the app registration and its RSA private key (PKCS#1, PKCS#8, or
	// PKCS#8 encrypted with PBES2, as OpenSSL writes it). The file is read again when it
	// changes, so a certificate renewed in place is picked up.
	CertificatePath string
	// CertificatePEM is the same content as CertificatePath, given directly.
	CertificatePEM []byte
	// CertificatePassword decrypts an encrypted private key.
	CertificatePassword string
	// FederatedTokenFile is a file holding a token from a trusted issuer,
	// presented as the client assertion (workload identity federation, as
	// on AKS). It is read again for every token request, so a rotated file
	// is used as soon as it is written.
	FederatedTokenFile string
	// ManagedIdentity selects an Azure managed identity: SystemAssigned() or
	// UserAssignedClientID / UserAssignedObjectID / UserAssignedResourceID.
	ManagedIdentity ManagedIdentity
}

// settingNames are the names errors use for Config's fields: the field names
// for a Config built in code, the environment variables for ConfigFromEnv.
type settingNames struct {
	tenantID, clientID, scopes, authorityHost, clientSecret, certificatePath,
	certificatePEM, certificatePassword, federatedTokenFile, managedIdentity string
	// selectUserAssigned tells how to use the client ID setting as a
	// user-assigned managed identity.
	selectUserAssigned string
}

var fieldNames = settingNames{
	tenantID:            "Config.TenantID",
	clientID:            "Config.ClientID",
	scopes:              "Config.Scopes",
	authorityHost:       "Config.AuthorityHost",
	clientSecret:        "Config.ClientSecret",
	certificatePath:     "Config.CertificatePath",
	certificatePEM:      "Config.CertificatePEM",
	certificatePassword: "Config.CertificatePassword",
	federatedTokenFile:  "Config.FederatedTokenFile",
	managedIdentity:     "Config.ManagedIdentity",
	selectUserAssigned:  "set Config.ManagedIdentity to UserAssignedClientID(id)",
}

// credentialKind is the credential a valid Config selects.
type credentialKind int

const (
	kindSecret credentialKind = iota + 1
	kindCertificate
	kindFederated
	kindManagedIdentity
)

// configError reports a bad setting; it matches ErrInvalidConfig.
type configError struct{ msg string }

func (e *configError) Error() string        { return "azure: invalid configuration: " + e.msg }
func (e *configError) Is(target error) bool { return target == ErrInvalidConfig }

func invalid(format string, args ...any) error {
	return &configError{msg: fmt.Sprintf(format, args...)}
}

// validate checks c and returns the credential it selects. Errors name the
// settings as n says.
func (c Config) validate(n settingNames) (credentialKind, error) {
	if c.CertificatePath != "" && len(c.CertificatePEM) > 0 {
		return 0, invalid("%s and %s are both set: give the certificate one way", n.certificatePath, n.certificatePEM)
	}
	var set []string
	var kind credentialKind
	if c.ClientSecret != "" {
		set, kind = append(set, n.clientSecret), kindSecret
	}
	if c.CertificatePath != "" {
		set, kind = append(set, n.certificatePath), kindCertificate
	}
	if len(c.CertificatePEM) > 0 {
		set, kind = append(set, n.certificatePEM), kindCertificate
	}
	if c.FederatedTokenFile != "" {
		set, kind = append(set, n.federatedTokenFile), kindFederated
	}
	if !c.ManagedIdentity.IsZero() {
		set, kind = append(set, n.managedIdentity), kindManagedIdentity
	}
	switch {
	case len(set) == 0:
		return 0, invalid("no credential: set one of %s, %s, %s or %s",
			n.clientSecret, n.certificatePath, n.federatedTokenFile, n.managedIdentity)
	case len(set) > 1:
		return 0, invalid("%s are set: set exactly one credential", joinAnd(set))
	}
	if c.CertificatePassword != "" && kind != kindCertificate {
		return 0, invalid("%s is set but no certificate is: set %s too, or unset the password",
			n.certificatePassword, n.certificatePath)
	}
	if err := validateScopes(c.Scopes, kind, n); err != nil {
		return 0, err
	}
	if _, err := authorityHostURL(c.AuthorityHost, n); err != nil {
		return 0, err
	}
	if kind == kindManagedIdentity {
		if err := c.ManagedIdentity.validate(c.ClientID, n); err != nil {
			return 0, err
		}
		return kind, nil
	}
	if c.TenantID == "" {
		return 0, invalid("%s is not set: set it to the directory (tenant) ID", n.tenantID)
	}
	if !validTenant(c.TenantID) {
		return 0, invalid("%s %q: a tenant ID is a GUID or a domain name (letters, digits, '-' and '.')", n.tenantID, c.TenantID)
	}
	if c.ClientID == "" {
		return 0, invalid("%s is not set: set it to the application (client) ID of the app registration", n.clientID)
	}
	if strings.ContainsFunc(c.ClientID, isSpaceOrControl) {
		return 0, invalid("%s %q contains white space", n.clientID, c.ClientID)
	}
	return kind, nil
}

// joinAnd joins names as "a and b" or "a, b and c".
func joinAnd(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func validateScopes(scopes []string, kind credentialKind, n settingNames) error {
	if len(scopes) == 0 {
		return invalid("%s is empty: set it to the Temporal server's application ID URI followed by /.default, such as api://temporal-server/.default", n.scopes)
	}
	for _, s := range scopes {
		switch {
		case s == "":
			return invalid("%s holds an empty scope", n.scopes)
		case strings.ContainsFunc(s, isSpaceOrControl):
			return invalid("%s: scope %q contains white space", n.scopes, s)
		case kind != kindManagedIdentity && !strings.HasSuffix(s, "/.default"):
			return invalid("%s: scope %q does not end in /.default: the client-credentials flow asks for a resource's .default scope, such as api://temporal-server/.default", n.scopes, s)
		}
	}
	if kind == kindManagedIdentity && len(scopes) != 1 {
		return invalid("%s holds %d scopes: a managed identity asks for exactly one resource", n.scopes, len(scopes))
	}
	return nil
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// validTenant reports whether t looks like a tenant ID or domain.
func validTenant(t string) bool {
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return t != ""
}

// authorityHostURL parses the authority host setting (DefaultAuthorityHost
// when empty).
func authorityHostURL(host string, n settingNames) (*url.URL, error) {
	if host == "" {
		host = DefaultAuthorityHost
	}
	u, err := url.Parse(host)
	if err != nil || u.Host == "" || u.Scheme == "" {
		return nil, invalid("%s %q is not a URL such as %s", n.authorityHost, host, DefaultAuthorityHost)
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return nil, invalid("%s %q: the identity provider must be reached over https, not %s", n.authorityHost, host, u.Scheme)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return nil, invalid("%s %q: give only a scheme and host, such as %s", n.authorityHost, host, DefaultAuthorityHost)
	}
	return u, nil
}

// String describes c with its secrets redacted.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("azure.Config{")
	for i, a := range c.attrs() {
		if i > 0 {
			b.WriteString(", ")
		}
		format := "%s: %v"
		if quotedSettings[a.Key] {
			format = "%s: %q"
		}
		fmt.Fprintf(&b, format, a.Key, a.Value.Any())
	}
	b.WriteString("}")
	return b.String()
}

// quotedSettings are the settings String shows as quoted strings.
var quotedSettings = map[string]bool{
	"TenantID": true, "ClientID": true, "Scopes": true, "AuthorityHost": true,
	"CertificatePath": true, "FederatedTokenFile": true,
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// LogValue describes c for log/slog with its secrets redacted.
func (c Config) LogValue() slog.Value { return slog.GroupValue(c.attrs()...) }

// attrs lists c's non-empty settings, secrets redacted.
func (c Config) attrs() []slog.Attr {
	var out []slog.Attr
	str := func(k, v string) {
		if v != "" {
			out = append(out, slog.String(k, v))
		}
	}
	secret := func(k string, set bool) {
		if set {
			out = append(out, slog.String(k, headers.Redacted))
		}
	}
	str("TenantID", c.TenantID)
	str("ClientID", c.ClientID)
	if len(c.Scopes) > 0 {
		out = append(out, slog.Any("Scopes", append([]string(nil), c.Scopes...)))
	}
	str("AuthorityHost", c.AuthorityHost)
	if c.HTTPClient != nil {
		out = append(out, slog.String("HTTPClient", "set"))
	}
	secret("ClientSecret", c.ClientSecret != "")
	str("CertificatePath", c.CertificatePath)
	secret("CertificatePEM", len(c.CertificatePEM) > 0)
	secret("CertificatePassword", c.CertificatePassword != "")
	str("FederatedTokenFile", c.FederatedTokenFile)
	if !c.ManagedIdentity.IsZero() {
		out = append(out, slog.String("ManagedIdentity", c.ManagedIdentity.String()))
	}
	return out
}
