//! The default clock (behaviour §3): while a process runs, a wall-clock step (NTP, the user
//! changing the time) neither splits nor stretches a session; across a restart the wall
//! clock judges. The clock's wall and monotonic sources are stepped by the test.

mod common;

use common::{Recorder, schema};
use sesh::clock::{SystemClock, TimeSources};
use sesh::engine::Config;
use sesh::id::RandomIds;
use sesh::store::{MemoryStore, SqliteStore, Store};
use sesh::tracker::{Parts, Tracker};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

const HOUR: i64 = 3_600_000;

#[derive(Clone)]
struct Steps {
    wall: Arc<AtomicI64>,
    monotonic: Arc<AtomicI64>,
}

impl Steps {
    fn new() -> Steps {
        Steps {
            wall: Arc::new(AtomicI64::new(1_700_000_000_000)),
            monotonic: Arc::new(AtomicI64::new(5_000)),
        }
    }
    /// Real time passes: both clocks move.
    fn pass(&self, ms: i64) {
        self.wall.fetch_add(ms, Ordering::SeqCst);
        self.monotonic.fetch_add(ms, Ordering::SeqCst);
    }
    /// The wall clock is set: only it moves.
    fn step_wall(&self, ms: i64) {
        self.wall.fetch_add(ms, Ordering::SeqCst);
    }
}

impl TimeSources for Steps {
    fn wall_ms(&self) -> i64 {
        self.wall.load(Ordering::SeqCst)
    }
    fn monotonic_ms(&self) -> i64 {
        self.monotonic.load(Ordering::SeqCst)
    }
}

fn open(steps: &Steps, store: Box<dyn Store>, hooks: &Recorder) -> Tracker {
    Tracker::open(Parts {
        config: Config {
            foreground_timeout_seconds: 30,
            background_timeout_seconds: 30,
            ..Config::default()
        },
        clock: Box::new(SystemClock::with_sources(Box::new(steps.clone()))),
        ids: Box::new(RandomIds),
        store,
        hooks: Box::new(hooks.clone()),
    })
    .unwrap()
}

fn track(tracker: &Tracker) -> (String, u64) {
    let entity = schema::entity(&tracker.track(None, None).unwrap().unwrap());
    (
        entity["sessionId"].as_str().unwrap().to_owned(),
        entity["eventIndex"].as_u64().unwrap(),
    )
}

#[test]
fn a_wall_step_neither_splits_nor_stretches_a_running_session() {
    for sqlite in [false, true] {
        let dir = std::env::temp_dir().join(format!("sesh-clock-{}-{sqlite}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store: Box<dyn Store> = if sqlite {
            Box::new(SqliteStore::open(&dir.join("s.db")).unwrap())
        } else {
            Box::new(MemoryStore::new())
        };
        let steps = Steps::new();
        let hooks = Recorder::default();
        let tracker = open(&steps, store, &hooks);
        let (first, _) = track(&tracker);
        steps.pass(1_000);
        steps.step_wall(HOUR);
        assert_eq!(track(&tracker), (first.clone(), 2), "forward: not split");
        steps.pass(1_000);
        steps.step_wall(-2 * HOUR);
        assert_eq!(track(&tracker), (first.clone(), 3), "back: not split");
        // 31 s of real time: renewed by the timeout, however the wall clock moved.
        steps.pass(31_000);
        steps.step_wall(-HOUR);
        let (renewed, index) = track(&tracker);
        assert_ne!(renewed, first, "not stretched (sqlite {sqlite})");
        assert_eq!(index, 1);
        tracker.close().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn across_a_restart_the_wall_clock_judges() {
    let dir = std::env::temp_dir().join(format!("sesh-clock-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.db");
    let steps = Steps::new();
    let hooks = Recorder::default();
    for (step, reason) in [(HOUR, "timeout"), (-HOUR, "clock_changed")] {
        let tracker = open(&steps, Box::new(SqliteStore::open(&path).unwrap()), &hooks);
        track(&tracker);
        tracker.close().unwrap();
        hooks.take();
        steps.pass(1_000);
        steps.step_wall(step);
        let reopened = open(&steps, Box::new(SqliteStore::open(&path).unwrap()), &hooks);
        let ends: Vec<_> = hooks
            .take()
            .into_iter()
            .filter_map(|call| match call {
                common::Call::End(summary) => Some(summary),
                common::Call::Start(_) => None,
            })
            .collect();
        assert_eq!(
            ends.len(),
            1,
            "the session ended at open after a {step} ms step"
        );
        assert_eq!(ends[0]["reason"], reason);
        reopened.close().unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
