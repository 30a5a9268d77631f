package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/temporalauth/temporalauth"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/secretfile"
)

// A presentedError is an error rewritten for the command line: its message
// is what the user reads; errors.Is and errors.As still see the original.
type presentedError struct {
	msg string
	err error
}

func (e *presentedError) Error() string { return e.msg }
func (e *presentedError) Unwrap() error { return e.err }

// loadError presents an error of temporalauth.Load once, following the
// wrapping rule (see main.go). Load names the provider it chose and why
// ("temporalauth: jwt provider (chosen because ... is set): ...") before
// the setting at fault (a *headers.ConfigError). The command line drops
// that prefix when the user can see the provider already: they chose it
// (--provider, a provider's flag, TEMPORAL_AUTH_PROVIDER), or the setting
// at fault is one of its own variables that they set. It then names the
// setting as the user gave it (--key FILE, or the variable), and for a
// file that cannot be read adds the usual fix.
func loadError(err error, flags []*tokenFlag, lookup func(string) (string, bool)) error {
	var ce *headers.ConfigError
	if !errors.As(err, &ce) {
		return flagNames(err, flags)
	}
	provider, _ := lookup(temporalauth.EnvProvider)
	if ce.Setting == temporalauth.EnvProvider && provider == "" {
		// Load found the variables of more than one provider.
		return &presentedError{msg: flagNames(ce, flags).Error() +
			"; or pass --provider jwt, azure, oidc or static, which makes this command ignore the other providers' variables", err: err}
	}
	if !readerChose(flags, provider) && !ownVariable(ce.Setting, lookup) {
		return flagNames(err, flags) // "chosen because ..." is news to the reader
	}
	return &presentedError{msg: flagNames(settingError(ce, flags), flags).Error(), err: err}
}

// readerChose reports whether the user chose the provider: on the command
// line, or with TEMPORAL_AUTH_PROVIDER.
func readerChose(flags []*tokenFlag, provider string) bool {
	if provider != "" {
		return true
	}
	for _, f := range flags {
		if f.set && f.kind != "" {
			return true
		}
	}
	return false
}

// ownVariable reports whether setting is a provider's own variable (not a
// platform's, as AZURE_CLIENT_ID is) and is set.
func ownVariable(setting string, lookup func(string) (string, bool)) bool {
	if v, _ := lookup(setting); v == "" {
		return false
	}
	for _, vars := range providerVars {
		for _, v := range vars {
			if v == setting {
				return true
			}
		}
	}
	return false
}

// settingError words ce as "--flag: cause" or "VARIABLE: cause"; a file
// that cannot be read as "--key PATH: cannot open: permission denied; fix".
func settingError(ce *headers.ConfigError, flags []*tokenFlag) error {
	shown, flag := ce.Setting, false
	for _, f := range flags {
		if f.set && f.env == ce.Setting {
			shown, flag = "--"+f.name, true
		}
	}
	fe, ok := ce.Err.(*secretfile.Error)
	if !ok {
		return fmt.Errorf("%s: %w", shown, ce.Err)
	}
	if flag {
		shown += " " + quoteIfNeeded(fe.Path)
	} else {
		shown += "=" + quoteIfNeeded(fe.Path)
	}
	msg := shown + ": " + fe.Err.Error()
	if hint := fileHint(fe); hint != "" {
		msg += "; " + hint
	}
	return errors.New(msg)
}

// fileHint says how to fix a file that cannot be opened.
func fileHint(fe *secretfile.Error) string {
	switch {
	case errors.Is(fe.Err, fs.ErrPermission):
		return "run as the file's owner or give the process read access (on Kubernetes: securityContext.runAsUser or fsGroup)"
	case errors.Is(fe.Err, fs.ErrNotExist) && fe.What == "key file":
		return "check the path, or write a new key with temporal-auth keygen"
	case errors.Is(fe.Err, fs.ErrNotExist):
		return "check the path"
	}
	return ""
}
