// Package jwtinfo reads the parts of a JWT that operators need in logs and
// metrics (the key ID, issuer, subject and expiry) without verifying its
// signature. It never returns any part of the token's encoded text, so what
// it returns may be logged.
package jwtinfo

import (
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math"
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
	if exp, isNum := c.Exp.(float64); isNum && exp > minExpSeconds && exp <= maxExpSeconds {
		whole, frac := math.Modf(exp)
		info.Expiry = time.Unix(int64(whole), int64(frac*1e9)).UTC()
	}
	return info, true
}

// The range of exp claims Read accepts: the years 1 to 9999, excluding the
// zero time.Time that means "none".
const (
	minExpSeconds = -62135596800
	maxExpSeconds = 253402300799
)

// DecodeSegment decodes one base64url segment of a JWT, with or without
// padding.
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
