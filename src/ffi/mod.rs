//! The C ABI. Every `extern "C"` item of sesh lives here, and each one is thin: it checks
//! its arguments (pointers through `ptr`'s helpers only), calls the tracker inside a panic
//! boundary, and maps errors to statuses (`status`: the one table of statuses).

mod handle;
mod options;
mod ptr;
mod status;
mod store;

pub use handle::*;
pub use options::*;
pub use status::*;
pub use store::*;

use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs an export's body; a panic becomes `SESH_STATUS_PANIC` instead of crossing the ABI.
fn boundary(body: impl FnOnce() -> SeshStatus) -> SeshStatus {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(SeshStatus::Panic)
}

/// The boundary for an export that returns a pointer: NULL if it panicked.
fn boundary_ptr<T>(body: impl FnOnce() -> *const T) -> *const T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(std::ptr::null())
}

/// A string handed to the host, to be freed by `sesh_string_free`.
fn owned_string(text: String) -> *mut c_char {
    // sesh's JSON, ids and messages hold no NUL; should one appear, cut it there. libc's
    // memchr scans the ~400 bytes of an entity several times faster than CString::new.
    let mut bytes = text.into_bytes();
    // SAFETY: `bytes` is readable for its length.
    let nul = unsafe { libc::memchr(bytes.as_ptr().cast(), 0, bytes.len()) };
    if !nul.is_null() {
        bytes.truncate(nul as usize - bytes.as_ptr() as usize);
    }
    // SAFETY: no NUL is left in `bytes`.
    unsafe { CString::from_vec_unchecked(bytes) }.into_raw()
}

/// JSON sesh rendered, handed to the host. JSON text holds no NUL byte (a NUL in a string
/// value is written `\u0000`), so it is not scanned: a scan right after the rendering reads
/// the bytes back while their stores are still in flight, which cost an entity up to half
/// of its time depending on where the allocator put it.
fn owned_json(text: String) -> *mut c_char {
    debug_assert!(!text.as_bytes().contains(&0));
    // SAFETY: JSON text holds no NUL.
    unsafe { CString::from_vec_unchecked(text.into_bytes()) }.into_raw()
}

fn optional_owned_string(text: Option<String>) -> *mut c_char {
    text.map_or(std::ptr::null_mut(), owned_string)
}

/// Frees a string that sesh returned. NULL is ignored.
///
/// # Safety
/// `text` is NULL or a string returned by sesh and not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_string_free(text: *mut c_char) {
    // SAFETY: NULL or from `CString::into_raw` in `owned_string`, as the caller promises.
    let _ = catch_unwind(|| unsafe { ptr::drop_owned_string(text) });
}

/// The library's version, e.g. "0.1.0". Static: never free it.
#[unsafe(no_mangle)]
pub extern "C" fn sesh_version() -> *const c_char {
    boundary_ptr(|| VERSION.as_ptr())
}

const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
) {
    Ok(version) => version,
    Err(_) => c"unknown",
};

#[cfg(test)]
mod tests {
    use super::SeshStatus;

    /// One declaration of the committed header: its doc comment, name and parameters.
    struct Declaration {
        doc: String,
        name: String,
        params: String,
    }

    fn status_functions(header: &str) -> Vec<Declaration> {
        let mut found = Vec::new();
        let mut doc = String::new();
        let mut in_doc = false;
        let mut lines = header.lines();
        while let Some(line) = lines.next() {
            let trimmed = line.trim();
            if trimmed.starts_with("/**") {
                in_doc = true;
                doc.clear();
                continue;
            }
            if in_doc {
                if trimmed.starts_with("*/") {
                    in_doc = false;
                } else {
                    doc.push_str(trimmed.trim_start_matches('*').trim());
                    doc.push('\n');
                }
                continue;
            }
            if let Some(rest) = trimmed.strip_prefix("SeshStatus sesh_") {
                let mut decl = rest.to_owned();
                while !decl.contains(';') {
                    decl.push(' ');
                    decl.push_str(lines.next().expect("a declaration ends").trim());
                }
                let (name, params) = decl.split_once('(').expect("a function");
                found.push(Declaration {
                    doc: std::mem::take(&mut doc),
                    name: format!("sesh_{name}"),
                    params: params.to_owned(),
                });
            } else if !trimmed.is_empty() {
                doc.clear();
            }
        }
        found
    }

    /// Capitals the docs quote that are no status.
    const NOT_STATUSES: [&str; 3] = ["SESH_MAX_ENTITY_SIZE", "PTRDIFF_MAX", "SIZE_MAX"];

    /// Every export that returns a status lists, in the header, every status it can return:
    /// a "Returns" paragraph naming only real statuses, always `OK` and `PANIC` (the panic
    /// boundary), `NULL_ARGUMENT` when it takes a pointer, `CLOSED` when it takes a handle
    /// (but the last-error getter, which works on a closed one), `INVALID_UTF8` and
    /// `INVALID_ARGUMENT` when it takes a string (UTF-8, and a UUID, a namespace or a path), `NO_SESSION` for the session getters.
    #[test]
    fn the_header_lists_every_status_of_every_export() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/include/sesh.h");
        let header = std::fs::read_to_string(path).expect("include/sesh.h is readable");
        let names: Vec<String> = SeshStatus::ALL
            .iter()
            .map(|s| s.name_str().to_ascii_uppercase())
            .collect();
        let functions = status_functions(&header);
        assert!(functions.len() > 40, "{} functions found", functions.len());
        let mut problems = Vec::new();
        for f in &functions {
            let Some(start) = f.doc.find("Returns `") else {
                problems.push(format!("{}: no \"Returns `...\" paragraph", f.name));
                continue;
            };
            let paragraph = f.doc[start..].split("\n\n").next().unwrap_or_default();
            let listed: Vec<&str> = paragraph
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|word| {
                    word.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                })
                .filter(|word| !NOT_STATUSES.contains(word))
                .collect();
            for word in &listed {
                if !names.iter().any(|n| n == word) {
                    problems.push(format!("{}: `{word}` is no status", f.name));
                }
            }
            let mut needed = vec!["OK", "PANIC"];
            if f.params.contains('*') {
                needed.push("NULL_ARGUMENT");
            }
            if f.params.contains("SeshHandle *handle") && f.name != "sesh_handle_get_last_error" {
                needed.push("CLOSED");
            }
            // Strings (but a custom store's value, which is bytes).
            if f.params.contains("const char *") && !f.params.contains("const char *data") {
                needed.extend(["INVALID_UTF8", "INVALID_ARGUMENT"]);
            }
            if f.name.starts_with("sesh_session_get_") {
                needed.push("NO_SESSION");
            }
            for status in needed {
                if !listed.contains(&status) {
                    problems.push(format!("{}: does not list `{status}`", f.name));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
