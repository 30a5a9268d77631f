package jwtkey_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/headers/clocktest"
	"github.com/temporalauth/temporalauth/jwtkey"
)

// Test keys are generated once per test binary: RSA generation is slow.
var (
	testES256Key = sync.OnceValue(func() *ecdsa.PrivateKey { return mustKey(jwtkey.GenerateES256Key()) })
	testES256Alt = sync.OnceValue(func() *ecdsa.PrivateKey { return mustKey(jwtkey.GenerateES256Key()) })
	testRS256Key = sync.OnceValue(func() *rsa.PrivateKey { return mustKey(jwtkey.GenerateRS256Key(2048)) })
)

func mustKey[K any](k K, err error) K {
	if err != nil {
		panic(err)
	}
	return k
}

// serverTime is the Temporal server's clock in these tests.
var serverTime = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// rawJWKS is a JWKS decoded without this package's types, as a server would.
type rawJWKS struct {
	Keys []map[string]string `json:"keys"`
}

// fetchJWKS serves set over loopback HTTP and fetches it back, as the
// Temporal server fetches its keySourceURIs.
func fetchJWKS(t *testing.T, set *jwtkey.KeySet) rawJWKS {
	t.Helper()
	srv := httptest.NewServer(set)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("JWKS status %d", resp.StatusCode)
	}
	var out rawJWKS
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func jwksOf(t *testing.T, keys ...jwtkey.JWK) rawJWKS {
	t.Helper()
	set, err := jwtkey.NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return fetchJWKS(t, set)
}

// strictKey decodes a JWK independently of the package under test, with
// the checks of the server's JWKS parser (go-jose): full-length EC
// coordinates on the curve.
func strictKey(k map[string]string) (crypto.PublicKey, error) {
	dec := base64.RawURLEncoding.DecodeString
	switch k["kty"] {
	case "EC":
		if k["crv"] != "P-256" {
			return nil, fmt.Errorf("curve %q", k["crv"])
		}
		x, err1 := dec(k["x"])
		y, err2 := dec(k["y"])
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return nil, errors.New("bad EC coordinates")
		}
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, x, y))
	case "RSA":
		n, err1 := dec(k["n"])
		e, err2 := dec(k["e"])
		if err1 != nil || err2 != nil || len(e) == 0 {
			return nil, errors.New("bad RSA members")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	}
	return nil, fmt.Errorf("kty %q", k["kty"])
}

// verifyAsServer checks a token the way the Temporal server's default JWT
// claim mapper does: RS256/ES256 only, kid looked up in the JWKS, exp, iat
// and nbf with zero leeway at now, a string sub and, if present, a
// permissions array of strings.
func verifyAsServer(tok string, set rawJWKS, now time.Time) (jwt.MapClaims, error) {
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256", "ES256"}),
		jwt.WithLeeway(0),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	parsed, err := parser.Parse(tok, func(t *jwt.Token) (any, error) {
		kid, ok := t.Header["kid"].(string)
		if !ok {
			return nil, errors.New(`malformed token - no "kid" header`)
		}
		for _, k := range set.Keys {
			if k["kid"] == kid {
				pub, err := strictKey(k)
				if err != nil {
					return nil, err
				}
				switch t.Method.(type) {
				case *jwt.SigningMethodRSA:
					if _, ok := pub.(*rsa.PublicKey); !ok {
						return nil, errors.New("RSA key not found for key ID")
					}
				case *jwt.SigningMethodECDSA:
					if _, ok := pub.(*ecdsa.PublicKey); !ok {
						return nil, errors.New("ECDSA key not found for key ID")
					}
				}
				return pub, nil
			}
		}
		return nil, fmt.Errorf("key not found for key ID: %s", kid)
	})
	if err != nil {
		return nil, err
	}
	claims := parsed.Claims.(jwt.MapClaims)
	if _, ok := claims["sub"].(string); !ok {
		return nil, errors.New(`unexpected value type of "sub" claim`)
	}
	if p, ok := claims["permissions"]; ok {
		list, ok := p.([]any)
		if !ok {
			return nil, errors.New("permissions is not an array")
		}
		for _, v := range list {
			if _, ok := v.(string); !ok {
				return nil, errors.New("permission is not a string")
			}
		}
	}
	return claims, nil
}

func mustSigner(t testing.TB, cfg jwtkey.Config) *jwtkey.Source {
	t.Helper()
	s, err := jwtkey.NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustToken(t testing.TB, s *jwtkey.Source) headers.Token {
	t.Helper()
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// jwtHeader decodes a token's JOSE header without verifying it.
func jwtHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSignerTokensVerifyAsTheServerWould(t *testing.T) {
	for _, tc := range []struct {
		alg string
		key crypto.Signer
	}{
		{"ES256", testES256Key()},
		{"RS256", testRS256Key()},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			s := mustSigner(t, jwtkey.Config{
				Key:         tc.key,
				Subject:     "orders-worker",
				Issuer:      "https://issuer.example",
				Audience:    []string{"temporal"},
				Permissions: []string{"default:WRITE", "temporal-system:read"},
				ExtraClaims: map[string]any{"team": "payments", "level": 3},
				Clock:       clocktest.NewAt(serverTime),
			})
			thumb, err := jwtkey.Thumbprint(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if s.KeyID() != thumb || s.Algorithm() != tc.alg {
				t.Fatalf("kid %q alg %q, want thumbprint %q and %s", s.KeyID(), s.Algorithm(), thumb, tc.alg)
			}
			tok := mustToken(t, s)

			h := jwtHeader(t, tok.Value())
			if h["alg"] != tc.alg || h["kid"] != thumb || h["typ"] != "JWT" || len(h) != 3 {
				t.Errorf("header = %v", h)
			}
			claims, err := verifyAsServer(tok.Value(), jwksOf(t, s.PublicJWK()), serverTime)
			if err != nil {
				t.Fatalf("server rejects the token: %v", err)
			}
			want := map[string]any{
				"sub": "orders-worker", "iss": "https://issuer.example", "aud": "temporal",
				"iat":         float64(serverTime.Add(-time.Minute).Unix()),
				"nbf":         float64(serverTime.Add(-time.Minute).Unix()),
				"exp":         float64(serverTime.Add(10 * time.Minute).Unix()),
				"permissions": []any{"default:write", "temporal-system:read"},
				"team":        "payments", "level": float64(3),
			}
			if fmt.Sprint(claims) != fmt.Sprint(jwt.MapClaims(want)) {
				t.Errorf("claims =\n%v\nwant\n%v", claims, want)
			}
			if !tok.Expiry.Equal(serverTime.Add(10 * time.Minute)) {
				t.Errorf("Expiry = %v, want exp", tok.Expiry)
			}
			// The server rejects it at exp and after, with zero leeway.
			if _, err := verifyAsServer(tok.Value(), jwksOf(t, s.PublicJWK()), tok.Expiry); !errors.Is(err, jwt.ErrTokenExpired) {
				t.Errorf("at exp: err = %v, want expired", err)
			}
		})
	}
}

func TestServerRejectsTokenWithoutItsKey(t *testing.T) {
	s := mustSigner(t, jwtkey.Config{Key: testES256Key(), Clock: clocktest.NewAt(serverTime)})
	tok := mustToken(t, s)

	other, err := jwtkey.PublicJWK(testES256Alt(), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyAsServer(tok.Value(), jwksOf(t, other), serverTime); err == nil || !strings.Contains(err.Error(), "key not found") {
		t.Errorf("unknown kid: err = %v", err)
	}
	// The right kid naming another key: the signature does not verify.
	impostor, err := jwtkey.PublicJWK(testES256Alt(), s.KeyID())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyAsServer(tok.Value(), jwksOf(t, impostor), serverTime); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		t.Errorf("wrong key: err = %v, want invalid signature", err)
	}
}

func TestSignerDefaults(t *testing.T) {
	s := mustSigner(t, jwtkey.Config{Key: testES256Key(), Clock: clocktest.NewAt(serverTime)})
	claims, err := verifyAsServer(mustToken(t, s).Value(), jwksOf(t, s.PublicJWK()), serverTime)
	if err != nil {
		t.Fatal(err)
	}
	if claims["sub"] != jwtkey.DefaultSubject {
		t.Errorf("sub = %v", claims["sub"])
	}
	exp, iat := claims["exp"].(float64), claims["iat"].(float64)
	if got := time.Duration(exp-iat) * time.Second; got != jwtkey.DefaultExpiration+jwtkey.DefaultClockSkew {
		t.Errorf("exp - iat = %v", got)
	}
	for _, absent := range []string{"iss", "aud", "permissions"} {
		if _, ok := claims[absent]; ok {
			t.Errorf("claim %q present without being configured", absent)
		}
	}
}

func TestSignerOptions(t *testing.T) {
	s := mustSigner(t, jwtkey.Config{
		Key:              testES256Key(),
		KeyID:            "my-key-2026",
		Audience:         []string{"a", "b"},
		Permissions:      []string{"ns1:admin"},
		PermissionsClaim: "roles",
		ExtraClaims:      map[string]any{"permissions": []string{"legacy"}},
		Expiration:       time.Hour,
		ClockSkew:        -1,
		Clock:            clocktest.NewAt(serverTime),
	})
	if s.KeyID() != "my-key-2026" || s.PublicJWK().KeyID != "my-key-2026" {
		t.Fatalf("kid %q, JWK kid %q", s.KeyID(), s.PublicJWK().KeyID)
	}
	tok := mustToken(t, s)
	claims, err := verifyAsServer(tok.Value(), jwksOf(t, s.PublicJWK()), serverTime)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(claims["aud"]) != "[a b]" || fmt.Sprint(claims["roles"]) != "[ns1:admin]" || fmt.Sprint(claims["permissions"]) != "[legacy]" {
		t.Errorf("claims = %v", claims)
	}
	if claims["iat"] != float64(serverTime.Unix()) || claims["exp"] != float64(serverTime.Add(time.Hour).Unix()) {
		t.Errorf("iat %v exp %v, want no backdating and a 1h lifetime", claims["iat"], claims["exp"])
	}
}

func TestClockSkewLetsAFastClientThrough(t *testing.T) {
	ahead := serverTime.Add(30 * time.Second) // the client's clock runs 30 s ahead
	for _, tc := range []struct {
		name    string
		skew    time.Duration
		wantErr error
	}{
		{"default skew", 0, nil},
		{"no backdating", -1, jwt.ErrTokenUsedBeforeIssued},
		{"skew too small", 10 * time.Second, jwt.ErrTokenUsedBeforeIssued},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSigner(t, jwtkey.Config{Key: testES256Key(), ClockSkew: tc.skew, Clock: clocktest.NewAt(ahead)})
			_, err := verifyAsServer(mustToken(t, s).Value(), jwksOf(t, s.PublicJWK()), serverTime)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// wrappedSigner hides the concrete key type, like an HSM or KMS signer.
type wrappedSigner struct {
	crypto.Signer
	pub  crypto.PublicKey // if set, Public lies
	opts crypto.SignerOpts
}

func (w wrappedSigner) Public() crypto.PublicKey {
	if w.pub != nil {
		return w.pub
	}
	return w.Signer.Public()
}

func (w wrappedSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if w.opts != nil {
		opts = w.opts
	}
	return w.Signer.Sign(r, digest, opts)
}

func TestOpaqueCryptoSigner(t *testing.T) {
	for _, key := range []crypto.Signer{testES256Key(), testRS256Key()} {
		s := mustSigner(t, jwtkey.Config{Key: wrappedSigner{Signer: key}, Clock: clocktest.NewAt(serverTime)})
		if _, err := verifyAsServer(mustToken(t, s).Value(), jwksOf(t, s.PublicJWK()), serverTime); err != nil {
			t.Errorf("%s: %v", s.Algorithm(), err)
		}
	}
	for name, bad := range map[string]crypto.Signer{
		"wrong public key": wrappedSigner{Signer: testES256Key(), pub: testES256Alt().Public()},
		"PSS padding":      wrappedSigner{Signer: testRS256Key(), opts: &rsa.PSSOptions{Hash: crypto.SHA256}},
	} {
		s := mustSigner(t, jwtkey.Config{Key: bad})
		_, err := s.Token(context.Background())
		if err == nil || !strings.Contains(err.Error(), "does not verify") || !strings.Contains(err.Error(), s.KeyID()) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestNewSignerErrors(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.pem")
	if err := jwtkey.WritePrivateKeyFile(keyFile, testES256Key()); err != nil {
		t.Fatal(err)
	}
	p384 := mustKey(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
	_, ed := mustKey2(ed25519.GenerateKey(rand.Reader))
	rsa1024 := mustKey(rsa.GenerateKey(rand.Reader, 1024))
	key := testES256Key()
	for _, tc := range []struct {
		name string
		cfg  jwtkey.Config
		want []string
	}{
		{"no key", jwtkey.Config{}, []string{"no private key", "jwtkey.Config.KeyFile", "jwtkey.Config.Key "}},
		{"both keys", jwtkey.Config{Key: key, KeyFile: keyFile}, []string{"jwtkey.Config.KeyFile and jwtkey.Config.Key are both set"}},
		{"kid with key file", jwtkey.Config{KeyFile: keyFile, KeyID: "x"}, []string{"jwtkey.Config.KeyID: cannot be used with jwtkey.Config.KeyFile"}},
		{"missing key file", jwtkey.Config{KeyFile: filepath.Join(dir, "nope.pem")}, []string{"nope.pem", "no such file", "Config.KeyFile"}},
		{"P-384", jwtkey.Config{Key: p384}, []string{"Config.Key", "P-384", "only ES256"}},
		{"Ed25519", jwtkey.Config{Key: ed}, []string{"Config.Key", "Ed25519"}},
		{"RSA 1024", jwtkey.Config{Key: rsa1024}, []string{"Config.Key", "1024 bits", "at least 2048"}},
		{"permission without role", jwtkey.Config{Key: key, Permissions: []string{"default:read", "default"}}, []string{"Config.Permissions: entry 2", `"default"`, "<namespace>:<role>"}},
		{"permission without namespace", jwtkey.Config{Key: key, Permissions: []string{":write"}}, []string{"Config.Permissions: entry 1", `":write"`, "empty namespace"}},
		{"unknown role", jwtkey.Config{Key: key, Permissions: []string{"default:owner"}}, []string{"Config.Permissions: entry 1", `"default:owner"`, `role "owner"`}},
		{"space in namespace", jwtkey.Config{Key: key, Permissions: []string{"default :write"}}, []string{"Config.Permissions: entry 1", "space"}},
		{"negative expiration", jwtkey.Config{Key: key, Expiration: -time.Minute}, []string{"Config.Expiration", "at least 1s"}},
		{"sub-second expiration", jwtkey.Config{Key: key, Expiration: 500 * time.Millisecond}, []string{"Config.Expiration"}},
		{"empty audience", jwtkey.Config{Key: key, Audience: []string{"a", ""}}, []string{"Config.Audience: entry 2 is empty"}},
		{"extra exp", jwtkey.Config{Key: key, ExtraClaims: map[string]any{"exp": 1}}, []string{`ExtraClaims: "exp"`, "reserved", "Config.Expiration"}},
		{"extra sub", jwtkey.Config{Key: key, ExtraClaims: map[string]any{"sub": "x"}}, []string{`ExtraClaims: "sub"`, "Config.Subject"}},
		{"extra kid", jwtkey.Config{Key: key, ExtraClaims: map[string]any{"kid": "x"}}, []string{`ExtraClaims: "kid"`, "Config.KeyID"}},
		{"extra nbf", jwtkey.Config{Key: key, ExtraClaims: map[string]any{"nbf": 0}}, []string{`ExtraClaims: "nbf"`}},
		{"extra iat", jwtkey.Config{Key: key, ExtraClaims: map[string]any{"iat": 0}}, []string{`ExtraClaims: "iat"`}},
		{"extra permissions", jwtkey.Config{Key: key, ExtraClaims: map[string]any{"permissions": []string{"x"}}}, []string{`ExtraClaims: "permissions"`, "Config.Permissions"}},
		{"extra custom permissions claim", jwtkey.Config{Key: key, PermissionsClaim: "roles", ExtraClaims: map[string]any{"roles": 1}}, []string{`ExtraClaims: "roles"`}},
		{"extra empty name", jwtkey.Config{Key: key, ExtraClaims: map[string]any{"": 1}}, []string{"empty claim name"}},
		{"extra not JSON", jwtkey.Config{Key: key, ExtraClaims: map[string]any{"f": func() {}}}, []string{`ExtraClaims: "f"`, "JSON"}},
		{"permissions claim reserved", jwtkey.Config{Key: key, PermissionsClaim: "sub"}, []string{`PermissionsClaim: "sub"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := jwtkey.NewTokenSource(tc.cfg)
			if err == nil {
				t.Fatalf("NewTokenSource succeeded: %v", s)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var ce *headers.ConfigError
			if !errors.As(err, &ce) || !strings.HasPrefix(ce.Setting, "jwtkey.Config.") {
				t.Errorf("error %q is not a *headers.ConfigError naming a jwtkey.Config field", err)
			}
		})
	}
}

func mustKey2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}

func TestExtraClaimsAreCopiedAtNewSigner(t *testing.T) {
	extra := map[string]any{"team": "a"}
	s := mustSigner(t, jwtkey.Config{Key: testES256Key(), ExtraClaims: extra, Clock: clocktest.NewAt(serverTime)})
	extra["team"] = "b"
	extra["more"] = 1
	claims, err := verifyAsServer(mustToken(t, s).Value(), jwksOf(t, s.PublicJWK()), serverTime)
	if err != nil {
		t.Fatal(err)
	}
	if claims["team"] != "a" || claims["more"] != nil {
		t.Errorf("claims = %v, want the map as it was at NewTokenSource", claims)
	}
}

func TestTokenHonoursCanceledContext(t *testing.T) {
	s := mustSigner(t, jwtkey.Config{Key: testES256Key()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Token(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func TestZeroSignerFailsCleanly(t *testing.T) {
	var s jwtkey.Source
	if _, err := s.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "NewTokenSource") {
		t.Errorf("err = %v", err)
	}
	if got := fmt.Sprint(&s); !strings.Contains(got, "jwt signer") {
		t.Errorf("String = %q", got)
	}
}

// secretsOf lists encodings of key's private material that must never be
// printed: its PKCS#8 PEM body lines and its private scalar or exponent in
// decimal, hex and base64.
func secretsOf(t *testing.T, key crypto.Signer) []string {
	t.Helper()
	pemData, err := jwtkey.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(pemData), "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			out = append(out, line[:16])
		}
	}
	var d []byte
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		d = mustKey(k.Bytes())
	case *rsa.PrivateKey:
		d = k.D.Bytes()
	}
	n := new(big.Int).SetBytes(d)
	return append(out, n.String()[:20], hex.EncodeToString(d)[:20], base64.StdEncoding.EncodeToString(d)[:16],
		base64.RawURLEncoding.EncodeToString(d)[:16], fmt.Sprintf("%X", d)[:20])
}

func assertNoSecrets(t *testing.T, what, printed string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(printed, s) {
			t.Errorf("%s shows key material %q: %s", what, s, printed)
		}
	}
}

func TestNoKeyMaterialInFormattingOrLogs(t *testing.T) {
	for _, key := range []crypto.Signer{testES256Key(), testRS256Key()} {
		secrets := secretsOf(t, key)
		cfg := jwtkey.Config{Key: key, Subject: "svc", Permissions: []string{"default:read"}, ExtraClaims: map[string]any{"team": "x"}}
		s := mustSigner(t, cfg)

		var logs bytes.Buffer
		logger := slog.New(slog.NewJSONHandler(&logs, nil))
		logger.Info("config", "cfg", cfg, "cfgptr", &cfg, "signer", s)
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%X", "%q", "%T"} {
			for name, v := range map[string]any{"Config": cfg, "*Config": &cfg, "*Source": s, "Source in a struct": struct{ S *jwtkey.Source }{s}} {
				assertNoSecrets(t, name+" "+verb, fmt.Sprintf(verb, v), secrets)
			}
		}
		assertNoSecrets(t, "slog", logs.String(), secrets)
		if got := fmt.Sprintf("%+v", cfg); !strings.Contains(got, headers.Redacted) || !strings.Contains(got, `Subject: "svc"`) || !strings.Contains(got, `ExtraClaims: ["team"]`) {
			t.Errorf("Config %%+v = %s, want the settings with the key redacted", got)
		}
		if got := fmt.Sprintf("%#v", s); !strings.Contains(got, s.KeyID()) || !strings.HasPrefix(got, "jwtkey.Source{") {
			t.Errorf("Source %%#v = %s", got)
		}
		if !strings.Contains(logs.String(), `"key":"REDACTED"`) || !strings.Contains(logs.String(), s.KeyID()) {
			t.Errorf("slog output lacks the redacted settings: %s", logs.String())
		}
	}
}

func TestNewJWTProvider(t *testing.T) {
	key := testES256Key()
	p, err := jwtkey.NewProvider(jwtkey.Config{Key: key, Permissions: []string{"default:write"}}, headers.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close() }()
	h, err := p.GetHeaders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := strings.CutPrefix(h["authorization"], "Bearer ")
	if !ok {
		t.Fatalf("headers = %v", h)
	}
	jwk, err := jwtkey.PublicJWK(key, "")
	if err != nil {
		t.Fatal(err)
	}
	claims, err := verifyAsServer(tok, jwksOf(t, jwk), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(claims["permissions"]) != "[default:write]" {
		t.Errorf("claims = %v", claims)
	}
}

func TestNewJWTProviderChecks(t *testing.T) {
	key := testES256Key()
	if _, err := jwtkey.NewProvider(jwtkey.Config{}, headers.Options{}); err == nil || !strings.Contains(err.Error(), "no private key") {
		t.Errorf("no key: err = %v", err)
	}
	_, err := jwtkey.NewProvider(jwtkey.Config{Key: key, Expiration: 5 * time.Minute}, headers.Options{Leeway: 5 * time.Minute})
	if err == nil || !strings.Contains(err.Error(), "Options.Leeway") || !strings.Contains(err.Error(), "Config.Expiration") {
		t.Errorf("leeway >= expiration: err = %v", err)
	}
}

func TestNewJWTProviderNamesSourceAndWarnsAboutOpenKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := jwtkey.WritePrivateKeyFile(path, testES256Key()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	events := make(chan headers.RefreshEvent, 10)
	p, err := jwtkey.NewProvider(jwtkey.Config{KeyFile: path}, headers.Options{
		Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
		OnRefresh: func(e headers.RefreshEvent) { events <- e },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close() }()
	if !isWindows() {
		out := logs.String() // the warning comes from NewProvider itself
		if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "chmod 600") || !strings.Contains(out, "key.pem") {
			t.Errorf("no permission warning logged: %s", out)
		}
	}
	if _, err := p.GetHeaders(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-events:
		if e.Source != "jwt signer file="+path || e.Err != nil {
			t.Errorf("event = %+v, want source named after the key file", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no refresh event")
	}
}

func isWindows() bool { return filepath.Separator == '\\' }

func TestParsePermission(t *testing.T) {
	for in, want := range map[string]jwtkey.Permission{
		"default:read":              {"default", "read"},
		"default:WRITE":             {"default", "write"},
		"Orders.prod:Worker":        {"Orders.prod", "worker"},
		"temporal-system:admin":     {"temporal-system", "admin"},
		"ns-with-dash_and.dot:read": {"ns-with-dash_and.dot", "read"},
	} {
		got, err := jwtkey.ParsePermission(in)
		if err != nil || got != want {
			t.Errorf("ParsePermission(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "default", ":write", "default:", "default:owner", "default:read:x", "default: read", " default:read", "de\tfault:read", "default:readd"} {
		if p, err := jwtkey.ParsePermission(in); err == nil || !strings.Contains(err.Error(), strconv.Quote(in)) {
			t.Errorf("ParsePermission(%q) = %v, %v; want an error naming it", in, p, err)
		}
	}
}

func FuzzParsePermission(f *testing.F) {
	for _, s := range []string{"default:read", "default", ":write", "default:owner", "ns:ADMIN", "a:b:c", "é:wörker"} {
		f.Add(s)
	}
	roles := []string{"read", "write", "worker", "admin"}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := jwtkey.ParsePermission(s)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Fatalf("error %q does not name the input", err)
			}
			return
		}
		if p.Namespace == "" || !slices.Contains(roles, p.Role) || strings.ContainsAny(p.Namespace, " \t\n") {
			t.Fatalf("accepted %q as %#v", s, p)
		}
		// The server splits at the first colon and lowercases the role.
		ns, role, _ := strings.Cut(s, ":")
		if ns != p.Namespace || strings.ToLower(role) != p.Role {
			t.Fatalf("%q parsed as %#v", s, p)
		}
		if again, err := jwtkey.ParsePermission(p.String()); err != nil || again != p {
			t.Fatalf("round trip of %q: %v, %v", p, again, err)
		}
	})
}

func benchmarkSign(b *testing.B, key crypto.Signer) {
	s := mustSigner(b, jwtkey.Config{Key: key, Permissions: []string{"default:write"}})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Token(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignES256(b *testing.B) { benchmarkSign(b, testES256Key()) }

func BenchmarkSignRS256(b *testing.B) { benchmarkSign(b, testRS256Key()) }
