package inspect

import (
	"errors"
	"fmt"
	"strings"
)

// A Role is a set of roles of the Temporal server's default authorizer, as
// the bit mask the server builds: the roles a token grants on one
// namespace are OR-ed together, and a call passes when the mask, read as a
// number, is at least the role the call requires.
type Role int

// The roles, weakest first, with the server's values.
const (
	// RoleWorker is "worker". Alone it allows no API: the weakest
	// requirement is read.
	RoleWorker Role = 1 << iota
	// RoleRead is "read": describe, list, query and other read-only APIs.
	RoleRead
	// RoleWrite is "write": also starting, signalling and terminating
	// workflows and polling task queues, which workers need.
	RoleWrite
	// RoleAdmin is "admin": every API, including admin ones such as
	// registering a namespace.
	RoleAdmin
	// RoleNone grants nothing.
	RoleNone Role = 0
)

// roleNames maps lower-case role names to roles.
var roleNames = map[string]Role{"worker": RoleWorker, "read": RoleRead, "write": RoleWrite, "admin": RoleAdmin}

// ParseRole parses a role name as the server does: read, write, worker or
// admin in any case. ok is false for any other name, which grants nothing.
func ParseRole(name string) (role Role, ok bool) {
	role, ok = roleNames[strings.ToLower(name)]
	return role, ok
}

// Effective returns the strongest single role in r, the one that decides
// which calls pass.
func (r Role) Effective() Role {
	for _, s := range []Role{RoleAdmin, RoleWrite, RoleRead, RoleWorker} {
		if r&s != 0 {
			return s
		}
	}
	return RoleNone
}

// Allows reports whether a caller with roles r passes a call that requires
// need.
func (r Role) Allows(need Role) bool { return r >= need }

// String names the roles in r, strongest first, joined with "+", or
// "none".
func (r Role) String() string {
	var names []string
	for _, s := range []Role{RoleAdmin, RoleWrite, RoleRead, RoleWorker} {
		if r&s != 0 {
			names = append(names, s.name())
		}
	}
	if rest := r &^ (RoleAdmin | RoleWrite | RoleRead | RoleWorker); rest != 0 {
		names = append(names, fmt.Sprintf("0x%x", int(rest)))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "+")
}

func (r Role) name() string {
	switch r {
	case RoleAdmin:
		return "admin"
	case RoleWrite:
		return "write"
	case RoleRead:
		return "read"
	case RoleWorker:
		return "worker"
	}
	return "none"
}

// access describes what a caller with roles r may call.
func (r Role) access() string {
	switch r.Effective() {
	case RoleAdmin:
		return "every API, admin ones included (e.g. register or update a namespace)"
	case RoleWrite:
		return "start/signal/terminate workflows, poll task queues (workers), describe/list; no admin APIs"
	case RoleRead:
		return "read only: describe, list, query, history; cannot start workflows or poll (workers fail)"
	case RoleWorker:
		return "nothing: worker alone allows no API (read is the weakest requirement)"
	}
	return "nothing"
}

// A Need is access a caller requires: a role on a namespace, or on
// SystemNamespace for cluster-wide APIs.
type Need struct {
	// Namespace is the namespace the calls target.
	Namespace string
	// Role is the role the calls require.
	Role Role
}

// String returns "<namespace>:<role>".
func (n Need) String() string { return n.Namespace + ":" + n.Role.name() }

// ParseNeed parses "<namespace>:<role>" with role read, write or admin.
func ParseNeed(s string) (Need, error) {
	ns, name, ok := strings.Cut(s, ":")
	if !ok || ns == "" || name == "" {
		return Need{}, errors.New("want <namespace>:<role>, e.g. default:write")
	}
	role, ok := ParseRole(name)
	if !ok || role == RoleWorker {
		return Need{}, fmt.Errorf("role %q is not one of read, write, admin", name)
	}
	return Need{Namespace: ns, Role: role}, nil
}

// SystemNamespace is the namespace whose roles apply to every namespace and
// to cluster-wide APIs.
const SystemNamespace = "temporal-system"
