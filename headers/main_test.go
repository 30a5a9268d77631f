package headers

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Renew at the full leeway, as the tests of renewal times expect;
	// the tests of the spread set jitter themselves.
	jitter = func() float64 { return 0 }
	goleak.VerifyTestMain(m)
}
