package entratest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// A FailureKind says how the server misbehaves for a [Failure].
type FailureKind int

const (
	// OAuthErrorFailure answers with Entra ID's JSON error format:
	// error, error_description starting "AADSTS<code>: ", error_codes,
	// trace_id and correlation_id.
	OAuthErrorFailure FailureKind = iota + 1
	// HTMLFailure answers with an HTML page, as a proxy or gateway in front
	// of the identity provider does.
	HTMLFailure
	// TruncatedJSONFailure answers with a successful token response cut off
	// in the middle of its access token.
	TruncatedJSONFailure
	// HangFailure never answers: the request is held until the client gives
	// up (its context ends) or the server closes.
	HangFailure
)

// String names k.
func (k FailureKind) String() string {
	switch k {
	case OAuthErrorFailure:
		return "oauth-error"
	case HTMLFailure:
		return "html"
	case TruncatedJSONFailure:
		return "truncated-json"
	case HangFailure:
		return "hang"
	}
	return fmt.Sprintf("FailureKind(%d)", int(k))
}

// A Failure describes one bad answer to a token request. Zero fields take
// the kind's defaults.
type Failure struct {
	// Kind says how the answer fails; zero means OAuthErrorFailure.
	Kind FailureKind
	// Status is the HTTP status. Defaults: 400 for OAuthErrorFailure, 502 for
	// HTMLFailure, 200 for TruncatedJSONFailure; HangFailure sends none.
	Status int
	// Error is the OAuth error field (default "invalid_request").
	Error string
	// Code is the AADSTS number (default 90033, a transient error).
	Code int
	// Description follows "AADSTS<code>: " in error_description.
	Description string
	// RetryAfter, when positive, is sent as a Retry-After header in whole
	// seconds, rounded up.
	RetryAfter time.Duration
}

// Unavailable is a 503 temporarily_unavailable answer with a Retry-After
// header, as Entra ID sends when it sheds load.
func Unavailable(retryAfter time.Duration) Failure {
	return Failure{
		Kind:        OAuthErrorFailure,
		Status:      http.StatusServiceUnavailable,
		Error:       "temporarily_unavailable",
		Code:        90033,
		Description: "A transient error has occurred. Please try again.",
		RetryAfter:  retryAfter,
	}
}

// FailNext makes the next n requests to the token endpoint or the
// managed-identity endpoint fail as f says, after the ones already queued.
// Failed requests are still counted and recorded.
func (s *Server) FailNext(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, f)
	}
}

// PendingFailures returns how many queued failures have not happened yet.
func (s *Server) PendingFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.failures)
}

func (s *Server) takeFailure() (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) == 0 {
		return Failure{}, false
	}
	f := s.failures[0]
	s.failures = s.failures[1:]
	return f, true
}

// fail answers r as f says.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, f Failure) {
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int((f.RetryAfter+time.Second-1)/time.Second)))
	}
	switch f.Kind {
	case HangFailure:
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		// Drop the connection without an answer: returning would make
		// net/http send an empty 200, which a client could read before it
		// notices its own deadline.
		panic(http.ErrAbortHandler)
	case HTMLFailure:
		status := orDefault(f.Status, http.StatusBadGateway)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n<body><h1>%d %s</h1>\n<p>The upstream server did not answer. Reference #%s</p>\n%s</body></html>\n",
			status, http.StatusText(status), status, http.StatusText(status), newGUID(), htmlPadding)
	case TruncatedJSONFailure:
		token, err := s.issue(s.home, "truncated", "truncated", "truncated", audience{aud: DefaultResource, version: 2}, nil, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		full, _ := json.Marshal(map[string]any{
			"token_type": "Bearer", "expires_in": int(s.lifetime / time.Second), "access_token": token,
		})
		cut := full[:len(full)-len(token)/2]
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(orDefault(f.Status, http.StatusOK))
		_, _ = w.Write(cut)
	default:
		s.writeOAuthError(w, oauthError{
			status:      orDefault(f.Status, http.StatusBadRequest),
			err:         orDefault(f.Error, "invalid_request"),
			code:        orDefault(f.Code, 90033),
			description: orDefault(f.Description, "A transient error has occurred. Please try again."),
		}, 0) // Retry-After is already set
	}
}

// htmlPadding makes the HTML page as long as a real error page, so tests see
// that a client does not echo all of it.
var htmlPadding = func() string {
	b := make([]byte, 0, 2048)
	for len(b) < 2000 {
		b = append(b, "<!-- padding padding padding padding padding padding -->\n"...)
	}
	return string(b)
}()

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
