package static

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/provider"
	"github.com/temporalauth/temporalauth/internal/redact"
	"github.com/temporalauth/temporalauth/internal/secretfile"
	"github.com/temporalauth/temporalauth/internal/setting"
)

// fileWhat is what errors call a token file.
const fileWhat = "token file"

// A Source serves the token a Config describes: the fixed Token, or the
// token held in TokenFile. It is a headers.TokenSource, safe for concurrent
// use. Build one with NewTokenSource; NewProvider wraps one in a caching
// headers.Provider.
//
// With a TokenFile, every call to Token reads the file again (a token file
// is small, and reading it is cheap) and the token's RefreshAt is
// PollInterval ahead, so a headers.Provider caching it asks again then and
// picks up a replaced file. While a read fails, a headers.Provider keeps
// serving the token it holds until that expires. A file Source keeps no
// token in memory between calls.
//
// A Source never shows its token: String, GoString, Format (any verb) and
// LogValue describe where it comes from.
type Source struct {
	// token returns the fixed token, or is nil with a file. A closure
	// hides the token from reflection, so even fmt printing a struct that
	// holds a Source cannot show it.
	token   func() headers.Token
	setting string // what errors call the fixed token

	path string        // the token file, or "" with a fixed token
	poll time.Duration // with a file

	now func() time.Time
}

var _ headers.TokenSource = (*Source)(nil)

// NewTokenSource checks cfg, applies its defaults and returns a Source.
// With a TokenFile it reads the file once, so that a missing, unreadable or
// invalid file is reported at start-up. Its errors are *headers.ConfigError
// naming the setting at fault (for a file, its path too); errors.Is matches
// ErrEmptyToken, ErrMalformedToken, ErrExpiredToken and, for a file,
// fs.ErrNotExist and fs.ErrPermission. They never contain the token.
func NewTokenSource(cfg Config) (*Source, error) {
	tok, err := cfg.check()
	if err != nil {
		return nil, err
	}
	s := &Source{now: cfg.now()}
	if cfg.TokenFile == "" {
		s.setting = names.Of("Token", cfg.fromEnv)
		s.token = func() headers.Token { return tok }
		return s, nil
	}
	s.path = cfg.TokenFile
	s.poll = setting.OrDefault(cfg.PollInterval, DefaultPollInterval)
	if _, err := s.Token(context.Background()); err != nil {
		return nil, names.Wrap(cfg.fromEnv, "TokenFile", err)
	}
	return s, nil
}

// Token returns the token.
//
// A fixed token is returned as it is, with no RefreshAt. Once a JWT's exp
// has passed, Token returns a *headers.ConfigError wrapping ErrExpiredToken
// that names the setting: a fixed token cannot be renewed.
//
// A token file is read and its token, checked as by ParseToken, is
// returned with RefreshAt set PollInterval from now. A missing, unreadable,
// oversized or empty file, a malformed token and an expired JWT are errors
// naming the file; errors.Is matches fs.ErrNotExist,
// fs.ErrPermission, ErrEmptyToken, ErrMalformedToken and ErrExpiredToken.
func (s *Source) Token(ctx context.Context) (headers.Token, error) {
	switch {
	case s.token != nil:
		tok := s.token()
		if err := checkExpiry(tok, s.now()); err != nil {
			return headers.Token{}, &headers.ConfigError{Setting: s.setting, Err: err}
		}
		return tok, nil
	case s.path == "":
		return headers.Token{}, errors.New("static: Source has no token: create it with NewTokenSource")
	}
	if err := ctx.Err(); err != nil {
		return headers.Token{}, &secretfile.Error{What: fileWhat, Path: s.path, Err: err}
	}
	content, err := secretfile.Read(fileWhat, s.path, maxTokenFileSize)
	if err != nil {
		return headers.Token{}, err
	}
	tok, err := ParseToken(string(content))
	if err != nil {
		return headers.Token{}, &secretfile.Error{What: fileWhat, Path: s.path, Err: err}
	}
	now := s.now()
	if err := checkExpiry(tok, now); err != nil {
		return headers.Token{}, &secretfile.Error{What: fileWhat, Path: s.path, Err: err}
	}
	tok.RefreshAt = now.Add(s.poll)
	return tok, nil
}

// exp returns the fixed token's expiry, zero for none. s.token must be set.
func (s Source) exp() time.Time { return s.token().Expiry }

// String describes s without its token: `token file "<path>" (poll <d>)`,
// or `token <setting> (REDACTED[, exp <time>])`.
func (s Source) String() string {
	if s.token == nil {
		return fmt.Sprintf("%s %q (poll %s)", fileWhat, s.path, s.poll)
	}
	if exp := s.exp(); !exp.IsZero() {
		return fmt.Sprintf("token %s (%s, exp %s)", s.setting, headers.Redacted, exp.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("token %s (%s)", s.setting, headers.Redacted)
}

// GoString describes s without its token, for %#v.
func (s Source) GoString() string { return "static.Source{" + s.String() + "}" }

// Format prints s as String does (GoString for %#v) whatever the verb, so
// that no verb prints the token.
func (s Source) Format(f fmt.State, verb rune) {
	redact.Format(f, verb, s)
}

// LogValue describes s for log/slog without its token: file and poll for a
// token file; setting, and exp for a JWT with an expiry, for a fixed token.
func (s Source) LogValue() slog.Value {
	if s.token == nil {
		return slog.GroupValue(slog.String("file", s.path), slog.Duration("poll", s.poll))
	}
	attrs := []slog.Attr{slog.String("setting", s.setting)}
	if exp := s.exp(); !exp.IsZero() {
		attrs = append(attrs, slog.String("exp", exp.UTC().Format(time.RFC3339)))
	}
	return slog.GroupValue(attrs...)
}

// NewProvider returns a headers.Provider, ready for
// client.Options.HeadersProvider, serving NewTokenSource(cfg).
//
// cfg.Clock defaults to opts.Clock, and opts.Name to "token file <path>"
// with a TokenFile, or to the name of the token's setting
// (TEMPORAL_AUTH_TOKEN for a Config from ConfigFromLookup, else
// "static.Config.Token").
func NewProvider(cfg Config, opts headers.Options) (*headers.Provider, error) {
	cfg.Clock = setting.OrDefault[headers.Clock](cfg.Clock, opts.Clock)
	return provider.New(opts, func() (*Source, error) { return NewTokenSource(cfg) },
		func(src *Source, opts *headers.Options) error {
			if opts.Name == "" {
				opts.Name = src.setting
				if cfg.TokenFile != "" {
					opts.Name = fileWhat + " " + cfg.TokenFile
				}
			}
			return nil
		})
}
