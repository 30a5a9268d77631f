package azure

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves goroutines behind: every identity
// provider, Source and Provider a test starts is closed by its cleanup.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
