package static

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/temporalauth/temporalauth/headers"
)

// defaultSetting names a fixed token in errors when no setting name is given.
const defaultSetting = "static token"

// FixedOptions configure [NewFixed]. The zero value is ready to use.
type FixedOptions struct {
	// Setting names where the token came from, such as an environment
	// variable or a flag ("TEMPORAL_TOKEN", "--token"), so that errors point
	// at it. The default is "static token".
	Setting string
	// Now is the clock expiry is checked against; the default is time.Now.
	Now func() time.Time
}

// Fixed is a [headers.TokenSource] that serves one token given in
// configuration. Create it with [NewFixed]; it is safe for concurrent use.
//
// Printing a Fixed with any fmt verb or logging it with log/slog shows the
// setting name, never the token.
type Fixed struct {
	setting string
	// token returns the token. A closure hides it from reflection, so
	// even fmt printing a struct that holds a Fixed cannot show it.
	token func() headers.Token
	now   func() time.Time
}

// NewFixed checks value with [ParseToken] and returns a source that serves
// it. A JWT that has already expired is refused. Errors name
// opts.Setting and never contain the token.
func NewFixed(value string, opts FixedOptions) (*Fixed, error) {
	f := &Fixed{setting: opts.Setting, now: opts.Now}
	if f.setting == "" {
		f.setting = defaultSetting
	}
	if f.now == nil {
		f.now = time.Now
	}
	tok, err := ParseToken(value)
	if err != nil {
		return nil, fmt.Errorf("static: %s: %w", f.setting, err)
	}
	f.token = func() headers.Token { return tok }
	if err := f.checkExpiry(); err != nil {
		return nil, err
	}
	return f, nil
}

// Token returns the configured token. Once a JWT's exp has passed it returns
// an error wrapping [ErrExpiredToken] that names the setting: a fixed token
// cannot be renewed, so the setting must be given a new one.
func (f *Fixed) Token(context.Context) (headers.Token, error) {
	if err := f.checkExpiry(); err != nil {
		return headers.Token{}, err
	}
	return f.token(), nil
}

// checkExpiry reports an error once the token has expired.
func (f *Fixed) checkExpiry() error {
	if exp := f.token().Expiry; !exp.IsZero() && !f.now().Before(exp) {
		return fmt.Errorf("static: %s: %w (exp %s)", f.setting, ErrExpiredToken, exp.UTC().Format(time.RFC3339))
	}
	return nil
}

// String describes f without its token.
func (f Fixed) String() string {
	return fmt.Sprintf("static.Fixed{Setting: %q, Token: %s}", f.setting, headers.Redacted)
}

// GoString describes f without its token, for %#v.
func (f Fixed) GoString() string { return f.String() }

// LogValue describes f for log/slog without its token.
func (f Fixed) LogValue() slog.Value {
	return slog.GroupValue(slog.String("setting", f.setting), slog.String("token", headers.Redacted))
}

// NewFixedProvider returns a [headers.Provider] serving value, checked as by
// [NewFixed]. opts.Name is the setting named in errors (default "static
// token"), and opts.Clock, when set, is the clock expiry is checked against.
func NewFixedProvider(value string, opts headers.Options) (*headers.Provider, error) {
	if opts.Name == "" {
		opts.Name = defaultSetting
	}
	fopts := FixedOptions{Setting: opts.Name}
	if opts.Clock != nil {
		fopts.Now = opts.Clock.Now
	}
	src, err := NewFixed(value, fopts)
	if err != nil {
		return nil, err
	}
	return headers.New(src, opts), nil
}
