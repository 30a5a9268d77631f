package static

import (
	"fmt"
	"time"

	"github.com/temporalauth/temporalauth/internal/jwtinfo"
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
	exp, ok, err = jwtinfo.Expiry(token)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%w: it looks like a JWT but %v", ErrMalformedToken, err)
	}
	return exp, ok, nil
}
