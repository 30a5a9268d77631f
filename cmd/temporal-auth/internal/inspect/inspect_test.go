package inspect

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/temporalauth/temporalauth/jwtkey"
)

// now is the clock of the tests.
var now = time.Unix(1_800_000_000, 0)

var (
	keysOnce            sync.Once
	ecKey, ecKey2       *ecdsa.PrivateKey
	ecKey384            *ecdsa.PrivateKey
	rsaKey              *rsa.PrivateKey
	ecKid, ecKid2, rKid string
)

// testKeys generates the keys once per test binary.
func testKeys(t *testing.T) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		must := func(e error) {
			if e != nil && err == nil {
				err = e
			}
		}
		ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		ecKey2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		ecKey384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(err)
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		if err != nil {
			panic(err)
		}
		ecKid, _ = jwtkey.Thumbprint(ecKey)
		ecKid2, _ = jwtkey.Thumbprint(ecKey2)
		rKid, _ = jwtkey.Thumbprint(rsaKey)
	})
}

// keySet returns the JWKS of ecKey and rsaKey.
func keySet(t *testing.T) *KeySet {
	t.Helper()
	testKeys(t)
	var set jwtkey.JWKS
	for _, k := range []crypto.Signer{ecKey, rsaKey} {
		jwk, err := jwtkey.PublicJWK(k, "")
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, jwk)
	}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := ParseKeySet("test-jwks", data)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// claims returns the claims of a good token.
func claims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub":         "worker-1",
		"exp":         now.Add(time.Hour).Unix(),
		"iat":         now.Add(-time.Minute).Unix(),
		"nbf":         now.Add(-time.Minute).Unix(),
		"permissions": []string{"default:write"},
	}
}

// sign makes a token; header entries set to nil are removed.
func sign(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// es256 signs c with ecKey and its kid.
func es256(t *testing.T, c jwt.MapClaims) string {
	testKeys(t)
	return sign(t, jwt.SigningMethodES256, ecKey, map[string]any{"kid": ecKid}, c)
}

// with returns the good claims changed by f.
func with(f func(jwt.MapClaims)) jwt.MapClaims {
	c := claims()
	f(c)
	return c
}

// derSigned returns an ES256 token whose signature is ASN.1 DER.
func derSigned(t *testing.T) string {
	testKeys(t)
	h, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": ecKid, "typ": "JWT"})
	p, _ := json.Marshal(claims())
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	sum := sha256.Sum256([]byte(input))
	sig, err := ecdsa.SignASN1(rand.Reader, ecKey, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// rawToken assembles a token from JSON segments and a signature.
func rawToken(header, payload string, sig []byte) string {
	e := base64.RawURLEncoding.EncodeToString
	return e([]byte(header)) + "." + e([]byte(payload)) + "." + e(sig)
}

func TestAnalyze(t *testing.T) {
	testKeys(t)
	set := keySet(t)
	type want struct {
		accepted bool
		verified bool
		reasons  []string // substrings of the verdict
		lines    []string // substrings of the text report
	}
	tests := []struct {
		name  string
		token func(t *testing.T) string
		in    Input // Token is set from token
		opts  Options
		want  want
	}{
		{
			name:  "good ES256 without JWKS",
			token: func(t *testing.T) string { return es256(t, claims()) },
			in:    Input{Scheme: "Bearer"},
			want: want{accepted: true, lines: []string{
				"ok    scheme", "ok    alg     ES256 is accepted", "info  sig     signature not checked",
				"expires in 1h", "1m ago", `ok    sub     "worker-1"`, "default    write     write",
				"VERDICT: ACCEPTED if the signature verifies",
			}},
		},
		{
			name:  "good ES256 with JWKS",
			token: func(t *testing.T) string { return es256(t, claims()) },
			opts:  Options{KeySet: set},
			want:  want{accepted: true, verified: true, lines: []string{"signature verified with key", "test-jwks", "Not checked: whether the server has fetched it", "VERDICT: ACCEPTED once the server has fetched the key"}},
		},
		{
			name: "good RS256 with JWKS",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": rKid}, claims())
			},
			opts: Options{KeySet: set},
			want: want{accepted: true, verified: true, lines: []string{"RS256 is accepted", "signature verified"}},
		},
		{
			name: "expired",
			token: func(t *testing.T) string {
				return es256(t, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-5 * time.Minute).Unix() }))
			},
			want: want{reasons: []string{"expired 5m ago"}, lines: []string{"FAIL  exp", `"Token is expired"`}},
		},
		{
			name:  "expires this second",
			token: func(t *testing.T) string { return es256(t, with(func(c jwt.MapClaims) { c["exp"] = now.Unix() })) },
			want:  want{reasons: []string{"expired 0s ago"}},
		},
		{
			name: "iat in the future",
			token: func(t *testing.T) string {
				return es256(t, with(func(c jwt.MapClaims) { c["iat"] = now.Add(10 * time.Second).Unix() }))
			},
			want: want{reasons: []string{"iat is 10s in the future"}, lines: []string{"Token used before issued"}},
		},
		{
			name: "nbf in the future",
			token: func(t *testing.T) string {
				return es256(t, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(3 * time.Minute).Unix() }))
			},
			want: want{reasons: []string{"nbf is 3m in the future"}, lines: []string{"Token is not valid yet"}},
		},
		{
			name: "iat not backdated",
			token: func(t *testing.T) string {
				return es256(t, with(func(c jwt.MapClaims) { c["iat"] = now.Add(-2 * time.Second).Unix() }))
			},
			want: want{accepted: true, lines: []string{"warn  iat", "only 2s ago", "backdate iat"}},
		},
		{
			name:  "no exp",
			token: func(t *testing.T) string { return es256(t, with(func(c jwt.MapClaims) { delete(c, "exp") })) },
			want:  want{accepted: true, lines: []string{"warn  exp     no exp: the token never expires"}},
		},
		{
			name:  "exp zero",
			token: func(t *testing.T) string { return es256(t, with(func(c jwt.MapClaims) { c["exp"] = 0 })) },
			want:  want{accepted: true, lines: []string{"exp is 0, which the server treats as absent"}},
		},
		{
			name:  "exp a string",
			token: func(t *testing.T) string { return es256(t, with(func(c jwt.MapClaims) { c["exp"] = "1900000000" })) },
			want:  want{reasons: []string{"exp is not a number"}},
		},
		{
			name:  "no sub",
			token: func(t *testing.T) string { return es256(t, with(func(c jwt.MapClaims) { delete(c, "sub") })) },
			want:  want{reasons: []string{"no sub"}, lines: []string{"the server requires a string sub"}},
		},
		{
			name:  "sub a number",
			token: func(t *testing.T) string { return es256(t, with(func(c jwt.MapClaims) { c["sub"] = 42 })) },
			want:  want{reasons: []string{"sub is not a string"}},
		},
		{
			name:  "empty sub",
			token: func(t *testing.T) string { return es256(t, with(func(c jwt.MapClaims) { c["sub"] = "" })) },
			want:  want{accepted: true, lines: []string{"warn  sub"}},
		},
		{
			name: "no kid",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodES256, ecKey, map[string]any{"kid": nil}, claims())
			},
			opts: Options{KeySet: set},
			want: want{reasons: []string{"no kid header"}, lines: []string{"signature not checked: no usable alg and kid"}},
		},
		{
			name: "kid a number",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodES256, ecKey, map[string]any{"kid": 7}, claims())
			},
			want: want{reasons: []string{"kid is not a string"}},
		},
		{
			name: "HS256",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, []byte("0123456789abcdef0123456789abcdef"), map[string]any{"kid": ecKid}, claims())
			},
			opts: Options{KeySet: set},
			want: want{reasons: []string{"alg HS256 is not accepted"}, lines: []string{"HMAC (shared-secret) tokens are not accepted"}},
		},
		{
			name: "alg none",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": ecKid}, claims())
			},
			want: want{reasons: []string{"alg none is not accepted", "no signature"}, lines: []string{"an unsigned token is never accepted"}},
		},
		{
			name: "PS256",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodPS256, rsaKey, map[string]any{"kid": rKid}, claims())
			},
			opts: Options{KeySet: set},
			want: want{reasons: []string{"alg PS256 is not accepted"}, lines: []string{"sign with RS256"}},
		},
		{
			name: "ES384",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodES384, ecKey384, map[string]any{"kid": "p384"}, claims())
			},
			want: want{reasons: []string{"alg ES384 is not accepted"}, lines: []string{"only ES256 (P-256)"}},
		},
		{
			name: "no alg",
			token: func(t *testing.T) string {
				return rawToken(`{"kid":"k"}`, `{"sub":"s","permissions":["default:read"]}`, make([]byte, 64))
			},
			want: want{reasons: []string{"no alg header"}},
		},
		{
			name: "unknown kid",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodES256, ecKey2, map[string]any{"kid": ecKid2}, claims())
			},
			opts: Options{KeySet: set},
			want: want{
				reasons: []string{fmt.Sprintf("kid %q is not in the JWKS", ecKid2)},
				lines: []string{
					"so a server reading it will reject this token: if the key is new, publish it and wait one refresh interval of the server before signing with it; " +
						"otherwise the token was signed with another key, or this is not the server's JWKS: " +
						"compare the signer's kid (temporal-auth jwks KEYFILE prints it) and the server's keySourceURIs",
					fmt.Sprintf("it has %q, %q", ecKid, rKid),
				},
			},
		},
		{
			name: "wrong signature",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodES256, ecKey2, map[string]any{"kid": ecKid}, claims())
			},
			opts: Options{KeySet: set},
			want: want{reasons: []string{"the signature does not verify"}, lines: []string{"signed with another key or altered"}},
		},
		{
			name: "kid of a key of the other type",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodES256, ecKey, map[string]any{"kid": rKid}, claims())
			},
			opts: Options{KeySet: set},
			want: want{reasons: []string{fmt.Sprintf("kid %q names a RSA key, the token is ES256", rKid)}},
		},
		{
			name:  "ASN.1 ECDSA signature",
			token: derSigned,
			want:  want{reasons: []string{"malformed ES256 signature"}, lines: []string{"want 64 (R || S)"}},
		},
		{
			name: "permissions a string",
			token: func(t *testing.T) string {
				return es256(t, with(func(c jwt.MapClaims) { c["permissions"] = "default:write" }))
			},
			want: want{
				reasons: []string{"the token grants no access"},
				lines:   []string{`"permissions" is a string, not an array`, `write it as an array: ["default:write"]`, "  none\n"},
			},
		},
		{
			name: "invalid entries ignored",
			token: func(t *testing.T) string {
				return es256(t, with(func(c jwt.MapClaims) {
					c["permissions"] = []any{"default", ":write", "ns:writer", 5, "ns2:Worker", "temporal-system:ADMIN", " spaced:read"}
				}))
			},
			want: want{accepted: true, lines: []string{
				`"default" has no colon: ignored`,
				`":write" has an empty namespace, which matches no namespace: ignored`,
				`"ns:writer": role "writer" is not read, write, worker or admin: grants nothing`,
				"entry 4 is a number, not a string: ignored",
				`contains white space`,
				"temporal-system (all)  ADMIN",
				"any other namespace    -         admin",
				"ns2                    Worker    admin",
			}},
		},
		{
			name: "worker alone",
			token: func(t *testing.T) string {
				return es256(t, with(func(c jwt.MapClaims) { c["permissions"] = []string{"default:worker"} }))
			},
			want: want{reasons: []string{"the token grants no access"}, lines: []string{"nothing: worker alone allows no API"}},
		},
		{
			name: "worker and read",
			token: func(t *testing.T) string {
				return es256(t, with(func(c jwt.MapClaims) { c["permissions"] = []string{"default:worker", "default:read"} }))
			},
			want: want{accepted: true, lines: []string{"default    worker,read  read"}},
		},
		{
			name: "no permissions claim, roles present",
			token: func(t *testing.T) string {
				return es256(t, with(func(c jwt.MapClaims) { delete(c, "permissions"); c["roles"] = []string{"default:read"} }))
			},
			want: want{reasons: []string{"the token grants no access"}, lines: []string{`the "roles" claim holds permissions`, "--claim-name roles"}},
		},
		{
			name: "roles claim configured",
			token: func(t *testing.T) string {
				return es256(t, with(func(c jwt.MapClaims) { delete(c, "permissions"); c["roles"] = []string{"default:read"} }))
			},
			opts: Options{PermissionsClaim: "roles"},
			want: want{accepted: true, lines: []string{`roles from the "roles" claim`}},
		},
		{
			name:  "aud ignored without an audience mapper",
			token: func(t *testing.T) string { return es256(t, with(func(c jwt.MapClaims) { c["aud"] = "temporal" })) },
			want:  want{accepted: true, lines: []string{`info  aud     "temporal": checked only when the server has an audience mapper`}},
		},
		{
			name: "aud matches",
			token: func(t *testing.T) string {
				return es256(t, with(func(c jwt.MapClaims) { c["aud"] = []string{"a", "temporal"} }))
			},
			opts: Options{Audience: "temporal"},
			want: want{accepted: true, lines: []string{`ok    aud     ["a","temporal"] contains "temporal"`}},
		},
		{
			name:  "aud mismatch",
			token: func(t *testing.T) string { return es256(t, with(func(c jwt.MapClaims) { c["aud"] = "other" })) },
			opts:  Options{Audience: "temporal"},
			want:  want{reasons: []string{`aud does not contain "temporal"`}, lines: []string{"audience mismatch"}},
		},
		{
			name:  "aud missing with an audience mapper",
			token: func(t *testing.T) string { return es256(t, claims()) },
			opts:  Options{Audience: "temporal"},
			want:  want{reasons: []string{"no aud"}},
		},
		{
			name: "needs met and unmet",
			token: func(t *testing.T) string {
				return es256(t, with(func(c jwt.MapClaims) { c["permissions"] = []string{"default:read", "prod:admin"} }))
			},
			opts: Options{Needs: []Need{{"default", RoleWrite}, {"prod", RoleAdmin}, {SystemNamespace, RoleAdmin}}},
			want: want{
				reasons: []string{"default:write not granted (has read)", "temporal-system:admin not granted (has none)"},
				lines:   []string{"ok    need    prod:admin: granted (admin)"},
			},
		},
		{
			name: "system role covers needs",
			token: func(t *testing.T) string {
				return es256(t, with(func(c jwt.MapClaims) { c["permissions"] = []string{"temporal-system:write"} }))
			},
			opts: Options{Needs: []Need{{"anything", RoleWrite}}},
			want: want{accepted: true, lines: []string{"anything:write: granted (write)"}},
		},
		{
			name:  "wrong scheme",
			token: func(t *testing.T) string { return es256(t, claims()) },
			in:    Input{Scheme: "Basic"},
			want:  want{reasons: []string{`scheme "Basic" is not Bearer`}},
		},
		{
			name:  "API key line",
			token: func(t *testing.T) string { return es256(t, claims()) },
			in:    Input{APIKey: true},
			want:  want{accepted: true, lines: []string{"TEMPORAL_API_KEY: the temporal CLI sends it"}},
		},
		{
			name:  "one segment",
			token: func(*testing.T) string { return "opaque-api-key" },
			want:  want{reasons: []string{"malformed token"}, lines: []string{"1 segment(s), want 3"}},
		},
		{
			name:  "four segments",
			token: func(t *testing.T) string { return es256(t, claims()) + ".x" },
			want:  want{reasons: []string{"malformed token"}, lines: []string{"4 segment(s)"}},
		},
		{
			name:  "padding",
			token: func(t *testing.T) string { return es256(t, claims()) + "==" },
			want:  want{reasons: []string{"malformed token"}, lines: []string{"base64 padding"}},
		},
		{
			name:  "header not JSON",
			token: func(*testing.T) string { return rawToken("not json", `{"sub":"s"}`, []byte{1}) },
			want:  want{reasons: []string{"malformed token"}, lines: []string{"the header segment is not a JSON object"}},
		},
		{
			name:  "payload not JSON object",
			token: func(*testing.T) string { return rawToken(`{"alg":"ES256"}`, `[1]`, []byte{1}) },
			want:  want{reasons: []string{"malformed token"}, lines: []string{"the payload segment is not a JSON object"}},
		},
		{
			name:  "white space inside",
			token: func(t *testing.T) string { tok := es256(t, claims()); return tok[:10] + " " + tok[10:] },
			want:  want{reasons: []string{"malformed token"}, lines: []string{"byte 11 is white space"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.token(t)
			in := tt.in
			in.Token = tok
			opts := tt.opts
			opts.Now = now
			r := Analyze(in, opts)
			var buf bytes.Buffer
			if err := r.WriteText(&buf); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if r.Accepted() != tt.want.accepted {
				t.Errorf("Accepted() = %t, want %t; reasons %q\n%s", r.Accepted(), tt.want.accepted, r.Reasons(), out)
			}
			if r.Verified != tt.want.verified {
				t.Errorf("Verified = %t, want %t", r.Verified, tt.want.verified)
			}
			verdict := r.Verdict()
			if tt.want.accepted != strings.HasPrefix(verdict, "ACCEPTED") {
				t.Errorf("verdict %q", verdict)
			}
			for _, reason := range tt.want.reasons {
				if !strings.Contains(verdict, reason) {
					t.Errorf("verdict %q lacks %q", verdict, reason)
				}
			}
			for _, line := range tt.want.lines {
				if !strings.Contains(out, line) {
					t.Errorf("report lacks %q:\n%s", line, out)
				}
			}
			if !strings.HasSuffix(out, "VERDICT: "+verdict+"\n") {
				t.Errorf("report does not end with the verdict:\n%s", out)
			}
			assertNoToken(t, out, tok)
		})
	}
}

// assertNoToken fails when out shows the token or its signature.
func assertNoToken(t *testing.T, out, tok string) {
	t.Helper()
	if strings.Contains(out, tok) {
		t.Errorf("the output contains the token:\n%s", out)
	}
	if i := strings.LastIndexByte(tok, '.'); i >= 0 && len(tok)-i > 8 && strings.Contains(out, tok[i+1:]) {
		t.Errorf("the output contains the signature:\n%s", out)
	}
}

func TestAnalyzeDefaultsNow(t *testing.T) {
	testKeys(t)
	c := claims()
	c["exp"] = time.Now().Add(time.Hour).Unix()
	c["iat"] = time.Now().Add(-time.Hour).Unix()
	c["nbf"] = c["iat"]
	r := Analyze(Input{Token: es256(t, c)}, Options{})
	if !r.Accepted() {
		t.Fatalf("reasons %q", r.Reasons())
	}
	if time.Since(r.Now) > time.Minute {
		t.Errorf("Now = %v", r.Now)
	}
	if r.PermissionsClaim != DefaultPermissionsClaim {
		t.Errorf("PermissionsClaim = %q", r.PermissionsClaim)
	}
}

func TestInputRedacts(t *testing.T) {
	in := Input{Token: "secret.token.value", Scheme: "Bearer"}
	for _, s := range []string{fmt.Sprint(in), fmt.Sprintf("%v", in), fmt.Sprintf("%+v", in), fmt.Sprintf("%#v", in)} {
		if strings.Contains(s, "secret") {
			t.Errorf("%q shows the token", s)
		}
	}
}

func TestParseInput(t *testing.T) {
	const tok = "aaa.bbb.ccc"
	tests := []struct {
		in   string
		want Input
	}{
		{tok, Input{Token: tok}},
		{"  " + tok + "\r\n", Input{Token: tok}},
		{"Bearer " + tok, Input{Token: tok, Scheme: "Bearer"}},
		{"bearer " + tok, Input{Token: tok, Scheme: "bearer"}},
		{"authorization: Bearer " + tok, Input{Token: tok, Scheme: "Bearer"}},
		{"Authorization:Bearer " + tok, Input{Token: tok, Scheme: "Bearer"}},
		{"TEMPORAL_CLI_AUTH=Bearer " + tok, Input{Token: tok, Scheme: "Bearer"}},
		{"TEMPORAL_CLI_AUTH='Bearer " + tok + "'", Input{Token: tok, Scheme: "Bearer"}},
		{`export TEMPORAL_CLI_AUTH="Bearer ` + tok + `"`, Input{Token: tok, Scheme: "Bearer"}},
		{"export TEMPORAL_API_KEY=" + tok, Input{Token: tok, APIKey: true}},
		{"'" + tok + "'", Input{Token: tok}},
		{"Basic " + tok, Input{Token: tok, Scheme: "Basic"}},
		{"# comment\n\nexport TEMPORAL_API_KEY=" + tok + "\nexport TEMPORAL_CLI_AUTH='Bearer " + tok + "'\n",
			Input{Token: tok, Scheme: "Bearer"}},
	}
	for _, tt := range tests {
		got, err := ParseInput(tt.in)
		if err != nil {
			t.Errorf("ParseInput(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseInput(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseInputErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "no token"},
		{" \n\t\n# only a comment\n", "no token"},
		{"Bearer ", "no token"},
		{"TEMPORAL_API_KEY=", "no token"},
		{"secret.one.x\nsecret.two.y\n", "2 lines with different tokens"},
	}
	for _, tt := range tests {
		_, err := ParseInput(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseInput(%q) = %v, want an error with %q", tt.in, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("error %q shows a token", err)
		}
	}
}

func TestRole(t *testing.T) {
	tests := []struct {
		r         Role
		str, eff  string
		allowRead bool
	}{
		{RoleNone, "none", "none", false},
		{RoleWorker, "worker", "worker", false},
		{RoleWorker | RoleRead, "read+worker", "read", true},
		{RoleAdmin | RoleWorker, "admin+worker", "admin", true},
		{RoleWrite, "write", "write", true},
		{Role(16) | RoleRead, "read+0x10", "read", true},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.str {
			t.Errorf("%d.String() = %q, want %q", int(tt.r), got, tt.str)
		}
		if got := tt.r.Effective().String(); got != tt.eff {
			t.Errorf("%d.Effective() = %q, want %q", int(tt.r), got, tt.eff)
		}
		if got := tt.r.Allows(RoleRead); got != tt.allowRead {
			t.Errorf("%d.Allows(read) = %t", int(tt.r), got)
		}
	}
	if !(RoleWorker | RoleRead | RoleWrite).Allows(RoleWrite) || (RoleWorker | RoleRead).Allows(RoleWrite) {
		t.Error("role arithmetic differs from the server's")
	}
	for name, want := range map[string]Role{"read": RoleRead, "WRITE": RoleWrite, "Worker": RoleWorker, "admin": RoleAdmin} {
		if got, ok := ParseRole(name); !ok || got != want {
			t.Errorf("ParseRole(%q) = %v, %t", name, got, ok)
		}
	}
	if _, ok := ParseRole("owner"); ok {
		t.Error("ParseRole(owner) ok")
	}
}

func TestParseNeed(t *testing.T) {
	n, err := ParseNeed("default:Write")
	if err != nil || n != (Need{"default", RoleWrite}) || n.String() != "default:write" {
		t.Errorf("ParseNeed = %v, %v", n, err)
	}
	for _, bad := range []string{"default", ":write", "default:", "default:worker", "default:owner"} {
		if _, err := ParseNeed(bad); err == nil {
			t.Errorf("ParseNeed(%q) succeeded", bad)
		}
	}
}

func TestParseKeySet(t *testing.T) {
	testKeys(t)
	ec, _ := jwtkey.PublicJWK(ecKey, "")
	ecJSON, _ := json.Marshal(ec)
	doc := fmt.Sprintf(`{"keys":[%s,{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed"},{"kty":"EC","crv":"P-384","x":"AA","y":"AA","kid":"p384"},7]}`, ecJSON)
	set, err := ParseKeySet("src", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if ids := set.KeyIDs(); len(ids) != 1 || ids[0] != ecKid {
		t.Errorf("KeyIDs = %q", ids)
	}
	if len(set.Skipped) != 3 {
		t.Fatalf("Skipped = %+v", set.Skipped)
	}
	if set.Skipped[0].KeyID != "ed" || !strings.Contains(set.Skipped[0].Reason, "OKP") {
		t.Errorf("Skipped[0] = %+v", set.Skipped[0])
	}
	// A token whose kid names a skipped key is rejected, saying why.
	tok := sign(t, jwt.SigningMethodES256, ecKey, map[string]any{"kid": "p384"}, claims())
	r := Analyze(Input{Token: tok}, Options{KeySet: set, Now: now})
	if v := r.Verdict(); !strings.Contains(v, `key "p384" of the JWKS cannot be used`) {
		t.Errorf("verdict %q", v)
	}

	for _, bad := range []string{`not json`, `{}`, `{"keys":{}}`, `[]`} {
		if _, err := ParseKeySet("src", []byte(bad)); err == nil || !strings.Contains(err.Error(), "not a JSON Web Key Set") {
			t.Errorf("ParseKeySet(%q) = %v", bad, err)
		}
	}
	empty, err := ParseKeySet("src", []byte(`{"keys":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	r = Analyze(Input{Token: es256(t, claims())}, Options{KeySet: empty, Now: now})
	if v := r.Verdict(); !strings.Contains(v, "is not in the JWKS") {
		t.Errorf("verdict %q", v)
	}
	var buf bytes.Buffer
	_ = r.WriteText(&buf)
	if !strings.Contains(buf.String(), "it has no keys") {
		t.Errorf("report:\n%s", buf.String())
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 45 * time.Second: "45s", 12*time.Minute + 5*time.Second: "12m5s", 3 * time.Minute: "3m",
		5*time.Hour + 3*time.Minute: "5h3m", 2 * time.Hour: "2h", 76 * time.Hour: "3d4h", 96 * time.Hour: "4d",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%s) = %q, want %q", d, got, want)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, fmt.Errorf("disk full") }

func TestWriteTextError(t *testing.T) {
	r := Analyze(Input{Token: "x"}, Options{Now: now})
	if err := r.WriteText(failWriter{}); err == nil || err.Error() != "disk full" {
		t.Errorf("WriteText = %v", err)
	}
}
