//! Statuses: what every fallible call returns.

use crate::error::{Error, ErrorKind};
use std::ffi::{CStr, c_char};

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
    /// is not a whole number of seconds >= 1, an unknown enum value, a bad timestamp.
    InvalidArgument = 2,
    /// A required pointer argument was NULL.
    NullArgument = 3,
    /// A string argument was not UTF-8.
    InvalidUtf8 = 4,
    /// The handle was closed.
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

impl SeshStatus {
    const ALL: [SeshStatus; 11] = [
        SeshStatus::Ok,
        SeshStatus::NoSession,
        SeshStatus::InvalidArgument,
        SeshStatus::NullArgument,
        SeshStatus::InvalidUtf8,
        SeshStatus::Closed,
        SeshStatus::StoreError,
        SeshStatus::CorruptState,
        SeshStatus::CallbackError,
        SeshStatus::Unsupported,
        SeshStatus::Panic,
    ];

    fn from_code(code: i32) -> Option<SeshStatus> {
        Self::ALL.into_iter().find(|s| *s as i32 == code)
    }

    pub(crate) fn kind(self) -> Option<ErrorKind> {
        Some(match self {
            SeshStatus::Ok => return None,
            SeshStatus::NoSession => ErrorKind::NoSession,
            SeshStatus::InvalidArgument => ErrorKind::InvalidArgument,
            SeshStatus::NullArgument => ErrorKind::NullArgument,
            SeshStatus::InvalidUtf8 => ErrorKind::InvalidUtf8,
            SeshStatus::Closed => ErrorKind::Closed,
            SeshStatus::StoreError => ErrorKind::StoreError,
            SeshStatus::CorruptState => ErrorKind::CorruptState,
            SeshStatus::CallbackError => ErrorKind::CallbackError,
            SeshStatus::Unsupported => ErrorKind::Unsupported,
            SeshStatus::Panic => ErrorKind::Panic,
        })
    }

    fn name(self) -> &'static CStr {
        self.kind().map_or(c"ok", ErrorKind::c_name)
    }

    fn message(self) -> &'static CStr {
        match self {
            SeshStatus::Ok => c"success",
            SeshStatus::NoSession => c"there is no current session",
            SeshStatus::InvalidArgument => c"an argument has the wrong form or is out of range",
            SeshStatus::NullArgument => c"a required pointer argument was NULL",
            SeshStatus::InvalidUtf8 => c"a string argument was not UTF-8",
            SeshStatus::Closed => c"the handle is closed",
            SeshStatus::StoreError => c"a store call failed",
            SeshStatus::CorruptState => c"persisted state was unreadable; sesh started clean",
            SeshStatus::CallbackError => c"a host callback answered something unusable",
            SeshStatus::Unsupported => c"not available in this build or configuration",
            SeshStatus::Panic => c"an internal error was caught at the API boundary",
        }
    }
}

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

impl From<&Error> for SeshStatus {
    fn from(err: &Error) -> Self {
        err.kind.into()
    }
}

/// The status's name as `sesh-replay` prints it ("ok", "no_session", ...), or NULL for a value
/// that is no status. Static: never free it.
#[unsafe(no_mangle)]
pub extern "C" fn sesh_status_name(status: i32) -> *const c_char {
    super::boundary_ptr(|| {
        SeshStatus::from_code(status).map_or(std::ptr::null(), |s| s.name().as_ptr())
    })
}

/// A sentence describing the status, or NULL for a value that is no status. Static: never
/// free it.
#[unsafe(no_mangle)]
pub extern "C" fn sesh_status_message(status: i32) -> *const c_char {
    super::boundary_ptr(|| {
        SeshStatus::from_code(status).map_or(std::ptr::null(), |s| s.message().as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_distinct_name_and_maps_back() {
        let mut names = std::collections::HashSet::new();
        for status in SeshStatus::ALL {
            assert!(names.insert(status.name()));
            if let Some(kind) = status.kind() {
                assert_eq!(SeshStatus::from(kind), status);
            }
        }
        assert_eq!(SeshStatus::from_code(11), None);
        assert_eq!(SeshStatus::from_code(-1), None);
    }
}
