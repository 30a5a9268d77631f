package inspect

import (
	"errors"
	"fmt"
	"strings"
)

// An Input is a token as the user gave it, taken apart: the token itself and
// the authorization scheme that came with it, if any.
type Input struct {
	// Token is the token alone, without scheme, quotes or variable name.
	Token string
	// Scheme is the authorization scheme in front of the token ("Bearer",
	// in the case given), or "" for a bare token.
	Scheme string
	// APIKey reports a TEMPORAL_API_KEY=<token> line: the temporal CLI
	// sends that value with the Bearer scheme itself.
	APIKey bool
}

// String describes in without its token.
func (in Input) String() string {
	return fmt.Sprintf("inspect.Input{Token: %s, Scheme: %q, APIKey: %t}", redacted, in.Scheme, in.APIKey)
}

// GoString describes in without its token, for %#v.
func (in Input) GoString() string { return in.String() }

// redacted replaces a token in descriptions of values holding one.
const redacted = "REDACTED"

// ErrNoToken reports input that holds no token.
var ErrNoToken = errors.New("no token in the input")

// ParseInput takes the token out of what a user pastes or pipes: a bare
// token, "Bearer <token>", an "authorization: Bearer <token>" header line,
// or a shell assignment such as TEMPORAL_CLI_AUTH='Bearer <token>' or
// export TEMPORAL_API_KEY=<token> (as "temporal-auth token --export"
// prints). Surrounding white space and quotes are removed. Several lines
// are accepted when they all carry the same token; blank lines and lines
// starting with # are skipped. Errors never contain the token.
func ParseInput(s string) (Input, error) {
	var found []Input
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		in, err := parseLine(line)
		if err != nil {
			return Input{}, err
		}
		found = append(found, in)
	}
	if len(found) == 0 {
		return Input{}, ErrNoToken
	}
	for _, in := range found[1:] {
		if in.Token != found[0].Token {
			return Input{}, fmt.Errorf("the input holds %d lines with different tokens; give one token", len(found))
		}
	}
	// Prefer the line that shows how the token is sent.
	for _, in := range found {
		if in.Scheme != "" {
			return in, nil
		}
	}
	return found[0], nil
}

// parseLine parses one non-empty line.
func parseLine(line string) (Input, error) {
	var in Input
	v := line
	if rest, ok := cutPrefixFold(v, "export "); ok {
		v = strings.TrimSpace(rest)
	}
	if name, value, ok := strings.Cut(v, "="); ok && isEnvName(name) {
		in.APIKey = name == "TEMPORAL_API_KEY"
		v = value
	} else if rest, ok := cutPrefixFold(v, "authorization:"); ok {
		v = rest
	}
	v = unquote(strings.TrimSpace(v))
	if scheme, rest, ok := strings.Cut(v, " "); ok && isSchemeName(scheme) {
		in.Scheme = scheme
		v = strings.TrimSpace(rest)
	}
	v = unquote(v)
	if v == "" || in.Scheme == "" && strings.EqualFold(v, "bearer") {
		return Input{}, ErrNoToken
	}
	in.Token = v
	return in, nil
}

// cutPrefixFold is strings.CutPrefix ignoring ASCII case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// unquote removes one pair of matching single or double quotes.
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// isEnvName reports whether s looks like an environment variable name.
func isEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isSchemeName reports whether s can be an HTTP authorization scheme.
func isSchemeName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}
