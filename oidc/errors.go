package oidc

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/config"
	"github.com/temporalauth/temporalauth/internal/idperr"
)

// maxDescription bounds the identity provider's error description in an error.
const maxDescription = 300

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
		URL:         idperr.URL(u),
		StatusCode:  resp.StatusCode,
		ContentType: ct,
		BodyLength:  len(body),
		RetryAfter:  idperr.RetryAfter(resp.Header.Get("Retry-After"), now),
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
	code = idperr.Truncate(idperr.Scrub(code, secrets), 64)
	if strings.ContainsFunc(code, func(r rune) bool { return r < 0x20 || r > 0x7e || r == '"' || r == '\\' }) {
		return ""
	}
	return code
}

func cleanDescription(desc string, secrets []string) string {
	if i := strings.IndexAny(desc, "\r\n"); i >= 0 {
		desc = desc[:i]
	}
	return idperr.Truncate(idperr.Scrub(strings.TrimSpace(desc), secrets), maxDescription)
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

// withRetryAfter marks e for the Provider's backoff when it carries a wait.
func withRetryAfter(e *ResponseError) error {
	if e.RetryAfter > 0 {
		return headers.WithRetryAfter(e, e.RetryAfter)
	}
	return e
}
