package flagwire

// ModuleVersion is the release of this Go module (tag bindings/go/vX.Y.Z). It equals the
// version of the library the module carries (Version()), the crate, the gem, the jar, the wheel
// and the npm package: scripts/check-versions.sh checks that they agree.
const ModuleVersion = "0.2.0"
