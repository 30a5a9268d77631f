//go:build linux

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// nobody is the uid and gid of the unprivileged user.
const nobody = 65534

// runAsNobody runs the binary as uid and gid nobody in dir, with env as
// its whole environment beside PATH. *bin is the binary, built on first use.
func runAsNobody(t *testing.T, bin *string, dir string, env, args []string) result {
	t.Helper()
	if *bin == "" {
		*bin = buildBinary(t)
	}
	builtForNobody := *bin
	// The temporary directories are private to root: let nobody reach the
	// binary and dir (not the key file, mode 0600 and owned by root).
	for _, d := range []string{filepath.Dir(builtForNobody), filepath.Dir(filepath.Dir(builtForNobody)), dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(builtForNobody, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run %s as nobody: %v", args, err)
	}
	return result{code, stdout.String(), stderr.String()}
}
