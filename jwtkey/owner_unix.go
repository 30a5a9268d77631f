//go:build unix

package jwtkey

import (
	"io/fs"
	"os"
	"syscall"
)

// fileOwnedByProcess reports whether the process's effective user owns
// the file fi describes.
func fileOwnedByProcess(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return !ok || int(st.Uid) == os.Geteuid()
}
