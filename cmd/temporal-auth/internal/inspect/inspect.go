// Package inspect explains what a Temporal server with JWT authorization
// decides about a token: the default JWT claim mapper (scheme, algorithm,
// kid, signature, sub, exp/iat/nbf with zero leeway, audience, the
// permissions claim) and the default authorizer (role arithmetic per
// namespace), as in go.temporal.io/server v1.32 common/authorization; and,
// beyond the stock server, the issuer as serverauth checks it, with a
// warning when the token's keys sign other Entra ID tenants' tokens too.
//
// Analyze returns a Report; Report.WriteText prints it line by line with a
// final verdict. Neither ever contains the token or its signature.
package inspect

import (
	"fmt"
	"time"

	"github.com/temporalauth/temporalauth/jwtkey"
)

// DefaultPermissionsClaim is the claim the server reads permissions from
// unless configured otherwise (permissionsClaimName).
const DefaultPermissionsClaim = jwtkey.DefaultPermissionsClaim

// Options configure Analyze.
type Options struct {
	// PermissionsClaim is the server's permissionsClaimName. Default:
	// DefaultPermissionsClaim.
	PermissionsClaim string
	// Audience, when set, checks "aud" as a server whose audience mapper
	// returns Audience does. Empty: the server has no audience mapper and
	// ignores "aud".
	Audience string
	// Issuers, when set, are the issuers a token's "iss" must equal,
	// exactly, as serverauth binds a key source to its issuers (see
	// EntraIssuers for an Entra ID tenant's two). Empty: "iss" is shown but
	// not checked, as the stock claim mapper never reads it.
	Issuers []string
	// KeySet is the server's JWKS. With it, the kid is looked up and the
	// signature verified; nil leaves both unchecked.
	KeySet *KeySet
	// Needs are accesses the caller requires; each one the token does not
	// grant is a failure.
	Needs []Need
	// Now is the server's clock. Default: time.Now().
	Now time.Time
}

// analysis holds the state of one Analyze call.
type analysis struct {
	r      *Report
	opts   Options
	in     Input
	now    int64 // the server compares whole seconds
	header map[string]any
	claims map[string]any
	alg    string // a supported alg, or ""
	kid    string // a usable kid, or ""
}

func (a *analysis) add(s Severity, topic, format string, args ...any) {
	a.r.Findings = append(a.r.Findings, Finding{Severity: s, Topic: topic, Text: fmt.Sprintf(format, args...)})
}

// fail adds a Failure with a short verdict reason.
func (a *analysis) fail(topic, reason, format string, args ...any) {
	a.r.Findings = append(a.r.Findings, Finding{Severity: Failure, Topic: topic, Text: fmt.Sprintf(format, args...), Reason: reason})
}

// Analyze checks the token of in as a Temporal server's default JWT claim
// mapper and default authorizer would.
func Analyze(in Input, opts Options) *Report {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if opts.PermissionsClaim == "" {
		opts.PermissionsClaim = DefaultPermissionsClaim
	}
	a := &analysis{
		r:    &Report{PermissionsClaim: opts.PermissionsClaim, Now: now},
		opts: opts,
		in:   in,
		now:  now.Unix(),
	}
	a.checkScheme()
	if !a.decode() {
		return a.r
	}
	a.checkAlg()
	a.checkKid()
	a.checkSignature()
	a.checkTimes()
	a.checkAudience()
	a.checkSubject()
	a.checkIssuer()
	a.checkPermissions()
	return a.r
}
