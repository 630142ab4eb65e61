//! A store in memory: state lives as long as the last clone of the store.

use super::{SharedUser, StorageMechanism, Store};
use crate::error::Result;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug, Default)]
struct Contents {
    user: Option<String>,
    states: HashMap<String, String>,
}

/// Clones share one content, so that a test (or a host) can close a handle and open another
/// on what the first one left.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    contents: Arc<Mutex<Contents>>,
    shared_user: Arc<SharedUser>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Contents) -> T) -> T {
        let mut contents = self.contents.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut contents)
    }

    /// Replaces what is kept for `namespace`, as a test's stand-in for a damaged store.
    pub fn put_raw_state(&self, namespace: &str, state: &str) {
        self.with(|c| c.states.insert(namespace.to_owned(), state.to_owned()));
    }

    /// Replaces the kept user id, as a test's stand-in for a damaged store.
    pub fn put_raw_user(&self, user: &str) {
        self.with(|c| c.user = Some(user.to_owned()));
    }

    /// The kept user id.
    pub fn load_user_now(&self) -> Option<String> {
        self.with(|c| c.user.clone())
    }

    /// What is kept for `namespace`.
    pub fn raw_state(&self, namespace: &str) -> Option<String> {
        self.with(|c| c.states.get(namespace).cloned())
    }
}

impl Store for MemoryStore {
    fn storage_mechanism(&self) -> StorageMechanism {
        StorageMechanism::LocalStorage
    }

    fn read_by_others(&self) -> bool {
        // The handle owns this clone; another one is the only way to read the contents.
        Arc::strong_count(&self.contents) > 1
    }

    fn load_user(&mut self) -> Result<Option<String>> {
        Ok(self.with(|c| c.user.clone()))
    }

    fn shared_user(&self) -> Arc<SharedUser> {
        self.shared_user.clone()
    }

    fn claim_user(&mut self, candidate: &str) -> Result<String> {
        Ok(self.with(|c| c.user.get_or_insert_with(|| candidate.to_owned()).clone()))
    }

    fn save_user(&mut self, user_id: &str) -> Result<()> {
        self.with(|c| c.user = Some(user_id.to_owned()));
        Ok(())
    }

    fn load_state(&mut self, namespace: &str) -> Result<Option<String>> {
        Ok(self.with(|c| c.states.get(namespace).cloned()))
    }

    fn save_state(&mut self, namespace: &str, state: &str) -> Result<()> {
        self.with(|c| match c.states.get_mut(namespace) {
            Some(kept) => {
                kept.clear();
                kept.push_str(state);
            }
            None => {
                c.states.insert(namespace.to_owned(), state.to_owned());
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_store_someone_kept_a_clone_of_is_read_by_others() {
        let store = MemoryStore::new();
        assert!(!store.read_by_others());
        let kept = store.clone();
        assert!(store.read_by_others());
        drop(kept);
        assert!(!store.read_by_others());
    }
}
