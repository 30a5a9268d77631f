package hydratest

import "syscall"

// sysProcAttr makes the kernel kill Hydra if the test binary dies without
// running its cleanups (a panic, a timeout, SIGKILL), so no server outlives it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
