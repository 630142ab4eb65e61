//! Per-event cost of sesh, from the engine alone to the tracker on an SQLite file.
//!
//!     cargo bench --bench engine
//!
//! The C benchmark (`build/benches/c/sesh-bench`) measures the same cases through the ABI.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use sesh::clock::ManualClock;
use sesh::engine::{Config, Engine, Event, StorageMechanism};
use sesh::id::{RandomIds, SequentialIds};
use sesh::store::{MemoryStore, SqliteStore, Store};
use sesh::tracker::{NoHooks, Parts, Tracker};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use uuid::Uuid;

fn tracker_on(store: Box<dyn Store>, clock: &Arc<ManualClock>) -> Tracker {
    Tracker::open(Parts {
        config: Config::default(),
        clock: Box::new(clock.clone()),
        ids: Box::new(RandomIds),
        store,
        hooks: Box::new(NoHooks),
    })
    .unwrap()
}

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sesh-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("bench.db")
}

fn sqlite(path: &Path) -> Box<dyn Store> {
    Box::new(SqliteStore::open(path).unwrap())
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("per_event");

    group.bench_function("engine_track_in_session", |b| {
        let mut notices = Vec::new();
        let mut engine = Engine::open(
            Config::default(),
            Box::new(SequentialIds::default()),
            StorageMechanism::LocalStorage,
            Uuid::from_u128(1),
            None,
            0,
            &mut notices,
        )
        .unwrap();
        let event = Event {
            id: Some(Uuid::from_u128(2)),
            timestamp_ms: 0,
        };
        let mut now = 0;
        b.iter(|| {
            now += 1;
            let entity = engine.track(now, event, &mut notices);
            black_box(entity)
        });
    });

    group.bench_function("tracker_track_memory", |b| {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let tracker = tracker_on(Box::new(MemoryStore::new()), &clock);
        b.iter(|| {
            clock.advance(1);
            black_box(tracker.track(None, None).unwrap())
        });
    });

    group.bench_function("tracker_track_sqlite_file", |b| {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let tracker = tracker_on(sqlite(&temp_db("track")), &clock);
        b.iter(|| {
            clock.advance(1);
            black_box(tracker.track(None, None).unwrap())
        });
    });

    group.bench_function("tracker_track_renewing_sqlite_file", |b| {
        let clock = Arc::new(ManualClock::new(1_000_000_000_000));
        let tracker = tracker_on(sqlite(&temp_db("rotate")), &clock);
        b.iter(|| {
            // Past the 30-minute timeout: every event ends a session and starts one.
            clock.advance(1_800_001);
            black_box(tracker.track(None, None).unwrap())
        });
    });
    group.finish();

    c.bench_function("open_existing_sqlite_and_restore", |b| {
        let path = temp_db("open");
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        {
            let tracker = tracker_on(sqlite(&path), &clock);
            tracker.track(None, None).unwrap();
            tracker.close().unwrap();
        }
        b.iter_batched(
            || (),
            |()| {
                let tracker = tracker_on(sqlite(&path), &clock);
                black_box(tracker.entity().unwrap());
                std::mem::forget(tracker.close());
                tracker
            },
            BatchSize::PerIteration,
        );
    });
}

criterion_group!(engine, benches);
criterion_main!(engine);
