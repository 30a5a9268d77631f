package inspect

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// WriteText prints the report line by line: the decoded header and claims,
// one line per finding, the roles per namespace and the verdict. It never
// prints the token or its signature.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("Checked as a Temporal server's default JWT claim mapper and default authorizer would, at %s (this machine's clock).\n",
		r.Now.UTC().Format(time.RFC3339))
	if r.Header != "" {
		ew.printf("header  %s\n", r.Header)
		ew.printf("claims  %s\n", r.Claims)
	}
	ew.printf("\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	for _, f := range r.Findings {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Severity, f.Topic, f.Text)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Header != "" {
		r.writeGrants(ew)
	}
	ew.printf("\nVERDICT: %s\n", r.Verdict())
	return ew.err
}

// writeGrants prints the roles table.
func (r *Report) writeGrants(ew *errWriter) {
	ew.printf("\nroles from the %q claim (roles OR-ed per namespace; temporal-system roles apply everywhere):\n", r.PermissionsClaim)
	if len(r.Grants) == 0 {
		ew.printf("  none\n")
	} else {
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  namespace\tin token\teffective\tallows\n")
		var system Role
		for _, g := range r.Grants {
			eff := g.Role
			ns := g.Namespace
			if strings.ContainsFunc(ns, unicode.IsSpace) {
				ns = strconv.Quote(ns)
			}
			if g.Namespace == SystemNamespace {
				system = g.Role
				ns += " (all)"
			} else {
				eff |= system
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", ns, strings.Join(g.Entries, ","), eff.Effective().name(), eff.access())
		}
		if system.Allows(RoleRead) {
			fmt.Fprintf(tw, "  any other namespace\t-\t%s\t%s\n", system.Effective().name(), system.access())
		}
		_ = tw.Flush()
	}
	ew.printf("  a call needs: polling task queues and starting workflows = write; describe/list = read;\n")
	ew.printf("  registering a namespace = temporal-system:admin or admin on it; worker alone grants nothing.\n")
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { _, _ = fmt.Fprintf(e, format, args...) }
