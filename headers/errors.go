package headers

import "errors"

// ErrClosed is returned by a Provider after Close.
var ErrClosed = errors.New("headers: provider closed")

// A ConfigError reports a setting that is missing, malformed or in conflict
// with another. Setting names it as it was given: a field such as
// "jwtkey.Config.KeyFile", or the environment variable it was read from,
// such as "TEMPORAL_JWT_PRIVATE_KEY_FILE". Neither Setting nor Err holds a
// secret. Test for it with errors.As.
type ConfigError struct {
	Setting string
	Err     error
}

// Error returns "<setting>: <what is wrong>".
func (e *ConfigError) Error() string { return e.Setting + ": " + e.Err.Error() }

// Unwrap returns the cause, for errors.Is.
func (e *ConfigError) Unwrap() error { return e.Err }
