package provider_test

import (
	"errors"
	"testing"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/provider"
)

func TestNewProviderRefusesBadOptions(t *testing.T) {
	called := false
	_, err := provider.New(headers.Options{Header: "bad header"},
		func() (headers.TokenSourceFunc, error) { called = true; return nil, nil },
		func(headers.TokenSourceFunc, *headers.Options) error { return nil })
	var ce *headers.ConfigError
	if !errors.As(err, &ce) || ce.Setting != "headers.Options.Header" || called {
		t.Errorf("err = %v, source made: %v; want a ConfigError for headers.Options.Header before the source is made", err, called)
	}
}
