package main

import (
	"crypto"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/temporalauth/temporalauth/azure/entratest"
)

// verify checks tok's signature with key and returns its claims.
func verify(t *testing.T, tok string, key crypto.Signer) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"ES256", "RS256"})).
		ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return key.Public(), nil })
	if err != nil {
		t.Fatalf("the token does not verify: %v", err)
	}
	return claims
}

// permissions returns the permissions claim.
func permissions(claims jwt.MapClaims, name string) []string {
	list, _ := claims[name].([]any)
	var out []string
	for _, p := range list {
		s, _ := p.(string)
		out = append(out, s)
	}
	return out
}

// noSecret fails when the token appears on stderr.
func (r result) noSecret(t *testing.T, secret string) {
	t.Helper()
	if secret != "" && strings.Contains(r.stderr, secret) {
		t.Errorf("stderr shows the token:\n%s", r.stderr)
	}
}

func TestTokenJWTFlags(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "k.pem")
	key := writeKey(t, keyFile)
	r := runCLI(t, nil, "", "token", "--key", keyFile, "--permissions", "default:write, temporal-system:Read",
		"--ttl", "1h", "--subject", "ci", "--issuer", "me", "--audience", "temporal")
	r.want(t, exitOK)
	tok := strings.TrimSuffix(r.stdout, "\n")
	if strings.ContainsAny(tok, "\n ") {
		t.Fatalf("stdout is not one token: %q", r.stdout)
	}
	r.noSecret(t, tok)
	claims := verify(t, tok, key)
	if got := permissions(claims, "permissions"); !slices.Equal(got, []string{"default:write", "temporal-system:read"}) {
		t.Errorf("permissions %q", got)
	}
	if claims["sub"] != "ci" || claims["iss"] != "me" || claims["aud"] != "temporal" {
		t.Errorf("claims %v", claims)
	}
	exp, _ := claims.GetExpirationTime()
	if d := time.Until(exp.Time); d < 59*time.Minute || d > time.Hour+time.Second {
		t.Errorf("exp in %s, want 1h", d)
	}
	if !strings.Contains(r.stderr, "jwt file="+keyFile+" kid="+kidOf(t, key)) || !strings.Contains(r.stderr, "expires ") ||
		strings.Contains(r.stderr, "leeway") {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestTokenEnvAndOverrides(t *testing.T) {
	dir := t.TempDir()
	envKey := filepath.Join(dir, "env.pem")
	flagKey := filepath.Join(dir, "flag.pem")
	ek, fk := writeKey(t, envKey), writeKey(t, flagKey)
	env := map[string]string{
		"TEMPORAL_JWT_PRIVATE_KEY_FILE":  envKey,
		"TEMPORAL_JWT_PERMISSIONS":       "default:read",
		"TEMPORAL_JWT_PERMISSIONS_CLAIM": "roles",
		"TEMPORAL_JWT_EXPIRATION":        "5m",
		"TEMPORAL_AUTH_REGEN_LEEWAY":     "4m", // ignored: it would not fit --ttl 1m
	}
	// From the environment alone.
	r := runCLI(t, env, "", "token")
	r.want(t, exitOK)
	claims := verify(t, strings.TrimSpace(r.stdout), ek)
	if got := permissions(claims, "roles"); !slices.Equal(got, []string{"default:read"}) {
		t.Errorf("roles %q", got)
	}
	exp, _ := claims.GetExpirationTime()
	if d := time.Until(exp.Time); d < 4*time.Minute || d > 5*time.Minute+time.Second {
		t.Errorf("exp in %s, want 5m", d)
	}
	// Flags replace their variables.
	r = runCLI(t, env, "", "token", "--key", flagKey, "--permissions", "default:write", "--claim-name", "permissions", "--ttl", "1m")
	r.want(t, exitOK)
	claims = verify(t, strings.TrimSpace(r.stdout), fk)
	if got := permissions(claims, "permissions"); !slices.Equal(got, []string{"default:write"}) {
		t.Errorf("permissions %q", got)
	}
	if _, ok := claims["roles"]; ok {
		t.Error("the roles claim is still set")
	}
	// --key replaces an inline key too.
	env2 := map[string]string{"TEMPORAL_JWT_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\\n...", "TEMPORAL_JWT_KEY_ID": "old"}
	r = runCLI(t, env2, "", "token", "--key", flagKey)
	r.want(t, exitOK)
	verify(t, strings.TrimSpace(r.stdout), fk)
}

func TestTokenExport(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "k.pem")
	key := writeKey(t, keyFile)
	r := runCLI(t, nil, "", "token", "--key", keyFile, "--permissions", "default:write", "--export")
	r.want(t, exitOK)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout %q, want two lines", r.stdout)
	}
	tok, ok := strings.CutPrefix(lines[0], "export TEMPORAL_API_KEY=")
	if !ok {
		t.Fatalf("line 1 %q", lines[0])
	}
	verify(t, tok, key)
	if want := "export TEMPORAL_CLI_AUTH='Bearer " + tok + "'"; lines[1] != want {
		t.Errorf("line 2 %q, want %q", lines[1], want)
	}
	r.noSecret(t, tok)

	// A shell reads the lines back.
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	cmd := exec.Command(sh, "-c", `eval "$(cat)"; printf '%s|%s' "$TEMPORAL_API_KEY" "$TEMPORAL_CLI_AUTH"`)
	cmd.Stdin = strings.NewReader(r.stdout)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := tok + "|Bearer " + tok; string(out) != want {
		t.Errorf("the shell read %q, want %q", out, want)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"abc.DEF-_0":  "abc.DEF-_0",
		"Bearer x":    "'Bearer x'",
		"it's":        `'it'\''s'`,
		"":            "''",
		"a$b":         "'a$b'",
		"k=v/w+x:y,z": "k=v/w+x:y,z",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTokenStatic(t *testing.T) {
	const secret = "opaque-api-key-123"
	env := map[string]string{"TEMPORAL_AUTH_TOKEN": secret}
	r := runCLI(t, env, "", "token")
	r.want(t, exitOK)
	if r.stdout != secret+"\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	r.noSecret(t, secret)
	if r.stderr != "temporal-auth token: static env=TEMPORAL_AUTH_TOKEN\n" {
		t.Errorf("stderr %q", r.stderr)
	}
	r = runCLI(t, env, "", "token", "--provider", "static", "--export")
	r.want(t, exitOK)
	if want := "export TEMPORAL_API_KEY=" + secret + "\nexport TEMPORAL_CLI_AUTH='Bearer " + secret + "'\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
}

// --provider azure acquires a token from Entra ID, here a local one through
// the managed-identity endpoint, and inspect checks it against its JWKS.
func TestTokenAzure(t *testing.T) {
	idp := entratest.NewServer()
	defer idp.Close()
	// MSAL caches managed-identity tokens per process and resource: a
	// resource per server keeps runs apart.
	resource := "api://temporal-cli-test-" + idp.Tenant()
	idp.RegisterResource(resource)
	idp.RegisterManagedIdentity(entratest.ManagedIdentity{SystemAssigned: true, Roles: []string{"default:write"}})
	for k, v := range idp.ManagedIdentityEnv() {
		t.Setenv(k, v) // MSAL reads these from the process environment
	}
	env := map[string]string{"AZURE_MANAGED_IDENTITY": "system"}
	r := runCLI(t, env, "", "token", "--provider", "azure", "--scope", resource+"/.default")
	r.want(t, exitOK)
	tok := strings.TrimSpace(r.stdout)
	r.noSecret(t, tok)
	if _, err := idp.VerifyToken(tok); err != nil {
		t.Fatalf("not a token of the identity provider: %v", err)
	}
	if !strings.Contains(r.stderr, "azure ") || !strings.Contains(r.stderr, "credential=managed_identity") {
		t.Errorf("stderr %q", r.stderr)
	}

	i := runCLI(t, nil, tok, "inspect", "--jwks", idp.HTTPKeysURL(), "--claim-name", "roles", "--need", "default:write")
	i.want(t, exitOK)
	if !strings.Contains(i.stdout, "VERDICT: ACCEPTED once the server has fetched the key") || strings.Contains(i.stdout, tok) {
		t.Errorf("inspect:\n%s", i.stdout)
	}

	// Entra rotates its signing key: a token signed with a key the server
	// has not fetched yet is rejected.
	before := filepath.Join(t.TempDir(), "jwks.json")
	_, body := get(t, "GET", idp.HTTPKeysURL())
	writeFile(t, filepath.Dir(before), "jwks.json", body)
	idp.PublishNewKey()
	newKid := idp.SignWithNewKey()
	// Ask for another resource to get a token signed with the new key
	// rather than MSAL's cached one.
	resource2 := resource + "-2"
	idp.RegisterResource(resource2)
	r = runCLI(t, env, "", "token", "--provider", "azure", "--scope", resource2+"/.default")
	r.want(t, exitOK)
	tok2 := strings.TrimSpace(r.stdout)
	i = runCLI(t, nil, tok2, "inspect", "--jwks", before, "--claim-name", "roles")
	i.want(t, exitFailure)
	if !strings.Contains(i.stdout, `kid "`+newKid+`" is not in the JWKS`) ||
		!strings.Contains(i.stdout, "if the key is new, publish it and wait one refresh interval of the server before signing with it") {
		t.Errorf("inspect:\n%s", i.stdout)
	}
	// With the current JWKS it is accepted.
	runCLI(t, nil, tok2, "inspect", "--jwks", idp.HTTPKeysURL(), "--claim-name", "roles").want(t, exitOK)
}

func TestTokenErrors(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "k.pem")
	writeKey(t, keyFile)
	badPEM := writeFile(t, dir, "bad.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	missing := filepath.Join(dir, "missing.pem")
	const secret = "static-secret-token"
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want []string
	}{
		{"missing key file", nil, []string{"--key", missing}, exitFailure, []string{missing}},
		{"bad PEM", nil, []string{"--key", badPEM}, exitFailure, []string{badPEM}},
		{"bad ttl", nil, []string{"--key", keyFile, "--ttl", "an hour"}, exitUsage, []string{`--ttl "an hour": not a duration`}},
		{"ttl without unit", nil, []string{"--key", keyFile, "--ttl", "60"}, exitUsage, []string{"-ttl"}},
		{"ttl too short", nil, []string{"--key", keyFile, "--ttl", "500ms"}, exitUsage, []string{"--ttl 500ms: must be at least 1s"}},
		{"ttl negative", nil, []string{"--key", keyFile, "--ttl", "-1h"}, exitUsage, []string{"must be at least 1s"}},
		{"bad permission", nil, []string{"--key", keyFile, "--permissions", "default"}, exitUsage, []string{`--permissions: permission "default"`}},
		{"bad role", nil, []string{"--key", keyFile, "--permissions", "default:owner"}, exitUsage, []string{`role "owner"`}},
		{"empty permission", nil, []string{"--key", keyFile, "--permissions", "default:write,,x:read"}, exitUsage, []string{"--permissions"}},
		{"empty key flag", nil, []string{"--key", ""}, exitUsage, []string{"--key is empty"}},
		{"bad provider", nil, []string{"--provider", "okta"}, exitUsage, []string{`--provider "okta": want jwt, azure, oidc or static`}},
		{"argument", nil, []string{"tok"}, exitUsage, []string{`unexpected argument "tok"`}},
		{"no provider", nil, nil, exitUsage, []string{"no token provider configured"}},
		{"jwt flag with azure provider", map[string]string{"TEMPORAL_AUTH_PROVIDER": "azure"}, []string{"--key", keyFile}, exitUsage,
			[]string{"--key configures the jwt provider, but the provider is azure"}},
		{"ttl with static provider", nil, []string{"--provider", "static", "--ttl", "1h"}, exitUsage,
			[]string{"--ttl configures the jwt provider, but the provider is static"}},
		{"two providers", map[string]string{"TEMPORAL_AUTH_TOKEN": secret}, []string{"--key", keyFile}, exitFailure,
			[]string{"--key (TEMPORAL_JWT_PRIVATE_KEY_FILE)", "TEMPORAL_AUTH_TOKEN"}},
		{"bad static token", map[string]string{"TEMPORAL_AUTH_TOKEN": "Bearer " + secret}, nil, exitFailure,
			[]string{"TEMPORAL_AUTH_TOKEN", "Bearer scheme"}},
		{"bad env expiration", map[string]string{"TEMPORAL_JWT_EXPIRATION": "soon"}, []string{"--key", keyFile}, exitFailure,
			[]string{"TEMPORAL_JWT_EXPIRATION"}},
		{"bad timeout", nil, []string{"--key", keyFile, "--timeout", "0s"}, exitUsage, []string{"--timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.env, "", append([]string{"token"}, tt.args...)...)
			r.want(t, tt.code)
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q lacks %q", r.stderr, w)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout %q", r.stdout)
			}
			r.noSecret(t, secret)
		})
	}
}

func TestTokenOIDC(t *testing.T) {
	const secret = "cli-oidc-secret-4c1d"
	const token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3In0.c2ln"
	var scopes []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		scopes = append(scopes, r.PostFormValue("scope"))
		if id, sec, _ := r.BasicAuth(); id != "cli" || sec != secret {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":600}`, token)
	}))
	defer srv.Close()
	env := map[string]string{
		"TEMPORAL_OIDC_TOKEN_URL":     srv.URL + "/token",
		"TEMPORAL_OIDC_CLIENT_ID":     "cli",
		"TEMPORAL_OIDC_CLIENT_SECRET": secret,
		"TEMPORAL_OIDC_SCOPES":        "default:write",
	}
	r := runCLI(t, env, "", "token", "--provider", "oidc")
	r.want(t, exitOK)
	if strings.TrimSpace(r.stdout) != token || strings.Contains(r.stderr, secret) {
		t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
	}
	r.noSecret(t, token)
	if !strings.Contains(r.stderr, "oidc client_id=cli") || !strings.Contains(r.stderr, "(in 10m0s)") {
		t.Errorf("stderr %q", r.stderr)
	}
	if !slices.Equal(scopes, []string{"default:write"}) {
		t.Errorf("scopes requested %q", scopes)
	}

	env["TEMPORAL_OIDC_CLIENT_SECRET"] = "wrong"
	r = runCLI(t, env, "", "token")
	r.want(t, exitFailure)
	if !strings.Contains(r.stderr, "invalid_client") || !strings.Contains(r.stderr, "TEMPORAL_OIDC_CLIENT_SECRET") || r.stdout != "" {
		t.Errorf("wrong secret: stdout %q stderr %q", r.stdout, r.stderr)
	}
}
