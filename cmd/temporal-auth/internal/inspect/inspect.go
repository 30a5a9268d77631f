// Package inspect explains what a Temporal server with JWT authorization
// decides about a token: the default JWT claim mapper (scheme, algorithm,
// kid, signature, sub, exp/iat/nbf with zero leeway, audience, the
// permissions claim) and the default authorizer (role arithmetic per
// namespace), as in go.temporal.io/server v1.32 common/authorization.
//
// Analyze returns a Report; Report.WriteText prints it line by line with a
// final verdict. Neither ever contains the token or its signature.
package inspect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/temporalauth/temporalauth/jwtkey"
)

// DefaultPermissionsClaim is the claim the server reads permissions from
// unless configured otherwise (permissionsClaimName).
const DefaultPermissionsClaim = jwtkey.DefaultPermissionsClaim

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

// Options configure Analyze.
type Options struct {
	// PermissionsClaim is the server's permissionsClaimName. Default:
	// DefaultPermissionsClaim.
	PermissionsClaim string
	// Audience, when set, checks "aud" as a server whose audience mapper
	// returns Audience does. Empty: the server has no audience mapper and
	// ignores "aud".
	Audience string
	// KeySet is the server's JWKS. With it, the kid is looked up and the
	// signature verified; nil leaves both unchecked.
	KeySet *KeySet
	// Needs are accesses the caller requires; each one the token does not
	// grant is a failure.
	Needs []Need
	// Now is the server's clock. Default: time.Now().
	Now time.Time
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
	return "ACCEPTED"
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
	a.checkPermissions()
	return a.r
}

func (a *analysis) checkScheme() {
	switch {
	case a.in.APIKey && a.in.Scheme == "":
		a.add(OK, "scheme", "TEMPORAL_API_KEY: the temporal CLI sends it as \"authorization: Bearer <token>\"")
	case strings.EqualFold(a.in.Scheme, "bearer"):
		a.add(OK, "scheme", "sent as \"authorization: %s <token>\" (the scheme is case-insensitive)", a.in.Scheme)
	case a.in.Scheme == "":
		a.add(Info, "scheme", "bare token: send it as \"authorization: Bearer <token>\" (a headers provider, or the temporal CLI's --api-key / TEMPORAL_API_KEY); a header without the Bearer scheme is rejected")
	default:
		a.fail("scheme", fmt.Sprintf("scheme %q is not Bearer", a.in.Scheme),
			"scheme %q: the server accepts only \"authorization: Bearer <token>\"", a.in.Scheme)
	}
}

// decode splits and decodes the token; false when it is not a JWT.
func (a *analysis) decode() bool {
	tok := a.in.Token
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; !(c == '.' || c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			what := "a character"
			switch {
			case c == '=':
				what = "base64 padding '='"
			case c == '+' || c == '/':
				what = "standard-base64 '" + string(c) + "'"
			case c <= ' ' || c >= 0x7f:
				what = "white space, a control or non-ASCII character"
			}
			a.fail("format", "malformed token", "not a JWT: byte %d is %s; a JWT is three base64url segments without padding, joined by dots", i+1, what)
			return false
		}
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		a.fail("format", "malformed token", "not a JWT: %d segment(s), want 3 (header.payload.signature)", len(parts))
		return false
	}
	header, err := decodeObject(parts[0])
	if err != nil {
		a.fail("format", "malformed token", "the header segment %v", err)
		return false
	}
	claims, err := decodeObject(parts[1])
	if err != nil {
		a.fail("format", "malformed token", "the payload segment %v", err)
		return false
	}
	a.header, a.claims = header.values, claims.values
	a.r.Header, a.r.Claims = header.compact, claims.compact
	return true
}

type object struct {
	values  map[string]any
	compact string
}

// decodeObject decodes a base64url segment holding a JSON object. Its
// errors do not show the segment.
func decodeObject(seg string) (object, error) {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return object{}, errors.New("is not base64url without padding")
	}
	var values map[string]any
	if err := json.Unmarshal(raw, &values); err != nil || values == nil {
		return object{}, errors.New("is not a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return object{}, errors.New("is not a JSON object")
	}
	return object{values: values, compact: buf.String()}, nil
}

// algNotes explains why an algorithm is refused.
var algNotes = map[string]string{
	"none":  "an unsigned token is never accepted",
	"HS256": "HMAC (shared-secret) tokens are not accepted: the server verifies only signatures by keys of its JWKS",
	"HS384": "HMAC (shared-secret) tokens are not accepted: the server verifies only signatures by keys of its JWKS",
	"HS512": "HMAC (shared-secret) tokens are not accepted: the server verifies only signatures by keys of its JWKS",
	"PS256": "RSA-PSS is not accepted: sign with RS256 (PKCS #1 v1.5 padding)",
	"PS384": "RSA-PSS is not accepted: sign with RS256 (PKCS #1 v1.5 padding)",
	"PS512": "RSA-PSS is not accepted: sign with RS256 (PKCS #1 v1.5 padding)",
	"RS384": "only RS256 is accepted for RSA keys",
	"RS512": "only RS256 is accepted for RSA keys",
	"ES384": "only ES256 (P-256) is accepted for ECDSA keys",
	"ES512": "only ES256 (P-256) is accepted for ECDSA keys",
	"EdDSA": "EdDSA (Ed25519) is not accepted",
}

func (a *analysis) checkAlg() {
	v, ok := a.header["alg"]
	alg, isString := v.(string)
	switch {
	case !ok:
		a.fail("alg", "no alg header", "no alg header: the server accepts RS256 and ES256 only")
	case !isString:
		a.fail("alg", "alg is not a string", "alg is a %s, not a string", jsonType(v))
	case alg == jwtkey.AlgRS256 || alg == jwtkey.AlgES256:
		a.alg = alg
		a.add(OK, "alg", "%s is accepted (the server accepts RS256 and ES256 only)", alg)
	default:
		note := algNotes[alg]
		if note == "" {
			note = "unknown algorithm"
		}
		a.fail("alg", fmt.Sprintf("alg %s is not accepted", alg), "%s is not accepted: %s; the server accepts RS256 and ES256 only", alg, note)
	}
}

func (a *analysis) checkKid() {
	v, ok := a.header["kid"]
	kid, isString := v.(string)
	switch {
	case !ok:
		a.fail("kid", "no kid header", "no kid header: the server needs it to pick the key from its JWKS")
	case !isString:
		a.fail("kid", "kid is not a string", "kid is a %s, not a string: the server needs a string to pick the key from its JWKS", jsonType(v))
	case kid == "":
		a.fail("kid", "kid is empty", "kid is empty: it must name a key of the server's JWKS")
	default:
		a.kid = kid
		a.add(OK, "kid", "%q", kid)
	}
}

func (a *analysis) checkSignature() {
	tok := a.in.Token
	sig, err := base64.RawURLEncoding.DecodeString(tok[strings.LastIndexByte(tok, '.')+1:])
	switch {
	case err != nil:
		a.fail("sig", "malformed signature", "the signature segment is not base64url without padding")
		return
	case len(sig) == 0:
		a.fail("sig", "no signature", "the token has no signature")
		return
	case a.alg == jwtkey.AlgES256 && len(sig) != 64:
		a.fail("sig", "malformed ES256 signature",
			"the ES256 signature is %d bytes, want 64 (R || S); an ASN.1 DER signature, as crypto/ecdsa.SignASN1 makes, is not a JWS signature", len(sig))
		return
	case a.alg == jwtkey.AlgRS256 && len(sig)*8 < jwtkey.MinRSABits:
		a.fail("sig", "RS256 signature too short", "the RS256 signature is %d bytes: an RSA key of at least %d bits makes at least %d", len(sig), jwtkey.MinRSABits, jwtkey.MinRSABits/8)
		return
	}
	set := a.opts.KeySet
	switch {
	case set == nil:
		a.add(Info, "sig", "signature not checked: give --jwks with the server's JWKS (URL or file) to verify it and find the kid")
		return
	case a.alg == "" || a.kid == "":
		a.add(Info, "sig", "signature not checked: no usable alg and kid")
		return
	}
	key, found, other := set.lookup(a.alg, a.kid)
	if !found {
		switch reason, skipped := set.skipped(a.kid); {
		case skipped:
			a.fail("sig", fmt.Sprintf("key %q of the JWKS cannot be used", a.kid),
				"kid %q is in the JWKS (%s) but its key cannot verify %s tokens: %s", a.kid, set.Source, a.alg, reason)
		case other != nil:
			a.fail("sig", fmt.Sprintf("kid %q names a %s key, the token is %s", a.kid, other.KeyType, a.alg),
				"kid %q names a %s key in the JWKS (%s), but the token is %s: the server finds no key", a.kid, other.KeyType, set.Source, a.alg)
		default:
			have := "it has no keys"
			if ids := set.KeyIDs(); len(ids) > 0 {
				have = "it has " + quoteAll(ids)
			}
			a.fail("sig", fmt.Sprintf("kid %q is not in the JWKS", a.kid),
				"kid %q is not in the JWKS (%s; %s): the server will reject this token until it refreshes its keys; publish the new key at least one refresh interval before signing with it",
				a.kid, set.Source, have)
		}
		return
	}
	pub, err := key.PublicKey()
	if err != nil { // ParseKeySet only keeps keys that decode
		a.fail("sig", fmt.Sprintf("key %q of the JWKS cannot be used", a.kid), "key %q of the JWKS cannot be used: %v", a.kid, err)
		return
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{a.alg}), jwt.WithoutClaimsValidation())
	_, err = parser.Parse(tok, func(*jwt.Token) (any, error) { return pub, nil })
	switch {
	case err == nil:
		a.r.Verified = true
		a.add(OK, "sig", "signature verified with key %q of the JWKS (%s)", a.kid, set.Source)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		a.fail("sig", "the signature does not verify",
			"the signature does not verify with key %q of the JWKS (%s): the token was signed with another key or altered", a.kid, set.Source)
	default:
		a.fail("sig", "the signature cannot be verified", "the signature cannot be verified: %v", err)
	}
}

// timeClaim describes a time claim check.
type timeClaim struct {
	name     string
	serverOK string // the server's error message when the check fails
}

func (a *analysis) checkTimes() {
	exp, expOK := a.timeClaim(timeClaim{"exp", "Token is expired"})
	if expOK {
		life := ""
		if iat, ok := a.timeValue("iat"); ok && iat < exp {
			life = fmt.Sprintf("; lifetime %s from iat", human(time.Duration(exp-iat)*time.Second))
		}
		if a.now < exp {
			a.add(OK, "exp", "%s: expires in %s%s", stamp(exp), human(time.Duration(exp-a.now)*time.Second), life)
		} else {
			ago := human(time.Duration(a.now-exp) * time.Second)
			a.fail("exp", "expired "+ago+" ago", "%s: expired %s ago%s (the server: \"Token is expired\")", stamp(exp), ago, life)
		}
	}
	iat, iatOK := a.timeClaim(timeClaim{"iat", "Token used before issued"})
	a.notBefore("iat", iat, iatOK, "Token used before issued")
	nbf, nbfOK := a.timeClaim(timeClaim{"nbf", "Token is not valid yet"})
	a.notBefore("nbf", nbf, nbfOK, "Token is not valid yet")
}

// timeValue returns a NumericDate claim in whole seconds, if it is a
// usable number.
func (a *analysis) timeValue(name string) (int64, bool) {
	f, ok := a.claims[name].(float64)
	if !ok || f == 0 || f >= math.MaxInt64 || f <= math.MinInt64 {
		return 0, false
	}
	whole, _ := math.Modf(f)
	return int64(whole), true
}

// timeClaim reads a NumericDate claim as the server's JWT library does: a
// missing claim or 0 is absent; any other non-number fails the check. It
// reports an absent or invalid claim; the caller reports a usable one.
func (a *analysis) timeClaim(c timeClaim) (int64, bool) {
	v, present := a.claims[c.name]
	if !present {
		switch c.name {
		case "exp":
			a.add(Warning, "exp", "no exp: the token never expires (accepted, but a leaked token stays valid; always set exp)")
		default:
			a.add(Info, c.name, "not set (optional)")
		}
		return 0, false
	}
	f, ok := v.(float64)
	if !ok {
		a.fail(c.name, c.name+" is not a number", "%s is a %s, not a number of seconds: the server rejects the token (%q)", c.name, jsonType(v), c.serverOK)
		return 0, false
	}
	if f == 0 {
		if c.name == "exp" {
			a.add(Warning, "exp", "exp is 0, which the server treats as absent: the token never expires")
		} else {
			a.add(Info, c.name, "%s is 0, which the server treats as absent", c.name)
		}
		return 0, false
	}
	sec, ok := a.timeValue(c.name)
	if !ok {
		a.fail(c.name, c.name+" is out of range", "%s is out of range", c.name)
	}
	return sec, ok
}

// notBefore checks iat or nbf: the server wants now >= t, with no leeway.
func (a *analysis) notBefore(name string, t int64, ok bool, serverMsg string) {
	if !ok {
		return
	}
	if a.now < t {
		ahead := human(time.Duration(t-a.now) * time.Second)
		a.fail(name, fmt.Sprintf("%s is %s in the future", name, ahead),
			"%s: %s in the future: the server, which allows no clock skew, rejects the token until then (%q); is this machine's clock behind the signer's?",
			stamp(t), ahead, serverMsg)
		return
	}
	margin := time.Duration(a.now-t) * time.Second
	if margin < 5*time.Second {
		a.add(Warning, name, "%s: only %s ago: a server whose clock is more than %s behind this machine's rejects it (%q, no leeway); backdate %s by a clock-skew allowance",
			stamp(t), human(margin), human(margin), serverMsg, name)
		return
	}
	a.add(OK, name, "%s: %s ago (a server clock up to %s behind this one accepts it)", stamp(t), human(margin), human(margin))
}

func (a *analysis) checkAudience() {
	v, present := a.claims["aud"]
	var aud []string
	valid := true
	switch x := v.(type) {
	case string:
		aud = []string{x}
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				valid = false
				break
			}
			aud = append(aud, s)
		}
	case nil:
	default:
		valid = false
	}
	want := a.opts.Audience
	if want == "" {
		switch {
		case !present:
			a.add(Info, "aud", "not set: fine unless the server has an audience mapper (temporal.WithAudienceGetter), which then rejects the token")
		default:
			a.add(Info, "aud", "%s: checked only when the server has an audience mapper (temporal.WithAudienceGetter); give --audience to check it", compactJSON(v))
		}
		return
	}
	match := false
	if valid {
		for _, s := range aud {
			if s != "" && s == want {
				match = true
			}
		}
	}
	switch {
	case match:
		a.add(OK, "aud", "%s contains %q", compactJSON(v), want)
	case !present:
		a.fail("aud", "no aud", "not set: a server whose audience mapper returns %q rejects the token (\"audience mismatch\")", want)
	default:
		a.fail("aud", fmt.Sprintf("aud does not contain %q", want), "%s does not contain %q: a server whose audience mapper returns it rejects the token (\"audience mismatch\")", compactJSON(v), want)
	}
}

func (a *analysis) checkSubject() {
	v, present := a.claims["sub"]
	s, ok := v.(string)
	switch {
	case !present:
		a.fail("sub", "no sub", "no sub claim: the server requires a string sub (\"unexpected value type of \\\"sub\\\" claim\")")
	case !ok:
		a.fail("sub", "sub is not a string", "sub is a %s: the server requires a string (\"unexpected value type of \\\"sub\\\" claim\")", jsonType(v))
	case s == "":
		a.add(Warning, "sub", "empty: accepted, but the server's logs and audit show no caller")
	default:
		a.add(OK, "sub", "%q", s)
	}
	if iss, ok := a.claims["iss"].(string); ok {
		a.add(Info, "iss", "%q (not checked by the default claim mapper)", iss)
	}
}

func (a *analysis) checkPermissions() {
	name := a.opts.PermissionsClaim
	topic := "perms"
	v, present := a.claims[name]
	var system Role
	grants := map[string]*Grant{}
	list, isArray := v.([]any)
	switch {
	case !present:
		a.add(Warning, topic, "no %q claim: the token grants no role%s", name, a.claimHint())
	case !isArray:
		text := fmt.Sprintf("%q is a %s, not an array: the server ignores it, so the token grants no role", name, jsonType(v))
		if s, ok := v.(string); ok && strings.Contains(s, ":") {
			text += fmt.Sprintf("; write it as an array: %s", compactJSON(strings.Fields(strings.ReplaceAll(s, ",", " "))))
		}
		a.add(Warning, topic, "%s", text)
	default:
		a.add(OK, topic, "%q: an array of %d entr%s", name, len(list), plural(len(list), "y", "ies"))
	}
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			a.add(Warning, topic, "entry %d is a %s, not a string: ignored", i+1, jsonType(e))
			continue
		}
		ns, roleName, ok := strings.Cut(s, ":")
		if !ok {
			a.add(Warning, topic, "%q has no colon: ignored (want <namespace>:<role>, e.g. \"%s:write\")", s, s)
			continue
		}
		if ns == "" {
			a.add(Warning, topic, "%q has an empty namespace, which matches no namespace: ignored", s)
			continue
		}
		role, known := ParseRole(roleName)
		if !known {
			a.add(Warning, topic, "%q: role %q is not read, write, worker or admin: grants nothing", s, roleName)
		}
		if strings.ContainsFunc(ns, func(r rune) bool { return r == ' ' || r == '\t' }) {
			a.add(Warning, topic, "%q: the namespace %q contains white space and matches no namespace (namespaces are matched exactly, case-sensitively)", s, ns)
		}
		if ns == SystemNamespace {
			system |= role
		}
		g := grants[ns]
		if g == nil {
			g = &Grant{Namespace: ns}
			grants[ns] = g
		}
		g.Entries = append(g.Entries, roleName)
		g.Role |= role
	}
	names := slices.Sorted(maps.Keys(grants))
	if g, ok := grants[SystemNamespace]; ok {
		a.r.Grants = append(a.r.Grants, *g)
	}
	anyAccess := system.Allows(RoleRead)
	for _, ns := range names {
		if ns == SystemNamespace {
			continue
		}
		a.r.Grants = append(a.r.Grants, *grants[ns])
		if (system | grants[ns].Role).Allows(RoleRead) {
			anyAccess = true
		}
	}
	if !anyAccess {
		a.fail("access", "the token grants no access",
			"the token grants no access: the default authorizer denies every call but health checks (PERMISSION_DENIED \"Request unauthorized.\")")
	}
	for _, need := range a.opts.Needs {
		have := system
		if need.Namespace != SystemNamespace {
			if g := grants[need.Namespace]; g != nil {
				have |= g.Role
			}
		}
		if have.Allows(need.Role) {
			a.add(OK, "need", "%s: granted (%s)", need, have.Effective().name())
		} else {
			a.fail("need", fmt.Sprintf("%s not granted (has %s)", need, have.Effective().name()),
				"%s: not granted, the token has %s there", need, have.Effective().name())
		}
	}
}

// claimHint points at another claim that looks like permissions.
func (a *analysis) claimHint() string {
	for _, name := range slices.Sorted(maps.Keys(a.claims)) {
		if name == a.opts.PermissionsClaim {
			continue
		}
		list, ok := a.claims[name].([]any)
		if !ok {
			continue
		}
		for _, e := range list {
			if s, ok := e.(string); ok {
				if _, role, ok := strings.Cut(s, ":"); ok {
					if _, known := ParseRole(role); known {
						return fmt.Sprintf("; the %q claim holds permissions: if the server's permissionsClaimName is %q, give --claim-name %s", name, name, name)
					}
				}
			}
		}
	}
	return ""
}

// stamp formats a Unix time for a finding.
func stamp(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }

// human formats a duration compactly: 45s, 12m5s, 5h3m, 3d4h.
func human(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%ds", m, s)
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	default:
		days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
		if h == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%dh", days, h)
	}
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// compactJSON encodes a decoded claim value for a finding.
func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// quoteAll quotes and joins strings.
func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
