// Package macos_x86_64 holds libflagwire.a for macos-x86_64 (see ../../includebuild.go).
package macos_x86_64
