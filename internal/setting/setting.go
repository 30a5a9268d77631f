// Package setting is what the token sources share to read and check their
// settings: the names errors give a setting (its Config field or its
// environment variable), reading variables, quoting values that are not
// secret, and applying defaults.
package setting

import (
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/temporalauth/temporalauth/headers"
)

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

// OrDefault returns the setting v, or its default def when v is unset (the
// zero value).
func OrDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Clock returns the Clock setting c, or the system clock when c is nil.
func Clock(c headers.Clock) headers.Clock {
	if c == nil {
		return headers.SystemClock()
	}
	return c
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
