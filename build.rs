//! Gives the shared library a SONAME carrying the ABI version, so a program linked against ABI 2
//! never loads a library of another ABI by accident. The header is not generated here: run
//! scripts/gen-header.sh (CI checks it is current).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "freebsd" || os == "android" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libflagwire.so.2");
    }
}
