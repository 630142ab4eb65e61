//! A thread-safe engine with its clock, store and host hooks.
//!
//! One lock guards the handle's engine. The clock is read before it is taken; the host's
//! hooks (session and log callbacks, a custom store) run after it is released, so a hook
//! may call the tracker again. How changes reach the store and the other handles is the
//! write path's business ([`crate::sync`]).

use crate::clock::Clock;
use crate::engine::state::{self, NamespaceState};
use crate::engine::{Config, Engine, Event, Notice, Rendering, Transition};
use crate::error::{Error, ErrorKind, Result};
use crate::id::{IdGenerator, parse_hyphenated};
use crate::render::SessionEntity;
use crate::store::{SharedUser, Store};
use crate::sync::private::{Policy, Writer};
#[cfg(feature = "sqlite")]
use crate::sync::shared::{Persisted, Shared, Synced};
use crate::timestamp;
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
    /// What the write path keeps under the engine lock.
    progress: Progress,
}

/// Where a handle's changes go.
enum WritePath {
    /// Memory and custom stores: the handle is the store's one writer.
    Private(Writer),
    /// The SQLite store: one live state for every handle and process on the namespace.
    #[cfg(feature = "sqlite")]
    Shared(Shared),
}

enum Progress {
    Private(Policy),
    #[cfg(feature = "sqlite")]
    Shared(Synced),
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
    path: WritePath,
    /// The user id as every handle on the same private store in this process knows it.
    shared_user: Arc<SharedUser>,
    /// The `shared_user` epoch this handle has seen.
    user_epoch: AtomicU64,
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
    /// The namespace's state and the coordination generation it was written at.
    persisted: Option<(NamespaceState, u32)>,
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
                Ok(Some(text)) => match state::decode_at(&text) {
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

// Without the SQLite store the private write path is the only one: its `if let`s cannot
// fail, the "made together" arms cannot be reached, and what only the shared path reads or
// changes (the open's label, `faults`, `progress`, a first `required`) is left unused.
#[cfg_attr(
    not(feature = "sqlite"),
    allow(
        irrefutable_let_patterns,
        unreachable_patterns,
        unused_labels,
        unused_mut,
        unused_assignments,
        unused_variables
    )
)]
impl Tracker {
    /// Opens the namespace on the store: reads the user id and the persisted state (or
    /// joins the handles that hold the namespace), ends a session that will not go on, and
    /// reports what it found unreadable as the last fault.
    pub fn open(parts: Parts) -> Result<Tracker> {
        let Parts {
            config,
            clock,
            mut ids,
            mut store,
            hooks,
        } = parts;
        config.validate()?;
        let found = Found::read(store.as_mut(), ids.as_mut(), &config.namespace);
        let notes = store.take_notes();
        let mut faults = found.faults;
        let storage = store.storage_mechanism();
        let shared_user = store.shared_user();
        let user_epoch = shared_user.epoch();
        let namespace = config.namespace.clone();
        let mut notices = Vec::new();
        let read_failed = found.read_failed;
        let (path, engine, progress) = 'opened: {
            #[cfg(feature = "sqlite")]
            if store.database_path().is_some() && !read_failed {
                let persisted = Persisted {
                    user_id: found.user_id,
                    user_is_new: found.user_to_write.is_some(),
                    state: found.persisted,
                    state_unreadable: found.state_unreadable,
                };
                let (path, engine, progress) = Self::open_shared(
                    config,
                    clock.as_ref(),
                    ids,
                    store,
                    storage,
                    persisted,
                    &mut faults,
                    &mut notices,
                )?;
                break 'opened (path, engine, progress);
            }
            let persisted = found.persisted.map(|(state, _)| state);
            if let Some(session) = persisted.as_ref().and_then(|p| p.session.as_ref()) {
                clock.not_before(session.last_activity);
            }
            let now = read_clock(clock.as_ref())?;
            let mut engine = Engine::open(
                config,
                ids,
                storage,
                found.user_id,
                persisted.clone(),
                now,
                &mut notices,
            )?;
            // A store nothing else reads is not written: the engine holds all it would.
            let writes = !read_failed && store.read_by_others();
            let writer = Writer::new(store, namespace.clone(), writes);
            let mut policy = Policy::new(persisted.as_ref());
            let snapshot = match &persisted {
                Some(before) => policy.after(before, engine.state(), false),
                None => policy.after(
                    &NamespaceState::fresh(Uuid::nil(), false, false),
                    engine.state(),
                    true,
                ),
            };
            let user = found
                .user_to_write
                .or_else(|| engine.take_user_change().map(|u| u.to_string()));
            if snapshot.is_some() || user.is_some() {
                policy.required = writer.enqueue(user, snapshot);
            }
            (
                WritePath::Private(writer),
                engine,
                Progress::Private(policy),
            )
        };
        let latest_now = clock.now_ms();
        let tracker = Tracker {
            locked: parking_lot::Mutex::new(Locked {
                engine: Some(engine),
                latest_now,
                progress,
            }),
            operations: AtomicU64::new(0),
            clock,
            hooks,
            path,
            shared_user,
            user_epoch: AtomicU64::new(user_epoch),
            closed: std::sync::atomic::AtomicBool::new(false),
            last_fault: Mutex::new(None),
        };
        for note in notes {
            tracker.hooks.log(LogLevel::Info, &note);
        }
        for fault in faults {
            tracker.record_fault(fault.kind, &fault.message);
        }
        if read_failed {
            tracker.hooks.log(
                LogLevel::Warn,
                "the store could not be read: tracking in memory, writing nothing over it until the next open",
            );
        }
        tracker.deliver(&notices);
        if let WritePath::Private(writer) = &tracker.path {
            let required = match &tracker.locked.lock().progress {
                Progress::Private(policy) => policy.required,
                #[cfg(feature = "sqlite")]
                Progress::Shared(_) => 0,
            };
            tracker.report(writer.ensure(required));
        }
        Ok(tracker)
    }

    /// Opens on the SQLite store: joins the handles that hold the namespace, or holds it
    /// first and opens the engine on what the store keeps.
    #[cfg(feature = "sqlite")]
    #[allow(clippy::too_many_arguments)]
    fn open_shared(
        config: Config,
        clock: &dyn Clock,
        ids: Box<dyn IdGenerator>,
        store: Box<dyn Store>,
        storage: crate::render::StorageMechanism,
        persisted: Persisted,
        faults: &mut Vec<Error>,
        notices: &mut Vec<Notice>,
    ) -> Result<(WritePath, Engine, Progress)> {
        let namespace = config.namespace.clone();
        // Read before any lock: a host's clock may call sesh again.
        let now = read_clock(clock)?;
        let opened = Shared::open(
            store,
            &namespace,
            persisted,
            faults,
            Box::new(move |known, first, user| {
                let mut now = now;
                if let Some(session) = known.as_ref().and_then(|s| s.session.as_ref()) {
                    // The system clock absorbs its jitter; no host code runs here.
                    clock.not_before(session.last_activity);
                    now =
                        crate::sync::shared::meet(now, session.last_activity, clock.allowance_ms());
                }
                match (first, known) {
                    (false, Some(state)) => {
                        Engine::join(config, ids, storage, user, state, notices)
                    }
                    (_, known) => Engine::open(config, ids, storage, user, known, now, notices),
                }
            }),
        )?;
        Ok((
            WritePath::Shared(opened.shared),
            opened.engine,
            Progress::Shared(opened.synced),
        ))
    }

    // ----- running an operation -----------------------------------------------------------

    /// Runs `op` on the engine at "now", then writes and reports what it changed. `op` may
    /// run more than once (the shared write path runs it again on the namespace's newer
    /// state when another handle changed it meanwhile); only its last run counts.
    fn run<T>(&self, op: impl FnMut(&mut Engine, i64, &mut Vec<Notice>) -> T) -> Result<T> {
        self.run_then(op, |_, value, _| value)
    }

    /// As [`run`](Self::run), then `finish` on the engine as `op` left it, once the change is
    /// published and before the engine lock is released: work that reads the new state but
    /// changes nothing shared (rendering the entity) stays out of the time between reading
    /// the namespace's state and publishing it.
    fn run_then<T, U>(
        &self,
        mut op: impl FnMut(&mut Engine, i64, &mut Vec<Notice>) -> T,
        finish: impl FnOnce(&mut Engine, T, &mut Vec<Notice>) -> U,
    ) -> Result<U> {
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
        let mut faults = Vec::new();
        let mut required = 0;
        let value = {
            let mut locked = self.locked.lock();
            let Locked {
                engine,
                latest_now,
                progress,
            } = &mut *locked;
            let engine = engine.as_mut().ok_or_else(Error::closed)?;
            if self.operations.load(Ordering::Relaxed) != seen && now < *latest_now {
                // Another thread read the clock after this one and got here first: that
                // is a race, not the clock going back.
                now = *latest_now;
            }
            *latest_now = now;
            // Only ever changed under the engine lock: a plain store, not a locked add.
            let operations = self.operations.load(Ordering::Relaxed);
            self.operations.store(operations + 1, Ordering::Release);
            let value = match (&self.path, progress) {
                #[cfg(feature = "sqlite")]
                (WritePath::Shared(shared), Progress::Shared(synced)) => shared.run(
                    engine,
                    synced,
                    now,
                    self.clock.allowance_ms(),
                    &mut notices,
                    &mut faults,
                    &mut op,
                )?,
                (WritePath::Private(writer), Progress::Private(_)) if !writer.writes() => {
                    self.observe_shared_user(engine);
                    let value = op(engine, now, &mut notices);
                    let _ = engine.take_user_change();
                    value
                }
                (WritePath::Private(writer), Progress::Private(policy)) => {
                    self.observe_shared_user(engine);
                    let before = engine.state().clone();
                    let value = op(engine, now, &mut notices);
                    let user = engine.take_user_change();
                    let changed = crate::sync::change(&before, engine.state());
                    let snapshot = policy.after_change(changed, engine.state(), user.is_some());
                    // A call waits for the write its result depends on: its own, or the
                    // one that covers its event index; a call that changed nothing waits
                    // for none.
                    required = if snapshot.is_some() || user.is_some() {
                        policy.required = writer.enqueue(user.map(|u| u.to_string()), snapshot);
                        policy.required
                    } else if changed == crate::sync::Change::None {
                        0
                    } else {
                        policy.required
                    };
                    value
                }
                _ => unreachable!("a tracker's write path and its progress are made together"),
            };
            finish(engine, value, &mut notices)
        };
        if let WritePath::Private(writer) = &self.path {
            faults.extend(writer.ensure(required));
        }
        self.report(faults);
        self.deliver(&notices);
        Ok(value)
    }

    /// Reads the engine without the clock, as the namespace stands now.
    fn read<T>(&self, op: impl FnOnce(&Engine) -> T) -> Result<T> {
        let mut faults = Vec::new();
        let value = {
            let mut locked = self.locked.lock();
            let Locked {
                engine, progress, ..
            } = &mut *locked;
            let engine = engine.as_mut().ok_or_else(Error::closed)?;
            #[cfg(feature = "sqlite")]
            if let (WritePath::Shared(shared), Progress::Shared(synced)) = (&self.path, progress) {
                shared.sync(engine, synced, &mut faults);
            }
            op(engine)
        };
        self.report(faults);
        Ok(value)
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

    /// Another handle on the same private store reset the user: this namespace's session
    /// belongs to the old one.
    fn observe_shared_user(&self, engine: &mut Engine) {
        let epoch = self.shared_user.epoch();
        // Loaded first: a swap on every event would make threads fight over its cache line.
        if epoch != self.user_epoch.load(Ordering::Acquire)
            && epoch != self.user_epoch.swap(epoch, Ordering::AcqRel)
        {
            if let Some(user) = self.shared_user.get() {
                engine.observe_store_user(user);
            }
        }
    }

    /// Records and logs faults, with no lock held.
    fn report(&self, faults: Vec<Error>) {
        for fault in faults {
            self.record_fault(fault.kind, &fault.message);
        }
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
        Ok(self
            .track_later(event_id, timestamp_ms)?
            .map(Rendering::into_string))
    }

    /// As [`track`](Self::track), the entity left to render: within a session it comes back
    /// as its template and index, copied out (or not) with no lock held.
    pub fn track_later(
        &self,
        event_id: Option<&str>,
        timestamp_ms: Option<i64>,
    ) -> Result<Option<Rendering>> {
        let (id, ts) = self.check_event(event_id, timestamp_ms)?;
        self.run_then(
            |engine, now, notices| engine.count_event(now, self.event(id, ts, now), notices),
            |engine, started, notices| started.map(|s| engine.counted_entity_later(s, notices)),
        )
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
        self.run_then(
            |engine, now, notices| engine.count_event(now, self.event(id, None, now), notices),
            |engine, started, notices| {
                started.and_then(|s| engine.counted_entity_into(s, notices, out))
            },
        )
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
        if let WritePath::Private(_) = self.path {
            // Published after the store has it, so that a handle opening meanwhile reads
            // either the new user from the store or the new epoch from here.
            let epoch = self.shared_user.set(user);
            self.user_epoch.store(epoch, Ordering::Release);
        }
        Ok(user)
    }

    /// Writes what is pending and closes; later calls answer `closed`.
    pub fn close(&self) -> Result<()> {
        let mut faults = Vec::new();
        let mut required = 0;
        {
            let mut locked = self.locked.lock();
            let Locked {
                engine, progress, ..
            } = &mut *locked;
            let mut engine = engine.take().ok_or_else(Error::closed)?;
            self.closed.store(true, Ordering::Release);
            match (&self.path, progress) {
                #[cfg(feature = "sqlite")]
                (WritePath::Shared(shared), Progress::Shared(synced)) => {
                    shared.close(&mut engine, synced, &mut faults);
                }
                (WritePath::Private(writer), Progress::Private(policy)) => {
                    let user = engine.take_user_change().map(|u| u.to_string());
                    let snapshot = policy.final_snapshot(engine.state());
                    if snapshot.is_some() || user.is_some() {
                        policy.required = writer.enqueue(user, snapshot);
                    }
                    required = policy.required.max(writer.last_number());
                }
                _ => unreachable!("a tracker's write path and its progress are made together"),
            }
        }
        let mut failed = false;
        if let WritePath::Private(writer) = &self.path {
            if writer.inside_store_call() {
                // Closed from inside this handle's own store call: the write that call is
                // part of takes what is queued when it returns.
                return Ok(());
            }
            let write_faults = writer.ensure(required);
            failed = !write_faults.is_empty() || writer.has_retry();
            faults.extend(write_faults);
            if let Err(err) = writer.flush() {
                self.report(faults);
                self.record_fault(err.kind, &err.message);
                return Err(err);
            }
        }
        let store_failed = faults.iter().any(|f| f.kind == ErrorKind::StoreError);
        self.report(faults);
        if failed || store_failed {
            return Err(Error::store("state could not be written before close"));
        }
        Ok(())
    }

    /// Closes without writing anything (a panic may have left half a change): on a shared
    /// store the handle stops holding its namespace, as if its process had died.
    pub fn close_without_writing(&self) -> Result<()> {
        let mut locked = self.locked.lock();
        locked.engine.take().ok_or_else(Error::closed)?;
        self.closed.store(true, Ordering::Release);
        #[cfg(feature = "sqlite")]
        if let (WritePath::Shared(shared), Progress::Shared(synced)) =
            (&self.path, &locked.progress)
        {
            shared.abandon(synced);
        }
        Ok(())
    }

    /// Ends this handle as a killed process would: nothing more is written, and on a
    /// shared store it no longer holds its namespace. For tests that stand in for a kill
    /// inside one process.
    #[doc(hidden)]
    pub fn abandon(self) {
        #[cfg(feature = "sqlite")]
        if let (WritePath::Shared(shared), Progress::Shared(synced)) =
            (&self.path, &self.locked.lock().progress)
        {
            shared.abandon(synced);
        }
        std::mem::forget(self);
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
