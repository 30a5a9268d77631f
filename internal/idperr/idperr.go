// Package idperr is what the sources that call an identity provider share
// to report its answers: the Retry-After it asked for, and text that can go
// into an error or a log because no secret, token or query string is left
// in it.
package idperr

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/temporalauth/temporalauth/headers"
)

// MaxRetryAfter caps a Retry-After: an identity provider that asks for
// longer is still asked again after a day.
const MaxRetryAfter = 24 * time.Hour

// RetryAfter reads a Retry-After header, delay seconds or an HTTP date, as
// a duration from now, at most MaxRetryAfter; 0 when it is absent, past or
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
		return time.Duration(min(secs, int64(MaxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, MaxRetryAfter)
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

// Scrub replaces in s each of secrets, also in its URL-encoded form, and
// anything that looks like a JWT with headers.Redacted.
func Scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, headers.Redacted)
			if esc := url.QueryEscape(sec); esc != sec {
				s = strings.ReplaceAll(s, esc, headers.Redacted)
			}
		}
	}
	return jwtLike.ReplaceAllString(s, headers.Redacted)
}

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
