package inspect

import (
	"fmt"
	"math"
	"time"
)

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
}
