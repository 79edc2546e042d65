// Package macos_aarch64 holds libflagwire.a for macos-aarch64 (see ../../includebuild.go).
package macos_aarch64
