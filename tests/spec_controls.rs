//! Behaviour §7 (host controls), through the `Tracker`.

mod common;

use common::schema::Lifecycle::{Background, Foreground};
use common::schema::{self, NIL_USER};
use common::*;
use sesh::Config;
use sesh::error::ErrorKind;

fn ended(
    session: &str,
    index: u64,
    user: &str,
    first: Option<i64>,
    last: i64,
    count: u64,
    reason: &str,
) -> Call {
    Call::End(
        End {
            session,
            index,
            user,
            first,
            last,
            count,
            duration: first.map_or(0, |f| (last - f).max(0)),
            reason,
        }
        .json(),
    )
}

// ----- new_session ----------------------------------------------------------------------

#[test]
fn s7_new_session_ends_the_old_one_and_the_new_one_exists_at_once() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    w.at(5);
    h.new_session().unwrap();
    let fresh = entity_data(&id(1), &id(3), 2, 0, Some(&id(2)), None);
    assert_eq!(
        w.calls()[1..],
        [
            ended(&id(2), 1, &id(1), Some(0), 0, 1, "new_session"),
            Call::Start(fresh.clone())
        ]
    );
    // The getters show it before any event.
    assert_eq!(h.entity(), Some(fresh));
    assert_eq!(h.lifecycle_indexes().unwrap(), Some((0, 0)));
    // The next event fills its first-event fields; no second start callback.
    w.at(6);
    assert_eq!(
        h.track(),
        Some(entity_data(
            &id(1),
            &id(3),
            2,
            1,
            Some(&id(2)),
            Some((&ev(2), 6_000))
        ))
    );
    assert_eq!(w.calls(), vec![]);
}

#[test]
fn s7_new_session_with_no_session_just_starts_one() {
    let w = World::new();
    let h = w.open(config());
    h.new_session().unwrap();
    assert_eq!(
        w.calls(),
        vec![Call::Start(entity_data(&id(1), &id(2), 1, 0, None, None))]
    );
    assert_eq!(
        h.entity(),
        Some(entity_data(&id(1), &id(2), 1, 0, None, None))
    );
}

#[test]
fn s7_new_session_starts_the_idle_clock_at_its_creation() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    w.at(5);
    h.new_session().unwrap();
    w.at(15);
    assert_eq!(h.track().unwrap()["sessionId"], id(2));
    h.new_session().unwrap();
    w.at_ms(25_001);
    assert_eq!(h.track().unwrap()["sessionId"], id(4));
}

// ----- end_session ----------------------------------------------------------------------

#[test]
fn s7_end_session_ends_now_and_the_next_event_starts_a_new_one() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    w.at(3);
    h.track();
    w.at(4);
    h.end_session().unwrap();
    assert_eq!(
        w.calls()[1..],
        [ended(&id(2), 1, &id(1), Some(0), 3_000, 2, "manual")]
    );
    assert_eq!(h.entity(), None);
    assert_eq!(h.lifecycle_indexes().unwrap(), None);
    w.at(5);
    assert_eq!(
        h.track(),
        Some(entity_data(
            &id(1),
            &id(3),
            2,
            1,
            Some(&id(2)),
            Some((&ev(3), 5_000))
        ))
    );
}

#[test]
fn s7_end_session_with_no_session_is_no_session_and_changes_nothing() {
    let w = World::new();
    let h = w.open(config());
    let before = h.state().unwrap();
    assert_eq!(h.end_session().unwrap_err().kind, ErrorKind::NoSession);
    assert_eq!(h.state().unwrap(), before);
    h.track();
    h.end_session().unwrap();
    w.calls();
    let before = h.state().unwrap();
    assert_eq!(h.end_session().unwrap_err().kind, ErrorKind::NoSession);
    assert_eq!(h.state().unwrap(), before);
    assert_eq!(w.calls(), vec![]);
    // Manual mode answers the same.
    let w = World::new();
    let h = w.open(Config {
        automatic: false,
        ..config()
    });
    assert_eq!(h.end_session().unwrap_err().kind, ErrorKind::NoSession);
    assert_eq!(w.calls(), vec![]);
}

// ----- check ----------------------------------------------------------------------------

#[test]
fn s7_check_ends_the_session_exactly_when_the_next_event_would_renew_it() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    h.track();
    w.calls();
    w.at(10);
    h.check().unwrap();
    assert_eq!(w.calls(), vec![]);
    assert_eq!(h.entity().unwrap()["sessionId"], id(2));
    w.at_ms(10_001);
    h.check().unwrap();
    assert_eq!(
        w.calls(),
        vec![ended(&id(2), 1, &id(1), Some(0), 0, 1, "timeout")]
    );
    assert_eq!(h.entity(), None);
    // The next event starts a new session; it does not end anything again.
    assert_eq!(
        h.track(),
        Some(entity_data(
            &id(1),
            &id(3),
            2,
            1,
            Some(&id(2)),
            Some((&ev(2), 10_001))
        ))
    );
    assert_eq!(w.calls().len(), 1);
}

#[test]
fn s7_check_uses_the_timeout_in_force() {
    let w = World::new();
    let h = w.open(timeouts(360, 15));
    h.track();
    h.background();
    w.calls();
    w.at(15);
    h.check().unwrap();
    assert_eq!(w.calls(), vec![]);
    w.at_ms(15_001);
    h.check().unwrap();
    assert_eq!(
        w.calls(),
        vec![ended(&id(2), 1, &id(1), Some(0), 0, 2, "timeout")]
    );
}

#[test]
fn s7_check_ends_with_clock_changed_and_max_duration() {
    let w = World::new();
    w.at(10);
    let h = w.open(config());
    h.track();
    w.calls();
    w.at(9);
    h.check().unwrap();
    assert_eq!(
        w.calls(),
        vec![ended(
            &id(2),
            1,
            &id(1),
            Some(10_000),
            10_000,
            1,
            "clock_changed"
        )]
    );
    let w = World::new();
    let h = w.open(Config {
        max_duration_seconds: 10,
        ..config()
    });
    h.track();
    w.at(10);
    h.track();
    w.calls();
    h.check().unwrap();
    assert_eq!(w.calls(), vec![]);
    w.at_ms(10_001);
    h.check().unwrap();
    assert_eq!(
        w.calls(),
        vec![ended(&id(2), 1, &id(1), Some(0), 10_000, 2, "max_duration")]
    );
}

#[test]
fn s7_check_with_no_session_does_nothing() {
    let w = World::new();
    let h = w.open(config());
    let before = h.state().unwrap();
    w.at(100_000);
    h.check().unwrap();
    assert_eq!(h.state().unwrap(), before);
    assert_eq!(w.calls(), vec![]);
}

#[test]
fn s7_check_does_nothing_while_paused() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    h.track();
    h.pause().unwrap();
    w.calls();
    w.at(100);
    h.check().unwrap();
    assert_eq!(w.calls(), vec![]);
    assert_eq!(h.entity().unwrap()["sessionId"], id(2));
    h.resume().unwrap();
    h.check().unwrap();
    assert_eq!(
        w.calls(),
        vec![ended(&id(2), 1, &id(1), Some(0), 0, 1, "timeout")]
    );
}

#[test]
fn s7_check_does_nothing_in_manual_mode() {
    let w = World::new();
    let h = w.open(Config {
        automatic: false,
        max_duration_seconds: 10,
        ..timeouts(10, 10)
    });
    h.new_session().unwrap();
    h.track();
    w.calls();
    w.at(100);
    h.check().unwrap();
    w.at(-100);
    h.check().unwrap();
    assert_eq!(w.calls(), vec![]);
    assert_eq!(h.entity().unwrap()["sessionId"], id(2));
}

// ----- pause / resume -------------------------------------------------------------------

#[test]
fn s7_pause_suspends_rules_2_to_4_and_freezes_last_activity() {
    let w = World::new();
    let h = w.open(Config {
        max_duration_seconds: 30,
        ..timeouts(10, 10)
    });
    h.track();
    h.pause().unwrap();
    assert!(h.is_paused().unwrap());
    w.calls();
    // Past the timeout, past the max duration, then the clock going back: same session,
    // events still counted, lastActivity still t=0.
    for (at, index) in [(100, 2), (200, 3), (50, 4)] {
        w.at(at);
        let e = h.track().unwrap();
        assert_eq!(e["sessionId"], id(2));
        assert_eq!(e["eventIndex"], index);
    }
    w.at(300);
    assert!(
        matches!(h.background(), Moved::Changed(Background(1), Some(e)) if e["sessionId"] == id(2))
    );
    assert_eq!(h.state().unwrap().session.unwrap().last_activity, T0);
    assert_eq!(w.calls(), vec![]);
    // After resume, the next event is checked against the frozen lastActivity (t=0).
    h.resume().unwrap();
    assert!(!h.is_paused().unwrap());
    w.at(301);
    assert_eq!(h.track().unwrap()["sessionId"], id(3));
    assert_eq!(
        w.calls()[0],
        Call::End(
            End {
                session: &id(2),
                index: 1,
                user: &id(1),
                first: Some(0),
                last: 0,
                count: 5,
                duration: 0,
                reason: "timeout",
            }
            .json()
        )
    );
}

#[test]
fn s7_after_resume_an_event_within_the_timeout_of_the_frozen_activity_continues() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    h.track();
    h.pause().unwrap();
    w.at(5);
    h.track();
    h.resume().unwrap();
    w.at(10);
    let e = h.track().unwrap();
    assert_eq!(e["sessionId"], id(2));
    assert_eq!(e["eventIndex"], 3);
    // Not paused any more: activity moves again.
    assert_eq!(
        h.state().unwrap().session.unwrap().last_activity,
        T0 + 10_000
    );
}

#[test]
fn s7_while_paused_rule_1_still_starts_a_session_when_there_is_none() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    h.pause().unwrap();
    w.at(1);
    assert_eq!(
        h.track(),
        Some(entity_data(
            &id(1),
            &id(2),
            1,
            1,
            None,
            Some((&ev(1), 1_000))
        ))
    );
    h.end_session().unwrap();
    w.at(2);
    assert_eq!(h.track().unwrap()["sessionId"], id(3));
    assert_eq!(
        h.state().unwrap().session.unwrap().last_activity,
        T0 + 2_000
    );
}

// ----- anonymous on / off ---------------------------------------------------------------

#[test]
fn s7_anonymous_on_and_off_each_end_the_session_and_start_a_new_one_at_once() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    w.calls();
    w.at(1);
    h.set_anonymous(true).unwrap();
    let anonymous = entity_data(NIL_USER, &id(3), 2, 0, None, None);
    assert_eq!(
        w.calls(),
        vec![
            ended(&id(2), 1, &id(1), Some(0), 0, 1, "anonymity_changed"),
            Call::Start(anonymous.clone())
        ]
    );
    assert_eq!(h.entity(), Some(anonymous));
    assert_eq!(h.user(), NIL_USER);
    w.at(2);
    assert_eq!(
        h.track(),
        Some(entity_data(
            NIL_USER,
            &id(3),
            2,
            1,
            None,
            Some((&ev(2), 2_000))
        ))
    );
    w.at(3);
    h.set_anonymous(false).unwrap();
    // The stored state kept the real previous id: the anonymous session's.
    let identified = entity_data(&id(1), &id(4), 3, 0, Some(&id(3)), None);
    assert_eq!(
        w.calls(),
        vec![
            ended(
                &id(3),
                2,
                NIL_USER,
                Some(2_000),
                2_000,
                1,
                "anonymity_changed"
            ),
            Call::Start(identified.clone())
        ]
    );
    assert_eq!(h.entity(), Some(identified));
    assert_eq!(h.user(), id(1));
}

#[test]
fn s7_anonymous_set_to_the_current_value_does_nothing() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    w.calls();
    let before = h.state().unwrap();
    h.set_anonymous(false).unwrap();
    assert_eq!(h.state().unwrap(), before);
    assert_eq!(w.calls(), vec![]);
}

#[test]
fn s7_in_automatic_mode_an_anonymity_change_always_leaves_a_new_session_running() {
    let w = World::new();
    let h = w.open(config());
    assert_eq!(h.entity(), None);
    h.set_anonymous(true).unwrap();
    let started = entity_data(NIL_USER, &id(2), 1, 0, None, None);
    assert_eq!(w.calls(), vec![Call::Start(started.clone())]);
    assert_eq!(h.entity(), Some(started));
}

// ----- reset_user -----------------------------------------------------------------------

#[test]
fn s7_reset_user_ends_the_session_with_user_changed_and_starts_none() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    w.at(1);
    h.track();
    w.calls();
    w.at(2);
    let new_user = h.reset_user().unwrap();
    assert_eq!(new_user.to_string(), id(3));
    assert_eq!(
        w.calls(),
        vec![ended(&id(2), 1, &id(1), Some(0), 1_000, 2, "user_changed")]
    );
    assert_eq!(h.entity(), None);
    assert_eq!(h.user(), id(3));
    // The next session: index 1, no previous id, the new user.
    w.at(3);
    assert_eq!(
        h.track(),
        Some(entity_data(
            &id(3),
            &id(4),
            1,
            1,
            None,
            Some((&ev(3), 3_000))
        ))
    );
    // The store keeps the new user.
    h.close();
    let h = w.open(config());
    assert_eq!(h.user(), id(3));
    assert_eq!(w.calls().len(), 1);
}

#[test]
fn s7_reset_user_with_no_session_gives_a_new_user_and_index_1() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    h.track();
    h.end_session().unwrap();
    w.calls();
    h.reset_user().unwrap();
    assert_eq!(w.calls(), vec![]);
    assert_eq!(
        h.track(),
        Some(entity_data(&id(3), &id(4), 1, 1, None, Some((&ev(2), 0))))
    );
}

#[test]
fn s7_reset_user_in_anonymous_mode_hides_both_users() {
    let w = World::new();
    let h = w.open(Config {
        anonymous: true,
        ..config()
    });
    h.track();
    w.calls();
    h.reset_user().unwrap();
    assert_eq!(
        w.calls(),
        vec![ended(&id(2), 1, NIL_USER, Some(0), 0, 1, "user_changed")]
    );
    assert_eq!(h.user(), NIL_USER);
    assert_eq!(h.state().unwrap().user_id.to_string(), id(3));
}

fn ns(name: &str) -> Config {
    Config {
        namespace: name.into(),
        ..config()
    }
}

#[test]
fn s7_reset_user_ends_another_namespaces_session_at_its_next_open() {
    let w = World::new();
    let b = w.open(ns("b"));
    b.track();
    b.track();
    b.close();
    let a = w.open(ns("a"));
    a.track();
    w.calls();
    w.at(1);
    let new_user = a.reset_user().unwrap().to_string();
    assert_eq!(new_user, id(4));
    w.calls();
    w.at(2);
    let b = w.open(ns("b"));
    assert_eq!(
        w.calls(),
        vec![ended(&id(2), 1, &id(1), Some(0), 0, 2, "user_changed")]
    );
    assert_eq!(b.entity(), None);
    assert_eq!(b.user(), new_user);
    assert_eq!(
        b.track(),
        Some(entity_data(
            &new_user,
            &id(5),
            1,
            1,
            None,
            Some((&ev(4), 2_000))
        ))
    );
}

#[test]
fn s7_reset_user_ends_another_live_namespaces_session_at_its_next_event() {
    let w = World::new();
    let a = w.open(ns("a"));
    let b = w.open(ns("b"));
    a.track();
    b.track();
    w.calls();
    w.at(1);
    let new_user = a.reset_user().unwrap().to_string();
    assert_eq!(new_user, id(4));
    w.calls();
    w.at(2);
    assert_eq!(
        b.track(),
        Some(entity_data(
            &new_user,
            &id(5),
            1,
            1,
            None,
            Some((&ev(3), 2_000))
        ))
    );
    assert_eq!(
        w.calls(),
        vec![
            ended(&id(3), 1, &id(1), Some(0), 0, 1, "user_changed"),
            Call::Start(entity_data(
                &new_user,
                &id(5),
                1,
                1,
                None,
                Some((&ev(3), 2_000))
            ))
        ]
    );
    assert_eq!(b.user(), new_user);
    // a, which made the change, does not end anything again.
    assert_eq!(
        a.track(),
        Some(entity_data(
            &new_user,
            &id(6),
            1,
            1,
            None,
            Some((&ev(4), 2_000))
        ))
    );
}

// ----- manual mode ----------------------------------------------------------------------

fn manual() -> Config {
    Config {
        automatic: false,
        max_duration_seconds: 60,
        ..timeouts(10, 10)
    }
}

#[test]
fn s7_manual_an_event_outside_a_session_gets_no_entity() {
    let w = World::new();
    let h = w.open(manual());
    assert_eq!(h.track(), None);
    assert_eq!(h.entity(), None);
    assert_eq!(w.calls(), vec![]);
    assert_eq!(h.state().unwrap().session, None);
}

#[test]
fn s7_manual_a_transition_outside_a_session_flips_the_state_and_returns_its_event_alone() {
    let w = World::new();
    let h = w.open(manual());
    assert_eq!(h.background(), Moved::Changed(Background(0), None));
    assert!(h.in_background().unwrap());
    assert_eq!(h.background(), Moved::Unchanged);
    assert_eq!(h.foreground(), Moved::Changed(Foreground(0), None));
    assert!(!h.in_background().unwrap());
    assert_eq!(h.entity(), None);
    assert_eq!(w.calls(), vec![]);
}

#[test]
fn s7_manual_begin_session_starts_one_and_no_rule_of_s3_ends_it() {
    let w = World::new();
    let h = w.open(manual());
    h.new_session().unwrap();
    assert_eq!(
        w.calls(),
        vec![Call::Start(entity_data(&id(1), &id(2), 1, 0, None, None))]
    );
    // Past the timeout, past the max duration, the clock going back: same session.
    for (at, index) in [(100, 1), (1000, 2), (-5, 3)] {
        w.at(at);
        let e = h.track().unwrap();
        assert_eq!(e["sessionId"], id(2));
        assert_eq!(e["eventIndex"], index);
    }
    w.at(5000);
    assert_eq!(
        h.background(),
        Moved::Changed(
            Background(1),
            Some(entity_data(
                &id(1),
                &id(2),
                1,
                4,
                None,
                Some((&ev(1), 100_000))
            ))
        )
    );
    assert_eq!(w.calls(), vec![]);
}

#[test]
fn s7_manual_begin_session_during_a_session_ends_the_old_one_first() {
    let w = World::new();
    let h = w.open(manual());
    h.new_session().unwrap();
    h.track();
    w.at(1);
    h.new_session().unwrap();
    assert_eq!(
        w.calls()[1..],
        [
            ended(&id(2), 1, &id(1), Some(0), 0, 1, "new_session"),
            Call::Start(entity_data(&id(1), &id(3), 2, 0, Some(&id(2)), None))
        ]
    );
}

#[test]
fn s7_manual_end_session_ends_it_and_later_events_get_no_entity() {
    let w = World::new();
    let h = w.open(manual());
    h.new_session().unwrap();
    h.track();
    h.end_session().unwrap();
    assert_eq!(
        w.calls()[1..],
        [ended(&id(2), 1, &id(1), Some(0), 0, 1, "manual")]
    );
    assert_eq!(h.track(), None);
    assert_eq!(h.entity(), None);
    h.new_session().unwrap();
    assert_eq!(
        h.track(),
        Some(entity_data(
            &id(1),
            &id(3),
            2,
            1,
            Some(&id(2)),
            Some((&ev(3), 0))
        ))
    );
}

#[test]
fn s7_manual_an_anonymity_change_starts_a_session_only_in_place_of_a_running_one() {
    let w = World::new();
    let h = w.open(manual());
    h.set_anonymous(true).unwrap();
    assert_eq!(w.calls(), vec![]);
    assert_eq!(h.entity(), None);
    assert_eq!(h.user(), NIL_USER);
    h.new_session().unwrap();
    w.calls();
    h.set_anonymous(false).unwrap();
    assert_eq!(
        w.calls(),
        vec![
            ended(&id(2), 1, NIL_USER, None, 0, 0, "anonymity_changed"),
            Call::Start(entity_data(&id(1), &id(3), 2, 0, Some(&id(2)), None))
        ]
    );
}

#[test]
fn s7_manual_reset_user_ends_the_session_and_starts_none() {
    let w = World::new();
    let h = w.open(manual());
    h.new_session().unwrap();
    h.track();
    w.calls();
    h.reset_user().unwrap();
    assert_eq!(
        w.calls(),
        vec![ended(&id(2), 1, &id(1), Some(0), 0, 1, "user_changed")]
    );
    assert_eq!(h.track(), None);
    h.new_session().unwrap();
    assert_eq!(
        h.entity(),
        Some(entity_data(&id(3), &id(4), 1, 0, None, None))
    );
}

// ----- getters --------------------------------------------------------------------------

#[test]
fn s7_getters_before_any_session_say_no_session_but_know_user_and_app_state() {
    let w = World::new();
    let h = w.open(Config {
        start_in_background: true,
        ..config()
    });
    assert_eq!(h.entity(), None);
    assert_eq!(h.lifecycle_indexes().unwrap(), None);
    assert_eq!(h.user(), id(1));
    assert!(h.in_background().unwrap());
    assert!(!h.is_paused().unwrap());
    assert_eq!(h.last_fault().unwrap(), None);
}

#[test]
fn s7_getters_show_what_an_entity_would_show() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    h.background();
    w.at(1);
    h.foreground();
    h.background();
    let entity = h.tracker.entity().unwrap().unwrap();
    assert_eq!(entity.user_id.to_string(), id(1));
    assert_eq!(entity.session_id.to_string(), id(2));
    assert_eq!(entity.session_index, 1);
    assert_eq!(entity.event_index, 4);
    assert_eq!(entity.previous_session_id, None);
    assert_eq!(entity.first_event_id.map(|u| u.to_string()), Some(ev(1)));
    assert_eq!(entity.first_event_timestamp.map(|t| t.0), Some(T0));
    assert_eq!(
        h.entity(),
        Some(entity_data(&id(1), &id(2), 1, 4, None, Some((&ev(1), 0))))
    );
    assert!(h.in_background().unwrap());
    assert_eq!(h.lifecycle_indexes().unwrap(), Some((2, 1)));
    // Anonymous mode hides the user in the getters too.
    h.set_anonymous(true).unwrap();
    assert_eq!(h.user(), NIL_USER);
    assert_eq!(
        h.entity(),
        Some(entity_data(NIL_USER, &id(3), 2, 0, None, None))
    );
}

#[test]
fn s7_reset_user_racing_events_on_the_same_tracker_never_brings_back_an_old_user() {
    // The tracker reads the store's user before each operation (to see another
    // namespace's reset); its own reset, not yet written, must not be undone by that read.
    let w = World::new();
    let h = w.open(config());
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for _ in 0..200 {
                h.tracker.reset_user().unwrap();
            }
        });
        scope.spawn(|| {
            for n in 0..2000 {
                schema::entity(&h.tracker.track(Some(&ev(n + 1)), None).unwrap().unwrap());
            }
        });
    });
    let users: Vec<u128> = w
        .calls()
        .iter()
        .filter_map(|c| match c {
            Call::Start(e) => Some(e["userId"].as_str().unwrap().to_owned()),
            Call::End(_) => None,
        })
        .map(|u| uuid::Uuid::parse_str(&u).unwrap().as_u128())
        .collect();
    assert!(
        users.windows(2).all(|p| p[0] <= p[1]),
        "a session started under an older user"
    );
    assert_eq!(
        h.user(),
        w.store_user().expect("the store keeps the user"),
        "the tracker and its store agree"
    );
}
