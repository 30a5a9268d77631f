package inspect

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

const (
	tenantA = "aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa"
	tenantB = "bbbbbbbb-2222-4222-8222-bbbbbbbbbbbb"
	appID   = "cccccccc-3333-4333-8333-cccccccccccc"
)

// entraClaims returns the claims of an Entra ID v2.0 app token of tenant tid.
func entraClaims(iss, tid, aud string) jwt.MapClaims {
	return with(func(c jwt.MapClaims) {
		c["iss"], c["tid"], c["aud"], c["ver"] = iss, tid, aud, "2.0"
		delete(c, "permissions")
		c["roles"] = []string{"temporal-system:admin"}
	})
}

func TestCheckIssuer(t *testing.T) {
	testKeys(t)
	entraV2 := "https://login.microsoftonline.com/" + tenantB + "/v2.0"
	entraV1 := "https://sts.windows.net/" + tenantB + "/"
	entraJWKS := keySet(t)
	entraJWKS.Source = "https://login.microsoftonline.com/" + tenantA + "/discovery/v2.0/keys"
	tenantAIssuers, err := EntraIssuers(tenantA)
	if err != nil {
		t.Fatal(err)
	}
	tenantBIssuers, err := EntraIssuers(tenantB)
	if err != nil {
		t.Fatal(err)
	}
	const sharedWarning = "warn  tenant  "
	tests := []struct {
		name     string
		claims   jwt.MapClaims
		opts     Options
		accepted bool
		reasons  []string // substrings of the verdict
		lines    []string // substrings of the report
		absent   []string // substrings the report must not hold
	}{
		{
			name:     "Entra v2.0 token, no audience asked for",
			claims:   entraClaims(entraV2, tenantB, appID),
			accepted: true,
			lines: []string{`info  iss     "` + entraV2 + `" (the stock claim mapper never reads it`, `info  tid     "` + tenantB + `"`,
				sharedWarning + `iss "` + entraV2 + `" is Microsoft Entra ID's: its keys sign the tokens of every Entra ID tenant`,
				"--audience <application-id>", "temporal-system:admin"},
		},
		{
			name:     "Entra v1.0 token, no audience asked for",
			claims:   entraClaims(entraV1, tenantB, "api://temporal-server"),
			accepted: true,
			lines:    []string{sharedWarning + `iss "` + entraV1 + `" is Microsoft Entra ID's`},
		},
		{
			name:     "Entra-shaped issuer on another host (a test identity provider)",
			claims:   entraClaims("https://127.0.0.1:4443/"+tenantB+"/v2.0", tenantB, appID),
			accepted: true,
			lines:    []string{sharedWarning + `iss "https://127.0.0.1:4443/` + tenantB + `/v2.0" names the tenant of "tid"`},
		},
		{
			name:     "keys from an Entra tenant's JWKS URL",
			claims:   with(func(c jwt.MapClaims) { c["iss"] = "https://issuer.example" }),
			opts:     Options{KeySet: entraJWKS},
			accepted: true,
			lines:    []string{sharedWarning + "the JWKS " + entraJWKS.Source + " is Microsoft Entra ID's"},
		},
		{
			name:     "per-issuer keys: no warning",
			claims:   with(func(c jwt.MapClaims) { c["iss"] = "https://hydra.example/"; c["aud"] = "temporal" }),
			accepted: true,
			lines:    []string{`info  iss     "https://hydra.example/"`},
			absent:   []string{"tenant", "tid"},
		},
		{
			name:     "Entra token with the application ID as audience: no warning",
			claims:   entraClaims(entraV2, tenantB, appID),
			opts:     Options{Audience: appID},
			accepted: true,
			lines:    []string{"ok    aud"},
			absent:   []string{sharedWarning},
		},
		{
			name:     "Entra token with an Application ID URI as audience",
			claims:   entraClaims(entraV1, tenantB, "api://temporal-server"),
			opts:     Options{Audience: "api://temporal-server"},
			accepted: true,
			lines:    []string{"ok    aud", sharedWarning, `the audience "api://temporal-server" is not an application ID: an Application ID URI is unique only within a tenant`},
		},
		{
			name:     "issuer allowed",
			claims:   entraClaims(entraV2, tenantB, appID),
			opts:     Options{Issuers: tenantBIssuers, Audience: appID},
			accepted: true,
			lines:    []string{`ok    iss     "` + entraV2 + `" is an allowed issuer (exact match)`},
		},
		{
			name:     "v1.0 issuer allowed by the tenant form",
			claims:   entraClaims(entraV1, tenantB, appID),
			opts:     Options{Issuers: tenantBIssuers},
			accepted: true,
			lines:    []string{`ok    iss     "` + entraV1 + `" is an allowed issuer`},
		},
		{
			name:    "another tenant's issuer",
			claims:  entraClaims(entraV2, tenantB, appID),
			opts:    Options{Issuers: tenantAIssuers},
			reasons: []string{`iss "` + entraV2 + `" is not allowed`},
			lines:   []string{"FAIL  iss", `"https://sts.windows.net/` + tenantA + `/"`, "serverauth refuses the token"},
		},
		{
			name:    "trailing slash differs",
			claims:  with(func(c jwt.MapClaims) { c["iss"] = "https://hydra.example" }),
			opts:    Options{Issuers: []string{"https://hydra.example/"}},
			reasons: []string{`iss "https://hydra.example" is not allowed`},
		},
		{
			name:    "no iss",
			claims:  claims(),
			opts:    Options{Issuers: []string{"https://hydra.example/"}},
			reasons: []string{"no iss"},
		},
		{
			name:    "iss not a string",
			claims:  with(func(c jwt.MapClaims) { c["iss"] = 7 }),
			opts:    Options{Issuers: []string{"https://hydra.example/"}},
			reasons: []string{"iss is not a string"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Now = now
			if _, ok := tt.claims["roles"]; ok {
				opts.PermissionsClaim = "roles"
			}
			r := Analyze(Input{Token: es256(t, tt.claims)}, opts)
			var buf bytes.Buffer
			if err := r.WriteText(&buf); err != nil {
				t.Fatal(err)
			}
			text := buf.String()
			if r.Accepted() != tt.accepted {
				t.Errorf("accepted %v, want %v\n%s", r.Accepted(), tt.accepted, text)
			}
			verdict := r.Verdict()
			for _, want := range tt.reasons {
				if !strings.Contains(verdict, want) {
					t.Errorf("verdict %q lacks %q", verdict, want)
				}
			}
			for _, want := range tt.lines {
				if !strings.Contains(text, want) {
					t.Errorf("report lacks %q:\n%s", want, text)
				}
			}
			for _, bad := range tt.absent {
				if strings.Contains(text, bad) {
					t.Errorf("report holds %q:\n%s", bad, text)
				}
			}
		})
	}
}

func TestEntraIssuers(t *testing.T) {
	good := map[string][]string{
		tenantA: {"https://sts.windows.net/" + tenantA + "/", "https://login.microsoftonline.com/" + tenantA + "/v2.0"},
		"https://login.microsoftonline.us/" + tenantA + "/": {"https://sts.windows.net/" + tenantA + "/", "https://login.microsoftonline.us/" + tenantA + "/v2.0"},
		"https://127.0.0.1:4443/tenant-b":                   {"https://sts.windows.net/tenant-b/", "https://127.0.0.1:4443/tenant-b/v2.0"},
	}
	for in, want := range good {
		got, err := EntraIssuers(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("EntraIssuers(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"":       "want a tenant ID",
		"common": "names no tenant",
		"https://login.microsoftonline.com/Organizations":       "names no tenant",
		"http://login.microsoftonline.com/" + tenantA:           "authority URL https://",
		"https://login.microsoftonline.com/a/b":                 "want a tenant ID",
		"https://login.microsoftonline.com/" + tenantA + "?x=1": "authority URL",
	} {
		if _, err := EntraIssuers(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("EntraIssuers(%q): %v, want an error with %q", in, err, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("abc", 3); got != "abc" {
		t.Errorf("truncate short: %q", got)
	}
	if got := truncate("aé", 2); got != "a..." {
		t.Errorf("truncate inside a rune: %q", got)
	}
}
