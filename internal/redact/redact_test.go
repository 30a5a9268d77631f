package redact_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/temporalauth/temporalauth/internal/redact"
)

// holder holds a secret and prints through redact.Format.
type holder struct{ Secret string }

func (h holder) String() string                { return "holder{REDACTED}" }
func (h holder) GoString() string              { return "pkg.holder{REDACTED}" }
func (h holder) Format(f fmt.State, verb rune) { redact.Format(f, verb, h) }

func TestFormat(t *testing.T) {
	h := holder{Secret: "s3cret"}
	for _, format := range []string{"%v", "%+v", "%s", "%q", "%x", "%d", "%10.2f"} {
		if got := fmt.Sprintf(format, h); got != "holder{REDACTED}" {
			t.Errorf("Sprintf(%q) = %q, want the String", format, got)
		}
	}
	if got := fmt.Sprintf("%#v", h); got != "pkg.holder{REDACTED}" {
		t.Errorf("%%#v = %q, want the GoString", got)
	}
	if got := fmt.Sprintf("%v %+v", []holder{h}, struct{ H holder }{h}); strings.Contains(got, h.Secret) {
		t.Errorf("a holder inside a value printed its secret: %q", got)
	}
}
