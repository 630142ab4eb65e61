//! Where sessions are kept between runs.
//!
//! A store keeps, per file or database, one installation user id shared by every namespace,
//! and one JSON record of state per namespace (see [`crate::engine::state`]). The engine
//! never calls a store: the [`Tracker`](crate::tracker::Tracker) does, outside the engine's
//! lock, and retries a write that failed.

pub mod memory;

use crate::error::Result;
pub use crate::render::StorageMechanism;
pub use memory::MemoryStore;

/// A place to keep the user id and each namespace's state.
///
/// Reads return the text as stored: deciding whether it is readable is the caller's job, so
/// that every store reports unreadable data the same way (`corrupt_state`). A failing call
/// returns `store_error`.
pub trait Store: Send {
    /// What the entity's `storageMechanism` says.
    fn storage_mechanism(&self) -> StorageMechanism;
    /// The installation's user id, if one was kept.
    fn load_user(&mut self) -> Result<Option<String>>;
    fn save_user(&mut self, user_id: &str) -> Result<()>;
    /// The state kept for `namespace`, if any.
    fn load_state(&mut self, namespace: &str) -> Result<Option<String>>;
    fn save_state(&mut self, namespace: &str, state: &str) -> Result<()>;
    /// The handle closes: make everything written so far durable.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}
