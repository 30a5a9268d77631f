// Package redact keeps the secrets of the types that hold them (configs
// and sources with keys, client secrets or tokens) out of fmt's output.
// Those types print headers.Redacted in place of a secret.
package redact

import (
	"fmt"
	"io"
)

// Format is the Format method of the types that hold a secret: it writes
// v's String for every verb, and its GoString for %#v, so that no verb
// reaches a secret field.
func Format(f fmt.State, verb rune, v interface {
	String() string
	GoString() string
}) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, v.GoString())
		return
	}
	_, _ = io.WriteString(f, v.String())
}
