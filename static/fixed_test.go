package static_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/static"
)

func TestFixedServesToken(t *testing.T) {
	clock := newClock()
	exp := t0.Add(time.Hour)
	jwt := jwtExpiring(exp)
	src, err := static.NewFixed(jwt+"\n", static.FixedOptions{Setting: "TEMPORAL_TOKEN", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.Value != jwt || !tok.Expiry.Equal(exp) || !tok.RefreshAt.IsZero() {
		t.Errorf("Token = %q, %v, refresh %v; want the trimmed JWT expiring %v", tok.Value, tok.Expiry, tok.RefreshAt, exp)
	}
}

func TestFixedOpaqueNeverExpires(t *testing.T) {
	clock := newClock()
	src, err := static.NewFixed("opaque-api-key", static.FixedOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(100 * 365 * 24 * time.Hour)
	tok, err := src.Token(context.Background())
	if err != nil || tok.Value != "opaque-api-key" || !tok.Expiry.IsZero() {
		t.Errorf("Token = %v, %v; want the key, no expiry", tok, err)
	}
}

func TestFixedExpires(t *testing.T) {
	clock := newClock()
	jwt := jwtExpiring(t0.Add(time.Minute))
	src, err := static.NewFixed(jwt, static.FixedOptions{Setting: "TEMPORAL_TOKEN", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute - time.Second)
	if _, err := src.Token(context.Background()); err != nil {
		t.Fatalf("a second before exp: %v", err)
	}
	clock.Advance(time.Second)
	_, err = src.Token(context.Background())
	if !errors.Is(err, static.ErrExpiredToken) {
		t.Fatalf("at exp: error %v, want ErrExpiredToken", err)
	}
	if !strings.Contains(err.Error(), "TEMPORAL_TOKEN") {
		t.Errorf("error %q does not name the setting", err)
	}
	assertNoSecret(t, "error", err.Error(), jwt)
}

func TestNewFixedRejects(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		wantErr error
	}{
		{"empty", "", static.ErrEmptyToken},
		{"whitespace only", "\r\n", static.ErrEmptyToken},
		{"inner whitespace", "opaque secret", static.ErrMalformedToken},
		{"expired JWT", jwtExpiring(t0.Add(-time.Second)), static.ErrExpiredToken},
		{"JWT expiring now", jwtExpiring(t0), static.ErrExpiredToken},
		{"JWT with non-numeric exp", jwtWithClaims(`{"exp":"soon"}`), static.ErrMalformedToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			_, err := static.NewFixed(tt.value, static.FixedOptions{Setting: "--temporal-token", Now: clock.Now})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), "--temporal-token") {
				t.Errorf("error %q does not name the setting", err)
			}
			assertNoSecret(t, "error", err.Error(), tt.value)
		})
	}
}

func TestNewFixedDefaultSettingName(t *testing.T) {
	_, err := static.NewFixed("", static.FixedOptions{})
	if err == nil || !strings.Contains(err.Error(), "static token") {
		t.Errorf("error %v does not name the default setting", err)
	}
}

func TestFixedRedacts(t *testing.T) {
	jwt := jwtExpiring(time.Now().Add(time.Hour))
	src, err := static.NewFixed(jwt, static.FixedOptions{Setting: "TEMPORAL_TOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	holder := struct{ src *static.Fixed }{src}
	valueHolder := struct{ src static.Fixed }{*src}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("source", "src", src, "value", *src)
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		for name, v := range map[string]any{"pointer": src, "value": *src, "holder": holder, "value holder": valueHolder} {
			out := fmt.Sprintf(format, v)
			assertNoSecret(t, format+" of "+name, out, jwt)
		}
	}
	assertNoSecret(t, "slog", logged.String(), jwt)
	if !strings.Contains(fmt.Sprint(src), "TEMPORAL_TOKEN") || !strings.Contains(logged.String(), headers.Redacted) {
		t.Errorf("descriptions lack the setting or the redaction mark: %v / %s", src, logged.String())
	}
}

func TestNewFixedProvider(t *testing.T) {
	clock := newClock()
	jwt := jwtExpiring(t0.Add(time.Hour))
	p, err := static.NewFixedProvider(jwt, headers.Options{Name: "TEMPORAL_TOKEN", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	h, err := p.GetHeaders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := h["authorization"]; got != "Bearer "+jwt {
		t.Errorf("authorization header has the wrong value (len %d)", len(got))
	}
}

func TestNewFixedProviderRejects(t *testing.T) {
	clock := newClock()
	expired := jwtExpiring(t0.Add(-time.Hour))
	p, err := static.NewFixedProvider(expired, headers.Options{Name: "TEMPORAL_TOKEN", Clock: clock})
	if err == nil {
		p.Close()
		t.Fatal("NewFixedProvider accepted an expired JWT")
	}
	if !errors.Is(err, static.ErrExpiredToken) || !strings.Contains(err.Error(), "TEMPORAL_TOKEN") {
		t.Errorf("error %q: want ErrExpiredToken naming TEMPORAL_TOKEN", err)
	}
	assertNoSecret(t, "error", err.Error(), expired)

	if _, err := static.NewFixedProvider(" ", headers.Options{}); err == nil || !strings.Contains(err.Error(), "static token") {
		t.Errorf("error %v does not name the default setting", err)
	}
}
