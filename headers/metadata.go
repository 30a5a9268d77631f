package headers

import (
	"errors"
	"fmt"
	"strings"
)

// CheckMetadataKey reports why gRPC would refuse, or silently drop, key as
// the key of outgoing call metadata, or returns nil. key must already be
// lowercased, as gRPC lowercases every metadata key.
//
// A key is refused when it is empty, when it holds a byte outside
// [0-9a-z-_.], when it starts with "grpc-" (reserved for gRPC itself), or
// when it is one of the headers gRPC sets itself: content-type, user-agent
// and te. A key ending in "-bin" (binary metadata) is allowed; callers that
// send text refuse it themselves.
//
// Byte positions in its errors count from 1: the first byte of key is
// byte 1, as in every error of this module that names a position. The
// errors show the key's offending byte but are meant to be wrapped by a
// caller that names the key and the setting it came from.
func CheckMetadataKey(key string) error {
	if key == "" {
		return errors.New("empty key")
	}
	for i := range len(key) {
		if c := key[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("key has a character outside [0-9a-z-_.] at byte %d (%q): a gRPC metadata key holds only these", i+1, c)
		}
	}
	switch {
	case strings.HasPrefix(key, "grpc-"):
		return errors.New("key is reserved by gRPC")
	case key == "content-type" || key == "user-agent" || key == "te":
		return errors.New("key is reserved by gRPC, which sets this header itself")
	}
	return nil
}
