package headers_test

import (
	"strings"
	"testing"

	"github.com/temporalauth/temporalauth/headers"
)

func TestCheckMetadataKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want string // "" for a key gRPC accepts
	}{
		{"authorization", ""},
		{"x-tenant_id.v2", ""},
		{"trace-bin", ""},
		{"", "empty key"},
		{"x auth", `outside [0-9a-z-_.] at byte 2 (' ')`},
		{":authority", `outside [0-9a-z-_.] at byte 1 (':')`},
		{"Authorization", `outside [0-9a-z-_.] at byte 1 ('A')`},
		{"grpc-timeout", "key is reserved by gRPC"},
		{"content-type", "reserved by gRPC, which sets this header itself"},
		{"user-agent", "reserved by gRPC, which sets this header itself"},
		{"te", "reserved by gRPC, which sets this header itself"},
	} {
		err := headers.CheckMetadataKey(tc.key)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckMetadataKey(%q) = %v, want nil", tc.key, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckMetadataKey(%q) = %v, want an error containing %q", tc.key, err, tc.want)
		}
	}
}

// TestOptionsHeaderMessages checks what Validate says about a bad
// Options.Header: CheckMetadataKey's reason, with positions counted from 1,
// and the refusal of a binary key for a text token.
func TestOptionsHeaderMessages(t *testing.T) {
	for _, tc := range []struct {
		header, want string
	}{
		{"x auth", `headers.Options.Header: "x auth": key has a character outside [0-9a-z-_.] at byte 2 (' ')`},
		{"x-auth:", `at byte 7 (':')`},
		{"GRPC-Auth", `headers.Options.Header: "GRPC-Auth": key is reserved by gRPC`},
		{"Content-Type", "reserved by gRPC, which sets this header itself"},
		{"authorization-bin", "a -bin key carries binary values"},
	} {
		err := headers.Options{Header: tc.header}.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(Header %q) = %v, want an error containing %q", tc.header, err, tc.want)
		}
	}
	if err := (headers.Options{Scheme: "Bear er"}).Validate(); err == nil || !strings.Contains(err.Error(), "byte at 5 ") {
		t.Errorf("Validate(Scheme %q) = %v, want the space at byte 5, counted from 1", "Bear er", err)
	}
}
