//go:build !linux

package main

import "testing"

// runAsNobody is Linux only.
func runAsNobody(t *testing.T, _ *string, _ string, _, _ []string) result {
	t.Skip("running as another user is implemented for Linux only")
	return result{}
}
