//go:build unix

package readme

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// walkthroughPorts are the fixed ports of the README's walkthrough; the
// test replaces each with a free one.
var walkthroughPorts = []int{7233, 7234, 7235, 7236, 7239, 7243, 6933, 6934, 6935, 6936, 6939, 7299, 9090}

// demoDir is the walkthrough's working directory; the test replaces it.
const demoDir = "/tmp/temporal-demo"

// TestDocs runs every sh block of README.md and TROUBLESHOOTING.md in one
// shell session, as README.md's "Command blocks" section describes, and
// checks what the walkthrough promises.
func TestDocs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Temporal server binary")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []Block
	var docs strings.Builder
	for _, name := range []string{"README.md", "TROUBLESHOOTING.md"} {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		docs.Write(data)
		blocks = append(blocks, Parse(name, string(data))...)
	}

	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	demo := filepath.Join(tmp, "demo")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "temporal"), "./internal/temporalcli")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the temporal CLI stand-in: %v\n%s", err, out)
	}

	ports, err := freePorts(len(walkthroughPorts))
	if err != nil {
		t.Fatal(err)
	}
	portRE := regexp.MustCompile(`\b(` + joinInts(walkthroughPorts, "|") + `)\b`)
	portMap := map[string]string{}
	for i, p := range walkthroughPorts {
		portMap[strconv.Itoa(p)] = strconv.Itoa(ports[i])
	}

	var script strings.Builder
	script.WriteString("set -e\n")
	ran := 0
	for _, b := range blocks {
		switch b.Kind() {
		case "skip":
			t.Logf("%s:%d (%s): not run: %s", b.File, b.Line, b.Section, b.Skip)
			continue
		case "env":
			for _, name := range b.EnvNames() {
				if !strings.Contains(docs.String(), "`"+name+"`") {
					t.Errorf("%s:%d (%s): %s is not documented (as `%s`)", b.File, b.Line, b.Section, name, name)
				}
			}
			continue
		case "data":
			continue
		}
		text := strings.ReplaceAll(b.Text, demoDir, demo)
		text = portRE.ReplaceAllStringFunc(text, func(p string) string { return portMap[p] })
		fmt.Fprintf(&script, "echo '>>> %s:%d (%s)' >&2\n%s", b.File, b.Line, strings.ReplaceAll(b.Section, "'", ""), text)
		ran++
	}
	if ran < 6 {
		t.Fatalf("only %d sh blocks to run: the walkthrough is missing", ran)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", script.String())
	cmd.Dir = root
	cmd.Env = append(cleanEnv(), "GOBIN="+bin, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The walkthrough leaves the JWKS server, the Temporal server and the
	// worker running: stop the whole process group.
	killGroup := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.Cancel = func() error { killGroup(); return nil }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		killGroup()
		waitGone(t, cmd.Process.Pid)
	}()
	err = cmd.Wait()
	t.Logf("ran %d sh blocks in %s", ran, time.Since(start).Round(time.Millisecond))
	logs := func() string {
		var b strings.Builder
		for _, f := range []string{"server.log", "jwks.log", "worker.log"} {
			data, _ := os.ReadFile(filepath.Join(demo, f))
			fmt.Fprintf(&b, "--- %s (tail)\n%s\n", f, tail(string(data), 3000))
		}
		return b.String()
	}
	if err != nil {
		t.Fatalf("the blocks failed: %v\n--- stdout\n%s\n--- stderr\n%s\n%s", err, stdout.String(), tail(stderr.String(), 6000), logs())
	}
	for _, want := range []string{
		"Namespace default successfully registered.",
		"Workflow result: Hello Temporal!",
		"VERDICT: ACCEPTED",
		`temporal_auth_token_refresh{outcome="success",source="jwt",trigger="blocking"} 1`,
		"temporalauth: new token",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s\n%s", want, stdout.String(), logs())
		}
	}
	if server, _ := os.ReadFile(filepath.Join(demo, "server.log")); bytes.Contains(server, []byte("error starting scanner")) {
		t.Errorf("the server could not start its worker service:\n%s", logs())
	}
}

// cleanEnv returns this process's environment without the variables that
// would change what the blocks do.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "TEMPORAL_") || strings.HasPrefix(name, "AZURE_") ||
			name == "GOBIN" || name == "PATH" || name == "CDPATH" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// waitGone waits until no process of the group pgid is left.
func waitGone(t *testing.T, pgid int) {
	deadline := time.Now().Add(15 * time.Second)
	for syscall.Kill(-pgid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			t.Logf("processes of the walkthrough still there 15 s after SIGTERM (or unreaped); sent SIGKILL")
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePorts returns n distinct TCP ports free on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func joinInts(v []int, sep string) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, sep)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
