package azure

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/setting"
)

// DefaultAuthorityHost is the Entra ID host of Azure's public cloud.
const DefaultAuthorityHost = "https://login.microsoftonline.com/"

// names names Config's settings in errors.
var names = setting.Names{Config: "azure.Config", Env: map[string]string{
	"TenantID":                 EnvTenantID,
	"ClientID":                 EnvClientID,
	"Scopes":                   EnvScope,
	"AuthorityHost":            EnvAuthorityHost,
	"DisableInstanceDiscovery": EnvDisableInstanceDiscovery,
	"ClientSecret":             EnvClientSecret,
	"CertificatePath":          EnvCertificatePath,
	"CertificatePassword":      EnvCertificatePassword,
	"SendCertificateChain":     EnvSendCertificateChain,
	"FederatedTokenFile":       EnvFederatedTokenFile,
	"ManagedIdentity":          EnvManagedIdentity,
}}

// Config says which Entra ID identity asks for tokens and for what.
//
// Exactly one credential must be set: ClientSecret, a certificate
// (CertificatePath or Certificate, with CertificatePassword when it is a
// PKCS#12 file with a password or its PEM key is encrypted),
// FederatedTokenFile, or ManagedIdentity. The first three authenticate an
// app registration (TenantID and ClientID are required); a managed identity
// needs neither.
//
// String, GoString, Format and LogValue redact the client secret, the
// certificate and its password, so a Config may be printed or logged.
type Config struct {
	// TenantID is the directory (tenant) ID or a verified domain such as
	// contoso.onmicrosoft.com.
	TenantID string
	// ClientID is the application (client) ID of the app registration.
	// With ManagedIdentity leave it empty (or equal to the identity's client
	// ID).
	ClientID string
	// Scopes are the scopes to ask for: for an app registration exactly one
	// resource's .default scope, the Temporal server's application ID URI
	// followed by "/.default", such as "api://temporal-server/.default"
	// (Entra ID refuses two .default scopes in one request). Managed
	// identity takes exactly one.
	Scopes []string
	// AuthorityHost is the Entra ID host: an https URL of a host without a
	// path. Sovereign clouds use their own, such as
	// https://login.microsoftonline.us/ or https://login.chinacloudapi.cn/.
	// Managed identity ignores it. Default: DefaultAuthorityHost.
	AuthorityHost string
	// DisableInstanceDiscovery turns off authority validation. With it off
	// (the default), MSAL asks Entra ID's instance discovery
	// (https://login.microsoftonline.com/common/discovery/instance) whether
	// an AuthorityHost outside Microsoft's own list is a trusted Entra ID
	// host, and refuses it before any credential is sent there: a
	// mistyped host never receives the client secret or assertion. Set it
	// only for a private cloud or an identity provider that Entra ID does
	// not know, such as a local test server. Default: false.
	DisableInstanceDiscovery bool
	// HTTPClient sends the requests to the identity provider (for proxies,
	// custom TLS, tests). Default: a client with its own copy of
	// http.DefaultTransport (which honours HTTPS_PROXY and NO_PROXY) that
	// follows no redirects; a client given here should follow none either,
	// or a 307 or 308 answer sends the credential on to another address.
	HTTPClient *http.Client

	// ClientSecret is a client secret of the app registration.
	ClientSecret string
	// CertificatePath is a file holding the certificate registered with the
	// app registration and its RSA private key: PKCS#12 (.pfx, as Key Vault
	// exports it) or PEM (the key PKCS#1, PKCS#8, or PKCS#8 encrypted with
	// PBES2 as OpenSSL writes it). It is read when the Source is built and
	// again when it changes, so a certificate renewed in place is picked up.
	// An expired or not yet valid certificate is refused, when it is
	// loaded and before each token request; one that expires within 30
	// days is warned about through Logger, once a day while it is used.
	// Source.CertificateNotAfter tells when it expires.
	CertificatePath string
	// Certificate is the same content as CertificatePath, given directly.
	Certificate []byte
	// CertificatePassword is the password of a PKCS#12 file, or decrypts an
	// encrypted PEM private key. It is used as given, spaces included.
	CertificatePassword string
	// SendCertificateChain sends the certificate chain (the x5c header) with
	// each assertion, for subject name and issuer authentication.
	// Default: false.
	SendCertificateChain bool
	// FederatedTokenFile is a file holding a token from a trusted issuer,
	// presented as the client assertion (workload identity federation, as
	// on AKS). It is read again for every token request, so a rotated file
	// is used as soon as it is written.
	FederatedTokenFile string
	// ManagedIdentity selects an Azure managed identity: SystemAssigned() or
	// UserAssignedClientID / UserAssignedObjectID / UserAssignedResourceID.
	ManagedIdentity ManagedIdentity

	// Logger receives warnings, such as a certificate that expires soon.
	// Default: slog.Default(); NewProvider uses its headers.Options.Logger.
	Logger *slog.Logger
	// Clock tells the time the certificate's validity is checked against.
	// Default: the system clock; NewProvider uses its headers.Options.Clock.
	Clock headers.Clock

	fromEnv bool // read by ConfigFromLookup: errors name variables
}

// credentialKind is the credential a valid Config selects.
type credentialKind int

const (
	kindSecret credentialKind = iota + 1
	kindCertificate
	kindFederated
	kindManagedIdentity
)

// String is the name descriptions give the credential.
func (k credentialKind) String() string {
	switch k {
	case kindSecret:
		return "client_secret"
	case kindCertificate:
		return "certificate"
	case kindFederated:
		return "workload_identity"
	case kindManagedIdentity:
		return "managed_identity"
	}
	return "none"
}

// name returns what errors call field.
func (c Config) name(field string) string { return names.Of(field, c.fromEnv) }

// errorf returns a *headers.ConfigError for field.
func (c Config) errorf(field, format string, args ...any) error {
	return names.Errorf(c.fromEnv, field, format, args...)
}

// validate checks c and returns the credential it selects. Errors are
// *headers.ConfigError.
func (c Config) validate() (credentialKind, error) {
	if c.CertificatePath != "" && len(c.Certificate) > 0 {
		return 0, c.errorf("CertificatePath", "%s and %s are both set: give the certificate one way", c.name("CertificatePath"), c.name("Certificate"))
	}
	var set []string
	var kind credentialKind
	var field string
	add := func(f string, k credentialKind) {
		set, kind, field = append(set, c.name(f)), k, f
	}
	if c.ClientSecret != "" {
		add("ClientSecret", kindSecret)
	}
	if c.CertificatePath != "" {
		add("CertificatePath", kindCertificate)
	}
	if len(c.Certificate) > 0 {
		add("Certificate", kindCertificate)
	}
	if c.FederatedTokenFile != "" {
		add("FederatedTokenFile", kindFederated)
	}
	if !c.ManagedIdentity.IsZero() {
		add("ManagedIdentity", kindManagedIdentity)
	}
	switch {
	case len(set) == 0:
		return 0, c.errorf("ClientSecret", "no credential: set one of %s, %s, %s or %s",
			c.name("ClientSecret"), c.name("CertificatePath"), c.name("FederatedTokenFile"), c.name("ManagedIdentity"))
	case len(set) > 1:
		return 0, c.errorf(field, "%s are set: set exactly one credential", joinAnd(set))
	}
	if c.CertificatePassword != "" && kind != kindCertificate {
		return 0, c.errorf("CertificatePassword", "set but no certificate is: set %s too, or unset the password", c.name("CertificatePath"))
	}
	if c.SendCertificateChain && kind != kindCertificate {
		return 0, c.errorf("SendCertificateChain", "set but no certificate is: the chain is sent with a certificate credential only")
	}
	if err := c.validateScopes(kind); err != nil {
		return 0, err
	}
	if _, err := c.authorityHostURL(); err != nil {
		return 0, err
	}
	if kind == kindManagedIdentity {
		if err := c.ManagedIdentity.validate(c); err != nil {
			return 0, err
		}
		return kind, nil
	}
	if c.TenantID == "" {
		return 0, c.errorf("TenantID", "not set: set it to the directory (tenant) ID")
	}
	if !validTenant(c.TenantID) {
		return 0, c.errorf("TenantID", "%s: a tenant ID is a GUID or a domain name (letters, digits, '-' and '.')", setting.Quote(c.TenantID))
	}
	if c.ClientID == "" {
		return 0, c.errorf("ClientID", "not set: set it to the application (client) ID of the app registration")
	}
	if setting.HasSpaceOrControl(c.ClientID) {
		return 0, c.errorf("ClientID", "%s contains white space", setting.Quote(c.ClientID))
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

func (c Config) validateScopes(kind credentialKind) error {
	if len(c.Scopes) == 0 {
		return c.errorf("Scopes", "empty: set it to the Temporal server's application ID URI followed by /.default, such as api://temporal-server/.default")
	}
	for _, s := range c.Scopes {
		switch {
		case s == "":
			return c.errorf("Scopes", "holds an empty scope")
		case setting.HasSpaceOrControl(s):
			return c.errorf("Scopes", "scope %s contains white space", setting.Quote(s))
		case kind != kindManagedIdentity && !strings.HasSuffix(s, "/.default"):
			return c.errorf("Scopes", "scope %s does not end in /.default: the client-credentials flow asks for a resource's .default scope, such as api://temporal-server/.default", setting.Quote(s))
		}
	}
	switch {
	case kind == kindManagedIdentity && len(c.Scopes) != 1:
		return c.errorf("Scopes", "holds %d scopes: a managed identity asks for exactly one resource", len(c.Scopes))
	case len(c.Scopes) != 1:
		// Entra ID answers AADSTS70011 for two .default scopes: a token is
		// for one resource.
		return c.errorf("Scopes", "holds %d .default scopes: a token is for one resource, so give only the Temporal server's, such as api://temporal-server/.default", len(c.Scopes))
	}
	return nil
}

// validTenant reports whether t looks like a tenant ID or domain.
func validTenant(t string) bool {
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return t != ""
}

// authorityHostURL parses AuthorityHost (DefaultAuthorityHost when empty).
func (c Config) authorityHostURL() (*url.URL, error) {
	host := setting.OrDefault(c.AuthorityHost, DefaultAuthorityHost)
	u, err := url.Parse(host)
	if err != nil || u.Host == "" || u.Scheme == "" {
		return nil, c.errorf("AuthorityHost", "%s is not a URL such as %s", setting.Quote(host), DefaultAuthorityHost)
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return nil, c.errorf("AuthorityHost", "%s: the identity provider must be reached over https, not %s", setting.Quote(host), u.Scheme)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return nil, c.errorf("AuthorityHost", "%s: give only a scheme and host, such as %s", setting.Quote(host), DefaultAuthorityHost)
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

// Format prints c as String does whatever the verb, so that no verb
// prints a secret.
func (c Config) Format(f fmt.State, verb rune) { _, _ = fmt.Fprint(f, c.String()) }

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
	flag := func(k string, set bool) {
		if set {
			out = append(out, slog.Bool(k, true))
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
	flag("DisableInstanceDiscovery", c.DisableInstanceDiscovery)
	if c.HTTPClient != nil {
		out = append(out, slog.String("HTTPClient", "set"))
	}
	secret("ClientSecret", c.ClientSecret != "")
	str("CertificatePath", c.CertificatePath)
	secret("Certificate", len(c.Certificate) > 0)
	secret("CertificatePassword", c.CertificatePassword != "")
	flag("SendCertificateChain", c.SendCertificateChain)
	str("FederatedTokenFile", c.FederatedTokenFile)
	if !c.ManagedIdentity.IsZero() {
		out = append(out, slog.String("ManagedIdentity", c.ManagedIdentity.String()))
	}
	return out
}
