package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Issue #16: the token command's messages and the grants it warns about.

func TestTokenTTLWording(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "k.pem")
	writeKey(t, keyFile)
	for arg, want := range map[string]string{
		"10":  `--ttl 10: a duration needs a unit: did you mean 10s or 10m?`,
		"abc": `--ttl abc: not a duration; write a number with its unit, such as 90s, 10m or 1h30m`,
		"0s":  "--ttl 0s: must be at least 1s",
	} {
		r := runCLI(t, nil, "", "token", "--key", keyFile, "--ttl", arg)
		r.want(t, exitUsage)
		if !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "parse error") {
			t.Errorf("--ttl %s: stderr %q, want %q", arg, r.stderr, want)
		}
	}
}

func TestTokenGrantWarnings(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "k.pem")
	writeKey(t, keyFile)
	for _, tt := range []struct {
		perms []string
		want  []string // warnings, by a distinctive part
	}{
		{nil, []string{"the token carries no permissions"}},
		{[]string{"--permissions", "default:worker"}, []string{"default:worker grants nothing", "use default:write"}},
		{[]string{"--permissions", "default:worker,other:Worker,other:read"}, []string{"default:worker grants nothing"}},
		{[]string{"--permissions", "default:write"}, nil},
		{[]string{"--permissions", "temporal-system:admin"}, nil},
	} {
		r := runCLI(t, nil, "", append([]string{"token", "--key", keyFile}, tt.perms...)...)
		r.want(t, exitOK) // a warning, not a refusal: the server's authorizer may be a custom one
		var warnings []string
		for _, l := range strings.Split(r.stderr, "\n") {
			if strings.Contains(l, "warning:") {
				warnings = append(warnings, l)
			}
		}
		if (len(tt.want) == 0) != (len(warnings) == 0) || len(warnings) > 1 {
			t.Errorf("%v: warnings %q", tt.perms, warnings)
		}
		for _, w := range tt.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%v: stderr lacks %q:\n%s", tt.perms, w, r.stderr)
			}
		}
		if strings.Contains(strings.Join(warnings, "\n"), "other:") {
			t.Errorf("%v: warns about a namespace with read:\n%s", tt.perms, r.stderr)
		}
	}
}

func TestTokenProviderFlagIgnoresOthers(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "k.pem")
	writeKey(t, keyFile)
	env := map[string]string{"TEMPORAL_AUTH_TOKEN": "opaque-static-token", "TEMPORAL_JWT_PRIVATE_KEY_FILE": keyFile}

	r := runCLI(t, env, "", "token")
	r.want(t, exitFailure)
	if !strings.Contains(r.stderr, "more than one provider") || !strings.Contains(r.stderr, "pass --provider jwt, azure, oidc or static") {
		t.Errorf("stderr %q does not point at --provider", r.stderr)
	}
	r.noSecret(t, "opaque-static-token")

	r = runCLI(t, env, "", "token", "--provider", "jwt", "--permissions", "default:write")
	r.want(t, exitOK)
	if strings.Count(r.stdout, ".") != 2 {
		t.Errorf("--provider jwt printed %q, want a JWT", r.stdout)
	}
	r = runCLI(t, env, "", "token", "--provider", "static")
	r.want(t, exitOK)
	if r.stdout != "opaque-static-token\n" {
		t.Errorf("--provider static printed %q", r.stdout)
	}
}

func TestTokenErrorsNameNoGoField(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, tt := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--key", missing}, "--key " + missing + ": cannot open: no such file or directory; check the path"},
		{map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": missing}, nil, "TEMPORAL_JWT_PRIVATE_KEY_FILE=" + missing + ": cannot open"},
		{map[string]string{"TEMPORAL_JWT_PRIVATE_KEY": "not a key"}, nil, "TEMPORAL_JWT_PRIVATE_KEY"},
	} {
		r := runCLI(t, tt.env, "", append([]string{"token"}, tt.args...)...)
		if r.code == exitOK {
			t.Fatalf("%v %v: exit 0", tt.env, tt.args)
		}
		if strings.Contains(r.stderr, "Config.") || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v %v: stderr %q, want %q and no Go field name", tt.env, tt.args, r.stderr, tt.want)
		}
	}
}

func TestFlagNamesRewritesGoFields(t *testing.T) {
	for in, want := range map[string]string{
		"x: TEMPORAL_JWT_SUBJECT: jwtkey.Config.Subject: bad":            "x: TEMPORAL_JWT_SUBJECT: bad",
		"x (TEMPORAL_JWT_PRIVATE_KEY_FILE): jwtkey.Config.KeyFile: gone": "x (TEMPORAL_JWT_PRIVATE_KEY_FILE): gone",
		"jwtkey.Config.Audience: empty":                                  "TEMPORAL_JWT_AUDIENCE: empty",
		"azure.Config.TenantID: missing":                                 "the TenantID setting: missing",
	} {
		if got := flagNames(errString(in), nil).Error(); got != want {
			t.Errorf("flagNames(%q) = %q, want %q", in, got, want)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// TestTokenExportPlaintext runs the --export lines through a real shell:
// with --tls=false they also set TEMPORAL_TLS=false, which the temporal CLI
// needs against a server without TLS once TEMPORAL_API_KEY is set.
func TestTokenExportPlaintext(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	keyFile := filepath.Join(t.TempDir(), "k.pem")
	writeKey(t, keyFile)
	r := runCLI(t, nil, "", "token", "--key", keyFile, "--permissions", "temporal-system:admin", "--export", "--tls=false")
	r.want(t, exitOK)
	script := filepath.Join(t.TempDir(), "env.sh")
	if err := os.WriteFile(script, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sh, "-c", `. "$1" && printf '%s|%s|%s' "$TEMPORAL_TLS" "${TEMPORAL_CLI_AUTH%% *}" "${#TEMPORAL_API_KEY}"`, "sh", script).Output()
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(out), "|")
	if len(parts) != 3 || parts[0] != "false" || parts[1] != "Bearer" || parts[2] == "0" {
		t.Errorf("after eval: TEMPORAL_TLS|scheme|len(key) = %q", out)
	}

	r = runCLI(t, nil, "", "token", "--key", keyFile, "--tls=false")
	r.want(t, exitUsage)
	if !strings.Contains(r.stderr, "--tls only changes what --export prints") {
		t.Errorf("stderr %q", r.stderr)
	}
	r = runCLI(t, nil, "", "token", "--key", keyFile, "--permissions", "default:write", "--export")
	if strings.Contains(r.stdout, "TEMPORAL_TLS") {
		t.Errorf("--export without --tls prints %q", r.stdout)
	}
}
