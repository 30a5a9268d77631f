package oidc

import (
	"crypto"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/redact"
	"github.com/temporalauth/temporalauth/internal/setting"
)

// Client authentication methods (token_endpoint_auth_method, RFC 7591 and
// OpenID Connect Core 9).
const (
	// AuthSecretBasic sends the client ID and secret in an HTTP Basic
	// Authorization header, each form-encoded first (RFC 6749, 2.3.1).
	AuthSecretBasic = "client_secret_basic"
	// AuthSecretPost sends them as the form fields client_id and
	// client_secret.
	AuthSecretPost = "client_secret_post"
	// AuthPrivateKeyJWT sends a JWT signed with the client's private key
	// as client_assertion (RFC 7523): iss and sub the client ID, aud the
	// token endpoint, a fresh jti and a short exp, made anew per request.
	AuthPrivateKeyJWT = "private_key_jwt"
)

// The values of Config.AssertionAudience that are not a URL.
const (
	// AudienceTokenEndpoint makes a private_key_jwt assertion's "aud" the
	// token endpoint's URL, as RFC 7523 (3) and OpenID Connect Core (9)
	// describe and Okta, Entra ID, Keycloak and Ory Hydra accept.
	AudienceTokenEndpoint = "token_endpoint"
	// AudienceIssuer makes it the identity provider's issuer identifier,
	// exactly as the discovery document names it: what Auth0 documents,
	// and what the update of RFC 7523 (draft-ietf-oauth-rfc7523bis)
	// requires of every server. It needs Config.Issuer.
	AudienceIssuer = "issuer"
)

// Defaults.
const (
	// DefaultLifetime is how long a token is taken to be valid when the
	// token answer has no expires_in and the access token is not a JWT
	// with an "exp" claim (an opaque token). RFC 6749 makes expires_in
	// optional; the major identity providers all send it.
	DefaultLifetime = 5 * time.Minute
	// AssertionLifetime is how long a private_key_jwt client assertion is
	// valid: long enough for one request, short enough to be useless if
	// it leaked.
	AssertionLifetime = 2 * time.Minute
)

// The environment variables ConfigFromLookup reads.
const (
	EnvIssuer           = "TEMPORAL_OIDC_ISSUER"
	EnvTokenURL         = "TEMPORAL_OIDC_TOKEN_URL"
	EnvClientID         = "TEMPORAL_OIDC_CLIENT_ID"
	EnvClientSecret     = "TEMPORAL_OIDC_CLIENT_SECRET"
	EnvClientSecretFile = "TEMPORAL_OIDC_CLIENT_SECRET_FILE"
	EnvPrivateKeyFile   = "TEMPORAL_OIDC_PRIVATE_KEY_FILE"
	EnvKeyID            = "TEMPORAL_OIDC_KEY_ID"
	EnvAuthMethod       = "TEMPORAL_OIDC_AUTH_METHOD"
	EnvScopes           = "TEMPORAL_OIDC_SCOPES"
	EnvAudience         = "TEMPORAL_OIDC_AUDIENCE"
	EnvResource         = "TEMPORAL_OIDC_RESOURCE"
	EnvAllowHTTP        = "TEMPORAL_OIDC_ALLOW_HTTP"
	// EnvAssertionAudience sets AssertionAudience: token_endpoint, issuer
	// or a URL.
	EnvAssertionAudience = "TEMPORAL_OIDC_ASSERTION_AUDIENCE"
)

// names names Config's settings in errors.
var names = setting.Names{Config: "oidc.Config", Env: map[string]string{
	"Issuer":            EnvIssuer,
	"TokenURL":          EnvTokenURL,
	"ClientID":          EnvClientID,
	"ClientSecret":      EnvClientSecret,
	"ClientSecretFile":  EnvClientSecretFile,
	"PrivateKeyFile":    EnvPrivateKeyFile,
	"KeyID":             EnvKeyID,
	"AuthMethod":        EnvAuthMethod,
	"Scopes":            EnvScopes,
	"Audience":          EnvAudience,
	"Resource":          EnvResource,
	"AllowHTTP":         EnvAllowHTTP,
	"AssertionAudience": EnvAssertionAudience,
}}

// A Config describes an OAuth 2.0 client that gets access tokens with the
// client-credentials grant (RFC 6749, 4.4) from any identity provider:
// Okta, Auth0, Keycloak, Ory Hydra, Amazon Cognito, Entra ID used as a plain
// OpenID Connect provider, and others.
//
// Give the token endpoint as TokenURL, or the Issuer to find it by OpenID
// Connect discovery; the ClientID; and one credential: ClientSecret,
// ClientSecretFile, PrivateKey or PrivateKeyFile.
//
// A Config holds secrets: String, GoString, Format and LogValue show the
// settings without them.
type Config struct {
	// Issuer is the identity provider's issuer URL, such as
	// https://example.okta.com/oauth2/default or
	// https://keycloak.example.com/realms/temporal. The token endpoint is
	// read from <Issuer>/.well-known/openid-configuration on the first
	// token request, and the document's "issuer" must equal Issuer (a
	// trailing slash aside). Set Issuer or TokenURL, not both. Default:
	// none.
	Issuer string
	// TokenURL is the token endpoint, used as is without discovery.
	// Default: none.
	TokenURL string
	// ClientID is the OAuth 2.0 client ID. Required.
	ClientID string
	// ClientSecret is the client secret. Default: none.
	ClientSecret string
	// ClientSecretFile is the path of a file holding the client secret
	// (surrounding white space, such as a final newline, is dropped). It
	// is read again before every token request, so a rotated Kubernetes
	// secret mount is used at once. Default: none.
	ClientSecretFile string
	// PrivateKey signs private_key_jwt client assertions: an ECDSA P-256
	// key (ES256) or an RSA key of at least 2048 bits (RS256), or a
	// crypto.Signer with such a public key. Default: none.
	PrivateKey crypto.Signer
	// PrivateKeyFile is the path of a PEM private key file used instead of
	// PrivateKey, read again before every token request (see
	// jwtkey.NewClaimSignerFromFile). Default: none.
	PrivateKeyFile string
	// KeyID is the "kid" header of client assertions, which must name the
	// key registered with the client at the identity provider. Default:
	// the key's RFC 7638 thumbprint.
	KeyID string
	// AssertionAudience is the "aud" claim of private_key_jwt client
	// assertions: AudienceTokenEndpoint, AudienceIssuer, or an absolute URL
	// used as given (for an identity provider that wants yet another
	// value). Identity providers differ: Auth0 documents its issuer
	// ("https://<tenant>.auth0.com/", trailing slash included); Okta, Entra
	// ID and Ory Hydra the token endpoint; Keycloak accepts either. Only
	// with a private key. Default: AudienceTokenEndpoint.
	AssertionAudience string
	// AuthMethod is how the client authenticates: AuthSecretBasic,
	// AuthSecretPost or AuthPrivateKeyJWT. Default: AuthSecretBasic with a
	// secret, AuthPrivateKeyJWT with a key.
	AuthMethod string
	// Scopes are the scopes to request ("scope", space-separated on the
	// wire). Most identity providers put the granted ones in the token's
	// "scp" or "scope" claim, the claim the Temporal server's
	// permissionsClaimName must then name. Default: none (the client's
	// default scopes).
	Scopes []string
	// Audience is the "audience" parameter Auth0 (and Ory Hydra) use to
	// pick the API a token is for. Default: none.
	Audience string
	// Resource are "resource" parameters (RFC 8707), absolute URIs naming
	// the API a token is for. Default: none.
	Resource []string
	// AllowHTTP lets Issuer and TokenURL be plain http:// URLs on hosts
	// other than loopback. The client secret or assertion then crosses
	// the network unencrypted: use it only where something else (a
	// service mesh) encrypts the traffic. Default: false; http:// is
	// accepted for 127.0.0.1, ::1 and localhost only.
	AllowHTTP bool
	// HTTPClient sends the requests. Default: a client with its own copy
	// of http.DefaultTransport (which honours HTTPS_PROXY and NO_PROXY)
	// that follows no redirects.
	HTTPClient *http.Client
	// Clock tells the time for assertions and expiries. Default: the
	// system clock; NewProvider uses its headers.Options.Clock.
	Clock headers.Clock

	fromEnv bool // read by ConfigFromLookup: errors name variables
}

// ConfigFromLookup reads a Config from environment variables through
// lookup (os.LookupEnv when nil):
//
//	TEMPORAL_OIDC_ISSUER             Issuer (discovery)
//	TEMPORAL_OIDC_TOKEN_URL          TokenURL (instead of the issuer)
//	TEMPORAL_OIDC_CLIENT_ID          ClientID
//	TEMPORAL_OIDC_CLIENT_SECRET      ClientSecret
//	TEMPORAL_OIDC_CLIENT_SECRET_FILE ClientSecretFile
//	TEMPORAL_OIDC_PRIVATE_KEY_FILE   PrivateKeyFile
//	TEMPORAL_OIDC_KEY_ID             KeyID
//	TEMPORAL_OIDC_ASSERTION_AUDIENCE AssertionAudience
//	TEMPORAL_OIDC_AUTH_METHOD        AuthMethod
//	TEMPORAL_OIDC_SCOPES             Scopes, separated by commas or spaces
//	TEMPORAL_OIDC_AUDIENCE           Audience
//	TEMPORAL_OIDC_RESOURCE           Resource, comma-separated
//	TEMPORAL_OIDC_ALLOW_HTTP         AllowHTTP: true or false
//
// Values are trimmed of surrounding white space; an empty one is unset. It
// checks the settings as NewTokenSource does, without reading files;
// errors are *headers.ConfigError naming the variable, and NewTokenSource
// and NewProvider name the variables too for a Config read here.
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	env := setting.Lookup(lookup)
	c := Config{
		Issuer:            env.Get(EnvIssuer),
		TokenURL:          env.Get(EnvTokenURL),
		ClientID:          env.Get(EnvClientID),
		ClientSecret:      env.Get(EnvClientSecret),
		ClientSecretFile:  env.Get(EnvClientSecretFile),
		PrivateKeyFile:    env.Get(EnvPrivateKeyFile),
		KeyID:             env.Get(EnvKeyID),
		AssertionAudience: env.Get(EnvAssertionAudience),
		AuthMethod:        env.Get(EnvAuthMethod),
		Audience:          env.Get(EnvAudience),
		fromEnv:           true,
	}
	c.Scopes = strings.FieldsFunc(env.Get(EnvScopes), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	var err error
	if c.Resource, err = env.List(EnvResource, "https://temporal.example.com"); err != nil {
		return Config{}, err
	}
	if v := env.Get(EnvAllowHTTP); v != "" {
		if c.AllowHTTP, err = strconv.ParseBool(v); err != nil {
			return Config{}, &headers.ConfigError{Setting: EnvAllowHTTP, Err: fmt.Errorf("%s: want true or false", setting.Quote(v))}
		}
	}
	if _, err := c.check(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// checked is a Config with its defaults applied.
type checked struct {
	method    string
	tokenURL  string // "" until discovered
	discovery string // the discovery document's URL, with Issuer
	issuer    string // Issuer without a trailing slash
}

// check validates c without reading files or contacting anyone, in the
// order of its steps: the identity provider's endpoint, the client and its
// credential, the client assertion's settings, and what the token is asked
// for. Its errors are *headers.ConfigError.
func (c Config) check() (checked, error) {
	var k checked
	if err := c.checkEndpoint(&k); err != nil {
		return checked{}, err
	}
	credential, err := c.checkCredential()
	if err != nil {
		return checked{}, err
	}
	if k.method, err = c.checkAuthMethod(credential); err != nil {
		return checked{}, err
	}
	if err := c.checkAssertion(k.method); err != nil {
		return checked{}, err
	}
	if err := c.checkRequest(); err != nil {
		return checked{}, err
	}
	return k, nil
}

// errorf returns a *headers.ConfigError for field, named as c was given.
func (c Config) errorf(field, format string, args ...any) error {
	return names.Errorf(c.fromEnv, field, format, args...)
}

// name is what errors call field: its variable when c came from the
// environment, else its Config field.
func (c Config) name(field string) string { return names.Of(field, c.fromEnv) }

// checkEndpoint checks that exactly one of Issuer and TokenURL is set, and
// is a URL the client may send its credentials to, and sets k's endpoint.
func (c Config) checkEndpoint(k *checked) error {
	switch {
	case c.Issuer != "" && c.TokenURL != "":
		return c.errorf("TokenURL", "%s is set too: give the issuer (for discovery) or the token URL, not both", c.name("Issuer"))
	case c.Issuer == "" && c.TokenURL == "":
		return c.errorf("Issuer", "no identity provider: set %s to its issuer URL (discovery) or %s to its token endpoint", c.name("Issuer"), c.name("TokenURL"))
	case c.Issuer != "":
		if err := c.checkURL(c.Issuer); err != nil {
			return c.errorf("Issuer", "%w", err)
		}
		k.issuer = strings.TrimSuffix(c.Issuer, "/")
		k.discovery = k.issuer + "/.well-known/openid-configuration"
	default:
		if err := c.checkURL(c.TokenURL); err != nil {
			return c.errorf("TokenURL", "%w", err)
		}
		k.tokenURL = c.TokenURL
	}
	return nil
}

// checkCredential checks ClientID and that exactly one client credential
// is set, and returns the name of that credential's field.
func (c Config) checkCredential() (string, error) {
	if c.ClientID == "" {
		return "", c.errorf("ClientID", "not set: the OAuth 2.0 client ID is required")
	}
	if setting.HasSpaceOrControl(c.ClientID) {
		return "", c.errorf("ClientID", "%s contains white space or a control character", setting.Quote(c.ClientID))
	}
	var set []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"ClientSecret", c.ClientSecret != ""},
		{"ClientSecretFile", c.ClientSecretFile != ""},
		{"PrivateKey", c.PrivateKey != nil},
		{"PrivateKeyFile", c.PrivateKeyFile != ""},
	} {
		if f.set {
			set = append(set, f.name)
		}
	}
	switch {
	case len(set) == 0 && c.fromEnv:
		return "", c.errorf("ClientSecret", "no client credential: set %s, %s or %s",
			c.name("ClientSecret"), c.name("ClientSecretFile"), c.name("PrivateKeyFile"))
	case len(set) == 0:
		return "", c.errorf("ClientSecret", "no client credential: set %s, %s, %s or %s",
			c.name("ClientSecret"), c.name("ClientSecretFile"), c.name("PrivateKey"), c.name("PrivateKeyFile"))
	case len(set) > 1:
		return "", c.errorf(set[1], "%s is set too: give one client credential", c.name(set[0]))
	}
	return set[0], nil
}

// checkAuthMethod checks AuthMethod against the credential set (the name
// of its field) and returns the method to use: AuthMethod, or by default
// the one the credential calls for.
func (c Config) checkAuthMethod(credential string) (string, error) {
	secret := c.ClientSecret != "" || c.ClientSecretFile != ""
	switch c.AuthMethod {
	case "":
		if !secret {
			return AuthPrivateKeyJWT, nil
		}
		return AuthSecretBasic, nil
	case AuthSecretBasic, AuthSecretPost:
		if !secret {
			return "", c.errorf("AuthMethod", "%s needs a client secret: set %s or %s, or use %s with %s",
				c.AuthMethod, c.name("ClientSecret"), c.name("ClientSecretFile"), AuthPrivateKeyJWT, c.name(credential))
		}
	case AuthPrivateKeyJWT:
		if secret {
			return "", c.errorf("AuthMethod", "%s needs a private key: set %s instead of %s",
				c.AuthMethod, c.name("PrivateKeyFile"), c.name(credential))
		}
	default:
		return "", c.errorf("AuthMethod", "%s: want %s, %s or %s", setting.Quote(c.AuthMethod),
			AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT)
	}
	return c.AuthMethod, nil
}

// checkAssertion checks KeyID and AssertionAudience, which only a client
// using method AuthPrivateKeyJWT may set.
func (c Config) checkAssertion(method string) error {
	if c.KeyID != "" && method != AuthPrivateKeyJWT {
		return c.errorf("KeyID", "names the key of %s client assertions; this client uses %s", AuthPrivateKeyJWT, method)
	}
	if setting.HasSpaceOrControl(c.KeyID) {
		return c.errorf("KeyID", "%s contains white space or a control character", setting.Quote(c.KeyID))
	}
	switch c.AssertionAudience {
	case "", AudienceTokenEndpoint:
	case AudienceIssuer:
		if c.Issuer == "" {
			return c.errorf("AssertionAudience", "%s needs %s: set %s instead of %s, or give the issuer's URL as %s",
				AudienceIssuer, c.name("Issuer"), c.name("Issuer"), c.name("TokenURL"), c.name("AssertionAudience"))
		}
	default:
		u, err := url.Parse(c.AssertionAudience)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || setting.HasSpaceOrControl(c.AssertionAudience) {
			return c.errorf("AssertionAudience", "%s: want %s, %s or an https:// URL", setting.Quote(c.AssertionAudience), AudienceTokenEndpoint, AudienceIssuer)
		}
	}
	if c.AssertionAudience != "" && method != AuthPrivateKeyJWT {
		return c.errorf("AssertionAudience", "sets the audience of %s client assertions; this client uses %s", AuthPrivateKeyJWT, method)
	}
	return nil
}

// checkRequest checks what the token is asked for: Scopes, Audience and
// Resource.
func (c Config) checkRequest() error {
	for i, s := range c.Scopes {
		if s == "" || setting.HasSpaceOrControl(s) || strings.ContainsAny(s, `"\`) {
			return c.errorf("Scopes", "entry %d: %s is not a scope (no white space, quotes or backslashes)", i+1, setting.Quote(s))
		}
	}
	if setting.HasSpaceOrControl(c.Audience) {
		return c.errorf("Audience", "%s contains white space or a control character", setting.Quote(c.Audience))
	}
	for i, r := range c.Resource {
		u, err := url.Parse(r)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			return c.errorf("Resource", "entry %d: %s is not an absolute URI without a fragment (RFC 8707)", i+1, setting.Quote(r))
		}
	}
	return nil
}

// checkURL checks an issuer or token endpoint URL.
func (c Config) checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s is not a URL", setting.Quote(raw))
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return fmt.Errorf("%s: want an https:// URL", setting.Quote(raw))
	case u.User != nil:
		return fmt.Errorf("the URL holds user information: give the client's credentials in their own settings")
	case u.Fragment != "":
		return fmt.Errorf("%s: a URL with a fragment", setting.Quote(raw))
	case u.Scheme == "http" && !c.AllowHTTP && !isLoopback(u.Hostname()):
		return fmt.Errorf("%s: http:// would send the client's credentials unencrypted; use https:// (or set %s for a network that encrypts otherwise)",
			setting.Quote(raw), names.Of("AllowHTTP", c.fromEnv))
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// String describes c without its secrets.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Config{Issuer: %q, TokenURL: %q, ClientID: %q, ClientSecret: %s, ClientSecretFile: %q, PrivateKey: ",
		c.Issuer, c.TokenURL, c.ClientID, redacted(c.ClientSecret != ""), c.ClientSecretFile)
	if c.PrivateKey == nil {
		b.WriteString("<nil>")
	} else {
		fmt.Fprintf(&b, "%s(%T)", headers.Redacted, c.PrivateKey)
	}
	fmt.Fprintf(&b, ", PrivateKeyFile: %q, KeyID: %q, AssertionAudience: %q, AuthMethod: %q, Scopes: %q, Audience: %q, Resource: %q, AllowHTTP: %t}",
		c.PrivateKeyFile, c.KeyID, c.AssertionAudience, c.AuthMethod, c.Scopes, c.Audience, c.Resource, c.AllowHTTP)
	return b.String()
}

func redacted(set bool) string {
	if set {
		return headers.Redacted
	}
	return `""`
}

// GoString describes c without its secrets, for %#v.
func (c Config) GoString() string { return "oidc." + c.String() }

// Format prints c as String does (GoString for %#v) whatever the verb, so
// that no verb prints a secret.
func (c Config) Format(f fmt.State, verb rune) {
	redact.Format(f, verb, c)
}

// LogValue describes c for log/slog without its secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("issuer", c.Issuer),
		slog.String("token_url", c.TokenURL),
		slog.String("client_id", c.ClientID),
		slog.String("client_secret", strings.Trim(redacted(c.ClientSecret != ""), `"`)),
		slog.String("client_secret_file", c.ClientSecretFile),
		slog.String("private_key_file", c.PrivateKeyFile),
		slog.String("auth_method", c.AuthMethod),
		slog.Any("scopes", c.Scopes),
	)
}
