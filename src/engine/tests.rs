//! Unit tests of the pure state machine against behaviour §3–§7: the engine is handed "now",
//! draws ids from `SequentialIds`, and its entities, lifecycle events and notices all pass
//! through the JSON Schema gate shared with the integration tests.

#[path = "../../tests/common/schema.rs"]
mod schema;

use super::*;
use crate::id::SequentialIds;
use schema::Lifecycle::{self, Background, Foreground};
use schema::NIL_USER;
use serde_json::{Value, json};

/// 2009-02-13T23:31:30.000Z
const T0: i64 = 1_234_567_890_000;
const USER: &str = "11111111-1111-4111-8111-111111111111";
const OTHER_USER: &str = "22222222-2222-4222-8222-222222222222";

fn uuid(text: &str) -> Uuid {
    Uuid::parse_str(text).unwrap()
}

/// The n-th id the engine draws.
fn id(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// The n-th event id the tests hand the engine.
fn ev(n: u64) -> String {
    format!("eeeeeeee-0000-4000-8000-{n:012x}")
}

fn iso(offset_ms: i64) -> String {
    crate::timestamp::format_iso8601(T0 + offset_ms)
}

fn data(
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

#[derive(Debug, Clone, PartialEq)]
enum Heard {
    Start(Value),
    End(Value),
}

/// An engine, its clock reading and what it reported.
struct Rig {
    engine: Engine,
    now: i64,
    notices: Vec<Notice>,
    events: u64,
}

fn config() -> Config {
    Config::default()
}

fn timeouts(foreground: u64, background: u64) -> Config {
    Config {
        foreground_timeout_seconds: foreground,
        background_timeout_seconds: background,
        ..Config::default()
    }
}

impl Rig {
    fn open(config: Config) -> Rig {
        Rig::open_on(config, uuid(USER), None, 0, 0)
    }

    /// Opens on `persisted` at `T0 + at_ms`, its id generator past `ids_used` ids.
    fn open_on(
        config: Config,
        store_user: Uuid,
        persisted: Option<NamespaceState>,
        ids_used: u64,
        at_ms: i64,
    ) -> Rig {
        let mut ids = SequentialIds::default();
        for _ in 0..ids_used {
            ids.next_id();
        }
        let mut notices = Vec::new();
        let engine = Engine::open(
            config,
            Box::new(ids),
            StorageMechanism::LocalStorage,
            store_user,
            persisted,
            T0 + at_ms,
            &mut notices,
        )
        .unwrap();
        Rig {
            engine,
            now: T0 + at_ms,
            notices,
            events: 0,
        }
    }

    fn at(&mut self, seconds: i64) -> &mut Rig {
        self.now = T0 + seconds * 1000;
        self
    }

    fn at_ms(&mut self, ms: i64) -> &mut Rig {
        self.now = T0 + ms;
        self
    }

    fn next_event(&mut self) -> Event {
        self.events += 1;
        Event {
            id: Some(uuid(&ev(self.events))),
            timestamp_ms: self.now,
        }
    }

    fn track(&mut self) -> Option<Value> {
        let event = self.next_event();
        self.engine
            .track(self.now, event, &mut self.notices)
            .map(|json| schema::entity(&json))
    }

    fn transition(&mut self, to_background: bool) -> Option<(Lifecycle, Option<Value>)> {
        let event = self.next_event();
        match self
            .engine
            .transition(self.now, to_background, event, &mut self.notices)
        {
            Transition::Unchanged => None,
            Transition::Changed {
                lifecycle_event,
                entity,
            } => Some((
                schema::lifecycle(&lifecycle_event),
                entity.map(|json| schema::entity(&json)),
            )),
        }
    }

    fn background(&mut self) -> Option<(Lifecycle, Option<Value>)> {
        self.transition(true)
    }

    fn foreground(&mut self) -> Option<(Lifecycle, Option<Value>)> {
        self.transition(false)
    }

    fn entity(&self) -> Option<Value> {
        self.engine.entity_json().map(|json| schema::entity(&json))
    }

    fn new_session(&mut self) {
        self.engine.new_session(self.now, &mut self.notices);
    }

    fn end_session(&mut self) -> Result<()> {
        self.engine.end_session(&mut self.notices)
    }

    fn check(&mut self) {
        self.engine.check(self.now, &mut self.notices);
    }

    fn set_anonymous(&mut self, anonymous: bool) {
        self.engine
            .set_anonymous(self.now, anonymous, &mut self.notices);
    }

    fn reset_user(&mut self) -> Uuid {
        self.engine.reset_user(&mut self.notices)
    }

    /// What the callbacks would have heard since the last call, validated.
    fn heard(&mut self) -> Vec<Heard> {
        std::mem::take(&mut self.notices)
            .into_iter()
            .map(|notice| match notice {
                Notice::Started(json) => Heard::Start(schema::entity(&json)),
                Notice::Ended(summary) => Heard::End(schema::summary(&summary.to_json())),
            })
            .collect()
    }

    fn reasons(&mut self) -> Vec<String> {
        self.heard()
            .into_iter()
            .map(|h| match h {
                Heard::Start(e) => format!("start:{}", e["sessionIndex"]),
                Heard::End(s) => format!("end:{}", s["reason"].as_str().unwrap()),
            })
            .collect()
    }
}

#[allow(clippy::too_many_arguments)]
fn summary(
    session: &str,
    index: u64,
    user: &str,
    first: Option<i64>,
    last: i64,
    count: u64,
    duration: i64,
    reason: &str,
) -> Heard {
    Heard::End(json!({
        "sessionId": session,
        "sessionIndex": index,
        "userId": user,
        "firstEventTimestamp": first.map(iso),
        "lastActivity": iso(last),
        "eventCount": count,
        "durationMs": duration,
        "reason": reason,
    }))
}

/// A persisted namespace whose session `id(1)` (index 1, previous none) had events at
/// t=0 and t=1 s, last seen in foreground, under `USER`, not anonymous.
fn persisted() -> NamespaceState {
    NamespaceState {
        user_id: uuid(USER),
        session_index: 1,
        last_session_id: Some(uuid(&id(1))),
        in_background: false,
        anonymous: false,
        session: Some(Session {
            id: uuid(&id(1)),
            previous_id: None,
            event_index: 2,
            first_event: Some(FirstEvent {
                id: uuid(&ev(100)),
                timestamp: T0,
                counted_at: T0,
            }),
            started_at: T0,
            last_activity: T0 + 1_000,
            background_index: 0,
            foreground_index: 0,
        }),
    }
}

fn persisted_end(reason: &str) -> Heard {
    summary(&id(1), 1, USER, Some(0), 1_000, 2, 1_000, reason)
}

// ----- §3 -----------------------------------------------------------------------------------

#[test]
fn s3_rule1_first_event_starts_session_index_1_event_index_1_null_previous() {
    let mut r = Rig::open(config());
    assert_eq!(r.entity(), None);
    let expected = data(USER, &id(1), 1, 1, None, Some((&ev(1), 0)));
    assert_eq!(r.track(), Some(expected.clone()));
    assert_eq!(r.heard(), vec![Heard::Start(expected)]);
}

#[test]
fn s3_rule2_timeout_is_strictly_greater() {
    let mut r = Rig::open(timeouts(10, 10));
    r.track();
    r.at(10);
    assert_eq!(r.track().unwrap()["sessionId"], id(1));
    r.at_ms(20_001);
    assert_eq!(
        r.track(),
        Some(data(
            USER,
            &id(2),
            2,
            1,
            Some(&id(1)),
            Some((&ev(3), 20_001))
        ))
    );
    assert_eq!(
        r.heard()[1..],
        [
            summary(&id(1), 1, USER, Some(0), 10_000, 2, 10_000, "timeout"),
            Heard::Start(data(
                USER,
                &id(2),
                2,
                1,
                Some(&id(1)),
                Some((&ev(3), 20_001))
            ))
        ]
    );
}

#[test]
fn s3_rule3_clock_going_back_one_ms_renews_with_clock_changed() {
    let mut r = Rig::open(config());
    r.at(1).track();
    r.at_ms(999);
    assert_eq!(r.track().unwrap()["sessionId"], id(2));
    assert_eq!(
        r.heard()[1],
        summary(&id(1), 1, USER, Some(1_000), 1_000, 1, 0, "clock_changed")
    );
}

#[test]
fn s3_rule4_max_duration_is_strictly_greater_and_counts_from_session_start() {
    let mut r = Rig::open(Config {
        max_duration_seconds: 30,
        ..timeouts(20, 20)
    });
    r.at(5).track();
    r.at(20).track();
    r.at(35).track();
    assert_eq!(r.entity().unwrap()["sessionId"], id(1));
    r.at_ms(35_001).track();
    assert_eq!(r.entity().unwrap()["sessionId"], id(2));
    assert_eq!(
        r.heard()[1],
        summary(
            &id(1),
            1,
            USER,
            Some(5_000),
            35_000,
            3,
            30_000,
            "max_duration"
        )
    );
}

#[test]
fn s3_renewal_resets_event_and_lifecycle_indexes_and_renews_once() {
    let mut r = Rig::open(timeouts(10, 10));
    r.track();
    r.background();
    r.foreground();
    assert_eq!(r.engine.session().unwrap().background_index, 1);
    r.heard();
    r.at(100_000);
    assert_eq!(
        r.track(),
        Some(data(
            USER,
            &id(2),
            2,
            1,
            Some(&id(1)),
            Some((&ev(4), 100_000_000))
        ))
    );
    let s = r.engine.session().unwrap();
    assert_eq!((s.background_index, s.foreground_index), (0, 0));
    assert_eq!(r.reasons(), ["end:timeout", "start:2"]);
}

#[test]
fn s3_timeout_wins_over_max_duration_and_user_changed_at_an_event() {
    let mut r = Rig::open(Config {
        max_duration_seconds: 10,
        ..timeouts(10, 10)
    });
    r.track();
    r.engine.observe_store_user(uuid(OTHER_USER));
    r.heard();
    r.at(11);
    r.track();
    assert_eq!(r.reasons(), ["end:timeout", "start:1"]);
    // The new session belongs to the new user, counted from 1.
    assert_eq!(
        r.entity(),
        Some(data(OTHER_USER, &id(2), 1, 1, None, Some((&ev(2), 11_000))))
    );
}

// ----- §4 -----------------------------------------------------------------------------------

#[test]
fn s4_unchanged_transition_does_nothing() {
    let mut r = Rig::open(timeouts(10, 10));
    r.track();
    r.heard();
    let before = r.engine.state().clone();
    r.at(100);
    assert_eq!(r.foreground(), None);
    assert_eq!(r.engine.state(), &before);
    assert_eq!(r.heard(), vec![]);
}

#[test]
fn s4_transition_is_checked_with_the_timeout_of_the_state_it_leaves() {
    // Background after 100 s in foreground (fg 360): same session.
    let mut r = Rig::open(timeouts(360, 15));
    r.track();
    r.at(100);
    assert_eq!(
        r.background(),
        Some((
            Background(1),
            Some(data(USER, &id(1), 1, 2, None, Some((&ev(1), 0))))
        ))
    );
    // Foreground after 16 s in background (bg 15): a new session, foregroundIndex 1.
    r.at(116);
    assert_eq!(
        r.foreground(),
        Some((
            Foreground(1),
            Some(data(
                USER,
                &id(2),
                2,
                1,
                Some(&id(1)),
                Some((&ev(3), 116_000))
            ))
        ))
    );
}

#[test]
fn s4_seed_example_fg_360_bg_15() {
    let mut r = Rig::open(timeouts(360, 15));
    assert_eq!(r.track().unwrap()["sessionId"], id(1));
    r.at(3);
    let (event, entity) = r.background().unwrap();
    assert_eq!(event, Background(1));
    assert_eq!(entity.unwrap()["sessionId"], id(1));
    r.at(30);
    let (event, entity) = r.foreground().unwrap();
    assert_eq!(event, Foreground(1));
    assert_eq!(
        entity,
        Some(data(
            USER,
            &id(2),
            2,
            1,
            Some(&id(1)),
            Some((&ev(3), 30_000))
        ))
    );
}

#[test]
fn s4_start_in_background_puts_the_app_in_background_at_open() {
    let r = Rig::open(Config {
        start_in_background: true,
        ..config()
    });
    assert!(r.engine.in_background());
    let r = Rig::open(config());
    assert!(!r.engine.in_background());
}

// ----- §5: open on persisted state ----------------------------------------------------------

#[test]
fn s5_open_continues_a_session_that_has_not_timed_out() {
    let mut r = Rig::open_on(timeouts(30, 30), uuid(USER), Some(persisted()), 1, 31_000);
    assert_eq!(r.heard(), vec![]);
    assert_eq!(
        r.track(),
        Some(data(USER, &id(1), 1, 3, None, Some((&ev(100), 0))))
    );
}

#[test]
fn s5_open_judges_with_the_timeout_of_the_state_last_seen() {
    let in_background = NamespaceState {
        in_background: true,
        ..persisted()
    };
    let mut r = Rig::open_on(
        timeouts(1800, 15),
        uuid(USER),
        Some(in_background.clone()),
        1,
        16_000,
    );
    assert_eq!(r.heard(), vec![]);
    let mut r = Rig::open_on(
        timeouts(1800, 15),
        uuid(USER),
        Some(in_background),
        1,
        16_001,
    );
    assert_eq!(r.heard(), vec![persisted_end("timeout")]);
    assert_eq!(r.entity(), None);
    // After open the app is in foreground (start_in_background off).
    assert!(!r.engine.in_background());
    let mut r = Rig::open_on(timeouts(1800, 15), uuid(USER), Some(persisted()), 1, 16_001);
    assert_eq!(r.heard(), vec![]);
}

#[test]
fn s5_open_ends_with_clock_changed_and_max_duration() {
    let mut r = Rig::open_on(config(), uuid(USER), Some(persisted()), 1, 999);
    assert_eq!(r.heard(), vec![persisted_end("clock_changed")]);
    let max = Config {
        max_duration_seconds: 10,
        ..config()
    };
    let mut r = Rig::open_on(max.clone(), uuid(USER), Some(persisted()), 1, 10_000);
    assert_eq!(r.heard(), vec![]);
    let mut r = Rig::open_on(max, uuid(USER), Some(persisted()), 1, 10_001);
    assert_eq!(r.heard(), vec![persisted_end("max_duration")]);
}

#[test]
fn s5_open_ends_with_restart_when_continue_on_restart_is_off() {
    let off = Config {
        continue_on_restart: false,
        ..config()
    };
    let mut r = Rig::open_on(off, uuid(USER), Some(persisted()), 1, 2_000);
    assert_eq!(r.heard(), vec![persisted_end("restart")]);
    assert_eq!(r.entity(), None);
    assert_eq!(
        r.track(),
        Some(data(
            USER,
            &id(2),
            2,
            1,
            Some(&id(1)),
            Some((&ev(1), 2_000))
        ))
    );
}

#[test]
fn s5_open_ends_with_anonymity_changed_showing_the_user_as_the_session_did() {
    let anonymous = Config {
        anonymous: true,
        ..config()
    };
    let mut r = Rig::open_on(anonymous, uuid(USER), Some(persisted()), 1, 2_000);
    assert_eq!(r.heard(), vec![persisted_end("anonymity_changed")]);
    assert_eq!(r.entity(), None);
    let was_anonymous = NamespaceState {
        anonymous: true,
        ..persisted()
    };
    let mut r = Rig::open_on(config(), uuid(USER), Some(was_anonymous), 1, 2_000);
    assert_eq!(
        r.heard(),
        vec![summary(
            &id(1),
            1,
            NIL_USER,
            Some(0),
            1_000,
            2,
            1_000,
            "anonymity_changed"
        )]
    );
}

#[test]
fn s5_open_ends_with_user_changed_showing_the_old_user_and_counts_again_from_1() {
    let mut r = Rig::open_on(config(), uuid(OTHER_USER), Some(persisted()), 1, 2_000);
    assert_eq!(r.heard(), vec![persisted_end("user_changed")]);
    assert_eq!(r.entity(), None);
    assert_eq!(
        r.track(),
        Some(data(OTHER_USER, &id(2), 1, 1, None, Some((&ev(1), 2_000))))
    );
}

#[test]
fn s5_manual_mode_open_ignores_rules_2_to_4_but_not_restart() {
    let manual = Config {
        automatic: false,
        max_duration_seconds: 1,
        ..timeouts(1, 1)
    };
    let mut r = Rig::open_on(manual.clone(), uuid(USER), Some(persisted()), 1, 86_400_000);
    assert_eq!(r.heard(), vec![]);
    assert_eq!(r.entity().unwrap()["sessionId"], id(1));
    let mut r = Rig::open_on(manual.clone(), uuid(USER), Some(persisted()), 1, -5_000);
    assert_eq!(r.heard(), vec![]);
    let off = Config {
        continue_on_restart: false,
        ..manual
    };
    let mut r = Rig::open_on(off, uuid(USER), Some(persisted()), 1, 2_000);
    assert_eq!(r.heard(), vec![persisted_end("restart")]);
}

// ----- §6: which reason wins at open --------------------------------------------------------

#[test]
fn s6_reason_precedence_at_open() {
    let everything = |max: u64| Config {
        continue_on_restart: false,
        anonymous: true,
        max_duration_seconds: max,
        ..timeouts(10, 10)
    };
    let reason = |config: Config, at_ms: i64| {
        let mut r = Rig::open_on(config, uuid(OTHER_USER), Some(persisted()), 1, at_ms);
        r.reasons()
    };
    assert_eq!(reason(everything(5), 11_001), ["end:timeout"]);
    assert_eq!(reason(everything(5), 999), ["end:clock_changed"]);
    assert_eq!(reason(everything(5), 5_001), ["end:max_duration"]);
    assert_eq!(reason(everything(0), 5_001), ["end:user_changed"]);
    let mut r = Rig::open_on(everything(0), uuid(USER), Some(persisted()), 1, 5_001);
    assert_eq!(r.reasons(), ["end:anonymity_changed"]);
}

// ----- §6: summaries ------------------------------------------------------------------------

#[test]
fn s6_summary_without_events_and_never_negative_duration() {
    let mut r = Rig::open(config());
    r.at(5).new_session();
    r.at(9);
    r.end_session().unwrap();
    assert_eq!(
        r.heard(),
        vec![
            Heard::Start(data(USER, &id(1), 1, 0, None, None)),
            summary(&id(1), 1, USER, None, 5_000, 0, 0, "manual"),
        ]
    );
    r.at(10).new_session();
    r.engine.pause();
    r.at(20).track();
    r.end_session().unwrap();
    assert_eq!(
        r.heard()[1],
        summary(&id(2), 2, USER, Some(20_000), 10_000, 1, 0, "manual")
    );
}

// ----- §7 -----------------------------------------------------------------------------------

#[test]
fn s7_new_session_exists_at_once_and_the_next_event_fills_its_first_event_fields() {
    let mut r = Rig::open(config());
    r.track();
    r.at(1).new_session();
    assert_eq!(r.reasons(), ["start:1", "end:new_session", "start:2"]);
    assert_eq!(
        r.entity(),
        Some(data(USER, &id(2), 2, 0, Some(&id(1)), None))
    );
    r.at(2);
    assert_eq!(
        r.track(),
        Some(data(
            USER,
            &id(2),
            2,
            1,
            Some(&id(1)),
            Some((&ev(2), 2_000))
        ))
    );
    assert_eq!(r.heard(), vec![]);
}

#[test]
fn s7_end_session_with_no_session_is_no_session() {
    let mut r = Rig::open(config());
    let before = r.engine.state().clone();
    let err = r.end_session().unwrap_err();
    assert_eq!(err.kind, crate::error::ErrorKind::NoSession);
    assert_eq!(r.engine.state(), &before);
    assert_eq!(r.heard(), vec![]);
}

#[test]
fn s7_check_matches_what_the_next_event_would_do() {
    let mut r = Rig::open(timeouts(10, 10));
    r.track();
    r.heard();
    r.at(10).check();
    assert_eq!(r.heard(), vec![]);
    r.at_ms(10_001).check();
    assert_eq!(r.reasons(), ["end:timeout"]);
    assert_eq!(r.entity(), None);
    // Paused: nothing.
    r.track();
    r.engine.pause();
    r.heard();
    r.at(100).check();
    assert_eq!(r.heard(), vec![]);
    r.engine.resume();
    r.check();
    assert_eq!(r.reasons(), ["end:timeout"]);
}

#[test]
fn s7_check_does_not_end_for_a_user_change() {
    // check applies rules 2–4 only; the user change ends the session at the next event.
    let mut r = Rig::open(config());
    r.track();
    r.engine.observe_store_user(uuid(OTHER_USER));
    r.heard();
    r.at(1).check();
    assert_eq!(r.heard(), vec![]);
    r.track();
    assert_eq!(
        r.heard(),
        vec![
            summary(&id(1), 1, USER, Some(0), 0, 1, 0, "user_changed"),
            Heard::Start(data(OTHER_USER, &id(2), 1, 1, None, Some((&ev(2), 1_000)))),
        ]
    );
}

#[test]
fn s7_pause_freezes_last_activity_and_suspends_rules_2_to_4() {
    let mut r = Rig::open(Config {
        max_duration_seconds: 5,
        ..timeouts(10, 10)
    });
    r.track();
    r.engine.pause();
    assert!(r.engine.is_paused());
    r.at(100).track();
    r.at(50).track();
    assert_eq!(r.engine.session().unwrap().last_activity, T0);
    assert_eq!(r.engine.session().unwrap().event_index, 3);
    r.engine.resume();
    r.heard();
    r.at(51).track();
    assert_eq!(r.reasons(), ["end:timeout", "start:2"]);
}

#[test]
fn s7_anonymity_change_in_automatic_and_manual_mode() {
    let mut r = Rig::open(config());
    r.set_anonymous(true);
    assert_eq!(
        r.heard(),
        vec![Heard::Start(data(NIL_USER, &id(1), 1, 0, None, None))]
    );
    r.set_anonymous(true);
    assert_eq!(r.heard(), vec![]);
    r.set_anonymous(false);
    assert_eq!(
        r.heard(),
        vec![
            summary(&id(1), 1, NIL_USER, None, 0, 0, 0, "anonymity_changed"),
            Heard::Start(data(USER, &id(2), 2, 0, Some(&id(1)), None)),
        ]
    );
    let mut r = Rig::open(Config {
        automatic: false,
        ..config()
    });
    r.set_anonymous(true);
    assert_eq!(r.heard(), vec![]);
    assert_eq!(r.entity(), None);
    r.new_session();
    r.set_anonymous(false);
    assert_eq!(r.reasons(), ["start:1", "end:anonymity_changed", "start:2"]);
}

#[test]
fn s7_reset_user_ends_with_user_changed_and_the_next_session_counts_from_1() {
    let mut r = Rig::open(config());
    r.track();
    r.at(1).track();
    r.heard();
    let user = r.reset_user();
    assert_eq!(user.to_string(), id(2));
    assert_eq!(r.engine.take_user_change(), Some(user));
    assert_eq!(
        r.heard(),
        vec![summary(
            &id(1),
            1,
            USER,
            Some(0),
            1_000,
            2,
            1_000,
            "user_changed"
        )]
    );
    assert_eq!(r.entity(), None);
    assert_eq!(
        r.track(),
        Some(data(&id(2), &id(3), 1, 1, None, Some((&ev(3), 1_000))))
    );
}

#[test]
fn s7_another_namespaces_user_change_ends_the_session_at_the_next_event() {
    let mut r = Rig::open(config());
    r.track();
    r.heard();
    r.engine.observe_store_user(uuid(OTHER_USER));
    r.at(1);
    assert_eq!(
        r.track(),
        Some(data(OTHER_USER, &id(2), 1, 1, None, Some((&ev(2), 1_000))))
    );
    assert_eq!(r.reasons(), ["end:user_changed", "start:1"]);
    // In manual mode the session ends too, and none starts.
    let mut r = Rig::open(Config {
        automatic: false,
        ..config()
    });
    r.new_session();
    r.heard();
    r.engine.observe_store_user(uuid(OTHER_USER));
    assert_eq!(r.track(), None);
    assert_eq!(r.reasons(), ["end:user_changed"]);
}

#[test]
fn s7_manual_mode_in_full() {
    let mut r = Rig::open(Config {
        automatic: false,
        max_duration_seconds: 1,
        ..timeouts(1, 1)
    });
    // Outside a session: no entity; a transition still flips the state.
    assert_eq!(r.track(), None);
    assert_eq!(r.background(), Some((Background(0), None)));
    assert!(r.engine.in_background());
    assert_eq!(r.heard(), vec![]);
    // begin_session; no rule of §3 ends it.
    r.new_session();
    r.at(100).track();
    r.at(-100).track();
    assert_eq!(
        r.foreground(),
        Some((
            Foreground(1),
            Some(data(USER, &id(1), 1, 3, None, Some((&ev(3), 100_000))))
        ))
    );
    r.check();
    assert_eq!(r.reasons(), ["start:1"]);
    // begin_session during a session ends the old one first.
    r.new_session();
    assert_eq!(r.reasons(), ["end:new_session", "start:2"]);
    r.end_session().unwrap();
    assert_eq!(r.reasons(), ["end:manual"]);
    assert_eq!(r.track(), None);
    r.new_session();
    r.reset_user();
    assert_eq!(r.reasons(), ["start:3", "end:user_changed"]);
    assert_eq!(r.track(), None);
}

#[test]
fn s7_getters_show_what_an_entity_would_show() {
    let mut r = Rig::open(Config {
        anonymous: true,
        ..config()
    });
    assert_eq!(r.engine.session_index(), None);
    assert_eq!(r.engine.shown_user_id(), Uuid::nil());
    r.track();
    r.at(1).new_session();
    let session = r.engine.session().unwrap().clone();
    assert_eq!(r.engine.shown_previous_id(&session), None);
    assert_eq!(session.previous_id.map(|u| u.to_string()), Some(id(1)));
    assert_eq!(r.engine.session_index(), Some(2));
    assert_eq!(r.entity(), Some(data(NIL_USER, &id(2), 2, 0, None, None)));
}
