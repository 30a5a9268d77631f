package inspect

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// checkPermissions reads the permissions claim as the server's default
// claim mapper does, reports the grants it makes, and checks the --need
// entries against them.
func (a *analysis) checkPermissions() {
	grants, system := a.readGrants(a.permissionsList())
	a.reportGrants(grants, system)
	a.checkNeeds(grants, system)
}

// permissionsList returns the permissions claim when it is an array, after
// reporting on its presence and type; nil otherwise.
func (a *analysis) permissionsList() []any {
	name := a.opts.PermissionsClaim
	v, present := a.claims[name]
	list, isArray := v.([]any)
	switch {
	case !present:
		a.add(Warning, "perms", "no %q claim: the token grants no role%s", name, a.claimHint())
	case !isArray:
		text := fmt.Sprintf("%q is a %s, not an array: the server ignores it, so the token grants no role", name, jsonType(v))
		if s, ok := v.(string); ok && strings.Contains(s, ":") {
			text += fmt.Sprintf("; write it as an array: %s", compactJSON(strings.Fields(strings.ReplaceAll(s, ",", " "))))
		}
		a.add(Warning, "perms", "%s", text)
	default:
		a.add(OK, "perms", "%q: an array of %d entr%s", name, len(list), plural(len(list), "y", "ies"))
	}
	return list
}

// readGrants reads the entries of the permissions claim, warning about
// those the server ignores or cannot match, and returns the grants by
// namespace and the role granted in the system namespace.
func (a *analysis) readGrants(list []any) (grants map[string]*Grant, system Role) {
	const topic = "perms"
	grants = map[string]*Grant{}
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
	return grants, system
}

// reportGrants lists the grants in the report, the system namespace's
// first, and fails when they allow no call at all.
func (a *analysis) reportGrants(grants map[string]*Grant, system Role) {
	if g, ok := grants[SystemNamespace]; ok {
		a.r.Grants = append(a.r.Grants, *g)
	}
	anyAccess := system.Allows(RoleRead)
	for _, ns := range slices.Sorted(maps.Keys(grants)) {
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
}

// checkNeeds checks each --need entry against the grants.
func (a *analysis) checkNeeds(grants map[string]*Grant, system Role) {
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
