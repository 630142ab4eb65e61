//! Behaviour §2 (the session entity) and §3 (when a session starts), through the `Tracker`.

mod common;

use common::schema::{self, NIL_USER};
use common::*;
use serde_json::json;
use sesh::Config;
use sesh::error::Result;
use sesh::store::{MemoryStore, StorageMechanism, Store};
use std::collections::HashSet;

#[test]
fn schema_gate_rejects_what_the_schemas_forbid() {
    schema::self_test();
}

// ----- §2 the session entity ------------------------------------------------------------

#[test]
fn s2_first_event_gets_every_entity_field_with_index_1_and_null_previous() {
    let w = World::new();
    let h = w.open(config());
    assert_eq!(
        h.track(),
        Some(entity_data(&id(1), &id(2), 1, 1, None, Some((&ev(1), 0))))
    );
    w.at(5);
    assert_eq!(
        h.track(),
        Some(entity_data(&id(1), &id(2), 1, 2, None, Some((&ev(1), 0))))
    );
    // The getter shows what the next event's entity would carry before counting.
    assert_eq!(
        h.entity(),
        Some(entity_data(&id(1), &id(2), 1, 2, None, Some((&ev(1), 0))))
    );
    assert_eq!(h.user(), id(1));
}

#[test]
fn s2_event_index_goes_up_by_one_per_event_in_the_session() {
    let w = World::new();
    let h = w.open(config());
    for n in 1..=5 {
        w.at(n);
        assert_eq!(h.track().unwrap()["eventIndex"], n);
    }
}

#[test]
fn s2_user_id_is_created_once_per_store_and_shared_by_every_namespace() {
    let w = World::new();
    let a = w.open(Config {
        namespace: "a".into(),
        ..config()
    });
    let b = w.open(Config {
        namespace: "b".into(),
        ..config()
    });
    assert_eq!(a.user(), id(1));
    assert_eq!(b.user(), id(1));
    assert_eq!(
        a.track(),
        Some(entity_data(&id(1), &id(2), 1, 1, None, Some((&ev(1), 0))))
    );
    assert_eq!(
        b.track(),
        Some(entity_data(&id(1), &id(3), 1, 1, None, Some((&ev(2), 0))))
    );
    a.close();
    b.close();
    let c = w.open(Config {
        namespace: "c".into(),
        ..config()
    });
    assert_eq!(c.user(), id(1));
    assert_eq!(c.track().unwrap()["userId"], id(1));
}

#[test]
fn s2_user_id_survives_new_sessions() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    assert_eq!(h.track().unwrap()["userId"], id(1));
    h.new_session().unwrap();
    assert_eq!(h.track().unwrap()["userId"], id(1));
    h.end_session().unwrap();
    assert_eq!(h.track().unwrap()["userId"], id(1));
    w.at(100);
    assert_eq!(h.track().unwrap()["userId"], id(1));
    assert_eq!(h.user(), id(1));
}

#[test]
fn s2_session_ids_are_lower_case_v4_and_never_reused_across_sessions_and_restarts() {
    let w = World::new();
    let mut seen = HashSet::new();
    for run in 0..3 {
        let h = w.open(timeouts(10, 10));
        for step in 0..3 {
            w.at(run * 1000 + step * 100);
            let e = h.track().unwrap();
            // The schema gate checked lower-case v4; each renewal is a new id.
            assert!(seen.insert(e["sessionId"].as_str().unwrap().to_owned()));
        }
        h.close();
    }
    assert_eq!(seen.len(), 9);
}

#[test]
fn s2_session_index_counts_sessions_one_by_one() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    for n in 1..=4u64 {
        w.at(n as i64 * 100);
        assert_eq!(h.track().unwrap()["sessionIndex"], n);
    }
}

#[test]
fn s2_previous_session_id_is_the_session_before_and_null_for_the_first() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    assert_eq!(h.track().unwrap()["previousSessionId"], json!(null));
    w.at(100);
    assert_eq!(
        h.track(),
        Some(entity_data(
            &id(1),
            &id(3),
            2,
            1,
            Some(&id(2)),
            Some((&ev(2), 100_000))
        ))
    );
    w.at(200);
    assert_eq!(
        h.track(),
        Some(entity_data(
            &id(1),
            &id(4),
            3,
            1,
            Some(&id(3)),
            Some((&ev(3), 200_000))
        ))
    );
}

#[test]
fn s2_host_event_id_of_any_case_is_kept_lower_case() {
    let w = World::new();
    let h = w.open(config());
    let e = h
        .track_with(Some("0F8FAD5B-D9CB-469F-A165-70867728950E"), None)
        .unwrap();
    assert_eq!(e["firstEventId"], "0f8fad5b-d9cb-469f-a165-70867728950e");
}

#[test]
fn s2_event_without_id_gets_a_generated_lower_case_uuid_v4() {
    let w = World::new();
    let h = w.open(config());
    // The session's id is drawn first; an event's only when it becomes the first event
    // of its session (the one place its id is shown).
    assert_eq!(
        h.track_with(None, None),
        Some(entity_data(&id(1), &id(2), 1, 1, None, Some((&id(3), 0))))
    );
    assert_eq!(
        h.track_with(None, None),
        Some(entity_data(&id(1), &id(2), 1, 2, None, Some((&id(3), 0))))
    );
}

#[test]
fn s2_first_event_timestamp_is_the_events_own_timestamp_in_iso_utc_with_ms() {
    let w = World::new();
    let h = w.open(config());
    let e = h.track_with(Some(&ev(1)), Some(1_234_567_891_012)).unwrap();
    assert_eq!(e["firstEventTimestamp"], "2009-02-13T23:31:31.012Z");
    // An event without a timestamp is stamped "now".
    let w = World::new();
    w.at_ms(1_012);
    let h = w.open(config());
    let e = h.track().unwrap();
    assert_eq!(e["firstEventTimestamp"], "2009-02-13T23:31:31.012Z");
    // Later events leave the first-event fields alone.
    w.at(2);
    let later = h.track_with(Some(&ev(9)), Some(T0)).unwrap();
    assert_eq!(later["firstEventId"], ev(1));
    assert_eq!(later["firstEventTimestamp"], "2009-02-13T23:31:31.012Z");
}

/// A host store that declares its own storage mechanism.
struct Declared(MemoryStore, StorageMechanism);

impl Store for Declared {
    fn storage_mechanism(&self) -> StorageMechanism {
        self.1
    }
    fn load_user(&mut self) -> Result<Option<String>> {
        self.0.load_user()
    }
    fn save_user(&mut self, user_id: &str) -> Result<()> {
        self.0.save_user(user_id)
    }
    fn load_state(&mut self, namespace: &str) -> Result<Option<String>> {
        self.0.load_state(namespace)
    }
    fn save_state(&mut self, namespace: &str, state: &str) -> Result<()> {
        self.0.save_state(namespace, state)
    }
}

#[test]
fn s2_storage_mechanism_is_local_storage_for_memory_and_what_a_custom_store_declares() {
    let w = World::new();
    let h = w.open(config());
    assert_eq!(h.track().unwrap()["storageMechanism"], "LOCAL_STORAGE");
    for (declared, name) in [
        (StorageMechanism::Sqlite, "SQLITE"),
        (StorageMechanism::Cookie1, "COOKIE_1"),
        (StorageMechanism::Cookie3, "COOKIE_3"),
        (StorageMechanism::LocalStorage, "LOCAL_STORAGE"),
        (StorageMechanism::FlashLso, "FLASH_LSO"),
    ] {
        let w = World::new();
        let h = w.open_on(config(), Box::new(Declared(MemoryStore::new(), declared)));
        assert_eq!(h.track().unwrap()["storageMechanism"], name);
        h.new_session().unwrap();
        let started = w.calls();
        assert_eq!(started.len(), 3, "{started:?}");
        let Call::Start(entity) = &started[2] else {
            panic!("{started:?}")
        };
        assert_eq!(entity["storageMechanism"], name);
        assert_eq!(h.entity().unwrap()["storageMechanism"], name);
    }
}

#[test]
fn s2_anonymous_mode_shows_nil_user_and_null_previous_everywhere_but_stores_real_values() {
    let w = World::new();
    let h = w.open(Config {
        anonymous: true,
        ..timeouts(10, 10)
    });
    assert_eq!(h.user(), NIL_USER);
    assert_eq!(
        h.track(),
        Some(entity_data(NIL_USER, &id(2), 1, 1, None, Some((&ev(1), 0))))
    );
    w.at(100);
    // Renewed: the entity hides the previous id the state keeps.
    assert_eq!(
        h.track(),
        Some(entity_data(
            NIL_USER,
            &id(3),
            2,
            1,
            None,
            Some((&ev(2), 100_000))
        ))
    );
    assert_eq!(
        h.entity(),
        Some(entity_data(
            NIL_USER,
            &id(3),
            2,
            1,
            None,
            Some((&ev(2), 100_000))
        ))
    );
    assert_eq!(
        w.calls(),
        vec![
            Call::Start(entity_data(NIL_USER, &id(2), 1, 1, None, Some((&ev(1), 0)))),
            Call::End(
                End {
                    session: &id(2),
                    index: 1,
                    user: NIL_USER,
                    first: Some(0),
                    last: 0,
                    count: 1,
                    duration: 0,
                    reason: "timeout",
                }
                .json()
            ),
            Call::Start(entity_data(
                NIL_USER,
                &id(3),
                2,
                1,
                None,
                Some((&ev(2), 100_000))
            )),
        ]
    );
    let state = h.state().unwrap();
    assert_eq!(state.user_id.to_string(), id(1));
    assert_eq!(
        state.session.unwrap().previous_id.map(|u| u.to_string()),
        Some(id(2))
    );
    h.close();
    let raw = w.store.raw_state("default").unwrap();
    assert!(raw.contains(&id(1)), "{raw}");
    assert!(
        raw.contains(&format!("\"previousId\":\"{}\"", id(2))),
        "{raw}"
    );
}

// ----- §3 when a session starts --------------------------------------------------------

#[test]
fn s3_rule1_first_event_ever_starts_a_session() {
    let w = World::new();
    let h = w.open(config());
    assert_eq!(h.entity(), None);
    assert_eq!(
        h.track(),
        Some(entity_data(&id(1), &id(2), 1, 1, None, Some((&ev(1), 0))))
    );
    assert_eq!(
        w.calls(),
        vec![Call::Start(entity_data(
            &id(1),
            &id(2),
            1,
            1,
            None,
            Some((&ev(1), 0))
        ))]
    );
}

#[test]
fn s3_rule1_event_after_an_end_starts_a_new_session() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    w.at(1);
    h.end_session().unwrap();
    w.at(2);
    assert_eq!(
        h.track(),
        Some(entity_data(
            &id(1),
            &id(3),
            2,
            1,
            Some(&id(2)),
            Some((&ev(2), 2000))
        ))
    );
}

#[test]
fn s3_rule2_gap_equal_to_the_timeout_keeps_the_session() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    h.track();
    w.at(10);
    assert_eq!(
        h.track(),
        Some(entity_data(&id(1), &id(2), 1, 2, None, Some((&ev(1), 0))))
    );
    assert_eq!(w.calls().len(), 1);
}

#[test]
fn s3_rule2_gap_over_the_timeout_renews_with_reason_timeout() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    h.track();
    w.at_ms(10_001);
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
                    last: 0,
                    count: 1,
                    duration: 0,
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
                Some((&ev(2), 10_001))
            )),
        ]
    );
}

#[test]
fn s3_rule2_each_event_moves_last_activity_so_a_busy_session_outlives_the_timeout() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    for n in 0..6 {
        w.at(n * 9);
        assert_eq!(h.track().unwrap()["sessionId"], id(2));
    }
    assert_eq!(h.entity().unwrap()["eventIndex"], 6);
    assert_eq!(
        h.state().unwrap().session.unwrap().last_activity,
        T0 + 45_000
    );
}

#[test]
fn s3_rule3_clock_going_back_renews_with_reason_clock_changed() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    w.at(5);
    h.track();
    w.at_ms(4_999);
    assert_eq!(
        h.track(),
        Some(entity_data(
            &id(1),
            &id(3),
            2,
            1,
            Some(&id(2)),
            Some((&ev(3), 4_999))
        ))
    );
    assert_eq!(
        w.calls()[1..],
        [
            Call::End(
                End {
                    session: &id(2),
                    index: 1,
                    user: &id(1),
                    first: Some(0),
                    last: 5_000,
                    count: 2,
                    duration: 5_000,
                    reason: "clock_changed",
                }
                .json()
            ),
            Call::Start(entity_data(
                &id(1),
                &id(3),
                2,
                1,
                Some(&id(2)),
                Some((&ev(3), 4_999))
            )),
        ]
    );
}

#[test]
fn s3_rule3_applies_to_the_engine_clock_not_to_the_events_own_timestamp() {
    let w = World::new();
    let h = w.open(config());
    h.track();
    w.at(5);
    // The host stamps the event an hour in the past: the clock did not go back.
    let e = h.track_with(Some(&ev(2)), Some(T0 - 3_600_000)).unwrap();
    assert_eq!(e["sessionId"], id(2));
    assert_eq!(e["eventIndex"], 2);
}

#[test]
fn s3_rule4_max_duration_renews_with_reason_max_duration() {
    let w = World::new();
    let h = w.open(Config {
        max_duration_seconds: 60,
        ..timeouts(30, 30)
    });
    for at in [0, 20, 40, 60] {
        w.at(at);
        // 60 − 0 is not more than 60.
        assert_eq!(h.track().unwrap()["sessionId"], id(2), "at {at}");
    }
    w.at_ms(60_001);
    assert_eq!(
        h.track(),
        Some(entity_data(
            &id(1),
            &id(3),
            2,
            1,
            Some(&id(2)),
            Some((&ev(5), 60_001))
        ))
    );
    assert_eq!(
        w.calls()[1],
        Call::End(
            End {
                session: &id(2),
                index: 1,
                user: &id(1),
                first: Some(0),
                last: 60_000,
                count: 4,
                duration: 60_000,
                reason: "max_duration",
            }
            .json()
        )
    );
}

#[test]
fn s3_rule4_max_duration_counts_from_the_session_start_made_by_new_session() {
    let w = World::new();
    let h = w.open(Config {
        max_duration_seconds: 60,
        ..timeouts(30, 30)
    });
    w.at(10);
    h.new_session().unwrap();
    w.at(40);
    assert_eq!(h.track().unwrap()["sessionId"], id(2));
    w.at(70);
    assert_eq!(h.track().unwrap()["sessionId"], id(2));
    w.at_ms(70_001);
    let e = h.track().unwrap();
    assert_eq!(e["sessionId"], id(3));
    let calls = w.calls();
    let Call::End(summary) = &calls[1] else {
        panic!("{calls:?}")
    };
    assert_eq!(summary["reason"], "max_duration");
}

#[test]
fn s3_renewal_sets_previous_id_new_id_index_plus_one_event_index_1_and_first_event_fields() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    h.track();
    w.at(1);
    h.track();
    h.background();
    w.at(100);
    let e = h.track_with(Some(&ev(50)), Some(T0 + 99_000)).unwrap();
    assert_eq!(
        e,
        entity_data(&id(1), &id(3), 2, 1, Some(&id(2)), Some((&ev(50), 99_000)))
    );
    // The lifecycle indexes start again at 0 in the new session.
    assert_eq!(h.lifecycle_indexes().unwrap(), Some((0, 0)));
}

#[test]
fn s3_a_long_idle_gap_renews_once() {
    let w = World::new();
    let h = w.open(timeouts(10, 10));
    h.track();
    w.calls();
    w.at(10 * 3600);
    assert_eq!(h.track().unwrap()["sessionIndex"], 2);
    let calls = w.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(matches!(&calls[0], Call::End(s) if s["reason"] == "timeout"));
    assert!(matches!(&calls[1], Call::Start(e) if e["sessionIndex"] == 2));
}
