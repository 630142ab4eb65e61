//! Statuses: what every fallible call returns.
//!
//! The enum is written out below because cbindgen reads source, not macro output (it
//! expands no macro but `bitflags!` on a stable toolchain); everything else about a status,
//! its name and its message, is in the one table `statuses!` below, next to the variant it
//! belongs to. The compiler holds the two together: the table's matches are exhaustive (a
//! variant missing from it does not compile), and a constant check fails the build unless
//! the table lists every value from 0 up, in order, once.

use crate::error::ErrorKind;
use std::ffi::CStr;
#[cfg(feature = "c-api")]
use std::ffi::c_char;

/// What a call did. Values are stable: new ones may be added, none is reused.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeshStatus {
    /// It worked.
    Ok = 0,
    /// There is no current session (a getter, `sesh_session_end`, or an event in manual
    /// mode outside a session).
    NoSession = 1,
    /// An argument has the wrong form or is out of range: a malformed UUID, a timeout that
    /// is not a whole number of seconds >= 1, an unknown enum value, a bad timestamp, a
    /// buffer too small.
    InvalidArgument = 2,
    /// A required pointer argument was NULL.
    NullArgument = 3,
    /// A string argument was not UTF-8.
    InvalidUtf8 = 4,
    /// The handle was closed. A call on a closed handle answers this before it looks at
    /// any other argument.
    Closed = 5,
    /// A store call failed.
    StoreError = 6,
    /// Persisted state could not be read; sesh started clean.
    CorruptState = 7,
    /// A host callback answered something unusable (e.g. a clock outside 0..year 9999).
    CallbackError = 8,
    /// Not available in this build or configuration.
    Unsupported = 9,
    /// An internal error was caught at the boundary; the handle stays usable.
    Panic = 10,
}

/// The one table of statuses: `Variant => "name", "message";` in value order. Generates
/// `SeshStatus::ALL`, `name`, `name_str` and `message`.
macro_rules! statuses {
    ($($variant:ident => $name:literal, $message:literal;)+) => {
        impl SeshStatus {
            /// Every status, in value order.
            pub(crate) const ALL: &'static [SeshStatus] = &[$(SeshStatus::$variant),+];

            /// The name `sesh_status_name` gives and `sesh-replay` prints.
            pub(crate) const fn name_str(self) -> &'static str {
                match self {
                    $(SeshStatus::$variant => $name,)+
                }
            }

            /// The name, NUL-terminated.
            pub(crate) const fn name(self) -> &'static CStr {
                match self {
                    $(SeshStatus::$variant => const { cstr(concat!($name, "\0")) },)+
                }
            }

            /// The sentence `sesh_status_message` gives.
            pub(crate) const fn message(self) -> &'static CStr {
                match self {
                    $(SeshStatus::$variant => const { cstr(concat!($message, "\0")) },)+
                }
            }
        }
    };
}

statuses! {
    Ok => "ok", "success";
    NoSession => "no_session", "there is no current session";
    InvalidArgument => "invalid_argument", "an argument has the wrong form or is out of range";
    NullArgument => "null_argument", "a required pointer argument was NULL";
    InvalidUtf8 => "invalid_utf8", "a string argument was not UTF-8";
    Closed => "closed", "the handle is closed";
    StoreError => "store_error", "a store call failed";
    CorruptState => "corrupt_state", "persisted state was unreadable; sesh started clean";
    CallbackError => "callback_error", "a host callback answered something unusable";
    Unsupported => "unsupported", "not available in this build or configuration";
    Panic => "panic", "an internal error was caught at the API boundary";
}

/// A NUL-terminated literal as a `CStr`, at compile time.
const fn cstr(text: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(text.as_bytes()) {
        Ok(text) => text,
        Err(_) => panic!("a status name or message holds a NUL"),
    }
}

// The table lists each value once, from 0 up, in order; so `from_code` is an index.
const _: () = {
    let mut i = 0;
    while i < SeshStatus::ALL.len() {
        assert!(SeshStatus::ALL[i] as i32 == i as i32);
        i += 1;
    }
};

impl SeshStatus {
    fn from_code(code: i32) -> Option<SeshStatus> {
        usize::try_from(code)
            .ok()
            .and_then(|i| SeshStatus::ALL.get(i).copied())
    }
}

/// The one mapping from the engine's failures to statuses.
impl From<ErrorKind> for SeshStatus {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::NoSession => SeshStatus::NoSession,
            ErrorKind::InvalidArgument => SeshStatus::InvalidArgument,
            ErrorKind::NullArgument => SeshStatus::NullArgument,
            ErrorKind::InvalidUtf8 => SeshStatus::InvalidUtf8,
            ErrorKind::Closed => SeshStatus::Closed,
            ErrorKind::StoreError => SeshStatus::StoreError,
            ErrorKind::CorruptState => SeshStatus::CorruptState,
            ErrorKind::CallbackError => SeshStatus::CallbackError,
            ErrorKind::Unsupported => SeshStatus::Unsupported,
            ErrorKind::Panic => SeshStatus::Panic,
        }
    }
}

impl From<&crate::error::Error> for SeshStatus {
    fn from(err: &crate::error::Error) -> Self {
        err.kind.into()
    }
}

/// The status's name as `sesh-replay` prints it ("ok", "no_session", ...), or NULL for a value
/// that is no status. Static: never free it. Never fails (a caught panic also gives NULL).
#[cfg(feature = "c-api")]
#[unsafe(no_mangle)]
pub extern "C" fn sesh_status_name(status: i32) -> *const c_char {
    super::boundary_ptr(|| {
        SeshStatus::from_code(status).map_or(std::ptr::null(), |s| s.name().as_ptr())
    })
}

/// A sentence describing the status, or NULL for a value that is no status. Static: never
/// free it. Never fails (a caught panic also gives NULL).
#[cfg(feature = "c-api")]
#[unsafe(no_mangle)]
pub extern "C" fn sesh_status_message(status: i32) -> *const c_char {
    super::boundary_ptr(|| {
        SeshStatus::from_code(status).map_or(std::ptr::null(), |s| s.message().as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn every_status_has_a_distinct_name_and_message() {
        let mut names = std::collections::HashSet::new();
        let mut messages = std::collections::HashSet::new();
        for (code, status) in SeshStatus::ALL.iter().enumerate() {
            assert_eq!(SeshStatus::from_code(code as i32), Some(*status));
            assert!(names.insert(status.name()));
            assert!(messages.insert(status.message()));
            assert_eq!(status.name().to_str(), Ok(status.name_str()));
            assert!(!status.message().is_empty());
        }
        assert_eq!(SeshStatus::from_code(SeshStatus::ALL.len() as i32), None);
        assert_eq!(SeshStatus::from_code(-1), None);
        assert_eq!(SeshStatus::from_code(i32::MIN), None);
    }

    #[test]
    fn every_error_kind_maps_to_a_status_of_its_own_name() {
        let kinds = [
            ErrorKind::NoSession,
            ErrorKind::InvalidArgument,
            ErrorKind::NullArgument,
            ErrorKind::InvalidUtf8,
            ErrorKind::Closed,
            ErrorKind::StoreError,
            ErrorKind::CorruptState,
            ErrorKind::CallbackError,
            ErrorKind::Unsupported,
            ErrorKind::Panic,
        ];
        let mut statuses = std::collections::HashSet::new();
        for kind in kinds {
            let status = SeshStatus::from(kind);
            assert_ne!(status, SeshStatus::Ok);
            assert!(statuses.insert(status as i32), "{kind:?} shares a status");
            assert_eq!(kind.name(), status.name_str());
        }
        // Every status but OK is some kind's.
        assert_eq!(statuses.len(), SeshStatus::ALL.len() - 1);
        let err = Error::new(ErrorKind::Closed, "x");
        assert_eq!(err.to_string(), "closed: x");
    }
}
