// Package provider holds the body that every token source's NewProvider
// shares.
package provider

import "github.com/temporalauth/temporalauth/headers"

// New is what every source's NewProvider does: it checks opts, makes the
// source, lets name check it against opts and set opts.Name when that is
// empty, and wraps it in a headers.Provider. Refusing bad Options here
// makes a program fail at start rather than on every call.
func New[S headers.TokenSource](opts headers.Options, newSource func() (S, error), name func(S, *headers.Options) error) (*headers.Provider, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	src, err := newSource()
	if err != nil {
		return nil, err
	}
	if err := name(src, &opts); err != nil {
		return nil, err
	}
	return headers.New(src, opts), nil
}
