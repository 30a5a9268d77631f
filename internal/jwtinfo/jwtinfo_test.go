package jwtinfo

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func seg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestRead(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name  string
		token string
		want  Info
		ok    bool
	}{
		{"full", seg(`{"alg":"ES256","kid":"k1"}`) + "." + seg(`{"iss":"https://idp","sub":"w","exp":1893553445}`) + ".c2ln",
			Info{KeyID: "k1", Algorithm: "ES256", Issuer: "https://idp", Subject: "w", Expiry: exp}, true},
		{"padded", seg(`{"kid":"k"}`) + "==." + seg(`{}`) + ".x", Info{KeyID: "k"}, true},
		{"wrong types", seg(`{"kid":1}`) + "." + seg(`{"iss":[],"exp":"soon"}`) + ".x", Info{}, true},
		{"exp out of range", seg(`{}`) + "." + seg(`{"exp":1e300}`) + ".x", Info{}, true},
		{"opaque", "an-api-key", Info{}, false},
		{"two segments", seg(`{}`) + "." + seg(`{}`), Info{}, false},
		{"four segments", seg(`{}`) + "." + seg(`{}`) + ".x.y", Info{}, false},
		{"header not JSON", seg(`kid`) + "." + seg(`{}`) + ".x", Info{}, false},
		{"payload an array", seg(`{}`) + "." + seg(`[1]`) + ".x", Info{}, false},
		{"not base64url", "a+b." + seg(`{}`) + ".x", Info{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Read(tt.token)
			if ok != tt.ok || got != tt.want {
				t.Errorf("Read = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestLogValueOmitsTokenText(t *testing.T) {
	sig := "c2lnbmF0dXJl"
	tok := seg(`{"alg":"ES256","kid":"k1"}`) + "." + seg(`{"sub":"w","exp":1893553445}`) + "." + sig
	info, _ := Read(tok)
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("new token", "token", info)
	out := buf.String()
	for _, want := range []string{"token.kid=k1", "token.alg=ES256", "token.sub=w", "token.exp=2030-01-02T03:04:05.000Z"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
	for _, part := range strings.Split(tok, ".") {
		if strings.Contains(out, part) {
			t.Errorf("log %q holds a segment of the token", out)
		}
	}
	if strings.Contains(out, "iss") {
		t.Errorf("log %q shows an empty issuer", out)
	}
}

func FuzzRead(f *testing.F) {
	f.Add(seg(`{"kid":"k"}`) + "." + seg(`{"exp":1}`) + ".x")
	f.Add("x.y.z")
	f.Fuzz(func(t *testing.T, tok string) {
		info, ok := Read(tok)
		if !ok && info != (Info{}) {
			t.Fatalf("not ok but %+v", info)
		}
	})
}

func TestExpiry(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	hdr := seg(`{"alg":"ES256"}`)
	claims := seg(`{"exp":1893553445}`)
	padded := base64.URLEncoding.EncodeToString([]byte(`{"exp":1893553445,"s":"x"}`))
	if !strings.HasSuffix(padded, "=") {
		t.Fatalf("test payload %q has no padding", padded)
	}
	for _, tc := range []struct {
		name, token string
		want        time.Time
		ok          bool
		err         string
	}{
		{"raw", hdr + "." + claims + ".c2ln", exp, true, ""},
		{"padded payload", hdr + "." + padded + ".c2ln", exp, true, ""},
		{"padded header", base64.URLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + claims + ".", exp, true, ""},
		{"fractional", hdr + "." + seg(`{"exp":1.5}`) + ".x", time.Unix(1, 5e8).UTC(), true, ""},
		{"no exp", hdr + "." + seg(`{"sub":"w"}`) + ".x", time.Time{}, false, ""},
		{"opaque", "an-api-key", time.Time{}, false, ""},
		{"header not JSON", seg("kid") + "." + claims + ".x", time.Time{}, false, ""},
		{"payload not base64url", hdr + ".a+b/.x", time.Time{}, false, "its payload is not base64url"},
		{"payload not object", hdr + "." + seg(`[1]`) + ".x", time.Time{}, false, "its payload is not a JSON object"},
		{"exp a string", hdr + "." + seg(`{"exp":"1893553445"}`) + ".x", time.Time{}, false, "its exp claim is not a number"},
		{"exp out of range", hdr + "." + seg(`{"exp":1e300}`) + ".x", time.Time{}, false, "its exp claim is out of range"},
	} {
		got, ok, err := Expiry(tc.token)
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if msg != tc.err || ok != tc.ok || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("%s: Expiry = %v, %v, %v; want %v, %v, %q", tc.name, got, ok, err, tc.want, tc.ok, tc.err)
		}
		if err != nil && strings.Contains(err.Error(), tc.token) {
			t.Errorf("%s: error %q holds the token", tc.name, err)
		}
	}
}
