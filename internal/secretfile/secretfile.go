// Package secretfile reads the files that hold a source's secrets (private
// keys, certificates, tokens and client secrets) with a bound on their
// size, and reports a file at fault as an *Error, which names the file and
// what it is for, never its content.
package secretfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// An Error reports a file that cannot be read or does not hold what it
// should. It names the file and what it is for, never its content.
type Error struct {
	What string // such as "key file" or "token file"
	Path string
	Err  error
}

// Error returns `<what> "<path>": <cause>`.
func (e *Error) Error() string { return fmt.Sprintf("%s %q: %v", e.What, e.Path, e.Err) }

// Unwrap returns the cause, for errors.Is (fs.ErrNotExist, ...).
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error for path with a cause made from format.
func Errorf(what, path, format string, args ...any) error {
	return &Error{What: what, Path: path, Err: fmt.Errorf(format, args...)}
}

// Read returns the content of the file at path, at most max bytes. A
// larger file is an error saying it is not a what. Errors are *Error.
func Read(what, path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{What: what, Path: path, Err: fsCause(err)}
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, &Error{What: what, Path: path, Err: fsCause(err)}
	}
	if int64(len(data)) > max {
		return nil, Errorf(what, path, "larger than %s: not a %s", size(max), what)
	}
	return data, nil
}

// ReadValue returns the content of a file that holds one secret or token,
// such as a Kubernetes secret mount, trimmed of surrounding white space; a
// file that is empty after trimming is an error. Errors are *Error and
// never hold the content.
func ReadValue(what, path string, max int64) (string, error) {
	data, err := Read(what, path, max)
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		return "", Errorf(what, path, "empty")
	}
	return v, nil
}

// fsCause drops the path a *fs.PathError repeats, keeping its operation.
func fsCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("cannot %s: %w", pe.Op, pe.Err)
	}
	return err
}

func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
