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
	opts, keys, err := serveropts.FromConfig(good(), serverauth.Config{Logger: log.NewNoopLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	if len(opts) != 3 || keys.Stats().Fetches != 1 {
		t.Errorf("%d options, %d fetches; want 3 and 1", len(opts), keys.Stats().Fetches)
	}

	for _, tc := range []struct {
		name   string
		change func(*config.Authorization)
		want   string
	}{
		{"no authorizer", func(a *config.Authorization) { a.Authorizer = "" }, "global.authorization.authorizer is empty"},
		{"unknown authorizer", func(a *config.Authorization) { a.Authorizer = "opa" }, "global.authorization.authorizer: unknown authorizer: opa"},
		{"other claim mapper", func(a *config.Authorization) { a.ClaimMapper = "custom" }, `global.authorization.claimMapper is "custom"`},
		{"no key source", func(a *config.Authorization) { a.JWTKeyProvider.KeySourceURIs = nil }, "keySourceURIs is empty"},
		{"plain http", func(a *config.Authorization) { a.JWTKeyProvider.KeySourceURIs = []string{"http://idp.example/keys"} }, "keySourceURIs[0]"},
		{"bad regex", func(a *config.Authorization) { a.PermissionsRegex = "[" }, "global.authorization.permissionsRegex"},
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
