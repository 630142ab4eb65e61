//! sesh as a WebAssembly module: plain `extern "C"` exports over linear memory, and the
//! imports (module `sesh_host`) that `index.js` provides.
//!
//! Every export that can fail returns 0 (ok) or 1 (failed), and leaves its answer in the
//! result buffer (`sesh_web_result_ptr`/`_len`): on success the call's text (an entity, a
//! JSON object, a handle id, or nothing), on failure `{"status":"<name>","message":"..."}`
//! with sesh's status name. Strings go in as UTF-8 the caller wrote into memory it got from
//! `sesh_web_alloc` (and frees with `sesh_web_free`).
//!
//! Host code (the clock, the store, the callbacks) runs inside the imports; it may call the
//! exports again (a callback that tracks): no borrow of this module's tables is held across
//! an import, and the result buffer is written last, after every callback of the call ran.
//!
//! A handle is a number `index.js` holds; `ctx` is the number under which `index.js` keeps
//! that handle's clock, store and callbacks.

use serde::Deserialize;
use sesh::Config;
use sesh::clock::Clock;
use sesh::engine::{Rendering, Transition};
use sesh::error::{Error, ErrorKind, Result};
use sesh::id::RandomIds;
use sesh::store::{MemoryStore, SharedUser, StorageMechanism, Store};
use sesh::tracker::{Hooks, LogLevel, Parts, Tracker};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

#[cfg(target_arch = "wasm32")]
mod host {
    #[link(wasm_import_module = "sesh_host")]
    unsafe extern "C" {
        /// The handle's clock, in ms (any number: non-finite is refused by the caller).
        pub fn now(ctx: u32) -> f64;
        /// Looks `key` up: -1 no value, -2 the store failed, else the value's UTF-8 length,
        /// which `store_take` then copies.
        pub fn store_get(ctx: u32, key: *const u8, key_len: usize) -> i32;
        pub fn store_take(ctx: u32, out: *mut u8);
        /// 0: kept; anything else: the store failed.
        pub fn store_set(
            ctx: u32,
            key: *const u8,
            key_len: usize,
            value: *const u8,
            value_len: usize,
        ) -> i32;
        /// `kind`: 0 a session started (entity), 1 a session ended (summary).
        pub fn session(ctx: u32, kind: i32, json: *const u8, len: usize);
        pub fn log(ctx: u32, level: i32, text: *const u8, len: usize);
        /// Fills `len` bytes with crypto.getRandomValues; 0 on success.
        pub fn random_fill(out: *mut u8, len: usize) -> i32;
    }
}

/// Native stand-ins, so that the crate type-checks (and clippy runs) off the web; the
/// module is only ever built and used for wasm32.
#[cfg(not(target_arch = "wasm32"))]
#[allow(clippy::missing_safety_doc)]
mod host {
    pub unsafe fn now(_: u32) -> f64 {
        f64::NAN
    }
    pub unsafe fn store_get(_: u32, _: *const u8, _: usize) -> i32 {
        -2
    }
    pub unsafe fn store_take(_: u32, _: *mut u8) {}
    pub unsafe fn store_set(_: u32, _: *const u8, _: usize, _: *const u8, _: usize) -> i32 {
        -2
    }
    pub unsafe fn session(_: u32, _: i32, _: *const u8, _: usize) {}
    pub unsafe fn log(_: u32, _: i32, _: *const u8, _: usize) {}
}

/// getrandom's `custom` backend (`--cfg getrandom_backend="custom"`): uuid's v4 ids come
/// from the browser's (or Node's) crypto.getRandomValues.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
unsafe extern "Rust" fn __getrandom_v03_custom(
    dest: *mut u8,
    len: usize,
) -> std::result::Result<(), getrandom::Error> {
    // SAFETY: `dest` is writable for `len` bytes, as getrandom promises.
    match unsafe { host::random_fill(dest, len) } {
        0 => Ok(()),
        _ => Err(getrandom::Error::UNEXPECTED),
    }
}

// ----- the web store ------------------------------------------------------------------------

/// The version every stored value starts with: `v1:<value>`.
const VALUE_PREFIX: &str = "v1:";
/// The installation's user id, shared by every namespace of the store (behaviour §2).
const USER_KEY: &str = "sesh:user_id";

fn state_key(namespace: &str) -> String {
    format!("sesh:{namespace}:state")
}

/// A store kept by JavaScript in a `localStorage`-like object (`getItem`/`setItem`, or a
/// Map): keys `sesh:user_id` and `sesh:<namespace>:state`, values `v1:` and the text sesh
/// keeps. A value of another version, or none, is unreadable: `corrupt_state`, and the
/// namespace starts clean as on every store.
struct WebStore {
    ctx: u32,
    shared_user: Arc<SharedUser>,
}

impl WebStore {
    fn get(&self, key: &str) -> Result<Option<String>> {
        // SAFETY: `key` is readable for its length; the import copies what it needs.
        let len = unsafe { host::store_get(self.ctx, key.as_ptr(), key.len()) };
        match len {
            -1 => Ok(None),
            n if n < 0 => Err(Error::store(format!("the web store could not read {key}"))),
            n => {
                let mut bytes = vec![0u8; n as usize];
                // SAFETY: `bytes` is writable for the `n` bytes the host announced.
                unsafe { host::store_take(self.ctx, bytes.as_mut_ptr()) };
                let text = String::from_utf8(bytes)
                    .map_err(|_| Error::corrupt(format!("{key} is not UTF-8")))?;
                match text.strip_prefix(VALUE_PREFIX) {
                    Some(value) => Ok(Some(value.to_owned())),
                    None => Err(Error::corrupt(format!(
                        "{key} is not a value this version of sesh wrote (no {VALUE_PREFIX:?})"
                    ))),
                }
            }
        }
    }

    fn set(&self, key: &str, value: &str) -> Result<()> {
        let versioned = format!("{VALUE_PREFIX}{value}");
        // SAFETY: both strings are readable for their lengths during the call.
        let rc = unsafe {
            host::store_set(
                self.ctx,
                key.as_ptr(),
                key.len(),
                versioned.as_ptr(),
                versioned.len(),
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(Error::store(format!("the web store could not write {key}")))
        }
    }
}

impl Store for WebStore {
    fn storage_mechanism(&self) -> StorageMechanism {
        StorageMechanism::LocalStorage
    }

    fn load_user(&mut self) -> Result<Option<String>> {
        self.get(USER_KEY)
    }

    fn save_user(&mut self, user_id: &str) -> Result<()> {
        self.set(USER_KEY, user_id)
    }

    fn load_state(&mut self, namespace: &str) -> Result<Option<String>> {
        self.get(&state_key(namespace))
    }

    fn save_state(&mut self, namespace: &str, state: &str) -> Result<()> {
        self.set(&state_key(namespace), state)
    }

    fn shared_user(&self) -> Arc<SharedUser> {
        self.shared_user.clone()
    }
}

// ----- clock and hooks ----------------------------------------------------------------------

/// How far behind the stored last activity the default clock (Date.now) may read at open
/// and still be taken for jitter, as the native default clock does.
const DEFAULT_CLOCK_JITTER_MS: i64 = 1000;

struct WebClock {
    ctx: u32,
    /// The default clock (Date.now) absorbs up to a second of jitter at open; an injected
    /// clock is the only clock.
    default: bool,
    catch_up_ms: AtomicI64,
}

impl Clock for WebClock {
    fn now_ms(&self) -> i64 {
        // SAFETY: an import with no pointer.
        let ms = unsafe { host::now(self.ctx) };
        if !ms.is_finite() {
            // No reading (the clock threw, or gave no number): the call fails with
            // `callback_error`.
            return -1;
        }
        // A reading outside sesh's range goes to the engine as it is (`as` saturates), which
        // fails the call with `callback_error` naming that reading, as the C ABI does.
        let now = ms.floor() as i64;
        if !sesh::timestamp::is_valid(now) {
            return now;
        }
        now.saturating_add(self.catch_up_ms.load(Ordering::Relaxed))
    }

    fn not_before(&self, floor_ms: i64) {
        if !self.default {
            return;
        }
        let behind = floor_ms.saturating_sub(self.now_ms());
        if behind > 0 && behind <= DEFAULT_CLOCK_JITTER_MS {
            self.catch_up_ms.fetch_add(behind, Ordering::Relaxed);
        }
    }
}

struct WebHooks {
    ctx: u32,
    wants_ended: bool,
}

impl Hooks for WebHooks {
    fn session_started(&self, entity_json: &str) {
        // SAFETY: the text is readable for its length during the call.
        unsafe { host::session(self.ctx, 0, entity_json.as_ptr(), entity_json.len()) }
    }

    fn session_ended(&self, summary_json: &str) {
        // SAFETY: as above.
        unsafe { host::session(self.ctx, 1, summary_json.as_ptr(), summary_json.len()) }
    }

    fn wants_session_ended(&self) -> bool {
        self.wants_ended
    }

    fn log(&self, level: LogLevel, message: &str) {
        // SAFETY: as above.
        unsafe { host::log(self.ctx, level as i32, message.as_ptr(), message.len()) }
    }
}

// ----- handles and results ------------------------------------------------------------------

/// An open handle, and the template of the entity its last `sesh_web_track` answered in
/// full (`None` when that answer was no template's).
struct Handle {
    tracker: Arc<Tracker>,
    sent_template: Option<u64>,
}

#[derive(Default)]
struct Module {
    handles: BTreeMap<u32, Handle>,
    next_handle: u32,
    /// One `SharedUser` per JavaScript store object (index.js numbers them): handles on
    /// the same storage see another's `resetUser` at their next event.
    shared_users: BTreeMap<u32, Arc<SharedUser>>,
}

thread_local! {
    static MODULE: RefCell<Module> = RefCell::default();
    static RESULT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn set_result(bytes: &[u8]) {
    RESULT.with_borrow_mut(|r| {
        r.clear();
        r.extend_from_slice(bytes);
    });
}

/// Writes the call's answer and returns its code.
fn answer(result: Result<String>) -> i32 {
    match result {
        Ok(text) => {
            set_result(text.as_bytes());
            0
        }
        Err(err) => {
            let json = serde_json::json!({ "status": err.kind.name(), "message": err.message });
            set_result(json.to_string().as_bytes());
            1
        }
    }
}

fn handle(id: u32) -> Result<Arc<Tracker>> {
    MODULE
        .with_borrow(|m| m.handles.get(&id).map(|h| h.tracker.clone()))
        .ok_or_else(Error::closed)
}

/// # Safety
/// `ptr` is readable for `len` bytes (or `len` is 0).
unsafe fn text<'a>(ptr: *const u8, len: usize) -> Result<&'a str> {
    if len == 0 {
        return Ok("");
    }
    // SAFETY: as the caller promises.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
    std::str::from_utf8(bytes)
        .map_err(|_| Error::new(ErrorKind::InvalidUtf8, "a string argument was not UTF-8"))
}

/// An optional event id: `has` 0 for none.
///
/// # Safety
/// As [`text`].
unsafe fn event_id<'a>(has: i32, ptr: *const u8, len: usize) -> Result<Option<&'a str>> {
    if has == 0 {
        return Ok(None);
    }
    // SAFETY: forwarded.
    unsafe { text(ptr, len) }.map(Some)
}

// ----- exports ------------------------------------------------------------------------------

/// Memory for a string the caller writes in; freed with `sesh_web_free(ptr, len)`.
#[unsafe(no_mangle)]
pub extern "C" fn sesh_web_alloc(len: usize) -> *mut u8 {
    let mut buffer = std::mem::ManuallyDrop::new(Vec::<u8>::with_capacity(len));
    buffer.as_mut_ptr()
}

/// # Safety
/// `ptr` and `len` are what `sesh_web_alloc` gave and took, not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_web_free(ptr: *mut u8, len: usize) {
    // SAFETY: as the caller promises: a vector of this capacity.
    drop(unsafe { Vec::from_raw_parts(ptr, 0, len) });
}

#[unsafe(no_mangle)]
pub extern "C" fn sesh_web_result_ptr() -> *const u8 {
    RESULT.with_borrow(|r| r.as_ptr())
}

#[unsafe(no_mangle)]
pub extern "C" fn sesh_web_result_len() -> usize {
    RESULT.with_borrow(|r| r.len())
}

/// The options `index.js` sends to `sesh_web_open`, as JSON.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WebOptions {
    namespace: Option<String>,
    foreground_timeout: Option<f64>,
    background_timeout: Option<f64>,
    max_duration: Option<f64>,
    continue_on_restart: Option<bool>,
    anonymous: Option<bool>,
    manual: Option<bool>,
    start_in_background: Option<bool>,
    /// The number index.js gives the JavaScript store object; none: the memory store.
    store: Option<u32>,
    default_clock: bool,
    wants_session_end: bool,
}

fn whole_seconds(value: Option<f64>, default: u64, min: f64, what: &str) -> Result<u64> {
    match value {
        None => Ok(default),
        Some(v)
            if v.is_finite() && v.fract() == 0.0 && v >= min && v <= 9.007_199_254_740_991e15 =>
        {
            Ok(v as u64)
        }
        Some(_) => Err(Error::invalid(format!(
            "{what} is a whole number of seconds >= {min}"
        ))),
    }
}

fn open(ctx: u32, options: &str) -> Result<String> {
    let options: WebOptions =
        serde_json::from_str(options).map_err(|e| Error::invalid(format!("the options: {e}")))?;
    let defaults = Config::default();
    let namespace = options.namespace.unwrap_or(defaults.namespace);
    if namespace.is_empty() {
        return Err(Error::invalid("the namespace is empty"));
    }
    let config = Config {
        namespace,
        foreground_timeout_seconds: whole_seconds(
            options.foreground_timeout,
            defaults.foreground_timeout_seconds,
            1.0,
            "the foreground timeout",
        )?,
        background_timeout_seconds: whole_seconds(
            options.background_timeout,
            defaults.background_timeout_seconds,
            1.0,
            "the background timeout",
        )?,
        max_duration_seconds: whole_seconds(
            options.max_duration,
            defaults.max_duration_seconds,
            0.0,
            "the maximum duration",
        )?,
        continue_on_restart: options
            .continue_on_restart
            .unwrap_or(defaults.continue_on_restart),
        anonymous: options.anonymous.unwrap_or(defaults.anonymous),
        automatic: !options.manual.unwrap_or(!defaults.automatic),
        start_in_background: options
            .start_in_background
            .unwrap_or(defaults.start_in_background),
    };
    let store: Box<dyn Store> = match options.store {
        None => Box::new(MemoryStore::new()),
        Some(store_id) => {
            let shared_user =
                MODULE.with_borrow_mut(|m| m.shared_users.entry(store_id).or_default().clone());
            Box::new(WebStore { ctx, shared_user })
        }
    };
    let tracker = Tracker::open(Parts {
        config,
        clock: Box::new(WebClock {
            ctx,
            default: options.default_clock,
            catch_up_ms: AtomicI64::new(0),
        }),
        ids: Box::new(RandomIds),
        store,
        hooks: Box::new(WebHooks {
            ctx,
            wants_ended: options.wants_session_end,
        }),
    })
    .inspect_err(|err| {
        // As sesh_handle_open does: why the open failed also goes to the log callback (the
        // options' checks above are the C ABI's setters, which do not log).
        WebHooks {
            ctx,
            wants_ended: false,
        }
        .log(LogLevel::Error, &err.message)
    })?;
    let id = MODULE.with_borrow_mut(|m| {
        m.next_handle += 1;
        m.handles.insert(
            m.next_handle,
            Handle {
                tracker: Arc::new(tracker),
                sent_template: None,
            },
        );
        m.next_handle
    });
    Ok(id.to_string())
}

/// Opens a handle with the options' JSON; the answer is the handle's number.
///
/// # Safety
/// `options` is readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_web_open(ctx: u32, options: *const u8, len: usize) -> i32 {
    // SAFETY: forwarded from the caller.
    answer(unsafe { text(options, len) }.and_then(|o| open(ctx, o)))
}

/// Whether an entity of `template` is the one `sesh_web_track` last answered in full for
/// this handle but for its event index (then `index.js` puts the index into the entity it
/// kept, and a steady event costs no rendering, no decoding and no `JSON.parse`); else
/// `template` becomes the handle's last answered in full.
fn sent_before(handle_id: u32, template: Option<u64>) -> bool {
    MODULE.with_borrow_mut(|m| {
        let Some(handle) = m.handles.get_mut(&handle_id) else {
            return false;
        };
        if template.is_some() && handle.sent_template == template {
            return true;
        }
        handle.sent_template = template;
        false
    })
}

/// Tracks an event (`has_id` 0: a generated id; `has_ts` 0: its timestamp is now). Answers
/// a number: `n >= 0`, the entity is the one this handle's last answer of -1 held, with
/// `eventIndex` n (nothing is written to the result buffer); -1, the entity's JSON is in
/// the result buffer (empty in manual mode outside a session); -2, the call failed (the
/// result buffer holds the error).
///
/// # Safety
/// `id` is readable for `id_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_web_track(
    handle_id: u32,
    has_id: i32,
    id: *const u8,
    id_len: usize,
    has_ts: i32,
    ts: f64,
) -> f64 {
    let result = handle(handle_id).and_then(|tracker| {
        // SAFETY: forwarded from the caller.
        let id = unsafe { event_id(has_id, id, id_len) }?;
        let ts = if has_ts == 0 {
            None
        } else if ts.is_finite() && ts.fract() == 0.0 && ts.abs() <= 9.007_199_254_740_991e15 {
            Some(ts as i64)
        } else {
            return Err(Error::invalid(
                "an event timestamp is a whole number of milliseconds",
            ));
        };
        let rendering = tracker.track_later(id, ts)?;
        // After the call's callbacks (which may have tracked on this handle too).
        let template = match &rendering {
            Some(Rendering::Later(later)) => Some(later.template_number()),
            _ => None,
        };
        if sent_before(handle_id, template) {
            if let Some(Rendering::Later(later)) = rendering {
                let index = later.event_index();
                later.keep();
                return Ok(f64::from(index));
            }
        }
        set_result(
            rendering
                .map(Rendering::into_string)
                .unwrap_or_default()
                .as_bytes(),
        );
        Ok(-1.0)
    });
    match result {
        Ok(answer) => answer,
        Err(err) => {
            answer(Err(err));
            -2.0
        }
    }
}

/// Moves the app to background (`to_background` 1) or foreground. The answer is
/// `{"event":<lifecycle event>,"entity":<entity or null>}`, or empty when nothing changed.
///
/// # Safety
/// `id` is readable for `id_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_web_transition(
    handle_id: u32,
    to_background: i32,
    has_id: i32,
    id: *const u8,
    id_len: usize,
) -> i32 {
    let result = handle(handle_id).and_then(|tracker| {
        // SAFETY: forwarded from the caller.
        let id = unsafe { event_id(has_id, id, id_len) }?;
        Ok(match tracker.transition(to_background != 0, id)? {
            Transition::Unchanged => String::new(),
            Transition::Changed {
                lifecycle_event,
                entity,
            } => format!(
                "{{\"event\":{lifecycle_event},\"entity\":{}}}",
                entity.as_deref().unwrap_or("null")
            ),
        })
    });
    answer(result)
}

/// The host controls: 0 new session, 1 end session, 2 check, 3 pause, 4 resume,
/// 5 anonymous (`arg` 0 or 1), 6 reset the user (the answer is the new user id).
#[unsafe(no_mangle)]
pub extern "C" fn sesh_web_control(handle_id: u32, op: i32, arg: i32) -> i32 {
    let result = handle(handle_id).and_then(|tracker| {
        match op {
            0 => tracker.new_session()?,
            1 => tracker.end_session()?,
            2 => tracker.check()?,
            3 => tracker.pause()?,
            4 => tracker.resume()?,
            5 => tracker.set_anonymous(arg != 0)?,
            6 => return Ok(tracker.reset_user()?.to_string()),
            _ => return Err(Error::invalid(format!("no control {op}"))),
        }
        Ok(String::new())
    });
    answer(result)
}

/// Everything the getters show, as JSON: `userId`, `inBackground`, `paused`, `entity` (the
/// current entity, or null when there is no session), `backgroundIndex`,
/// `foregroundIndex` (null without a session) and `lastFault` (`{status, message}` or null).
#[unsafe(no_mangle)]
pub extern "C" fn sesh_web_state(handle_id: u32) -> i32 {
    let result = handle(handle_id).and_then(|tracker| {
        let entity = tracker.entity()?.map(|e| e.to_json());
        let indexes = tracker.lifecycle_indexes()?;
        let fault = tracker.last_fault()?.map(|f| {
            serde_json::json!({ "status": f.kind.name(), "message": f.message }).to_string()
        });
        let index = |i: Option<u32>| i.map_or("null".to_owned(), |i| i.to_string());
        Ok(format!(
            "{{\"userId\":\"{}\",\"inBackground\":{},\"paused\":{},\"entity\":{},\
             \"backgroundIndex\":{},\"foregroundIndex\":{},\"lastFault\":{}}}",
            tracker.user_id()?,
            tracker.in_background()?,
            tracker.is_paused()?,
            entity.as_deref().unwrap_or("null"),
            index(indexes.map(|i| i.0)),
            index(indexes.map(|i| i.1)),
            fault.as_deref().unwrap_or("null"),
        ))
    });
    answer(result)
}

/// Writes what is pending and closes the handle; its number is no longer valid (later calls
/// answer `closed`). A failure to write still closes it.
#[unsafe(no_mangle)]
pub extern "C" fn sesh_web_close(handle_id: u32) -> i32 {
    let result = handle(handle_id).and_then(|tracker| {
        MODULE.with_borrow_mut(|m| m.handles.remove(&handle_id));
        tracker.close().map(|()| String::new())
    });
    answer(result)
}
