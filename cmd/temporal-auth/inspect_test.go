package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/temporalauth/temporalauth/jwtkey"
)

// fixture is a key, its JWKS file and tokens.
type fixture struct {
	dir      string
	key      crypto.Signer
	kid      string
	jwksFile string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "k.pem")
	key := writeKey(t, keyFile)
	r := runCLI(t, nil, "", "jwks", keyFile)
	r.want(t, exitOK)
	return &fixture{dir: dir, key: key, kid: kidOf(t, key), jwksFile: writeFile(t, dir, "jwks.json", r.stdout)}
}

// claims returns good claims.
func goodClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub":         "worker",
		"exp":         now.Add(time.Hour).Unix(),
		"iat":         now.Add(-time.Minute).Unix(),
		"nbf":         now.Add(-time.Minute).Unix(),
		"permissions": []string{"default:write"},
	}
}

// signToken signs claims; header entries set to nil are removed.
func signToken(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) token(t *testing.T, change func(jwt.MapClaims)) string {
	c := goodClaims()
	if change != nil {
		change(c)
	}
	return signToken(t, jwt.SigningMethodES256, f.key, map[string]any{"kid": f.kid}, c)
}

// noToken fails when the output shows the token or its signature.
func (r result) noToken(t *testing.T, tok string) {
	t.Helper()
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	for name, out := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
		if strings.Contains(out, tok) || (len(sig) > 8 && strings.Contains(out, sig)) {
			t.Errorf("%s shows the token or its signature:\n%s", name, out)
		}
	}
}

func TestInspectGoodToken(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, nil)
	tokFile := writeFile(t, f.dir, "tok", tok+"\n")
	// The token comes from stdin (with - or no argument), @file, the
	// argument, or a Bearer / export line.
	inputs := []struct {
		name  string
		stdin string
		args  []string
	}{
		{"stdin dash", tok, []string{"-"}},
		{"stdin implicit", tok + "\n", nil},
		{"file", "", []string{"@" + tokFile}},
		{"argument", "", []string{tok}},
		{"bearer", "Bearer " + tok, nil},
		{"header", "authorization: Bearer " + tok, nil},
		{"cli auth", "TEMPORAL_CLI_AUTH=Bearer " + tok, nil},
		{"export lines", "export TEMPORAL_API_KEY=" + tok + "\nexport TEMPORAL_CLI_AUTH='Bearer " + tok + "'\n", nil},
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			args := append([]string{"inspect", "--jwks", f.jwksFile}, in.args...)
			r := runCLI(t, nil, in.stdin, args...)
			r.want(t, exitOK)
			for _, want := range []string{
				"ok    alg     ES256 is accepted",
				fmt.Sprintf("ok    kid     %q", f.kid),
				"signature verified with key",
				`ok    sub     "worker"`,
				"default    write     write",
				"VERDICT: ACCEPTED once the server has fetched the key",
			} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
				}
			}
			r.noToken(t, tok)
		})
	}
}

func TestInspectShowToken(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, nil)
	r := runCLI(t, nil, tok, "inspect", "--show-token")
	r.want(t, exitOK)
	if !strings.HasPrefix(r.stdout, "token   "+tok+"\n") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "VERDICT: ACCEPTED if the signature verifies") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}

// jwksServer serves the fixture's JWKS file on 127.0.0.1.
func jwksServer(t *testing.T, body string, status int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestInspectRejected(t *testing.T) {
	f := newFixture(t)
	other := newFixture(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, body := readFile(t, f.jwksFile)
	srv := jwksServer(t, body, http.StatusOK)
	tests := []struct {
		name  string
		token func(t *testing.T) string
		args  []string
		want  []string
	}{
		{"malformed", func(*testing.T) string { return "not-a-jwt" }, nil,
			[]string{"FAIL  format", "VERDICT: REJECTED: malformed token"}},
		{"expired", func(t *testing.T) string {
			return f.token(t, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-90 * time.Second).Unix() })
		}, nil, []string{"VERDICT: REJECTED: expired 1m3"}},
		{"unknown kid over HTTP", func(t *testing.T) string { return other.token(t, nil) }, []string{"--jwks", srv.URL + "/jwks.json"},
			[]string{
				fmt.Sprintf("kid %q is not in the JWKS (%s/jwks.json; it has %q)", other.kid, srv.URL, f.kid),
				"if the key is new, publish it and wait one refresh interval",
				"otherwise the token was signed with another key, or this is not the server's JWKS",
				fmt.Sprintf("VERDICT: REJECTED: kid %q is not in the JWKS", other.kid),
			}},
		{"wrong signature", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodES256, other.key, map[string]any{"kid": f.kid}, goodClaims())
		}, []string{"--jwks", "file://" + f.jwksFile}, []string{"VERDICT: REJECTED: the signature does not verify"}},
		{"HS256", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodHS256, []byte("shared-secret-shared-secret-1234"), map[string]any{"kid": f.kid}, goodClaims())
		}, nil, []string{"VERDICT: REJECTED: alg HS256 is not accepted"}},
		{"none", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": f.kid}, goodClaims())
		}, nil, []string{"VERDICT: REJECTED: alg none is not accepted; no signature"}},
		{"PS256", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodPS256, rsaKey, map[string]any{"kid": "r"}, goodClaims())
		}, nil, []string{"VERDICT: REJECTED: alg PS256 is not accepted"}},
		{"string permissions", func(t *testing.T) string {
			return f.token(t, func(c jwt.MapClaims) { c["permissions"] = "default:write" })
		}, nil, []string{`"permissions" is a string, not an array`, "VERDICT: REJECTED: the token grants no access"}},
		{"missing sub", func(t *testing.T) string {
			return f.token(t, func(c jwt.MapClaims) { delete(c, "sub") })
		}, nil, []string{"VERDICT: REJECTED: no sub"}},
		{"no kid", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodES256, f.key, map[string]any{"kid": nil}, goodClaims())
		}, nil, []string{"VERDICT: REJECTED: no kid header"}},
		{"need not met", func(t *testing.T) string {
			return f.token(t, func(c jwt.MapClaims) { c["permissions"] = []string{"default:read"} })
		}, []string{"--need", "default:write,default:read"}, []string{"VERDICT: REJECTED: default:write not granted (has read)"}},
		{"audience", func(t *testing.T) string { return f.token(t, nil) }, []string{"--audience", "temporal"},
			[]string{"VERDICT: REJECTED: no aud"}},
		{"other claim name", func(t *testing.T) string { return f.token(t, nil) }, []string{"--claim-name", "roles"},
			[]string{`no "roles" claim`, `the "permissions" claim holds permissions`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.token(t)
			r := runCLI(t, nil, tok, append([]string{"inspect"}, tt.args...)...)
			r.want(t, exitFailure)
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			if r.stderr != "" {
				t.Errorf("stderr %q", r.stderr)
			}
			r.noToken(t, tok)
		})
	}
}

func readFile(t *testing.T, path string) (string, string) {
	t.Helper()
	data, err := readFileLimited(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, string(data)
}

func TestInspectErrors(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, nil)
	notFound := jwksServer(t, "no such page", http.StatusNotFound)
	notJSON := jwksServer(t, "<html>", http.StatusOK)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(hang.Close)
	missing := filepath.Join(f.dir, "missing.json")
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"empty stdin", "", nil, exitUsage, "no token in standard input"},
		{"blank file", "", []string{"@" + writeFile(t, f.dir, "blank", "\n\n")}, exitUsage, "no token in file"},
		{"two tokens", tok + "\n" + f.token(t, func(c jwt.MapClaims) { c["sub"] = "x" }), nil, exitUsage, "2 lines with different tokens"},
		{"two arguments", "", []string{tok, tok}, exitUsage, "give one token, got 2 arguments"},
		{"missing token file", "", []string{"@" + missing}, exitFailure, `token file "` + missing + `"`},
		{"empty @", "", []string{"@"}, exitUsage, "@ needs a file name"},
		{"missing JWKS file", tok, []string{"--jwks", missing}, exitFailure, `--jwks file "` + missing + `"`},
		{"JWKS 404", tok, []string{"--jwks", notFound.URL}, exitFailure, "HTTP status 404 Not Found"},
		{"JWKS not JSON", tok, []string{"--jwks", notJSON.URL}, exitFailure, "not a JSON Web Key Set"},
		{"JWKS timeout", tok, []string{"--jwks", hang.URL, "--timeout", "200ms"}, exitFailure, "no answer within 200ms"},
		{"JWKS scheme", tok, []string{"--jwks", "ftp://example.com/jwks"}, exitUsage, "want an http, https or file URL"},
		{"JWKS remote file URL", tok, []string{"--jwks", "file://example.com/jwks"}, exitUsage, "remote host"},
		{"bad need", tok, []string{"--need", "default:worker"}, exitUsage, `role "worker" is not one of read, write, admin`},
		{"empty claim name", tok, []string{"--claim-name", ""}, exitUsage, "--claim-name is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, tt.stdin, append([]string{"inspect"}, tt.args...)...)
			r.want(t, tt.code)
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.want)
			}
			r.noToken(t, tok)
		})
	}
}

// An RS256 token from a key file made by keygen --rsa is accepted.
func TestInspectRS256(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "rsa.pem")
	runCLI(t, nil, "", "keygen", "--rsa", "--out", keyFile).want(t, exitOK)
	jwks := runCLI(t, nil, "", "jwks", keyFile)
	jwksFile := writeFile(t, dir, "jwks.json", jwks.stdout)
	tok := runCLI(t, nil, "", "token", "--key", keyFile, "--permissions", "temporal-system:admin")
	tok.want(t, exitOK)
	r := runCLI(t, nil, tok.stdout, "inspect", "--jwks", jwksFile, "--need", "temporal-system:admin,anything:write")
	r.want(t, exitOK)
	for _, want := range []string{"RS256 is accepted", "signature verified", "any other namespace    -         admin", "VERDICT: ACCEPTED once the server has fetched the key"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	key, err := jwtkey.LoadPrivateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, strings.TrimSpace(tok.stdout), key)
}

// Issue #22: a PEM key given to --jwks, the usual mix-up, is named as
// such, with the command that makes its JWKS.
func TestInspectJWKSIsPEM(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, nil)
	keyFile := filepath.Join(f.dir, "k.pem")
	want := fmt.Sprintf("temporal-auth inspect: --jwks file %q: this is a PEM key, not a JSON Web Key Set; "+
		"make its JWKS with temporal-auth jwks %s > jwks.json and pass --jwks jwks.json\n", keyFile, keyFile)
	r := runCLI(t, nil, tok, "inspect", "--jwks", keyFile)
	r.want(t, exitFailure)
	if r.stderr != want || r.stdout != "" {
		t.Errorf("stderr %q\nwant   %q", r.stderr, want)
	}
	notPEM := writeFile(t, f.dir, "other.json", `{"kty":"EC"}`)
	want = fmt.Sprintf("temporal-auth inspect: --jwks file %q: not a JSON Web Key Set: no \"keys\" array; give the JWKS the server reads (temporal-auth jwks KEYFILE prints one)\n", notPEM)
	r = runCLI(t, nil, tok, "inspect", "--jwks", notPEM)
	r.want(t, exitFailure)
	if r.stderr != want {
		t.Errorf("stderr %q\nwant   %q", r.stderr, want)
	}
}
