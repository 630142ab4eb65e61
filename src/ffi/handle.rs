//! `SeshHandle`: one open namespace, and every call on it.

use super::options::{SeshOptions, StoreChoice};
use super::ptr::{drop_boxed, try_buffer, try_mut, try_optional_str, try_ref};
use super::{SeshStatus, boundary, optional_owned_string, owned_json, owned_string};
use crate::clock::SystemClock;
use crate::engine::Transition;
use crate::error::{Error, ErrorKind};
use crate::id::RandomIds;
use crate::render::{IsoTime, SessionEntity};
use crate::store::callback::CallbackStore;
use crate::store::{MemoryStore, SqliteStore, Store};
use crate::timestamp;
use crate::tracker::{Hooks, LogLevel, Parts, Tracker};
use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

/// An open namespace. Thread-safe: any number of threads may use one handle at once.
pub struct SeshHandle {
    tracker: Tracker,
    /// The message of the last call on this handle that did not return `SESH_STATUS_OK`.
    last_error: Mutex<Option<String>>,
    /// A call panicked: what it left may be half a change, so every later call answers
    /// `PANIC`, and close writes nothing.
    poisoned: AtomicBool,
    /// Tests: the next call panics inside the boundary.
    panic_next: AtomicBool,
}

impl SeshHandle {
    fn remember(&self, err: &Error) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(err.message.clone());
    }
}

/// Runs a call on a handle, inside the panic boundary: a NULL handle is `NULL_ARGUMENT`; a
/// closed one is `CLOSED` before any other argument is looked at, a poisoned one `PANIC`;
/// then the body checks its own arguments and runs. A panic in the body poisons the
/// handle. The message of a failure is kept for `sesh_handle_get_last_error`.
///
/// # Safety
/// `handle` is NULL or a handle from `sesh_handle_open`, not freed yet, for the whole call.
unsafe fn with_handle(
    handle: *mut SeshHandle,
    body: impl FnOnce(&SeshHandle) -> Result<(), Error>,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe { on_handle(handle, false, body) }
}

/// As [`with_handle`]; `even_poisoned` lets the body run on a poisoned handle (close).
///
/// # Safety
/// As [`with_handle`].
unsafe fn on_handle(
    handle: *mut SeshHandle,
    even_poisoned: bool,
    body: impl FnOnce(&SeshHandle) -> Result<(), Error>,
) -> SeshStatus {
    boundary(|| {
        // SAFETY: forwarded from the caller.
        let handle = match unsafe { try_ref(handle, "handle") } {
            Ok(handle) => handle,
            Err(err) => return SeshStatus::from(&err),
        };
        let result = if handle.tracker.is_closed() {
            Err(Error::closed())
        } else if handle.poisoned.load(Ordering::Acquire) && !even_poisoned {
            Err(Error::new(
                ErrorKind::Panic,
                "an earlier call on this handle panicked: it answers panic until it is closed",
            ))
        } else {
            let run = catch_unwind(AssertUnwindSafe(|| {
                if handle.panic_next.load(Ordering::Relaxed)
                    && handle.panic_next.swap(false, Ordering::AcqRel)
                {
                    panic!("a panic injected by a test");
                }
                body(handle)
            }));
            run.unwrap_or_else(|_| {
                handle.poisoned.store(true, Ordering::Release);
                Err(Error::new(
                    ErrorKind::Panic,
                    "a call on this handle panicked: it answers panic until it is closed",
                ))
            })
        };
        match result {
            Ok(()) => SeshStatus::Ok,
            Err(err) => {
                handle.remember(&err);
                SeshStatus::from(&err)
            }
        }
    })
}

/// Makes the next call on `handle` panic inside the panic boundary, as a bug would: for
/// tests of what a panic leaves. Not part of the C API.
///
/// # Safety
/// `handle` is a live handle from `sesh_handle_open`.
#[doc(hidden)]
pub unsafe fn panic_on_next_call(handle: *mut SeshHandle) {
    // SAFETY: as the caller promises.
    if let Ok(handle) = unsafe { try_ref(handle, "handle") } {
        handle.panic_next.store(true, Ordering::Release);
    }
}

/// Opens a handle on the namespace and store that `options` name: reads the persisted user
/// and session, and ends a persisted session that will not go on (its end callback runs
/// before this returns). Unreadable persisted state does not fail the open: sesh starts
/// clean and reports it as the handle's last fault (`SESH_STATUS_CORRUPT_STATE`).
///
/// Writes `*out_handle` only on success. Close it with `sesh_handle_close` and free it with
/// `sesh_handle_free`. `options` may be freed or reused afterwards.
///
/// Returns `OK`, `NULL_ARGUMENT`, `INVALID_ARGUMENT`, `STORE_ERROR` (no handle is made),
/// `CALLBACK_ERROR` (the clock) or `PANIC`; the reason is kept in the options
/// (`sesh_options_get_last_error`) and sent to the log callback.
///
/// # Safety
/// `options` is NULL or live options; `out_handle` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_handle_open(
    options: *const SeshOptions,
    out_handle: *mut *mut SeshHandle,
) -> SeshStatus {
    boundary(|| {
        // SAFETY: the caller passes NULL or live options.
        let options = match unsafe { try_ref(options, "options") } {
            Ok(options) => options,
            Err(err) => return SeshStatus::from(&err),
        };
        // SAFETY: the caller passes NULL or a writable pointer.
        let result = unsafe { try_mut(out_handle, "out_handle") }.and_then(|out| {
            let store: Box<dyn Store> = match &options.store {
                StoreChoice::Memory => Box::new(MemoryStore::new()),
                StoreChoice::Sqlite(path) => Box::new(SqliteStore::open(path)?),
                StoreChoice::Custom(host) => Box::new(CallbackStore::new(host.clone())),
            };
            let tracker = Tracker::open(Parts {
                config: options.config.clone(),
                clock: options
                    .clock()
                    .unwrap_or_else(|| Box::new(SystemClock::new())),
                ids: Box::new(RandomIds),
                store,
                hooks: Box::new(options.hooks),
            })?;
            let handle = SeshHandle {
                tracker,
                last_error: Mutex::new(None),
                poisoned: AtomicBool::new(false),
                panic_next: AtomicBool::new(false),
            };
            *out = Box::into_raw(Box::new(handle));
            Ok(())
        });
        match result {
            Ok(()) => SeshStatus::Ok,
            Err(err) => {
                options.remember(&err);
                options.hooks.log(LogLevel::Error, &err.message);
                SeshStatus::from(&err)
            }
        }
    })
}

/// Writes what is pending to the store and closes the handle. The session is not ended: it
/// goes on at the next open if the rules allow. Every later call on the handle, a second
/// close included, returns `SESH_STATUS_CLOSED`. The handle's memory stays valid until
/// `sesh_handle_free`.
///
/// Returns `OK`, `NULL_ARGUMENT`, `CLOSED` (already closed), `STORE_ERROR` (closed all the
/// same) or `PANIC`.
///
/// # Safety
/// `handle` is NULL or a handle not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_handle_close(handle: *mut SeshHandle) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        on_handle(handle, true, |h| {
            if h.poisoned.load(Ordering::Acquire) {
                // What the panic left may be half a change: nothing of it is written.
                h.tracker.close_without_writing()
            } else {
                h.tracker.close()
            }
        })
    }
}

/// Closes the handle if it is open and frees it. NULL is ignored.
///
/// # Safety
/// `handle` is NULL or a handle not freed yet, which no other thread is using or will use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_handle_free(handle: *mut SeshHandle) {
    boundary(|| {
        // SAFETY: NULL or a live handle, as the caller promises.
        if let Ok(h) = unsafe { try_ref(handle, "handle") } {
            if h.poisoned.load(Ordering::Acquire) && !h.tracker.is_closed() {
                let _ = h.tracker.close_without_writing();
            }
        }
        // SAFETY: NULL or from `Box::into_raw` in `sesh_handle_open`, as the caller promises.
        unsafe { drop_boxed(handle) };
        SeshStatus::Ok
    });
}

// ----- events -------------------------------------------------------------------------------
//
// Every call below is `CLOSED` on a closed handle whatever its other arguments, then
// `NULL_ARGUMENT` for a NULL out-parameter, then checks its strings; on any failure it
// writes no out-parameter and changes nothing.

/// # Safety
/// As `sesh_event_track`.
unsafe fn track(
    handle: *mut SeshHandle,
    event_id: *const c_char,
    timestamp_ms: Option<i64>,
    out_entity: *mut *mut c_char,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_handle(handle, |h| {
            let out = try_mut(out_entity, "out_entity")?;
            let event_id = try_optional_str(event_id, "event_id")?;
            let entity = h
                .tracker
                .track(event_id, timestamp_ms)?
                .ok_or_else(Error::no_session)?;
            *out = owned_json(entity);
            Ok(())
        })
    }
}

/// Tracks an event now: renews the session when a rule says so, counts the event, and
/// writes its `client_session` entity JSON to `*out_entity` (free it with
/// `sesh_string_free`). `event_id` is the event's UUID (8-4-4-4-12, any case) or NULL for a
/// generated one; its timestamp is "now".
///
/// Returns `OK`, `NO_SESSION` (manual mode outside a session: nothing is written),
/// `NULL_ARGUMENT` (handle, out_entity), `INVALID_UTF8` (event_id), `INVALID_ARGUMENT`
/// (event_id not a UUID), `CLOSED`, `CALLBACK_ERROR` (the clock), `STORE_ERROR` (SQLite: the
/// namespace's writer lock could not be taken) or `PANIC`.
///
/// # Safety
/// `handle` NULL or live; `event_id` NULL or NUL-terminated; `out_entity` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_event_track(
    handle: *mut SeshHandle,
    event_id: *const c_char,
    out_entity: *mut *mut c_char,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe { track(handle, event_id, None, out_entity) }
}

/// As `sesh_event_track`, for an event whose own timestamp is `timestamp_ms` (milliseconds
/// since the epoch, 0 ..= 253402300799999; `INVALID_ARGUMENT` otherwise). The timestamp
/// becomes `firstEventTimestamp` when the event is its session's first; the session rules
/// use the clock.
///
/// Returns `OK`, `NO_SESSION`, `NULL_ARGUMENT`, `INVALID_UTF8`, `INVALID_ARGUMENT` (event_id
/// not a UUID, timestamp out of range), `CLOSED`, `CALLBACK_ERROR`, `STORE_ERROR` or `PANIC`,
/// as `sesh_event_track`.
///
/// # Safety
/// As `sesh_event_track`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_event_track_at(
    handle: *mut SeshHandle,
    event_id: *const c_char,
    timestamp_ms: i64,
    out_entity: *mut *mut c_char,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe { track(handle, event_id, Some(timestamp_ms), out_entity) }
}

/// Bytes a buffer for `sesh_event_track_into` must hold: enough for any entity and its NUL.
pub const SESH_MAX_ENTITY_SIZE: usize = 512;
// A literal for cbindgen, held to the engine's figure here.
const _: () = assert!(SESH_MAX_ENTITY_SIZE == crate::render::MAX_ENTITY_SIZE);

/// As `sesh_event_track`, writing the entity JSON and a NUL into the caller's `buffer`
/// instead of allocating a string: no allocation on the per-event path. `capacity` must be
/// at least `SESH_MAX_ENTITY_SIZE`; sesh never writes past the first
/// `SESH_MAX_ENTITY_SIZE` bytes, so any larger capacity (`SIZE_MAX` included) is taken as
/// `SESH_MAX_ENTITY_SIZE`. `*out_length` receives the entity's length without the NUL. On
/// failure neither `buffer` nor `*out_length` is written, and nothing is counted.
///
/// Returns `OK`, `NO_SESSION` (manual mode outside a session), `NULL_ARGUMENT` (handle,
/// buffer, out_length), `INVALID_UTF8` (event_id), `INVALID_ARGUMENT` (event_id not a UUID,
/// or `capacity` below `SESH_MAX_ENTITY_SIZE`), `CLOSED`, `CALLBACK_ERROR`, `STORE_ERROR` or
/// `PANIC`, as `sesh_event_track`.
///
/// # Safety
/// `handle` NULL or live; `event_id` NULL or NUL-terminated; `buffer` NULL or writable for
/// `min(capacity, SESH_MAX_ENTITY_SIZE)` bytes; `out_length` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_event_track_into(
    handle: *mut SeshHandle,
    event_id: *const c_char,
    buffer: *mut c_char,
    capacity: usize,
    out_length: *mut usize,
) -> SeshStatus {
    // SAFETY: forwarded from the caller; `try_buffer` makes a slice of at most
    // SESH_MAX_ENTITY_SIZE bytes whatever `capacity` says.
    unsafe {
        with_handle(handle, |h| {
            let out_length = try_mut(out_length, "out_length")?;
            let buffer = try_buffer(buffer, capacity, SESH_MAX_ENTITY_SIZE, "buffer")?;
            let event_id = try_optional_str(event_id, "event_id")?;
            *out_length = h
                .tracker
                .track_into(event_id, buffer)?
                .ok_or_else(Error::no_session)?;
            Ok(())
        })
    }
}

/// # Safety
/// As `sesh_app_background`.
unsafe fn transition(
    handle: *mut SeshHandle,
    to_background: bool,
    event_id: *const c_char,
    out_event: *mut *mut c_char,
    out_entity: *mut *mut c_char,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_handle(handle, |h| {
            let out_event = try_mut(out_event, "out_event")?;
            let out_entity = try_mut(out_entity, "out_entity")?;
            let event_id = try_optional_str(event_id, "event_id")?;
            match h.tracker.transition(to_background, event_id)? {
                Transition::Unchanged => {
                    *out_event = std::ptr::null_mut();
                    *out_entity = std::ptr::null_mut();
                    Ok(())
                }
                Transition::Changed {
                    lifecycle_event,
                    entity,
                } => {
                    *out_event = owned_json(lifecycle_event);
                    *out_entity = entity.clone().map_or(std::ptr::null_mut(), owned_json);
                    match entity {
                        Some(_) => Ok(()),
                        None => Err(Error::new(
                            ErrorKind::NoSession,
                            "the app state changed outside a session (manual mode)",
                        )),
                    }
                }
            }
        })
    }
}

/// The app moves to background. The transition is an event (`application_background`,
/// `{"backgroundIndex":n}`), checked with the foreground timeout, then counted in the
/// session. Writes the lifecycle event JSON to `*out_event` and its entity to `*out_entity`
/// (free both with `sesh_string_free`).
///
/// Returns `OK`; when the app already is in background nothing happens, and both are set to
/// NULL. `NO_SESSION` in manual mode outside a session: the state still flips, the event is
/// written and `*out_entity` set to NULL. Other statuses, with nothing written:
/// `NULL_ARGUMENT` (handle, out_event, out_entity), `INVALID_UTF8` (event_id),
/// `INVALID_ARGUMENT` (event_id not a UUID), `CLOSED`, `CALLBACK_ERROR` (the clock),
/// `STORE_ERROR` (SQLite: the namespace's writer lock could not be taken), `PANIC`.
///
/// # Safety
/// `handle` NULL or live; `event_id` NULL or NUL-terminated; the out-pointers NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_app_background(
    handle: *mut SeshHandle,
    event_id: *const c_char,
    out_event: *mut *mut c_char,
    out_entity: *mut *mut c_char,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe { transition(handle, true, event_id, out_event, out_entity) }
}

/// The app moves to foreground: as `sesh_app_background`, with the event
/// `application_foreground` (`{"foregroundIndex":n}`) checked with the background timeout.
///
/// Returns `OK`, `NO_SESSION`, `NULL_ARGUMENT`, `INVALID_UTF8`, `INVALID_ARGUMENT`, `CLOSED`,
/// `CALLBACK_ERROR`, `STORE_ERROR` or `PANIC`, as `sesh_app_background`.
///
/// # Safety
/// As `sesh_app_background`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_app_foreground(
    handle: *mut SeshHandle,
    event_id: *const c_char,
    out_event: *mut *mut c_char,
    out_entity: *mut *mut c_char,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe { transition(handle, false, event_id, out_event, out_entity) }
}

// ----- host controls ------------------------------------------------------------------------

/// Ends the current session (reason `new_session`) and starts a new one at once, with
/// `eventIndex` 0; the next event fills its first-event fields.
///
/// Returns `OK`, `NULL_ARGUMENT` (handle), `CLOSED`, `CALLBACK_ERROR` (the clock),
/// `STORE_ERROR` (SQLite: the namespace's writer lock could not be taken) or `PANIC`.
///
/// # Safety
/// `handle` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_session_new(handle: *mut SeshHandle) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe { with_handle(handle, |h| h.tracker.new_session()) }
}

/// Starts a session in manual mode (ending a running one first, reason `new_session`); in
/// automatic mode the same as `sesh_session_new`.
///
/// Returns `OK`, `NULL_ARGUMENT` (handle), `CLOSED`, `CALLBACK_ERROR` (the clock),
/// `STORE_ERROR` (SQLite: the namespace's writer lock could not be taken) or `PANIC`.
///
/// # Safety
/// `handle` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_session_begin(handle: *mut SeshHandle) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe { with_handle(handle, |h| h.tracker.new_session()) }
}

/// Ends the current session now (reason `manual`); in automatic mode the next event starts
/// a new one.
///
/// Returns `OK`, `NO_SESSION` (nothing changes), `NULL_ARGUMENT` (handle), `CLOSED`,
/// `CALLBACK_ERROR` (the clock), `STORE_ERROR` (SQLite: the namespace's writer lock could
/// not be taken) or `PANIC`.
///
/// # Safety
/// `handle` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_session_end(handle: *mut SeshHandle) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe { with_handle(handle, |h| h.tracker.end_session()) }
}

/// Ends the session exactly when the next event would renew it by timeout, clock change or
/// maximum duration (with that reason); otherwise, and while paused or in manual mode, does
/// nothing. Call it from a timer to learn of ends without waiting for an event.
///
/// Returns `OK`, `NULL_ARGUMENT` (handle), `CLOSED`, `CALLBACK_ERROR` (the clock),
/// `STORE_ERROR` (SQLite: the namespace's writer lock could not be taken) or `PANIC`.
///
/// # Safety
/// `handle` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_session_check(handle: *mut SeshHandle) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe { with_handle(handle, |h| h.tracker.check()) }
}

/// Suspends timeouts, clock checks and the maximum duration, and freezes last activity;
/// events still count. Idempotent.
///
/// Returns `OK`, `NULL_ARGUMENT` (handle), `CLOSED`, `CALLBACK_ERROR` (the clock),
/// `STORE_ERROR` (SQLite: the namespace's writer lock could not be taken) or `PANIC`.
///
/// # Safety
/// `handle` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_session_pause(handle: *mut SeshHandle) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe { with_handle(handle, |h| h.tracker.pause()) }
}

/// Ends a pause; the next event is checked against the frozen last activity. Idempotent.
///
/// Returns `OK`, `NULL_ARGUMENT` (handle), `CLOSED`, `CALLBACK_ERROR` (the clock),
/// `STORE_ERROR` (SQLite: the namespace's writer lock could not be taken) or `PANIC`.
///
/// # Safety
/// `handle` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_session_resume(handle: *mut SeshHandle) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe { with_handle(handle, |h| h.tracker.resume()) }
}

/// Anonymous mode on or off. A change ends the current session (reason
/// `anonymity_changed`) and starts a new one at once (in manual mode only in place of a
/// running one); no change does nothing.
///
/// Returns `OK`, `NULL_ARGUMENT` (handle), `CLOSED`, `CALLBACK_ERROR` (the clock),
/// `STORE_ERROR` (SQLite: the namespace's writer lock could not be taken) or `PANIC`.
///
/// # Safety
/// `handle` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_anonymous_set(
    handle: *mut SeshHandle,
    anonymous: bool,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe { with_handle(handle, |h| h.tracker.set_anonymous(anonymous)) }
}

/// Gives the store a new user id. The current session ends (reason `user_changed`) and none
/// starts; the next session has `sessionIndex` 1 and no previous id.
///
/// Returns `OK`, `NULL_ARGUMENT` (handle), `CLOSED`, `CALLBACK_ERROR` (the clock),
/// `STORE_ERROR` (SQLite: the namespace's writer lock could not be taken) or `PANIC`.
///
/// # Safety
/// `handle` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_user_reset(handle: *mut SeshHandle) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe { with_handle(handle, |h| h.tracker.reset_user().map(|_| ())) }
}

// ----- getters ------------------------------------------------------------------------------
//
// Getters show what an entity would show (anonymous mode hides the user and the previous
// session). They read no clock and change nothing. Each one's statuses are in its own doc
// comment, so that the header has them.

/// A getter: `CLOSED` first, then `NULL_ARGUMENT` for a NULL `out`, then `body`.
///
/// # Safety
/// `handle` NULL or live; `out` NULL or writable.
unsafe fn getter<T>(
    handle: *mut SeshHandle,
    out: *mut T,
    what: &str,
    body: impl FnOnce(&Tracker) -> Result<T, Error>,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_handle(handle, |h| {
            let out = try_mut(out, what)?;
            *out = body(&h.tracker)?;
            Ok(())
        })
    }
}

/// A getter on the current session's entity: `NO_SESSION` when there is none.
///
/// # Safety
/// As [`getter`].
unsafe fn session_getter<T>(
    handle: *mut SeshHandle,
    out: *mut T,
    what: &str,
    pick: impl FnOnce(SessionEntity) -> T,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        getter(handle, out, what, |tracker| {
            tracker.entity()?.map(pick).ok_or_else(Error::no_session)
        })
    }
}

/// The installation's user id (the nil UUID in anonymous mode), always known. Free the
/// string with `sesh_string_free`.
///
/// Returns `OK`, `NULL_ARGUMENT` (handle, out_user_id), `CLOSED` or `PANIC`.
///
/// # Safety
/// `handle` NULL or live; `out_user_id` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_user_get_id(
    handle: *mut SeshHandle,
    out_user_id: *mut *mut c_char,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        getter(handle, out_user_id, "out_user_id", |t| {
            Ok(owned_string(t.user_id()?.to_string()))
        })
    }
}

/// Whether the app is in background, always known.
///
/// Returns `OK`, `NULL_ARGUMENT` (handle, out_in_background), `CLOSED` or `PANIC`.
///
/// # Safety
/// `handle` NULL or live; `out_in_background` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_app_get_in_background(
    handle: *mut SeshHandle,
    out_in_background: *mut bool,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        getter(handle, out_in_background, "out_in_background", |t| {
            t.in_background()
        })
    }
}

/// The current session's id. Free the string with `sesh_string_free`.
///
/// Returns `OK`, `NO_SESSION` (nothing written), `NULL_ARGUMENT` (handle, out_session_id),
/// `CLOSED` or `PANIC`.
///
/// # Safety
/// `handle` NULL or live; `out_session_id` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_session_get_id(
    handle: *mut SeshHandle,
    out_session_id: *mut *mut c_char,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        session_getter(handle, out_session_id, "out_session_id", |e| {
            owned_string(e.session_id.to_string())
        })
    }
}

/// The current session's index.
///
/// Returns `OK`, `NO_SESSION` (nothing written), `NULL_ARGUMENT` (handle, out_index),
/// `CLOSED` or `PANIC`.
///
/// # Safety
/// `handle` NULL or live; `out_index` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_session_get_index(
    handle: *mut SeshHandle,
    out_index: *mut i64,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        session_getter(handle, out_index, "out_index", |e| {
            i64::from(e.session_index)
        })
    }
}

/// The index of the current session's latest event (0 before its first).
///
/// Returns `OK`, `NO_SESSION` (nothing written), `NULL_ARGUMENT` (handle, out_index),
/// `CLOSED` or `PANIC`.
///
/// # Safety
/// `handle` NULL or live; `out_index` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_session_get_event_index(
    handle: *mut SeshHandle,
    out_index: *mut i64,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe { session_getter(handle, out_index, "out_index", |e| i64::from(e.event_index)) }
}

/// The previous session's id, or NULL when there is none (or in anonymous mode). Free the
/// string with `sesh_string_free`.
///
/// Returns `OK`, `NO_SESSION` (nothing written), `NULL_ARGUMENT` (handle, out_session_id),
/// `CLOSED` or `PANIC`.
///
/// # Safety
/// `handle` NULL or live; `out_session_id` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_session_get_previous_id(
    handle: *mut SeshHandle,
    out_session_id: *mut *mut c_char,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        session_getter(handle, out_session_id, "out_session_id", |e| {
            optional_owned_string(e.previous_session_id.map(|id| id.to_string()))
        })
    }
}

/// The number of background transitions in the current session.
///
/// Returns `OK`, `NO_SESSION` (nothing written), `NULL_ARGUMENT` (handle, out_index),
/// `CLOSED` or `PANIC`.
///
/// # Safety
/// `handle` NULL or live; `out_index` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_session_get_background_index(
    handle: *mut SeshHandle,
    out_index: *mut i64,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe { lifecycle_index(handle, out_index, true) }
}

/// The number of foreground transitions in the current session.
///
/// Returns `OK`, `NO_SESSION` (nothing written), `NULL_ARGUMENT` (handle, out_index),
/// `CLOSED` or `PANIC`.
///
/// # Safety
/// `handle` NULL or live; `out_index` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_session_get_foreground_index(
    handle: *mut SeshHandle,
    out_index: *mut i64,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe { lifecycle_index(handle, out_index, false) }
}

/// # Safety
/// As [`getter`].
unsafe fn lifecycle_index(
    handle: *mut SeshHandle,
    out_index: *mut i64,
    background: bool,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        getter(handle, out_index, "out_index", |t| {
            let (bg, fg) = t.lifecycle_indexes()?.ok_or_else(Error::no_session)?;
            Ok(i64::from(if background { bg } else { fg }))
        })
    }
}

/// The id of the current session's first event, or NULL before it has one. Free the string
/// with `sesh_string_free`.
///
/// Returns `OK`, `NO_SESSION` (nothing written), `NULL_ARGUMENT` (handle, out_event_id),
/// `CLOSED` or `PANIC`.
///
/// # Safety
/// `handle` NULL or live; `out_event_id` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_session_get_first_event_id(
    handle: *mut SeshHandle,
    out_event_id: *mut *mut c_char,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        session_getter(handle, out_event_id, "out_event_id", |e| {
            optional_owned_string(e.first_event_id.map(|id| id.to_string()))
        })
    }
}

/// The timestamp of the current session's first event as the entity writes it
/// (`2009-02-13T23:31:31.012Z`), or NULL before it has one. Free the string with
/// `sesh_string_free`.
///
/// Returns `OK`, `NO_SESSION` (nothing written), `NULL_ARGUMENT` (handle, out_timestamp),
/// `CLOSED` or `PANIC`.
///
/// # Safety
/// `handle` NULL or live; `out_timestamp` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_session_get_first_event_timestamp(
    handle: *mut SeshHandle,
    out_timestamp: *mut *mut c_char,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        session_getter(handle, out_timestamp, "out_timestamp", |e| {
            optional_owned_string(
                e.first_event_timestamp
                    .map(|IsoTime(ms)| timestamp::format_iso8601(ms)),
            )
        })
    }
}

/// The current session's whole `client_session` entity JSON, as the last event saw it.
/// Free the string with `sesh_string_free`.
///
/// Returns `OK`, `NO_SESSION` (nothing written), `NULL_ARGUMENT` (handle, out_entity),
/// `CLOSED` or `PANIC`.
///
/// # Safety
/// `handle` NULL or live; `out_entity` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_session_get_entity(
    handle: *mut SeshHandle,
    out_entity: *mut *mut c_char,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        session_getter(handle, out_entity, "out_entity", |e| {
            owned_json(e.to_json())
        })
    }
}

/// The last fault the handle met on its own (unreadable persisted state, a failing store, a
/// bad clock reading): its status, or `SESH_STATUS_OK` when there was none.
///
/// Returns `OK`, `NULL_ARGUMENT` (handle, out_fault), `CLOSED` or `PANIC`.
///
/// # Safety
/// `handle` NULL or live; `out_fault` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_handle_get_last_fault(
    handle: *mut SeshHandle,
    out_fault: *mut SeshStatus,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        getter(handle, out_fault, "out_fault", |t| {
            Ok(t.last_fault()?.map_or(SeshStatus::Ok, |f| f.kind.into()))
        })
    }
}

/// Copies out the message of the last call on this handle that did not return
/// `SESH_STATUS_OK` (this getter's own failures aside), or NULL when none did. With several
/// threads, "last" is whichever failed last. Works on a closed handle (the one call that
/// does). Free the string with `sesh_string_free`.
///
/// Returns `OK`, `NULL_ARGUMENT` (handle, out_message) or `PANIC`.
///
/// # Safety
/// `handle` NULL or live; `out_message` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_handle_get_last_error(
    handle: *mut SeshHandle,
    out_message: *mut *mut c_char,
) -> SeshStatus {
    boundary(|| {
        // SAFETY: the caller passes NULL or a live handle, and NULL or a writable pointer.
        let checked = unsafe {
            try_ref(handle, "handle").and_then(|h| Ok((h, try_mut(out_message, "out_message")?)))
        };
        let (h, out) = match checked {
            Ok(both) => both,
            Err(err) => return SeshStatus::from(&err),
        };
        let message = h
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        *out = message.map_or(std::ptr::null_mut(), owned_string);
        SeshStatus::Ok
    })
}
