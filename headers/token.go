package headers

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// A Token is a credential to send to the Temporal server, typically a JWT.
//
// Its Value is a secret: String, GoString and LogValue redact it, so a Token
// printed with %v, %+v, %#v or logged with log/slog never shows the value.
type Token struct {
	// Value is the credential itself, without a scheme such as "Bearer".
	Value string
	// Expiry is when the server stops accepting Value. The zero time means
	// the token never expires.
	Expiry time.Time
	// RefreshAt, when set, asks the cache to fetch again at that time even
	// though the token is still valid: a token file that may be replaced
	// sets it to its next poll. The zero time means no such hint.
	RefreshAt time.Time
}

// A TokenSource returns tokens. The Provider calls it from one goroutine at
// a time, with a context that bounds the call; it need not cache.
type TokenSource interface {
	Token(ctx context.Context) (Token, error)
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

// GoString describes t without its value, for %#v.
func (t Token) GoString() string { return "headers." + t.String() }

// LogValue describes t for log/slog without its value.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("value", Redacted), slog.Time("expiry", t.Expiry))
}

// valid reports whether t may still be sent at now.
func (t Token) valid(now time.Time) bool {
	return t.Expiry.IsZero() || now.Before(t.Expiry)
}
