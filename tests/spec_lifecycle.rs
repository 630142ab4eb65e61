//! Behaviour §4 (background and foreground), through the `Tracker`.

mod common;

use common::schema::Lifecycle::{Background, Foreground};
use common::*;
use sesh::Config;

#[test]
fn s4_seed_example_fg_360_bg_15() {
    let w = World::new();
    let h = w.open(timeouts(360, 15));
    // t=0 screen view → session 1.
    assert_eq!(
        h.track(),
        Some(entity_data(&id(1), &id(2), 1, 1, None, Some((&ev(1), 0))))
    );
    // t=3 s background (3 < 360) → session 1.
    w.at(3);
    assert_eq!(
        h.background(),
        Moved::Changed(
            Background(1),
            Some(entity_data(&id(1), &id(2), 1, 2, None, Some((&ev(1), 0))))
        )
    );
    // t=30 s foreground (27 s in background > 15) → session 2.
    w.at(30);
    assert_eq!(
        h.foreground(),
        Moved::Changed(
            Foreground(1),
            Some(entity_data(
                &id(1),
                &id(3),
                2,
                1,
                Some(&id(2)),
                Some((&ev(3), 30_000))
            ))
        )
    );
    assert_eq!(
        w.calls(),
        vec![
            Call::Start(entity_data(&id(1), &id(2), 1, 1, None, Some((&ev(1), 0)))),
            Call::End(
                End {
                    session: &id(2),
                    index: 1,
                    user: &id(1),
                    first: Some(0),
                    last: 3_000,
                    count: 2,
                    duration: 3_000,
                    reason: "timeout",
                }
                .json()
            ),
            Call::Start(entity_data(
                &id(1),
                &id(3),
                2,
                1,
                Some(&id(2)),
                Some((&ev(3), 30_000))
            )),
        ]
    );
    assert_eq!(h.lifecycle_indexes().unwrap(), Some((0, 1)));
    assert!(!h.in_background().unwrap());
}

#[test]
fn s4_a_call_that_does_not_change_the_state_does_nothing() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    h.track();
    w.calls();
    let before = h.state().unwrap();
    // Already in foreground, even long after the timeout: no event, no renewal.
    w.at(100);
    assert_eq!(h.foreground(), Moved::Unchanged);
    assert_eq!(h.state().unwrap(), before);
    assert_eq!(w.calls(), vec![]);
    // Background twice: the second call does nothing.
    w.at(101);
    assert!(matches!(
        h.background(),
        Moved::Changed(Background(1), Some(_))
    ));
    let before = h.state().unwrap();
    w.at(102);
    assert_eq!(h.background(), Moved::Unchanged);
    assert_eq!(h.state().unwrap(), before);
    assert_eq!(h.entity().unwrap()["eventIndex"], 1);
    assert_eq!(h.lifecycle_indexes().unwrap(), Some((1, 0)));
    // No activity: the session is still judged from t=101 (the unchanged calls used up
    // host event ids ev(2) and ev(4), but counted nothing).
    w.at(111);
    assert_eq!(
        h.foreground(),
        Moved::Changed(
            Foreground(1),
            Some(entity_data(
                &id(1),
                &id(3),
                2,
                2,
                Some(&id(2)),
                Some((&ev(3), 101_000))
            ))
        )
    );
}

#[test]
fn s4_transition_is_an_event_with_the_session_entity() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    w.at(1);
    assert_eq!(
        h.background(),
        Moved::Changed(
            Background(1),
            Some(entity_data(&id(1), &id(2), 1, 2, None, Some((&ev(1), 0))))
        )
    );
    assert_eq!(
        h.state().unwrap().session.unwrap().last_activity,
        T0 + 1_000
    );
    w.at(2);
    assert_eq!(
        h.foreground(),
        Moved::Changed(
            Foreground(1),
            Some(entity_data(&id(1), &id(2), 1, 3, None, Some((&ev(1), 0))))
        )
    );
}

#[test]
fn s4_background_event_is_checked_with_the_foreground_timeout() {
    let w = World::new();
    let h = w.open(timeouts(360, 15));
    h.track();
    // 100 s is more than the background timeout but not the foreground one it leaves.
    w.at(100);
    assert_eq!(
        h.background(),
        Moved::Changed(
            Background(1),
            Some(entity_data(&id(1), &id(2), 1, 2, None, Some((&ev(1), 0))))
        )
    );
    let w = World::new();
    let h = w.open(timeouts(360, 15));
    h.track();
    w.at_ms(360_001);
    assert_eq!(
        h.background(),
        Moved::Changed(
            Background(1),
            Some(entity_data(
                &id(1),
                &id(3),
                2,
                1,
                Some(&id(2)),
                Some((&ev(2), 360_001))
            ))
        )
    );
}

#[test]
fn s4_foreground_event_is_checked_with_the_background_timeout() {
    let w = World::new();
    let h = w.open(timeouts(360, 15));
    h.track();
    w.at(1);
    h.background();
    // 15 s in background is not more than 15.
    w.at(16);
    assert_eq!(
        h.foreground(),
        Moved::Changed(
            Foreground(1),
            Some(entity_data(&id(1), &id(2), 1, 3, None, Some((&ev(1), 0))))
        )
    );
    let w = World::new();
    let h = w.open(timeouts(360, 15));
    h.track();
    w.at(1);
    h.background();
    w.at_ms(16_001);
    assert_eq!(
        h.foreground(),
        Moved::Changed(
            Foreground(1),
            Some(entity_data(
                &id(1),
                &id(3),
                2,
                1,
                Some(&id(2)),
                Some((&ev(3), 16_001))
            ))
        )
    );
}

#[test]
fn s4_events_in_background_are_judged_by_the_background_timeout() {
    let w = World::new();
    let h = w.open(timeouts(360, 15));
    h.track();
    h.background();
    w.at(15);
    assert_eq!(h.track().unwrap()["sessionId"], id(2));
    w.at(31);
    assert_eq!(h.track().unwrap()["sessionId"], id(3));
}

#[test]
fn s4_indexes_count_transitions_in_the_current_session_and_start_again_at_0() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    h.track();
    let mut seen = vec![];
    for n in 1..=4 {
        w.at(n);
        for moved in [h.background(), h.foreground()] {
            let Moved::Changed(event, Some(entity)) = moved else {
                panic!("{moved:?}")
            };
            assert_eq!(entity["sessionId"], id(2));
            seen.push(event);
        }
    }
    assert_eq!(
        seen,
        vec![
            Background(1),
            Foreground(1),
            Background(2),
            Foreground(2),
            Background(3),
            Foreground(3),
            Background(4),
            Foreground(4)
        ]
    );
    assert_eq!(h.lifecycle_indexes().unwrap(), Some((4, 4)));
    // A session renewed by an event starts them at 0 ...
    w.at(100);
    assert_eq!(h.track().unwrap()["sessionId"], id(3));
    assert_eq!(h.lifecycle_indexes().unwrap(), Some((0, 0)));
    w.at(101);
    assert!(matches!(h.background(), Moved::Changed(Background(1), _)));
    // ... and so does one started by new_session.
    h.new_session().unwrap();
    assert_eq!(h.lifecycle_indexes().unwrap(), Some((0, 0)));
    assert!(matches!(h.foreground(), Moved::Changed(Foreground(1), _)));
}

#[test]
fn s4_a_transition_that_opens_a_session_carries_index_1() {
    let w = World::new();
    let h = w.open(config());
    // No session yet: the background event starts one.
    let expected = entity_data(&id(1), &id(2), 1, 1, None, Some((&ev(1), 0)));
    assert_eq!(
        h.background(),
        Moved::Changed(Background(1), Some(expected.clone()))
    );
    assert_eq!(w.calls(), vec![Call::Start(expected)]);
    assert_eq!(h.lifecycle_indexes().unwrap(), Some((1, 0)));
    // After an end, a foreground event opens the next one with foregroundIndex 1.
    h.end_session().unwrap();
    w.at(1);
    assert_eq!(
        h.foreground(),
        Moved::Changed(
            Foreground(1),
            Some(entity_data(
                &id(1),
                &id(3),
                2,
                1,
                Some(&id(2)),
                Some((&ev(2), 1_000))
            ))
        )
    );
    assert_eq!(h.lifecycle_indexes().unwrap(), Some((0, 1)));
}

#[test]
fn s4_after_open_the_app_is_in_foreground_by_default() {
    let w = World::new();
    let h = w.open(config());
    assert!(!h.in_background().unwrap());
    assert_eq!(h.foreground(), Moved::Unchanged);
    assert_eq!(h.entity(), None);
}

#[test]
fn s4_after_open_the_app_is_in_background_when_start_in_background_says_so() {
    let w = World::new();
    let h = w.open(Config {
        start_in_background: true,
        ..timeouts(360, 15)
    });
    assert!(h.in_background().unwrap());
    assert_eq!(h.background(), Moved::Unchanged); // uses up ev(1), counts nothing
    assert_eq!(h.entity(), None);
    h.track();
    // The background timeout is in force.
    w.at(16);
    assert_eq!(h.track().unwrap()["sessionId"], id(3));
    w.at(17);
    assert_eq!(
        h.foreground(),
        Moved::Changed(
            Foreground(1),
            Some(entity_data(
                &id(1),
                &id(3),
                2,
                2,
                Some(&id(2)),
                Some((&ev(3), 16_000))
            ))
        )
    );
}
