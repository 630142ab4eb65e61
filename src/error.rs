//! What can go wrong, as the engine and its stores say it.

use std::fmt;

/// The kinds of failure; each maps to one status of the C ABI (`From<ErrorKind> for
/// SeshStatus`, the one mapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// There is no session where the call needs one.
    NoSession,
    /// An argument has the wrong form or is out of range.
    InvalidArgument,
    /// A required pointer was NULL.
    NullArgument,
    /// A string was not UTF-8.
    InvalidUtf8,
    /// The handle was closed.
    Closed,
    /// A store call failed.
    StoreError,
    /// Persisted state could not be read.
    CorruptState,
    /// A host callback answered something unusable.
    CallbackError,
    /// The operation is not available in this build or configuration.
    Unsupported,
    /// An internal bug was caught at the API boundary.
    Panic,
}

impl ErrorKind {
    /// The name `sesh-replay` prints: the name of the status this kind maps to (the one
    /// table of names and messages is in `src/ffi/status.rs`).
    pub fn name(self) -> &'static str {
        crate::SeshStatus::from(self).name_str()
    }
}

/// A failure with a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub fn no_session() -> Self {
        Error::new(ErrorKind::NoSession, "there is no current session")
    }

    pub fn closed() -> Self {
        Error::new(ErrorKind::Closed, "the handle is closed")
    }

    pub fn store(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::StoreError, message)
    }

    pub fn corrupt(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::CorruptState, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
