package headers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/headers"
)

// TestTokenValueUnreachable: the paths that bypass a Token's methods — a
// bad verb such as %p (fmt prints the operand by reflection then), a Token
// in an unexported struct field, encoding/json, and slog's JSON handler
// given a struct or slice — show no credential.
func TestTokenValueUnreachable(t *testing.T) {
	const secret = "eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"
	tok := headers.NewToken(secret, time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	type holder struct {
		Name string
		Tok  headers.Token
		toks []headers.Token // unexported: fmt cannot call methods here
	}
	h := holder{Name: "worker", Tok: tok, toks: []headers.Token{tok}}

	var out bytes.Buffer
	for _, verb := range []string{"%p", "%v", "%+v", "%#v", "%s", "%x", "%d"} {
		fmt.Fprintf(&out, verb+"\n", tok)
		fmt.Fprintf(&out, verb+"\n", h)
		fmt.Fprintf(&out, verb+"\n", &h)
		fmt.Fprintf(&out, verb+"\n", struct{ t headers.Token }{tok})
	}
	for _, v := range []any{tok, &tok, h, []headers.Token{tok}, map[string]headers.Token{"k": tok}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		out.Write(b)
		out.WriteByte('\n')
	}
	log := slog.New(slog.NewJSONHandler(&out, nil))
	log.Info("tokens", "holder", h, "slice", []headers.Token{tok}, "any", []any{tok})
	log = slog.New(slog.NewTextHandler(&out, nil))
	log.Info("tokens", "holder", h, "slice", []headers.Token{tok})

	if s := out.String(); strings.Contains(s, secret) || strings.Contains(s, "c2VjcmV0") ||
		strings.Contains(s, fmt.Sprintf("%x", secret[:8])) {
		t.Fatalf("token leaked:\n%s", s)
	}
	if tok.Value() != secret {
		t.Fatalf("Value() = %q, want the credential", tok.Value())
	}
}

func TestTokenMarshalJSON(t *testing.T) {
	for _, tc := range []struct {
		tok  headers.Token
		want string
	}{
		{headers.NewToken("secret", time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)),
			`{"value":"REDACTED","expiry":"2030-01-02T03:04:05Z"}`},
		{headers.NewToken("secret", time.Time{}), `{"value":"REDACTED","expiry":null}`},
		{headers.Token{}, `{"value":"REDACTED","expiry":null}`},
	} {
		b, err := json.Marshal(tc.tok)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("json.Marshal = %s, want %s", b, tc.want)
		}
	}
	if v := (headers.Token{}).Value(); v != "" {
		t.Errorf("zero Token's Value() = %q, want empty", v)
	}
}
