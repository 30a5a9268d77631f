package static

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/temporalauth/temporalauth/headers"
)

// HeadersProvider supplies gRPC metadata for every call to the Temporal
// server. It has the method set of go.temporal.io/sdk/client.HeadersProvider
// (whose definition is internal to the SDK), so values convert freely
// between the two, and [headers.Provider] implements it.
//
// The returned map is read, never modified, by its users.
type HeadersProvider interface {
	GetHeaders(ctx context.Context) (map[string]string, error)
}

// Headers returns a HeadersProvider serving a fixed set of extra headers,
// such as a tenant or routing header. The map is copied, and its keys are
// lowercased as gRPC metadata requires.
//
// A key must be non-empty and consist of [0-9a-z-_.] once lowercased; keys
// that gRPC reserves (those starting with "grpc-", content-type, user-agent
// and te) are refused, as are two keys differing only in case. A value must
// be printable ASCII unless its key ends in "-bin" (binary metadata). Errors
// name the key, never the value, since values may be secrets.
//
// The provider returns the same read-only map on every call, which lets
// [Merge] skip re-merging it.
func Headers(h map[string]string) (HeadersProvider, error) {
	fixed := make(map[string]string, len(h))
	for key, value := range h {
		k := strings.ToLower(key)
		if err := checkHeader(k, value); err != nil {
			return nil, fmt.Errorf("static: header %q: %w", key, err)
		}
		if _, dup := fixed[k]; dup {
			return nil, fmt.Errorf("static: header %q: given twice, in different case", key)
		}
		fixed[k] = value
	}
	return &fixedHeaders{get: func() map[string]string { return fixed }}, nil
}

// checkHeader reports why gRPC would refuse, or silently drop, a
// lowercased metadata key (see [headers.CheckMetadataKey]) and its value.
// Byte positions count from 1.
func checkHeader(key, value string) error {
	if err := headers.CheckMetadataKey(key); err != nil {
		return err
	}
	if strings.HasSuffix(key, "-bin") {
		return nil
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < ' ' || c > '~' {
			return fmt.Errorf("value has a character outside printable ASCII at byte %d (use a key ending in -bin for binary values)", i+1)
		}
	}
	return nil
}

// fixedHeaders serves a fixed map. A closure returns it, which hides the
// values from reflection: even fmt printing a struct that holds a
// fixedHeaders cannot show them.
type fixedHeaders struct {
	get func() map[string]string
}

// GetHeaders returns the fixed headers; the map must not be modified.
func (f *fixedHeaders) GetHeaders(context.Context) (map[string]string, error) {
	return f.get(), nil
}

// String lists the header keys, never the values.
func (f *fixedHeaders) String() string {
	return "static.Headers" + redactedKeys(f.get())
}

// GoString lists the header keys, never the values, for %#v.
func (f *fixedHeaders) GoString() string { return f.String() }

// LogValue lists the header keys for log/slog, never the values.
func (f *fixedHeaders) LogValue() slog.Value {
	return slog.StringValue(f.String())
}

// redactedKeys formats a header map as {key: REDACTED, ...} in key order.
func redactedKeys(h map[string]string) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteString(": REDACTED")
	}
	b.WriteByte('}')
	return b.String()
}
