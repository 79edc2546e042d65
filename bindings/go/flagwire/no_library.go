//go:build !flagwire_dynamic && !(linux && amd64) && !(linux && arm64) && !(darwin && amd64) && !(darwin && arm64)

package flagwire

// Built only on a platform this module has no libflagwire.a for (the build line above lists the
// ones it has; scripts/package.sh writes it from the libraries a release carries). Without this
// file such a build would fail at link time with "no such file"; with it, the compiler says what
// is wrong: the identifier below is undefined on purpose.
//
// Build the core for your platform (cargo build --release -p flagwire in a checkout of
// flagwire) and link it with -tags flagwire_dynamic and CGO_LDFLAGS=-L<dir> (README.md).
const _ = flagwire_has_no_prebuilt_library_for_this_GOOS_GOARCH__build_one_with_cargo_and_use_tags_flagwire_dynamic__see_README
