//! The adapter that makes a host's C callbacks a [`Store`].
//!
//! Keys: the installation's user id lives under `sesh.user_id`, a namespace's state under
//! `sesh.state.<namespace>`. Values are text (a bare UUID, a state's JSON). sesh only reads and overwrites records,
//! so the host implements two calls: get and set.

use super::{SharedUser, StorageMechanism, Store};
use crate::error::{Error, ErrorKind, Result};
use crate::ffi::{SeshCustomStore, SeshStatus, SeshStoreSink};
use std::ffi::CString;
use std::sync::Arc;

const USER_KEY: &str = "sesh.user_id";
const STATE_KEY_PREFIX: &str = "sesh.state.";

/// The host's store, shared by every handle opened from the same options; its destroy
/// function runs once, when the last of them is dropped.
pub struct HostStore {
    callbacks: SeshCustomStore,
    storage: StorageMechanism,
    shared_user: Arc<SharedUser>,
}

// SAFETY: the header tells the host that its store is called from any thread (one call at a
// time per handle); sesh itself only passes the user data back.
unsafe impl Send for HostStore {}
unsafe impl Sync for HostStore {}

impl HostStore {
    /// Takes over the host's store; its `get` and `set` were checked to be present.
    pub fn new(callbacks: SeshCustomStore, storage: StorageMechanism) -> Arc<HostStore> {
        Arc::new(HostStore {
            callbacks,
            storage,
            shared_user: Arc::default(),
        })
    }

    fn get(&self, key: &str) -> Result<Option<String>> {
        let key = CString::new(key).map_err(|_| Error::invalid("a store key holds a NUL"))?;
        let Some(get) = self.callbacks.get else {
            return Err(Error::store("the custom store has no get function"));
        };
        let mut sink = SeshStoreSink::default();
        // SAFETY: the host registered `get` with this user data; `key` and `sink` live
        // through the call.
        let status = unsafe { get(self.callbacks.user_data, key.as_ptr(), &mut sink) };
        check(status, "get")?;
        match sink.into_value() {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| Error::corrupt("the custom store returned bytes that are not UTF-8")),
        }
    }

    fn set(&self, key: &str, value: &str) -> Result<()> {
        let key = CString::new(key).map_err(|_| Error::invalid("a store key holds a NUL"))?;
        let value = CString::new(value).map_err(|_| Error::invalid("a value holds a NUL"))?;
        let Some(set) = self.callbacks.set else {
            return Err(Error::store("the custom store has no set function"));
        };
        // SAFETY: as in `get`.
        let status = unsafe { set(self.callbacks.user_data, key.as_ptr(), value.as_ptr()) };
        check(status, "set")
    }
}

impl Drop for HostStore {
    fn drop(&mut self) {
        if let Some(destroy) = self.callbacks.destroy {
            // SAFETY: the last reference is gone: this is the one call the header promises.
            unsafe { destroy(self.callbacks.user_data) }
        }
    }
}

/// What the host's return value means.
fn check(status: i32, call: &str) -> Result<()> {
    match status {
        s if s == SeshStatus::Ok as i32 => Ok(()),
        s if s == SeshStatus::CorruptState as i32 => Err(Error::corrupt(format!(
            "the custom store's {call} reported corrupt data"
        ))),
        s => Err(Error::new(
            ErrorKind::StoreError,
            format!("the custom store's {call} failed with status {s}"),
        )),
    }
}

/// One handle's view of a host store.
pub struct CallbackStore {
    host: Arc<HostStore>,
}

impl CallbackStore {
    pub fn new(host: Arc<HostStore>) -> Self {
        CallbackStore { host }
    }
}

impl Store for CallbackStore {
    fn storage_mechanism(&self) -> StorageMechanism {
        self.host.storage
    }

    fn load_user(&mut self) -> Result<Option<String>> {
        self.host.get(USER_KEY)
    }

    fn shared_user(&self) -> Arc<SharedUser> {
        self.host.shared_user.clone()
    }

    fn save_user(&mut self, user_id: &str) -> Result<()> {
        self.host.set(USER_KEY, user_id)
    }

    fn load_state(&mut self, namespace: &str) -> Result<Option<String>> {
        self.host.get(&format!("{STATE_KEY_PREFIX}{namespace}"))
    }

    fn save_state(&mut self, namespace: &str, state: &str) -> Result<()> {
        self.host
            .set(&format!("{STATE_KEY_PREFIX}{namespace}"), state)
    }
}
