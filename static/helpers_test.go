package static_test

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/headers/clocktest"
)

// t0 is the wall time of a clock made by clocktest.New.
var t0 = clocktest.Start

// b64 encodes s as a JWT segment.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// jwtWithClaims returns an unsigned-looking JWT carrying the given claims
// JSON. Its signature segment is not a real signature: nothing here verifies.
func jwtWithClaims(claims string) string {
	return b64(`{"alg":"RS256","kid":"test-key","typ":"JWT"}`) + "." + b64(claims) + ".c2lnbmF0dXJlLW5vdC1jaGVja2Vk"
}

// jwtExpiring returns a JWT whose exp is at.
func jwtExpiring(at time.Time) string {
	return jwtWithClaims(`{"sub":"worker","exp":` + strconv.FormatInt(at.Unix(), 10) + `}`)
}

// assertNoSecret fails when s contains secret or, for a JWT, any of its
// segments.
func assertNoSecret(t *testing.T, what, s, secret string) {
	t.Helper()
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return
	}
	if strings.Contains(s, secret) {
		t.Errorf("%s shows the secret: %q", what, s)
	}
	for _, seg := range strings.Split(secret, ".") {
		if len(seg) >= 8 && strings.Contains(s, seg) {
			t.Errorf("%s shows part of the secret: %q", what, s)
		}
	}
}
