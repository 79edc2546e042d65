// Package linux_aarch64 holds libflagwire.a for linux-aarch64 (see ../../includebuild.go).
package linux_aarch64
