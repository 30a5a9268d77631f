package jwtkey

import (
	"fmt"
	"slices"
	"strings"

	"github.com/temporalauth/temporalauth/internal/setting"
)

// A Permission is one "<namespace>:<role>" grant of the Temporal server's
// default claim mapper.
type Permission struct {
	// Namespace is a Temporal namespace (case-sensitive), or
	// "temporal-system" for cluster-wide roles.
	Namespace string
	// Role is "read", "write", "worker" or "admin".
	Role string
}

// String returns "<namespace>:<role>", the form tokens carry.
func (p Permission) String() string { return p.Namespace + ":" + p.Role }

// Roles of the Temporal server's default authorizer, weakest first.
var permissionRoles = []string{"worker", "read", "write", "admin"}

// ParsePermission parses a "<namespace>:<role>" permission as the Temporal
// server's default claim mapper does: split at the first colon, role
// compared case-insensitively with read, write, worker and admin, which
// ParsePermission returns in lower case. It also refuses what the server
// would ignore or never match: no colon, an empty namespace, a namespace
// with spaces or control characters, and unknown roles.
func ParsePermission(s string) (Permission, error) { return parsePermission(s) }

func parsePermission(s string) (Permission, error) {
	ns, role, ok := strings.Cut(s, ":")
	switch {
	case !ok:
		return Permission{}, fmt.Errorf("permission %q: want \"<namespace>:<role>\", e.g. \"default:write\"", s)
	case ns == "":
		return Permission{}, fmt.Errorf("permission %q: empty namespace; want \"<namespace>:<role>\"", s)
	case setting.HasSpaceOrControl(ns):
		return Permission{}, fmt.Errorf("permission %q: namespace contains a space, control or invalid character", s)
	}
	lower := strings.ToLower(role)
	if !slices.Contains(permissionRoles, lower) {
		return Permission{}, fmt.Errorf("permission %q: role %q is not one of read, write, worker, admin", s, role)
	}
	return Permission{Namespace: ns, Role: lower}, nil
}
