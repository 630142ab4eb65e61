//! sesh: a client-session engine for analytics trackers.
//!
//! The engine ([`engine::Engine`]) is a pure state machine: it is handed the time, draws ids
//! from an injected generator and returns what must be persisted and reported. The
//! [`tracker::Tracker`] makes it safe to share between threads and drives the store and the
//! host's hooks outside the engine's lock. Every `extern "C"` item lives in [`ffi`].

pub mod clock;
pub mod engine;
pub mod error;
pub mod ffi;
pub mod id;
pub mod render;
pub mod store;
pub mod sync;
pub mod timestamp;
pub mod tracker;

pub use engine::{Config, EndReason, Engine, Event, Notice};
pub use error::{Error, ErrorKind};
