package static_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/headers/clocktest"
	"github.com/temporalauth/temporalauth/static"
)

// fromEnv returns a lookup function reading env.
func fromEnv(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// assertSetting fails unless err is a *headers.ConfigError for setting
// whose text names it.
func assertSetting(t *testing.T, err error, setting string) {
	t.Helper()
	var ce *headers.ConfigError
	if !errors.As(err, &ce) {
		t.Errorf("error %v (%T) is not a *headers.ConfigError", err, err)
		return
	}
	if ce.Setting != setting || !strings.HasPrefix(err.Error(), setting+": ") {
		t.Errorf("error %q names setting %q, want %q", err, ce.Setting, setting)
	}
}

func TestFixedServesToken(t *testing.T) {
	clock := clocktest.New()
	exp := t0.Add(time.Hour)
	jwt := jwtExpiring(exp)
	src, err := static.NewTokenSource(static.Config{Token: jwt + "\n", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.Value() != jwt || !tok.Expiry.Equal(exp) || !tok.RefreshAt.IsZero() {
		t.Errorf("Token = %q, %v, refresh %v; want the trimmed JWT expiring %v", tok.Value(), tok.Expiry, tok.RefreshAt, exp)
	}
}

func TestFixedOpaqueNeverExpires(t *testing.T) {
	clock := clocktest.New()
	src, err := static.NewTokenSource(static.Config{Token: "opaque-api-key", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(100 * 365 * 24 * time.Hour)
	tok, err := src.Token(context.Background())
	if err != nil || tok.Value() != "opaque-api-key" || !tok.Expiry.IsZero() {
		t.Errorf("Token = %v, %v; want the key, no expiry", tok, err)
	}
}

func TestFixedExpires(t *testing.T) {
	jwt := jwtExpiring(t0.Add(time.Minute))
	envCfg, err := static.ConfigFromLookup(fromEnv(map[string]string{static.EnvToken: jwt}))
	if err != nil {
		t.Fatal(err)
	}
	for setting, cfg := range map[string]static.Config{"static.Config.Token": {Token: jwt}, static.EnvToken: envCfg} {
		t.Run(setting, func(t *testing.T) {
			clock := clocktest.New()
			cfg.Clock = clock
			src, err := static.NewTokenSource(cfg)
			if err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Minute - time.Second)
			if _, err := src.Token(context.Background()); err != nil {
				t.Fatalf("a second before exp: %v", err)
			}
			clock.Advance(time.Second)
			_, err = src.Token(context.Background())
			if !errors.Is(err, static.ErrExpiredToken) {
				t.Fatalf("at exp: error %v, want ErrExpiredToken", err)
			}
			assertSetting(t, err, setting)
			if want := setting + ": token has expired (exp 2030-01-02T03:05:05Z)"; err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
			assertNoSecret(t, "error", err.Error(), jwt)
		})
	}
}

func TestNewFixedRejects(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		wantErr error
	}{
		{"whitespace only", "\r\n", static.ErrEmptyToken},
		{"inner whitespace", "opaque secret", static.ErrMalformedToken},
		{"expired JWT", jwtExpiring(t0.Add(-time.Second)), static.ErrExpiredToken},
		{"JWT expiring now", jwtExpiring(t0), static.ErrExpiredToken},
		{"JWT with non-numeric exp", jwtWithClaims(`{"exp":"soon"}`), static.ErrMalformedToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktest.New()
			_, err := static.NewTokenSource(static.Config{Token: tt.value, Clock: clock})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			assertSetting(t, err, "static.Config.Token")
			assertNoSecret(t, "error", err.Error(), tt.value)
		})
	}
}

// TestFixedNamesSetting checks that an empty Token is taken for unset and
// that the error names both ways to give a token.
func TestFixedNamesSetting(t *testing.T) {
	_, err := static.NewTokenSource(static.Config{})
	assertSetting(t, err, "static.Config.Token")
	const want = "static.Config.Token: no token: set static.Config.TokenFile to a file holding the token, or static.Config.Token to the token itself"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestFixedRedacts(t *testing.T) {
	jwt := jwtExpiring(time.Now().Add(time.Hour).Truncate(time.Second))
	exp, _, _ := static.ExpiryOf(jwt)
	src, err := static.NewTokenSource(static.Config{Token: jwt})
	if err != nil {
		t.Fatal(err)
	}
	holder := struct{ src *static.Source }{src}
	valueHolder := struct{ src static.Source }{*src}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("source", "src", src, "value", *src)
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		for name, v := range map[string]any{"pointer": src, "value": *src, "holder": holder, "value holder": valueHolder} {
			out := fmt.Sprintf(format, v)
			assertNoSecret(t, format+" of "+name, out, jwt)
		}
	}
	assertNoSecret(t, "slog", logged.String(), jwt)
	wantString := "token static.Config.Token (" + headers.Redacted + ", exp " + exp.Format(time.RFC3339) + ")"
	if got := fmt.Sprint(src); got != wantString {
		t.Errorf("String = %q, want %q", got, wantString)
	}
	if got := fmt.Sprintf("%#v", src); got != "static.Source{"+wantString+"}" {
		t.Errorf("GoString = %q", got)
	}
	wantLog := "src.setting=static.Config.Token src.exp=" + exp.Format(time.RFC3339)
	if !strings.Contains(logged.String(), wantLog) {
		t.Errorf("slog output %q lacks %q", logged.String(), wantLog)
	}

	opaque, err := static.NewTokenSource(static.Config{Token: "opaque-secret-key"})
	if err != nil {
		t.Fatal(err)
	}
	logged.Reset()
	slog.New(slog.NewTextHandler(&logged, nil)).Info("source", "src", opaque)
	if want := "src.setting=static.Config.Token\n"; !strings.HasSuffix(logged.String(), want) {
		t.Errorf("slog output %q: want only the setting, no exp", logged.String())
	}
	if got := fmt.Sprint(opaque); got != "token static.Config.Token ("+headers.Redacted+")" {
		t.Errorf("String = %q", got)
	}
}

func TestNewFixedProvider(t *testing.T) {
	clock := clocktest.New()
	jwt := jwtExpiring(t0.Add(time.Hour))
	p, err := static.NewProvider(static.Config{Token: jwt}, headers.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	h, err := p.GetHeaders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := h["authorization"]; got != "Bearer "+jwt {
		t.Errorf("authorization header has the wrong value (len %d)", len(got))
	}
	if got := p.String(); got != "headers.Provider{source: static.Config.Token}" {
		t.Errorf("provider named %q, want the setting", got)
	}

	envCfg, err := static.ConfigFromLookup(fromEnv(map[string]string{static.EnvToken: jwt}))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := static.NewProvider(envCfg, headers.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if got := p2.String(); got != "headers.Provider{source: "+static.EnvToken+"}" {
		t.Errorf("provider named %q, want the variable", got)
	}
	p3, err := static.NewProvider(envCfg, headers.Options{Clock: clock, Name: "my token"})
	if err != nil {
		t.Fatal(err)
	}
	defer p3.Close()
	if got := p3.String(); got != "headers.Provider{source: my token}" {
		t.Errorf("provider named %q, want opts.Name", got)
	}
}

func TestNewFixedProviderRejects(t *testing.T) {
	clock := clocktest.New()
	// Expired by the provider's clock, though not by the system clock.
	expired := jwtExpiring(t0.Add(-time.Hour))
	if !time.Now().Before(t0.Add(-time.Hour)) {
		t.Fatal("the test's JWT has expired by the system clock too")
	}
	p, err := static.NewProvider(static.Config{Token: expired}, headers.Options{Clock: clock})
	if err == nil {
		p.Close()
		t.Fatal("NewProvider accepted an expired JWT")
	}
	if !errors.Is(err, static.ErrExpiredToken) {
		t.Errorf("error %q: want ErrExpiredToken", err)
	}
	assertSetting(t, err, "static.Config.Token")
	assertNoSecret(t, "error", err.Error(), expired)

	_, err = static.NewProvider(static.Config{Token: " "}, headers.Options{})
	if !errors.Is(err, static.ErrEmptyToken) {
		t.Errorf("error %v, want ErrEmptyToken", err)
	}
	assertSetting(t, err, "static.Config.Token")
}
