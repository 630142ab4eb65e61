//! The C ABI. Every `extern "C"` item of sesh lives here, and each one is thin: it checks
//! its arguments, calls the tracker inside a panic boundary, and maps errors to statuses.

mod handle;
mod options;
mod status;
mod store;

pub use handle::*;
pub use options::*;
pub use status::*;
pub use store::*;

use crate::error::{Error, ErrorKind};
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs an export's body; a panic becomes `SESH_STATUS_PANIC` instead of crossing the ABI.
fn boundary(body: impl FnOnce() -> SeshStatus) -> SeshStatus {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(SeshStatus::Panic)
}

/// The boundary for an export that returns a pointer: NULL if it panicked.
fn boundary_ptr<T>(body: impl FnOnce() -> *const T) -> *const T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(std::ptr::null())
}

/// A required string argument.
///
/// # Safety
/// `text` is NULL or points to a NUL-terminated string readable for the call.
unsafe fn required_str<'a>(text: *const c_char, what: &str) -> Result<&'a str, Error> {
    if text.is_null() {
        return Err(Error::new(
            ErrorKind::NullArgument,
            format!("{what} is NULL"),
        ));
    }
    // SAFETY: non-NULL and NUL-terminated, as the caller promises.
    unsafe { CStr::from_ptr(text) }
        .to_str()
        .map_err(|_| Error::new(ErrorKind::InvalidUtf8, format!("{what} is not UTF-8")))
}

/// An optional string argument: NULL means "none".
///
/// # Safety
/// As [`required_str`].
unsafe fn optional_str<'a>(text: *const c_char, what: &str) -> Result<Option<&'a str>, Error> {
    if text.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded from the caller.
    unsafe { required_str(text, what) }.map(Some)
}

/// Checks an out-parameter before anything else happens, so that a NULL one changes nothing.
fn out_param<'a, T>(out: *mut T, what: &str) -> Result<&'a mut T, Error> {
    // SAFETY: the caller passes NULL or a pointer writable for the call.
    unsafe { out.as_mut() }
        .ok_or_else(|| Error::new(ErrorKind::NullArgument, format!("{what} is NULL")))
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

fn optional_owned_string(text: Option<String>) -> *mut c_char {
    text.map_or(std::ptr::null_mut(), owned_string)
}

/// Frees a string that sesh returned. NULL is ignored.
///
/// # Safety
/// `text` is NULL or a string returned by sesh and not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_string_free(text: *mut c_char) {
    let _ = catch_unwind(|| {
        if !text.is_null() {
            // SAFETY: it came from `CString::into_raw` in `owned_string`.
            drop(unsafe { CString::from_raw(text) });
        }
    });
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
