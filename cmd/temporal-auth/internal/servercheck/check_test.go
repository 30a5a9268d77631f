package servercheck

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	entraKeys = "https://login.microsoftonline.com/aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa/discovery/v2.0/keys"
	serverApp = "cccccccc-3333-4333-8333-cccccccccccc"
)

// good is a configuration with no findings: Entra ID keys behind the
// server app's application ID.
func good() *Config {
	c, err := FromYAML("good.yaml", []byte(`
global:
  authorization:
    jwtKeyProvider:
      keySourceURIs:
        - `+entraKeys+`
      refreshInterval: 1m
    permissionsClaimName: roles
    authorizer: default
    claimMapper: default
    audience: `+serverApp+`
`))
	if err != nil {
		panic(err)
	}
	return c
}

func ids(fs []Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.ID
	}
	return out
}

func TestCheck(t *testing.T) {
	if fs := Check(good()); len(fs) != 0 {
		t.Fatalf("the good configuration: %+v", fs)
	}
	tests := []struct {
		name     string
		change   func(c *Config)
		want     []string // finding IDs, most severe first
		critical bool
	}{
		{"authorizer empty", func(c *Config) { c.Authorizer = "" }, []string{IDAuthorizerOff}, true},
		{"claim mapper empty", func(c *Config) { c.ClaimMapper = "" }, []string{IDClaimMapperOff}, true},
		{"both empty", func(c *Config) { c.Authorizer, c.ClaimMapper = "", "" }, []string{IDAuthorizerOff, IDClaimMapperOff}, true},
		{"default in capitals", func(c *Config) { c.Authorizer, c.ClaimMapper = "Default", "DEFAULT" }, nil, false},
		{"unknown authorizer", func(c *Config) { c.Authorizer = "opa" }, []string{IDUnknownAuthorizer}, true},
		{"unknown claim mapper", func(c *Config) { c.ClaimMapper = "custom" }, []string{IDUnknownClaimMapper}, true},
		{"no audience, Entra tenant keys", func(c *Config) { c.Audience = "" }, []string{IDNoAudienceShared}, true},
		{"no audience, Entra common keys", func(c *Config) {
			c.Audience, c.KeySourceURIs = "", []string{"https://login.microsoftonline.com/common/discovery/v2.0/keys"}
		}, []string{IDNoAudienceShared}, true},
		{"no audience, Entra US Government keys", func(c *Config) {
			c.Audience, c.KeySourceURIs = "", []string{"https://login.microsoftonline.us/t/discovery/v2.0/keys"}
		}, []string{IDNoAudienceShared}, true},
		{"no audience, app-specific Entra keys", func(c *Config) {
			c.Audience, c.KeySourceURIs = "", []string{entraKeys + "?appid=" + serverApp}
		}, []string{IDNoAudience}, false},
		{"no audience, per-issuer keys", func(c *Config) {
			c.Audience, c.KeySourceURIs = "", []string{"https://idp.example/.well-known/jwks.json"}
		}, []string{IDNoAudience}, false},
		{"Application ID URI as audience", func(c *Config) { c.Audience = "api://temporal-server" }, []string{IDAudienceNotAppID}, false},
		{"URI audience, per-issuer keys", func(c *Config) {
			c.Audience, c.KeySourceURIs = "api://temporal-server", []string{"https://idp.example/jwks"}
		}, nil, false},
		{"http off loopback", func(c *Config) {
			c.KeySourceURIs = append(c.KeySourceURIs, "http://keys.internal:8080/jwks.json")
		}, []string{IDPlainHTTPKeys}, true},
		{"http on loopback", func(c *Config) {
			c.KeySourceURIs = []string{"http://127.0.0.1:8080/jwks.json", "http://[::1]:1/k", "http://localhost/k", "file:///etc/jwks.json"}
		}, nil, false},
		{"not a URL", func(c *Config) { c.KeySourceURIs = []string{"ldap://x", "::"} }, []string{IDBadKeySource, IDBadKeySource}, false},
		{"no key source", func(c *Config) { c.KeySourceURIs, c.Audience = nil, "" }, []string{IDNoKeySource}, false},
		{"no refresh", func(c *Config) { c.RefreshSet, c.RefreshInterval = false, 0 }, []string{IDNoRefresh}, false},
		{"refresh 0", func(c *Config) { c.RefreshInterval = 0 }, []string{IDNoRefresh}, false},
		{"unitless refresh", func(c *Config) { c.RefreshInterval, c.RefreshRaw = 60, "60" }, []string{IDUnitlessRefresh}, false},
		{"long refresh", func(c *Config) { c.RefreshInterval = 30 * time.Minute }, []string{IDLongRefresh}, false},
		{"regex does not compile", func(c *Config) { c.PermissionsRegex = `^(?P<namespace>\w+:(?P<role>\w+)$` }, []string{IDBadRegex}, true},
		{"regex without role", func(c *Config) { c.PermissionsRegex = `^(?P<namespace>\w+):(\w+)$` }, []string{IDRegexGroups}, true},
		{"regex with its groups", func(c *Config) { c.PermissionsRegex = `^Temporal\.(?P<namespace>[\w-]+)\.(?P<role>\w+)$` }, nil, false},
		{"Entra with the permissions claim", func(c *Config) { c.PermissionsClaimName = "" }, []string{IDEntraClaimName}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.change(c)
			fs := Check(c)
			if got := ids(fs); !slices.Equal(got, tt.want) {
				t.Errorf("findings %q, want %q", got, tt.want)
			}
			if HasCritical(fs) != tt.critical {
				t.Errorf("HasCritical %v, want %v", HasCritical(fs), tt.critical)
			}
			for _, f := range fs {
				if f.Setting == "" || f.Problem == "" || f.Risk == "" || f.Fix == "" {
					t.Errorf("finding %s lacks a field: %+v", f.ID, f)
				}
				if !strings.HasPrefix(f.Setting, "global.authorization.") {
					t.Errorf("finding %s names setting %q", f.ID, f.Setting)
				}
			}
		})
	}
}

// The seed's configuration: Entra ID keys, roles, no refresh interval and
// no audience.
func TestCheckSeed(t *testing.T) {
	data, err := os.ReadFile("testdata/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := FromYAML("testdata/seed.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	fs := Check(c)
	if got, want := ids(fs), []string{IDNoAudienceShared, IDNoRefresh}; !slices.Equal(got, want) {
		t.Fatalf("findings %q, want %q", got, want)
	}
	if fs[0].Severity != Critical || fs[0].Setting != "authorization.audience" || fs[1].Setting != "authorization.jwtKeyProvider.refreshInterval" {
		t.Errorf("findings %+v", fs)
	}
	var buf bytes.Buffer
	if err := WriteText(&buf, c.Source, fs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CRITICAL no-audience-shared-keys: authorization.audience", "WARNING no-refresh-interval: authorization.jwtKeyProvider.refreshInterval",
		"temporal-system:admin", "until the server restarts", "FAIL: 1 critical, 1 warning(s), 0 note(s)."} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestFromYAML(t *testing.T) {
	c, err := FromYAML("f", []byte("global:\n  authorization:\n    jwtKeyProvider:\n      refreshInterval: 90\n"))
	if err != nil || !c.RefreshSet || c.RefreshInterval != 90 || c.RefreshRaw != "90" {
		t.Errorf("a bare integer: %+v, %v", c, err)
	}
	c, err = FromYAML("f", []byte("global:\n  authorization:\n    jwtKeyProvider:\n      refreshInterval: \"2m\"\n"))
	if err != nil || c.RefreshInterval != 2*time.Minute {
		t.Errorf("a quoted duration: %+v, %v", c, err)
	}
	// A configuration without authorization: everything off.
	c, err = FromYAML("f", []byte("log:\n  level: info\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(Check(c)); !slices.Equal(got, []string{IDAuthorizerOff, IDClaimMapperOff}) {
		t.Errorf("no authorization section: %q", got)
	}
	for in, want := range map[string]string{
		"global:\n  authorization:\n    jwtKeyProvider:\n      refreshInterval: soon\n": `f: global.authorization.jwtKeyProvider.refreshInterval: "soon" is not a duration`,
		"global: [\n": "f: not a Temporal server configuration",
		"global:\n  authorization:\n    authorizer: {{ default .Env.TEMPORAL_AUTH_AUTHORIZER \"\" }}\n": "f is a template",
	} {
		if _, err := FromYAML("f", []byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("FromYAML(%q): %v, want %q", in, err, want)
		}
	}
}

func TestFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	// The seed's Docker variables: Entra keys, a 30m refresh, and no way
	// to set the audience.
	c, err := FromEnv(env(map[string]string{
		EnvKeySource1: entraKeys, EnvRefresh: "30m", EnvClaimName: "roles", EnvAuthorizer: "default", EnvClaimMapper: "default",
	}))
	if err != nil {
		t.Fatal(err)
	}
	fs := Check(c)
	if got := ids(fs); !slices.Equal(got, []string{IDNoAudienceShared, IDLongRefresh}) {
		t.Fatalf("findings %q", got)
	}
	if fs[0].Setting != c.Name(SettingAudience) || !strings.Contains(fs[0].Fix, "no variable for the audience") || fs[1].Setting != EnvRefresh {
		t.Errorf("findings %+v", fs)
	}
	// Unset variables take the template's defaults: a 1m refresh, the
	// "permissions" claim, and everything off.
	c, err = FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.RefreshInterval != time.Minute || len(c.KeySourceURIs) != 0 {
		t.Errorf("defaults %+v", c)
	}
	if got := ids(Check(c)); !slices.Equal(got, []string{IDAuthorizerOff, IDClaimMapperOff}) {
		t.Errorf("empty environment: %q", got)
	}
	fs = Check(c)
	if fs[0].Setting != EnvAuthorizer {
		t.Errorf("setting %q, want %s", fs[0].Setting, EnvAuthorizer)
	}
	c, err = FromEnv(env(map[string]string{EnvKeySource1: "https://idp.example/k", EnvKeySource2: "http://10.0.0.7/k", EnvRefresh: "60",
		EnvAuthorizer: "default", EnvClaimMapper: "default"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(Check(c)); !slices.Equal(got, []string{IDPlainHTTPKeys, IDNoAudience, IDUnitlessRefresh}) {
		t.Errorf("findings %q", got)
	}
	if _, err := FromEnv(env(map[string]string{EnvRefresh: "often"})); err == nil || !strings.Contains(err.Error(), EnvRefresh) {
		t.Errorf("a bad refresh: %v", err)
	}
}

func TestWriteTextClean(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteText(&buf, "x.yaml", nil); err != nil || !strings.Contains(buf.String(), "OK: no findings.") {
		t.Errorf("%q %v", buf.String(), err)
	}
	buf.Reset()
	_ = WriteText(&buf, "x.yaml", []Finding{{ID: "a", Severity: Warning, Setting: "s", Problem: "p", Risk: "r", Fix: "f"}})
	if !strings.Contains(buf.String(), "OK with 1 warning(s), 0 note(s): nothing critical.") {
		t.Errorf("%q", buf.String())
	}
}
