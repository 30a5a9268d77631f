package static_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/static"
)

// The SDK's HeadersProvider (internal, reachable as the type of
// client.Options.HeadersProvider) and ours convert both ways.
var (
	_                        = client.Options{HeadersProvider: static.HeadersProvider(nil)}
	_ static.HeadersProvider = client.Options{}.HeadersProvider
	_ static.HeadersProvider = (*headers.Provider)(nil)
)

func TestHeaders(t *testing.T) {
	in := map[string]string{"X-Tenant": "acme", "x-route": "eu-1", "trace-bin": "\x00\x01\xff"}
	hp, err := static.Headers(in)
	if err != nil {
		t.Fatal(err)
	}
	in["X-Tenant"] = "changed later"
	got, err := hp.GetHeaders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"x-tenant": "acme", "x-route": "eu-1", "trace-bin": "\x00\x01\xff"}
	if !maps.Equal(got, want) {
		t.Errorf("GetHeaders = %q, want %q", got, want)
	}
	again, _ := hp.GetHeaders(context.Background())
	if reflect.ValueOf(again).UnsafePointer() != reflect.ValueOf(got).UnsafePointer() {
		t.Error("GetHeaders returned a different map on the second call")
	}
}

func TestHeadersEmpty(t *testing.T) {
	for _, in := range []map[string]string{nil, {}} {
		hp, err := static.Headers(in)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := hp.GetHeaders(context.Background()); err != nil || len(got) != 0 {
			t.Errorf("GetHeaders = %v, %v; want no headers", got, err)
		}
	}
}

func TestHeadersRejects(t *testing.T) {
	tests := []struct {
		name    string
		in      map[string]string
		wantKey string
		wantMsg string
	}{
		{"empty key", map[string]string{"": "v"}, `""`, "empty key"},
		{"space in key", map[string]string{"x tenant": "v"}, `"x tenant"`, "outside [0-9a-z-_.] at byte 2"},
		{"colon in key", map[string]string{":authority": "v"}, `":authority"`, "outside [0-9a-z-_.] at byte 1"},
		{"non-ASCII key", map[string]string{"x-tenänt": "v"}, `"x-tenänt"`, "outside [0-9a-z-_.]"},
		{"grpc- prefix", map[string]string{"grpc-timeout": "1S"}, `"grpc-timeout"`, "reserved by gRPC"},
		{"uppercase grpc- prefix", map[string]string{"GRPC-Status": "0"}, `"GRPC-Status"`, "reserved by gRPC"},
		{"content-type", map[string]string{"Content-Type": "text/plain"}, `"Content-Type"`, "reserved by gRPC"},
		{"user-agent", map[string]string{"user-agent": "x"}, `"user-agent"`, "reserved by gRPC"},
		{"te", map[string]string{"te": "trailers"}, `"te"`, "reserved by gRPC"},
		{"newline in value", map[string]string{"x-api-key": "secret\nvalue"}, `"x-api-key"`, "outside printable ASCII at byte 7"},
		{"non-ASCII value", map[string]string{"x-api-key": "secrét"}, `"x-api-key"`, "outside printable ASCII at byte 5"},
		{"keys differing in case", map[string]string{"X-Api-Key": "secret1", "x-api-key": "secret2"}, "", "given twice, in different case"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hp, err := static.Headers(tt.in)
			if err == nil {
				t.Fatalf("Headers = %v, want an error", hp)
			}
			if !strings.Contains(err.Error(), tt.wantKey) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q: want it to name key %s and say %q", err, tt.wantKey, tt.wantMsg)
			}
			assertNoSecret(t, "error", err.Error(), "secret")
		})
	}
}

// TestHeadersKeyMessage checks the whole message for a bad key: the key as
// given, then headers.CheckMetadataKey's reason, counting bytes from 1.
func TestHeadersKeyMessage(t *testing.T) {
	for key, want := range map[string]string{
		"X Tenant":     `static: header "X Tenant": key has a character outside [0-9a-z-_.] at byte 2 (' '): a gRPC metadata key holds only these`,
		"Content-Type": `static: header "Content-Type": key is reserved by gRPC, which sets this header itself`,
	} {
		_, err := static.Headers(map[string]string{key: "v"})
		if err == nil || err.Error() != want {
			t.Errorf("Headers(%q) error = %v, want %s", key, err, want)
		}
	}
}

func TestHeadersRedacts(t *testing.T) {
	hp, err := static.Headers(map[string]string{"x-api-key": "secret-api-key", "x-tenant": "acme-secret"})
	if err != nil {
		t.Fatal(err)
	}
	holder := struct{ hp static.HeadersProvider }{hp}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		for name, v := range map[string]any{"provider": hp, "holder": holder} {
			out := fmt.Sprintf(format, v)
			assertNoSecret(t, format+" of "+name, out, "secret-api-key")
			assertNoSecret(t, format+" of "+name, out, "acme-secret")
		}
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("extra headers", "headers", hp)
	assertNoSecret(t, "slog", logged.String(), "secret-api-key")
	if !strings.Contains(logged.String(), "x-api-key: REDACTED") {
		t.Errorf("slog record %s lacks the redacted keys", logged.String())
	}
	if got, want := fmt.Sprint(hp), "static.Headers{x-api-key: REDACTED, x-tenant: REDACTED}"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}
