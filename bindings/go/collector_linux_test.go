package flagwire_test

import (
	"os/exec"
	"syscall"
)

// The collector dies with the test process, even when a test timeout kills it.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
