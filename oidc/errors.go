package oidc

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/config"
)

// maxDescription bounds the identity provider's error description in an error.
const maxDescription = 300

// maxRetryAfter bounds a Retry-After read from an answer; the Provider caps
// the wait further (headers.MaxRetryAfter).
const maxRetryAfter = 24 * time.Hour

// A ResponseError is an error answer from the identity provider's token
// endpoint or discovery document: an HTTP status other than 2xx, with the
// RFC 6749 (5.2) "error" and "error_description" when the body carries
// them. It never holds the request's credentials, a token, or the body
// itself: a body that is not an OAuth error (an HTML page from a proxy) is
// described by its content type and length only.
//
// When the answer carried Retry-After (429 Too Many Requests, 503 Service
// Unavailable), the error Token returns is also marked with
// headers.WithRetryAfter, so that a headers.Provider waits at least that
// long before it asks again. Every error answer makes the Provider back
// off; find this type with errors.As.
type ResponseError struct {
	// Method and URL are the request's, the URL without its query.
	Method, URL string
	// StatusCode is the HTTP status code.
	StatusCode int
	// ContentType and BodyLength describe the response body.
	ContentType string
	BodyLength  int
	// ErrorCode is the OAuth error, such as "invalid_client".
	ErrorCode string
	// Description is the first line of "error_description", shortened,
	// with anything that looks like a token or a secret removed.
	Description string
	// RetryAfter is the answer's Retry-After, zero if none.
	RetryAfter time.Duration
	// Setting names the setting to fix, for the errors that point at one:
	// invalid_client (the client ID or credential), unauthorized_client
	// (the client ID: the client may not use the client_credentials
	// grant), invalid_scope (the scopes), invalid_target (the resource).
	// It is a Config field, or the environment variable for a Config read
	// by ConfigFromLookup. Empty otherwise.
	Setting string
	// Hint says what to check, in words, when Setting is set.
	Hint string
}

// Error describes the answer in one line.
func (e *ResponseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "oidc: %s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	switch {
	case e.ErrorCode != "" || e.Description != "":
		for _, part := range []string{e.ErrorCode, e.Description} {
			if part != "" {
				b.WriteString(": ")
				b.WriteString(part)
			}
		}
	case e.BodyLength > 0:
		ct := e.ContentType
		if ct == "" {
			ct = "untyped"
		}
		fmt.Fprintf(&b, ": unexpected %s response of %d bytes", ct, e.BodyLength)
	default:
		b.WriteString(": empty response")
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, " (%s)", e.Hint)
	}
	return b.String()
}

// responseError describes a non-2xx answer. n names the settings a hint
// points at; secrets are scrubbed from what the answer says.
func responseError(method string, u *url.URL, resp *http.Response, body []byte, now time.Time, secrets []string) *ResponseError {
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	e := &ResponseError{
		Method:      method,
		URL:         redactURL(u),
		StatusCode:  resp.StatusCode,
		ContentType: ct,
		BodyLength:  len(body),
		RetryAfter:  parseRetryAfter(resp.Header.Get("Retry-After"), now),
	}
	var oe struct {
		Error            json.RawMessage `json:"error"`
		ErrorDescription json.RawMessage `json:"error_description"`
	}
	if json.Unmarshal(body, &oe) != nil {
		// RFC 6749 requires JSON; some servers answer errors as forms.
		if v, err := url.ParseQuery(string(body)); err == nil && v.Get("error") != "" && !strings.ContainsAny(string(body), "<>{") {
			e.ErrorCode = cleanCode(v.Get("error"), secrets)
			e.Description = cleanDescription(v.Get("error_description"), secrets)
		}
		return e
	}
	var code, desc string
	_ = json.Unmarshal(oe.Error, &code)
	_ = json.Unmarshal(oe.ErrorDescription, &desc)
	e.ErrorCode = cleanCode(code, secrets)
	e.Description = cleanDescription(desc, secrets)
	return e
}

// cleanCode keeps an error code only if it looks like one (RFC 6749 limits
// them to printable ASCII without quotes and backslashes).
func cleanCode(code string, secrets []string) string {
	code = truncate(scrub(code, secrets), 64)
	if strings.ContainsFunc(code, func(r rune) bool { return r < 0x20 || r > 0x7e || r == '"' || r == '\\' }) {
		return ""
	}
	return code
}

func cleanDescription(desc string, secrets []string) string {
	if i := strings.IndexAny(desc, "\r\n"); i >= 0 {
		desc = desc[:i]
	}
	return truncate(scrub(strings.TrimSpace(desc), secrets), maxDescription)
}

// hint fills in e.Setting and e.Hint from its error code.
func (s *Source) hint(e *ResponseError) {
	n := func(field string) string { return names.Of(field, s.fromEnv) }
	switch e.ErrorCode {
	case "invalid_client":
		e.Setting = n(s.credential)
		e.Hint = fmt.Sprintf("the identity provider does not accept the client: check %s and %s, and that the client uses %s",
			n("ClientID"), n(s.credential), s.method)
	case "unauthorized_client":
		e.Setting = n("ClientID")
		e.Hint = fmt.Sprintf("the client %s may not use the client_credentials grant: allow it at the identity provider", config.Quote(s.clientID))
	case "invalid_scope":
		e.Setting = n("Scopes")
		e.Hint = fmt.Sprintf("check %s: the client may not ask for %s", n("Scopes"), config.Quote(strings.Join(s.scopes, " ")))
	case "invalid_target":
		e.Setting = n("Resource")
		e.Hint = fmt.Sprintf("check %s", n("Resource"))
	}
}

// redactURL returns u without query, fragment and user info.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment, c.User = "", false, "", "", nil
	return c.String()
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, maxRetryAfter)
		}
	}
	return 0
}

// withRetryAfter marks e for the Provider's backoff when it carries a wait.
func withRetryAfter(e *ResponseError) error {
	if e.RetryAfter > 0 {
		return headers.WithRetryAfter(e, e.RetryAfter)
	}
	return e
}

// jwtLike matches JWTs and fragments of them (base64url JSON starting "eyJ").
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_\-]{4,}(\.[A-Za-z0-9_\-]*)*`)

// scrub replaces secrets and anything that looks like a JWT in s.
func scrub(s string, secrets []string) string {
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
