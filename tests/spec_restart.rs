//! Behaviour §5 (restarts, persistence and crashes) and the open-time half of §6, on the
//! memory store: closing a tracker and opening another on a clone of its store is a
//! restart; forgetting a tracker without closing it is a kill.

mod common;

use common::schema::Lifecycle::{Background, Foreground};
use common::schema::NIL_USER;
use common::*;
use serde_json::{Value, json};
use sesh::Config;
use sesh::error::ErrorKind;
use sesh::sync::private::EVENT_INDEX_BLOCK;
use sesh::tracker::LogLevel;

fn end_at_open(session: &str, index: u64, user: &str, last: i64, count: u64, reason: &str) -> Call {
    Call::End(
        End {
            session,
            index,
            user,
            first: Some(0),
            last,
            count,
            duration: last,
            reason,
        }
        .json(),
    )
}

/// Run 1: events at t=0 and t=1 s, then the tracker is closed.
fn first_run(w: &World, config: Config) {
    let h = w.open(config);
    h.track();
    w.at(1);
    h.track();
    h.close();
    w.calls();
}

#[test]
fn s5_a_restart_within_the_timeout_continues_the_session() {
    let w = World::new();
    first_run(&w, config());
    w.at(61);
    let h = w.open(config());
    assert_eq!(w.calls(), vec![]);
    // Continued: the getters show it before any event of this run.
    assert_eq!(
        h.entity(),
        Some(entity_data(&id(1), &id(2), 1, 2, None, Some((&ev(1), 0))))
    );
    assert_eq!(
        h.track(),
        Some(entity_data(&id(1), &id(2), 1, 3, None, Some((&ev(1), 0))))
    );
    assert_eq!(w.calls(), vec![]);
}

#[test]
fn s5_a_kill_loses_nothing_that_was_tracked_and_the_session_continues() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    w.at(1);
    h.track();
    h.kill();
    w.calls();
    w.at(2);
    let h = w.open(config());
    assert_eq!(
        h.state().unwrap().session.unwrap().last_activity,
        T0 + 1_000
    );
    // The store reserves event indexes ahead of a kill: the session goes on past every
    // index handed out (2), never repeating one.
    let after_kill = h.track().unwrap();
    let resumed_at = after_kill["eventIndex"].as_u64().unwrap();
    assert!(resumed_at > 2 && resumed_at <= 2 + 1 + EVENT_INDEX_BLOCK as u64);
    assert_eq!(
        after_kill,
        entity_data(&id(1), &id(2), 1, resumed_at, None, Some((&ev(1), 0)))
    );
    h.kill();
    // A second kill: sessionIndex never repeats, eventIndex never repeats in the session.
    w.at(3);
    let h = w.open(config());
    let again = h.track().unwrap()["eventIndex"].as_u64().unwrap();
    assert!(again > resumed_at);
    h.end_session().unwrap();
    h.kill();
    let h = w.open(config());
    assert_eq!(
        h.track(),
        Some(entity_data(
            &id(1),
            &id(3),
            2,
            1,
            Some(&id(2)),
            Some((&ev(5), 3_000))
        ))
    );
}

#[test]
fn s5_a_continued_session_keeps_its_event_and_lifecycle_indexes() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    h.background();
    h.foreground();
    h.background();
    assert_eq!(h.lifecycle_indexes().unwrap(), Some((2, 1)));
    h.close();
    w.at(10);
    let h = w.open(Config {
        start_in_background: true,
        ..config()
    });
    assert_eq!(h.lifecycle_indexes().unwrap(), Some((2, 1)));
    assert_eq!(
        h.foreground(),
        Moved::Changed(
            Foreground(2),
            Some(entity_data(&id(1), &id(2), 1, 5, None, Some((&ev(1), 0))))
        )
    );
}

#[test]
fn s5_after_a_restart_the_app_is_in_the_state_start_in_background_says() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    h.background();
    h.close();
    w.at(10);
    // Last seen in background; opened in foreground (the default).
    let h = w.open(config());
    assert!(!h.in_background().unwrap());
    assert_eq!(h.foreground(), Moved::Unchanged);
    assert_eq!(
        h.background(),
        Moved::Changed(
            Background(2),
            Some(entity_data(&id(1), &id(2), 1, 3, None, Some((&ev(1), 0))))
        )
    );
}

#[test]
fn s5_user_id_is_kept_and_session_index_continues_across_restarts() {
    let w = World::new();
    let mut indexes = vec![];
    for run in 0..4 {
        w.at(run * 10_000);
        let h = w.open(timeouts(60, 60));
        let e = h.track().unwrap();
        assert_eq!(e["userId"], id(1));
        assert_eq!(h.user(), id(1));
        indexes.push(e["sessionIndex"].as_u64().unwrap());
        h.close();
    }
    assert_eq!(indexes, vec![1, 2, 3, 4]);
}

#[test]
fn s5_continue_on_restart_off_ends_the_session_at_open_with_restart() {
    let w = World::new();
    first_run(&w, config());
    w.at(5);
    let off = Config {
        continue_on_restart: false,
        ..config()
    };
    let h = w.open(off.clone());
    assert_eq!(
        w.calls(),
        vec![end_at_open(&id(2), 1, &id(1), 1_000, 2, "restart")]
    );
    assert_eq!(h.entity(), None);
    assert_eq!(h.lifecycle_indexes().unwrap(), None);
    // The first event starts a new one, whose previous id is the persisted one.
    let started = entity_data(&id(1), &id(3), 2, 1, Some(&id(2)), Some((&ev(3), 5_000)));
    assert_eq!(h.track(), Some(started.clone()));
    assert_eq!(w.calls(), vec![Call::Start(started)]);
    // With no session persisted, off ends nothing.
    h.end_session().unwrap();
    h.close();
    w.calls();
    let h = w.open(off);
    assert_eq!(w.calls(), vec![]);
    assert_eq!(h.track().unwrap()["sessionIndex"], 3);
}

#[test]
fn s5_timed_out_while_closed_ends_at_open_with_timeout() {
    let w = World::new();
    first_run(&w, timeouts(30, 30));
    // 30 s after the last activity (t=1): not timed out.
    w.at(31);
    let h = w.open(timeouts(30, 30));
    assert_eq!(w.calls(), vec![]);
    assert_eq!(h.entity().unwrap()["sessionId"], id(2));
    h.close();
    w.at_ms(31_001);
    let h = w.open(timeouts(30, 30));
    assert_eq!(
        w.calls(),
        vec![end_at_open(&id(2), 1, &id(1), 1_000, 2, "timeout")]
    );
    assert_eq!(h.entity(), None);
    assert_eq!(
        h.track(),
        Some(entity_data(
            &id(1),
            &id(3),
            2,
            1,
            Some(&id(2)),
            Some((&ev(3), 31_001))
        ))
    );
}

/// Run 1 in foreground or background, killed at t=1 s; run 2 opens at `reopen_ms`.
fn killed_then_reopened(in_background: bool, reopen_ms: i64) -> Vec<Call> {
    let w = World::new();
    let h = w.open(timeouts(1800, 15));
    h.track();
    w.at(1);
    if in_background {
        h.background();
    } else {
        h.track();
    }
    h.kill();
    w.calls();
    w.at_ms(reopen_ms);
    let _h = w.open(timeouts(1800, 15));
    w.calls()
}

#[test]
fn s5_an_app_killed_in_background_is_judged_by_the_background_timeout() {
    assert_eq!(killed_then_reopened(true, 16_000), vec![]);
    assert_eq!(
        killed_then_reopened(true, 16_001),
        vec![end_at_open(&id(2), 1, &id(1), 1_000, 2, "timeout")]
    );
    // Killed in foreground: the foreground timeout (1800 s) is the one in force. The
    // store held reserved event indexes there, so the count is at least the real one.
    assert_eq!(killed_then_reopened(false, 16_001), vec![]);
    let ended = killed_then_reopened(false, 1_801_001);
    let [Call::End(summary)] = ended.as_slice() else {
        panic!("one end at open: {ended:?}");
    };
    let count = summary["eventCount"].as_u64().unwrap();
    assert!((2..=2 + EVENT_INDEX_BLOCK as u64).contains(&count));
    assert_eq!(
        ended,
        vec![end_at_open(&id(2), 1, &id(1), 1_000, count, "timeout")]
    );
}

#[test]
fn s5_clock_gone_back_across_a_restart_ends_at_open_with_clock_changed() {
    let w = World::new();
    first_run(&w, config());
    w.at_ms(999);
    let h = w.open(config());
    assert_eq!(
        w.calls(),
        vec![end_at_open(&id(2), 1, &id(1), 1_000, 2, "clock_changed")]
    );
    assert_eq!(h.entity(), None);
    assert_eq!(h.track().unwrap()["previousSessionId"], id(2));
}

#[test]
fn s5_max_duration_passed_while_closed_ends_at_open_with_max_duration() {
    let w = World::new();
    let max = Config {
        max_duration_seconds: 60,
        ..config()
    };
    first_run(&w, max.clone());
    w.at(60);
    let h = w.open(max.clone());
    assert_eq!(w.calls(), vec![]);
    h.close();
    w.at_ms(60_001);
    let h = w.open(max);
    assert_eq!(
        w.calls(),
        vec![end_at_open(&id(2), 1, &id(1), 1_000, 2, "max_duration")]
    );
    assert_eq!(h.entity(), None);
}

#[test]
fn s5_anonymity_changed_at_open_ends_the_session_with_anonymity_changed() {
    let w = World::new();
    first_run(&w, config());
    let anonymous = Config {
        anonymous: true,
        ..config()
    };
    w.at(2);
    let h = w.open(anonymous.clone());
    // The summary shows the user as the session's entities did; no session starts.
    assert_eq!(
        w.calls(),
        vec![end_at_open(
            &id(2),
            1,
            &id(1),
            1_000,
            2,
            "anonymity_changed"
        )]
    );
    assert_eq!(h.entity(), None);
    assert_eq!(h.user(), NIL_USER);
    assert_eq!(
        h.track(),
        Some(entity_data(
            NIL_USER,
            &id(3),
            2,
            1,
            None,
            Some((&ev(3), 2_000))
        ))
    );
    h.close();
    w.calls();
    // And back: the anonymous session ends, shown as it was (nil user).
    w.at(3);
    let h = w.open(config());
    assert_eq!(
        w.calls(),
        vec![Call::End(
            End {
                session: &id(3),
                index: 2,
                user: NIL_USER,
                first: Some(2_000),
                last: 2_000,
                count: 1,
                duration: 0,
                reason: "anonymity_changed",
            }
            .json()
        )]
    );
    assert_eq!(h.entity(), None);
    assert_eq!(h.user(), id(1));
    // The real previous id was kept (behaviour §2: the stored state keeps the real values).
    assert_eq!(
        h.track(),
        Some(entity_data(
            &id(1),
            &id(4),
            3,
            1,
            Some(&id(3)),
            Some((&ev(4), 3_000))
        ))
    );
}

#[test]
fn s5_the_same_anonymous_setting_at_open_continues() {
    let w = World::new();
    let anonymous = Config {
        anonymous: true,
        ..config()
    };
    first_run(&w, anonymous.clone());
    let h = w.open(anonymous);
    assert_eq!(w.calls(), vec![]);
    assert_eq!(
        h.entity(),
        Some(entity_data(NIL_USER, &id(2), 1, 2, None, Some((&ev(1), 0))))
    );
}

#[test]
fn s5_getters_say_no_session_after_a_session_ended_at_open() {
    let w = World::new();
    first_run(&w, config());
    let h = w.open(Config {
        continue_on_restart: false,
        start_in_background: true,
        ..config()
    });
    assert_eq!(h.entity(), None);
    assert_eq!(h.lifecycle_indexes().unwrap(), None);
    // User id and in-background are always known.
    assert_eq!(h.user(), id(1));
    assert!(h.in_background().unwrap());
    assert_eq!(h.last_fault().unwrap(), None);
}

#[test]
fn s5_getters_say_no_session_before_any_session_in_this_run_not_a_stale_id() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    h.end_session().unwrap();
    h.close();
    let h = w.open(config());
    assert_eq!(h.entity(), None);
    assert_eq!(h.lifecycle_indexes().unwrap(), None);
    assert_eq!(h.user(), id(1));
    assert!(!h.in_background().unwrap());
}

// ----- bad persisted state --------------------------------------------------------------

/// The state run 1 left: a session with two events.
fn persisted_state() -> Value {
    let w = World::new();
    first_run(&w, config());
    serde_json::from_str(&w.store.raw_state("default").unwrap()).unwrap()
}

fn edited(edit: impl FnOnce(&mut Value)) -> String {
    let mut state = persisted_state();
    edit(&mut state);
    state.to_string()
}

/// Opens on `raw` persisted under a valid user id(1) and checks that open starts clean.
fn assert_opens_clean_keeping_the_user(case: &str, raw: &str) {
    let w = World::new();
    first_run(&w, config());
    w.store.put_raw_state("default", raw);
    w.hooks.take_logs();
    w.at(2);
    let h = w.open(config());
    assert_eq!(w.calls(), vec![], "{case}: nothing to end, it starts clean");
    let fault = h.last_fault().unwrap().expect(case);
    assert_eq!(fault.kind, ErrorKind::CorruptState, "{case}");
    let logs = w.hooks.take_logs();
    assert!(
        logs.iter().any(|(level, _)| *level == LogLevel::Error),
        "{case}: the fault goes to the log callback: {logs:?}"
    );
    assert_eq!(h.entity(), None, "{case}");
    assert_eq!(h.user(), id(1), "{case}: the valid user id is kept");
    // Starts clean: index 1, no previous id; no id reused.
    assert_eq!(
        h.track(),
        Some(entity_data(
            &id(1),
            &id(3),
            1,
            1,
            None,
            Some((&ev(3), 2_000))
        )),
        "{case}"
    );
    // The clean state replaced the bad one.
    h.close();
    let h = w.open(config());
    assert_eq!(h.last_fault().unwrap(), None, "{case}");
    assert_eq!(h.entity().unwrap()["sessionId"], id(3), "{case}");
}

#[test]
fn s5_persisted_state_that_is_not_json_opens_clean_with_corrupt_state() {
    for (case, raw) in [
        ("empty", ""),
        ("text", "not json"),
        ("truncated", r#"{"version":1,"userId":"#),
        ("array", "[]"),
        ("number", "42"),
        ("null", "null"),
        ("bytes", "\u{0}\u{1}\u{fffd}"),
    ] {
        assert_opens_clean_keeping_the_user(case, raw);
    }
}

#[test]
fn s5_persisted_state_with_wrong_types_opens_clean_with_corrupt_state() {
    let cases: Vec<(&str, &str, Value)> = vec![
        ("sessionIndex as a string", "/sessionIndex", json!("1")),
        ("sessionIndex negative", "/sessionIndex", json!(-1)),
        ("sessionIndex fractional", "/sessionIndex", json!(1.5)),
        ("inBackground as a number", "/inBackground", json!(0)),
        ("anonymous as a string", "/anonymous", json!("false")),
        ("session as a string", "/session", json!("session")),
        ("eventIndex as a string", "/session/eventIndex", json!("2")),
        (
            "lastActivity as a string",
            "/session/lastActivity",
            json!("now"),
        ),
        ("lastActivity negative", "/session/lastActivity", json!(-1)),
        ("firstEvent as a list", "/session/firstEvent", json!([])),
        ("userId as a number", "/userId", json!(7)),
    ];
    for (case, pointer, value) in cases {
        let raw = edited(|s| *s.pointer_mut(pointer).unwrap() = value);
        assert_opens_clean_keeping_the_user(case, &raw);
    }
}

#[test]
fn s5_persisted_state_with_missing_fields_opens_clean_with_corrupt_state() {
    for (parent, key) in [
        ("", "version"),
        ("", "userId"),
        ("", "sessionIndex"),
        ("", "lastSessionId"),
        ("", "inBackground"),
        ("", "anonymous"),
        ("", "session"),
        ("/session", "id"),
        ("/session", "previousId"),
        ("/session", "eventIndex"),
        ("/session", "firstEvent"),
        ("/session", "startedAt"),
        ("/session", "lastActivity"),
        ("/session", "backgroundIndex"),
        ("/session", "foregroundIndex"),
        ("/session/firstEvent", "id"),
        ("/session/firstEvent", "timestamp"),
    ] {
        let raw = edited(|s| {
            s.pointer_mut(parent)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove(key)
                .unwrap();
        });
        assert_opens_clean_keeping_the_user(&format!("missing {parent}/{key}"), &raw);
    }
}

#[test]
fn s5_persisted_state_with_ids_that_are_not_uuids_opens_clean_with_corrupt_state() {
    for pointer in [
        "/userId",
        "/lastSessionId",
        "/session/id",
        "/session/firstEvent/id",
    ] {
        for bad in [
            "not-a-uuid",
            "00000000000040008000000000000002",
            "{00000000-0000-4000-8000-000000000002}",
            "00000000-0000-4000-8000-00000000000g",
            "",
        ] {
            let raw = edited(|s| *s.pointer_mut(pointer).unwrap() = json!(bad));
            assert_opens_clean_keeping_the_user(&format!("{pointer} = {bad:?}"), &raw);
        }
    }
}

#[test]
fn s5_an_unreadable_user_id_means_a_new_user_and_a_clean_namespace() {
    let w = World::new();
    first_run(&w, config());
    w.store.put_raw_user("not-a-uuid");
    w.at(2);
    let h = w.open(config());
    // The readable session state is not continued, nor ended: it starts clean.
    assert_eq!(w.calls(), vec![]);
    assert_eq!(
        h.last_fault().unwrap().map(|f| f.kind),
        Some(ErrorKind::CorruptState)
    );
    assert_eq!(h.user(), id(3));
    assert_eq!(h.entity(), None);
    assert_eq!(
        h.track(),
        Some(entity_data(
            &id(3),
            &id(4),
            1,
            1,
            None,
            Some((&ev(3), 2_000))
        ))
    );
    h.close();
    let h = w.open(config());
    assert_eq!(h.user(), id(3));
    assert_eq!(h.last_fault().unwrap(), None);
}

#[test]
fn s5_an_unreadable_user_id_starts_every_namespace_clean_under_the_new_user() {
    let w = World::new();
    let a = Config {
        namespace: "a".into(),
        ..config()
    };
    let b = Config {
        namespace: "b".into(),
        ..config()
    };
    first_run(&w, a.clone());
    w.at(0);
    first_run(&w, b.clone());
    w.store.put_raw_user("00000000-0000-4000-8000-00000000000z");
    w.at(2);
    let ha = w.open(a);
    assert_eq!(w.calls(), vec![]);
    assert_eq!(ha.user(), id(4));
    // Namespace b's session belongs to the old user: it ends at open (user_changed) and
    // b's first session under the new user has index 1 and no previous id.
    let hb = w.open(b);
    assert_eq!(
        w.calls(),
        vec![end_at_open(&id(3), 1, &id(1), 1_000, 2, "user_changed")]
    );
    assert_eq!(hb.entity(), None);
    assert_eq!(
        hb.track(),
        Some(entity_data(
            &id(4),
            &id(5),
            1,
            1,
            None,
            Some((&ev(5), 2_000))
        ))
    );
}

// ----- manual mode at open --------------------------------------------------------------

fn manual() -> Config {
    Config {
        automatic: false,
        max_duration_seconds: 60,
        ..timeouts(30, 30)
    }
}

#[test]
fn s5_manual_mode_rules_2_to_4_do_not_apply_at_open() {
    let w = World::new();
    let h = w.open(manual());
    h.new_session().unwrap();
    h.track();
    h.close();
    w.calls();
    // A day later: neither the timeout nor the max duration ends it.
    w.at(86_400);
    let h = w.open(manual());
    assert_eq!(w.calls(), vec![]);
    assert_eq!(h.entity().unwrap()["sessionId"], id(2));
    h.close();
    // Nor does the clock going back.
    w.at(-86_400);
    let h = w.open(manual());
    assert_eq!(w.calls(), vec![]);
    assert_eq!(
        h.track(),
        Some(entity_data(&id(1), &id(2), 1, 2, None, Some((&ev(1), 0))))
    );
}

#[test]
fn s5_manual_mode_continue_on_restart_off_still_ends_with_restart() {
    let w = World::new();
    let h = w.open(manual());
    h.new_session().unwrap();
    w.at(1);
    h.track();
    h.close();
    w.calls();
    let h = w.open(Config {
        continue_on_restart: false,
        ..manual()
    });
    assert_eq!(
        w.calls(),
        vec![Call::End(
            End {
                session: &id(2),
                index: 1,
                user: &id(1),
                first: Some(1_000),
                last: 1_000,
                count: 1,
                duration: 0,
                reason: "restart",
            }
            .json()
        )]
    );
    assert_eq!(h.entity(), None);
    assert_eq!(h.track(), None);
}

#[test]
fn s5_pause_is_not_persisted_a_restart_runs_unpaused() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    h.track();
    h.pause().unwrap();
    w.at(5);
    h.track();
    h.close();
    w.calls();
    // lastActivity stayed frozen at t=0: 11 s later the session has timed out.
    w.at(11);
    let h = w.open(timeouts(10, 10));
    assert!(!h.is_paused().unwrap());
    assert_eq!(
        w.calls(),
        vec![end_at_open(&id(2), 1, &id(1), 0, 2, "timeout")]
    );
}
