package static

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/temporalauth/temporalauth/headers"
)

// DefaultPollInterval is how often a [File] is re-read when
// [FileOptions.PollInterval] is zero. Agents replace token files well before
// the old token expires (the kubelet at 80% of a projected token's
// lifetime), so a minute's delay in noticing a new token is harmless.
const DefaultPollInterval = time.Minute

// maxTokenFileSize bounds how much of a token file is read: a file holds one
// token, and a larger file is most likely the wrong file.
const maxTokenFileSize = 64 << 10

// FileOptions configure [NewFile]. The zero value is ready to use.
type FileOptions struct {
	// PollInterval is how long a token read from the file is used before
	// the file is read again. Zero means DefaultPollInterval; it must not be
	// negative.
	PollInterval time.Duration
	// Now is the clock; the default is time.Now.
	Now func() time.Time
}

// File is a [headers.TokenSource] that serves the token held in a file that
// another process keeps fresh, such as a Vault agent sink or a Kubernetes
// projected service-account token. Create it with [NewFile]; it is safe for
// concurrent use.
//
// Every call to Token reads the file again: a token file is small, and
// reading it is cheap. The returned token's RefreshAt is PollInterval ahead,
// so a [headers.Provider] caching it asks again then and picks up a
// replaced file. The file should be replaced atomically (written elsewhere
// and renamed over it, or swapped through a symbolic link as the kubelet
// does): a file rewritten in place can be read half-written. While a
// re-read fails, a headers.Provider keeps serving the token it holds until
// that expires.
//
// File keeps no token in memory between calls.
type File struct {
	path string
	poll time.Duration
	now  func() time.Time
}

// NewFile returns a source for the token file at path, and reads the file
// once so that a missing, unreadable or invalid file is reported at start-up.
// Errors name the file and never contain its content.
func NewFile(path string, opts FileOptions) (*File, error) {
	if path == "" {
		return nil, errors.New("static: token file path is empty")
	}
	if opts.PollInterval < 0 {
		return nil, fmt.Errorf("static: token file %q: poll interval %v is negative", path, opts.PollInterval)
	}
	f := &File{path: path, poll: opts.PollInterval, now: opts.Now}
	if f.poll == 0 {
		f.poll = DefaultPollInterval
	}
	if f.now == nil {
		f.now = time.Now
	}
	if _, err := f.Token(context.Background()); err != nil {
		return nil, err
	}
	return f, nil
}

// Path returns the token file's path.
func (f *File) Path() string { return f.path }

// PollInterval returns how long a token read from the file is used before
// the file is read again.
func (f *File) PollInterval() time.Duration { return f.poll }

// Token reads the file and returns its token, checked as by [ParseToken],
// with RefreshAt set PollInterval from now. A missing, unreadable, oversized
// or empty file, a malformed token and an expired JWT are errors naming the
// file; errors.Is matches fs.ErrNotExist, fs.ErrPermission,
// [ErrEmptyToken], [ErrMalformedToken] and [ErrExpiredToken].
func (f *File) Token(ctx context.Context) (headers.Token, error) {
	if err := ctx.Err(); err != nil {
		return headers.Token{}, f.errorf("%w", err)
	}
	content, err := f.read()
	if err != nil {
		return headers.Token{}, err
	}
	tok, err := ParseToken(string(content))
	if err != nil {
		return headers.Token{}, f.errorf("%w", err)
	}
	now := f.now()
	if !tok.Expiry.IsZero() && !now.Before(tok.Expiry) {
		return headers.Token{}, f.errorf("%w (exp %s)", ErrExpiredToken, tok.Expiry.UTC().Format(time.RFC3339))
	}
	tok.RefreshAt = now.Add(f.poll)
	return tok, nil
}

// read returns the file's content, at most maxTokenFileSize bytes.
func (f *File) read() ([]byte, error) {
	file, err := os.Open(f.path)
	if err != nil {
		return nil, f.fsError(err)
	}
	defer file.Close()
	content, err := io.ReadAll(io.LimitReader(file, maxTokenFileSize+1))
	if err != nil {
		return nil, f.fsError(err)
	}
	if len(content) > maxTokenFileSize {
		return nil, f.errorf("file is larger than %d KiB; a token file holds one token", maxTokenFileSize>>10)
	}
	return content, nil
}

// fsError names the file in an error from the file system, without
// repeating the path a *fs.PathError already carries.
func (f *File) fsError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return f.errorf("cannot %s: %w", pe.Op, pe.Err)
	}
	return f.errorf("%w", err)
}

// errorf returns an error naming the file.
func (f *File) errorf(format string, args ...any) error {
	return fmt.Errorf("static: token file %q: "+format, append([]any{f.path}, args...)...)
}

// String describes f.
func (f *File) String() string {
	return fmt.Sprintf("static.File{Path: %q, PollInterval: %v}", f.path, f.poll)
}

// NewFileProvider returns a [headers.Provider] serving the token file at
// path, checked at once as by [NewFile]. fopts.Now defaults to
// opts.Clock's Now, and opts.Name to "token file <path>".
func NewFileProvider(path string, fopts FileOptions, opts headers.Options) (*headers.Provider, error) {
	if fopts.Now == nil && opts.Clock != nil {
		fopts.Now = opts.Clock.Now
	}
	src, err := NewFile(path, fopts)
	if err != nil {
		return nil, err
	}
	if opts.Name == "" {
		opts.Name = "token file " + path
	}
	return headers.New(src, opts), nil
}
