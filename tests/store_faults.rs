//! Stores that are damaged or fail (behaviour §5, §8): open still succeeds where the
//! behaviour document says so, the fault is reported, tracking goes on, and writes are
//! retried.

use sesh::clock::ManualClock;
use sesh::engine::Config;
use sesh::error::{Error, ErrorKind, Result};
use sesh::id::{RandomIds, SequentialIds};
use sesh::store::{MemoryStore, SqliteStore, StorageMechanism, Store};
use sesh::tracker::{Hooks, LogLevel, Parts, Tracker};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sesh-faults-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);
impl Hooks for Log {
    fn log(&self, level: LogLevel, message: &str) {
        self.0.lock().unwrap().push(format!("{level:?}: {message}"));
    }
}

fn open_on(store: Box<dyn Store>, clock: &Arc<ManualClock>, log: &Log) -> Result<Tracker> {
    // Random ids: a reopened store must not meet the ids of the run before.
    Tracker::open(Parts {
        config: Config::default(),
        clock: Box::new(clock.clone()),
        ids: Box::new(RandomIds),
        store,
        hooks: Box::new(log.clone()),
    })
}

fn open_sqlite(path: &Path, clock: &Arc<ManualClock>) -> Tracker {
    open_on(
        Box::new(SqliteStore::open(path).unwrap()),
        clock,
        &Log::default(),
    )
    .unwrap()
}

fn entity_field(entity: &str, field: &str) -> serde_json::Value {
    let value: serde_json::Value = serde_json::from_str(entity).unwrap();
    value["data"][field].clone()
}

#[test]
fn the_sqlite_store_says_sqlite_and_a_session_goes_on_after_close() {
    let dir = temp_dir("continue");
    let path = dir.join("s.db");
    let clock = Arc::new(ManualClock::new(1_000_000));
    let tracker = open_sqlite(&path, &clock);
    let first = tracker.track(None, None).unwrap().unwrap();
    assert_eq!(entity_field(&first, "storageMechanism"), "SQLITE");
    clock.advance(1_000);
    tracker.track(None, None).unwrap().unwrap();
    tracker.close().unwrap();

    clock.advance(60_000);
    let tracker = open_sqlite(&path, &clock);
    let third = tracker.track(None, None).unwrap().unwrap();
    assert_eq!(
        entity_field(&third, "sessionId"),
        entity_field(&first, "sessionId")
    );
    assert_eq!(
        entity_field(&third, "userId"),
        entity_field(&first, "userId")
    );
    // Closed cleanly: the index goes on exactly.
    assert_eq!(entity_field(&third, "eventIndex"), 3);
    assert_eq!(entity_field(&third, "sessionIndex"), 1);
}

#[test]
fn after_a_kill_the_event_index_goes_on_past_every_index_handed_out() {
    let dir = temp_dir("kill");
    let path = dir.join("s.db");
    let clock = Arc::new(ManualClock::new(1_000_000));
    let tracker = open_sqlite(&path, &clock);
    let mut last = 0;
    for _ in 0..10 {
        let entity = tracker.track(None, None).unwrap().unwrap();
        last = entity_field(&entity, "eventIndex").as_u64().unwrap();
    }
    // No close: what the store holds is what a kill would leave.
    tracker.abandon();
    let tracker = open_sqlite(&path, &clock);
    let next = tracker.track(None, None).unwrap().unwrap();
    assert!(entity_field(&next, "eventIndex").as_u64().unwrap() > last);
    assert_eq!(entity_field(&next, "sessionIndex"), 1);
}

#[test]
fn a_session_killed_in_background_is_judged_by_the_background_timeout() {
    let dir = temp_dir("background");
    let path = dir.join("s.db");
    let clock = Arc::new(ManualClock::new(1_000_000));
    let config = Config {
        foreground_timeout_seconds: 3600,
        background_timeout_seconds: 10,
        ..Config::default()
    };
    let open = |clock: &Arc<ManualClock>| {
        Tracker::open(Parts {
            config: config.clone(),
            clock: Box::new(clock.clone()),
            ids: Box::new(SequentialIds::default()),
            store: Box::new(SqliteStore::open(&path).unwrap()),
            hooks: Box::new(sesh::tracker::NoHooks),
        })
        .unwrap()
    };
    let tracker = open(&clock);
    tracker.track(None, None).unwrap();
    tracker.transition(true, None).unwrap();
    tracker.abandon();
    clock.advance(11_000);
    let tracker = open(&clock);
    assert_eq!(tracker.entity().unwrap(), None, "the session ended at open");
    let next = tracker.track(None, None).unwrap().unwrap();
    assert_eq!(entity_field(&next, "sessionIndex"), 2);
}

#[test]
fn a_truncated_database_fails_to_open_and_is_left_as_it_was() {
    let dir = temp_dir("truncated");
    let path = dir.join("s.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        // Enough rows to spread sesh's table over several pages.
        let mut store = store;
        for n in 0..400 {
            store
                .save_state(&format!("namespace-{n}"), &"x".repeat(200))
                .unwrap();
        }
        store.flush().unwrap();
    }
    let full = std::fs::read(&path).unwrap();
    assert!(full.len() > 8 * 4096);
    let truncated = &full[..full.len() / 3];
    std::fs::write(&path, truncated).unwrap();
    let _ = std::fs::remove_file(dir.join("s.db-wal"));
    let _ = std::fs::remove_file(dir.join("s.db-shm"));
    let err = SqliteStore::open(&path).unwrap_err();
    assert_eq!(err.kind, ErrorKind::StoreError);
    assert_eq!(std::fs::read(&path).unwrap(), truncated);
}

/// Overwrites one cell of sesh's tables with `value` (SQL) and opens the store again.
fn open_with_cell(table: &str, key: &str, value: &str) -> (Tracker, Log, String) {
    let dir = temp_dir(&format!("cell-{table}-{key}-{}", value.len()));
    let path = dir.join("s.db");
    let clock = Arc::new(ManualClock::new(5_000_000));
    let tracker = open_sqlite(&path, &clock);
    let first = tracker.track(None, None).unwrap().unwrap();
    tracker.close().unwrap();
    let column = if table == "sesh_meta" {
        "value"
    } else {
        "state"
    };
    let key_column = if table == "sesh_meta" {
        "key"
    } else {
        "namespace"
    };
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            &format!("UPDATE {table} SET {column} = {value} WHERE {key_column} = ?1"),
            [key],
        )
        .unwrap();
    let log = Log::default();
    let tracker = open_on(Box::new(SqliteStore::open(&path).unwrap()), &clock, &log).unwrap();
    (tracker, log, first)
}

#[test]
fn every_stored_cell_broken_or_mistyped_opens_clean_with_corrupt_state() {
    let broken_values = [
        "NULL",
        "42",
        "4.5",
        "x'00ff'",
        "'not json'",
        "'{}'",
        "'[1,2]'",
        "'{\"version\":1}'",
    ];
    for value in broken_values {
        let (tracker, log, first) = open_with_cell("sesh_state", "default", value);
        let fault = tracker.last_fault().unwrap().expect("a fault");
        assert_eq!(fault.kind, ErrorKind::CorruptState, "state = {value}");
        assert!(!log.0.lock().unwrap().is_empty(), "the log heard of it");
        // Clean: no session to continue; the user id, which was readable, is kept.
        assert_eq!(tracker.entity().unwrap(), None);
        let next = tracker.track(None, None).unwrap().unwrap();
        assert_eq!(entity_field(&next, "sessionIndex"), 1, "state = {value}");
        assert_eq!(
            entity_field(&next, "userId"),
            entity_field(&first, "userId")
        );
        assert_ne!(
            entity_field(&next, "sessionId"),
            entity_field(&first, "sessionId")
        );
    }
    for value in broken_values
        .iter()
        .chain(["'not-a-uuid'", "'00000000000000000000000000000000'"].iter())
    {
        let (tracker, _, first) = open_with_cell("sesh_meta", "user_id", value);
        let fault = tracker.last_fault().unwrap().expect("a fault");
        assert_eq!(fault.kind, ErrorKind::CorruptState, "user = {value}");
        let next = tracker.track(None, None).unwrap().unwrap();
        assert_ne!(
            entity_field(&next, "userId"),
            entity_field(&first, "userId")
        );
        assert_eq!(entity_field(&next, "sessionIndex"), 1);
    }
    for value in ["NULL", "'one'", "x'01'", "0"] {
        let (tracker, _, first) = open_with_cell("sesh_meta", "schema_version", value);
        let fault = tracker.last_fault().unwrap().expect("a fault");
        assert_eq!(fault.kind, ErrorKind::CorruptState, "schema = {value}");
        // Only the version cell was damaged: the session goes on.
        let next = tracker.track(None, None).unwrap().unwrap();
        assert_eq!(
            entity_field(&next, "sessionId"),
            entity_field(&first, "sessionId")
        );
    }
}

/// A store that fails on demand, in each of the ways a host's store can.
#[derive(Clone, Default)]
struct FlakyStore {
    inner: MemoryStore,
    mode: Arc<Mutex<Mode>>,
    writes: Arc<Mutex<usize>>,
}

#[derive(Clone, Copy, Default, PartialEq)]
enum Mode {
    #[default]
    Working,
    Failing,
    Garbage,
    Nothing,
}

impl Store for FlakyStore {
    fn storage_mechanism(&self) -> StorageMechanism {
        StorageMechanism::LocalStorage
    }
    fn load_user(&mut self) -> Result<Option<String>> {
        match *self.mode.lock().unwrap() {
            Mode::Working => self.inner.load_user(),
            Mode::Failing => Err(Error::store("down")),
            Mode::Garbage => Ok(Some("\u{1}garbage".into())),
            Mode::Nothing => Ok(None),
        }
    }
    fn save_user(&mut self, user_id: &str) -> Result<()> {
        match *self.mode.lock().unwrap() {
            Mode::Failing => Err(Error::store("down")),
            _ => self.inner.save_user(user_id),
        }
    }
    fn load_state(&mut self, namespace: &str) -> Result<Option<String>> {
        match *self.mode.lock().unwrap() {
            Mode::Working => self.inner.load_state(namespace),
            Mode::Failing => Err(Error::store("down")),
            Mode::Garbage => Ok(Some("{\"version\":\u{7f}".into())),
            Mode::Nothing => Ok(None),
        }
    }
    fn save_state(&mut self, namespace: &str, state: &str) -> Result<()> {
        match *self.mode.lock().unwrap() {
            Mode::Failing => Err(Error::store("down")),
            _ => {
                *self.writes.lock().unwrap() += 1;
                self.inner.save_state(namespace, state)
            }
        }
    }
}

#[test]
fn a_failing_store_never_stops_tracking_and_the_write_is_retried() {
    let store = FlakyStore::default();
    let clock = Arc::new(ManualClock::new(1_000));
    let log = Log::default();
    let tracker = open_on(Box::new(store.clone()), &clock, &log).unwrap();
    tracker.track(None, None).unwrap().unwrap();
    *store.mode.lock().unwrap() = Mode::Failing;
    // A new session must be written at once: the write fails, tracking goes on.
    tracker.new_session().unwrap();
    let during = tracker.track(None, None).unwrap().unwrap();
    assert_eq!(entity_field(&during, "sessionIndex"), 2);
    assert_eq!(entity_field(&during, "eventIndex"), 1);
    let fault = tracker
        .last_fault()
        .unwrap()
        .expect("the failure is reported");
    assert_eq!(fault.kind, ErrorKind::StoreError);
    assert!(
        log.0
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.contains("store write failed"))
    );
    // The store recovers: the next call writes what it missed.
    *store.mode.lock().unwrap() = Mode::Working;
    clock.advance(10);
    tracker.track(None, None).unwrap().unwrap();
    let kept = sesh::engine::state::decode(&store.inner.raw_state("default").unwrap()).unwrap();
    assert_eq!(kept.session_index, 2);
    assert!(kept.session.unwrap().event_index >= 2);
}

#[test]
fn a_store_that_fails_garbles_or_forgets_at_open_still_opens() {
    for (mode, fault) in [
        (Mode::Failing, Some(ErrorKind::StoreError)),
        (Mode::Garbage, Some(ErrorKind::CorruptState)),
        (Mode::Nothing, None),
    ] {
        let store = FlakyStore::default();
        let clock = Arc::new(ManualClock::new(1_000));
        {
            let tracker = open_on(Box::new(store.clone()), &clock, &Log::default()).unwrap();
            tracker.track(None, None).unwrap().unwrap();
            tracker.close().unwrap();
        }
        *store.mode.lock().unwrap() = mode;
        let tracker = open_on(Box::new(store.clone()), &clock, &Log::default()).unwrap();
        assert_eq!(tracker.last_fault().unwrap().map(|f| f.kind), fault);
        let entity = tracker
            .track(None, None)
            .unwrap()
            .expect("tracking goes on");
        assert_eq!(entity_field(&entity, "eventIndex"), 1);
    }
}

#[test]
fn a_read_that_fails_at_open_never_wipes_what_the_store_holds() {
    let store = FlakyStore::default();
    let clock = Arc::new(ManualClock::new(1_000));
    let first = {
        let tracker = open_on(Box::new(store.clone()), &clock, &Log::default()).unwrap();
        tracker.new_session().unwrap();
        let entity = tracker.track(None, None).unwrap().unwrap();
        tracker.close().unwrap();
        entity
    };
    let kept_user = store.inner.load_user_now();
    let kept_state = store.inner.raw_state("default");
    // One failed read at open: tracking goes on in memory, and nothing is written.
    *store.mode.lock().unwrap() = Mode::Failing;
    let tracker = open_on(Box::new(store.clone()), &clock, &Log::default()).unwrap();
    *store.mode.lock().unwrap() = Mode::Working;
    assert!(tracker.track(None, None).unwrap().is_some());
    tracker.new_session().unwrap();
    tracker.close().unwrap();
    assert_eq!(store.inner.load_user_now(), kept_user);
    assert_eq!(store.inner.raw_state("default"), kept_state);
    // The next open reads the records again: same user, the same session goes on.
    let tracker = open_on(Box::new(store.clone()), &clock, &Log::default()).unwrap();
    let next = tracker.track(None, None).unwrap().unwrap();
    assert_eq!(
        entity_field(&next, "userId"),
        entity_field(&first, "userId")
    );
    assert_eq!(
        entity_field(&next, "sessionId"),
        entity_field(&first, "sessionId")
    );
    assert_eq!(entity_field(&next, "sessionIndex"), 1);
}

#[test]
fn a_closed_handle_answers_closed_whatever_the_clock_reads() {
    let clock = Arc::new(ManualClock::new(1_000));
    let tracker = open_on(Box::new(MemoryStore::new()), &clock, &Log::default()).unwrap();
    tracker.track(None, None).unwrap();
    tracker.close().unwrap();
    clock.set(-1);
    assert_eq!(
        tracker.track(None, None).unwrap_err().kind,
        ErrorKind::Closed
    );
    assert_eq!(tracker.check().unwrap_err().kind, ErrorKind::Closed);
    assert_eq!(tracker.close().unwrap_err().kind, ErrorKind::Closed);
}
