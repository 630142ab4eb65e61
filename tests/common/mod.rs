//! Helpers shared by the behaviour tests: an injected clock, predictable ids shared across
//! restarts, a memory store, and hooks that record every callback in order.
//!
//! Everything a tracker hands out (entities, lifecycle events, start entities, end summaries,
//! getter entities) goes through [`schema`] before a test sees it.

#![allow(dead_code)]

pub mod schema;

use schema::Lifecycle;
use serde_json::{Value, json};
use sesh::Config;
use sesh::clock::ManualClock;
use sesh::engine::Transition;
use sesh::error::Result;
use sesh::id::{IdGenerator, SequentialIds};
use sesh::store::{MemoryStore, Store};
use sesh::tracker::{Hooks, LogLevel, Parts, Tracker};
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use uuid::Uuid;

/// The tests' epoch: 2009-02-13T23:31:30.000Z.
pub const T0: i64 = 1_234_567_890_000;

/// The n-th id `SequentialIds` draws: `00000000-0000-4000-8000-00000000000n`.
pub fn id(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// The n-th event id the tests give the tracker (they are the host's, not the engine's).
pub fn ev(n: u64) -> String {
    format!("eeeeeeee-0000-4000-8000-{n:012x}")
}

/// `T0 + offset_ms` as the entity and the summary write it.
pub fn iso(offset_ms: i64) -> String {
    sesh::timestamp::format_iso8601(T0 + offset_ms)
}

/// The data of a `client_session` entity on the memory store.
/// `first`: the first event's id and its timestamp as an offset from `T0`.
pub fn entity_data(
    user: &str,
    session: &str,
    index: u64,
    event_index: u64,
    previous: Option<&str>,
    first: Option<(&str, i64)>,
) -> Value {
    json!({
        "userId": user,
        "sessionId": session,
        "sessionIndex": index,
        "eventIndex": event_index,
        "previousSessionId": previous,
        "storageMechanism": "LOCAL_STORAGE",
        "firstEventId": first.map(|(id, _)| id.to_owned()),
        "firstEventTimestamp": first.map(|(_, at)| iso(at)),
    })
}

/// A session-end summary. `first`: the first event's timestamp (offset from `T0`);
/// `last`: last activity (offset from `T0`).
pub struct End<'a> {
    pub session: &'a str,
    pub index: u64,
    pub user: &'a str,
    pub first: Option<i64>,
    pub last: i64,
    pub count: u64,
    pub duration: i64,
    pub reason: &'a str,
}

impl End<'_> {
    pub fn json(&self) -> Value {
        json!({
            "sessionId": self.session,
            "sessionIndex": self.index,
            "userId": self.user,
            "firstEventTimestamp": self.first.map(iso),
            "lastActivity": iso(self.last),
            "eventCount": self.count,
            "durationMs": self.duration,
            "reason": self.reason,
        })
    }
}

/// Ids drawn from one `SequentialIds` by every tracker of a test, so that a restarted
/// tracker never reuses an id (as random ids would not).
#[derive(Clone, Default)]
pub struct SharedIds(Arc<Mutex<SequentialIds>>);

impl IdGenerator for SharedIds {
    fn next_id(&mut self) -> Uuid {
        self.0.lock().unwrap().next_id()
    }
}

/// One callback, as the host received it (validated).
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// The session-start callback: the entity's data.
    Start(Value),
    /// The session-end callback: the summary.
    End(Value),
}

/// Hooks that validate and record every callback, in order, with the thread it ran on.
#[derive(Clone, Default)]
pub struct Recorder {
    calls: Arc<Mutex<Vec<Call>>>,
    threads: Arc<Mutex<Vec<ThreadId>>>,
    logs: Arc<Mutex<Vec<(LogLevel, String)>>>,
}

impl Recorder {
    /// The callbacks so far, oldest first; forgets them.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    /// The threads the session callbacks ran on; forgets them.
    pub fn take_threads(&self) -> Vec<ThreadId> {
        std::mem::take(&mut *self.threads.lock().unwrap())
    }

    /// The log messages so far; forgets them.
    pub fn take_logs(&self) -> Vec<(LogLevel, String)> {
        std::mem::take(&mut *self.logs.lock().unwrap())
    }
}

impl Hooks for Recorder {
    fn session_started(&self, entity_json: &str) {
        let data = schema::entity(entity_json);
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        self.calls.lock().unwrap().push(Call::Start(data));
    }

    fn session_ended(&self, summary_json: &str) {
        let summary = schema::summary(summary_json);
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        self.calls.lock().unwrap().push(Call::End(summary));
    }

    fn log(&self, level: LogLevel, message: &str) {
        self.logs.lock().unwrap().push((level, message.to_owned()));
    }
}

/// A config for `namespace`, everything else the defaults of docs/behaviour.md.
pub fn config() -> Config {
    Config::default()
}

/// Foreground and background timeouts in seconds, everything else default.
pub fn timeouts(foreground: u64, background: u64) -> Config {
    Config {
        foreground_timeout_seconds: foreground,
        background_timeout_seconds: background,
        ..Config::default()
    }
}

/// What a test runs in: one clock, one id sequence, one store, one recorder. Trackers
/// opened in it share them; closing one and opening another is a restart.
pub struct World {
    pub clock: Arc<ManualClock>,
    pub ids: SharedIds,
    pub store: MemoryStore,
    pub hooks: Recorder,
    events: AtomicU64,
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

impl World {
    pub fn new() -> World {
        World {
            clock: Arc::new(ManualClock::new(T0)),
            ids: SharedIds::default(),
            store: MemoryStore::new(),
            hooks: Recorder::default(),
            events: AtomicU64::new(0),
        }
    }

    /// Sets the clock to `T0 + seconds`.
    pub fn at(&self, seconds: i64) {
        self.at_ms(seconds * 1000);
    }

    /// Sets the clock to `T0 + ms`.
    pub fn at_ms(&self, ms: i64) {
        self.clock.set(T0 + ms);
    }

    /// The next host event id: `ev(1)`, `ev(2)`, …
    pub fn next_event_id(&self) -> String {
        ev(self.events.fetch_add(1, Ordering::SeqCst) + 1)
    }

    /// The user id the store keeps, as it keeps it.
    pub fn store_user(&self) -> Option<String> {
        self.store.clone().load_user().expect("memory store read")
    }

    /// The callbacks heard since the last call.
    pub fn calls(&self) -> Vec<Call> {
        self.hooks.take()
    }

    pub fn try_open_on(&self, config: Config, store: Box<dyn Store>) -> Result<Tracker> {
        Tracker::open(Parts {
            config,
            clock: Box::new(Arc::clone(&self.clock)),
            ids: Box::new(self.ids.clone()),
            store,
            hooks: Box::new(self.hooks.clone()),
        })
    }

    /// Opens a tracker on (a clone of) the world's memory store.
    pub fn open(&self, config: Config) -> Handle<'_> {
        self.open_on(config, Box::new(self.store.clone()))
    }

    pub fn open_on(&self, config: Config, store: Box<dyn Store>) -> Handle<'_> {
        let tracker = self
            .try_open_on(config, store)
            .unwrap_or_else(|e| panic!("open failed: {e}"));
        Handle {
            tracker,
            world: self,
        }
    }
}

/// A tracker whose outputs are validated before a test sees them.
pub struct Handle<'w> {
    pub tracker: Tracker,
    world: &'w World,
}

impl Deref for Handle<'_> {
    type Target = Tracker;
    fn deref(&self) -> &Tracker {
        &self.tracker
    }
}

/// What a background or foreground call returned.
#[derive(Debug, Clone, PartialEq)]
pub enum Moved {
    /// The app was already in that state.
    Unchanged,
    /// The lifecycle event and its entity's data (`None`: no session, `no_session`).
    Changed(Lifecycle, Option<Value>),
}

impl Handle<'_> {
    /// Tracks an event with the next host event id and no timestamp (so "now").
    /// `None`: no entity (`no_session`).
    pub fn track(&self) -> Option<Value> {
        let id = self.world.next_event_id();
        self.track_with(Some(&id), None)
    }

    /// Tracks an event with the given id and timestamp (absolute ms).
    pub fn track_with(&self, id: Option<&str>, timestamp_ms: Option<i64>) -> Option<Value> {
        self.tracker
            .track(id, timestamp_ms)
            .unwrap_or_else(|e| panic!("track failed: {e}"))
            .map(|json| schema::entity(&json))
    }

    pub fn background(&self) -> Moved {
        self.transition_to(true)
    }

    pub fn foreground(&self) -> Moved {
        self.transition_to(false)
    }

    fn transition_to(&self, to_background: bool) -> Moved {
        let id = self.world.next_event_id();
        match self
            .tracker
            .transition(to_background, Some(&id))
            .unwrap_or_else(|e| panic!("transition failed: {e}"))
        {
            Transition::Unchanged => Moved::Unchanged,
            Transition::Changed {
                lifecycle_event,
                entity,
            } => Moved::Changed(
                schema::lifecycle(&lifecycle_event),
                entity.map(|json| schema::entity(&json)),
            ),
        }
    }

    /// The current entity (getter), validated; `None`: no session.
    pub fn entity(&self) -> Option<Value> {
        self.tracker
            .entity()
            .expect("entity getter")
            .map(|e| schema::entity(&e.to_json()))
    }

    /// The user id getter.
    pub fn user(&self) -> String {
        self.tracker.user_id().expect("user id getter").to_string()
    }

    /// Closes the tracker, as a host does on a clean exit.
    pub fn close(self) {
        self.tracker.close().expect("close");
    }

    /// Ends the process without closing: whatever reached the store is all there is.
    pub fn kill(self) {
        self.tracker.abandon();
    }
}
