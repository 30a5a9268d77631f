package temporalauth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/temporalauth/temporalauth"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/oidc"
)

// newTokenEndpoint serves the client-credentials grant on 127.0.0.1 for
// one client, and counts the requests.
func newTokenEndpoint(t *testing.T, clientID, secret, token string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		id, sec, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		if r.PostFormValue("grant_type") != "client_credentials" || id != clientID || sec != secret {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"Client authentication failed."}`)
			return
		}
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, token)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestLoadOIDC(t *testing.T) {
	secret := randomSecret(t, "oidcsecret")
	token := randomSecret(t, "oidctoken")
	srv, requests := newTokenEndpoint(t, "worker", secret, token)
	env := map[string]string{
		"TEMPORAL_OIDC_TOKEN_URL":     srv.URL + "/token",
		"TEMPORAL_OIDC_CLIENT_ID":     "worker",
		"TEMPORAL_OIDC_CLIENT_SECRET": secret,
		"TEMPORAL_OIDC_SCOPES":        "default:write",
	}
	for _, explicit := range []bool{false, true} {
		if explicit {
			env["TEMPORAL_AUTH_PROVIDER"] = "oidc"
		}
		requests.Store(0)
		a := load(t, temporalauth.EnvOptions{Lookup: mapEnv(env), HTTPClient: srv.Client()})
		if a.Kind() != temporalauth.KindOIDC || requests.Load() != 0 {
			t.Fatalf("Kind %q after %d token requests; want oidc, chosen without a request", a.Kind(), requests.Load())
		}
		want := "oidc client_id=worker auth_method=client_secret_basic token_url=" + srv.URL + "/token leeway=default(min(5m,lifetime/4))"
		if got := a.String(); got != want {
			t.Errorf("String =\n %s\nwant\n %s", got, want)
		}
		if got := bearer(t, a); got != token {
			t.Errorf("bearer token %q, want the identity provider's", got)
		}
		var out bytes.Buffer
		slog.New(slog.NewTextHandler(&out, nil)).Info("auth", "auth", a)
		fmt.Fprintf(&out, "%v %+v %#v %s", a, a, a, a.Provider())
		if strings.Contains(out.String(), secret) || strings.Contains(out.String(), token) {
			t.Fatalf("a description shows a secret:\n%s", out.String())
		}
	}
}

func TestLoadOIDCErrors(t *testing.T) {
	secret := randomSecret(t, "oidcsecret")
	srv, _ := newTokenEndpoint(t, "worker", secret, "tok")
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"oidc and jwt auto", map[string]string{"TEMPORAL_OIDC_CLIENT_ID": "w", "TEMPORAL_JWT_PERMISSIONS": "default:write"},
			[]string{"TEMPORAL_OIDC_CLIENT_ID", "TEMPORAL_JWT_PERMISSIONS", "set TEMPORAL_AUTH_PROVIDER"}},
		{"explicit azure with oidc settings", map[string]string{"TEMPORAL_AUTH_PROVIDER": "azure", "TEMPORAL_AUTH_SCOPE": "api://x/.default", "TEMPORAL_OIDC_ISSUER": "https://idp"},
			[]string{"TEMPORAL_OIDC_ISSUER: set, but TEMPORAL_AUTH_PROVIDER=azure"}},
		{"explicit oidc without settings", map[string]string{"TEMPORAL_AUTH_PROVIDER": "oidc"},
			[]string{"oidc provider", "TEMPORAL_OIDC_ISSUER", "TEMPORAL_OIDC_TOKEN_URL"}},
		{"client id alone", map[string]string{"TEMPORAL_OIDC_CLIENT_ID": "w", "TEMPORAL_OIDC_TOKEN_URL": "https://idp/token"},
			[]string{"chosen because TEMPORAL_OIDC_TOKEN_URL is set", "TEMPORAL_OIDC_CLIENT_SECRET", "TEMPORAL_OIDC_PRIVATE_KEY_FILE"}},
		{"bad leeway", map[string]string{"TEMPORAL_OIDC_CLIENT_ID": "w", "TEMPORAL_OIDC_TOKEN_URL": "https://idp/token",
			"TEMPORAL_OIDC_CLIENT_SECRET": secret, "TEMPORAL_AUTH_REGEN_LEEWAY": "bad"},
			[]string{"TEMPORAL_AUTH_REGEN_LEEWAY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := temporalauth.Load(temporalauth.EnvOptions{Lookup: mapEnv(tc.env)})
			var ce *headers.ConfigError
			if err == nil || !errors.As(err, &ce) {
				t.Fatalf("Load: %v, want a *headers.ConfigError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}

	// A wrong secret: the first GetHeaders fails with the identity
	// provider's answer, naming the variables to check.
	a := load(t, temporalauth.EnvOptions{HTTPClient: srv.Client(), Lookup: mapEnv(map[string]string{
		"TEMPORAL_OIDC_TOKEN_URL": srv.URL + "/token", "TEMPORAL_OIDC_CLIENT_ID": "worker", "TEMPORAL_OIDC_CLIENT_SECRET": "wrong-" + secret})})
	_, err := a.GetHeaders(context.Background())
	var re *oidc.ResponseError
	if !errors.As(err, &re) || len(re.Check) == 0 || re.Check[0] != oidc.EnvClientSecret || !strings.Contains(err.Error(), "TEMPORAL_OIDC_CLIENT_ID and TEMPORAL_OIDC_CLIENT_SECRET") {
		t.Errorf("GetHeaders with a wrong secret: %v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error shows the secret: %v", err)
	}
}
