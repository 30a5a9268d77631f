package static

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/setting"
)

// Errors a token can fail with. They are wrapped with the setting or file at
// fault, so compare them with errors.Is.
var (
	// ErrEmptyToken reports a token that is empty or only whitespace.
	ErrEmptyToken = errors.New("token is empty")
	// ErrMalformedToken reports a token that cannot be sent as it is: it
	// contains inner whitespace, a control or non-ASCII character, or a
	// "Bearer" scheme, or is wrapped in quotes, or it is a JWT whose payload
	// or exp claim is invalid.
	ErrMalformedToken = errors.New("malformed token")
	// ErrExpiredToken reports a JWT whose exp claim has passed.
	ErrExpiredToken = errors.New("token has expired")
)

// bearerPrefix is the scheme a token must not carry: the headers.Provider
// adds it.
const bearerPrefix = "bearer "

// ParseToken checks a token taken from configuration and returns it as a
// [headers.Token]. Surrounding whitespace, such as a trailing newline or
// CRLF, is removed. When the token is a JWT, Expiry is its exp claim (see
// [ExpiryOf]); otherwise the token is opaque and Expiry is zero (never).
//
// ParseToken does not compare the expiry with the current time; a [Source]
// does. Its errors wrap [ErrEmptyToken] or [ErrMalformedToken] and
// never contain the token.
func ParseToken(value string) (headers.Token, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return headers.Token{}, ErrEmptyToken
	}
	if setting.Quoted(v) {
		return headers.Token{}, fmt.Errorf("%w: %s", ErrMalformedToken, setting.QuotedHint)
	}
	if len(v) > len(bearerPrefix) && strings.EqualFold(v[:len(bearerPrefix)], bearerPrefix) {
		return headers.Token{}, fmt.Errorf("%w: it starts with the Bearer scheme; give the token alone", ErrMalformedToken)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c > '~' {
			return headers.Token{}, fmt.Errorf("%w: %s at byte %d", ErrMalformedToken, describeByte(c), i+1)
		}
	}
	exp, ok, err := ExpiryOf(v)
	if err != nil {
		return headers.Token{}, err
	}
	if !ok {
		exp = time.Time{} // not a JWT with exp: the token does not expire by itself
	}
	return headers.NewToken(v, exp), nil
}

// describeByte names the kind of a byte that may not appear in a token,
// without showing it.
func describeByte(c byte) string {
	switch {
	case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
		return "whitespace"
	case c < ' ' || c == 0x7f:
		return "a control character"
	default:
		return "a non-ASCII character"
	}
}
