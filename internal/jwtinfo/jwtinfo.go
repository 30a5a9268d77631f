// Package jwtinfo reads the parts of a JWT that operators need in logs and
// metrics (the key ID, issuer, subject and expiry) without verifying its
// signature. It never returns any part of the token's encoded text, so what
// it returns may be logged.
package jwtinfo

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
)

// Info describes a JWT. Every field is empty or zero when the token lacks
// it or has it with an unexpected JSON type.
type Info struct {
	// KeyID is the kid header: which key signed the token.
	KeyID string
	// Algorithm is the alg header, such as ES256.
	Algorithm string
	// Issuer is the iss claim.
	Issuer string
	// Subject is the sub claim.
	Subject string
	// Expiry is the exp claim (UTC); zero when absent or out of range.
	Expiry time.Time
}

// Read decodes the header and claims of token. It reports ok false, with
// a zero Info, when token is not three dot-separated segments whose first
// two are base64url-encoded JSON objects: an opaque API key, say.
func Read(token string) (info Info, ok bool) {
	header, rest, found := strings.Cut(token, ".")
	if !found {
		return Info{}, false
	}
	payload, sig, found := strings.Cut(rest, ".")
	if !found || strings.Contains(sig, ".") {
		return Info{}, false
	}
	var h struct {
		Kid any `json:"kid"`
		Alg any `json:"alg"`
	}
	var c struct {
		Iss any `json:"iss"`
		Sub any `json:"sub"`
		Exp any `json:"exp"`
	}
	if !DecodeObject(header, &h) || !DecodeObject(payload, &c) {
		return Info{}, false
	}
	info.KeyID, _ = h.Kid.(string)
	info.Algorithm, _ = h.Alg.(string)
	info.Issuer, _ = c.Iss.(string)
	info.Subject, _ = c.Sub.(string)
	if exp, isNum := c.Exp.(float64); isNum {
		info.Expiry, _ = numericDate(exp)
	}
	return info, true
}

// Expiry reads the exp claim of token without verifying its signature.
//
// A token is taken for a JWT when it has three dot-separated segments and
// the first decodes to a JSON object, the JOSE header. For a JWT, the second
// segment must decode to a JSON object of claims; when it has an exp claim,
// a JSON number of seconds since the Unix epoch, Expiry returns that time
// (UTC, fractions of a second kept) and ok true. It returns ok false, and no
// error, for a JWT without exp and for a token that is not a JWT, such as an
// opaque API key. Segments are base64url with or without padding (see
// DecodeSegment).
//
// An error says why a token that looks like a JWT has no usable exp: its
// payload is not base64url or not a JSON object, or its exp is not a number
// or lies outside the years 1 to 9999. Errors are fixed phrases that hold no
// part of the token, written to follow "it looks like a JWT but ".
func Expiry(token string) (exp time.Time, ok bool, err error) {
	header, rest, found := strings.Cut(token, ".")
	if !found {
		return time.Time{}, false, nil
	}
	payload, signature, found := strings.Cut(rest, ".")
	if !found || strings.Contains(signature, ".") {
		return time.Time{}, false, nil
	}
	if !isObject(header) {
		return time.Time{}, false, nil
	}
	raw, err := DecodeSegment(payload)
	if err != nil {
		return time.Time{}, false, errors.New("its payload is not base64url")
	}
	var claims map[string]json.RawMessage
	if json.Unmarshal(raw, &claims) != nil || claims == nil {
		return time.Time{}, false, errors.New("its payload is not a JSON object")
	}
	claim, found := claims["exp"]
	if !found {
		return time.Time{}, false, nil
	}
	// A JSON number starts with a digit or '-'; anything else (a string,
	// null, true, an object) is not a NumericDate.
	if len(claim) == 0 || (claim[0] != '-' && (claim[0] < '0' || claim[0] > '9')) {
		return time.Time{}, false, errors.New("its exp claim is not a number")
	}
	seconds, err := strconv.ParseFloat(string(claim), 64)
	if err != nil {
		return time.Time{}, false, errors.New("its exp claim is out of range")
	}
	if exp, ok = numericDate(seconds); !ok {
		return time.Time{}, false, errors.New("its exp claim is out of range")
	}
	return exp, true, nil
}

// isObject reports whether seg is a base64url-encoded JSON object. Unlike
// DecodeObject, it allows white space before the object, as JSON does.
func isObject(seg string) bool {
	raw, err := DecodeSegment(seg)
	if err != nil {
		return false
	}
	var v map[string]json.RawMessage
	return json.Unmarshal(raw, &v) == nil && v != nil
}

// numericDate returns the time (UTC) of a NumericDate claim, seconds since
// the Unix epoch, and whether it lies in the years 1 to 9999 and is not the
// very first instant, which is the zero time.Time that means "none".
func numericDate(seconds float64) (time.Time, bool) {
	const (
		minSeconds = -62135596800 // 0001-01-01T00:00:00Z
		maxSeconds = 253402300799 // 9999-12-31T23:59:59Z
	)
	if !(seconds > minSeconds && seconds <= maxSeconds) {
		return time.Time{}, false
	}
	whole, frac := math.Modf(seconds)
	return time.Unix(int64(whole), int64(frac*1e9)).UTC(), true
}

// DecodeSegment decodes one base64url segment of a JWT, with or without
// padding: RFC 7515 leaves padding out, but some issuers keep it.
func DecodeSegment(seg string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
}

// DecodeObject decodes a base64url segment holding a JSON object into v
// and reports whether it did.
func DecodeObject(seg string, v any) bool {
	raw, err := DecodeSegment(seg)
	if err != nil || len(raw) == 0 || raw[0] != '{' {
		return false
	}
	return json.Unmarshal(raw, v) == nil
}

// LogValue lists the fields that are set, for log/slog.
func (i Info) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, 5)
	for _, a := range []slog.Attr{
		slog.String("kid", i.KeyID), slog.String("alg", i.Algorithm),
		slog.String("iss", i.Issuer), slog.String("sub", i.Subject),
	} {
		if a.Value.String() != "" {
			attrs = append(attrs, a)
		}
	}
	if !i.Expiry.IsZero() {
		attrs = append(attrs, slog.Time("exp", i.Expiry))
	}
	return slog.GroupValue(attrs...)
}
