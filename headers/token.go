package headers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"
)

// A Token is a credential to send to the Temporal server, typically a JWT.
// Make one with NewToken; read the credential with Value.
//
// The credential is a secret, and a Token never shows it: Format, String,
// GoString, LogValue and MarshalJSON redact it, so a Token printed with
// any fmt verb, logged with log/slog (text or JSON), or encoded with
// encoding/json, alone or inside a slice, map or struct, shows only its
// expiry. The credential is held behind an unexported pointer, so even
// the paths that bypass these methods (fmt reaching a Token in an
// unexported struct field, or a bad verb such as %p) print an address,
// never the value.
type Token struct {
	value *string // the credential, without a scheme such as "Bearer"; nil for the zero Token

	// Expiry is when the server stops accepting the token. The zero time
	// means the token never expires.
	Expiry time.Time
	// RefreshAt, when set, asks the cache to fetch again at that time even
	// though the token is still valid: a token file that may be replaced
	// sets it to its next poll. The zero time means no such hint.
	RefreshAt time.Time
}

// A TokenSource returns tokens. The Provider calls it from one goroutine at
// a time, with a context that bounds the call; it need not cache.
//
// A source that does cache (a credential library's cache hands back the
// same token until shortly before it expires) should also implement
// [Invalidator]: when the server rejects a token, or
// [Provider.Invalidate] is called, the Provider tells the source which
// token was rejected before it asks for the next one, so that the source
// fetches anew instead of handing back the rejected token. Without it, a
// source that returns the rejected token again gets no retry: the caller
// sees the server's original error.
//
// A panic in Token or InvalidateToken is recovered into an error for the
// Provider's callers and logged with its stack. Each call is bounded by
// Options.RefreshTimeout through its context; a source that ignores the
// context holds up Close for at most CloseTimeout (see Provider.Close).
type TokenSource interface {
	Token(ctx context.Context) (Token, error)
}

// An Invalidator is a TokenSource that keeps a cache of its own and can be
// told to drop a token from it.
//
// The Provider calls InvalidateToken with the token the server rejected
// (or that [Provider.Invalidate] dropped), from the goroutine that calls
// Token, right before the Token call that is to replace it; the two calls
// share one context. After InvalidateToken, Token must not return a token
// whose Value equals rejected.Value() unless the source has no other: a
// Provider never retries a call with the token that was rejected. An
// implementation records what it needs and returns; any error belongs to
// the Token call that follows.
type Invalidator interface {
	InvalidateToken(ctx context.Context, rejected Token)
}

// NewToken returns a Token carrying value, the credential without a scheme
// such as "Bearer", that expires at expiry (the zero time: never). A
// Provider refuses a token that begins with its scheme and a space (it
// would send "Bearer Bearer ..."), with an error saying so.
func NewToken(value string, expiry time.Time) Token {
	return Token{value: &value, Expiry: expiry}
}

// Value returns the credential, without a scheme. It is "" for the zero
// Token.
func (t Token) Value() string {
	if t.value == nil {
		return ""
	}
	return *t.value
}

// TokenSourceFunc adapts an ordinary function to a TokenSource.
type TokenSourceFunc func(ctx context.Context) (Token, error)

// Token calls f(ctx).
func (f TokenSourceFunc) Token(ctx context.Context) (Token, error) { return f(ctx) }

// Redacted is what String, GoString and LogValue show instead of a secret.
const Redacted = "REDACTED"

// String describes t without its value.
func (t Token) String() string {
	expiry := "never"
	if !t.Expiry.IsZero() {
		expiry = t.Expiry.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("Token{Value: %s, Expiry: %s}", Redacted, expiry)
}

// Format writes t's String for every verb, quoted for %q, and its
// GoString for %#v, so that no verb prints the value.
func (t Token) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, t.GoString())
	case verb == 'q':
		io.WriteString(f, strconv.Quote(t.String()))
	default:
		io.WriteString(f, t.String())
	}
}

// GoString describes t without its value, for %#v.
func (t Token) GoString() string { return "headers." + t.String() }

// LogValue describes t for log/slog without its value.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("value", Redacted), slog.Time("expiry", t.Expiry))
}

// MarshalJSON encodes t without its value, as
// {"value":"REDACTED","expiry":...}; the expiry is null for a token that
// never expires. There is no UnmarshalJSON: a Token is made by its source.
func (t Token) MarshalJSON() ([]byte, error) {
	var expiry *time.Time
	if !t.Expiry.IsZero() {
		expiry = &t.Expiry
	}
	return json.Marshal(struct {
		Value  string     `json:"value"`
		Expiry *time.Time `json:"expiry"`
	}{Redacted, expiry})
}

// valid reports whether t may still be sent at now. Both are compared as
// wall times: a monotonic reading (time.Now and MSAL's ExpiresOn carry
// one) would make the comparison ignore a suspend or a clock step.
func (t Token) valid(now time.Time) bool {
	return t.Expiry.IsZero() || now.Round(0).Before(t.Expiry.Round(0))
}
