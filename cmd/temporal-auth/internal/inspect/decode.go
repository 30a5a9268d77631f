package inspect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// decode splits and decodes the token; false when it is not a JWT.
func (a *analysis) decode() bool {
	tok := a.in.Token
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; !(c == '.' || c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			what := "a character"
			switch {
			case c == '=':
				what = "base64 padding '='"
			case c == '+' || c == '/':
				what = "standard-base64 '" + string(c) + "'"
			case c <= ' ' || c >= 0x7f:
				what = "white space, a control or non-ASCII character"
			}
			a.fail("format", "malformed token", "not a JWT: byte %d is %s; a JWT is three base64url segments without padding, joined by dots", i+1, what)
			return false
		}
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		a.fail("format", "malformed token", "not a JWT: %d segment(s), want 3 (header.payload.signature)", len(parts))
		return false
	}
	header, err := decodeObject(parts[0])
	if err != nil {
		a.fail("format", "malformed token", "the header segment %v", err)
		return false
	}
	claims, err := decodeObject(parts[1])
	if err != nil {
		a.fail("format", "malformed token", "the payload segment %v", err)
		return false
	}
	a.header, a.claims = header.values, claims.values
	a.r.Header, a.r.Claims = header.compact, claims.compact
	return true
}

type object struct {
	values  map[string]any
	compact string
}

// decodeObject decodes a base64url segment holding a JSON object. Its
// errors do not show the segment.
func decodeObject(seg string) (object, error) {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return object{}, errors.New("is not base64url without padding")
	}
	var values map[string]any
	if err := json.Unmarshal(raw, &values); err != nil || values == nil {
		return object{}, errors.New("is not a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return object{}, errors.New("is not a JSON object")
	}
	return object{values: values, compact: buf.String()}, nil
}
