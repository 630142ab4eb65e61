//! Model-checks the per-event protocol of the shared write path (`src/sync/protocol.rs`)
//! with loom: every interleaving of two events and a writer, on the same code the
//! coordination file runs, under the C11 memory model.
//!
//! What must hold in every interleaving:
//! - an event index is handed out at most once, and only in the generation the event read;
//! - the writer's freeze stops every later count: events counted in the old generation are
//!   exactly the indexes below the frozen word;
//! - the writer reads the activity of every event counted before its freeze;
//! - after the writer publishes, an event counts in the new generation from its index.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicU64, Ordering};
use sesh::sync::protocol::{self, FROZEN, Word};

struct LoomWord(AtomicU64);

impl Word for LoomWord {
    fn load(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
    fn fetch_max(&self, value: u64) -> u64 {
        self.0.fetch_max(value, Ordering::AcqRel)
    }
    fn fetch_or(&self, value: u64) -> u64 {
        self.0.fetch_or(value, Ordering::AcqRel)
    }
    fn compare_exchange(&self, current: u64, new: u64) -> Result<u64, u64> {
        self.0
            .compare_exchange(current, new, Ordering::AcqRel, Ordering::Acquire)
    }
    fn store(&self, value: u64) {
        self.0.store(value, Ordering::Release)
    }
}

const GEN1: u64 = 1 << 32;
const GEN2: u64 = 2 << 32;

/// One event as a handle runs it: up to two tries on the per-event path. Returns the word
/// it counted against and its time, or None when it would take the writer lock.
fn event(gen_index: &LoomWord, activity: &LoomWord, now: u64) -> Option<u64> {
    for _ in 0..2 {
        let seen = gen_index.load();
        if seen & FROZEN != 0 {
            return None;
        }
        if protocol::count(gen_index, activity, seen, now) {
            return Some(seen);
        }
    }
    None
}

/// Every interleaving with up to `PREEMPTIONS` preemptions per execution (loom's bound;
/// most concurrency bugs need two or three): without one the three-thread model takes
/// hours.
const PREEMPTIONS: usize = 3;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(PREEMPTIONS);
    }
    builder.check(f);
}

#[test]
fn events_and_a_writer_never_share_an_index_and_the_writer_sees_their_activity() {
    model(|| {
        let gen_index = Arc::new(LoomWord(AtomicU64::new(GEN1 | 5)));
        let activity = Arc::new(LoomWord(AtomicU64::new(100)));
        let events: Vec<_> = [(200u64), (300u64)]
            .into_iter()
            .map(|now| {
                let (g, a) = (Arc::clone(&gen_index), Arc::clone(&activity));
                loom::thread::spawn(move || event(&g, &a, now).map(|seen| (seen, now)))
            })
            .collect();
        let writer = {
            let (g, a) = (Arc::clone(&gen_index), Arc::clone(&activity));
            loom::thread::spawn(move || {
                let frozen = protocol::freeze(&*g);
                let seen_activity = a.load();
                // A renewal: generation 2, index 1 (its own event), activity 400.
                protocol::publish(&*g, &*a, GEN2 | 1, 400);
                (frozen, seen_activity)
            })
        };
        let counted: Vec<(u64, u64)> = events
            .into_iter()
            .filter_map(|e| e.join().unwrap())
            .collect();
        let (frozen, writer_activity) = writer.join().unwrap();
        assert_eq!(frozen & FROZEN, 0, "nobody else froze");
        let mut indexes = Vec::new();
        for (seen, now) in &counted {
            let index = (seen & 0xffff_ffff) + 1;
            match seen >> 32 {
                1 => {
                    assert!(index <= frozen & 0xffff_ffff, "counted after the freeze");
                    assert!(
                        writer_activity >= *now,
                        "the writer missed an event's activity"
                    );
                }
                2 => assert!(index >= 2, "an index of the new session handed out twice"),
                other => panic!("generation {other}"),
            }
            indexes.push((seen >> 32, index));
        }
        let before = indexes.len();
        indexes.sort();
        indexes.dedup();
        assert_eq!(
            indexes.len(),
            before,
            "an index handed out twice: {counted:?}"
        );
        let old_counted = counted.iter().filter(|(seen, _)| seen >> 32 == 1).count() as u64;
        assert_eq!(
            frozen & 0xffff_ffff,
            5 + old_counted,
            "the frozen word counts exactly the old generation's events"
        );
        let end = gen_index.load();
        let new_counted = counted.len() as u64 - old_counted;
        assert_eq!(end, GEN2 | (1 + new_counted));
    });
}

#[test]
fn two_events_hand_out_two_indexes_in_every_order() {
    model(|| {
        let gen_index = Arc::new(LoomWord(AtomicU64::new(GEN1)));
        let activity = Arc::new(LoomWord(AtomicU64::new(0)));
        let threads: Vec<_> = [10u64, 20]
            .into_iter()
            .map(|now| {
                let (g, a) = (Arc::clone(&gen_index), Arc::clone(&activity));
                loom::thread::spawn(move || {
                    // Retries until counted: no writer, so each event succeeds.
                    loop {
                        let seen = g.load();
                        if protocol::count(&*g, &*a, seen, now) {
                            return seen;
                        }
                    }
                })
            })
            .collect();
        let mut seen: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        seen.sort();
        assert_eq!(seen, vec![GEN1, GEN1 | 1]);
        assert_eq!(gen_index.load(), GEN1 | 2);
        assert_eq!(activity.load(), 20);
    });
}
