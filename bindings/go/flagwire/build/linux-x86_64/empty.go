// Package linux_x86_64 holds libflagwire.a for linux-x86_64 (see ../../includebuild.go).
package linux_x86_64
