package inspect

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// EntraV1IssuerPrefix starts the issuer of Microsoft Entra ID's v1.0 access
// tokens, https://sts.windows.net/<tenant-id>/, whatever the authority host.
const EntraV1IssuerPrefix = "https://sts.windows.net/"

// EntraAuthorityHost is Entra ID's authority host in the global cloud.
const EntraAuthorityHost = "login.microsoftonline.com"

// entraHosts are the hosts of Entra ID's token issuers and key sets in its
// clouds: the global cloud, US Government and China (21Vianet).
var entraHosts = []string{
	EntraAuthorityHost, "sts.windows.net",
	"login.microsoftonline.us", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn", "sts.chinacloudapi.cn",
}

// guid matches an Entra application or tenant ID.
var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// EntraIssuers returns the two issuers of an Entra ID tenant's access
// tokens: v1.0 https://sts.windows.net/<tenant>/ and v2.0
// <authority>/v2.0. tenant is a tenant ID, for the global cloud's
// authority https://login.microsoftonline.com/<tenant>, or an authority URL
// https://<host>/<tenant> (another cloud, or a test identity provider).
func EntraIssuers(tenant string) ([]string, error) {
	authority := "https://" + EntraAuthorityHost + "/" + tenant
	id := tenant
	if strings.Contains(tenant, "://") {
		u, err := url.Parse(strings.TrimSuffix(tenant, "/"))
		if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("Entra tenant %q: want a tenant ID or an authority URL https://<host>/<tenant-id>", tenant)
		}
		id = strings.TrimPrefix(u.Path, "/")
		authority = u.Scheme + "://" + u.Host + "/" + id
	}
	switch lower := strings.ToLower(id); {
	case id == "" || strings.ContainsAny(id, "/?#% "):
		return nil, fmt.Errorf("Entra tenant %q: want a tenant ID (a GUID) or an authority URL https://<host>/<tenant-id>", tenant)
	case lower == "common" || lower == "organizations" || lower == "consumers":
		return nil, fmt.Errorf("Entra tenant %q: %q names no tenant (its tokens carry the issuing tenant's ID); give your tenant's ID", tenant, id)
	}
	return []string{EntraV1IssuerPrefix + id + "/", authority + "/v2.0"}, nil
}

// isEntraHost reports whether rawURL is on a host of Entra ID.
func isEntraHost(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && slices.Contains(entraHosts, strings.ToLower(u.Hostname()))
}

// sharedKeys says why the token's signing keys are known to sign the tokens
// of other tenants too, or "" when they are not known to.
func (a *analysis) sharedKeys() string {
	iss, _ := a.claims["iss"].(string)
	tid, _ := a.claims["tid"].(string)
	switch {
	case isEntraHost(iss):
		return fmt.Sprintf("iss %q is Microsoft Entra ID's", iss)
	case a.opts.KeySet != nil && isEntraHost(a.opts.KeySet.Source):
		return fmt.Sprintf("the JWKS %s is Microsoft Entra ID's", a.opts.KeySet.Source)
	case tid != "" && strings.Contains(iss, "/"+tid+"/"):
		return fmt.Sprintf("iss %q names the tenant of \"tid\", as Entra ID's issuers do", iss)
	}
	return ""
}

// checkIssuer shows iss and tid, checks iss against Options.Issuers as
// serverauth does, and warns when the token's keys sign other tenants'
// tokens too while no audience is checked.
func (a *analysis) checkIssuer() {
	v, present := a.claims["iss"]
	iss, isString := v.(string)
	allowed := a.opts.Issuers
	switch {
	case len(allowed) == 0 && present:
		a.add(Info, "iss", "%s (the stock claim mapper never reads it; give --issuer to check it as serverauth does)", compactJSON(v))
	case len(allowed) == 0: // nothing to show
	case !present:
		a.fail("iss", "no iss", "not set: serverauth refuses a token whose iss is not one its key source allows (%s)", quoteAll(allowed))
	case !isString:
		a.fail("iss", "iss is not a string", "iss is a %s: serverauth refuses the token", jsonType(v))
	case slices.Contains(allowed, iss):
		a.add(OK, "iss", "%q is an allowed issuer (exact match)", iss)
	default:
		a.fail("iss", fmt.Sprintf("iss %q is not allowed", truncate(iss, 80)),
			"%q is not an allowed issuer (%s; compared exactly, trailing slash included): serverauth refuses the token", iss, quoteAll(allowed))
	}
	if tid, ok := a.claims["tid"]; ok {
		a.add(Info, "tid", "%s: the Entra ID tenant that issued the token", compactJSON(tid))
	}

	why := a.sharedKeys()
	if why == "" {
		return
	}
	if a.opts.Audience == "" {
		a.add(Warning, "tenant", "%s: its keys sign the tokens of every Entra ID tenant. A server that checks no audience accepts "+
			"a token from any tenant whose app carries a role it understands (anyone can create a tenant and an app role named "+
			"temporal-system:admin). Set the server's audience to the server app's application (client) ID, with the app's "+
			"accessTokenAcceptedVersion 2, and check this token with --audience <application-id>", why)
		return
	}
	if !guid.MatchString(a.opts.Audience) {
		a.add(Warning, "tenant", "%s, and the audience %q is not an application ID: an Application ID URI is unique only within "+
			"a tenant, so any other tenant may register the same one and get tokens for it signed with the same keys. "+
			"Use the server app's application (client) ID with accessTokenAcceptedVersion 2", why, a.opts.Audience)
	}
}

// truncate shortens s to at most n bytes, on a rune boundary, for a
// verdict reason.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
