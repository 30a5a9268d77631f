package azure

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/azure/entratest"
)

// Federated tokens as a Kubernetes projected service account token would be.
const (
	federatedTokenA = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YSJ9.c2lnbmF0dXJlLWE"
	federatedTokenB = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YiJ9.c2lnbmF0dXJlLWI"
)

func TestWorkloadIdentity(t *testing.T) {
	// Tokens shorter than MSAL's 5-minute buffer: every call reaches the IdP
	// and so reads the file again.
	idp := newIdP(t, entratest.WithTokenLifetime(2*time.Minute))
	idp.RegisterClient(entratest.Client{ID: "app-wi", FederatedToken: federatedTokenA, Roles: []string{"default:write"}})
	cfg := appConfig(idp, "app-wi")
	cfg.FederatedTokenFile = writeFile(t, "azure-identity-token", []byte(federatedTokenA+"\n"))
	src := newSource(t, cfg)
	ctx := testContext(t)

	tok, err := src.Token(ctx)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	req := lastRequest(t, idp)
	if got := req.Values.Get("client_assertion"); got != federatedTokenA {
		t.Errorf("posted assertion is not the file's content")
	}
	if got := req.Values.Get("client_assertion_type"); got != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		t.Errorf("client_assertion_type %q", got)
	}
	if req.Values.Has("client_secret") {
		t.Error("a client secret was posted")
	}
	if claims, _ := verifyWithJWKS(t, idp, tok.Value()); claims.Subject != "app-wi" || len(claims.Roles) != 1 {
		t.Errorf("claims sub %q roles %q", claims.Subject, claims.Roles)
	}

	// The platform rotates the file; the old token is no longer accepted.
	idp.RegisterClient(entratest.Client{ID: "app-wi", FederatedToken: federatedTokenB})
	if err := os.WriteFile(cfg.FederatedTokenFile, []byte(federatedTokenB), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Token(ctx); err != nil {
		t.Fatalf("Token after rotation: %v", err)
	}
	if got := lastRequest(t, idp).Values.Get("client_assertion"); got != federatedTokenB {
		t.Error("the assertion after rotation is not the new file content")
	}

	// The file disappears: the error names it and quotes no token.
	if err := os.Remove(cfg.FederatedTokenFile); err != nil {
		t.Fatal(err)
	}
	_, err = src.Token(ctx)
	if err == nil || !strings.Contains(err.Error(), cfg.FederatedTokenFile) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Token without the file: %v, want an error naming it", err)
	}
	if strings.Contains(err.Error(), "eyJ") {
		t.Errorf("error %q quotes a token", err)
	}
}

func TestWorkloadIdentityRejected(t *testing.T) {
	idp := newIdP(t)
	idp.RegisterClient(entratest.Client{ID: "app-wi", FederatedToken: federatedTokenB})
	cfg := appConfig(idp, "app-wi")
	cfg.FederatedTokenFile = writeFile(t, "token", []byte(federatedTokenA))
	_, err := newSource(t, cfg).Token(testContext(t))
	var re *ResponseError
	if !errors.As(err, &re) || re.AADSTS != "AADSTS70021" {
		t.Fatalf("Token: %v, want AADSTS70021", err)
	}
	if strings.Contains(err.Error(), federatedTokenA) || strings.Contains(err.Error(), "eyJ") {
		t.Errorf("error %q quotes the assertion", err)
	}
}

func TestFederatedTokenFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"empty", []byte(" \n"), "empty"},
		{"too large", make([]byte, maxFederatedTokenSize+1), "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := newIdP(t)
			cfg := appConfig(idp, "app-wi")
			cfg.FederatedTokenFile = writeFile(t, "token", tc.content)
			_, err := NewTokenSource(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), cfg.FederatedTokenFile) {
				t.Fatalf("NewTokenSource: %v, want an error naming the file and saying %q", err, tc.want)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		idp := newIdP(t)
		cfg := appConfig(idp, "app-wi")
		cfg.FederatedTokenFile = t.TempDir() + "/absent"
		if _, err := NewTokenSource(cfg); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), cfg.FederatedTokenFile) {
			t.Fatalf("NewTokenSource: %v", err)
		}
	})
}
