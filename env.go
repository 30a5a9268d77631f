package temporalauth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/temporalauth/temporalauth/azure"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/jwtkey"
	"github.com/temporalauth/temporalauth/static"
)

// The environment variables FromEnv reads, besides the AZURE_ variables
// that azure.ConfigFromLookup reads. The README's table documents each.
const (
	EnvProvider         = "TEMPORAL_AUTH_PROVIDER"
	EnvLeeway           = "TEMPORAL_AUTH_REGEN_LEEWAY"
	EnvKeyFile          = "TEMPORAL_JWT_PRIVATE_KEY_FILE"
	EnvKey              = "TEMPORAL_JWT_PRIVATE_KEY"
	EnvKeyID            = "TEMPORAL_JWT_KEY_ID"
	EnvPermissions      = "TEMPORAL_JWT_PERMISSIONS"
	EnvPermissionsClaim = "TEMPORAL_JWT_PERMISSIONS_CLAIM"
	EnvSubject          = "TEMPORAL_JWT_SUBJECT"
	EnvIssuer           = "TEMPORAL_JWT_ISSUER"
	EnvAudience         = "TEMPORAL_JWT_AUDIENCE"
	EnvExpiration       = "TEMPORAL_JWT_EXPIRATION"
	EnvToken            = "TEMPORAL_AUTH_TOKEN"
	EnvTokenFile        = "TEMPORAL_AUTH_TOKEN_FILE"
	EnvScope            = "TEMPORAL_AUTH_SCOPE"
)

// The values of TEMPORAL_AUTH_PROVIDER, also returned by [Auth.Kind].
const (
	kindJWT    = "jwt"
	kindAzure  = "azure"
	kindStatic = "static"
	kindNone   = "none"
)

// Variables that select a provider when TEMPORAL_AUTH_PROVIDER is unset, and
// that are refused when TEMPORAL_AUTH_PROVIDER names another provider. The
// first set variable of a list is the one errors name.
var (
	jwtVars    = []string{EnvKeyFile, EnvKey, EnvKeyID, EnvPermissions, EnvPermissionsClaim, EnvSubject, EnvIssuer, EnvAudience, EnvExpiration}
	staticVars = []string{EnvTokenFile, EnvToken}
	azureVars  = []string{EnvScope}
)

// azureTriggers are the Azure SDK's variables (and AZURE_MANAGED_IDENTITY)
// that select the azure provider when TEMPORAL_AUTH_PROVIDER is unset.
// Azure platforms set some of them for other purposes (AKS workload
// identity injects AZURE_CLIENT_ID, AZURE_TENANT_ID and
// AZURE_FEDERATED_TOKEN_FILE), so they are ignored, not refused, when
// TEMPORAL_AUTH_PROVIDER names another provider. AZURE_AUTHORITY_HOST only
// modifies the others and selects nothing.
var azureTriggers = []string{
	"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET",
	"AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CLIENT_CERTIFICATE_PASSWORD",
	"AZURE_FEDERATED_TOKEN_FILE", "AZURE_MANAGED_IDENTITY",
}

// reservedClaims are the claim names the JWT signer sets itself, which
// TEMPORAL_JWT_PERMISSIONS_CLAIM cannot take (jwtkey.NewTokenSource refuses them).
var reservedClaims = []string{"sub", "iss", "aud", "exp", "iat", "nbf", "kid", "alg", "typ"}

// defaultLeeway describes the leeway a headers.Provider uses when none is set.
const defaultLeeway = "default(min(5m,lifetime/4))"

// EnvOptions configure [Load] and [LoadClientOptions]. The zero value reads
// the process environment and logs to slog.Default().
type EnvOptions struct {
	// Lookup reads one variable, as os.LookupEnv does. Nil means
	// os.LookupEnv. Set it to read settings kept elsewhere, or in tests.
	Lookup func(name string) (value string, ok bool)

	// Environ lists the variables as "NAME=value" pairs, as os.Environ
	// does; LoadClientOptions scans it for TEMPORAL_GRPC_META_* headers.
	// Nil means os.Environ when Lookup is nil too, and no variables when
	// Lookup is set.
	Environ func() []string

	// Logger receives start-up warnings (a private key file that group or
	// others can read, a TEMPORAL_GRPC_META_AUTHORIZATION header that the
	// token replaces) and the provider's records (see headers.Options).
	// Provider.Logger, when set, is used instead. Nil means slog.Default().
	Logger *slog.Logger

	// Provider are the options of the headers.Provider behind the chosen
	// provider: set Clock, OnRefresh (metrics) or RefreshTimeout here.
	// TEMPORAL_AUTH_REGEN_LEEWAY, when set, replaces Provider.Leeway, and
	// Provider.Name, when empty, is set to describe the source.
	Provider headers.Options

	// HTTPClient sends the azure provider's requests to the identity
	// provider, e.g. through a proxy or with a private CA. Nil means the
	// azure package's default.
	HTTPClient *http.Client
}

// lookup returns o's variable reader, which trims values of surrounding
// white space.
func (o EnvOptions) lookup() func(string) (string, bool) {
	get := o.Lookup
	if get == nil {
		get = os.LookupEnv
	}
	return func(name string) (string, bool) {
		v, ok := get(name)
		return strings.TrimSpace(v), ok
	}
}

// environ returns the variables as "NAME=value" pairs with values trimmed.
func (o EnvOptions) environ() []string {
	list := o.Environ
	if list == nil {
		if o.Lookup != nil {
			return nil
		}
		list = os.Environ
	}
	vars := list()
	out := make([]string, 0, len(vars))
	for _, kv := range vars {
		name, value, _ := strings.Cut(kv, "=")
		out = append(out, name+"="+strings.TrimSpace(value))
	}
	return out
}

// logger returns the logger for start-up warnings: Provider.Logger, else
// Logger, else slog.Default().
func (o EnvOptions) logger() *slog.Logger {
	switch {
	case o.Provider.Logger != nil:
		return o.Provider.Logger
	case o.Logger != nil:
		return o.Logger
	}
	return slog.Default()
}

// FromEnv returns the token provider the process environment configures;
// see [Load] for how it is chosen. Call Close on it when done.
func FromEnv() (*Auth, error) { return Load(EnvOptions{}) }

// FromLookup is [FromEnv] reading variables through lookup, such as
// os.LookupEnv or a map's lookup in tests.
func FromLookup(lookup func(string) (string, bool)) (*Auth, error) {
	if lookup == nil {
		return nil, errors.New("temporalauth: FromLookup: lookup is nil")
	}
	return Load(EnvOptions{Lookup: lookup})
}

// Load returns the token provider that the environment configures.
//
// TEMPORAL_AUTH_PROVIDER chooses it: jwt (tokens signed with a local
// private key), azure (Microsoft Entra ID tokens through MSAL), static (a
// fixed token or a token file) or none (no authorization header). When it
// is unset, the variables present choose: TEMPORAL_JWT_* select jwt;
// TEMPORAL_AUTH_SCOPE or AZURE_CLIENT_ID, AZURE_TENANT_ID,
// AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH,
// AZURE_CLIENT_CERTIFICATE_PASSWORD, AZURE_FEDERATED_TOKEN_FILE or
// AZURE_MANAGED_IDENTITY select azure; TEMPORAL_AUTH_TOKEN or
// TEMPORAL_AUTH_TOKEN_FILE select static; none of them selects none.
// Variables of two providers are an error that names one of each: set
// TEMPORAL_AUTH_PROVIDER to choose. When TEMPORAL_AUTH_PROVIDER is set, a
// TEMPORAL_ variable of another provider is an error too, while AZURE_
// variables, which Azure platforms set for their own purposes, are ignored.
//
// Every value is trimmed of surrounding white space, and a variable that is
// empty after trimming counts as unset. Lists are comma-separated, with
// white space around the entries ignored and no empty entry. Durations are
// Go durations such as 30s, 5m or 1h30m, and must be positive. Errors name
// the variable at fault and what it expected; they never contain a token,
// a private key or a client secret.
//
// Load reads key, certificate and token files and builds the provider, but
// fetches no token: the azure provider contacts the identity provider at
// the first GetHeaders. Call Close on the result when done.
func Load(o EnvOptions) (*Auth, error) {
	s, err := parseEnv(o.lookup())
	if err != nil {
		return nil, err
	}
	return s.build(o)
}

// settings are the parsed variables. They hold secrets (a token, a PEM key,
// an Azure client secret), so Format prints only the provider chosen.
type settings struct {
	kind    string
	because string // the variable that chose kind, e.g. "TEMPORAL_AUTH_PROVIDER=jwt"
	auto    bool   // kind was chosen from the variables present
	leeway  time.Duration

	// jwt
	keyFile     string
	keyPEM      func() string
	keyID       string
	permissions []string
	claim       string
	subject     string
	issuer      string
	audience    []string
	expiration  time.Duration

	// azure
	azure azure.Config

	// static
	token     func() string
	tokenFile string
}

// Format prints the provider chosen, whatever the verb, never a secret.
func (s settings) Format(f fmt.State, _ rune) {
	_, _ = fmt.Fprintf(f, "temporalauth.settings{%s, chosen by %s}", s.kind, s.because)
}

// parseEnv reads and checks the variables without touching files or the
// network.
func parseEnv(lookup func(string) (string, bool)) (*settings, error) {
	get := func(name string) string {
		v, _ := lookup(name)
		return v
	}
	firstSet := func(names []string) string {
		for _, n := range names {
			if get(n) != "" {
				return n
			}
		}
		return ""
	}

	s := &settings{}
	if v := get(EnvLeeway); v != "" {
		d, err := parseDuration(EnvLeeway, v)
		if err != nil {
			return nil, err
		}
		s.leeway = d
	}

	jwtVar, staticVar := firstSet(jwtVars), firstSet(staticVars)
	azureVar := firstSet(azureVars)
	switch p := strings.ToLower(get(EnvProvider)); p {
	case kindJWT, kindAzure, kindStatic, kindNone:
		s.kind, s.because = p, EnvProvider+"="+p
		for _, other := range []struct{ kind, name string }{
			{kindJWT, jwtVar}, {kindStatic, staticVar}, {kindAzure, azureVar},
		} {
			if other.name != "" && other.kind != p {
				return nil, fmt.Errorf("temporalauth: %s is set, but %s=%s: unset it (it configures the %s provider), or choose %s=%s",
					other.name, EnvProvider, p, other.kind, EnvProvider, other.kind)
			}
		}
	case "":
		s.auto = true
		if azureVar == "" {
			azureVar = firstSet(azureTriggers)
		}
		var found []string
		for _, c := range []struct{ kind, name string }{
			{kindJWT, jwtVar}, {kindAzure, azureVar}, {kindStatic, staticVar},
		} {
			if c.name != "" {
				s.kind, s.because = c.kind, c.name
				found = append(found, fmt.Sprintf("%s (%s is set)", c.kind, c.name))
			}
		}
		switch len(found) {
		case 0:
			s.kind, s.because = kindNone, "no provider variable is set"
			return s, nil
		case 1:
		default:
			return nil, fmt.Errorf("temporalauth: variables of more than one provider are set: %s; set %s to the one to use, or unset the others",
				strings.Join(found, " and "), EnvProvider)
		}
	default:
		return nil, fmt.Errorf("temporalauth: %s=%s: want jwt, azure, static or none, or leave it unset to choose from the variables present",
			EnvProvider, quote(get(EnvProvider)))
	}

	var err error
	switch s.kind {
	case kindJWT:
		err = s.parseJWT(get)
	case kindAzure:
		s.azure, err = azure.ConfigFromLookup(lookup)
		if err != nil {
			err = s.chosen(err)
		}
	case kindStatic:
		err = s.parseStatic(get)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// chosen adds to an error of the chosen provider why it was chosen, when
// the variables present chose it.
func (s *settings) chosen(err error) error {
	if !s.auto {
		return fmt.Errorf("temporalauth: %s provider: %w", s.kind, err)
	}
	if s.kind == kindAzure {
		// Azure platforms set AZURE_ variables for their own purposes.
		return fmt.Errorf("temporalauth: %s provider (chosen because %s is set; set %s to choose another): %w",
			s.kind, s.because, EnvProvider, err)
	}
	return fmt.Errorf("temporalauth: %s provider (chosen because %s is set): %w", s.kind, s.because, err)
}

func (s *settings) parseJWT(get func(string) string) error {
	s.keyFile = get(EnvKeyFile)
	pemKey := get(EnvKey)
	switch {
	case s.keyFile != "" && pemKey != "":
		return s.chosen(fmt.Errorf("%s and %s are both set: give the private key one way", EnvKeyFile, EnvKey))
	case s.keyFile == "" && pemKey == "":
		return s.chosen(fmt.Errorf("no private key: set %s to a PEM private key file, or %s to the PEM key itself", EnvKeyFile, EnvKey))
	}
	if pemKey != "" {
		if !strings.Contains(pemKey, "\n") {
			// One-line settings (docker --env-file, some CI secret stores)
			// carry PEM line breaks as the two characters \n.
			pemKey = strings.ReplaceAll(pemKey, `\n`, "\n")
		}
		s.keyPEM = func() string { return pemKey }
	}
	if s.keyID = get(EnvKeyID); s.keyID != "" {
		if s.keyFile != "" {
			return s.chosen(fmt.Errorf("%s cannot be used with %s: a key file may be replaced, and its kid must change with it, so the key's thumbprint is the kid (publish the key with that kid)",
				EnvKeyID, EnvKeyFile))
		}
		if strings.ContainsFunc(s.keyID, isSpaceOrControl) {
			return s.chosen(fmt.Errorf("%s=%s contains white space or a control character", EnvKeyID, quote(s.keyID)))
		}
	}
	perms, err := parseList(EnvPermissions, get(EnvPermissions), "default:write,temporal-system:read")
	if err != nil {
		return s.chosen(err)
	}
	for i, p := range perms {
		perm, err := jwtkey.ParsePermission(p)
		if err != nil {
			return s.chosen(fmt.Errorf("%s: entry %d: %s", EnvPermissions, i+1, strings.TrimPrefix(err.Error(), "headers: ")))
		}
		s.permissions = append(s.permissions, perm.String())
	}
	if s.claim = get(EnvPermissionsClaim); s.claim != "" {
		for _, r := range reservedClaims {
			if s.claim == r {
				return s.chosen(fmt.Errorf("%s=%s: the signer sets the %q claim itself; name another claim, such as permissions (the default) or roles",
					EnvPermissionsClaim, quote(s.claim), r))
			}
		}
	}
	s.subject, s.issuer = get(EnvSubject), get(EnvIssuer)
	if s.audience, err = parseList(EnvAudience, get(EnvAudience), "temporal-server"); err != nil {
		return s.chosen(err)
	}
	if v := get(EnvExpiration); v != "" {
		if s.expiration, err = parseDuration(EnvExpiration, v); err != nil {
			return s.chosen(err)
		}
		if s.expiration < time.Second {
			return s.chosen(fmt.Errorf("%s=%s: must be at least 1s", EnvExpiration, quote(v)))
		}
	}
	if s.leeway > 0 {
		switch {
		case s.expiration == 0 && s.leeway >= jwtkey.DefaultExpiration:
			return s.chosen(fmt.Errorf("%s=%s must be shorter than the token lifetime, by default %s (set %s for a longer one)",
				EnvLeeway, s.leeway, jwtkey.DefaultExpiration, EnvExpiration))
		case s.expiration > 0 && s.leeway >= s.expiration:
			return s.chosen(fmt.Errorf("%s=%s must be shorter than the token lifetime %s=%s",
				EnvLeeway, s.leeway, EnvExpiration, s.expiration))
		}
	}
	return nil
}

func (s *settings) parseStatic(get func(string) string) error {
	s.tokenFile = get(EnvTokenFile)
	token := get(EnvToken)
	switch {
	case s.tokenFile != "" && token != "":
		return s.chosen(fmt.Errorf("%s and %s are both set: give the token one way", EnvTokenFile, EnvToken))
	case s.tokenFile == "" && token == "":
		return s.chosen(fmt.Errorf("no token: set %s to a file holding the token, or %s to the token itself", EnvTokenFile, EnvToken))
	}
	if token != "" {
		if _, err := static.ParseToken(token); err != nil {
			return s.chosen(fmt.Errorf("%s: %w", EnvToken, err))
		}
		s.token = func() string { return token }
	}
	return nil
}

// parseDuration reads a positive Go duration from variable name.
func parseDuration(name, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("temporalauth: %s=%s: not a duration; want a Go duration such as 30s, 5m or 1h30m (with its unit)", name, quote(v))
	}
	if d <= 0 {
		return 0, fmt.Errorf("temporalauth: %s=%s: must be positive", name, quote(v))
	}
	return d, nil
}

// parseList splits a comma-separated list, trimming its entries; an empty
// entry is an error. example shows a valid value.
func parseList(name, v, example string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
		if parts[i] == "" {
			return nil, fmt.Errorf("%s: entry %d of %d is empty; want a comma-separated list such as %s", name, i+1, len(parts), example)
		}
	}
	return parts, nil
}

// quote quotes a non-secret value for an error message, cut short if long.
func quote(v string) string {
	const max = 64
	if len(v) > max {
		return fmt.Sprintf("%q...", v[:max])
	}
	return fmt.Sprintf("%q", v)
}

func isSpaceOrControl(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// build makes the provider s describes.
func (s *settings) build(o EnvOptions) (*Auth, error) {
	opts := o.Provider
	if opts.Logger == nil {
		opts.Logger = o.Logger
	}
	if s.leeway > 0 {
		opts.Leeway = s.leeway
	}
	a := &Auth{kind: s.kind, leeway: opts.Leeway}
	var err error
	switch s.kind {
	case kindNone:
		return a, nil
	case kindJWT:
		err = s.buildJWT(a, opts, o.logger())
	case kindAzure:
		cfg := s.azure
		cfg.HTTPClient = o.HTTPClient
		a.azure = cfg
		a.provider, err = azure.NewProvider(cfg, opts)
		if err != nil {
			err = s.chosen(err)
		}
	case kindStatic:
		err = s.buildStatic(a, opts)
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

func (s *settings) buildJWT(a *Auth, opts headers.Options, log *slog.Logger) error {
	cfg := jwtkey.Config{
		KeyFile:          s.keyFile,
		KeyID:            s.keyID,
		Subject:          s.subject,
		Issuer:           s.issuer,
		Audience:         s.audience,
		Permissions:      s.permissions,
		PermissionsClaim: s.claim,
		Expiration:       s.expiration,
	}
	if opts.Clock != nil {
		cfg.Clock = opts.Clock
	}
	keyVar := EnvKeyFile
	if s.keyPEM != nil {
		keyVar = EnvKey
		key, err := jwtkey.ParsePrivateKeyPEM([]byte(s.keyPEM()))
		if err != nil {
			return s.chosen(fmt.Errorf("%s: %s", EnvKey, strings.TrimPrefix(err.Error(), "headers: ")))
		}
		cfg.Key = key
	}
	// The other settings were checked by parseJWT: what fails here is the key.
	signer, err := jwtkey.NewTokenSource(cfg)
	if err != nil {
		return s.chosen(fmt.Errorf("%s: %w", keyVar, err))
	}
	exp := cfg.Expiration
	if exp == 0 {
		exp = jwtkey.DefaultExpiration
	}
	if opts.Leeway >= exp {
		return s.chosen(fmt.Errorf("EnvOptions.Provider.Leeway %s must be shorter than the token lifetime %s=%s", opts.Leeway, EnvExpiration, exp))
	}
	if opts.Name == "" {
		if s.keyFile != "" {
			opts.Name = "jwt signer file=" + s.keyFile
		} else {
			opts.Name = "jwt signer kid=" + signer.KeyID()
		}
	}
	if s.keyFile != "" {
		if err := jwtkey.CheckKeyFilePermissions(s.keyFile); err != nil {
			log.Warn("temporalauth: private key file permissions are too open",
				slog.String("variable", EnvKeyFile), slog.Any("error", err))
		}
	}
	a.signer, a.jwt = signer, cfg
	a.jwt.Key, a.jwt.Clock = nil, nil
	a.jwt.Expiration = exp
	a.provider = headers.New(signer, opts)
	return nil
}

func (s *settings) buildStatic(a *Auth, opts headers.Options) error {
	if s.tokenFile != "" {
		p, err := static.NewFileProvider(s.tokenFile, static.FileOptions{}, opts)
		if err != nil {
			return s.chosen(fmt.Errorf("%s: %w", EnvTokenFile, err))
		}
		a.provider, a.tokenFile, a.poll = p, s.tokenFile, static.DefaultPollInterval
		return nil
	}
	if opts.Name == "" {
		opts.Name = EnvToken
	}
	tok, err := static.ParseToken(s.token())
	if err != nil { // parseEnv checked it
		return s.chosen(fmt.Errorf("%s: %w", EnvToken, err))
	}
	p, err := static.NewFixedProvider(s.token(), opts)
	if err != nil {
		return s.chosen(err)
	}
	a.provider, a.tokenExpiry = p, tok.Expiry
	return nil
}
