package temporalauth_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.temporal.io/sdk/client"

	"github.com/temporalauth/temporalauth"
	"github.com/temporalauth/temporalauth/azure/entratest"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/jwtkey"
	"github.com/temporalauth/temporalauth/oidc"
)

// Auth must satisfy the SDK's (internal) HeadersProvider interface.
var _ = client.Options{HeadersProvider: (*temporalauth.Auth)(nil)}

// mapEnv returns a lookup function over m.
func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// randomSecret returns a value that cannot occur by chance in any output.
func randomSecret(t testing.TB, prefix string) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// writeES256Key writes a new ES256 key to a file in a fresh directory.
func writeES256Key(t *testing.T) (string, crypto.Signer) {
	t.Helper()
	key, err := jwtkey.GenerateES256Key()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "worker.pem")
	if err := jwtkey.WritePrivateKeyFile(path, key); err != nil {
		t.Fatal(err)
	}
	return path, key
}

// load calls Load and closes the result at the end of the test.
func load(t *testing.T, o temporalauth.EnvOptions) *temporalauth.Auth {
	t.Helper()
	a, err := temporalauth.Load(o)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// bearer returns the token of the authorization header a sends.
func bearer(t *testing.T, a *temporalauth.Auth) string {
	t.Helper()
	h, err := a.GetHeaders(context.Background())
	if err != nil {
		t.Fatalf("GetHeaders: %v", err)
	}
	tok, ok := strings.CutPrefix(h["authorization"], "Bearer ")
	if !ok || len(h) != 1 {
		t.Fatalf("GetHeaders = %d headers, authorization %q; want one Bearer header", len(h), h["authorization"])
	}
	return tok
}

// verifyJWT checks tok's signature with key's public key and returns its
// header and claims.
func verifyJWT(t *testing.T, tok string, key crypto.Signer) (map[string]any, jwt.MapClaims) {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return key.Public(), nil },
		jwt.WithValidMethods([]string{"ES256", "RS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	return parsed.Header, claims
}

func lifetime(t *testing.T, claims jwt.MapClaims) time.Duration {
	t.Helper()
	exp, err1 := claims.GetExpirationTime()
	nbf, err2 := claims.GetNotBefore()
	if err1 != nil || err2 != nil || exp == nil || nbf == nil {
		t.Fatalf("claims lack exp or nbf: %v", claims)
	}
	// nbf is backdated by the signer's clock-skew allowance.
	return exp.Sub(nbf.Time) - jwtkey.DefaultClockSkew
}

func TestLoadJWTKeyFile(t *testing.T) {
	path, key := writeES256Key(t)
	kid, err := jwtkey.Thumbprint(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	a := load(t, temporalauth.EnvOptions{Lookup: mapEnv(map[string]string{
		"TEMPORAL_JWT_PRIVATE_KEY_FILE": " " + path + "\n", // stray spaces are trimmed
		"TEMPORAL_JWT_PERMISSIONS":      " default:Write , temporal-system:read ",
		"TEMPORAL_JWT_SUBJECT":          "worker-1",
		"TEMPORAL_JWT_ISSUER":           "https://issuer.example",
		"TEMPORAL_JWT_AUDIENCE":         "temporal-a, temporal-b",
		"TEMPORAL_JWT_EXPIRATION":       "3m",
		"TEMPORAL_AUTH_REGEN_LEEWAY":    " 30s ",
	})})
	if a.Kind() != "jwt" || a.Provider() == nil {
		t.Fatalf("Kind = %q, Provider = %v; want jwt with a provider", a.Kind(), a.Provider())
	}
	hdr, claims := verifyJWT(t, bearer(t, a), key)
	if hdr["kid"] != kid || hdr["alg"] != "ES256" {
		t.Errorf("header = %v; want kid %s (the key's thumbprint), alg ES256", hdr, kid)
	}
	if claims["sub"] != "worker-1" || claims["iss"] != "https://issuer.example" {
		t.Errorf("sub, iss = %v, %v", claims["sub"], claims["iss"])
	}
	if got := fmt.Sprint(claims["aud"]); got != "[temporal-a temporal-b]" {
		t.Errorf("aud = %s; want [temporal-a temporal-b]", got)
	}
	if got := fmt.Sprint(claims["permissions"]); got != "[default:write temporal-system:read]" {
		t.Errorf("permissions = %s; want [default:write temporal-system:read]", got)
	}
	if got := lifetime(t, claims); got != 3*time.Minute {
		t.Errorf("lifetime = %s; want 3m", got)
	}
	want := "jwt file=" + path + " kid=" + kid + " alg=ES256 sub=worker-1 iss=https://issuer.example aud=[temporal-a,temporal-b] permissions=[default:write,temporal-system:read] expiration=3m0s leeway=30s"
	if got := a.String(); got != want {
		t.Errorf("String =\n %s\nwant\n %s", got, want)
	}
}

func TestLoadJWTKeyContent(t *testing.T) {
	key, err := jwtkey.GenerateES256Key()
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := jwtkey.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]string{
		"multi-line":                 string(pemKey),
		"one line with \\n escapes":  strings.ReplaceAll(strings.TrimSpace(string(pemKey)), "\n", `\n`),
		"surrounded by white space":  "\n\t" + string(pemKey) + "  \n",
		"provider named in any case": string(pemKey),
	} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{
				"TEMPORAL_JWT_PRIVATE_KEY":       value,
				"TEMPORAL_JWT_KEY_ID":            " my-kid ",
				"TEMPORAL_JWT_PERMISSIONS":       "default:read",
				"TEMPORAL_JWT_PERMISSIONS_CLAIM": "roles",
			}
			if name == "provider named in any case" {
				env["TEMPORAL_AUTH_PROVIDER"] = " JWT "
			}
			a := load(t, temporalauth.EnvOptions{Lookup: mapEnv(env)})
			hdr, claims := verifyJWT(t, bearer(t, a), key)
			if hdr["kid"] != "my-kid" {
				t.Errorf("kid = %v; want my-kid", hdr["kid"])
			}
			if got := fmt.Sprint(claims["roles"]); got != "[default:read]" || claims["permissions"] != nil {
				t.Errorf("roles = %s, permissions = %v; want the permissions in the roles claim", got, claims["permissions"])
			}
			if claims["sub"] != jwtkey.DefaultSubject {
				t.Errorf("sub = %v; want %s", claims["sub"], jwtkey.DefaultSubject)
			}
			if got := lifetime(t, claims); got != jwtkey.DefaultExpiration {
				t.Errorf("lifetime = %s; want the default %s", got, jwtkey.DefaultExpiration)
			}
			want := "jwt kid=my-kid alg=ES256 sub=temporalauth permissions=[default:read] claim=roles expiration=10m0s leeway=default(min(5m,lifetime/4))"
			if got := a.String(); got != want {
				t.Errorf("String =\n %s\nwant\n %s", got, want)
			}
		})
	}
}

func TestLoadJWTRS256(t *testing.T) {
	key, err := jwtkey.GenerateRS256Key(jwtkey.MinRSABits)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rsa.pem")
	if err := jwtkey.WritePrivateKeyFile(path, key); err != nil {
		t.Fatal(err)
	}
	a, err := temporalauth.Load(temporalauth.EnvOptions{Lookup: mapEnv(map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": path})})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	hdr, _ := verifyJWT(t, bearer(t, a), key)
	if hdr["alg"] != "RS256" || !strings.Contains(a.String(), " alg=RS256 ") {
		t.Errorf("alg = %v, String = %s; want RS256", hdr["alg"], a)
	}
}

func TestJWTKeyFileRotationShowsInDescription(t *testing.T) {
	path, _ := writeES256Key(t)
	a := load(t, temporalauth.EnvOptions{Lookup: mapEnv(map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": path})})
	before := a.String()
	next, err := jwtkey.GenerateES256Key()
	if err != nil {
		t.Fatal(err)
	}
	if err := jwtkey.WritePrivateKeyFile(path, next); err != nil {
		t.Fatal(err)
	}
	a.Provider().Invalidate()
	hdr, _ := verifyJWT(t, bearer(t, a), next)
	if kid := hdr["kid"].(string); !strings.Contains(a.String(), "kid="+kid) || a.String() == before {
		t.Errorf("after rotation String = %s; want the new kid %s", a, kid)
	}
}

// captureLogs returns a logger writing JSON records to the returned buffer.
func captureLogs() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

func TestKeyFilePermissionsWarnOnce(t *testing.T) {
	for _, tc := range []struct {
		mode  os.FileMode
		warns int
	}{{0o600, 0}, {0o644, 1}, {0o640, 1}} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			path, _ := writeES256Key(t)
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			log, buf := captureLogs()
			load(t, temporalauth.EnvOptions{Logger: log, Lookup: mapEnv(map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": path})})
			out := buf.String()
			if got := strings.Count(out, `"level":"WARN"`); got != tc.warns {
				t.Fatalf("%d warnings, want %d:\n%s", got, tc.warns, out)
			}
			if tc.warns > 0 && (!strings.Contains(out, "TEMPORAL_JWT_PRIVATE_KEY_FILE") || !strings.Contains(out, "chmod 600")) {
				t.Errorf("warning does not name the variable and the fix:\n%s", out)
			}
		})
	}
}

func TestProviderOptionsLoggerWins(t *testing.T) {
	path, _ := writeES256Key(t)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	envLog, envBuf := captureLogs()
	provLog, provBuf := captureLogs()
	load(t, temporalauth.EnvOptions{
		Logger:   envLog,
		Provider: headers.Options{Logger: provLog},
		Lookup:   mapEnv(map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": path}),
	})
	if envBuf.Len() != 0 || !strings.Contains(provBuf.String(), "WARN") {
		t.Errorf("EnvOptions.Logger got %q, Provider.Logger got %q; want the warning on Provider.Logger", envBuf, provBuf)
	}
}

func TestProviderOptionsPassedThrough(t *testing.T) {
	path, _ := writeES256Key(t)
	var events []headers.RefreshEvent
	a := load(t, temporalauth.EnvOptions{
		Provider: headers.Options{Header: "x-temporal-token", OnRefresh: func(e headers.RefreshEvent) { events = append(events, e) }},
		Lookup:   mapEnv(map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": path}),
	})
	h, err := a.GetHeaders(context.Background())
	if err != nil || !strings.HasPrefix(h["x-temporal-token"], "Bearer ey") {
		t.Fatalf("GetHeaders = %v, %v; want the token in x-temporal-token", h, err)
	}
	if len(events) != 1 || events[0].Source != "jwt signer file="+path {
		t.Errorf("refresh events = %+v; want one from source %q", events, "jwt signer file="+path)
	}
}

func TestLoadStatic(t *testing.T) {
	secret := randomSecret(t, "tok")
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	jwtToken, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": exp.Unix()}).SignedString([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want, token string
		env               map[string]string
	}{
		{"opaque token", "static setting=TEMPORAL_AUTH_TOKEN leeway=default(min(5m,lifetime/4))", secret,
			map[string]string{"TEMPORAL_AUTH_TOKEN": "  " + secret + "\r\n"}},
		{"jwt token", "static setting=TEMPORAL_AUTH_TOKEN exp=" + exp.UTC().Format(time.RFC3339) + " leeway=default(min(5m,lifetime/4))", jwtToken,
			map[string]string{"TEMPORAL_AUTH_TOKEN": jwtToken}},
		{"token file", "static file=" + file + " poll=1m0s leeway=2m0s", secret,
			map[string]string{"TEMPORAL_AUTH_TOKEN_FILE": file, "TEMPORAL_AUTH_REGEN_LEEWAY": "2m"}},
		{"explicit", "static file=" + file + " poll=1m0s leeway=default(min(5m,lifetime/4))", secret,
			map[string]string{"TEMPORAL_AUTH_TOKEN_FILE": file, "TEMPORAL_AUTH_PROVIDER": "static"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := load(t, temporalauth.EnvOptions{Lookup: mapEnv(tc.env)})
			if got := bearer(t, a); got != tc.token {
				t.Errorf("token = %q; want %q", got, tc.token)
			}
			if got := a.String(); got != tc.want {
				t.Errorf("String = %s; want %s", got, tc.want)
			}
		})
	}
}

func TestLoadNone(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"nothing set":         {},
		"only empty values":   {"TEMPORAL_AUTH_TOKEN": "  ", "TEMPORAL_JWT_PRIVATE_KEY_FILE": ""},
		"explicit":            {"TEMPORAL_AUTH_PROVIDER": "none"},
		"unrelated variables": {"TEMPORAL_ADDRESS": "x:7233", "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.us/"},
		"azure ignored":       {"TEMPORAL_AUTH_PROVIDER": "none", "AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t"},
	} {
		t.Run(name, func(t *testing.T) {
			a := load(t, temporalauth.EnvOptions{Lookup: mapEnv(env)})
			h, err := a.GetHeaders(context.Background())
			if h != nil || err != nil || a.Kind() != "none" || a.Provider() != nil || a.String() != "none" {
				t.Errorf("none: GetHeaders = %v, %v; Kind %q, Provider %v, String %q", h, err, a.Kind(), a.Provider(), a)
			}
		})
	}
	var nilAuth *temporalauth.Auth
	if h, err := nilAuth.GetHeaders(context.Background()); h != nil || err != nil || nilAuth.Close() != nil || nilAuth.String() != "none" {
		t.Errorf("nil *Auth: GetHeaders = %v, %v, String %q; want the none provider", h, err, nilAuth)
	}
}

// clearAuthEnv empties, for the test, every variable that chooses or
// configures a provider, so that the machine's environment cannot interfere.
func clearAuthEnv(t *testing.T) {
	for _, name := range []string{
		"TEMPORAL_AUTH_PROVIDER", "TEMPORAL_AUTH_REGEN_LEEWAY", "TEMPORAL_AUTH_TOKEN", "TEMPORAL_AUTH_TOKEN_FILE", "TEMPORAL_AUTH_SCOPE",
		"TEMPORAL_JWT_PRIVATE_KEY_FILE", "TEMPORAL_JWT_PRIVATE_KEY", "TEMPORAL_JWT_KEY_ID", "TEMPORAL_JWT_PERMISSIONS",
		"TEMPORAL_JWT_PERMISSIONS_CLAIM", "TEMPORAL_JWT_SUBJECT", "TEMPORAL_JWT_ISSUER", "TEMPORAL_JWT_AUDIENCE", "TEMPORAL_JWT_EXPIRATION",
		"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
		"AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_MANAGED_IDENTITY",
	} {
		t.Setenv(name, "")
	}
	for _, name := range []string{oidc.EnvIssuer, oidc.EnvTokenURL, oidc.EnvClientID, oidc.EnvClientSecret, oidc.EnvClientSecretFile,
		oidc.EnvPrivateKeyFile, oidc.EnvKeyID, oidc.EnvAuthMethod, oidc.EnvScopes, oidc.EnvAudience, oidc.EnvResource, oidc.EnvAllowHTTP} {
		t.Setenv(name, "")
	}
}

func TestLoadReadsProcessEnvironment(t *testing.T) {
	secret := randomSecret(t, "env")
	clearAuthEnv(t)
	t.Setenv("TEMPORAL_AUTH_TOKEN", secret)
	a, err := temporalauth.Load(temporalauth.EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got := bearer(t, a); got != secret {
		t.Errorf("token = %q; want the one in TEMPORAL_AUTH_TOKEN", got)
	}
}

// newIdP starts a local Entra ID with one client and returns the variables
// that point the azure provider at it.
func newIdP(t *testing.T, secret string) (*entratest.Server, map[string]string) {
	t.Helper()
	idp := entratest.NewServer()
	t.Cleanup(idp.Close)
	idp.RegisterClient(entratest.Client{ID: "worker-app", Secret: secret, Roles: []string{"default:write"}})
	return idp, map[string]string{
		"AZURE_AUTHORITY_HOST": idp.AuthorityHost(),
		"AZURE_TENANT_ID":      " " + idp.Tenant() + " ",
		"AZURE_CLIENT_ID":      "worker-app",
		"AZURE_CLIENT_SECRET":  secret,
		"TEMPORAL_AUTH_SCOPE":  entratest.DefaultResource + "/.default",
		// Entra ID's instance discovery does not know the local server.
		"AZURE_DISABLE_INSTANCE_DISCOVERY": "true",
	}
}

func idpRequests(idp *entratest.Server) int64 {
	var n int64
	for _, e := range []entratest.Endpoint{entratest.EndpointDiscovery, entratest.EndpointToken, entratest.EndpointKeys, entratest.EndpointManagedIdentity, entratest.EndpointInstanceDiscovery} {
		n += idp.Requests(e)
	}
	return n
}

func TestLoadAzure(t *testing.T) {
	secret := randomSecret(t, "azsecret")
	idp, env := newIdP(t, secret)
	a := load(t, temporalauth.EnvOptions{Lookup: mapEnv(env), HTTPClient: idp.Client()})
	if n := idpRequests(idp); n != 0 {
		t.Fatalf("building the azure provider sent %d requests to the identity provider; want none", n)
	}
	want := "azure client_id=worker-app tenant=" + idp.Tenant() + " scopes=[api://temporal-server/.default] credential=client_secret authority=" +
		idp.AuthorityHost() + " instance_discovery=off leeway=default(min(5m,lifetime/4))"
	if got := a.String(); got != want {
		t.Errorf("String =\n %s\nwant\n %s", got, want)
	}
	claims, err := idp.VerifyToken(bearer(t, a))
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "worker-app" || fmt.Sprint(claims.Roles) != "[default:write]" {
		t.Errorf("claims = %+v", claims)
	}
}

// TestAzureVariablesIgnoredWhenAnotherProviderIsChosen runs a jwt worker
// in an AKS workload-identity pod: the AZURE_ variables AKS injects do not
// stop it, with or without TEMPORAL_AUTH_PROVIDER, and Load says it
// ignored them.
func TestAzureVariablesIgnoredWhenAnotherProviderIsChosen(t *testing.T) {
	path, key := writeES256Key(t)
	env := map[string]string{
		// What AKS workload identity injects into every pod.
		"AZURE_CLIENT_ID":            "c0ffee00-0000-0000-0000-000000000000",
		"AZURE_TENANT_ID":            "t",
		"AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token",
		"AZURE_AUTHORITY_HOST":       "https://login.microsoftonline.com/",

		"TEMPORAL_JWT_PRIVATE_KEY_FILE": path,
	}
	var logs bytes.Buffer
	a := load(t, temporalauth.EnvOptions{Lookup: mapEnv(env), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if a.Kind() != temporalauth.KindJWT {
		t.Fatalf("auto-detection with jwt and AKS's azure variables chose %s, want jwt", a.Kind())
	}
	verifyJWT(t, bearer(t, a), key)
	if !strings.Contains(logs.String(), "AZURE_ variables ignored") || !strings.Contains(logs.String(), "ignored=AZURE_") {
		t.Errorf("Load did not log the ignored variables:\n%s", logs.String())
	}
	env["TEMPORAL_AUTH_PROVIDER"] = "jwt"
	a = load(t, temporalauth.EnvOptions{Lookup: mapEnv(env)})
	verifyJWT(t, bearer(t, a), key)

	// The same AZURE_ variables alone still choose azure.
	delete(env, "TEMPORAL_AUTH_PROVIDER")
	delete(env, "TEMPORAL_JWT_PRIVATE_KEY_FILE")
	_, err := temporalauth.Load(temporalauth.EnvOptions{Lookup: mapEnv(env)})
	if err == nil || !strings.Contains(err.Error(), "azure provider (chosen because AZURE_") {
		t.Errorf("AZURE_ variables alone: %v, want the azure provider chosen", err)
	}
}

// TestLeewayWithoutProvider checks that TEMPORAL_AUTH_REGEN_LEEWAY does not
// pass silently when no provider is chosen.
func TestLeewayWithoutProvider(t *testing.T) {
	for _, env := range []map[string]string{
		{"TEMPORAL_AUTH_REGEN_LEEWAY": "2m"},
		{"TEMPORAL_AUTH_REGEN_LEEWAY": "2m", "TEMPORAL_AUTH_PROVIDER": "none"},
	} {
		_, err := temporalauth.Load(temporalauth.EnvOptions{Lookup: mapEnv(env)})
		var ce *headers.ConfigError
		if !errors.As(err, &ce) || ce.Setting != "TEMPORAL_AUTH_REGEN_LEEWAY" || !strings.Contains(err.Error(), "no provider") && !strings.Contains(err.Error(), "none") {
			t.Errorf("Load(%v): %v, want a ConfigError for TEMPORAL_AUTH_REGEN_LEEWAY", env, err)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	keyPath, key := writeES256Key(t)
	pemKey, err := jwtkey.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	token := randomSecret(t, "tok")
	azSecret := randomSecret(t, "azs")
	expired, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix()}).SignedString([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{token, azSecret, expired, strings.TrimSpace(string(pemKey))}

	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string // substrings of the error
	}{
		{"unknown provider", map[string]string{"TEMPORAL_AUTH_PROVIDER": " Vault "},
			[]string{"TEMPORAL_AUTH_PROVIDER", `"Vault"`, "jwt, azure, oidc, static or none"}},
		{"jwt and static auto", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": keyPath, "TEMPORAL_AUTH_TOKEN": token},
			[]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE", "TEMPORAL_AUTH_TOKEN", "set TEMPORAL_AUTH_PROVIDER"}},
		{"jwt and azure scope auto", map[string]string{"TEMPORAL_JWT_PERMISSIONS": "default:write", "TEMPORAL_AUTH_SCOPE": "api://x/.default", "AZURE_CLIENT_SECRET": azSecret},
			[]string{"TEMPORAL_JWT_PERMISSIONS", "TEMPORAL_AUTH_SCOPE", "TEMPORAL_AUTH_PROVIDER"}},
		// AZURE_ variables beside jwt's are ignored: jwt is chosen.
		{"jwt and azure variables auto", map[string]string{"TEMPORAL_JWT_PERMISSIONS": "default:write", "AZURE_CLIENT_SECRET": azSecret},
			[]string{"chosen because TEMPORAL_JWT_PERMISSIONS is set", "TEMPORAL_JWT_PRIVATE_KEY_FILE"}},
		{"static and azure scope auto", map[string]string{"TEMPORAL_AUTH_TOKEN_FILE": "/t", "TEMPORAL_AUTH_SCOPE": "api://x/.default"},
			[]string{"TEMPORAL_AUTH_TOKEN_FILE", "TEMPORAL_AUTH_SCOPE"}},
		{"explicit jwt with a token", map[string]string{"TEMPORAL_AUTH_PROVIDER": "jwt", "TEMPORAL_JWT_PRIVATE_KEY_FILE": keyPath, "TEMPORAL_AUTH_TOKEN": token},
			[]string{"TEMPORAL_AUTH_TOKEN: set, but TEMPORAL_AUTH_PROVIDER=jwt"}},
		{"explicit static with a scope", map[string]string{"TEMPORAL_AUTH_PROVIDER": "static", "TEMPORAL_AUTH_TOKEN": token, "TEMPORAL_AUTH_SCOPE": "api://x/.default"},
			[]string{"TEMPORAL_AUTH_SCOPE: set, but TEMPORAL_AUTH_PROVIDER=static"}},
		{"explicit none with jwt settings", map[string]string{"TEMPORAL_AUTH_PROVIDER": "none", "TEMPORAL_JWT_SUBJECT": "w"},
			[]string{"TEMPORAL_JWT_SUBJECT: set, but TEMPORAL_AUTH_PROVIDER=none"}},
		// docker --env-file keeps the quotes of KEY="value".
		{"quoted one-line PEM", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY": `"` + strings.ReplaceAll(strings.TrimSpace(string(pemKey)), "\n", `\n`) + `"`},
			[]string{"TEMPORAL_JWT_PRIVATE_KEY", "enclosed in quotes", "docker --env-file"}},
		{"quoted token", map[string]string{"TEMPORAL_AUTH_TOKEN": `'` + token + `'`},
			[]string{"TEMPORAL_AUTH_TOKEN", "enclosed in quotes"}},
		{"both key settings", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": keyPath, "TEMPORAL_JWT_PRIVATE_KEY": string(pemKey)},
			[]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE and TEMPORAL_JWT_PRIVATE_KEY are both set"}},
		{"jwt settings without a key", map[string]string{"TEMPORAL_JWT_PERMISSIONS": "default:write"},
			[]string{"chosen because TEMPORAL_JWT_PERMISSIONS is set", "set TEMPORAL_JWT_PRIVATE_KEY_FILE", "TEMPORAL_JWT_PRIVATE_KEY to"}},
		{"explicit jwt without a key", map[string]string{"TEMPORAL_AUTH_PROVIDER": "jwt"},
			[]string{"jwt provider", "TEMPORAL_JWT_PRIVATE_KEY_FILE"}},
		{"key id with a key file", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": keyPath, "TEMPORAL_JWT_KEY_ID": "k1"},
			[]string{"TEMPORAL_JWT_KEY_ID: cannot be used with TEMPORAL_JWT_PRIVATE_KEY_FILE"}},
		{"key id with a space", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY": string(pemKey), "TEMPORAL_JWT_KEY_ID": "my kid"},
			[]string{"TEMPORAL_JWT_KEY_ID", "white space"}},
		{"permission without role", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": keyPath, "TEMPORAL_JWT_PERMISSIONS": "default:write,default"},
			[]string{"TEMPORAL_JWT_PERMISSIONS: entry 2", `"default"`}},
		{"unknown role", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": keyPath, "TEMPORAL_JWT_PERMISSIONS": "default:owner"},
			[]string{"TEMPORAL_JWT_PERMISSIONS: entry 1", "owner"}},
		{"empty permission", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": keyPath, "TEMPORAL_JWT_PERMISSIONS": "default:write,,x:read"},
			[]string{"TEMPORAL_JWT_PERMISSIONS: entry 2 of 3 is empty", "comma-separated"}},
		{"trailing comma", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": keyPath, "TEMPORAL_JWT_PERMISSIONS": "default:write,"},
			[]string{"TEMPORAL_JWT_PERMISSIONS: entry 2 of 2 is empty"}},
		{"reserved claim", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": keyPath, "TEMPORAL_JWT_PERMISSIONS_CLAIM": "sub"},
			[]string{"TEMPORAL_JWT_PERMISSIONS_CLAIM", `"sub"`}},
		{"empty audience", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": keyPath, "TEMPORAL_JWT_AUDIENCE": "a, ,b"},
			[]string{"TEMPORAL_JWT_AUDIENCE: entry 2 of 3 is empty"}},
		{"expiration without unit", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": keyPath, "TEMPORAL_JWT_EXPIRATION": "600"},
			[]string{"TEMPORAL_JWT_EXPIRATION", `"600"`, "Go duration"}},
		{"negative expiration", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": keyPath, "TEMPORAL_JWT_EXPIRATION": "-5m"},
			[]string{"TEMPORAL_JWT_EXPIRATION", "positive"}},
		{"expiration under a second", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": keyPath, "TEMPORAL_JWT_EXPIRATION": "500ms"},
			[]string{"TEMPORAL_JWT_EXPIRATION", "at least 1s"}},
		{"malformed leeway", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": keyPath, "TEMPORAL_AUTH_REGEN_LEEWAY": "a minute"},
			[]string{"TEMPORAL_AUTH_REGEN_LEEWAY", `"a minute"`, "Go duration"}},
		{"zero leeway", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": keyPath, "TEMPORAL_AUTH_REGEN_LEEWAY": "0s"},
			[]string{"TEMPORAL_AUTH_REGEN_LEEWAY", "positive"}},
		{"leeway beyond the default lifetime", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": keyPath, "TEMPORAL_AUTH_REGEN_LEEWAY": "10m"},
			[]string{"TEMPORAL_AUTH_REGEN_LEEWAY: 10m0s must be shorter", "10m0s by default", "set TEMPORAL_JWT_EXPIRATION"}},
		{"leeway beyond the lifetime", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": keyPath, "TEMPORAL_AUTH_REGEN_LEEWAY": "2m", "TEMPORAL_JWT_EXPIRATION": "90s"},
			[]string{"TEMPORAL_AUTH_REGEN_LEEWAY: 2m0s must be shorter", "TEMPORAL_JWT_EXPIRATION=1m30s"}},
		{"missing key file", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": missing},
			[]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE", missing, "no such file"}},
		{"key file without a key", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": garbage},
			[]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE", garbage, "no PEM block"}},
		{"key content without a key", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY": token},
			[]string{"TEMPORAL_JWT_PRIVATE_KEY:", "shared HMAC secret"}},
		{"truncated key content", map[string]string{"TEMPORAL_JWT_PRIVATE_KEY": string(pemKey[:len(pemKey)/2])},
			[]string{"TEMPORAL_JWT_PRIVATE_KEY:", "truncated"}},
		{"both token settings", map[string]string{"TEMPORAL_AUTH_TOKEN": token, "TEMPORAL_AUTH_TOKEN_FILE": "/t"},
			[]string{"TEMPORAL_AUTH_TOKEN_FILE and TEMPORAL_AUTH_TOKEN are both set"}},
		{"explicit static without a token", map[string]string{"TEMPORAL_AUTH_PROVIDER": "static"},
			[]string{"TEMPORAL_AUTH_TOKEN_FILE", "TEMPORAL_AUTH_TOKEN to"}},
		{"token with a scheme", map[string]string{"TEMPORAL_AUTH_TOKEN": "Bearer " + token},
			[]string{"TEMPORAL_AUTH_TOKEN", "Bearer scheme"}},
		{"token with a space", map[string]string{"TEMPORAL_AUTH_TOKEN": token + " " + token},
			[]string{"TEMPORAL_AUTH_TOKEN", "whitespace"}},
		{"expired token", map[string]string{"TEMPORAL_AUTH_TOKEN": expired},
			[]string{"TEMPORAL_AUTH_TOKEN", "expired"}},
		{"missing token file", map[string]string{"TEMPORAL_AUTH_TOKEN_FILE": missing},
			[]string{"TEMPORAL_AUTH_TOKEN_FILE", missing}},
		{"azure without scope", map[string]string{"AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_SECRET": azSecret},
			[]string{"chosen because AZURE_CLIENT_ID is set", "TEMPORAL_AUTH_SCOPE"}},
		{"azure without credential", map[string]string{"TEMPORAL_AUTH_PROVIDER": "azure", "TEMPORAL_AUTH_SCOPE": "api://x/.default", "AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t"},
			[]string{"azure provider", "AZURE_CLIENT_SECRET", "AZURE_MANAGED_IDENTITY"}},
		{"azure with two credentials", map[string]string{"TEMPORAL_AUTH_SCOPE": "api://x/.default", "AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t",
			"AZURE_CLIENT_SECRET": azSecret, "AZURE_FEDERATED_TOKEN_FILE": "/f"},
			[]string{"AZURE_CLIENT_SECRET and AZURE_FEDERATED_TOKEN_FILE"}},
		{"azure authority over http", map[string]string{"TEMPORAL_AUTH_SCOPE": "api://x/.default", "AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t",
			"AZURE_CLIENT_SECRET": azSecret, "AZURE_AUTHORITY_HOST": "http://127.0.0.1:1/"},
			[]string{"AZURE_AUTHORITY_HOST", "https"}},
		{"azure scope list", map[string]string{"TEMPORAL_AUTH_SCOPE": "api://x", "AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_SECRET": azSecret},
			[]string{"TEMPORAL_AUTH_SCOPE", "/.default"}},
		{"azure missing federated token file", map[string]string{"TEMPORAL_AUTH_SCOPE": "api://x/.default", "AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t",
			"AZURE_FEDERATED_TOKEN_FILE": missing},
			[]string{"azure provider", missing}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := temporalauth.Load(temporalauth.EnvOptions{Lookup: mapEnv(tc.env)})
			if err == nil {
				a.Close()
				t.Fatalf("Load succeeded with %s", a)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\n does not contain %q", msg, w)
				}
			}
			for _, s := range secrets {
				if strings.Contains(msg, s) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), s) {
					t.Errorf("error shows a secret: %q", msg)
				}
			}
		})
	}
}

// TestDescriptionHasNoSecrets prints and logs every kind of provider built
// from secrets and looks for them in the output.
func TestDescriptionHasNoSecrets(t *testing.T) {
	token := randomSecret(t, "tok")
	azSecret := randomSecret(t, "azs")
	key, err := jwtkey.GenerateES256Key()
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := jwtkey.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	idp, azEnv := newIdP(t, azSecret)
	pemBody := strings.Split(string(pemKey), "\n")[1] // a line of base64 key material

	for name, env := range map[string]map[string]string{
		"jwt":    {"TEMPORAL_JWT_PRIVATE_KEY": string(pemKey)},
		"static": {"TEMPORAL_AUTH_TOKEN": token},
		"azure":  azEnv,
	} {
		t.Run(name, func(t *testing.T) {
			a := load(t, temporalauth.EnvOptions{Lookup: mapEnv(env), HTTPClient: idp.Client()})
			sent := bearer(t, a) // a fetched token must not show either
			var out bytes.Buffer
			text := slog.New(slog.NewTextHandler(&out, nil))
			json := slog.New(slog.NewJSONHandler(&out, nil))
			text.Info("auth", "auth", a)
			json.Info("auth", "auth", a)
			holder := struct{ Auth *temporalauth.Auth }{a}
			fmt.Fprintf(&out, "%v %+v %#v %s %q %v %+v %#v", a, a, a, a, a, holder, holder, holder)
			fmt.Fprint(&out, a.Provider(), a.LogValue())
			for _, s := range []string{token, azSecret, pemBody, sent} {
				if strings.Contains(out.String(), s) {
					t.Fatalf("output shows a secret:\n%s", out.String())
				}
			}
			if !strings.Contains(out.String(), "provider="+name) || !strings.Contains(out.String(), `"provider":"`+name+`"`) {
				t.Errorf("log records lack provider=%s:\n%s", name, out.String())
			}
		})
	}
}

func TestAzureDescriptions(t *testing.T) {
	dir := t.TempDir()
	federated := filepath.Join(dir, "federated-token")
	if err := os.WriteFile(federated, []byte(randomSecret(t, "assertion")), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "cert.pem")
	writeSelfSignedCert(t, certFile)
	const scope = "TEMPORAL_AUTH_SCOPE"
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"workload identity", map[string]string{"AZURE_CLIENT_ID": "app", "AZURE_TENANT_ID": "contoso.onmicrosoft.com", "AZURE_FEDERATED_TOKEN_FILE": federated, scope: "api://t/.default"},
			"azure client_id=app tenant=contoso.onmicrosoft.com scopes=[api://t/.default] credential=workload_identity federated_token_file=" + federated + " leeway=default(min(5m,lifetime/4))"},
		{"certificate", map[string]string{"AZURE_CLIENT_ID": "app", "AZURE_TENANT_ID": "t1", "AZURE_CLIENT_CERTIFICATE_PATH": certFile, scope: "api://t/.default", "TEMPORAL_AUTH_REGEN_LEEWAY": "10m"},
			"azure client_id=app tenant=t1 scopes=[api://t/.default] credential=certificate certificate=" + certFile + " leeway=10m0s"},
		{"managed identity", map[string]string{"AZURE_MANAGED_IDENTITY": "user", "AZURE_CLIENT_ID": "mi-client", scope: "api://t"},
			`azure scopes=[api://t] credential=managed_identity identity="user-assigned client_id=mi-client" leeway=default(min(5m,lifetime/4))`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Only built and described: GetHeaders would contact Entra ID
			// or the instance metadata service.
			a := load(t, temporalauth.EnvOptions{Lookup: mapEnv(tc.env)})
			if got := a.String(); got != tc.want {
				t.Errorf("String =\n %s\nwant\n %s", got, tc.want)
			}
		})
	}
}

// writeSelfSignedCert writes a certificate and its RSA key, as Entra ID
// certificate credentials use, to path.
func writeSelfSignedCert(t *testing.T, path string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "worker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDialOptions(t *testing.T) {
	path, _ := writeES256Key(t)
	a := load(t, temporalauth.EnvOptions{Lookup: mapEnv(map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": path})})
	if n := len(a.DialOptions()); n != 2 {
		t.Errorf("jwt: %d dial options; want RetryUnauthorized and the rejection log", n)
	}
	none := load(t, temporalauth.EnvOptions{Lookup: mapEnv(nil)})
	var nilAuth *temporalauth.Auth
	if none.DialOptions() != nil || nilAuth.DialOptions() != nil || nilAuth.Provider() != nil || nilAuth.Kind() != "none" {
		t.Error("the none provider has dial options or a Provider")
	}
}

func TestProviderLeewayFromCodeChecked(t *testing.T) {
	path, _ := writeES256Key(t)
	_, err := temporalauth.Load(temporalauth.EnvOptions{
		Provider: headers.Options{Leeway: time.Hour},
		Lookup:   mapEnv(map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": path}),
	})
	if err == nil || !strings.Contains(err.Error(), "EnvOptions.Provider.Leeway") || !strings.Contains(err.Error(), "TEMPORAL_JWT_EXPIRATION") {
		t.Errorf("Leeway beyond the lifetime: err = %v; want one naming EnvOptions.Provider.Leeway and TEMPORAL_JWT_EXPIRATION", err)
	}
	// TEMPORAL_AUTH_REGEN_LEEWAY replaces the leeway set in code.
	a := load(t, temporalauth.EnvOptions{
		Provider: headers.Options{Leeway: time.Hour},
		Lookup:   mapEnv(map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": path, "TEMPORAL_AUTH_REGEN_LEEWAY": "1m"}),
	})
	if !strings.HasSuffix(a.String(), " leeway=1m0s") {
		t.Errorf("String = %s; want leeway=1m0s", a)
	}
}

func TestLongValuesAreCutInErrors(t *testing.T) {
	long := strings.Repeat("x", 500)
	_, err := temporalauth.Load(temporalauth.EnvOptions{Lookup: mapEnv(map[string]string{"TEMPORAL_AUTH_PROVIDER": long})})
	if err == nil || strings.Contains(err.Error(), long[:100]) || !strings.Contains(err.Error(), `"...`) {
		t.Errorf("err = %v; want the value cut short", err)
	}
}

func TestProviderOptionsCheckedAtLoad(t *testing.T) {
	path, _ := writeES256Key(t)
	_, err := temporalauth.Load(temporalauth.EnvOptions{
		Provider: headers.Options{Header: "x temporal token"},
		Lookup:   mapEnv(map[string]string{"TEMPORAL_JWT_PRIVATE_KEY_FILE": path}),
	})
	var ce *headers.ConfigError
	if !errors.As(err, &ce) || ce.Setting != "EnvOptions.Provider.Header" {
		t.Errorf("Load with a bad header name: err = %v; want a ConfigError for EnvOptions.Provider.Header", err)
	}
}
