package azure

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestDefaultClientFollowsNoRedirect checks that the client a Source makes
// for itself hands a 307 back instead of sending the request, and the
// secret in its body, to the Location.
func TestDefaultClientFollowsNoRedirect(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
	}))
	defer other.Close()
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer idp.Close()

	hc, own := newRecordingClient(nil)
	defer hc.CloseIdleConnections()
	if !own {
		t.Fatal("newRecordingClient(nil) does not own its client")
	}
	req, _ := http.NewRequest(http.MethodPost, idp.URL+"/token", strings.NewReader("client_secret="+testSecret))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || elsewhere.Load() != 0 {
		t.Errorf("status %d, %d requests to the redirect target; want the 307 and none", resp.StatusCode, elsewhere.Load())
	}
}

// TestResponseBodyBounded checks that an answer larger than
// maxResponseBody is not read whole, and is explained by its size.
func TestResponseBodyBounded(t *testing.T) {
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		chunk := []byte(strings.Repeat("x", 32<<10))
		for range 1024 { // 32 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer idp.Close()
	hc, _ := newRecordingClient(nil)
	defer hc.CloseIdleConnections()
	ex := &exchange{}
	req, _ := http.NewRequestWithContext(withExchange(context.Background(), ex), http.MethodGet, idp.URL+"/msi/token", nil)
	resp, err := hc.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		t.Fatal("a 32 MiB answer was accepted")
	}
	if !strings.Contains(err.Error(), "larger than") {
		t.Errorf("error %v", err)
	}
	idp.CloseClientConnections()
	if rec := ex.snapshot(); rec.bodyLen != maxResponseBody+1 || len(rec.body) != maxRecordedBody {
		t.Errorf("recorded %d bytes of a body of %d, want %d of %d", len(rec.body), rec.bodyLen, maxRecordedBody, maxResponseBody+1)
	}
	e := explain(context.Background(), err, ex, 0, nil, Config{})
	var re *ResponseError
	if !errors.As(e, &re) || re.StatusCode != http.StatusBadGateway || !strings.Contains(e.Error(), "unexpected text/html response") {
		t.Errorf("explain: %v", e)
	}
}
