//! The behaviour document's §9 (one store, several handles) and §5's exact kill rule, through
//! the tracker, on an SQLite store with an injected clock. Each handle has its own
//! recorder, so that a test can say which handle reported a start or an end.
//! Several processes are covered by `tests/crash_shared.rs` and the `procs-*` scenarios.

mod common;

use common::{Call, Recorder, T0, schema, timeouts};
use serde_json::Value;
use sesh::clock::ManualClock;
use sesh::engine::{Config, Transition};
use sesh::error::ErrorKind;
use sesh::id::RandomIds;
use sesh::store::SqliteStore;
use sesh::tracker::{Parts, Tracker};
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Place {
    dir: PathBuf,
    clock: Arc<ManualClock>,
}

impl Place {
    fn new(name: &str) -> Place {
        let dir = std::env::temp_dir().join(format!("sesh-shared-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Place {
            dir,
            clock: Arc::new(ManualClock::new(T0)),
        }
    }

    fn db(&self) -> PathBuf {
        self.dir.join("store.db")
    }

    fn coordination(&self) -> PathBuf {
        self.dir.join("store.db-sesh")
    }

    fn at(&self, seconds: i64) {
        self.clock.set(T0 + seconds * 1000);
    }

    fn try_open(&self, config: Config) -> sesh::error::Result<H> {
        let hooks = Recorder::default();
        let tracker = Tracker::open(Parts {
            config,
            clock: Box::new(Arc::clone(&self.clock)),
            ids: Box::new(RandomIds),
            store: Box::new(SqliteStore::open(&self.db())?),
            hooks: Box::new(hooks.clone()),
        })?;
        Ok(H { tracker, hooks })
    }

    fn open(&self, config: Config) -> H {
        self.try_open(config)
            .unwrap_or_else(|e| panic!("open: {e}"))
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct H {
    tracker: Tracker,
    hooks: Recorder,
}

impl H {
    fn track(&self) -> Value {
        schema::entity(&self.tracker.track(None, None).unwrap().expect("an entity"))
    }

    fn move_to(&self, background: bool) -> Option<Value> {
        match self.tracker.transition(background, None).unwrap() {
            Transition::Unchanged => None,
            Transition::Changed { entity, .. } => entity.map(|e| schema::entity(&e)),
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.hooks.take()
    }

    fn ends(&self) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::End(summary) => Some(summary),
                Call::Start(_) => None,
            })
            .collect()
    }
}

fn session(entity: &Value) -> (String, u64, u64) {
    (
        entity["sessionId"].as_str().unwrap().to_owned(),
        entity["sessionIndex"].as_u64().unwrap(),
        entity["eventIndex"].as_u64().unwrap(),
    )
}

#[test]
fn s9_handles_on_one_namespace_share_one_session_and_one_event_index() {
    let place = Place::new("one-session");
    let a = place.open(Config::default());
    let first = session(&a.track());
    let b = place.open(Config::default());
    assert!(b.calls().is_empty(), "joining reports nothing");
    let seen: Vec<_> = [&b, &a, &b, &a]
        .iter()
        .map(|h| session(&h.track()))
        .collect();
    for (n, (id, index, event)) in seen.iter().enumerate() {
        assert_eq!((id, *index), (&first.0, 1), "one session");
        assert_eq!(*event, 2 + n as u64, "one eventIndex sequence");
    }
    assert_eq!(
        session(&schema::entity(
            &b.tracker.entity().unwrap().unwrap().to_json()
        )),
        (first.0.clone(), 1, 5),
        "a getter shows what the other handle did"
    );
}

#[test]
fn s9_a_gap_is_measured_from_the_namespaces_last_activity_and_renews_once() {
    let place = Place::new("gap");
    let a = place.open(timeouts(30, 30));
    let b = place.open(timeouts(30, 30));
    let first = session(&a.track());
    a.calls();
    place.at(20);
    b.track();
    place.at(45);
    // 25 s since B's event: the session goes on for A.
    assert_eq!(session(&a.track()).0, first.0);
    place.at(100);
    let renewed = session(&b.track());
    assert_eq!(renewed.1, 2);
    let ends = b.ends();
    assert_eq!(ends.len(), 1, "the handle that renewed reports the end");
    assert_eq!(ends[0]["reason"], "timeout");
    assert_eq!(ends[0]["eventCount"], 3);
    place.at(101);
    let joined = session(&a.track());
    assert_eq!(
        (joined.0, joined.2),
        (renewed.0, 2),
        "A joins, no second session"
    );
    assert!(a.calls().is_empty(), "A reports neither end nor start");
}

#[test]
fn s9_app_state_and_lifecycle_indexes_belong_to_the_namespace() {
    let place = Place::new("app-state");
    let a = place.open(Config::default());
    let b = place.open(Config::default());
    a.track();
    assert!(a.move_to(true).is_some());
    assert!(b.tracker.in_background().unwrap(), "B sees A's transition");
    assert!(b.move_to(true).is_none(), "already in background");
    let foreground = b.move_to(false).expect("a transition");
    assert_eq!(foreground["eventIndex"], 3);
    assert_eq!(b.tracker.lifecycle_indexes().unwrap(), Some((1, 1)));
    assert_eq!(a.tracker.lifecycle_indexes().unwrap(), Some((1, 1)));
}

#[test]
fn s9_reset_user_and_anonymity_hold_for_every_handle_from_its_next_call() {
    let place = Place::new("user");
    let a = place.open(Config::default());
    let b = place.open(Config::default());
    a.track();
    b.track();
    let user = a.tracker.reset_user().unwrap();
    assert_eq!(b.tracker.user_id().unwrap(), user, "B's next call sees it");
    assert_eq!(b.tracker.entity().unwrap(), None, "the session ended");
    let next = b.track();
    assert_eq!(next["userId"], user.to_string());
    assert_eq!(next["sessionIndex"], 1);
    assert_eq!(next["previousSessionId"], Value::Null);
    assert_eq!(a.ends().len(), 1, "A ended it and reported it");
    assert_eq!(b.ends().len(), 0);
    b.tracker.set_anonymous(true).unwrap();
    let hidden = a.track();
    assert_eq!(hidden["userId"], "00000000-0000-0000-0000-000000000000");
}

#[test]
fn s9_a_handle_joining_with_another_anonymity_ends_the_session_and_starts_none() {
    let place = Place::new("anonymous-join");
    let a = place.open(Config::default());
    let first = session(&a.track());
    let b = place.open(Config {
        anonymous: true,
        ..Config::default()
    });
    let ends = b.ends();
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0]["reason"], "anonymity_changed");
    assert_eq!(ends[0]["sessionId"], first.0.as_str());
    assert_eq!(a.tracker.entity().unwrap(), None, "none started");
    let next = a.track();
    assert_eq!(
        next["userId"], "00000000-0000-0000-0000-000000000000",
        "the namespace took B's mode"
    );
}

#[test]
fn s9_restart_rules_apply_only_to_a_handle_that_holds_the_namespace_first() {
    let place = Place::new("restart-rules");
    let a = place.open(Config::default());
    let first = session(&a.track());
    let b = place.open(Config {
        continue_on_restart: false,
        start_in_background: true,
        ..Config::default()
    });
    assert!(b.calls().is_empty(), "B joined: no restart end");
    assert!(!b.tracker.in_background().unwrap(), "B joins the app state");
    assert_eq!(session(&b.track()).0, first.0);
    a.tracker.close().unwrap();
    b.tracker.close().unwrap();
    let c = place.open(Config {
        continue_on_restart: false,
        ..Config::default()
    });
    let ends = c.ends();
    assert_eq!(ends.len(), 1, "the first holder applies §5");
    assert_eq!(ends[0]["reason"], "restart");
    assert_eq!(ends[0]["eventCount"], 2, "the count of both handles");
}

#[test]
fn s9_a_paused_handle_neither_renews_nor_moves_last_activity() {
    let place = Place::new("paused");
    let a = place.open(timeouts(30, 30));
    let b = place.open(timeouts(30, 30));
    let first = session(&a.track());
    a.tracker.pause().unwrap();
    place.at(60);
    assert_eq!(session(&a.track()).0, first.0, "paused: no renewal");
    place.at(61);
    let renewed = session(&b.track());
    assert_ne!(
        renewed.0, first.0,
        "A's paused event did not move last activity"
    );
    a.tracker.resume().unwrap();
    place.at(62);
    assert_eq!(
        session(&a.track()).0,
        renewed.0,
        "judged against B's activity"
    );
}

#[test]
fn s9_manual_mode_stops_only_its_own_handle_from_renewing() {
    let place = Place::new("manual");
    let manual = place.open(Config {
        automatic: false,
        ..timeouts(10, 10)
    });
    let auto = place.open(timeouts(10, 10));
    manual.tracker.new_session().unwrap();
    let first = session(&manual.track());
    place.at(30);
    assert_eq!(session(&manual.track()).0, first.0, "manual: no renewal");
    place.at(50);
    let renewed = session(&auto.track());
    assert_ne!(renewed.0, first.0, "automatic still renews");
    assert_eq!(auto.ends()[0]["reason"], "timeout");
}

#[test]
fn s9_timeouts_are_per_handle_and_check_uses_the_callers() {
    let place = Place::new("timeouts");
    let short = place.open(timeouts(10, 10));
    let long = place.open(timeouts(100, 100));
    let first = session(&short.track());
    place.at(50);
    long.tracker.check().unwrap();
    assert_eq!(long.ends().len(), 0, "50 s is within the long timeout");
    assert_eq!(session(&long.track()).0, first.0);
    place.at(70);
    short.tracker.check().unwrap();
    let ends = short.ends();
    assert_eq!(
        ends.len(),
        1,
        "20 s is past the short timeout: check ends it"
    );
    assert_eq!(ends[0]["reason"], "timeout");
    assert_eq!(long.tracker.entity().unwrap(), None);
}

#[test]
fn s9_getters_never_end_a_session() {
    let place = Place::new("getters");
    let a = place.open(timeouts(10, 10));
    let b = place.open(timeouts(10, 10));
    let first = session(&a.track());
    a.calls();
    place.at(100);
    assert_eq!(
        b.tracker
            .entity()
            .unwrap()
            .map(|e| e.session_id.to_string()),
        Some(first.0)
    );
    assert!(a.calls().is_empty() && b.calls().is_empty());
}

#[test]
fn s5_a_kill_on_sqlite_loses_nothing_a_returned_call_handed_out() {
    let place = Place::new("exact-kill");
    let a = place.open(timeouts(30, 30));
    let mut last = (String::new(), 0, 0);
    for n in 0..150 {
        place.clock.set(T0 + n * 7);
        last = session(&a.track());
    }
    a.tracker.abandon();
    // Reopened exactly at the timeout after the last event: the session goes on.
    place.clock.set(T0 + 149 * 7 + 30_000);
    let b = place.open(timeouts(30, 30));
    assert!(b.calls().is_empty(), "nothing ended at open");
    let next = session(&b.track());
    assert_eq!((next.0, next.2), (last.0, last.2 + 1), "exactly one more");
    b.tracker.end_session().unwrap();
    assert_eq!(b.ends()[0]["eventCount"], 151, "the count is exact");
}

#[test]
fn coordination_file_missing_rebuilds_from_the_database_without_a_repeat() {
    let place = Place::new("missing");
    let a = place.open(Config::default());
    let mut last = 0;
    for _ in 0..5 {
        last = session(&a.track()).2;
    }
    a.tracker.abandon();
    std::fs::remove_file(place.coordination()).unwrap();
    let b = place.open(Config::default());
    let fault = b.tracker.last_fault().unwrap().expect("a fault");
    assert_eq!(fault.kind, ErrorKind::CorruptState, "{}", fault.message);
    let next = session(&b.track()).2;
    assert!(next > last, "no repeat: {next} after {last}");
}

fn damage_and_reopen(name: &str, damage: impl FnOnce(&Path)) -> (Place, sesh::error::Result<H>) {
    let place = Place::new(name);
    {
        let a = place.open(Config::default());
        a.track();
        a.track();
        a.tracker.close().unwrap();
    }
    // No handle maps the file any more: damage done while one does is not survivable
    // (as with SQLite's own shared-memory file).
    damage(&place.coordination());
    let reopened = place.try_open(Config::default());
    (place, reopened)
}

#[test]
fn coordination_file_truncated_or_of_another_version_is_rebuilt_with_a_fault() {
    for (name, damage) in [
        (
            "truncated",
            Box::new(|p: &Path| {
                let bytes = std::fs::read(p).unwrap();
                std::fs::write(p, &bytes[..bytes.len() / 2]).unwrap();
            }) as Box<dyn FnOnce(&Path)>,
        ),
        (
            "version",
            Box::new(|p: &Path| {
                let mut bytes = std::fs::read(p).unwrap();
                bytes[8] = 99;
                std::fs::write(p, &bytes).unwrap();
            }),
        ),
        (
            "slots",
            Box::new(|p: &Path| {
                let mut bytes = std::fs::read(p).unwrap();
                for byte in bytes.iter_mut().skip(512) {
                    *byte = 0xA5;
                }
                std::fs::write(p, &bytes).unwrap();
            }),
        ),
    ] {
        let (_place, reopened) = damage_and_reopen(name, damage);
        let b = reopened.unwrap_or_else(|e| panic!("{name}: open failed: {e}"));
        let next = session(&b.track());
        assert!(next.2 >= 3, "{name}: no repeat ({next:?})");
        if name != "slots" {
            let fault = b.tracker.last_fault().unwrap();
            assert!(fault.is_some(), "{name}: a fault is reported");
        }
    }
}

#[test]
fn a_file_that_is_not_sesh_s_is_never_overwritten() {
    let garbage = b"not a coordination file at all, but the host's own bytes".repeat(40);
    let kept = garbage.clone();
    let (place, reopened) =
        damage_and_reopen("foreign", move |p| std::fs::write(p, &garbage).unwrap());
    let err = reopened.err().expect("open fails");
    assert_eq!(err.kind, ErrorKind::StoreError, "{}", err.message);
    assert_eq!(std::fs::read(place.coordination()).unwrap(), kept);
}

#[cfg(unix)]
#[test]
fn an_unwritable_directory_fails_the_open_with_store_error() {
    use std::os::unix::fs::PermissionsExt;
    let place = Place::new("readonly");
    {
        let a = place.open(Config::default());
        a.track();
        a.tracker.close().unwrap();
    }
    std::fs::remove_file(place.coordination()).unwrap();
    std::fs::set_permissions(&place.dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    let probe = place.dir.join("probe");
    let writable = std::fs::write(&probe, b"x").is_ok(); // root ignores the mode
    let _ = std::fs::remove_file(&probe);
    if !writable {
        let err = place.try_open(Config::default()).err().expect("open fails");
        assert_eq!(err.kind, ErrorKind::StoreError, "{}", err.message);
    } else {
        // As root the directory stays writable: the open works and makes the file.
        let b = place.open(Config::default());
        assert!(b.track()["eventIndex"].as_u64().unwrap() >= 2);
    }
    std::fs::set_permissions(&place.dir, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn a_coordination_file_deleted_while_held_never_repeats_an_index() {
    let place = Place::new("deleted-held");
    let a = place.open(Config::default());
    let mut seen = std::collections::HashSet::new();
    assert!(seen.insert(session(&a.track())));
    std::fs::remove_file(place.coordination()).unwrap();
    let b = place.open(Config::default());
    // Past the 1,024 indexes SQLite reserved: A must move to B's file before it extends.
    for _ in 0..1_500 {
        for h in [&a, &b] {
            let seen_now = session(&h.track());
            assert!(
                seen.insert(seen_now.clone()),
                "{seen_now:?} handed out twice"
            );
        }
    }
    let fault = a.tracker.last_fault().unwrap().expect("A reports the move");
    assert!(
        fault.message.contains("deleted or replaced"),
        "{}",
        fault.message
    );
}

/// An SQLite store whose writes fail while the disk is "full".
struct FullDisk {
    inner: SqliteStore,
    full: Arc<std::sync::atomic::AtomicBool>,
}

impl sesh::store::Store for FullDisk {
    fn storage_mechanism(&self) -> sesh::store::StorageMechanism {
        self.inner.storage_mechanism()
    }
    fn load_user(&mut self) -> sesh::error::Result<Option<String>> {
        self.inner.load_user()
    }
    fn save_user(&mut self, user_id: &str) -> sesh::error::Result<()> {
        self.inner.save_user(user_id)
    }
    fn claim_user(&mut self, candidate: &str) -> sesh::error::Result<String> {
        self.inner.claim_user(candidate)
    }
    fn load_state(&mut self, namespace: &str) -> sesh::error::Result<Option<String>> {
        self.inner.load_state(namespace)
    }
    fn save_state(&mut self, namespace: &str, state: &str) -> sesh::error::Result<()> {
        self.save(None, namespace, state)
    }
    fn save(
        &mut self,
        user: Option<&str>,
        namespace: &str,
        state: &str,
    ) -> sesh::error::Result<()> {
        if self.full.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(sesh::error::Error::store("database or disk is full"));
        }
        self.inner.save(user, namespace, state)
    }
    fn database_path(&self) -> Option<&Path> {
        self.inner.database_path()
    }
    fn claim_store_id(&mut self, candidate: &str) -> sesh::error::Result<String> {
        self.inner.claim_store_id(candidate)
    }
}

#[test]
fn a_full_disk_keeps_tracking_and_a_kill_then_repeats_nothing() {
    let place = Place::new("full-disk");
    let full = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hooks = Recorder::default();
    let a = Tracker::open(Parts {
        config: Config::default(),
        clock: Box::new(Arc::clone(&place.clock)),
        ids: Box::new(RandomIds),
        store: Box::new(FullDisk {
            inner: SqliteStore::open(&place.db()).unwrap(),
            full: Arc::clone(&full),
        }),
        hooks: Box::new(hooks),
    })
    .unwrap();
    let track = |t: &Tracker| session(&schema::entity(&t.track(None, None).unwrap().unwrap()));
    track(&a);
    full.store(true, std::sync::atomic::Ordering::SeqCst);
    for _ in 0..1100 {
        // Past the 1,024 indexes the database reserved: the reservation cannot be written.
        track(&a);
    }
    assert!(matches!(
        a.transition(true, None).unwrap(),
        Transition::Changed { .. }
    ));
    a.new_session().unwrap();
    let (second, index, event) = track(&a);
    assert_eq!((index, event), (2, 1));
    assert_eq!(
        a.last_fault().unwrap().map(|f| f.kind),
        Some(ErrorKind::StoreError),
        "the failed writes are reported"
    );
    a.abandon();
    // The disk has room again; whatever reached only the coordination file is kept.
    let b = place.open(Config::default());
    let (id, index, event) = session(&b.track());
    assert_eq!((id.as_str(), index, event), (second.as_str(), 2, 2));
    b.tracker.new_session().unwrap();
    assert_eq!(
        b.track()["sessionIndex"],
        3,
        "sessionIndex 2 is not handed out again"
    );
}
