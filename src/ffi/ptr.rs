//! Every pointer an export is handed goes through one of these checks, so that every NULL
//! answers `SESH_STATUS_NULL_ARGUMENT` with a message naming the argument, every string
//! that is not UTF-8 `SESH_STATUS_INVALID_UTF8`, and no slice is ever built from a length
//! the host made up (rustls-ffi's `try_ref_from_ptr!` and friends, as functions).
//!
//! Each is `unsafe`: it dereferences a raw pointer, or makes a reference or slice from one,
//! on the strength of what the export's own `# Safety` section asks of its caller.

use crate::error::{Error, ErrorKind};
use std::ffi::{CStr, CString, c_char};

fn null(what: &str) -> Error {
    Error::new(ErrorKind::NullArgument, format!("{what} is NULL"))
}

/// A required pointer argument, borrowed.
///
/// # Safety
/// `ptr` is NULL, or points to a live, aligned `T` that nothing mutates during `'a`.
pub(super) unsafe fn try_ref<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Error> {
    // SAFETY: NULL or valid for reads during 'a, as the caller promises.
    unsafe { ptr.as_ref() }.ok_or_else(|| null(what))
}

/// A required pointer argument, borrowed mutably: options being set, an out-parameter
/// (checked before anything happens, so that a NULL one changes nothing).
///
/// # Safety
/// `ptr` is NULL, or points to an aligned `T` that nothing else reads or writes during
/// `'a`. Options are a live `SeshOptions`; an out-parameter may hold garbage, which is why
/// exports only ever write through it (its types are `Copy`: nothing is read or dropped).
pub(super) unsafe fn try_mut<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, Error> {
    // SAFETY: NULL or valid for reads and writes during 'a, as the caller promises.
    unsafe { ptr.as_mut() }.ok_or_else(|| null(what))
}

/// A required string argument.
///
/// # Safety
/// `text` is NULL, or points to a NUL-terminated string that stays readable and unchanged
/// during `'a`.
pub(super) unsafe fn try_str<'a>(text: *const c_char, what: &str) -> Result<&'a str, Error> {
    if text.is_null() {
        return Err(null(what));
    }
    // SAFETY: non-NULL and NUL-terminated, as the caller promises.
    unsafe { CStr::from_ptr(text) }
        .to_str()
        .map_err(|_| Error::new(ErrorKind::InvalidUtf8, format!("{what} is not UTF-8")))
}

/// An optional string argument: NULL means "none".
///
/// # Safety
/// As [`try_str`].
pub(super) unsafe fn try_optional_str<'a>(
    text: *const c_char,
    what: &str,
) -> Result<Option<&'a str>, Error> {
    if text.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded from the caller.
    unsafe { try_str(text, what) }.map(Some)
}

/// The length of the slice sesh makes from a caller's buffer of `capacity` bytes that
/// must hold at least `needed`: `INVALID_ARGUMENT` below it, and never more than `needed`
/// above it, whatever `capacity` says (sesh writes at most `needed` bytes, and a slice may
/// not span more than `isize::MAX` bytes).
pub(super) fn clamped_capacity(capacity: usize, needed: usize, what: &str) -> Result<usize, Error> {
    if capacity < needed {
        return Err(Error::invalid(format!(
            "{what} holds {capacity} bytes; it needs at least {needed}"
        )));
    }
    Ok(needed)
}

/// A required buffer sesh writes into: at least `needed` bytes, of which sesh uses the
/// first `needed` only ([`clamped_capacity`]).
///
/// # Safety
/// `buffer` is NULL, or writable for `min(capacity, needed)` bytes, and nothing else reads
/// or writes them during `'a`.
pub(super) unsafe fn try_buffer<'a>(
    buffer: *mut c_char,
    capacity: usize,
    needed: usize,
    what: &str,
) -> Result<&'a mut [u8], Error> {
    if buffer.is_null() {
        return Err(null(what));
    }
    let length = clamped_capacity(capacity, needed, what)?;
    debug_assert!(length <= needed && length <= isize::MAX as usize);
    // SAFETY: non-NULL, writable for `length` <= min(capacity, needed) bytes, as the caller
    // promises; u8 needs no alignment; `length` is far below isize::MAX.
    Ok(unsafe { std::slice::from_raw_parts_mut(buffer.cast::<u8>(), length) })
}

/// Bytes the host hands in: `length` bytes at `data`; NULL with length 0 is empty.
///
/// # Safety
/// `data` is NULL, or readable for `length` bytes that nothing changes during `'a`.
pub(super) unsafe fn try_bytes<'a>(
    data: *const c_char,
    length: usize,
    what: &str,
) -> Result<&'a [u8], Error> {
    if length == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(null(what));
    }
    if length > isize::MAX as usize {
        return Err(Error::invalid(format!(
            "{what} is {length} bytes long; no object is longer than {}",
            isize::MAX
        )));
    }
    // SAFETY: non-NULL and readable for `length` bytes, as the caller promises; u8 needs
    // no alignment; `length` <= isize::MAX was checked above.
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), length) })
}

/// Frees what `Box::into_raw` made (options, a handle). NULL is ignored.
///
/// # Safety
/// `ptr` is NULL or came from `Box::<T>::into_raw`, is not freed yet, and is used by no one
/// else, now or later.
pub(super) unsafe fn drop_boxed<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: as the caller promises.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// Frees a string `CString::into_raw` made. NULL is ignored.
///
/// # Safety
/// `text` is NULL or came from `CString::into_raw`, is not freed yet, and is used by no one
/// else, now or later.
pub(super) unsafe fn drop_owned_string(text: *mut c_char) {
    if !text.is_null() {
        // SAFETY: as the caller promises.
        drop(unsafe { CString::from_raw(text) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capacity_is_clamped_to_what_sesh_writes() {
        let n = 512;
        assert_eq!(clamped_capacity(n, n, "b"), Ok(n));
        assert_eq!(clamped_capacity(n + 1, n, "b"), Ok(n));
        assert_eq!(clamped_capacity(isize::MAX as usize, n, "b"), Ok(n));
        assert_eq!(clamped_capacity(isize::MAX as usize + 1, n, "b"), Ok(n));
        assert_eq!(clamped_capacity(usize::MAX, n, "b"), Ok(n));
        for small in [0, 1, n - 1] {
            let err = clamped_capacity(small, n, "b").unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidArgument);
        }
    }

    #[test]
    fn a_buffer_of_any_claimed_capacity_becomes_a_slice_of_the_needed_length() {
        let mut bytes = [0u8; 600];
        for capacity in [512, 513, 600, isize::MAX as usize, usize::MAX] {
            // SAFETY: `bytes` is writable for 600 >= min(capacity, 512) bytes.
            let slice = unsafe { try_buffer(bytes.as_mut_ptr().cast(), capacity, 512, "b") };
            assert_eq!(slice.map(|s| s.len()), Ok(512));
        }
        // SAFETY: NULL is allowed.
        let err = unsafe { try_buffer(std::ptr::null_mut(), usize::MAX, 512, "b") };
        assert_eq!(err.unwrap_err().kind, ErrorKind::NullArgument);
        // SAFETY: as above; too small is refused before any slice is made.
        let err = unsafe { try_buffer(bytes.as_mut_ptr().cast(), 511, 512, "b") };
        assert_eq!(err.unwrap_err().kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn bytes_longer_than_any_object_are_refused() {
        let byte = 0 as c_char;
        for length in [isize::MAX as usize + 1, usize::MAX] {
            // SAFETY: refused before any slice is made.
            let err = unsafe { try_bytes(&byte, length, "data") }.unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidArgument);
        }
        // SAFETY: NULL with length 0 is empty.
        assert_eq!(
            unsafe { try_bytes(std::ptr::null(), 0, "data") },
            Ok(&[][..])
        );
        // SAFETY: NULL with a length is refused.
        let err = unsafe { try_bytes(std::ptr::null(), 1, "data") }.unwrap_err();
        assert_eq!(err.kind, ErrorKind::NullArgument);
    }

    #[test]
    fn null_pointers_name_the_argument() {
        // SAFETY: NULL is allowed.
        let err = unsafe { try_ref(std::ptr::null::<i32>(), "out_x") }.unwrap_err();
        assert_eq!(err.kind, ErrorKind::NullArgument);
        assert!(err.message.contains("out_x"));
        // SAFETY: as above.
        let err = unsafe { try_mut(std::ptr::null_mut::<i32>(), "out_y") }.unwrap_err();
        assert!(err.message.contains("out_y"));
        // SAFETY: as above.
        let err = unsafe { try_str(std::ptr::null(), "name") }.unwrap_err();
        assert!(err.message.contains("name"));
        // SAFETY: as above.
        assert_eq!(
            unsafe { try_optional_str(std::ptr::null(), "id") },
            Ok(None)
        );
        // SAFETY: a NUL-terminated literal.
        let err = unsafe { try_str(c"\xff".as_ptr(), "id") }.unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidUtf8);
    }
}
