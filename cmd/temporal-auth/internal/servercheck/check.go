package servercheck

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// A Severity grades a Finding.
type Severity int

// Severities, mildest first.
const (
	// Info is advice.
	Info Severity = iota + 1
	// Warning is a risk to availability, or a check weaker than it looks.
	Warning
	// Critical is an open door (callers the operator never meant to admit
	// get in) or a configuration the server does not run as written.
	Critical
)

// String names s as printed.
func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "WARNING"
	case Critical:
		return "CRITICAL"
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// A Finding is one problem of a configuration.
type Finding struct {
	// ID is a stable short name, e.g. "no-audience".
	ID string
	// Severity grades the finding.
	Severity Severity
	// Setting is the setting at fault, as the source spells it.
	Setting string
	// Problem says what is wrong, Risk what can happen, Fix what to change.
	Problem, Risk, Fix string
}

// Finding IDs.
const (
	IDAuthorizerOff      = "authorizer-off"
	IDClaimMapperOff     = "claim-mapper-off"
	IDUnknownAuthorizer  = "unknown-authorizer"
	IDUnknownClaimMapper = "unknown-claim-mapper"
	IDNoKeySource        = "no-key-source"
	IDPlainHTTPKeys      = "plain-http-key-source"
	IDBadKeySource       = "bad-key-source"
	IDNoRefresh          = "no-refresh-interval"
	IDUnitlessRefresh    = "unitless-refresh-interval"
	IDLongRefresh        = "long-refresh-interval"
	IDNoAudienceShared   = "no-audience-shared-keys"
	IDNoAudience         = "no-audience"
	IDAudienceNotAppID   = "audience-not-app-id"
	IDBadRegex           = "permissions-regex-invalid"
	IDRegexGroups        = "permissions-regex-groups"
	IDEntraClaimName     = "entra-permissions-claim"
)

// entraHosts are the hosts of Entra ID's key sets in its clouds. Entra ID
// signs every tenant's tokens with the same keys and serves them under every
// tenant's URL.
var entraHosts = []string{
	"login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn",
	"login.partner.microsoftonline.cn", "sts.windows.net",
}

// appIDPattern matches an Entra application (client) ID.
var appIDPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// longRefresh is the refresh interval past which a key rotation is felt:
// tokens signed with a new key are refused until the server's next refresh.
const longRefresh = 5 * time.Minute

// Check lints c and returns its findings, most severe first.
func Check(c *Config) []Finding {
	var out []Finding
	add := func(f Finding) { out = append(out, f) }
	claimMapperOn := strings.EqualFold(c.ClaimMapper, "default")

	// The authorizer and the claim mapper: both must be "default".
	switch {
	case c.Authorizer == "":
		add(Finding{ID: IDAuthorizerOff, Severity: Critical, Setting: c.Name(SettingAuthorizer),
			Problem: "empty: the server uses its no-op authorizer",
			Risk:    "every call is allowed, with or without a token: JWT authorization is not enforced at all",
			Fix:     fmt.Sprintf("set %s to default", c.Name(SettingAuthorizer))})
	case !strings.EqualFold(c.Authorizer, "default"):
		add(Finding{ID: IDUnknownAuthorizer, Severity: Critical, Setting: c.Name(SettingAuthorizer),
			Problem: fmt.Sprintf("%q is not an authorizer of the stock server", c.Authorizer),
			Risk:    "the server refuses to start (\"unknown authorizer\")",
			Fix:     fmt.Sprintf("set %s to default (or build the server with your authorizer and set none here)", c.Name(SettingAuthorizer))})
	}
	switch {
	case c.ClaimMapper == "":
		add(Finding{ID: IDClaimMapperOff, Severity: Critical, Setting: c.Name(SettingClaimMapper),
			Problem: "empty: the server uses its no-op claim mapper",
			Risk:    "the no-op claim mapper gives every caller temporal-system:admin and reads no token: JWT authorization is not enforced at all",
			Fix:     fmt.Sprintf("set %s to default", c.Name(SettingClaimMapper))})
	case !claimMapperOn:
		add(Finding{ID: IDUnknownClaimMapper, Severity: Critical, Setting: c.Name(SettingClaimMapper),
			Problem: fmt.Sprintf("%q is not a claim mapper of the stock server", c.ClaimMapper),
			Risk:    "the server refuses to start (\"unknown claim mapper\")",
			Fix:     fmt.Sprintf("set %s to default (or build the server with your claim mapper and set none here)", c.Name(SettingClaimMapper))})
	}

	// The key sources.
	shared := ""
	if len(c.KeySourceURIs) == 0 && claimMapperOn {
		add(Finding{ID: IDNoKeySource, Severity: Warning, Setting: c.Name(SettingKeySources),
			Problem: "no key source",
			Risk:    "the server can verify no token: every call with a token is refused",
			Fix:     fmt.Sprintf("set %s to your identity provider's JWKS URL", c.Name(SettingKeySources))})
	}
	for _, raw := range c.KeySourceURIs {
		u, err := url.Parse(raw)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file"):
			add(Finding{ID: IDBadKeySource, Severity: Warning, Setting: c.Name(SettingKeySources),
				Problem: fmt.Sprintf("%q is not an http, https or file URL", raw),
				Risk:    "the server cannot fetch it: tokens signed with its keys are refused",
				Fix:     "give the JWKS URL of your identity provider (https://...)"})
			continue
		case u.Scheme == "http" && !isLoopback(u.Hostname()):
			add(Finding{ID: IDPlainHTTPKeys, Severity: Critical, Setting: c.Name(SettingKeySources),
				Problem: fmt.Sprintf("%q is fetched over plain HTTP from a host that is not loopback", raw),
				Risk:    "anyone on the network path can answer with their own keys and sign tokens the server accepts, temporal-system:admin included",
				Fix:     "serve the JWKS over https (plain http only on 127.0.0.1 / ::1 / localhost)"})
		}
		if shared == "" && slices.Contains(entraHosts, strings.ToLower(u.Hostname())) && !u.Query().Has("appid") {
			shared = raw
		}
	}

	// The audience.
	switch {
	case c.Audience == "" && shared != "":
		fix := fmt.Sprintf("set %s to the server app's application (client) ID, a GUID, and set accessTokenAcceptedVersion to 2 in the app's manifest, so that its tokens carry that GUID as aud; keep the app single-tenant", c.Name(SettingAudience))
		if !c.AudienceSettable {
			fix = "the Docker image's config template has no variable for the audience: mount a configuration file of your own with global.authorization.audience set to the server app's application (client) ID, and accessTokenAcceptedVersion 2 in the app's manifest"
		}
		add(Finding{ID: IDNoAudienceShared, Severity: Critical, Setting: c.Name(SettingAudience),
			Problem: fmt.Sprintf("no audience, and the key source %q is Microsoft Entra ID's, whose keys sign the tokens of every tenant", shared),
			Risk:    "anyone can create an Entra tenant, an app with an app role named temporal-system:admin, and a client-credentials token the server accepts: the stock server never reads iss or tid",
			Fix:     fix})
	case c.Audience == "" && len(c.KeySourceURIs) > 0:
		add(Finding{ID: IDNoAudience, Severity: Warning, Setting: c.Name(SettingAudience),
			Problem: "no audience",
			Risk:    "your identity provider signs tokens for its other APIs with the same keys: any of them whose permissions claim holds roles the server understands is accepted",
			Fix:     fmt.Sprintf("set %s to the audience your identity provider writes in the Temporal server's tokens", c.Name(SettingAudience))})
	case c.Audience != "" && shared != "" && !appIDPattern.MatchString(c.Audience):
		add(Finding{ID: IDAudienceNotAppID, Severity: Warning, Setting: c.Name(SettingAudience),
			Problem: fmt.Sprintf("%q is not an application ID, and the key source %q is Microsoft Entra ID's", c.Audience, shared),
			Risk:    "an Application ID URI is unique only within a tenant: another tenant may register the same one and get v1.0 tokens carrying it, signed with the same keys",
			Fix:     fmt.Sprintf("set %s to the server app's application (client) ID, with accessTokenAcceptedVersion 2 in the app's manifest", c.Name(SettingAudience))})
	}

	// The refresh interval.
	if len(c.KeySourceURIs) > 0 {
		switch {
		case !c.RefreshSet || c.RefreshInterval == 0:
			add(Finding{ID: IDNoRefresh, Severity: Warning, Setting: c.Name(SettingRefresh),
				Problem: "no refresh interval: the server fetches its keys once, at start",
				Risk:    "when the identity provider rotates its signing key (Entra ID does so without notice), every new token is refused with PERMISSION_DENIED \"Request unauthorized.\" until the server restarts",
				Fix:     fmt.Sprintf("set %s to 1m (a duration with its unit)", c.Name(SettingRefresh))})
		case c.RefreshInterval < time.Second:
			add(Finding{ID: IDUnitlessRefresh, Severity: Warning, Setting: c.Name(SettingRefresh),
				Problem: fmt.Sprintf("%s is %v: a number without a unit is read as nanoseconds", c.RefreshRaw, c.RefreshInterval),
				Risk:    "the server fetches its keys continuously, loading itself and the identity provider, which may throttle it",
				Fix:     fmt.Sprintf("write %s with its unit, e.g. 1m", c.Name(SettingRefresh))})
		case c.RefreshInterval > longRefresh:
			add(Finding{ID: IDLongRefresh, Severity: Info, Setting: c.Name(SettingRefresh),
				Problem: fmt.Sprintf("%v: a new signing key is learned up to %v after the identity provider starts using it", c.RefreshInterval, c.RefreshInterval),
				Risk:    "tokens signed with the new key are refused until then; temporalauth clients fall back to their previous token only while it is valid (a leeway above the interval: TEMPORAL_AUTH_REGEN_LEEWAY)",
				Fix:     fmt.Sprintf("set %s to 1m to 5m", c.Name(SettingRefresh))})
		}
	}

	// The permissions mapping.
	if c.PermissionsRegex != "" {
		re, err := regexp.Compile(c.PermissionsRegex)
		switch {
		case err != nil:
			add(Finding{ID: IDBadRegex, Severity: Critical, Setting: c.Name(SettingRegex),
				Problem: fmt.Sprintf("%q does not compile: %v", c.PermissionsRegex, err),
				Risk:    "the server logs a warning and reads every entry as <namespace>:<role> instead: entries the regex was meant to leave out grant roles",
				Fix:     "fix the regular expression (Go syntax, RE2)"})
		case !slices.Contains(re.SubexpNames(), "namespace") || !slices.Contains(re.SubexpNames(), "role"):
			add(Finding{ID: IDRegexGroups, Severity: Critical, Setting: c.Name(SettingRegex),
				Problem: fmt.Sprintf("%q lacks the named group(s) %s", c.PermissionsRegex, missingGroups(re.SubexpNames())),
				Risk:    "the server ignores the regex (\"permissions regex does not have namespace or role named group\") and reads every entry as <namespace>:<role>: entries the regex was meant to leave out grant roles",
				Fix:     "name the groups (?P<namespace>...) and (?P<role>...)"})
		}
	}
	if shared != "" && claimMapperOn && (c.PermissionsClaimName == "" || c.PermissionsClaimName == "permissions") {
		add(Finding{ID: IDEntraClaimName, Severity: Warning, Setting: c.Name(SettingClaimName),
			Problem: "the permissions claim is \"permissions\", and Entra ID puts app roles in \"roles\"",
			Risk:    "Entra ID tokens grant no role: every call is refused",
			Fix:     fmt.Sprintf("set %s to roles", c.Name(SettingClaimName))})
	}
	slices.SortStableFunc(out, func(a, b Finding) int { return int(b.Severity) - int(a.Severity) })
	return out
}

func missingGroups(names []string) string {
	var missing []string
	for _, g := range []string{"namespace", "role"} {
		if !slices.Contains(names, g) {
			missing = append(missing, fmt.Sprintf("%q", g))
		}
	}
	return strings.Join(missing, " and ")
}

// isLoopback reports whether host is a loopback address or localhost.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// HasCritical reports whether any finding is Critical.
func HasCritical(fs []Finding) bool {
	return slices.ContainsFunc(fs, func(f Finding) bool { return f.Severity == Critical })
}
