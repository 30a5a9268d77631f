package jwtkey_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/jwtkey"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) { v, ok := m[name]; return v, ok }
}

func TestConfigFromLookup(t *testing.T) {
	pemKey := string(mustKey(jwtkey.MarshalPrivateKeyPEM(testES256Key())))
	cfg, err := jwtkey.ConfigFromLookup(env(map[string]string{
		// A one-line setting carries the PEM line breaks as \n.
		jwtkey.EnvKey:         strings.ReplaceAll(pemKey, "\n", `\n`),
		jwtkey.EnvKeyID:       " k1 ",
		jwtkey.EnvPermissions: "default:write, temporal-system:read",
		jwtkey.EnvAudience:    "a,b",
		jwtkey.EnvExpiration:  "90s",
		jwtkey.EnvSubject:     "worker",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Key == nil || cfg.KeyID != "k1" || cfg.Subject != "worker" || cfg.Expiration.String() != "1m30s" ||
		fmt.Sprint(cfg.Permissions) != "[default:write temporal-system:read]" || fmt.Sprint(cfg.Audience) != "[a b]" {
		t.Fatalf("ConfigFromLookup = %v", cfg)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		if out := fmt.Sprintf(verb, cfg); strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, pemKey[40:80]) {
			t.Errorf("%s of the Config shows the key: %s", verb, out)
		}
	}
	held := struct{ Auth jwtkey.Config }{cfg}
	js, err := json.Marshal(held)
	if err != nil || strings.Contains(string(js), `"D"`) || !strings.Contains(string(js), `"Key":"REDACTED"`) {
		t.Errorf("JSON of a struct holding the Config = %s, %v; want the key redacted", js, err)
	}
	s, err := jwtkey.NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID() != "k1" {
		t.Errorf("kid = %q, want k1", s.KeyID())
	}
}

// Errors name the variable, for a Config read from the environment, and
// the field otherwise; both are *headers.ConfigError.
func TestConfigErrorsNameTheSetting(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		setting string
		want    string
	}{
		{map[string]string{}, jwtkey.EnvKey, "set TEMPORAL_JWT_PRIVATE_KEY_FILE"},
		{map[string]string{jwtkey.EnvKeyFile: "/k", jwtkey.EnvKey: "x"}, jwtkey.EnvKey, "TEMPORAL_JWT_PRIVATE_KEY_FILE and TEMPORAL_JWT_PRIVATE_KEY are both set"},
		{map[string]string{jwtkey.EnvKey: "not a key"}, jwtkey.EnvKey, "no PEM"},
		{map[string]string{jwtkey.EnvKeyFile: "/k", jwtkey.EnvPermissions: "default:write,default:boss"}, jwtkey.EnvPermissions, "entry 2"},
		{map[string]string{jwtkey.EnvKeyFile: "/k", jwtkey.EnvExpiration: "10"}, jwtkey.EnvExpiration, "Go duration"},
		{map[string]string{jwtkey.EnvKeyFile: "/k", jwtkey.EnvKeyID: "k"}, jwtkey.EnvKeyID, "cannot be used with TEMPORAL_JWT_PRIVATE_KEY_FILE"},
		{map[string]string{jwtkey.EnvKeyFile: "/k", jwtkey.EnvPermissionsClaim: "exp"}, jwtkey.EnvPermissionsClaim, `"exp"`},
	} {
		_, err := jwtkey.ConfigFromLookup(env(tc.env))
		var ce *headers.ConfigError
		if !errors.As(err, &ce) || ce.Setting != tc.setting || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: err = %v; want a ConfigError for %s containing %q", tc.env, err, tc.setting, tc.want)
		}
	}
	// A Config read from the environment keeps naming variables later.
	cfg, err := jwtkey.ConfigFromLookup(env(map[string]string{jwtkey.EnvKeyFile: "/nonexistent/key.pem"}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = jwtkey.NewTokenSource(cfg)
	var ce *headers.ConfigError
	if !errors.As(err, &ce) || ce.Setting != jwtkey.EnvKeyFile || !strings.Contains(err.Error(), "/nonexistent/key.pem") {
		t.Errorf("NewTokenSource: err = %v; want a ConfigError for %s naming the file", err, jwtkey.EnvKeyFile)
	}
	cfg = jwtkey.Config{KeyFile: "/nonexistent/key.pem"}
	if _, err = jwtkey.NewTokenSource(cfg); !errors.As(err, &ce) || ce.Setting != "jwtkey.Config.KeyFile" {
		t.Errorf("NewTokenSource: err = %v; want a ConfigError for jwtkey.Config.KeyFile", err)
	}
}
