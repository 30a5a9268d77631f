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

// A Severity grades a Finding.
type Severity int

// Severities, mildest first.
const (
	// Info is background the reader should know.
	Info Severity = iota
	// OK is a check the token passes.
	OK
	// Warning is a check the token passes now but that is fragile, or a
	// part of the token the server ignores.
	Warning
	// Failure is a reason the server rejects the token or denies its calls.
	Failure
)

// String returns the label printed in front of a finding.
func (s Severity) String() string {
	switch s {
	case OK:
		return "ok"
	case Warning:
		return "warn"
	case Failure:
		return "FAIL"
	}
	return "info"
}

// A Finding is one line of a Report.
type Finding struct {
	// Severity grades the finding.
	Severity Severity
	// Topic is what was checked: "alg", "kid", "exp", ...
	Topic string
	// Text explains the finding.
	Text string
	// Reason is a short reason for the verdict, set for failures.
	Reason string
}

// A Grant is the roles a token gives on one namespace.
type Grant struct {
	// Namespace is the namespace, or SystemNamespace for every namespace
	// and the cluster-wide APIs.
	Namespace string
	// Entries are the roles as the token writes them, in order.
	Entries []string
	// Role is the roles of the entries OR-ed together, as the claim mapper
	// does.
	Role Role
}

// A Report is what Analyze found.
type Report struct {
	// Header and Claims are the token's decoded JOSE header and claims as
	// compact JSON, empty when they cannot be decoded.
	Header, Claims string
	// Findings are the checks, in the order the server makes them.
	Findings []Finding
	// PermissionsClaim is the claim the permissions were read from.
	PermissionsClaim string
	// Grants are the roles per namespace, SystemNamespace first, then by
	// name; nil when the token grants no role.
	Grants []Grant
	// Verified reports that the signature was verified with a key of
	// Options.KeySet.
	Verified bool
	// Now is the time the checks were made at.
	Now time.Time
}

// Reasons returns the reasons the server rejects the token or denies its
// calls; none when it is accepted.
func (r *Report) Reasons() []string {
	var out []string
	for _, f := range r.Findings {
		if f.Severity == Failure {
			out = append(out, f.Reason)
		}
	}
	return out
}

// Accepted reports whether the server accepts the token and grants it some
// access (and every Options.Needs).
func (r *Report) Accepted() bool { return len(r.Reasons()) == 0 }

// Verdict returns the verdict line: "ACCEPTED", possibly with a caveat, or
// "REJECTED: " and the reasons.
func (r *Report) Verdict() string {
	if reasons := r.Reasons(); len(reasons) > 0 {
		return "REJECTED: " + strings.Join(reasons, "; ")
	}
	if !r.Verified {
		return "ACCEPTED if the signature verifies and the kid is in the server's JWKS (not checked: give --jwks)"
	}
	return "ACCEPTED once the server has fetched the key (it is in the JWKS given; the server's copy is not checked)"
}

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
