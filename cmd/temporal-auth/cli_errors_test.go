package main

import (
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Issue #22: each error names what is at fault once, as the user gave it,
// then the cause and the fix (the wrapping rule in main.go).
func TestErrorsSayItOnce(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the system's error texts differ on Windows")
	}
	dir := t.TempDir()
	garbage := writeFile(t, dir, "garbage.pem", "not a key at all\n")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.Addr().String()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + closed.Addr().String() + "/jwks.json"
	closed.Close()
	keyFile := filepath.Join(dir, "k.pem")
	writeKey(t, keyFile)

	for _, tt := range []struct {
		args []string
		code int
		want string // the first line of stderr, or its start when it ends in ": "
	}{
		{[]string{"jwks", garbage}, exitFailure, `temporal-auth jwks: key file "` + garbage + `": `},
		{[]string{"serve-jwks", "--addr", "nohost", keyFile}, exitFailure,
			"temporal-auth serve-jwks: --addr nohost: missing port in address; give HOST:PORT, such as 127.0.0.1:7299 (port 0: any free port)"},
		{[]string{"serve-jwks", "--addr", busy, keyFile}, exitFailure,
			"temporal-auth serve-jwks: --addr " + busy + ": bind: address already in use; another process listens there: choose another port, or stop it"},
		{[]string{"inspect", "--jwks", refused, "x"}, exitFailure,
			"temporal-auth inspect: --jwks " + refused + ": connect: connection refused; check that a JWKS server listens there"},
		{[]string{"inspect", "--need", "default:worker", "x"}, exitUsage,
			`temporal-auth inspect: --need default:worker: role "worker" is not one of read, write, admin`},
		{[]string{"inspect", "--need", "a:read,default", "x"}, exitUsage,
			`temporal-auth inspect: --need a:read,default: "default": want <namespace>:<role>, e.g. default:write`},
	} {
		r := runCLI(t, nil, "", tt.args...)
		r.want(t, tt.code)
		first, _, _ := strings.Cut(r.stderr, "\n")
		if first != tt.want && !(strings.HasSuffix(tt.want, ": ") && strings.HasPrefix(first, tt.want)) {
			t.Errorf("%q:\nstderr %q\nwant   %q", tt.args, first, tt.want)
		}
		if strings.Contains(first, "jwtkey:") || strings.Contains(first, "listen tcp") {
			t.Errorf("%q: a library's prefix in %q", tt.args, first)
		}
	}
}
