//! `SeshOptions`: what a handle is opened with.

use super::ptr::{drop_boxed, try_mut, try_ref, try_str};
use super::store::{SeshCustomStore, SeshStorageMechanism};
use super::{SeshStatus, boundary, owned_string};
use crate::clock::Clock;
use crate::engine::Config;
use crate::error::{Error, ErrorKind};
use crate::store::callback::HostStore;
use crate::tracker::{Hooks, LogLevel};
use std::ffi::{CString, c_char, c_void};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

/// Returns "now" in milliseconds since the Unix epoch. Called from any thread that calls
/// sesh, possibly from several at once, with no sesh lock held.
pub type SeshClockFn = Option<unsafe extern "C" fn(user_data: *mut c_void) -> i64>;

/// Receives JSON (an entity or a session-end summary) that is valid only during the call.
/// Called on the thread whose sesh call caused it, with no sesh lock held: it may call sesh.
pub type SeshJsonFn = Option<unsafe extern "C" fn(user_data: *mut c_void, json: *const c_char)>;

/// Receives a log message (valid only during the call) and its level, a `SeshLogLevel`.
pub type SeshLogFn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: i32, message: *const c_char)>;

/// How serious a log message is.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeshLogLevel {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

/// The host's user data: sesh only hands it back.
#[derive(Clone, Copy)]
struct UserData(*mut c_void);
// SAFETY: sesh never dereferences it; the header tells the host that its callbacks may run
// on any thread.
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

#[derive(Clone, Copy)]
struct Callback<F> {
    function: F,
    user_data: UserData,
}

/// The host's clock.
struct HostClock(Callback<unsafe extern "C" fn(*mut c_void) -> i64>);

impl Clock for HostClock {
    fn now_ms(&self) -> i64 {
        // SAFETY: the host registered this function with this user data.
        unsafe { (self.0.function)(self.0.user_data.0) }
    }
}

type JsonFn = unsafe extern "C" fn(*mut c_void, *const c_char);
type LogFn = unsafe extern "C" fn(*mut c_void, i32, *const c_char);

/// The host's session and log callbacks.
#[derive(Clone, Copy, Default)]
pub(crate) struct HostHooks {
    started: Option<Callback<JsonFn>>,
    ended: Option<Callback<JsonFn>>,
    log: Option<Callback<LogFn>>,
}

fn call_json(callback: &Option<Callback<JsonFn>>, json: &str) {
    if let Some(cb) = callback {
        if let Ok(text) = CString::new(json) {
            // SAFETY: the host registered this function with this user data; `text` lives
            // through the call.
            unsafe { (cb.function)(cb.user_data.0, text.as_ptr()) }
        }
    }
}

impl Hooks for HostHooks {
    fn session_started(&self, entity_json: &str) {
        call_json(&self.started, entity_json);
    }

    fn session_ended(&self, summary_json: &str) {
        call_json(&self.ended, summary_json);
    }

    fn wants_session_ended(&self) -> bool {
        self.ended.is_some()
    }

    fn log(&self, level: LogLevel, message: &str) {
        if let Some(cb) = &self.log {
            let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
            // SAFETY: as in `call_json`.
            unsafe { (cb.function)(cb.user_data.0, level as i32, text.as_ptr()) }
        }
    }
}

/// Which store a handle opens.
#[derive(Clone)]
pub(crate) enum StoreChoice {
    Memory,
    Sqlite(PathBuf),
    Custom(Arc<HostStore>),
}

/// Options for `sesh_handle_open`. Not thread-safe: set them from one thread, then open
/// any number of handles with them.
pub struct SeshOptions {
    pub(crate) config: Config,
    clock: Option<Callback<unsafe extern "C" fn(*mut c_void) -> i64>>,
    pub(crate) hooks: HostHooks,
    pub(crate) store: StoreChoice,
    /// Why the last `sesh_handle_open` with these options failed.
    pub(crate) last_error: Mutex<Option<String>>,
}

impl SeshOptions {
    pub(crate) fn clock(&self) -> Option<Box<dyn Clock>> {
        self.clock
            .map(|callback| Box::new(HostClock(callback)) as Box<dyn Clock>)
    }

    pub(crate) fn remember(&self, err: &Error) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(err.message.clone());
    }
}

/// Runs a setter inside the panic boundary: checks the options pointer, then the body;
/// keeps the message of a failure for `sesh_options_get_last_error`.
///
/// # Safety
/// `options` is NULL or from `sesh_options_new`, not freed yet, and used by no other thread
/// during the call.
unsafe fn with_options(
    options: *mut SeshOptions,
    body: impl FnOnce(&mut SeshOptions) -> Result<(), Error>,
) -> SeshStatus {
    boundary(|| {
        // SAFETY: forwarded from the caller.
        let options = match unsafe { try_mut(options, "options") } {
            Ok(options) => options,
            Err(err) => return SeshStatus::from(&err),
        };
        match body(options) {
            Ok(()) => SeshStatus::Ok,
            Err(err) => {
                options.remember(&err);
                SeshStatus::from(&err)
            }
        }
    })
}

fn whole_seconds(seconds: i64, what: &str) -> Result<u64, Error> {
    u64::try_from(seconds)
        .ok()
        .filter(|s| *s >= 1)
        .ok_or_else(|| Error::invalid(format!("{what} is a whole number of seconds >= 1")))
}

/// Makes options holding the defaults of docs/behaviour.md: namespace "default", foreground and
/// background timeouts 1800 s, continue on restart, not anonymous, automatic, no maximum
/// duration, start in foreground, the memory store, the system clock, no callbacks.
///
/// Writes `*out_options` only on success; free it with `sesh_options_free`.
/// Returns `OK`, `NULL_ARGUMENT` (out_options) or `PANIC`.
///
/// # Safety
/// `out_options` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_options_new(out_options: *mut *mut SeshOptions) -> SeshStatus {
    boundary(|| {
        // SAFETY: the caller passes NULL or a writable pointer.
        let out = match unsafe { try_mut(out_options, "out_options") } {
            Ok(out) => out,
            Err(err) => return SeshStatus::from(&err),
        };
        let options = SeshOptions {
            config: Config::default(),
            clock: None,
            hooks: HostHooks::default(),
            store: StoreChoice::Memory,
            last_error: Mutex::new(None),
        };
        *out = Box::into_raw(Box::new(options));
        SeshStatus::Ok
    })
}

/// Frees options. NULL is ignored. Handles opened with them are not affected.
///
/// # Safety
/// `options` is NULL or from `sesh_options_new`, not freed yet, and used by no other thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_options_free(options: *mut SeshOptions) {
    boundary(|| {
        // SAFETY: NULL or from `Box::into_raw` in `sesh_options_new`, as the caller promises.
        unsafe { drop_boxed(options) };
        SeshStatus::Ok
    });
}

/// The namespace: one independent session sequence (one tracker) in the store. Any
/// non-empty UTF-8 text. Returns `OK`, `NULL_ARGUMENT` (options, name), `INVALID_UTF8`,
/// `INVALID_ARGUMENT` (empty) or `PANIC`.
///
/// # Safety
/// `options` as for every setter: NULL or live options; `name` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_options_set_namespace(
    options: *mut SeshOptions,
    name: *const c_char,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options(options, |o| {
            let name = try_str(name, "namespace")?;
            if name.is_empty() {
                return Err(Error::invalid("the namespace is empty"));
            }
            o.config.namespace = name.to_owned();
            Ok(())
        })
    }
}

/// The foreground inactivity timeout, in whole seconds >= 1 (default 1800).
/// Returns `OK`, `NULL_ARGUMENT` (options), `INVALID_ARGUMENT` (below 1) or `PANIC`.
///
/// # Safety
/// `options` is NULL or live options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_options_set_foreground_timeout(
    options: *mut SeshOptions,
    seconds: i64,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options(options, |o| {
            o.config.foreground_timeout_seconds = whole_seconds(seconds, "the foreground timeout")?;
            Ok(())
        })
    }
}

/// The background inactivity timeout, in whole seconds >= 1 (default 1800).
/// Returns `OK`, `NULL_ARGUMENT` (options), `INVALID_ARGUMENT` (below 1) or `PANIC`.
///
/// # Safety
/// `options` is NULL or live options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_options_set_background_timeout(
    options: *mut SeshOptions,
    seconds: i64,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options(options, |o| {
            o.config.background_timeout_seconds = whole_seconds(seconds, "the background timeout")?;
            Ok(())
        })
    }
}

/// The longest a session may last from its start, in whole seconds; 0 (the default) for no
/// maximum. Returns `OK`, `NULL_ARGUMENT` (options), `INVALID_ARGUMENT` (negative) or
/// `PANIC`.
///
/// # Safety
/// `options` is NULL or live options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_options_set_max_duration(
    options: *mut SeshOptions,
    seconds: i64,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options(options, |o| {
            o.config.max_duration_seconds = u64::try_from(seconds).map_err(|_| {
                Error::invalid("the maximum duration is a whole number of seconds >= 0")
            })?;
            Ok(())
        })
    }
}

/// Whether a persisted session that has not timed out goes on after a restart (default
/// true). Returns `OK`, `NULL_ARGUMENT` (options) or `PANIC`.
///
/// # Safety
/// `options` is NULL or live options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_options_set_continue_on_restart(
    options: *mut SeshOptions,
    enabled: bool,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options(options, |o| {
            o.config.continue_on_restart = enabled;
            Ok(())
        })
    }
}

/// Whether the handle opens in anonymous mode (default false). Returns `OK`,
/// `NULL_ARGUMENT` (options) or `PANIC`.
///
/// # Safety
/// `options` is NULL or live options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_options_set_anonymous(
    options: *mut SeshOptions,
    enabled: bool,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options(options, |o| {
            o.config.anonymous = enabled;
            Ok(())
        })
    }
}

/// Whether sessions start and end by the rules (true, the default) or only when the host
/// says so (false: manual mode). Returns `OK`, `NULL_ARGUMENT` (options) or `PANIC`.
///
/// # Safety
/// `options` is NULL or live options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_options_set_automatic(
    options: *mut SeshOptions,
    enabled: bool,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options(options, |o| {
            o.config.automatic = enabled;
            Ok(())
        })
    }
}

/// Whether the app is in background after open (default false). Returns `OK`,
/// `NULL_ARGUMENT` (options) or `PANIC`.
///
/// # Safety
/// `options` is NULL or live options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_options_set_start_in_background(
    options: *mut SeshOptions,
    enabled: bool,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options(options, |o| {
            o.config.start_in_background = enabled;
            Ok(())
        })
    }
}

/// The clock sesh reads "now" from; NULL restores the default system clock (wall time at
/// open, then a monotonic clock that counts sleep). Readings outside 0 ..=
/// 253402300799999 (year 9999) make the call that read them fail with
/// `SESH_STATUS_CALLBACK_ERROR`. Returns `OK`, `NULL_ARGUMENT` (options) or `PANIC`.
///
/// # Safety
/// `options` is NULL or live options; `clock` stays callable with `user_data` from any
/// thread until every handle opened with these options is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_options_set_clock(
    options: *mut SeshOptions,
    clock: SeshClockFn,
    user_data: *mut c_void,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options(options, |o| {
            o.clock = clock.map(|function| Callback {
                function,
                user_data: UserData(user_data),
            });
            Ok(())
        })
    }
}

/// Called with the `client_session` entity JSON each time a session starts; NULL removes
/// it. Returns `OK`, `NULL_ARGUMENT` (options) or `PANIC`.
///
/// # Safety
/// As `sesh_options_set_clock`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_options_set_session_start_callback(
    options: *mut SeshOptions,
    callback: SeshJsonFn,
    user_data: *mut c_void,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options(options, |o| {
            o.hooks.started = callback.map(|function| Callback {
                function,
                user_data: UserData(user_data),
            });
            Ok(())
        })
    }
}

/// Called with the session-end summary JSON (behaviour §6) each time a session ends; NULL
/// removes it. Returns `OK`, `NULL_ARGUMENT` (options) or `PANIC`.
///
/// # Safety
/// As `sesh_options_set_clock`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_options_set_session_end_callback(
    options: *mut SeshOptions,
    callback: SeshJsonFn,
    user_data: *mut c_void,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options(options, |o| {
            o.hooks.ended = callback.map(|function| Callback {
                function,
                user_data: UserData(user_data),
            });
            Ok(())
        })
    }
}

/// Called with faults and notes (the library itself never prints); NULL removes it.
/// Returns `OK`, `NULL_ARGUMENT` (options) or `PANIC`.
///
/// # Safety
/// As `sesh_options_set_clock`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_options_set_log_callback(
    options: *mut SeshOptions,
    callback: SeshLogFn,
    user_data: *mut c_void,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options(options, |o| {
            o.hooks.log = callback.map(|function| Callback {
                function,
                user_data: UserData(user_data),
            });
            Ok(())
        })
    }
}

/// Keep state in memory, for as long as the handle lives (`storageMechanism`
/// `LOCAL_STORAGE`). The default. Returns `OK`, `NULL_ARGUMENT` (options) or `PANIC`.
///
/// # Safety
/// `options` is NULL or live options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_options_set_store_memory(options: *mut SeshOptions) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options(options, |o| {
            o.store = StoreChoice::Memory;
            Ok(())
        })
    }
}

/// Keep state in the SQLite file at `path` (`storageMechanism` `SQLITE`), created readable
/// by its owner only when it does not exist. The file is opened by `sesh_handle_open`.
/// Returns `OK`, `NULL_ARGUMENT` (options, path), `INVALID_UTF8`, `INVALID_ARGUMENT` (empty
/// path) or `PANIC`.
///
/// # Safety
/// `options` is NULL or live options; `path` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_options_set_store_sqlite(
    options: *mut SeshOptions,
    path: *const c_char,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options(options, |o| {
            let path = try_str(path, "path")?;
            if path.is_empty() {
                return Err(Error::invalid("the store path is empty"));
            }
            o.store = StoreChoice::Sqlite(PathBuf::from(path));
            Ok(())
        })
    }
}

/// Keep state in a store the host writes (see `SeshCustomStore`). On success the options
/// own the store: its `destroy` runs once, after the options are freed (or given another
/// store) and every handle opened with it is freed. On failure nothing is taken.
/// Returns `OK`, `NULL_ARGUMENT` (options, store, or its `get` or `set` function),
/// `INVALID_ARGUMENT` (an unknown `storage_mechanism`) or `PANIC`.
///
/// # Safety
/// `options` is NULL or live options; `store` NULL or readable; its functions stay callable
/// with its user data, from any thread, until `destroy` runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_options_set_store_custom(
    options: *mut SeshOptions,
    store: *const SeshCustomStore,
) -> SeshStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options(options, |o| {
            let store = try_ref(store, "store")?;
            if store.get.is_none() || store.set.is_none() {
                return Err(Error::new(
                    ErrorKind::NullArgument,
                    "a custom store needs its get and set functions",
                ));
            }
            let storage = SeshStorageMechanism::from_code(store.storage_mechanism)
                .ok_or_else(|| Error::invalid("unknown storage_mechanism"))?;
            o.store = StoreChoice::Custom(HostStore::new(*store, storage));
            Ok(())
        })
    }
}

/// Copies out why the last failed setter or `sesh_handle_open` with these options failed
/// (this getter's own failures aside), or NULL when none did. Free the string with
/// `sesh_string_free`. Returns `OK`, `NULL_ARGUMENT` (options, out_message) or `PANIC`.
///
/// # Safety
/// `options` is NULL or live options; `out_message` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_options_get_last_error(
    options: *const SeshOptions,
    out_message: *mut *mut c_char,
) -> SeshStatus {
    boundary(|| {
        // SAFETY: the caller passes NULL or live options, and NULL or a writable pointer.
        let checked = unsafe {
            try_ref(options, "options")
                .and_then(|options| Ok((options, try_mut(out_message, "out_message")?)))
        };
        let (options, out) = match checked {
            Ok(both) => both,
            Err(err) => return SeshStatus::from(&err),
        };
        let message = options
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        *out = message.map_or(std::ptr::null_mut(), owned_string);
        SeshStatus::Ok
    })
}
