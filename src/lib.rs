//! sesh: a client-session engine for analytics trackers.
//!
//! The engine ([`engine::Engine`]) is a pure state machine: it is handed the time, draws ids
//! from an injected generator and returns what must be persisted and reported. The
//! [`tracker::Tracker`] makes it safe to share between threads and drives the store and the
//! host's hooks outside the engine's lock. Every `extern "C"` item lives in `ffi`.
//!
//! Features (both on by default): `sqlite`, the SQLite store and the coordination of the
//! handles and processes on one file; `c-api`, the C ABI (`ffi`) and its header. Without
//! them sesh is the engine, the tracker, the memory store and the write path for memory and
//! custom stores, which is what the WebAssembly build (`bindings/js`) uses.

pub mod clock;
pub mod engine;
pub mod error;
#[cfg(feature = "c-api")]
pub mod ffi;
pub mod id;
pub mod render;
pub mod store;
pub mod sync;
pub mod timestamp;
pub mod tracker;

/// The statuses' one table (`src/ffi/status.rs`): with the C ABI it is `ffi`'s; without,
/// the same file alone, for the statuses' names ([`ErrorKind::name`]).
#[cfg(feature = "c-api")]
pub(crate) use ffi::SeshStatus;
/// cbindgen:ignore
#[cfg(not(feature = "c-api"))]
#[path = "ffi/status.rs"]
#[allow(dead_code)]
mod status;
#[cfg(not(feature = "c-api"))]
pub(crate) use status::SeshStatus;

pub use engine::{Config, EndReason, Engine, Event, Notice};
pub use error::{Error, ErrorKind};
