// Package config is the machinery the token sources share to read and
// check their settings: environment variables, files of bounded size, the
// names errors give a setting, and secrets that must never be printed.
package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/temporalauth/temporalauth/headers"
)

// Redacted is shown in place of a secret.
const Redacted = headers.Redacted

// OrDefault returns v, or def when v is the zero value.
func OrDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// HasSpaceOrControl reports whether s holds white space, a control
// character or an invalid UTF-8 sequence.
func HasSpaceOrControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar
	})
}

// Quote quotes a value that is not secret for an error message, cut short
// when long.
func Quote(v string) string {
	const max = 64
	if len(v) > max {
		return fmt.Sprintf("%q...", v[:max])
	}
	return fmt.Sprintf("%q", v)
}

// Quoted reports whether v is wrapped in a pair of double or single
// quotes, as docker --env-file, Compose env_file and some .env loaders
// leave a value written as KEY="value".
func Quoted(v string) bool {
	return len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0]
}

// QuotedHint is what an error about a Quoted value says.
const QuotedHint = "the value is enclosed in quotes, which docker --env-file and some .env loaders keep as part of it: remove them"

// Clock returns c, or the system clock when c is nil.
func Clock(c headers.Clock) headers.Clock {
	if c == nil {
		return headers.SystemClock()
	}
	return c
}

// NewProvider is what every source's NewProvider does: it checks opts,
// makes the source, lets name check it against opts and set opts.Name when
// that is empty, and wraps it in a headers.Provider. Refusing bad Options
// here makes a program fail at start rather than on every call.
func NewProvider[S headers.TokenSource](opts headers.Options, newSource func() (S, error), name func(S, *headers.Options) error) (*headers.Provider, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	src, err := newSource()
	if err != nil {
		return nil, err
	}
	if err := name(src, &opts); err != nil {
		return nil, err
	}
	return headers.New(src, opts), nil
}

// Format is the Format method of the types that hold a secret: it writes
// v's String for every verb, and its GoString for %#v, so that no verb
// reaches a secret field.
func Format(f fmt.State, verb rune, v interface {
	String() string
	GoString() string
}) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, v.GoString())
		return
	}
	_, _ = io.WriteString(f, v.String())
}

// Names tells what errors call a source's settings: the Config field, or
// the environment variable it was read from.
type Names struct {
	// Config is the type's qualified name, such as "jwtkey.Config".
	Config string
	// Env maps field names to the variables ConfigFromLookup reads them from.
	Env map[string]string
}

// Of returns the name of field: its variable when fromEnv is set and the
// field has one, else "<Config>.<field>".
func (n Names) Of(field string, fromEnv bool) string {
	if v, ok := n.Env[field]; ok && fromEnv {
		return v
	}
	return n.Config + "." + field
}

// Errorf returns a *headers.ConfigError for field.
func (n Names) Errorf(fromEnv bool, field, format string, args ...any) error {
	return &headers.ConfigError{Setting: n.Of(field, fromEnv), Err: fmt.Errorf(format, args...)}
}

// Wrap returns err as a *headers.ConfigError for field, or nil for nil.
func (n Names) Wrap(fromEnv bool, field string, err error) error {
	if err == nil {
		return nil
	}
	return &headers.ConfigError{Setting: n.Of(field, fromEnv), Err: err}
}

// Lookup reads environment variables as os.LookupEnv does.
type Lookup func(name string) (value string, ok bool)

// Get returns the variable's value trimmed of surrounding white space; a
// variable that is empty after trimming is unset. A nil l reads the process
// environment.
func (l Lookup) Get(name string) string {
	if l == nil {
		l = os.LookupEnv
	}
	v, _ := l(name)
	return strings.TrimSpace(v)
}

// Duration reads a positive Go duration from variable name; unset is 0.
func (l Lookup) Duration(name string) (time.Duration, error) {
	v := l.Get(name)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, &headers.ConfigError{Setting: name, Err: fmt.Errorf("%s is not a duration; want a Go duration such as 30s, 5m or 1h30m (with its unit)", Quote(v))}
	}
	if d <= 0 {
		return 0, &headers.ConfigError{Setting: name, Err: fmt.Errorf("%s: must be positive", Quote(v))}
	}
	return d, nil
}

// List reads a comma-separated list from variable name, trimming its
// entries; an empty entry is an error. example shows a valid value.
func (l Lookup) List(name, example string) ([]string, error) {
	v := l.Get(name)
	if v == "" {
		return nil, nil
	}
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
		if parts[i] == "" {
			return nil, &headers.ConfigError{Setting: name, Err: fmt.Errorf("entry %d of %d is empty; want a comma-separated list such as %s", i+1, len(parts), example)}
		}
	}
	return parts, nil
}

// A FileError reports a file that cannot be read or does not hold what it
// should. It names the file and what it is for, never its content.
type FileError struct {
	What string // such as "key file" or "token file"
	Path string
	Err  error
}

// Error returns `<what> "<path>": <cause>`.
func (e *FileError) Error() string { return fmt.Sprintf("%s %q: %v", e.What, e.Path, e.Err) }

// Unwrap returns the cause, for errors.Is (fs.ErrNotExist, ...).
func (e *FileError) Unwrap() error { return e.Err }

// FileErrorf returns a *FileError for path with a cause made from format.
func FileErrorf(what, path, format string, args ...any) error {
	return &FileError{What: what, Path: path, Err: fmt.Errorf(format, args...)}
}

// ReadFile returns the content of the file at path, at most max bytes. A
// larger file is an error saying it is not a what. Errors are *FileError.
func ReadFile(what, path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{What: what, Path: path, Err: fsCause(err)}
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, &FileError{What: what, Path: path, Err: fsCause(err)}
	}
	if int64(len(data)) > max {
		return nil, FileErrorf(what, path, "larger than %s: not a %s", size(max), what)
	}
	return data, nil
}

// ReadSecretFile returns the content of a file that holds one secret or
// token, such as a Kubernetes secret mount, trimmed of surrounding white
// space; a file that is empty after trimming is an error. Errors are
// *FileError and never hold the content.
func ReadSecretFile(what, path string, max int64) (string, error) {
	data, err := ReadFile(what, path, max)
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		return "", FileErrorf(what, path, "empty")
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
