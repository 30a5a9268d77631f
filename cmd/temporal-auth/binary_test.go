package main

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// buildBinary builds temporal-auth into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool in PATH")
	}
	bin := filepath.Join(t.TempDir(), "temporal-auth")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// execBinary runs the binary with a clean environment plus env.
func execBinary(t *testing.T, bin, dir, stdin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", args, err)
	}
	return result{code, stdout.String(), stderr.String()}
}

// TestBinary builds the command once and runs it as a user would.
func TestBinary(t *testing.T) {
	bin := buildBinary(t)
	t.Run("round trip", func(t *testing.T) { testBinaryRoundTrip(t, bin) })
	t.Run("serve-jwks stops on SIGINT", func(t *testing.T) { testBinaryServeJWKSSignal(t, bin) })
}

func testBinaryRoundTrip(t *testing.T, bin string) {
	dir := t.TempDir()

	r := execBinary(t, bin, dir, "", nil, "--help")
	r.want(t, exitOK)
	if !strings.Contains(r.stdout, "Commands:") {
		t.Errorf("--help:\n%s", r.stdout)
	}
	r = execBinary(t, bin, dir, "", nil, "inspect", "--help")
	r.want(t, exitOK)
	if !strings.HasPrefix(r.stdout, "Usage: temporal-auth inspect") {
		t.Errorf("inspect --help:\n%s", r.stdout)
	}
	execBinary(t, bin, dir, "", nil, "token", "--bogus").want(t, exitUsage)

	// keygen, jwks, token --export, inspect.
	r = execBinary(t, bin, dir, "", nil, "keygen", "--out", "worker.pem")
	r.want(t, exitOK)
	kid := strings.TrimSpace(r.stdout)
	jwks := execBinary(t, bin, dir, "", nil, "jwks", "worker.pem")
	jwks.want(t, exitOK)
	writeFile(t, dir, "jwks.json", jwks.stdout)

	env := []string{"TEMPORAL_JWT_PRIVATE_KEY_FILE=worker.pem", "TEMPORAL_JWT_PERMISSIONS=default:write"}
	exported := execBinary(t, bin, dir, "", env, "token", "--ttl", "30m", "--export")
	exported.want(t, exitOK)
	tok, ok := strings.CutPrefix(strings.SplitN(exported.stdout, "\n", 2)[0], "export TEMPORAL_API_KEY=")
	if !ok || strings.Contains(exported.stderr, tok) {
		t.Fatalf("token --export: stdout %q stderr %q", exported.stdout, exported.stderr)
	}
	r = execBinary(t, bin, dir, exported.stdout, nil, "inspect", "--jwks", "jwks.json", "--need", "default:write")
	r.want(t, exitOK)
	if !strings.Contains(r.stdout, `ok    kid     "`+kid+`"`) || !strings.Contains(r.stdout, "VERDICT: ACCEPTED once the server has fetched the key") {
		t.Errorf("inspect:\n%s", r.stdout)
	}
	r.noToken(t, tok)

	// A token signed with a key not in the JWKS is rejected: exit 1.
	execBinary(t, bin, dir, "", nil, "keygen", "--out", "next.pem").want(t, exitOK)
	next := execBinary(t, bin, dir, "", nil, "token", "--key", "next.pem", "--permissions", "default:write")
	next.want(t, exitOK)
	r = execBinary(t, bin, dir, next.stdout, nil, "inspect", "--jwks", "jwks.json")
	r.want(t, exitFailure)
	if !strings.Contains(r.stdout, "is not in the JWKS") {
		t.Errorf("inspect:\n%s", r.stdout)
	}
}

func testBinaryServeJWKSSignal(t *testing.T, bin string) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT on Windows")
	}
	dir := t.TempDir()
	writeKey(t, filepath.Join(dir, "k.pem"))
	cmd := exec.Command(bin, "serve-jwks", "k.pem")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- strings.TrimSpace(line)
		exited <- cmd.Wait()
	}()
	var url string
	select {
	case url = <-lines:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatal("no URL within 30s")
	}
	if code, body := get(t, http.MethodGet, url); code != http.StatusOK || !strings.Contains(body, `"keys"`) {
		t.Errorf("GET %s: %d %s", url, code, body)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("after SIGINT: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatal("serve-jwks did not stop within 10s of SIGINT")
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}
