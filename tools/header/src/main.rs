//! `cargo run -p flagwire-header [-- --check]`: writes include/flagwire.h from the crate's source
//! with cbindgen (pinned), or with `--check` exits 1 when the checked-in header differs. The
//! header is regenerated on demand, never by an ordinary build (rustls-ffi's habit).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let check = std::env::args().any(|a| a == "--check");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().expect("repository root");
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = match cbindgen::Builder::new().with_crate(&root).with_config(config).generate() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cbindgen failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    // Only the ABI's own names reach the header: an internal constant made `pub` must not leak.
    let text = String::from_utf8_lossy(&fresh);
    let leaked: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("#define "))
        .map(|rest| rest.split(|c: char| c.is_whitespace() || c == '(').next().unwrap_or(""))
        .filter(|name| !name.starts_with("FLAGWIRE_"))
        .collect();
    if !leaked.is_empty() {
        eprintln!("the header would define names outside the FLAGWIRE_ prefix: {leaked:?}");
        return ExitCode::FAILURE;
    }
    let path = root.join("include/flagwire.h");
    let current = std::fs::read(&path).unwrap_or_default();
    if current == fresh {
        println!("include/flagwire.h is current");
        return ExitCode::SUCCESS;
    }
    if check {
        eprintln!("include/flagwire.h is stale: run scripts/gen-header.sh and commit the result");
        return ExitCode::FAILURE;
    }
    std::fs::write(&path, &fresh).expect("write include/flagwire.h");
    println!("wrote include/flagwire.h");
    ExitCode::SUCCESS
}
