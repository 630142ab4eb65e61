//! Memory and custom stores: each handle is its store's one writer.
//!
//! The [`Policy`] (kept under the engine lock) says which changes must reach the store
//! before the call returns; such a change becomes a numbered snapshot queued under that
//! lock, so numbers follow the engine's order. The [`Writer`] writes the newest queued
//! snapshot, never one older than a snapshot already written, with no lock held while the
//! store runs; a call whose entity a queued snapshot covers returns only once that snapshot
//! (or a newer one) was written or failed.

use super::{Change, change};
use crate::engine::state::{self, MAX_INDEX, NamespaceState};
use crate::error::Error;
use crate::store::Store;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use uuid::Uuid;

/// The most event indexes a write reserves ahead in foreground: after a kill, the session
/// goes on past the reserved ones, so no index repeats, and a busy app writes once per
/// this many events rather than once per event. An app that tracks less than an event a
/// second reserves none: each of its events is written anyway (see `ACTIVITY_SLACK_MS`).
pub const EVENT_INDEX_BLOCK: u32 = 64;

/// How much last-activity time a kill may lose, at most, on these stores.
pub const ACTIVITY_SLACK_MS: i64 = 1000;

/// What the store covers, and so when the next write is due. Lives under the engine lock.
#[derive(Debug)]
pub struct Policy {
    stored_session: Option<Uuid>,
    /// The highest event index of `stored_session` the store covers.
    stored_event_index: u32,
    /// Its last activity as the store holds it.
    stored_activity: i64,
    /// Indexes the last index-driven write reserved ahead: 0 while events come slower than
    /// one a second, doubling up to [`EVENT_INDEX_BLOCK`] while they come faster.
    ahead: u32,
    ahead_set_at: i64,
    /// Something changed that the store has not seen and that may wait.
    dirty: bool,
    /// The newest snapshot a returned call depends on.
    pub required: u64,
}

impl Policy {
    /// What the store holds after open: `state` as read.
    pub fn new(stored: Option<&NamespaceState>) -> Policy {
        let session = stored.and_then(|s| s.session.as_ref());
        Policy {
            stored_session: session.map(|s| s.id),
            stored_event_index: session.map_or(0, |s| s.event_index),
            stored_activity: session.map_or(0, |s| s.last_activity),
            ahead: 0,
            ahead_set_at: i64::MIN,
            dirty: false,
            required: 0,
        }
    }

    /// After an operation: the snapshot that must be written before the call returns, if
    /// any. A change that may wait is remembered for close.
    pub fn after(
        &mut self,
        before: &NamespaceState,
        after: &NamespaceState,
        user_changed: bool,
    ) -> Option<String> {
        self.after_change(change(before, after), after, user_changed)
    }

    /// As [`after`](Self::after), with the change already known.
    pub fn after_change(
        &mut self,
        changed: Change,
        after: &NamespaceState,
        user_changed: bool,
    ) -> Option<String> {
        match changed {
            Change::None if !user_changed => None,
            Change::Counted if !user_changed => {
                let session = after.session.as_ref()?;
                // An index the store does not cover, or activity it lags by a second or
                // more, must reach it before the entity does; anything less can wait.
                if session.event_index > self.stored_event_index
                    || session.last_activity - self.stored_activity >= ACTIVITY_SLACK_MS
                {
                    Some(self.snapshot(after))
                } else {
                    self.dirty = true;
                    None
                }
            }
            _ => Some(self.snapshot(after)),
        }
    }

    /// The state as the store is to hold it: in foreground the event index reserved ahead,
    /// in background (where apps are most often killed) the exact one.
    fn snapshot(&mut self, state: &NamespaceState) -> String {
        let mut stored = state.clone();
        if let Some(session) = stored.session.as_mut() {
            let index = session.event_index;
            let covered = if self.stored_session == Some(session.id) {
                self.stored_event_index
            } else {
                0
            };
            session.event_index = if state.in_background {
                index
            } else if index > covered {
                let now = session.last_activity;
                self.ahead = if now.saturating_sub(self.ahead_set_at) >= ACTIVITY_SLACK_MS {
                    0
                } else {
                    self.ahead.saturating_mul(2).clamp(1, EVENT_INDEX_BLOCK)
                };
                self.ahead_set_at = now;
                index.saturating_add(self.ahead).min(MAX_INDEX)
            } else {
                covered
            };
            self.stored_session = Some(session.id);
            self.stored_event_index = session.event_index;
            self.stored_activity = session.last_activity;
        } else {
            self.stored_session = None;
            self.stored_event_index = 0;
        }
        self.dirty = false;
        state::encode(&stored)
    }

    /// At close: the exact state, when the store holds anything else.
    pub fn final_snapshot(&mut self, state: &NamespaceState) -> Option<String> {
        let reserved_ahead = state.session.as_ref().is_some_and(|s| {
            self.stored_session != Some(s.id) || s.event_index != self.stored_event_index
        });
        if !self.dirty && !reserved_ahead {
            return None;
        }
        if let Some(session) = &state.session {
            self.stored_session = Some(session.id);
            self.stored_event_index = session.event_index;
            self.stored_activity = session.last_activity;
        }
        self.dirty = false;
        Some(state::encode(state))
    }
}

#[derive(Default)]
struct Queue {
    next_seq: u64,
    /// The newest snapshot not yet written, and its number.
    user: Option<String>,
    state: Option<String>,
    newest: u64,
    /// A thread is writing (with no lock held).
    writing: bool,
    /// Threads waiting on `written`: the writer wakes them only when there is one, since a
    /// `Condvar` notify is a system call even with nobody to wake.
    waiters: u32,
}

/// One handle's ordered writer.
pub struct Writer {
    store: Mutex<Box<dyn Store>>,
    queue: Mutex<Queue>,
    written: Condvar,
    /// The newest snapshot written (or whose write failed and waits for a retry).
    done: AtomicU64,
    /// A write failed and waits in the queue for the next call.
    retry: std::sync::atomic::AtomicBool,
    namespace: String,
    /// False when opening could not read the store (nothing is written over it), or when
    /// nothing but this handle reads the store (nothing needs writing).
    writable: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How many snapshots one call writes before leaving the rest to the next call: a store
/// whose `set` tracks makes a new one each time.
const MAX_WRITE_ROUNDS: usize = 8;

thread_local! {
    /// The writer this thread is inside the store of, if any (0: none).
    static WRITING: Cell<usize> = const { Cell::new(0) };
}

/// Clears the writer's flag and wakes the waiters when the writing thread leaves, however
/// it leaves.
struct WritingFlag<'a>(&'a Writer);

impl Drop for WritingFlag<'_> {
    fn drop(&mut self) {
        WRITING.set(0);
        let mut queue = lock(&self.0.queue);
        queue.writing = false;
        // Under the queue lock, which a waiter holds from counting itself until it waits:
        // a wake-up costs a system call, so only when someone waits.
        if queue.waiters > 0 {
            self.0.written.notify_all();
        }
    }
}

impl Writer {
    pub fn new(store: Box<dyn Store>, namespace: String, writable: bool) -> Writer {
        Writer {
            store: Mutex::new(store),
            queue: Mutex::new(Queue::default()),
            written: Condvar::new(),
            done: AtomicU64::new(0),
            retry: std::sync::atomic::AtomicBool::new(false),
            namespace,
            writable,
        }
    }

    /// Under the engine lock: queues a snapshot (replacing any older one not yet written);
    /// returns its number.
    pub fn enqueue(&self, user: Option<String>, state: Option<String>) -> u64 {
        let mut queue = lock(&self.queue);
        queue.next_seq += 1;
        if user.is_some() {
            queue.user = user;
        }
        if state.is_some() {
            queue.state = state;
        }
        queue.newest = queue.next_seq;
        queue.next_seq
    }

    /// Returns once snapshot `required` (or a newer one) was written or failed, writing it
    /// if no other thread is. A failed write stays queued for the next call; its faults are
    /// returned, to be reported with no lock held.
    pub fn ensure(&self, required: u64) -> Vec<Error> {
        let retry = self.retry.load(Ordering::Acquire);
        if !self.writable || (self.done.load(Ordering::Acquire) >= required && !retry) {
            return Vec::new();
        }
        let me = self as *const Writer as usize;
        if WRITING.get() == me {
            // Called from inside this writer's own store call: the write in progress picks
            // the new snapshot up before it returns.
            return Vec::new();
        }
        let mut faults = Vec::new();
        let mut queue = lock(&self.queue);
        loop {
            let nothing_queued = queue.user.is_none() && queue.state.is_none();
            if self.done.load(Ordering::Acquire) >= required && (nothing_queued || !retry) {
                return faults;
            }
            if queue.writing {
                queue.waiters += 1;
                queue = self
                    .written
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
                queue.waiters -= 1;
                continue;
            }
            if nothing_queued {
                return faults;
            }
            queue.writing = true;
            // Should the store panic, the flag must not stay set: waiters would wait forever.
            let _writing = WritingFlag(self);
            let mut rounds = 0;
            while rounds < MAX_WRITE_ROUNDS && (queue.user.is_some() || queue.state.is_some()) {
                rounds += 1;
                let (user, state, seq) = (queue.user.take(), queue.state.take(), queue.newest);
                drop(queue);
                WRITING.set(me);
                let result = self.write(user.as_deref(), state.as_deref());
                WRITING.set(0);
                queue = lock(&self.queue);
                self.done.fetch_max(seq, Ordering::AcqRel);
                if let Err(err) = result {
                    // Kept unless something newer replaced it meanwhile.
                    if queue.user.is_none() {
                        queue.user = user;
                    }
                    if queue.state.is_none() {
                        queue.state = state;
                    }
                    self.retry.store(true, Ordering::Release);
                    faults.push(Error::new(
                        err.kind,
                        format!("store write failed: {}", err.message),
                    ));
                    break;
                }
            }
            if faults.is_empty() && queue.user.is_none() && queue.state.is_none() {
                self.retry.store(false, Ordering::Release);
            }
            drop(queue);
            return faults;
        }
    }

    fn write(&self, user: Option<&str>, state: Option<&str>) -> crate::error::Result<()> {
        let mut store = lock(&self.store);
        match state {
            Some(state) => store.save(user, &self.namespace, state),
            None => user.map_or(Ok(()), |user| store.save_user(user)),
        }
    }

    /// Whether this writer writes at all (not when the store could not be read at open, nor
    /// when nothing else reads it).
    pub fn writes(&self) -> bool {
        self.writable
    }

    /// Whether a failed write waits to be tried again.
    pub fn has_retry(&self) -> bool {
        self.retry.load(Ordering::Acquire)
    }

    /// The newest snapshot number handed out.
    pub fn last_number(&self) -> u64 {
        lock(&self.queue).next_seq
    }

    /// Whether this thread is inside this writer's store call (closing from there leaves
    /// the write to that call).
    pub fn inside_store_call(&self) -> bool {
        WRITING.get() == self as *const Writer as usize
    }

    /// Makes what was written durable (at close).
    pub fn flush(&self) -> crate::error::Result<()> {
        if !self.writable {
            return Ok(());
        }
        lock(&self.store).flush()
    }
}
