package static_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/static"
)

func TestConfigFromLookup(t *testing.T) {
	jwt := jwtExpiring(t0.Add(time.Hour))
	expired := jwtExpiring(time.Now().Add(-time.Hour))
	const (
		bothSet = "TEMPORAL_AUTH_TOKEN: TEMPORAL_AUTH_TOKEN_FILE and TEMPORAL_AUTH_TOKEN are both set: give the token one way"
		noneSet = "TEMPORAL_AUTH_TOKEN: no token: set TEMPORAL_AUTH_TOKEN_FILE to a file holding the token, or TEMPORAL_AUTH_TOKEN to the token itself"
	)
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    static.Config // Token, TokenFile
		err     string        // the whole error text; "" means success
		errIs   error
		setting string
	}{
		{name: "token, trimmed", env: map[string]string{static.EnvToken: " " + jwt + "\r\n"}, want: static.Config{Token: jwt}},
		{name: "opaque token", env: map[string]string{static.EnvToken: "opaque-api-key"}, want: static.Config{Token: "opaque-api-key"}},
		// The file is not read: it does not exist.
		{name: "token file, trimmed", env: map[string]string{static.EnvTokenFile: " /var/run/secrets/absent/token\n"}, want: static.Config{TokenFile: "/var/run/secrets/absent/token"}},
		{name: "blank token counts as unset", env: map[string]string{static.EnvTokenFile: "/t", static.EnvToken: " \n"}, want: static.Config{TokenFile: "/t"}},
		{name: "blank file counts as unset", env: map[string]string{static.EnvTokenFile: "  ", static.EnvToken: "opaque"}, want: static.Config{Token: "opaque"}},

		{name: "both set", env: map[string]string{static.EnvTokenFile: "/t", static.EnvToken: "opaque-secret-key"}, err: bothSet, setting: static.EnvToken},
		{name: "none set", env: map[string]string{}, err: noneSet, setting: static.EnvToken},
		{name: "both blank", env: map[string]string{static.EnvTokenFile: "\t", static.EnvToken: "\r\n"}, err: noneSet, setting: static.EnvToken},
		{name: "Bearer scheme", env: map[string]string{static.EnvToken: "Bearer opaque-secret-key"}, errIs: static.ErrMalformedToken,
			err: "TEMPORAL_AUTH_TOKEN: malformed token: it starts with the Bearer scheme; give the token alone", setting: static.EnvToken},
		{name: "inner white space", env: map[string]string{static.EnvToken: "opaque-secret key"}, errIs: static.ErrMalformedToken,
			err: "TEMPORAL_AUTH_TOKEN: malformed token: whitespace at byte 14", setting: static.EnvToken},
		{name: "expired JWT", env: map[string]string{static.EnvToken: expired}, errIs: static.ErrExpiredToken, setting: static.EnvToken},
		{name: "JWT with bad exp", env: map[string]string{static.EnvToken: jwtWithClaims(`{"sub":"secret-subject","exp":"never"}`)}, errIs: static.ErrMalformedToken,
			err: "TEMPORAL_AUTH_TOKEN: malformed token: it looks like a JWT but its exp claim is not a number", setting: static.EnvToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := static.ConfigFromLookup(fromEnv(tc.env))
			if tc.err == "" && tc.errIs == nil {
				if err != nil {
					t.Fatalf("ConfigFromLookup: %v", err)
				}
				if got.Token != tc.want.Token || got.TokenFile != tc.want.TokenFile || got.PollInterval != 0 || got.Clock != nil {
					t.Errorf("got %v, want %v", got, tc.want)
				}
				if got.Token != tc.want.Token {
					t.Errorf("Token differs (len %d, want %d)", len(got.Token), len(tc.want.Token))
				}
				return
			}
			if err == nil {
				t.Fatalf("ConfigFromLookup = %v, want an error", got)
			}
			if tc.err != "" && err.Error() != tc.err {
				t.Errorf("error %q\nwant      %q", err, tc.err)
			}
			if tc.errIs != nil && !errors.Is(err, tc.errIs) {
				t.Errorf("error %v, want %v", err, tc.errIs)
			}
			assertSetting(t, err, tc.setting)
			if strings.Contains(err.Error(), "Config.") {
				t.Errorf("error %q names a Config field instead of the variable", err)
			}
			if got != (static.Config{}) {
				t.Errorf("with an error, Config = %v, want the zero Config", got)
			}
			assertNoSecret(t, "error", err.Error(), tc.env[static.EnvToken])
			assertNoSecret(t, "error", err.Error(), "secret")
		})
	}
}

// TestConfigFromLookupNil checks that a nil lookup reads the process
// environment.
func TestConfigFromLookupNil(t *testing.T) {
	t.Setenv(static.EnvTokenFile, "")
	t.Setenv(static.EnvToken, "opaque-from-env")
	cfg, err := static.ConfigFromLookup(nil)
	if err != nil || cfg.Token != "opaque-from-env" || cfg.TokenFile != "" {
		t.Errorf("ConfigFromLookup(nil) = %v, %v", cfg, err)
	}
}

// TestConfigErrorsNameFields checks the errors of a Config built in code:
// they name its fields, never the variables.
func TestConfigErrorsNameFields(t *testing.T) {
	path := writeFile(t, t.TempDir(), "token", "opaque")
	for _, tc := range []struct {
		cfg     static.Config
		err     string
		setting string
	}{
		{static.Config{Token: "opaque-secret-key", TokenFile: path}, "static.Config.Token: static.Config.TokenFile and static.Config.Token are both set: give the token one way", "static.Config.Token"},
		{static.Config{}, "static.Config.Token: no token: set static.Config.TokenFile to a file holding the token, or static.Config.Token to the token itself", "static.Config.Token"},
		{static.Config{Token: "opaque-secret\x00key"}, "static.Config.Token: malformed token: a control character at byte 14", "static.Config.Token"},
	} {
		_, err := static.NewTokenSource(tc.cfg)
		if err == nil || err.Error() != tc.err {
			t.Errorf("NewTokenSource(%v): error %v\nwant %q", tc.cfg, err, tc.err)
		}
		assertSetting(t, err, tc.setting)
		assertNoSecret(t, "error", fmt.Sprint(err), "opaque-secret")
	}
}

// TestNoTokenShown prints and logs every Config and Source a user might,
// with every verb, and checks that the token never shows.
func TestNoTokenShown(t *testing.T) {
	const opaque = "opaque-secret-api-key"
	jwt := jwtExpiring(t0.Add(time.Hour))
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(jwt+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	envCfg, err := static.ConfigFromLookup(fromEnv(map[string]string{static.EnvToken: jwt}))
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{}
	for name, cfg := range map[string]static.Config{
		"opaque":    {Token: opaque},
		"jwt":       {Token: jwt},
		"env jwt":   envCfg,
		"file":      {TokenFile: path},
		"malformed": {Token: opaque + " " + opaque},
	} {
		values["config "+name] = cfg
		values["*config "+name] = &cfg
		values["config holder "+name] = struct{ C static.Config }{cfg}
		src, err := static.NewTokenSource(cfg)
		if err != nil {
			values["error "+name] = err
			continue
		}
		if _, err := src.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		values["source "+name] = src
		values["*source "+name] = *src
		values["source holder "+name] = struct{ S *static.Source }{src}
		values["source value holder "+name] = struct{ S static.Source }{*src}
		p, err := static.NewProvider(cfg, headers.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		values["provider "+name] = p
	}
	if _, ok := values["error malformed"]; !ok {
		t.Fatal("a malformed token was accepted")
	}
	var logged bytes.Buffer
	text := slog.New(slog.NewTextHandler(&logged, nil))
	jsonLog := slog.New(slog.NewJSONHandler(&logged, nil))
	for name, v := range values {
		text.Info(name, "v", v)
		jsonLog.Info(name, "v", v)
		formats := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"}
		if reflect.ValueOf(v).Kind() == reflect.Pointer {
			// fmt prints %p of a value that is not a pointer as a bad
			// verb, bypassing its Format method (and go vet reports it).
			formats = append(formats, "%p")
		}
		for _, format := range formats {
			out := fmt.Sprintf(format, v)
			assertNoSecret(t, format+" of "+name, out, opaque)
			assertNoSecret(t, format+" of "+name, out, jwt)
		}
	}
	assertNoSecret(t, "slog", logged.String(), opaque)
	assertNoSecret(t, "slog", logged.String(), jwt)
	for _, want := range []string{"Token: " + headers.Redacted, `"token":"` + headers.Redacted + `"`, "token=" + headers.Redacted, "TokenFile: " + fmt.Sprintf("%q", path), "setting=TEMPORAL_AUTH_TOKEN"} {
		if !strings.Contains(logged.String()+fmt.Sprint(values["config opaque"], values["config file"]), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if got := fmt.Sprintf("%#v", static.Config{Token: opaque, TokenFile: "/t", PollInterval: time.Second}); got != `static.Config{Token: REDACTED, TokenFile: "/t", PollInterval: 1s}` {
		t.Errorf("%%#v of Config = %s", got)
	}
	if got := fmt.Sprint(static.Config{TokenFile: "/t"}); got != `Config{Token: "", TokenFile: "/t", PollInterval: 0s}` {
		t.Errorf("Config with no token = %s", got)
	}
	j, err := json.Marshal(struct{ C static.Config }{static.Config{Token: opaque, TokenFile: "/t", PollInterval: time.Second}})
	if err != nil || string(j) != `{"C":{"Token":"REDACTED","TokenFile":"/t","PollInterval":"1s"}}` {
		t.Errorf("JSON of Config = %s, %v", j, err)
	}
}

// TestZeroSourceFailsCleanly checks that a Source not made by
// NewTokenSource returns an error rather than panicking.
func TestZeroSourceFailsCleanly(t *testing.T) {
	var s static.Source
	if _, err := s.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "NewTokenSource") {
		t.Errorf("zero Source: error %v", err)
	}
	_ = fmt.Sprint(s, &s)
}
