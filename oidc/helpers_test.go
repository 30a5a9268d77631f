package oidc

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// request is what the fake token endpoint saw.
type request struct {
	Method     string
	Path       string
	Form       url.Values
	BasicUser  string
	BasicPass  string
	HasBasic   bool
	RawHeaders http.Header
}

// fakeIdP is a token endpoint and discovery document on 127.0.0.1.
type fakeIdP struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
	// answer writes the token endpoint's answer; default: a bearer token
	// "tok-<n>" with expires_in 3600.
	answer func(w http.ResponseWriter, n int)
	// discovery is the discovery document; default: issuer = server URL,
	// token_endpoint = /token.
	discovery   map[string]any
	discoveries int
}

func newFakeIdP(t *testing.T) *fakeIdP {
	t.Helper()
	f := &fakeIdP{}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeIdP) tokenURL() string { return f.URL + "/token" }

func (f *fakeIdP) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		f.mu.Lock()
		f.discoveries++
		doc := f.discovery
		f.mu.Unlock()
		if doc == nil {
			doc = map[string]any{"issuer": f.URL, "token_endpoint": f.tokenURL()}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	case "/token":
		_ = r.ParseForm()
		user, pass, ok := r.BasicAuth()
		f.mu.Lock()
		f.requests = append(f.requests, request{Method: r.Method, Path: r.URL.Path, Form: r.PostForm,
			BasicUser: user, BasicPass: pass, HasBasic: ok, RawHeaders: r.Header.Clone()})
		n := len(f.requests)
		answer := f.answer
		f.mu.Unlock()
		if answer != nil {
			answer(w, n)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": "tok-" + string(rune('0'+n)), "token_type": "Bearer", "expires_in": 3600})
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeIdP) last(t *testing.T) request {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		t.Fatal("no token request")
	}
	return f.requests[len(f.requests)-1]
}

func (f *fakeIdP) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
