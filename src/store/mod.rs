//! Where sessions are kept between runs.
//!
//! A store keeps, per file or database, one installation user id shared by every namespace,
//! and one JSON record of state per namespace (see [`crate::engine::state`]). The engine
//! never calls a store: the [`Tracker`](crate::tracker::Tracker) does, outside the engine's
//! lock, and retries a write that failed.

#[cfg(feature = "c-api")]
pub mod callback;
pub mod memory;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use crate::error::Result;
pub use crate::render::StorageMechanism;
pub use memory::MemoryStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use uuid::Uuid;

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
    /// Keeps `candidate` as the installation's user id unless one is kept already, and
    /// returns the one kept: two first opens at the same moment then agree. The default
    /// cannot tell and keeps the candidate.
    fn claim_user(&mut self, candidate: &str) -> Result<String> {
        self.save_user(candidate)?;
        Ok(candidate.to_owned())
    }

    /// Writes the user id (when given) and a namespace's state together: in one
    /// transaction where the store has them.
    fn save(&mut self, user_id: Option<&str>, namespace: &str, state: &str) -> Result<()> {
        if let Some(user_id) = user_id {
            self.save_user(user_id)?;
        }
        self.save_state(namespace, state)
    }

    /// The database file, for a store that every handle and process on it share (SQLite):
    /// they coordinate through a file beside it. `None`: the store is private to its handle.
    fn database_path(&self) -> Option<&std::path::Path> {
        None
    }

    /// Keeps `candidate` as the store's id unless it has one, and returns the one kept: it
    /// ties the coordination file to its database.
    fn claim_store_id(&mut self, candidate: &str) -> Result<String> {
        Ok(candidate.to_owned())
    }

    /// What every handle on this store in this process shares to learn of a user reset.
    /// The default is shared with no one.
    fn shared_user(&self) -> Arc<SharedUser> {
        Arc::default()
    }

    /// What opening the store found damaged and repaired (reported as faults).
    fn take_repairs(&mut self) -> Vec<crate::error::Error> {
        Vec::new()
    }

    /// What opening chose that the host should hear, as information (the log callback).
    fn take_notes(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// Whether anything but the handle that owns this store can ever read what it holds. A
    /// store nothing else reads (a memory store no one kept a clone of) is not written to:
    /// the handle's engine already holds everything the store would.
    fn read_by_others(&self) -> bool {
        true
    }

    /// The handle closes: make everything written so far durable.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

/// The installation's user id as the handles on one store in this process last set it, and
/// an epoch that goes up each time it changes: checking it costs an atomic load per event.
#[derive(Debug, Default)]
pub struct SharedUser {
    epoch: AtomicU64,
    user: Mutex<Option<Uuid>>,
}

impl SharedUser {
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub fn get(&self) -> Option<Uuid> {
        *self.user.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets a new user id; returns the new epoch.
    pub fn set(&self, user: Uuid) -> u64 {
        *self.user.lock().unwrap_or_else(PoisonError::into_inner) = Some(user);
        self.epoch.fetch_add(1, Ordering::AcqRel) + 1
    }
}
