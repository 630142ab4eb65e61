//! Behaviour §6 (ending sessions and callbacks), through the `Tracker`.

mod common;

use common::schema::{self, NIL_USER};
use common::*;
use sesh::Config;
use sesh::clock::ManualClock;
use sesh::store::MemoryStore;
use sesh::tracker::{Hooks, Parts, Tracker};
use std::sync::{Arc, Mutex, OnceLock, Weak};

fn end_reason(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .map(|c| match c {
            Call::End(s) => format!("end:{}", s["reason"].as_str().unwrap()),
            Call::Start(e) => format!("start:{}", e["sessionIndex"]),
        })
        .collect()
}

// ----- the summary ----------------------------------------------------------------------

#[test]
fn s6_end_summary_has_every_field_as_specified() {
    let w = World::new();
    let h = w.open(timeouts(60, 60));
    // The host stamps the first event a minute before "now": firstEventTimestamp is the
    // event's own time, durationMs is measured on the engine's clock.
    h.track_with(Some(&ev(1)), Some(T0 - 60_000));
    w.at(20);
    h.track();
    w.at(45);
    h.track();
    w.calls();
    w.at(50);
    h.end_session().unwrap();
    assert_eq!(
        w.calls(),
        vec![Call::End(
            End {
                session: &id(2),
                index: 1,
                user: &id(1),
                first: Some(-60_000),
                last: 45_000,
                count: 3,
                duration: 45_000,
                reason: "manual",
            }
            .json()
        )]
    );
}

#[test]
fn s6_summary_of_a_session_without_events_has_null_first_event_zero_duration_and_its_start_as_last_activity()
 {
    let w = World::new();
    let h = w.open(config());
    w.at(5);
    h.new_session().unwrap();
    w.at(100);
    h.end_session().unwrap();
    assert_eq!(
        w.calls()[1],
        Call::End(
            End {
                session: &id(2),
                index: 1,
                user: &id(1),
                first: None,
                last: 5_000,
                count: 0,
                duration: 0,
                reason: "manual",
            }
            .json()
        )
    );
}

#[test]
fn s6_duration_is_never_negative() {
    // Paused at the session start: lastActivity stays at t=0, the first event is counted
    // at t=10 s, so "first event to last activity" would be −10 s.
    let w = World::new();
    let h = w.open(config());
    h.new_session().unwrap();
    h.pause().unwrap();
    w.at(10);
    h.track();
    h.end_session().unwrap();
    let calls = w.calls();
    assert_eq!(
        calls[1],
        Call::End(
            End {
                session: &id(2),
                index: 1,
                user: &id(1),
                first: Some(10_000),
                last: 0,
                count: 1,
                duration: 0,
                reason: "manual",
            }
            .json()
        )
    );
}

// ----- every reason -------------------------------------------------------------------

#[test]
fn s6_reason_timeout() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    h.track();
    w.at(11);
    h.track();
    assert_eq!(
        end_reason(&w.calls()),
        ["start:1", "end:timeout", "start:2"]
    );
}

#[test]
fn s6_reason_clock_changed() {
    let w = World::new();
    w.at(10);
    let h = w.open(config());
    h.track();
    w.at(9);
    h.track();
    assert_eq!(
        end_reason(&w.calls()),
        ["start:1", "end:clock_changed", "start:2"]
    );
}

#[test]
fn s6_reason_max_duration() {
    let w = World::new();
    let h = w.open(Config {
        max_duration_seconds: 10,
        ..config()
    });
    h.track();
    w.at(5);
    h.track();
    w.at(11);
    h.track();
    assert_eq!(
        end_reason(&w.calls()),
        ["start:1", "end:max_duration", "start:2"]
    );
}

#[test]
fn s6_reason_manual() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    h.end_session().unwrap();
    assert_eq!(end_reason(&w.calls()), ["start:1", "end:manual"]);
}

#[test]
fn s6_reason_new_session_for_new_session_and_begin_session() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    h.new_session().unwrap();
    assert_eq!(
        end_reason(&w.calls()),
        ["start:1", "end:new_session", "start:2"]
    );
    // begin_session (manual mode) ends a running session the same way.
    let w = World::new();
    let h = w.open(Config {
        automatic: false,
        ..config()
    });
    h.new_session().unwrap();
    h.track();
    h.new_session().unwrap();
    assert_eq!(
        end_reason(&w.calls()),
        ["start:1", "end:new_session", "start:2"]
    );
}

#[test]
fn s6_reason_user_changed() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    h.reset_user().unwrap();
    assert_eq!(end_reason(&w.calls()), ["start:1", "end:user_changed"]);
}

#[test]
fn s6_reason_anonymity_changed() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    h.set_anonymous(true).unwrap();
    assert_eq!(
        end_reason(&w.calls()),
        ["start:1", "end:anonymity_changed", "start:2"]
    );
}

#[test]
fn s6_reason_restart() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    h.close();
    w.open(Config {
        continue_on_restart: false,
        ..config()
    });
    assert_eq!(end_reason(&w.calls()), ["start:1", "end:restart"]);
}

// ----- which reason wins ----------------------------------------------------------------

/// Run 1 leaves a session (t=0); run 2 opens with `config` on the store at `reopen_s`,
/// after `between` did something to the store.
fn reason_at_open(
    run1: Config,
    between: impl FnOnce(&World),
    run2: Config,
    reopen_s: i64,
) -> Vec<String> {
    let w = World::new();
    let h = w.open(Config {
        namespace: "n".into(),
        ..run1
    });
    h.track();
    h.close();
    between(&w);
    w.calls();
    w.at(reopen_s);
    w.open(Config {
        namespace: "n".into(),
        ..run2
    });
    end_reason(&w.calls())
}

/// Another namespace of the store resets the user.
fn other_namespace_resets_user(w: &World) {
    let other = w.open(Config {
        namespace: "other".into(),
        ..config()
    });
    other.reset_user().unwrap();
    other.close();
}

#[test]
fn s6_timeout_wins_over_max_duration_user_changed_anonymity_changed_and_restart() {
    let everything = Config {
        continue_on_restart: false,
        anonymous: true,
        max_duration_seconds: 10,
        ..timeouts(10, 10)
    };
    assert_eq!(
        reason_at_open(
            timeouts(10, 10),
            other_namespace_resets_user,
            everything,
            11
        ),
        ["end:timeout"]
    );
    // At an event, too.
    let w = World::new();
    let h = w.open(Config {
        max_duration_seconds: 10,
        ..timeouts(10, 10)
    });
    h.track();
    w.at(11);
    h.track();
    assert_eq!(
        end_reason(&w.calls()),
        ["start:1", "end:timeout", "start:2"]
    );
}

#[test]
fn s6_clock_changed_wins_over_user_changed_anonymity_changed_and_restart() {
    let everything = Config {
        continue_on_restart: false,
        anonymous: true,
        ..config()
    };
    assert_eq!(
        reason_at_open(config(), other_namespace_resets_user, everything, -1),
        ["end:clock_changed"]
    );
}

#[test]
fn s6_max_duration_wins_over_user_changed_anonymity_changed_and_restart() {
    let max = Config {
        max_duration_seconds: 10,
        ..config()
    };
    let everything = Config {
        continue_on_restart: false,
        anonymous: true,
        ..max.clone()
    };
    assert_eq!(
        reason_at_open(max, other_namespace_resets_user, everything, 11),
        ["end:max_duration"]
    );
}

#[test]
fn s6_user_changed_wins_over_anonymity_changed_and_restart() {
    let everything = Config {
        continue_on_restart: false,
        anonymous: true,
        ..config()
    };
    assert_eq!(
        reason_at_open(config(), other_namespace_resets_user, everything, 1),
        ["end:user_changed"]
    );
}

#[test]
fn s6_anonymity_changed_wins_over_restart() {
    let everything = Config {
        continue_on_restart: false,
        anonymous: true,
        ..config()
    };
    assert_eq!(
        reason_at_open(config(), |_| (), everything, 1),
        ["end:anonymity_changed"]
    );
}

// ----- the start callback and the order ---------------------------------------------------

#[test]
fn s6_start_callback_gets_the_starting_events_entity_with_event_index_1() {
    let w = World::new();
    let h = w.open(config());
    let entity = h.track_with(Some(&ev(7)), Some(T0 + 123)).unwrap();
    let expected = entity_data(&id(1), &id(2), 1, 1, None, Some((&ev(7), 123)));
    assert_eq!(entity, expected);
    assert_eq!(w.calls(), vec![Call::Start(expected)]);
    // Later events of the session call nothing.
    h.track();
    assert_eq!(w.calls(), vec![]);
}

#[test]
fn s6_start_callback_after_new_session_begin_session_or_anonymity_has_event_index_0() {
    let w = World::new();
    let h = w.open(config());
    h.new_session().unwrap();
    assert_eq!(
        w.calls(),
        vec![Call::Start(entity_data(&id(1), &id(2), 1, 0, None, None))]
    );
    h.set_anonymous(true).unwrap();
    assert_eq!(
        w.calls()[1],
        Call::Start(entity_data(NIL_USER, &id(3), 2, 0, None, None))
    );
    // begin_session: new_session in manual mode.
    let w = World::new();
    let h = w.open(Config {
        automatic: false,
        ..config()
    });
    h.new_session().unwrap();
    assert_eq!(
        w.calls(),
        vec![Call::Start(entity_data(&id(1), &id(2), 1, 0, None, None))]
    );
}

#[test]
fn s6_the_end_is_reported_before_the_next_start() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    h.track();
    w.at(100);
    h.track(); // timeout
    h.new_session().unwrap(); // new_session
    h.set_anonymous(true).unwrap(); // anonymity_changed
    h.set_anonymous(false).unwrap(); // anonymity_changed
    w.at(200);
    h.background(); // timeout
    assert_eq!(
        end_reason(&w.calls()),
        [
            "start:1",
            "end:timeout",
            "start:2",
            "end:new_session",
            "start:3",
            "end:anonymity_changed",
            "start:4",
            "end:anonymity_changed",
            "start:5",
            "end:timeout",
            "start:6"
        ]
    );
}

#[test]
fn s6_summary_user_id_is_as_the_sessions_entities_showed_it() {
    // Anonymous: the nil user, in the summary as in the entities.
    let w = World::new();
    let h = w.open(Config {
        anonymous: true,
        ..config()
    });
    h.track();
    h.end_session().unwrap();
    let calls = w.calls();
    assert!(
        matches!(&calls[1], Call::End(s) if s["userId"] == NIL_USER),
        "{calls:?}"
    );
    // A session of the old user ended because another namespace reset the user: the
    // summary names the old user, whom its entities showed.
    let w = World::new();
    let h = w.open(Config {
        namespace: "a".into(),
        ..config()
    });
    h.track();
    h.close();
    other_namespace_resets_user(&w);
    w.calls();
    let h = w.open(Config {
        namespace: "a".into(),
        ..config()
    });
    assert_eq!(
        w.calls(),
        vec![Call::End(
            End {
                session: &id(2),
                index: 1,
                user: &id(1),
                first: Some(0),
                last: 0,
                count: 1,
                duration: 0,
                reason: "user_changed",
            }
            .json()
        )]
    );
    assert_eq!(h.user(), id(3));
}

// ----- callbacks run on the calling thread with the lock released -------------------------

/// Hooks that call the tracker back from inside the callbacks.
#[derive(Clone, Default)]
struct Reentrant {
    tracker: Arc<OnceLock<Weak<Tracker>>>,
    recorder: Recorder,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Hooks for Reentrant {
    fn session_started(&self, entity_json: &str) {
        self.recorder.session_started(entity_json);
        if let Some(tracker) = self.tracker.get().and_then(Weak::upgrade) {
            // The getter sees the session that just started.
            let now = tracker.entity().unwrap().unwrap().to_json();
            assert_eq!(now, entity_json);
            self.seen.lock().unwrap().push(format!("start sees {now}"));
        }
    }

    fn session_ended(&self, summary_json: &str) {
        self.recorder.session_ended(summary_json);
        if let Some(tracker) = self.tracker.get().and_then(Weak::upgrade) {
            // An operation that takes the lock.
            tracker.pause().unwrap();
            tracker.resume().unwrap();
            self.seen.lock().unwrap().push("end called back".into());
        }
    }
}

#[test]
fn s6_callbacks_run_on_the_calling_thread_after_the_lock_is_released() {
    let clock = Arc::new(ManualClock::new(T0));
    let hooks = Reentrant::default();
    let tracker = Arc::new(
        Tracker::open(Parts {
            config: timeouts(10, 10),
            clock: Box::new(Arc::clone(&clock)),
            ids: Box::new(SharedIds::default()),
            store: Box::new(MemoryStore::new()),
            hooks: Box::new(hooks.clone()),
        })
        .unwrap(),
    );
    hooks.tracker.set(Arc::downgrade(&tracker)).unwrap();
    let worker = {
        let tracker = Arc::clone(&tracker);
        let clock = Arc::clone(&clock);
        std::thread::spawn(move || {
            schema::entity(&tracker.track(Some(&ev(1)), None).unwrap().unwrap());
            clock.set(T0 + 20_000);
            schema::entity(&tracker.track(Some(&ev(2)), None).unwrap().unwrap());
            std::thread::current().id()
        })
    };
    let worker_id = worker.join().unwrap();
    assert_eq!(hooks.recorder.take_threads(), vec![worker_id; 3]);
    assert_eq!(
        end_reason(&hooks.recorder.take()),
        ["start:1", "end:timeout", "start:2"]
    );
    let seen = hooks.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[1], "end called back");
    tracker.close().unwrap();
}

#[test]
fn s6_host_calls_report_their_own_reason_even_on_a_session_that_timed_out() {
    // The precedence list decides what the engine finds (at open, at an event, at check);
    // a host call that ends a session names itself. `check` first reports the timeout.
    let stale = |act: &dyn Fn(&Handle)| {
        let w = World::new();
        let h = w.open(timeouts(10, 10));
        h.track();
        w.calls();
        w.at(100);
        act(&h);
        end_reason(&w.calls())
    };
    assert_eq!(stale(&|h| h.end_session().unwrap()), ["end:manual"]);
    assert_eq!(
        stale(&|h| h.new_session().unwrap()),
        ["end:new_session", "start:2"]
    );
    assert_eq!(
        stale(&|h| h.set_anonymous(true).unwrap()),
        ["end:anonymity_changed", "start:2"]
    );
    assert_eq!(
        stale(&|h| {
            h.reset_user().unwrap();
        }),
        ["end:user_changed"]
    );
    assert_eq!(
        stale(&|h| {
            h.check().unwrap();
            h.end_session().unwrap_err();
        }),
        ["end:timeout"]
    );
}
