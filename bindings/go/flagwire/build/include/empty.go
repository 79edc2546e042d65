// Package include holds flagwire.h, the C header of libflagwire (see ../../includebuild.go).
package include
