//! Concurrency (issue "Hardening", behaviour §8: one handle, any number of threads).
//!
//! 8 threads hammer one tracker with a mix of events, transitions, getters, new and ended
//! sessions, checks and pause/resume, on an injected clock they all advance (now and then by
//! more than the timeout, so sessions also renew under contention). Every entity a call hands
//! back is kept; afterwards:
//! - within each `sessionId` the `eventIndex` values are exactly 1..=N: none repeats, none
//!   is missing;
//! - `sessionIndex` and `sessionId` map one to one, and the indexes are exactly 1..=S;
//! - every session but the current one ended exactly once, and its end summary's
//!   `eventCount` is the highest `eventIndex` seen for it (0 with none);
//! - every call returned `Ok` (`no_session` only where the behaviour document allows it).
//!
//! Then the same on an SQLite file (a shorter run), and a deadlock check: session start and
//! end callbacks that call the tracker again (getters, `track`, `new_session`) from 8
//! threads, bounded by a timeout.
//!
//! `SESH_CONCURRENCY_OPS` sets the operations per thread of the memory-store run (default
//! 100 000: 8 × 100 000 = 800 000 operations); the SQLite run does a fifth of that.

mod common;

use common::schema;
use sesh::Config;
use sesh::clock::ManualClock;
use sesh::engine::Transition;
use sesh::error::ErrorKind;
use sesh::id::RandomIds;
use sesh::render::MAX_ENTITY_SIZE;
use sesh::store::{MemoryStore, SqliteStore, Store};
use sesh::tracker::{Hooks, Parts, Tracker};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

const THREADS: usize = 8;
const T0: i64 = 1_234_567_890_000;
/// The foreground and background timeouts and the max duration of these runs (seconds).
const FOREGROUND_TIMEOUT: u64 = 30;
const BACKGROUND_TIMEOUT: u64 = 10;
const MAX_DURATION: u64 = 600;

fn ops_per_thread() -> usize {
    std::env::var("SESH_CONCURRENCY_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn config() -> Config {
    Config {
        foreground_timeout_seconds: FOREGROUND_TIMEOUT,
        background_timeout_seconds: BACKGROUND_TIMEOUT,
        max_duration_seconds: MAX_DURATION,
        ..Config::default()
    }
}

/// What an entity says, as kept for the checks: session id, sessionIndex, eventIndex.
type Seen = (u128, u32, u32);

/// Reads the three fields out of an entity without a JSON parser: 800 000 parses in a
/// debug build would take longer than the run. Checked against the full parse (and the
/// schema) on a sample.
fn fields(entity: &str) -> Seen {
    fn after<'a>(text: &'a str, key: &str) -> &'a str {
        let at = text
            .find(key)
            .unwrap_or_else(|| panic!("{key} missing: {text}"));
        &text[at + key.len()..]
    }
    fn number(text: &str) -> u32 {
        let end = text.find([',', '}']).unwrap_or(text.len());
        text[..end]
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {text}"))
    }
    let id = &after(entity, "\"sessionId\":\"")[..36];
    let id = uuid::Uuid::parse_str(id).expect("a session id").as_u128();
    (
        id,
        number(after(entity, "\"sessionIndex\":")),
        number(after(entity, "\"eventIndex\":")),
    )
}

/// Validates an entity against the schema and checks [`fields`] reads it right.
fn validate(entity: &str) -> Seen {
    let seen = fields(entity);
    let data = schema::entity(entity);
    let id = uuid::Uuid::parse_str(data["sessionId"].as_str().unwrap()).unwrap();
    assert_eq!(
        (
            id.as_u128(),
            data["sessionIndex"].as_u64().unwrap() as u32,
            data["eventIndex"].as_u64().unwrap() as u32
        ),
        seen
    );
    seen
}

/// A session-start or -end callback, in the order the hooks heard them.
#[derive(Debug, Clone)]
enum Heard {
    Start { seen: Seen },
    End { id: u128, index: u32, count: u32 },
}

/// Hooks that validate and keep every callback, and (when `reenter` is set) call the tracker
/// again from inside it.
#[derive(Default)]
struct Recorder {
    heard: Mutex<Vec<(u64, Heard)>>,
    sequence: AtomicU64,
    /// The tracker, for callbacks that call it again.
    tracker: OnceLock<Weak<Tracker>>,
    reenter: bool,
    /// What the re-entrant `track` calls were handed.
    reentrant_events: Mutex<Vec<Seen>>,
    reentrant_calls: AtomicUsize,
    /// How many `new_session` calls callbacks may still make (each starts a session, whose
    /// start callback could make another).
    new_session_budget: AtomicUsize,
}

thread_local! {
    /// Callbacks nested in a callback on this thread do not call the tracker again.
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

impl Recorder {
    fn reenter(&self, from_start: bool) {
        if !self.reenter || DEPTH.get() > 0 {
            return;
        }
        let Some(tracker) = self.tracker.get().and_then(Weak::upgrade) else {
            return;
        };
        DEPTH.set(DEPTH.get() + 1);
        self.reentrant_calls.fetch_add(1, Ordering::Relaxed);
        tracker.entity().unwrap();
        tracker.user_id().unwrap();
        tracker.in_background().unwrap();
        tracker.lifecycle_indexes().unwrap();
        tracker.state().unwrap();
        if let Some(entity) = tracker.track(None, None).unwrap() {
            let seen = validate(&entity);
            self.reentrant_events.lock().unwrap().push(seen);
        }
        if from_start
            && self
                .new_session_budget
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                .is_ok()
        {
            tracker.new_session().unwrap();
        }
        DEPTH.set(DEPTH.get() - 1);
    }
}

impl Hooks for Recorder {
    fn session_started(&self, entity_json: &str) {
        let at = self.sequence.fetch_add(1, Ordering::SeqCst);
        let seen = validate(entity_json);
        self.heard.lock().unwrap().push((at, Heard::Start { seen }));
        self.reenter(true);
    }

    fn session_ended(&self, summary_json: &str) {
        let at = self.sequence.fetch_add(1, Ordering::SeqCst);
        let summary = schema::summary(summary_json);
        let id = uuid::Uuid::parse_str(summary["sessionId"].as_str().unwrap())
            .unwrap()
            .as_u128();
        self.heard.lock().unwrap().push((
            at,
            Heard::End {
                id,
                index: summary["sessionIndex"].as_u64().unwrap() as u32,
                count: summary["eventCount"].as_u64().unwrap() as u32,
            },
        ));
        self.reenter(false);
    }

    fn log(&self, _level: sesh::tracker::LogLevel, message: &str) {
        panic!("a fault was logged: {message}");
    }
}

fn open(store: Box<dyn Store>, clock: Arc<ManualClock>, hooks: Arc<Recorder>) -> Arc<Tracker> {
    struct Shared(Arc<Recorder>);
    impl Hooks for Shared {
        fn session_started(&self, entity_json: &str) {
            self.0.session_started(entity_json)
        }
        fn session_ended(&self, summary_json: &str) {
            self.0.session_ended(summary_json)
        }
        fn log(&self, level: sesh::tracker::LogLevel, message: &str) {
            self.0.log(level, message)
        }
    }
    let tracker = Arc::new(
        Tracker::open(Parts {
            config: config(),
            clock: Box::new(clock),
            ids: Box::new(RandomIds),
            store,
            hooks: Box::new(Shared(Arc::clone(&hooks))),
        })
        .expect("open"),
    );
    hooks.tracker.set(Arc::downgrade(&tracker)).unwrap();
    tracker
}

/// What one thread saw.
#[derive(Default)]
struct ThreadLog {
    /// Entities of counted events (`track`, `track_into`, transitions).
    events: Vec<Seen>,
    /// Entities from the getter (not events).
    views: Vec<Seen>,
    operations: usize,
}

/// One thread's share: `ops` operations drawn from `seed`.
fn hammer(tracker: &Tracker, clock: &ManualClock, seed: u64, ops: usize) -> ThreadLog {
    let mut log = ThreadLog::default();
    let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut buffer = vec![0u8; MAX_ENTITY_SIZE];
    let host_id = format!("eeeeeeee-0000-4000-8000-{seed:012x}");
    for n in 0..ops {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // The clock: a millisecond or two most of the time, past the timeout now and then.
        if rng % 20_000 == 7 {
            clock.advance(1000 * FOREGROUND_TIMEOUT as i64 + 15_000);
        } else {
            clock.advance(((rng >> 20) % 3) as i64);
        }
        let sample = n % 997 == 0;
        let keep = |log: &mut ThreadLog, entity: &str| {
            log.events.push(if sample {
                validate(entity)
            } else {
                fields(entity)
            });
        };
        match (rng >> 32) % 10_000 {
            0..7_000 => {
                let entity = if n % 16 == 0 {
                    tracker.track(Some(&host_id), Some(T0 + n as i64))
                } else {
                    tracker.track(None, None)
                };
                keep(&mut log, &entity.unwrap().expect("automatic mode"));
            }
            7_000..7_400 => {
                let to_background = (rng >> 8) & 1 == 1;
                match tracker.transition(to_background, None).unwrap() {
                    Transition::Unchanged => {}
                    Transition::Changed {
                        lifecycle_event,
                        entity,
                    } => {
                        if sample {
                            schema::lifecycle(&lifecycle_event);
                        }
                        keep(&mut log, &entity.expect("automatic mode"));
                    }
                }
            }
            7_400..9_300 => match n % 6 {
                0 => {
                    if let Some(entity) = tracker.entity().unwrap() {
                        let json = entity.to_json();
                        log.views.push(if sample {
                            validate(&json)
                        } else {
                            fields(&json)
                        });
                    }
                }
                1 => {
                    tracker.user_id().unwrap();
                }
                2 => {
                    tracker.in_background().unwrap();
                }
                3 => {
                    tracker.lifecycle_indexes().unwrap();
                }
                4 => {
                    tracker.is_paused().unwrap();
                }
                _ => {
                    assert_eq!(tracker.last_fault().unwrap(), None);
                }
            },
            9_300..9_305 => tracker.new_session().unwrap(),
            9_305..9_308 => match tracker.end_session() {
                Ok(()) => {}
                Err(e) => assert_eq!(e.kind, ErrorKind::NoSession, "{e}"),
            },
            9_308..9_320 => tracker.check().unwrap(),
            9_320..9_330 => tracker.pause().unwrap(),
            9_330..9_400 => tracker.resume().unwrap(),
            _ => {
                let length = tracker
                    .track_into(None, &mut buffer)
                    .unwrap()
                    .expect("automatic mode");
                assert_eq!(buffer[length], 0);
                let entity = std::str::from_utf8(&buffer[..length]).unwrap();
                keep(&mut log, entity);
            }
        }
        log.operations += 1;
    }
    log
}

struct Outcome {
    sessions: usize,
    events: usize,
    ends: usize,
    /// Pairs of callbacks heard out of session order across threads (see the report).
    out_of_order: usize,
}

/// The checks of the module doc, over everything the threads and the hooks saw.
fn check(tracker: &Tracker, logs: &[ThreadLog], hooks: &Recorder) -> Outcome {
    let mut index_of: HashMap<u128, u32> = HashMap::new();
    let mut id_of: HashMap<u32, u128> = HashMap::new();
    let mut map = |id: u128, index: u32, what: &str| {
        if let Some(&known) = index_of.get(&id) {
            assert_eq!(
                known, index,
                "{what}: session {id:x} shows two sessionIndex values"
            );
        } else {
            index_of.insert(id, index);
        }
        if let Some(&known) = id_of.get(&index) {
            assert_eq!(known, id, "{what}: sessionIndex {index} names two sessions");
        } else {
            id_of.insert(index, id);
        }
    };
    let mut event_indexes: HashMap<u128, Vec<u32>> = HashMap::new();
    let reentrant = hooks.reentrant_events.lock().unwrap();
    let all_events = logs
        .iter()
        .flat_map(|l| l.events.iter())
        .chain(reentrant.iter());
    let mut events = 0;
    for &(id, index, event_index) in all_events {
        map(id, index, "an event");
        event_indexes.entry(id).or_default().push(event_index);
        events += 1;
    }
    for &(id, index, _) in logs.iter().flat_map(|l| l.views.iter()) {
        map(id, index, "the getter");
    }
    let heard = hooks.heard.lock().unwrap().clone();
    let mut ends: HashMap<u128, u32> = HashMap::new();
    let mut starts: HashMap<u128, u64> = HashMap::new();
    let mut end_at: HashMap<u128, u64> = HashMap::new();
    for (at, call) in &heard {
        match *call {
            Heard::Start {
                seen: (id, index, event_index),
            } => {
                map(id, index, "a start callback");
                assert!(event_index <= 1, "a session starts with eventIndex 0 or 1");
                assert!(
                    starts.insert(id, *at).is_none(),
                    "session {id:x} started twice"
                );
            }
            Heard::End { id, index, count } => {
                map(id, index, "an end summary");
                assert!(
                    ends.insert(id, count).is_none(),
                    "session {id:x} ended twice"
                );
                end_at.insert(id, *at);
            }
        }
    }
    // eventIndex: exactly 1..=N in every session.
    for (id, indexes) in &mut event_indexes {
        indexes.sort_unstable();
        for (position, &value) in indexes.iter().enumerate() {
            assert_eq!(
                value as usize,
                position + 1,
                "session {id:x}: eventIndex {} (sorted: {:?}…)",
                if position > 0 && indexes[position - 1] == value {
                    format!("{value} repeated")
                } else {
                    format!("{} missing", position + 1)
                },
                &indexes[position.saturating_sub(3)..(position + 3).min(indexes.len())]
            );
        }
    }
    // sessionIndex: one to one with the ids, exactly 1..=S.
    let sessions = index_of.len();
    assert_eq!(id_of.len(), sessions);
    let indexes: Vec<u32> = id_of
        .keys()
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        indexes,
        (1..=sessions as u32).collect::<Vec<_>>(),
        "sessionIndex values are not exactly 1..={sessions}"
    );
    // Every session started once (a callback for each) and all but the current one ended,
    // with eventCount the highest eventIndex seen.
    assert_eq!(starts.len(), sessions, "a session without a start callback");
    let current = tracker.entity().unwrap().map(|e| e.session_id.as_u128());
    for id in index_of.keys() {
        let highest = event_indexes
            .get(id)
            .and_then(|v| v.last().copied())
            .unwrap_or(0);
        match ends.get(id) {
            Some(&count) => assert_eq!(
                count, highest,
                "session {id:x}: eventCount {count}, highest eventIndex {highest}"
            ),
            None => {
                assert_eq!(
                    Some(*id),
                    current,
                    "session {id:x} neither ended nor current"
                );
                let now = tracker.entity().unwrap().unwrap();
                assert_eq!(now.event_index, highest, "the current session's eventIndex");
            }
        }
    }
    // Each call reports its end before its start. Across threads the hooks run after the
    // lock is released, on each caller's thread, so two threads' callbacks can interleave
    // (the README says so: hosts order them by sessionIndex). Counted and printed here.
    let by_index: BTreeMap<u32, u128> = id_of.iter().map(|(&i, &id)| (i, id)).collect();
    let mut out_of_order = 0;
    for (&index, id) in &by_index {
        if let (Some(&ended), Some(&started)) = (end_at.get(id), starts.get(id)) {
            if ended < started {
                if out_of_order < 3 {
                    eprintln!("  the end of session {index} was heard before its start");
                }
                out_of_order += 1;
            }
        }
        if let Some(next) = by_index.get(&(index + 1)) {
            if let (Some(&ended), Some(&next_started)) = (end_at.get(id), starts.get(next)) {
                if next_started < ended {
                    if out_of_order < 3 {
                        eprintln!(
                            "  the start of session {} was heard before the end of session {index}",
                            index + 1
                        );
                    }
                    out_of_order += 1;
                }
            }
        }
    }
    Outcome {
        sessions,
        events,
        ends: ends.len(),
        out_of_order,
    }
}

fn run(name: &str, store: Box<dyn Store>, ops: usize) -> Outcome {
    let clock = Arc::new(ManualClock::new(T0));
    let hooks = Arc::new(Recorder::default());
    let tracker = open(store, Arc::clone(&clock), Arc::clone(&hooks));
    let started = Instant::now();
    let logs: Vec<ThreadLog> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let tracker = &tracker;
                let clock = &clock;
                scope.spawn(move || hammer(tracker, clock, t as u64 + 1, ops))
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    assert_eq!(
        logs.iter().map(|l| l.operations).sum::<usize>(),
        THREADS * ops
    );
    let outcome = check(&tracker, &logs, &hooks);
    eprintln!(
        "{name}: {THREADS} threads x {ops} operations in {elapsed:.2?}: {} events, {} sessions, \
         {} ended; {} callback pairs heard out of session order across threads",
        outcome.events, outcome.sessions, outcome.ends, outcome.out_of_order
    );
    assert!(outcome.sessions > 1, "no session renewed under contention");
    tracker.close().expect("close");
    outcome
}

#[test]
fn eight_threads_on_a_memory_store_keep_indexes_exact() {
    run("memory", Box::new(MemoryStore::new()), ops_per_thread());
}

#[test]
fn eight_threads_on_an_sqlite_store_keep_indexes_exact() {
    let dir = std::env::temp_dir().join(format!("sesh-concurrency-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.db");
    let store = SqliteStore::open(&path).expect("the store opens");
    run("sqlite", Box::new(store), (ops_per_thread() / 5).max(1));
    let integrity: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Callbacks that call the tracker again (getters, `track`, `new_session`) from 8 threads
/// at once: the run finishes (no deadlock) and every index rule above still holds.
#[test]
fn callbacks_that_call_the_tracker_again_do_not_deadlock() {
    let (done, finished) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let clock = Arc::new(ManualClock::new(T0));
        let hooks = Arc::new(Recorder {
            reenter: true,
            new_session_budget: AtomicUsize::new(500),
            ..Recorder::default()
        });
        let tracker = open(
            Box::new(MemoryStore::new()),
            Arc::clone(&clock),
            Arc::clone(&hooks),
        );
        let logs: Vec<ThreadLog> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..THREADS)
                .map(|t| {
                    let tracker = &tracker;
                    let clock = &clock;
                    scope.spawn(move || {
                        let mut log = ThreadLog::default();
                        for round in 0..200 {
                            // New sessions (each start callback calls the tracker again,
                            // and may start another), between bursts of events.
                            tracker.new_session().unwrap();
                            if round % 10 == 0 {
                                let _ = tracker.end_session();
                            }
                            let burst = hammer(tracker, clock, (t * 1000 + round) as u64 + 1, 25);
                            log.events.extend(burst.events);
                            log.views.extend(burst.views);
                        }
                        log
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let outcome = check(&tracker, &logs, &hooks);
        let reentrant = hooks.reentrant_calls.load(Ordering::Relaxed);
        tracker.close().expect("close");
        done.send((outcome.sessions, reentrant)).unwrap();
    });
    match finished.recv_timeout(Duration::from_secs(120)) {
        Ok((sessions, reentrant)) => {
            worker.join().unwrap();
            eprintln!(
                "re-entrant callbacks: {sessions} sessions, {reentrant} callbacks called back"
            );
            assert!(
                reentrant > THREADS * 200,
                "only {reentrant} callbacks called back"
            );
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // The worker panicked: show why.
            worker.join().unwrap();
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("deadlock: callbacks calling the tracker again did not finish in 120 s")
        }
    }
}
