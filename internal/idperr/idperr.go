// Package idperr is what the sources that call an identity provider share
// to report its answers: the Retry-After it asked for, and text that can go
// into an error or a log because no secret, token, query string or control
// character is left in it and its length is bounded.
//
// Every string an identity provider sends (an error description, an error
// code, a trace ID, a list from a discovery document) passes through Text
// before it is stored in an error, and is printed with Quote or Field:
// whatever the identity provider answers, the error stays one line that
// cannot forge a log record.
package idperr

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/temporalauth/temporalauth/headers"
)

// RetryAfterCap is the longest Retry-After RetryAfter returns: an identity
// provider that asks for longer is still asked again after a day. It is
// not headers.MaxRetryAfter, the Provider's own, shorter cap on how long
// it waits.
const RetryAfterCap = 24 * time.Hour

// MaxText is the length, in bytes, to which Text cuts the longest strings
// an identity provider sends (error descriptions).
const MaxText = 300

// MaxField is the length, in bytes, to which Text cuts short strings an
// identity provider sends: error codes, trace and correlation IDs, the
// names of a discovery document's list.
const MaxField = 100

// RetryAfter reads a Retry-After header, delay seconds or an HTTP date, as
// a duration from now, at most RetryAfterCap; 0 when it is absent, past or
// malformed.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(RetryAfterCap/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, RetryAfterCap)
		}
	}
	return 0
}

// URL returns u without its query, fragment and user info, which may
// carry credentials.
func URL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment, c.User = "", false, "", "", nil
	return c.String()
}

// jwtLike matches JWTs and fragments of them (base64url JSON starting "eyJ").
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_\-]{4,}(\.[A-Za-z0-9_\-]*)*`)

// authCredential matches the credentials of an HTTP Authorization header
// ("Basic <base64>", "Bearer <token>"), as an identity provider that echoes
// the request's headers would show them.
var authCredential = regexp.MustCompile(`(?i)\b(basic|bearer)(?:\s+|%20|\+)([A-Za-z0-9+/=_~.%\-]{8,})`)

// isCredential reports whether v, after the scheme, is a credential rather
// than a word ("Basic authentication"): a Basic credential decodes to
// "<id>:<secret>", a Bearer token is long.
func isCredential(scheme, v string) bool {
	if strings.EqualFold(scheme, "bearer") {
		return len(v) >= 16
	}
	if u, err := url.QueryUnescape(v); err == nil {
		v = u
	}
	// Decode whole groups only, so that a credential the identity provider
	// cut short is still recognised.
	v = strings.TrimRight(v, "=")
	v = v[:len(v)/4*4]
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		if b, err := enc.DecodeString(v); err == nil && strings.Contains(string(b), ":") {
			return true
		}
	}
	return false
}

// Scrub replaces in s each of secrets, also in its URL-encoded form, the
// credential of anything that looks like an Authorization header ("Basic
// <base64>"), and anything that looks like a JWT with headers.Redacted.
func Scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, headers.Redacted)
			if esc := url.QueryEscape(sec); esc != sec {
				s = strings.ReplaceAll(s, esc, headers.Redacted)
			}
		}
	}
	s = authCredential.ReplaceAllStringFunc(s, func(m string) string {
		sub := authCredential.FindStringSubmatch(m)
		if !isCredential(sub[1], sub[2]) {
			return m
		}
		return sub[1] + " " + headers.Redacted
	})
	return jwtLike.ReplaceAllString(s, headers.Redacted)
}

// BasicCredential returns the credential of the HTTP Basic Authorization
// header x/oauth2 and this module send for a client ID and secret (RFC
// 6749, 2.3.1: each form-encoded, then joined by a colon and base64
// encoded): a value to give Scrub with the secret.
func BasicCredential(clientID, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(clientID) + ":" + url.QueryEscape(secret)))
}

// Text makes a string from an identity provider fit for an error or a log:
// it keeps its first line, scrubs it as Scrub does, replaces every other
// control character (ESC, BEL, ...) and invalid UTF-8 with a space, trims
// it and cuts it to at most max bytes. Print the result with Quote or
// Field.
func Text(s string, secrets []string, max int) string {
	if i := strings.IndexAny(s, "\r\n\u0085\u2028\u2029"); i >= 0 {
		s = s[:i]
	}
	s = strings.ToValidUTF8(Scrub(s, secrets), " ")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError || unicode.Is(unicode.Cf, r) {
			return ' '
		}
		return r
	}, s)
	// Scrubbed again: a secret may have been split by a control character.
	return Truncate(strings.TrimSpace(Scrub(s, secrets)), max)
}

// Quote quotes text from an identity provider for an error, Go-escaped:
// what it prints cannot end the line or start another record.
func Quote(s string) string { return strconv.Quote(s) }

// plainField matches identifiers printed without quotes.
var plainField = regexp.MustCompile(`^[A-Za-z0-9._:/+=-]+$`)

// Field prints an identifier from an identity provider (an error code, a
// trace ID): as it is when it holds only letters, digits and ._:/+=-,
// quoted by Quote otherwise.
func Field(s string) string {
	if plainField.MatchString(s) {
		return s
	}
	return Quote(s)
}

// List prints at most max names from an identity provider's list, each
// made safe by Text and printed by Field, separated by commas, and says
// how many it left out.
func List(names []string, max int) string {
	var b strings.Builder
	for i, n := range names {
		if i == max {
			fmt.Fprintf(&b, " and %d more", len(names)-max)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(Field(Text(n, nil, MaxField)))
	}
	return b.String()
}

// Scrubbed returns an error whose message is msg (made by the caller from
// err's with Scrub) and which unwraps to err, so that errors.Is and
// errors.As still find what err wraps.
func Scrubbed(err error, msg string) error { return &scrubbedError{err: err, msg: msg} }

// scrubbedError keeps an error's identity while replacing its message.
type scrubbedError struct {
	err error
	msg string
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// Truncate cuts s to at most n bytes, at a rune boundary, marking the cut
// with "...".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// Code returns an OAuth error code (or another code) from an identity
// provider made safe by Text and cut to MaxField bytes, or "" when it is
// not printable ASCII without quotes and backslashes, as RFC 6749 (5.2)
// requires of error codes.
func Code(code string, secrets []string) string {
	code = Text(code, secrets, MaxField)
	if strings.ContainsFunc(code, func(r rune) bool { return r < 0x21 || r > 0x7e || r == '"' || r == '\\' }) {
		return ""
	}
	return code
}

// Describe is the Error text of the sources' ResponseError types, one
// line: "<pkg>: <method> <url>: <status> <status text>", then the codes
// and the quoted description, or what the body was when it held neither;
// then ids (such as "trace ID 1234") and the hint in parentheses. Codes,
// description and ids must come from Text or Code.
func Describe(pkg, method, url string, status int, contentType string, bodyLength int, codes []string, description string, ids []string, hint string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s %s: %d %s", pkg, method, url, status, http.StatusText(status))
	said := false
	for _, c := range codes {
		if c != "" {
			b.WriteString(": ")
			b.WriteString(Field(c))
			said = true
		}
	}
	if description != "" {
		b.WriteString(": ")
		b.WriteString(Quote(description))
		said = true
	}
	switch {
	case said:
	case bodyLength > 0:
		if contentType == "" {
			contentType = "untyped"
		}
		fmt.Fprintf(&b, ": unexpected %s response of %d bytes", Field(contentType), bodyLength)
	default:
		b.WriteString(": empty response")
	}
	if said && len(ids) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(ids, ", "))
	}
	if hint != "" {
		fmt.Fprintf(&b, " (%s)", hint)
	}
	return b.String()
}
