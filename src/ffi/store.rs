//! Custom stores written by the host in C.

use super::ptr::{try_bytes, try_mut};
use super::{SeshStatus, boundary};
use std::ffi::{c_char, c_void};

/// Where a custom store's `get` hands back what it found: sesh copies the bytes, so no
/// allocator crosses the ABI. Valid only during that `get` call.
#[derive(Default)]
pub struct SeshStoreSink {
    value: Option<Vec<u8>>,
}

impl SeshStoreSink {
    pub(crate) fn into_value(self) -> Option<Vec<u8>> {
        self.value
    }
}

/// A store the host writes: user data, one function per operation, and a destroy function.
///
/// Keys are UTF-8 text: `sesh.user_id` holds the installation's user id (shared by every
/// namespace), `sesh.state.<namespace>` a namespace's state. Values are text to keep as
/// given: the user id as a bare UUID, a state as JSON. sesh reads and overwrites records;
/// it never deletes one.
///
/// - `get` looks `key` up. Found: pass the value to `sesh_store_sink_write(sink, ...)` and
///   return `SESH_STATUS_OK`. Not found: return `SESH_STATUS_OK` without writing the sink.
///   Failed: return `SESH_STATUS_STORE_ERROR` (any status but OK counts as a failure;
///   `SESH_STATUS_CORRUPT_STATE` says the data is damaged). When a `get` fails at open,
///   the handle tracks in memory and writes nothing to the store until the next open, so
///   that a passing failure cannot overwrite the records it could not read.
/// - `set` keeps `value` under `key`, replacing what was there; returns `SESH_STATUS_OK` or
///   a failure status. sesh keeps tracking when it fails and writes again later.
/// - `destroy` (may be NULL) runs exactly once, when neither the options nor any handle
///   opened with them use the store any more.
///
/// Calls come from any thread that calls sesh, one at a time for each handle, and no sesh
/// lock is held while they run.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SeshCustomStore {
    pub user_data: *mut c_void,
    /// What the entity's `storageMechanism` says: a `SeshStorageMechanism` value.
    pub storage_mechanism: i32,
    pub get: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            key: *const c_char,
            sink: *mut SeshStoreSink,
        ) -> i32,
    >,
    pub set: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            key: *const c_char,
            value: *const c_char,
        ) -> i32,
    >,
    pub destroy: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
}

/// The entity's `storageMechanism` values a custom store may declare.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeshStorageMechanism {
    LocalStorage = 0,
    Sqlite = 1,
    Cookie1 = 2,
    Cookie3 = 3,
    FlashLso = 4,
}

impl SeshStorageMechanism {
    pub(crate) fn from_code(code: i32) -> Option<crate::render::StorageMechanism> {
        use crate::render::StorageMechanism as M;
        Some(match code {
            0 => M::LocalStorage,
            1 => M::Sqlite,
            2 => M::Cookie1,
            3 => M::Cookie3,
            4 => M::FlashLso,
            _ => return None,
        })
    }
}

/// Hands a custom store's value to sesh from inside `get`: `length` bytes at `data` (need
/// not be NUL-terminated; NULL with length 0 is an empty value). A second write replaces
/// the first. Returns `OK`, `NULL_ARGUMENT` (sink, or data with a length),
/// `INVALID_ARGUMENT` (`length` above `PTRDIFF_MAX`: no object is that long) or `PANIC`.
///
/// # Safety
/// `sink` is the one `get` was given, during that call; `data` is NULL or readable for
/// `length` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_store_sink_write(
    sink: *mut SeshStoreSink,
    data: *const c_char,
    length: usize,
) -> SeshStatus {
    boundary(|| {
        // SAFETY: the caller passes the sink sesh handed to `get`, during that call, and
        // NULL or `length` readable bytes.
        let checked = unsafe {
            try_mut(sink, "sink").and_then(|sink| Ok((sink, try_bytes(data, length, "data")?)))
        };
        match checked {
            Ok((sink, bytes)) => {
                sink.value = Some(bytes.to_vec());
                SeshStatus::Ok
            }
            Err(err) => SeshStatus::from(&err),
        }
    })
}
