package hydratest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// EnvBinary names the environment variable that holds the absolute path of a
// prebuilt Hydra binary. scripts/build-hydra.sh builds one and scripts/test.sh
// exports this variable, so CI never builds Hydra from inside a test.
const EnvBinary = "TEMPORALAUTH_HYDRA"

// buildTags are the tags scripts/build-hydra.sh builds Hydra with: sqlite
// compiles in the SQLite persister that file DSNs (and so Restart) need;
// sqlite_omit_load_extension keeps dlopen out of the SQLite driver.
const buildTags = "sqlite,sqlite_omit_load_extension"

var binary struct {
	sync.Mutex
	path string
}

// Binary returns the path of an Ory Hydra binary for the tests: the value of
// $TEMPORALAUTH_HYDRA when it is set, otherwise a binary built from the
// repository's tools/hydra module (pinned by its go.mod and go.sum) into the
// user cache directory. A build is shared by every test binary: it is keyed
// by tools/hydra/go.mod and go.sum, guarded by a file lock so parallel test
// processes do not build it twice, and takes a few minutes when the Go build
// cache is cold, seconds when it is warm.
//
// Binary fails t, naming scripts/build-hydra.sh, when neither works.
func Binary(t testing.TB) string {
	t.Helper()
	binary.Lock()
	defer binary.Unlock()
	if binary.path != "" {
		return binary.path
	}
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("hydratest: $%s=%s: %v (run scripts/build-hydra.sh and export %s to the path it prints)", EnvBinary, p, err, EnvBinary)
		}
		binary.path = p
		return p
	}
	p, err := buildBinary()
	if err != nil {
		t.Fatalf("hydratest: no Hydra binary: %v\n"+
			"Build one with scripts/build-hydra.sh and export %s=<the path it prints>.", err, EnvBinary)
	}
	binary.path = p
	return p
}

// toolsDir finds tools/hydra in the repository: next to this source file when
// it is on disk (the usual case), else beside the module the tests run in.
func toolsDir() (string, error) {
	var candidates []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		// examples/internal/hydratest/binary.go -> repository root.
		candidates = append(candidates, filepath.Join(filepath.Dir(file), "..", "..", "..", "tools", "hydra"))
	}
	if out, err := exec.Command("go", "env", "GOMOD").Output(); err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			// The examples module sits at the repository root.
			candidates = append(candidates, filepath.Join(filepath.Dir(gomod), "..", "tools", "hydra"))
		}
	}
	for _, dir := range candidates {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Clean(dir), nil
		}
	}
	return "", fmt.Errorf("tools/hydra/go.mod not found (looked in %q)", candidates)
}

func buildBinary() (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("cannot build Hydra: %w", err)
	}
	src, err := toolsDir()
	if err != nil {
		return "", err
	}
	// Key the cached binary by everything that decides its contents.
	h := sha256.New()
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "%s/%s tags=%s\n", runtime.GOOS, runtime.GOARCH, buildTags)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "temporalauth-hydra", hex.EncodeToString(h.Sum(nil))[:16])
	out := filepath.Join(dir, "hydra")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(dir, "build.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(out); err == nil {
		return out, nil // another process built it while we waited
	}

	run := func(args ...string) (string, error) {
		cmd := exec.Command(goCmd, args...)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOWORK=off")
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		err := cmd.Run()
		if err != nil {
			err = fmt.Errorf("go %s in %s: %w\n%s", strings.Join(args, " "), src, err, tail(buf.String(), 4000))
		}
		return buf.String(), err
	}
	version, err := run("list", "-m", "-f", "{{.Version}}", "github.com/ory/hydra/v2")
	if err != nil {
		return "", err
	}
	// Build next to the target and rename, so a reader never sees half a file.
	tmp := out + ".tmp"
	if _, err := run("build", "-tags", buildTags,
		"-ldflags", "-X github.com/ory/hydra/v2/driver/config.Version="+strings.TrimSpace(version),
		"-o", tmp, "github.com/ory/hydra/v2"); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	return out, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
