package oidc

// This file reads a token endpoint's answer: its fields, expires_in, and
// the access token's expiry.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/temporalauth/temporalauth/internal/jwtinfo"
)

// tokenAnswer is what a token endpoint answered (RFC 6749, 5.1 and 5.2).
type tokenAnswer struct {
	accessToken, tokenType, errorCode string
	expiresIn                         time.Duration // 0 when absent, malformed or not positive
}

// parseTokenAnswer reads a token endpoint's answer: JSON, or a form for
// the servers that answer application/x-www-form-urlencoded or text/plain
// (GitHub's style, which x/oauth2 accepts too).
func parseTokenAnswer(contentType string, body []byte) (tokenAnswer, error) {
	ct, _, _ := mime.ParseMediaType(contentType)
	if ct == "application/x-www-form-urlencoded" || ct == "text/plain" {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return tokenAnswer{}, errors.New("malformed form")
		}
		return tokenAnswer{accessToken: v.Get("access_token"), tokenType: v.Get("token_type"),
			errorCode: v.Get("error"), expiresIn: lifetime(v.Get("expires_in"))}, nil
	}
	var a struct {
		AccessToken json.RawMessage `json:"access_token"`
		TokenType   json.RawMessage `json:"token_type"`
		Error       json.RawMessage `json:"error"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return tokenAnswer{}, fmt.Errorf("malformed JSON at byte %d", se.Offset)
		}
		return tokenAnswer{}, errors.New("not a JSON object")
	}
	var ans tokenAnswer
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		to   *string
	}{{"access_token", a.AccessToken, &ans.accessToken}, {"token_type", a.TokenType, &ans.tokenType}, {"error", a.Error, &ans.errorCode}} {
		if len(f.raw) > 0 && string(f.raw) != "null" && json.Unmarshal(f.raw, f.to) != nil {
			return tokenAnswer{}, fmt.Errorf("%s is not a string", f.name)
		}
	}
	if len(a.ExpiresIn) > 0 {
		var str string
		if json.Unmarshal(a.ExpiresIn, &str) == nil {
			ans.expiresIn = lifetime(str) // some servers quote it
		} else {
			ans.expiresIn = lifetime(string(a.ExpiresIn))
		}
	}
	return ans, nil
}

// maxLifetime is the longest expires_in taken as is: 2^31-1 seconds, the
// cap of x/oauth2, about 68 years.
const maxLifetime = math.MaxInt32 * time.Second

// lifetime reads expires_in, a number of seconds in any JSON form (3600,
// 3600.5, 3.6e3); 0 when it is malformed or not positive, at most
// maxLifetime.
func lifetime(v string) time.Duration {
	secs, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) || !(secs > 0) {
		return 0
	}
	if secs >= maxLifetime.Seconds() {
		return maxLifetime
	}
	return time.Duration(secs * float64(time.Second))
}

// expiry is when the token of ans expires: see Token.
func expiry(ans tokenAnswer, now time.Time) time.Time {
	if ans.expiresIn > 0 {
		return now.Add(ans.expiresIn)
	}
	// A JWT's exp is taken unless it is absent, malformed or not after
	// 1970: an access token is never issued already expired.
	if exp, ok, err := jwtinfo.Expiry(ans.accessToken); ok && err == nil && exp.Unix() > 0 {
		return exp
	}
	return now.Add(DefaultLifetime)
}
