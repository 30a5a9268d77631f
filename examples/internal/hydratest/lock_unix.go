//go:build unix

package hydratest

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on path, waiting for it, and returns the
// function that releases it. The lock goes away with the process, so a test
// binary killed mid-build does not leave other processes waiting.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
