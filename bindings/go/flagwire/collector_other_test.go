//go:build !linux

package flagwire_test

import (
	"os/exec"
	"time"
)

func dieWithParent(*exec.Cmd) {}

func threadCPU() time.Duration { return 0 }
