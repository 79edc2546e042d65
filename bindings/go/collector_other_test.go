//go:build !linux

package flagwire_test

import "os/exec"

func dieWithParent(*exec.Cmd) {}
