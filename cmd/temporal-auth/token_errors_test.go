package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Issue #22: the errors of token say one thing once, as one sentence with
// a fix.

// permissionHint is the fix for a key file the process may not read.
const permissionHint = "run as the file's owner or give the process read access (on Kubernetes: securityContext.runAsUser or fsGroup)"

// A key file the user cannot read is named once, as the user gave it, with
// the fix; neither the library's prefixes nor the setting's second name.
func TestTokenKeyFileUnreadable(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.pem")
	writeKey(t, keyFile)
	var bin string
	for _, tt := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"token", "--key", keyFile},
			"temporal-auth token: --key " + keyFile + ": cannot open: permission denied; " + permissionHint + "\n"},
		{nil, []string{"token", "--provider", "jwt", "--key", keyFile},
			"temporal-auth token: --key " + keyFile + ": cannot open: permission denied; " + permissionHint + "\n"},
		{[]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE=" + keyFile}, []string{"token"},
			"temporal-auth token: TEMPORAL_JWT_PRIVATE_KEY_FILE=" + keyFile + ": cannot open: permission denied; " + permissionHint + "\n"},
	} {
		r := runUnprivileged(t, &bin, dir, keyFile, tt.env, tt.args)
		r.want(t, exitFailure)
		if r.stderr != tt.want || r.stdout != "" {
			t.Errorf("%q %q:\nstderr %q\nwant   %q", tt.env, tt.args, r.stderr, tt.want)
		}
	}
}

// runUnprivileged runs the command as a user who may not read keyFile:
// this process with the file's mode 0000, or, for root (who reads any
// file), the built binary as the unprivileged user nobody.
func runUnprivileged(t *testing.T, bin *string, dir, keyFile string, env, args []string) result {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("file modes do not deny reading on Windows")
	}
	if os.Geteuid() != 0 {
		if err := os.Chmod(keyFile, 0); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		return runCLI(t, m, "", args...)
	}
	return runAsNobody(t, bin, dir, env, args)
}

// The library's "jwt provider (chosen because ...)" prefix is dropped when
// the user can see the provider, and kept when it is news: a platform
// variable (AZURE_CLIENT_ID) chose it.
func TestTokenLoadErrorPrefix(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		args []string
		want string // the whole stderr
	}{
		{nil, []string{"--permissions", "default:write"},
			"temporal-auth token: TEMPORAL_JWT_PRIVATE_KEY: no private key: set TEMPORAL_JWT_PRIVATE_KEY_FILE to a PEM private key file, or TEMPORAL_JWT_PRIVATE_KEY to the PEM key itself\n"},
		{map[string]string{"TEMPORAL_AUTH_PROVIDER": "jwt"}, nil,
			"temporal-auth token: TEMPORAL_JWT_PRIVATE_KEY: no private key: set TEMPORAL_JWT_PRIVATE_KEY_FILE to a PEM private key file, or TEMPORAL_JWT_PRIVATE_KEY to the PEM key itself\n"},
		{map[string]string{"AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000001"}, nil,
			"temporal-auth token: temporalauth: azure provider (chosen because AZURE_CLIENT_ID is set; set TEMPORAL_AUTH_PROVIDER to choose another): "},
	} {
		r := runCLI(t, tt.env, "", append([]string{"token"}, tt.args...)...)
		r.want(t, exitFailure)
		if got := r.stderr; got != tt.want && !(strings.HasSuffix(tt.want, ": ") && strings.HasPrefix(got, tt.want)) {
			t.Errorf("%v %q:\nstderr %q\nwant   %q", tt.env, tt.args, got, tt.want)
		}
	}
}
