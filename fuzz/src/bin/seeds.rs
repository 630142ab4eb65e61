//! Writes the seed inputs of the `state` and `custom_store` targets: real state that sesh
//! persisted along a few timelines, each followed by a few operation sequences, in the
//! targets' input form `STATE \0 USER \0 CONTROL` (fuzz/README.md).
//!
//!     cargo run --release --manifest-path fuzz/Cargo.toml --bin sesh-fuzz-seeds -- DIR...
//!
//! Deterministic: ids come from a counter and the clock is injected.

use sesh::Config;
use sesh::clock::ManualClock;
use sesh::id::IdGenerator;
use sesh::store::{MemoryStore, Store};
use sesh::tracker::{NoHooks, Parts, Tracker};
use sesh_fuzz::T0;
use std::sync::Arc;

struct Counter(u64);

impl IdGenerator for Counter {
    fn next_id(&mut self) -> uuid::Uuid {
        self.0 += 1;
        let mut bytes = [0u8; 16];
        bytes[8..].copy_from_slice(&self.0.to_be_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

/// A timeline: what it does to a tracker, given the clock.
type Timeline = fn(&Tracker, &ManualClock);

fn timelines() -> Vec<(&'static str, Config, Timeline)> {
    let manual = Config {
        automatic: false,
        ..Config::default()
    };
    let anonymous = Config {
        anonymous: true,
        ..Config::default()
    };
    vec![
        ("fresh", Config::default(), |_, _| {}),
        ("one-event", Config::default(), |t, _| {
            t.track(None, None).unwrap();
        }),
        ("events-with-ids", Config::default(), |t, c| {
            t.track(Some("eeeeeeee-0000-4000-8000-000000000001"), None)
                .unwrap();
            c.advance(1_000);
            for _ in 0..70 {
                t.track(None, None).unwrap();
            }
        }),
        ("background", Config::default(), |t, c| {
            t.track(None, None).unwrap();
            c.advance(5_000);
            t.transition(true, None).unwrap();
        }),
        ("second-session", Config::default(), |t, c| {
            t.track(None, None).unwrap();
            c.advance(2_000_000);
            t.track(None, Some(T0 + 1)).unwrap();
            t.transition(true, None).unwrap();
            t.transition(false, None).unwrap();
        }),
        ("ended", Config::default(), |t, _| {
            t.track(None, None).unwrap();
            t.end_session().unwrap();
        }),
        ("manual", manual, |t, c| {
            t.new_session().unwrap();
            c.advance(10);
            t.track(None, None).unwrap();
        }),
        ("anonymous", anonymous, |t, _| {
            t.track(None, None).unwrap();
        }),
        ("reset-user", Config::default(), |t, c| {
            t.track(None, None).unwrap();
            c.advance(100);
            t.reset_user().unwrap();
            t.track(None, None).unwrap();
        }),
    ]
}

/// Operation sequences: the 4 header bytes, then (op, arg, step) triples; see
/// fuzz/src/lib.rs for what each means.
const CONTROLS: [(&str, &[u8]); 4] = [
    ("open", &[0, 0, 0, 0]),
    (
        "events",
        &[
            0, 0, 0, 0, 0, 0, 1, 1, 3, 4, 12, 0, 0, 13, 0, 0, 14, 0, 4, 0, 0, 0,
        ],
    ),
    (
        "lifecycle",
        &[
            0, 0, 0, 0, 3, 0, 4, 4, 0, 8, 0, 0, 10, 7, 0, 11, 5, 0, 0, 6, 0, 0,
        ],
    ),
    (
        "restart-manual",
        &[
            4, 1, 0, 0, 8, 0, 1, 0, 0, 2, 14, 0, 4, 9, 0, 0, 15, 2, 0, 0, 0, 0,
        ],
    ),
];

fn main() {
    let dirs: Vec<String> = std::env::args().skip(1).collect();
    if dirs.is_empty() {
        eprintln!("usage: sesh-fuzz-seeds DIR...");
        std::process::exit(2);
    }
    for dir in &dirs {
        std::fs::create_dir_all(dir).expect("the seed directory can be made");
    }
    for (name, config, timeline) in timelines() {
        let store = MemoryStore::new();
        let clock = Arc::new(ManualClock::new(T0));
        let tracker = Tracker::open(Parts {
            config: config.clone(),
            clock: Box::new(clock.clone()),
            ids: Box::new(Counter(0)),
            store: Box::new(store.clone()),
            hooks: Box::new(NoHooks),
        })
        .expect("open");
        timeline(&tracker, &clock);
        tracker.close().expect("close");
        let state = store
            .raw_state(&config.namespace)
            .expect("state was written");
        let user = store
            .clone()
            .load_user()
            .unwrap()
            .expect("user was written");
        for (control_name, control) in CONTROLS {
            let mut control = control.to_vec();
            // The timeline's options: manual and anonymous stay as they were written.
            control[0] |=
                if config.automatic { 0 } else { 4 } | if config.anonymous { 2 } else { 0 };
            let mut input = Vec::new();
            input.extend_from_slice(state.as_bytes());
            input.push(0);
            input.extend_from_slice(user.as_bytes());
            input.push(0);
            input.extend_from_slice(&control);
            for dir in &dirs {
                let path = format!("{dir}/seed-{name}-{control_name}");
                std::fs::write(&path, &input).expect("the seed can be written");
            }
        }
    }
}
