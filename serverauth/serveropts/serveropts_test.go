package serveropts_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"

	"github.com/temporalauth/temporalauth/serverauth"
	"github.com/temporalauth/temporalauth/serverauth/serveropts"
)

func TestFromConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, []byte(`{"keys":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	good := func() *config.Config {
		cfg := &config.Config{}
		cfg.Global.Authorization = config.Authorization{
			JWTKeyProvider: config.JWTKeyProvider{KeySourceURIs: []string{"file://" + path}},
			Authorizer:     "default",
			ClaimMapper:    "default",
			Audience:       "api://temporal",
		}
		return cfg
	}
	t.Setenv("SERVERAUTH_KEY_SOURCE1_ISSUERS", "https://idp.test/a/, https://idp.test/b/")
	opts, keys, err := serveropts.FromConfig(good(), serverauth.Config{Logger: log.NewNoopLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	if len(opts) != 3 || keys.Stats().Fetches != 1 {
		t.Errorf("%d options, %d fetches; want 3 and 1", len(opts), keys.Stats().Fetches)
	}
	if got := keys.Stats().Sources[0]; strings.Join(got.Issuers, " ") != "https://idp.test/a/ https://idp.test/b/" || got.AnyIssuer {
		t.Errorf("source %+v, want the issuers of SERVERAUTH_KEY_SOURCE1_ISSUERS", got)
	}

	for _, tc := range []struct {
		name   string
		change func(*config.Authorization)
		want   string
	}{
		{"no authorizer", func(a *config.Authorization) { a.Authorizer = "" }, "global.authorization.authorizer is empty"},
		{"unknown authorizer", func(a *config.Authorization) { a.Authorizer = "opa" }, "global.authorization.authorizer: unknown authorizer: opa"},
		{"other claim mapper", func(a *config.Authorization) { a.ClaimMapper = "custom" }, `global.authorization.claimMapper is "custom"`},
		{"no audience", func(a *config.Authorization) { a.Audience = " " },
			"global.authorization.audience is empty, so the server would accept tokens the identity provider issued for any of its APIs"},
		{"no audience names the opt-out", func(a *config.Authorization) { a.Audience = "" }, "or set SERVERAUTH_ALLOW_NO_AUDIENCE=true"},
		{"no key source", func(a *config.Authorization) { a.JWTKeyProvider.KeySourceURIs = nil }, "keySourceURIs is empty"},
		{"plain http", func(a *config.Authorization) { a.JWTKeyProvider.KeySourceURIs = []string{"http://idp.example/keys"} }, "keySourceURIs[0]"},
		{"bad regex", func(a *config.Authorization) { a.PermissionsRegex = "[" }, "global.authorization.permissionsRegex"},
		{"issuers for a discovery URL", func(a *config.Authorization) {
			a.JWTKeyProvider.KeySourceURIs = []string{"https://idp.test/.well-known/openid-configuration"}
		}, "SERVERAUTH_KEY_SOURCE1_ISSUERS is set, but global.authorization.jwtKeyProvider.keySourceURIs[0] is an OpenID discovery URL"},
		{"issuers of a blank entry", func(a *config.Authorization) {
			a.JWTKeyProvider.KeySourceURIs = []string{"", "file://" + path}
		}, "SERVERAUTH_KEY_SOURCE1_ISSUERS is set, but global.authorization.jwtKeyProvider.keySourceURIs has no entry 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good()
			tc.change(&cfg.Global.Authorization)
			_, keys, err := serveropts.FromConfig(cfg, serverauth.Config{Logger: log.NewNoopLogger()})
			if err == nil {
				keys.Close()
				t.Fatalf("FromConfig succeeded, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q", err, tc.want)
			}
		})
	}
}

// A JWKS URL whose issuers are neither configured nor derivable is a
// startup error that names the variable and the opt-out.
func TestFromConfigIssuers(t *testing.T) {
	dir := t.TempDir()
	var uris []string
	for _, name := range []string{"a.json", "b.json"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(`{"keys":[]}`), 0o600); err != nil {
			t.Fatal(err)
		}
		uris = append(uris, "file://"+path)
	}
	cfg := &config.Config{}
	cfg.Global.Authorization = config.Authorization{
		JWTKeyProvider: config.JWTKeyProvider{KeySourceURIs: uris},
		Authorizer:     "default",
		Audience:       "api://temporal",
	}
	build := func() (*serverauth.KeyProvider, error) {
		_, keys, err := serveropts.FromConfig(cfg, serverauth.Config{Logger: log.NewNoopLogger()})
		if err == nil {
			t.Cleanup(keys.Close)
		}
		return keys, err
	}

	t.Setenv("SERVERAUTH_KEY_SOURCE1_ISSUERS", "https://a.test/")
	_, err := build()
	for _, want := range []string{
		`global.authorization.jwtKeyProvider.keySourceURIs[1] "file://` + uris[1][len("file://"):] + `" has no allowed issuer`,
		"set SERVERAUTH_KEY_SOURCE2_ISSUERS", "or set SERVERAUTH_ALLOW_ANY_ISSUER=true",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}

	t.Run("issuers of both", func(t *testing.T) {
		t.Setenv("SERVERAUTH_KEY_SOURCE2_ISSUERS", "https://b.test/ https://c.test/")
		keys, err := build()
		if err != nil {
			t.Fatal(err)
		}
		s := keys.Stats().Sources
		if strings.Join(s[0].Issuers, " ") != "https://a.test/" || strings.Join(s[1].Issuers, " ") != "https://b.test/ https://c.test/" {
			t.Errorf("sources %+v", s)
		}
	})
	t.Run("empty", func(t *testing.T) {
		t.Setenv("SERVERAUTH_KEY_SOURCE2_ISSUERS", " , ")
		if _, err := build(); err == nil || !strings.Contains(err.Error(), "SERVERAUTH_KEY_SOURCE2_ISSUERS is set but empty") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("issuers in base", func(t *testing.T) {
		_, keys, err := serveropts.FromConfig(cfg, serverauth.Config{
			Logger: log.NewNoopLogger(), JWKSIssuers: map[string][]string{uris[1]: {"https://base.test/"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer keys.Close()
		if got := keys.Stats().Sources[1].Issuers; strings.Join(got, " ") != "https://base.test/" {
			t.Errorf("issuers %q", got)
		}
	})
	t.Run("opt-out", func(t *testing.T) {
		t.Setenv("SERVERAUTH_ALLOW_ANY_ISSUER", "true")
		keys, err := build()
		if err != nil {
			t.Fatal(err)
		}
		if s := keys.Stats().Sources; s[0].AnyIssuer || !s[1].AnyIssuer {
			t.Errorf("sources %+v, want only the second unbound", s)
		}
	})
	t.Run("opt-out not a boolean", func(t *testing.T) {
		t.Setenv("SERVERAUTH_ALLOW_ANY_ISSUER", "yes please")
		if _, err := build(); err == nil || !strings.Contains(err.Error(), "SERVERAUTH_ALLOW_ANY_ISSUER") {
			t.Errorf("error %v", err)
		}
	})
}

// The audience opt-out is explicit.
func TestFromConfigNoAudienceOptOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, []byte(`{"keys":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{}
	cfg.Global.Authorization = config.Authorization{
		JWTKeyProvider: config.JWTKeyProvider{KeySourceURIs: []string{"file://" + path}},
		Authorizer:     "default",
	}
	t.Setenv("SERVERAUTH_KEY_SOURCE1_ISSUERS", "https://idp.test/")
	t.Setenv("SERVERAUTH_ALLOW_NO_AUDIENCE", "true")
	_, keys, err := serveropts.FromConfig(cfg, serverauth.Config{Logger: log.NewNoopLogger()})
	if err != nil {
		t.Fatalf("FromConfig with SERVERAUTH_ALLOW_NO_AUDIENCE=true: %v", err)
	}
	keys.Close()
}
