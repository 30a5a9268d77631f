package jwtkey

import (
	"io/fs"
	"os"
	"runtime"
	"strings"

	"github.com/temporalauth/temporalauth/internal/secretfile"
)

// CheckKeyFilePermissions returns an error wrapping ErrKeyFilePermissions
// when the file at path may be read or written by others, or written by its
// group, as ssh does for identity files; or read by its group when this
// process owns the file (and so could restrict it). A group-readable file
// that this process does not own is accepted: that is how a Kubernetes
// Secret volume with fsGroup lets a non-root container read it (the kubelet
// turns defaultMode 0400 into 0440, group fsGroup). The error says how to
// fix it; callers typically log it as a warning and go on. It returns nil on
// Windows, whose permissions Go does not report.
func CheckKeyFilePermissions(path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(path) // through the symlinks of a Secret volume
	if err != nil {
		return &secretfile.Error{What: "key file", Path: path, Err: err}
	}
	open := fi.Mode().Perm() & 0o027
	if fileOwnedByProcess(fi) {
		open = fi.Mode().Perm() & 0o077
	}
	if open != 0 {
		return secretfile.Errorf("key file", path, "%w: mode %#o lets %s; fix it with chmod 600 %s, or on a Kubernetes Secret volume with defaultMode: 0400",
			ErrKeyFilePermissions, fi.Mode().Perm(), whoMay(open), path)
	}
	return nil
}

// whoMay says who the permission bits open grant access to.
func whoMay(open fs.FileMode) string {
	var who []string
	if open&0o070 != 0 {
		who = append(who, "its group "+rw(open>>3))
	}
	if open&0o007 != 0 {
		who = append(who, "others "+rw(open))
	}
	return strings.Join(who, " and ")
}

// rw names the access the low three permission bits of m give.
func rw(m fs.FileMode) string {
	switch {
	case m&0o4 != 0 && m&0o2 != 0:
		return "read and write it"
	case m&0o2 != 0:
		return "write it"
	case m&0o4 != 0:
		return "read it"
	}
	return "execute it"
}
