//! A thread-safe engine with its clock, store and host hooks.
//!
//! One lock guards the engine. The clock is read before it is taken, the store is written
//! and the host's hooks are called after it is released: a hook may call the tracker again.

use crate::clock::Clock;
use crate::engine::state::{self, NamespaceState};
use crate::engine::{Config, Engine, Event, Notice, Transition};
use crate::error::{Error, ErrorKind, Result};
use crate::id::{IdGenerator, parse_hyphenated};
use crate::render::SessionEntity;
use crate::store::{SharedUser, Store};
use crate::timestamp;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use uuid::Uuid;

/// How serious a log message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

/// What the host hears. Called on the thread that made the call, with no lock held.
pub trait Hooks: Send + Sync {
    /// A session started: its entity JSON.
    fn session_started(&self, _entity_json: &str) {}
    /// A session ended: its summary JSON.
    fn session_ended(&self, _summary_json: &str) {}
    /// Whether `session_ended` is worth a summary: false spares rendering one.
    fn wants_session_ended(&self) -> bool {
        true
    }
    /// A fault or a note; the library never prints.
    fn log(&self, _level: LogLevel, _message: &str) {}
}

/// Hooks that hear nothing.
pub struct NoHooks;
impl Hooks for NoHooks {
    fn wants_session_ended(&self) -> bool {
        false
    }
}

/// A fault the tracker met on its own (not a caller's bad argument).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub kind: ErrorKind,
    pub message: String,
}

struct Locked {
    /// `None` once closed.
    engine: Option<Engine>,
    /// The latest time the engine was handed.
    latest_now: i64,
}

/// Writes that have not reached the store yet: the newest of each kind.
#[derive(Default)]
struct Pending {
    user: Option<String>,
    state: Option<String>,
}

/// A session engine shared by threads.
pub struct Tracker {
    /// parking_lot's mutex: with 8 threads on 2 cores it keeps 80% of one thread's
    /// throughput where the standard one kept 50% (benches/c/sesh-bench, `threads`).
    locked: parking_lot::Mutex<Locked>,
    /// Counts operations that read the clock, to tell a clock going back from a race.
    operations: AtomicU64,
    clock: Box<dyn Clock>,
    hooks: Box<dyn Hooks>,
    namespace: String,
    store: Mutex<Box<dyn Store>>,
    /// The user id as every handle on the same store in this process knows it.
    shared_user: Arc<SharedUser>,
    /// The `shared_user` epoch this handle has seen.
    user_epoch: AtomicU64,
    pending: Mutex<Pending>,
    /// A write failed and waits in `pending` for the next operation to try again.
    retry: std::sync::atomic::AtomicBool,
    /// False when opening could not read the store: nothing is written over it.
    writable: bool,
    /// Set once by `close`; the engine is gone from then on.
    closed: std::sync::atomic::AtomicBool,
    last_fault: Mutex<Option<Fault>>,
}

/// Everything a tracker is made from.
pub struct Parts {
    pub config: Config,
    pub clock: Box<dyn Clock>,
    pub ids: Box<dyn IdGenerator>,
    pub store: Box<dyn Store>,
    pub hooks: Box<dyn Hooks>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic is caught at the API boundary; the state it left is still the engine's last
    // consistent one, so tracking goes on rather than failing forever.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What opening found in the store.
struct Found {
    user_id: Uuid,
    /// A user id to write: the stored one was unreadable (or could not be claimed).
    user_to_write: Option<String>,
    persisted: Option<NamespaceState>,
    faults: Vec<Error>,
    /// A read failed (rather than returning damaged data): nothing is known of what the
    /// store holds, so nothing is written over it.
    read_failed: bool,
    /// The namespace's state was there but unreadable.
    state_unreadable: bool,
}

impl Found {
    /// Reads the user id and the namespace's state. A store that cannot be read does not
    /// stop tracking: sesh starts clean in memory and reports the fault.
    fn read(store: &mut dyn Store, ids: &mut dyn IdGenerator, namespace: &str) -> Found {
        let mut found = Found {
            user_id: Uuid::nil(),
            user_to_write: None,
            persisted: None,
            faults: store.take_repairs(),
            read_failed: false,
            state_unreadable: false,
        };
        let (stored_user, user_readable) = match store.load_user() {
            Ok(Some(text)) => match parse_hyphenated(&text) {
                Some(user) => (Some(user), true),
                None => {
                    found
                        .faults
                        .push(Error::corrupt("the stored user id is not a UUID"));
                    (None, false)
                }
            },
            Ok(None) => (None, true),
            Err(err) => {
                found.read_failed |= err.kind == ErrorKind::StoreError;
                found.faults.push(err);
                (None, false)
            }
        };
        found.user_id = match stored_user {
            Some(user) => user,
            // None kept yet: claimed, so that two first opens at once agree on one.
            None if user_readable => {
                let candidate = ids.next_id();
                match store.claim_user(&candidate.to_string()) {
                    Ok(kept) => parse_hyphenated(&kept).unwrap_or(candidate),
                    Err(err) => {
                        found.faults.push(err);
                        found.user_to_write = Some(candidate.to_string());
                        candidate
                    }
                }
            }
            None => {
                let candidate = ids.next_id();
                found.user_to_write = Some(candidate.to_string());
                candidate
            }
        };
        // An unreadable user id: every namespace starts clean under the new one.
        if user_readable {
            match store.load_state(namespace) {
                Ok(Some(text)) => match state::decode(&text) {
                    Ok(state) => found.persisted = Some(state),
                    Err(err) => {
                        found.state_unreadable = true;
                        found.faults.push(err);
                    }
                },
                Ok(None) => {}
                Err(err) => {
                    found.read_failed |= err.kind == ErrorKind::StoreError;
                    found.state_unreadable |= err.kind == ErrorKind::CorruptState;
                    found.faults.push(err);
                }
            }
        }
        found
    }
}

impl Tracker {
    /// Opens the namespace on the store: reads the user id and the persisted state, ends a
    /// session that will not go on, and reports what it found unreadable as the last fault.
    pub fn open(parts: Parts) -> Result<Tracker> {
        let Parts {
            config,
            clock,
            mut ids,
            mut store,
            hooks,
        } = parts;
        config.validate()?;
        let Found {
            user_id,
            user_to_write,
            persisted,
            faults,
            read_failed,
            state_unreadable,
        } = Found::read(store.as_mut(), ids.as_mut(), &config.namespace);
        if let Some(session) = persisted.as_ref().and_then(|p| p.session.as_ref()) {
            clock.not_before(session.last_activity);
        }
        let now = read_clock(clock.as_ref())?;
        let shared_user = store.shared_user();
        let user_epoch = shared_user.epoch();
        let mut notices = Vec::new();
        let namespace = config.namespace.clone();
        let storage = store.storage_mechanism();
        let mut counter = store.session_counter(&config.namespace);
        if state_unreadable {
            // Unreadable state starts the namespace clean: its count too (SPEC.md §2).
            if let Some(counter) = counter.as_mut() {
                counter.forget();
            }
        }
        let mut engine = Engine::open(config, ids, storage, user_id, persisted, now, &mut notices)?;
        engine.set_session_counter(counter);
        let tracker = Tracker {
            locked: parking_lot::Mutex::new(Locked {
                engine: None,
                latest_now: now,
            }),
            operations: AtomicU64::new(0),
            clock,
            hooks,
            namespace,
            store: Mutex::new(store),
            shared_user,
            user_epoch: AtomicU64::new(user_epoch),
            pending: Mutex::new(Pending::default()),
            retry: std::sync::atomic::AtomicBool::new(false),
            writable: !read_failed,
            closed: std::sync::atomic::AtomicBool::new(false),
            last_fault: Mutex::new(None),
        };
        for fault in faults {
            tracker.record_fault(fault.kind, &fault.message);
        }
        if read_failed {
            tracker.hooks.log(
                LogLevel::Warn,
                "the store could not be read: tracking in memory, writing nothing over it until the next open",
            );
        }
        let pending = Pending {
            user: user_to_write,
            state: engine.take_snapshot(),
        };
        tracker.locked.lock().engine = Some(engine);
        tracker.deliver(&notices);
        tracker.write(pending);
        Ok(tracker)
    }

    // ----- running an operation -----------------------------------------------------------

    /// Runs `op` on the engine at "now", then writes and reports what it changed.
    fn run<T>(&self, op: impl FnOnce(&mut Engine, i64, &mut Vec<Notice>) -> T) -> Result<T> {
        let seen = self.operations.load(Ordering::Acquire);
        let mut now = match read_clock(self.clock.as_ref()) {
            Ok(now) => now,
            // A closed handle answers `closed`, whatever its clock reads. (Checked only
            // here: a shared flag read before every operation costs the threads contention.)
            Err(_) if self.is_closed() => return Err(Error::closed()),
            Err(err) => {
                self.record_fault(err.kind, &err.message);
                return Err(err);
            }
        };
        let mut notices = Vec::new();
        let (value, pending) = {
            let mut locked = self.locked.lock();
            let Locked { engine, latest_now } = &mut *locked;
            let engine = engine.as_mut().ok_or_else(Error::closed)?;
            if self.operations.load(Ordering::Acquire) != seen && now < *latest_now {
                // Another thread read the clock after this one and got here first: that
                // is a race, not the clock going back.
                now = *latest_now;
            }
            *latest_now = now;
            self.operations.fetch_add(1, Ordering::AcqRel);
            self.observe_shared_user(engine);
            let value = op(engine, now, &mut notices);
            let pending = Pending {
                user: engine.take_user_change().map(|u| u.to_string()),
                state: engine.take_snapshot(),
            };
            (value, pending)
        };
        self.write(pending);
        self.deliver(&notices);
        Ok(value)
    }

    /// Reads the engine without the clock.
    fn read<T>(&self, op: impl FnOnce(&Engine) -> T) -> Result<T> {
        let locked = self.locked.lock();
        let engine = locked.engine.as_ref().ok_or_else(Error::closed)?;
        Ok(op(engine))
    }

    fn deliver(&self, notices: &[Notice]) {
        for notice in notices {
            match notice {
                Notice::Ended(summary) => {
                    if self.hooks.wants_session_ended() {
                        self.hooks.session_ended(&summary.to_json());
                    }
                }
                Notice::Started(entity) => self.hooks.session_started(entity),
            }
        }
    }

    /// Another handle on the same store reset the user: this namespace's session belongs to
    /// the old one.
    fn observe_shared_user(&self, engine: &mut Engine) {
        let epoch = self.shared_user.epoch();
        if epoch != self.user_epoch.swap(epoch, Ordering::AcqRel) {
            if let Some(user) = self.shared_user.get() {
                engine.observe_store_user(user);
            }
        }
    }

    /// Writes what the operation must make durable before it returns. A thread that finds
    /// another writing waits for it (its write may already carry this one's state); a
    /// store callback that calls sesh again only queues, and the write it is inside of
    /// picks the state up before returning.
    fn write(&self, new: Pending) {
        if !self.writable
            || (new.user.is_none() && new.state.is_none() && !self.retry.load(Ordering::Acquire))
        {
            return;
        }
        {
            let mut pending = lock(&self.pending);
            if new.user.is_some() {
                pending.user = new.user;
            }
            if new.state.is_some() {
                pending.state = new.state;
            }
            if pending.user.is_none() && pending.state.is_none() {
                return;
            }
        }
        let me = self as *const Tracker as usize;
        if WRITING.get() == me {
            return;
        }
        let mut store = lock(&self.store);
        WRITING.set(me);
        self.drain(store.as_mut());
        WRITING.set(0);
    }

    /// Writes what is pending; true when a write failed (it stays pending).
    fn drain(&self, store: &mut dyn Store) -> bool {
        // A store callback that tracks makes writes that call it again: after a few rounds
        // the rest waits for the next call, so that such a store cannot spin forever.
        for _ in 0..MAX_WRITE_ROUNDS {
            let (user, state) = {
                let mut pending = lock(&self.pending);
                (pending.user.take(), pending.state.take())
            };
            if user.is_none() && state.is_none() {
                self.retry.store(false, Ordering::Release);
                return false;
            }
            let mut failure = None;
            if let Some(user_id) = &user {
                if let Err(err) = store.save_user(user_id) {
                    failure = Some(err);
                }
            }
            if failure.is_none() {
                if let Some(text) = &state {
                    if let Err(err) = store.save_state(&self.namespace, text) {
                        failure = Some(err);
                    }
                }
            }
            if let Some(err) = failure {
                // Keep what failed unless something newer replaced it meanwhile.
                let mut pending = lock(&self.pending);
                if pending.user.is_none() {
                    pending.user = user;
                }
                if pending.state.is_none() {
                    pending.state = state;
                }
                drop(pending);
                self.retry.store(true, Ordering::Release);
                self.record_fault(err.kind, &format!("store write failed: {}", err.message));
                return true;
            }
        }
        self.retry.store(true, Ordering::Release);
        false
    }

    fn record_fault(&self, kind: ErrorKind, message: &str) {
        *lock(&self.last_fault) = Some(Fault {
            kind,
            message: message.to_owned(),
        });
        self.hooks.log(LogLevel::Error, message);
    }

    // ----- the operations -----------------------------------------------------------------

    /// Tracks an event. `None` in manual mode outside a session.
    pub fn track(
        &self,
        event_id: Option<&str>,
        timestamp_ms: Option<i64>,
    ) -> Result<Option<String>> {
        let (id, ts) = self.check_event(event_id, timestamp_ms)?;
        self.run(|engine, now, notices| {
            let event = self.event(id, ts, now);
            engine.track(now, event, notices)
        })
    }

    /// Tracks an event now, writing its entity and a NUL into `out` (at least
    /// [`MAX_ENTITY_SIZE`](crate::render::MAX_ENTITY_SIZE) bytes, else `invalid_argument`
    /// and nothing is counted). The entity's length, or `None` in manual mode outside a
    /// session.
    pub fn track_into(&self, event_id: Option<&str>, out: &mut [u8]) -> Result<Option<usize>> {
        if out.len() < crate::render::MAX_ENTITY_SIZE {
            return Err(Error::invalid(format!(
                "the buffer holds {} bytes; an entity needs up to {}",
                out.len(),
                crate::render::MAX_ENTITY_SIZE
            )));
        }
        let (id, _) = self.check_event(event_id, None)?;
        self.run(|engine, now, notices| {
            let event = self.event(id, None, now);
            engine.track_into(now, event, notices, out)
        })
    }

    /// Moves the app to background (`true`) or foreground.
    pub fn transition(&self, to_background: bool, event_id: Option<&str>) -> Result<Transition> {
        let (id, _) = self.check_event(event_id, None)?;
        self.run(|engine, now, notices| {
            let event = self.event(id, None, now);
            engine.transition(now, to_background, event, notices)
        })
    }

    fn check_event(
        &self,
        event_id: Option<&str>,
        timestamp_ms: Option<i64>,
    ) -> Result<(Option<Uuid>, Option<i64>)> {
        let id = match event_id {
            Some(text) => Some(parse_hyphenated(text).ok_or_else(|| {
                Error::invalid("an event id is a UUID written 8-4-4-4-12 in hex digits")
            })?),
            None => None,
        };
        if let Some(ts) = timestamp_ms {
            if !timestamp::is_valid(ts) {
                return Err(Error::invalid(format!(
                    "an event timestamp is milliseconds from 0 to {}",
                    timestamp::MAX_TIMESTAMP_MS
                )));
            }
        }
        Ok((id, timestamp_ms))
    }

    fn event(&self, id: Option<Uuid>, ts: Option<i64>, now: i64) -> Event {
        Event {
            id,
            timestamp_ms: ts.unwrap_or(now),
        }
    }

    pub fn new_session(&self) -> Result<()> {
        self.run(|engine, now, notices| engine.new_session(now, notices))
    }

    pub fn end_session(&self) -> Result<()> {
        self.run(|engine, _, notices| engine.end_session(notices))?
    }

    pub fn check(&self) -> Result<()> {
        self.run(|engine, now, notices| engine.check(now, notices))
    }

    pub fn pause(&self) -> Result<()> {
        self.run(|engine, _, _| engine.pause())
    }

    pub fn resume(&self) -> Result<()> {
        self.run(|engine, _, _| engine.resume())
    }

    pub fn set_anonymous(&self, anonymous: bool) -> Result<()> {
        self.run(|engine, now, notices| engine.set_anonymous(now, anonymous, notices))
    }

    pub fn reset_user(&self) -> Result<Uuid> {
        let user = self.run(|engine, _, notices| engine.reset_user(notices))?;
        // Published after the store has it, so that a handle opening meanwhile reads
        // either the new user from the store or the new epoch from here.
        let epoch = self.shared_user.set(user);
        self.user_epoch.store(epoch, Ordering::Release);
        Ok(user)
    }

    /// Writes what is pending and closes; later calls answer `closed`.
    pub fn close(&self) -> Result<()> {
        let pending = {
            let mut locked = self.locked.lock();
            let mut engine = locked.engine.take().ok_or_else(Error::closed)?;
            self.closed.store(true, Ordering::Release);
            Pending {
                user: engine.take_user_change().map(|u| u.to_string()),
                state: engine.take_final_snapshot(),
            }
        };
        self.write(pending);
        let me = self as *const Tracker as usize;
        if WRITING.get() == me || !self.writable {
            // Closed from inside this handle's own store call: the write that call is part
            // of drains what is pending when it returns.
            return Ok(());
        }
        // Retry anything that failed, then make it all durable.
        let mut store = lock(&self.store);
        WRITING.set(me);
        let failed = self.drain(store.as_mut());
        let flushed = store.flush();
        WRITING.set(0);
        drop(store);
        if let Err(err) = flushed {
            self.record_fault(err.kind, &err.message);
            return Err(err);
        }
        if failed {
            return Err(Error::store("state could not be written before close"));
        }
        Ok(())
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    // ----- getters ------------------------------------------------------------------------

    pub fn entity(&self) -> Result<Option<SessionEntity>> {
        self.read(|engine| engine.entity())
    }

    pub fn user_id(&self) -> Result<Uuid> {
        self.read(|engine| engine.shown_user_id())
    }

    pub fn in_background(&self) -> Result<bool> {
        self.read(|engine| engine.in_background())
    }

    /// The background and foreground indexes of the current session.
    pub fn lifecycle_indexes(&self) -> Result<Option<(u32, u32)>> {
        self.read(|engine| {
            engine
                .session()
                .map(|s| (s.background_index, s.foreground_index))
        })
    }

    pub fn is_paused(&self) -> Result<bool> {
        self.read(|engine| engine.is_paused())
    }

    pub fn last_fault(&self) -> Result<Option<Fault>> {
        self.read(|_| ())?;
        Ok(lock(&self.last_fault).clone())
    }

    /// The namespace state as the engine holds it (tests and diagnostics).
    pub fn state(&self) -> Result<NamespaceState> {
        self.read(|engine| engine.state().clone())
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        if !self.is_closed() {
            let _ = self.close();
        }
    }
}

/// How many rounds of writes one call makes before leaving the rest to the next call.
const MAX_WRITE_ROUNDS: usize = 8;

thread_local! {
    /// The tracker whose store this thread is inside of, if any (0: none).
    static WRITING: Cell<usize> = const { Cell::new(0) };
}

fn read_clock(clock: &dyn Clock) -> Result<i64> {
    let now = clock.now_ms();
    if !timestamp::is_valid(now) {
        return Err(Error::new(
            ErrorKind::CallbackError,
            format!(
                "the clock read {now}, not milliseconds from 0 to {}",
                timestamp::MAX_TIMESTAMP_MS
            ),
        ));
    }
    Ok(now)
}
