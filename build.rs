//! Generates include/flagwire.h from src/ with cbindgen. CI regenerates it and fails when the
//! checked-in copy differs (`git diff --exit-code include/flagwire.h`).

fn main() {
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config = cbindgen::Config::from_file(format!("{crate_dir}/cbindgen.toml")).expect("cbindgen.toml");
    match cbindgen::Builder::new().with_crate(&crate_dir).with_config(config).generate() {
        Ok(bindings) => {
            bindings.write_to_file(format!("{crate_dir}/include/flagwire.h"));
        }
        Err(e) => {
            // Fail loudly: a stale header is worse than a failed build.
            panic!("cbindgen failed: {e}");
        }
    }
}
