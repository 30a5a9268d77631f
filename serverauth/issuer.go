package serverauth

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v4"
	"go.temporal.io/server/common/log/tag"
)

// Issuer binding: every key is allowed for the issuers of the source that
// published it, and a token whose "iss" is not one of them is refused
// before its signature is checked. One key set often signs for more than
// one issuer: Microsoft Entra ID signs the tokens of every tenant with the
// same keys, and a tenant's own JWKS URL serves them too, so a key alone
// does not say which tenant issued a token; only "iss" does.

// DefaultEntraAuthorityHost is the Microsoft Entra ID authority of the
// public cloud, used when Config.EntraAuthorityHost is empty.
const DefaultEntraAuthorityHost = "https://login.microsoftonline.com"

// entraV1IssuerPrefix starts the issuer of Entra ID's v1.0 access tokens,
// https://sts.windows.net/<tenant-id>/, whatever the authority host.
const entraV1IssuerPrefix = "https://sts.windows.net/"

// maxIssuerInLogs truncates issuers, which come from unverified tokens.
const maxIssuerInLogs = 200

// guidPattern matches a tenant ID: the GUID that Entra ID puts in "tid" and
// in both issuers.
var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// EntraIssuers returns the two issuers of tenant's access tokens: the v1.0
// issuer https://sts.windows.net/<tenant>/ and the v2.0 issuer
// <authorityHost>/<tenant>/v2.0. Which one a token carries is set by the
// resource app's accessTokenAcceptedVersion (null or 1: v1.0, 2: v2.0).
// An empty authorityHost means DefaultEntraAuthorityHost. tenant must be
// the tenant ID (a GUID), as tokens carry it; a domain name or "common"
// would never match a token's issuer.
func EntraIssuers(authorityHost, tenant string) ([]string, error) {
	issuers, err := entraIssuers(authorityHost, tenant)
	if err != nil {
		return nil, fmt.Errorf("serverauth: %w", err)
	}
	return issuers, nil
}

func entraIssuers(authorityHost, tenant string) ([]string, error) {
	host, err := entraAuthority(authorityHost)
	if err != nil {
		return nil, err
	}
	tid, err := entraTenantID(tenant)
	if err != nil {
		return nil, err
	}
	return []string{entraV1IssuerPrefix + tid + "/", host + "/" + tid + "/v2.0"}, nil
}

func entraAuthority(authorityHost string) (string, error) {
	host := strings.TrimSuffix(strings.TrimSpace(authorityHost), "/")
	if host == "" {
		return DefaultEntraAuthorityHost, nil
	}
	u, err := url.Parse(host)
	if err != nil {
		return "", fmt.Errorf("Config.EntraAuthorityHost: not a URL: %v", redactURLError(err))
	}
	if err := checkHTTPURL(u); err != nil {
		return "", fmt.Errorf("Config.EntraAuthorityHost %q: %w", displayURL(u), err)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("Config.EntraAuthorityHost %q: give the scheme and host only, as in %s", displayURL(u), DefaultEntraAuthorityHost)
	}
	return host, nil
}

func entraTenantID(tenant string) (string, error) {
	tid := strings.TrimSpace(tenant)
	if !guidPattern.MatchString(tid) {
		return "", fmt.Errorf("Entra tenant %q is not a tenant ID: give the directory (tenant) ID, a GUID such as "+
			"72f988bf-86f1-41af-91ab-2d7cd011db47, which tokens carry in \"iss\" and \"tid\" (not a domain name, \"common\" or \"organizations\")",
			truncate(tid, 100))
	}
	return strings.ToLower(tid), nil
}

// newEntraSource is the JWKS of one Entra ID tenant, bound to its two issuers.
func newEntraSource(setting, authorityHost, tenant string) (*source, error) {
	issuers, err := entraIssuers(authorityHost, tenant)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	host, _ := entraAuthority(authorityHost)
	tid, _ := entraTenantID(tenant)
	s, err := newJWKSSource(setting, host+"/"+tid+"/discovery/v2.0/keys")
	if err != nil {
		return nil, err
	}
	s.issuers = issuers
	return s, nil
}

// entraKeysPath matches the path of a tenant's JWKS on Entra ID's public
// cloud: /<tenant-id>/discovery/v2.0/keys, or /<tenant-id>/discovery/keys
// (the v1.0 endpoint, which serves the same keys).
var entraKeysPath = regexp.MustCompile(`^/([0-9a-fA-F-]{36})/discovery/(?:v2\.0/)?keys$`)

// entraIssuersFromKeysURL returns the issuers of the tenant whose JWKS raw
// is, when raw is a tenant's JWKS URL on https://login.microsoftonline.com.
func entraIssuersFromKeysURL(raw string) []string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || !strings.EqualFold(u.Scheme, "https") || !strings.EqualFold(u.Host, "login.microsoftonline.com") ||
		u.RawQuery != "" {
		return nil
	}
	m := entraKeysPath.FindStringSubmatch(u.Path)
	if m == nil {
		return nil
	}
	issuers, err := entraIssuers("", m[1])
	if err != nil {
		return nil
	}
	return issuers
}

// bindJWKSSource gives a JWKS URL source its allowed issuers, from
// cfg.JWKSIssuers, or none with cfg.AllowAnyIssuer.
func bindJWKSSource(s *source, setting, raw string, cfg *Config) error {
	list, ok := cfg.JWKSIssuers[raw]
	if !ok {
		list, ok = cfg.JWKSIssuers[strings.TrimSpace(raw)]
	}
	if !ok || len(list) == 0 {
		if cfg.AllowAnyIssuer {
			s.anyIssuer = true
			return nil
		}
		return fmt.Errorf("%s %q has no allowed issuer, so its keys would verify tokens of any issuer "+
			"(Entra ID signs every tenant's tokens with the same keys): list the issuers of its tokens (their \"iss\") in "+
			"Config.JWKSIssuers[%q] (for Entra ID, use Config.EntraTenants instead of the JWKS URL), "+
			"or set Config.AllowAnyIssuer to accept any issuer", setting, s.name, raw)
	}
	for i, iss := range list {
		if strings.TrimSpace(iss) == "" || iss != strings.TrimSpace(iss) {
			return fmt.Errorf("Config.JWKSIssuers[%q][%d] is blank or has surrounding spaces: an issuer is compared exactly", raw, i)
		}
	}
	s.issuers = slices.Clone(list)
	return nil
}

// checkJWKSIssuersKeys refuses entries of cfg.JWKSIssuers that name no JWKS
// URL: a typo would otherwise leave the URL it meant unbound.
func checkJWKSIssuersKeys(cfg *Config) error {
	for u := range cfg.JWKSIssuers {
		if !slices.ContainsFunc(cfg.JWKSURLs, func(s string) bool { return s == u || strings.TrimSpace(s) == u }) {
			return fmt.Errorf("Config.JWKSIssuers names %q, which is not in Config.JWKSURLs", displayString(u))
		}
	}
	return nil
}

// displayString is raw as displayURL shows it, or a placeholder when raw is
// not a URL (it may hold anything).
func displayString(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "(not a URL)"
	}
	return displayURL(u)
}

// allows reports whether a token whose "iss" is iss may use k.
func (k heldKey) allows(iss string) bool {
	return k.anyIssuer || slices.Contains(k.issuers, iss)
}

// tokenIssuer returns the token's "iss" claim; ok is false when the claim
// is absent or not a string.
func tokenIssuer(token *jwt.Token) (iss string, present, ok bool) {
	switch c := token.Claims.(type) {
	case jwt.MapClaims:
		v, present := c["iss"]
		s, ok := v.(string)
		return s, present, ok
	case *jwt.RegisteredClaims:
		return c.Issuer, c.Issuer != "", c.Issuer != ""
	case *jwt.StandardClaims:
		return c.Issuer, c.Issuer != "", c.Issuer != ""
	}
	return "", false, false
}

// checkIssuer refuses token unless its "iss" is allowed for k.
func (p *KeyProvider) checkIssuer(token *jwt.Token, kid string, k heldKey) error {
	if k.anyIssuer {
		return nil
	}
	iss, present, ok := tokenIssuer(token)
	if ok && k.allows(iss) {
		return nil
	}
	shownIss := fmt.Sprintf("%q", truncate(iss, maxIssuerInLogs))
	switch {
	case !present:
		shownIss = "(none)"
	case !ok:
		shownIss = "(not a string)"
	}
	shownKid := truncate(kid, maxKidInLogs)
	p.mu.Lock()
	p.stats.IssuerRefused++
	logIt := p.issLogged < maxLoggedPerWindow
	if logIt {
		p.issLogged++
	} else {
		p.issQuiet++
	}
	p.mu.Unlock()
	p.count(metricIssuerRefusals)
	if logIt {
		p.logger.Warn("JWT refused: its issuer may not use the key that signed it",
			tag.NewStringTag("iss", shownIss), tag.NewStringTag("kid", shownKid),
			tag.NewStringTag("source", k.source), tag.NewStringsTag("allowed-issuers", k.issuers))
	}
	return fmt.Errorf("serverauth: token issuer %s may not use key ID %q, published by %s for the issuer(s) %q",
		shownIss, shownKid, k.source, k.issuers)
}

// mergeIssuers adds the issuers of a source that publishes the same key as
// an earlier one: both sources vouch for it.
func (k *heldKey) mergeIssuers(s *source) {
	if s.anyIssuer {
		k.anyIssuer = true
		return
	}
	for _, iss := range s.issuers {
		if !slices.Contains(k.issuers, iss) {
			k.issuers = append(k.issuers, iss)
		}
	}
}

// unboundKey serves RsaKey and EcdsaKey, which see no claims: only keys
// that any issuer may use.
func (p *KeyProvider) unboundKey(alg, kid string) (any, error) {
	k, err := p.key(context.Background(), alg, kid)
	if err != nil {
		return nil, err
	}
	if !k.anyIssuer {
		return nil, fmt.Errorf("serverauth: key ID %q may be used only by the issuer(s) %q, and a lookup by key ID cannot see the token's issuer: call GetKey with the parsed token",
			truncate(kid, maxKidInLogs), k.issuers)
	}
	return k.forAlg(alg)
}
