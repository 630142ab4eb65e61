//! Generates `include/sesh.h` from the `extern "C"` items in `src/ffi/`.
//!
//! The header is committed: CI regenerates it and fails when the committed one differs.
//! Set `SESH_SKIP_HEADER=1` to build without touching it (e.g. from a read-only tree).

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=SESH_SKIP_HEADER");
    if env::var_os("SESH_SKIP_HEADER").is_some() {
        return;
    }
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable");
    match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            bindings.write_to_file(crate_dir.join("include/sesh.h"));
        }
        Err(err) => panic!("cbindgen could not generate include/sesh.h: {err}"),
    }
}
