package servercheck

import (
	"fmt"
	"io"
)

// WriteText prints the findings of the configuration from source: one
// block per finding (severity, ID, setting, then the problem, risk and fix),
// and a summary line.
func WriteText(w io.Writer, source string, findings []Finding) error {
	ew := &errWriter{w: w}
	ew.printf("Checked the authorization configuration of %s.\n", source)
	counts := map[Severity]int{}
	for _, f := range findings {
		counts[f.Severity]++
		ew.printf("\n%s %s: %s\n", f.Severity, f.ID, f.Setting)
		ew.printf("  problem: %s\n  risk:    %s\n  fix:     %s\n", f.Problem, f.Risk, f.Fix)
	}
	switch {
	case len(findings) == 0:
		ew.printf("\nOK: no findings.\n")
	case counts[Critical] > 0:
		ew.printf("\nFAIL: %d critical, %d warning(s), %d note(s).\n", counts[Critical], counts[Warning], counts[Info])
	default:
		ew.printf("\nOK with %d warning(s), %d note(s): nothing critical.\n", counts[Warning], counts[Info])
	}
	return ew.err
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
