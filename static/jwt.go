package static

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/temporalauth/temporalauth/internal/jwtinfo"
)

// The range of exp claims ExpiryOf accepts: the years 1 to 9999, excluding
// the very first instant, which is the zero time.Time that means "never".
const (
	minExpSeconds = -62135596800
	maxExpSeconds = 253402300799
)

// ExpiryOf reads the exp claim of a JWT without verifying its signature.
//
// A token is taken for a JWT when it has three dot-separated segments and
// the first decodes (base64url) to a JSON object, the JOSE header. For a JWT,
// the second segment must decode to a JSON object of claims; when it has an
// exp claim, a JSON number of seconds since the Unix epoch, ExpiryOf returns
// that time (UTC) and ok true. It returns ok false, and no error, for a JWT
// without exp and for a token that is not a JWT, such as an opaque API key.
//
// Errors wrap [ErrMalformedToken]: a payload that is not base64url or not a
// JSON object, or an exp claim that is not a number or lies outside the years
// 1 to 9999. They never contain any part of the token.
func ExpiryOf(token string) (exp time.Time, ok bool, err error) {
	header, rest, found := strings.Cut(token, ".")
	if !found {
		return time.Time{}, false, nil
	}
	payload, signature, found := strings.Cut(rest, ".")
	if !found || strings.Contains(signature, ".") {
		return time.Time{}, false, nil
	}
	if !isJSONObject(header) {
		return time.Time{}, false, nil
	}
	raw, err := decodeSegment(payload)
	if err != nil {
		return time.Time{}, false, malformedJWT("its payload is not base64url")
	}
	var claims map[string]json.RawMessage
	if json.Unmarshal(raw, &claims) != nil || claims == nil {
		return time.Time{}, false, malformedJWT("its payload is not a JSON object")
	}
	claim, found := claims["exp"]
	if !found {
		return time.Time{}, false, nil
	}
	// A JSON number starts with a digit or '-'; anything else (a string,
	// null, true, an object) is not a NumericDate.
	if len(claim) == 0 || (claim[0] != '-' && (claim[0] < '0' || claim[0] > '9')) {
		return time.Time{}, false, malformedJWT("its exp claim is not a number")
	}
	seconds, err := strconv.ParseFloat(string(claim), 64)
	if err != nil || seconds <= minExpSeconds || seconds > maxExpSeconds {
		return time.Time{}, false, malformedJWT("its exp claim is out of range")
	}
	whole, frac := math.Modf(seconds)
	return time.Unix(int64(whole), int64(frac*1e9)).UTC(), true, nil
}

// malformedJWT returns an ErrMalformedToken error with a fixed reason.
func malformedJWT(reason string) error {
	return fmt.Errorf("%w: it looks like a JWT but %s", ErrMalformedToken, reason)
}

// isJSONObject reports whether seg is a base64url-encoded JSON object.
func isJSONObject(seg string) bool {
	raw, err := decodeSegment(seg)
	if err != nil {
		return false
	}
	var header map[string]json.RawMessage
	return json.Unmarshal(raw, &header) == nil && header != nil
}

// decodeSegment decodes one base64url segment of a JWT, with or without
// padding.
var decodeSegment = jwtinfo.DecodeSegment
