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
	"github.com/temporalauth/temporalauth/internal/idperr"
	"github.com/temporalauth/temporalauth/internal/setting"
)

// A ResponseError is an error answer from the identity provider's token
// endpoint or discovery document: an HTTP status other than 2xx (or a 2xx
// answer carrying an OAuth "error"), with the RFC 6749 (5.2) "error" and
// "error_description" when the body carries them. It never holds the
// request's credentials, a token, or the body itself: a body that is not
// an OAuth error (an HTML page from a proxy) is described by its content
// type and length only.
//
// Its fields are those of azure.ResponseError, which adds Entra ID's own;
// every string from the identity provider in it is one line without
// control characters, with anything that looks like a token, a secret or
// an Authorization header's credential removed, and Error quotes the
// description.
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
	// ContentType is the response's media type, e.g. "application/json".
	ContentType string
	// BodyLength is the length of the response body in bytes.
	BodyLength int
	// ErrorCode is the OAuth error, such as "invalid_client", at most 100
	// bytes; empty when the answer's is not printable ASCII.
	ErrorCode string
	// Description is the first line of "error_description", at most 300
	// bytes.
	Description string
	// RetryAfter is the answer's Retry-After, zero if none.
	RetryAfter time.Duration
	// Check names the settings to check, the likeliest first, for the
	// errors that point at some: invalid_client (the credential and the
	// client ID), unauthorized_client (the client ID: the client may not
	// use the client_credentials grant), invalid_scope (the scopes),
	// invalid_target (the resource), and a discovery document that is not
	// found (the issuer). They are Config fields, or the environment
	// variables for a Config read by ConfigFromLookup. Empty otherwise.
	Check []string
	// Hint says what to check, in words, when Check is set.
	Hint string
}

// Error describes the answer in one line.
func (e *ResponseError) Error() string {
	return idperr.Describe("oidc", e.Method, e.URL, e.StatusCode, e.ContentType, e.BodyLength,
		[]string{e.ErrorCode}, e.Description, nil, e.Hint)
}

// responseError describes a non-2xx answer. Secrets are scrubbed from what
// the answer says.
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
			e.ErrorCode = idperr.Code(v.Get("error"), secrets)
			e.Description = idperr.Text(v.Get("error_description"), secrets, idperr.MaxText)
		}
		return e
	}
	var code, desc string
	_ = json.Unmarshal(oe.Error, &code)
	_ = json.Unmarshal(oe.ErrorDescription, &desc)
	e.ErrorCode = idperr.Code(code, secrets)
	e.Description = idperr.Text(desc, secrets, idperr.MaxText)
	return e
}

// hint fills in e.Check and e.Hint from its error code.
func (s *Source) hint(e *ResponseError) {
	n := func(field string) string { return names.Of(field, s.fromEnv) }
	switch e.ErrorCode {
	case "invalid_client":
		e.Check = []string{n(s.credential), n("ClientID")}
		e.Hint = fmt.Sprintf("the identity provider does not accept the client: check %s and %s, and that the client uses %s",
			n("ClientID"), n(s.credential), s.method)
	case "unauthorized_client":
		e.Check = []string{n("ClientID")}
		e.Hint = fmt.Sprintf("the client %s may not use the client_credentials grant: allow it at the identity provider", setting.Quote(s.clientID))
	case "invalid_scope":
		e.Check = []string{n("Scopes")}
		e.Hint = fmt.Sprintf("check %s: the client may not ask for %s", n("Scopes"), setting.Quote(strings.Join(s.scopes, " ")))
	case "invalid_target":
		e.Check = []string{n("Resource")}
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
