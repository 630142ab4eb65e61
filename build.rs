//! Generates `include/sesh.h` from the `extern "C"` items in `src/ffi/`, with the version
//! macros (`SESH_VERSION_MAJOR`, ...) taken from Cargo.toml's version, and gives the shared
//! library its SONAME on Linux.
//!
//! The header is committed: CI regenerates it and fails when the committed one differs.
//! It is written only in a source checkout. It is not written when `SESH_SKIP_HEADER` is set
//! (e.g. a read-only tree), nor in a crate cargo unpacked from a `.crate` file (the
//! verify build of `cargo package`, a registry dependency), which cargo marks with
//! `Cargo.toml.orig` and whose source a build script must not change: such a crate ships
//! the header it was packaged with.

#[cfg(feature = "c-api")]
use std::env;
#[cfg(feature = "c-api")]
use std::path::{Path, PathBuf};

#[cfg(not(feature = "c-api"))]
fn main() {}

#[cfg(feature = "c-api")]
fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=SESH_SKIP_HEADER");

    // The SONAME: libsesh.so.<major>. An ABI-incompatible change must move it (and the
    // baseline abi/libsesh.so.<major>.abi with it; see README, "ABI").
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsesh.so.{major}");
    }

    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    if env::var_os("SESH_SKIP_HEADER").is_some() || is_packaged(&crate_dir) {
        return;
    }
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable");
    config.after_includes = Some(version_macros());
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

#[cfg(feature = "c-api")]
/// A crate cargo unpacked from a `.crate` file: `cargo package` always adds
/// `Cargo.toml.orig`, which a source checkout never has.
fn is_packaged(crate_dir: &Path) -> bool {
    crate_dir.join("Cargo.toml.orig").exists()
}

#[cfg(feature = "c-api")]
fn version_macros() -> String {
    let var = |name: &str| env::var(name).expect("set by cargo");
    let (major, minor, patch) = (
        var("CARGO_PKG_VERSION_MAJOR"),
        var("CARGO_PKG_VERSION_MINOR"),
        var("CARGO_PKG_VERSION_PATCH"),
    );
    let version = var("CARGO_PKG_VERSION");
    format!(
        "\n/** The version of sesh this header belongs to (Cargo.toml's); sesh_version() gives the\n \
         * library's, which a host may compare with SESH_VERSION_STRING. */\n\
         #define SESH_VERSION_MAJOR {major}\n\
         #define SESH_VERSION_MINOR {minor}\n\
         #define SESH_VERSION_PATCH {patch}\n\
         #define SESH_VERSION_STRING \"{version}\""
    )
}
