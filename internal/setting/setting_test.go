package setting_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/setting"
)

func TestLookup(t *testing.T) {
	env := setting.Lookup(func(name string) (string, bool) {
		v, ok := map[string]string{"D": " 90s ", "BAD": "90", "NEG": "-1s", "L": " a, b ", "HOLE": "a,,b", "BLANK": "  "}[name]
		return v, ok
	})
	if d, err := env.Duration("D"); err != nil || d.String() != "1m30s" {
		t.Errorf("Duration(D) = %v, %v", d, err)
	}
	if d, err := env.Duration("BLANK"); err != nil || d != 0 {
		t.Errorf("a blank variable is unset: %v, %v", d, err)
	}
	for _, name := range []string{"BAD", "NEG"} {
		var ce *headers.ConfigError
		if _, err := env.Duration(name); !errors.As(err, &ce) || ce.Setting != name {
			t.Errorf("Duration(%s): err = %v; want a ConfigError naming %s", name, err, name)
		}
	}
	if l, err := env.List("L", "x,y"); err != nil || strings.Join(l, "|") != "a|b" {
		t.Errorf("List(L) = %q, %v", l, err)
	}
	if _, err := env.List("HOLE", "x,y"); err == nil || !strings.Contains(err.Error(), "HOLE: entry 2 of 3 is empty") {
		t.Errorf("List(HOLE): err = %v", err)
	}
}

func TestNames(t *testing.T) {
	n := setting.Names{Config: "pkg.Config", Env: map[string]string{"Secret": "PKG_SECRET"}}
	for _, tc := range []struct {
		field   string
		fromEnv bool
		want    string
	}{
		{"Secret", true, "PKG_SECRET"},
		{"Secret", false, "pkg.Config.Secret"},
		{"Other", true, "pkg.Config.Other"},
	} {
		if got := n.Of(tc.field, tc.fromEnv); got != tc.want {
			t.Errorf("Of(%s, %v) = %s, want %s", tc.field, tc.fromEnv, got, tc.want)
		}
	}
	err := n.Errorf(true, "Secret", "is %s", "empty")
	if err.Error() != "PKG_SECRET: is empty" {
		t.Errorf("Errorf = %v", err)
	}
	if n.Wrap(false, "Secret", nil) != nil {
		t.Error("Wrap(nil) is not nil")
	}
}
