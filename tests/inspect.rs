//! `sesh-inspect` (README, "Seeing sessions") on stores the library made, compared with what
//! a handle's getters say, and on files that are not sesh stores: a clear message, a
//! distinct exit status, no crash, and the file left byte for byte as it was.

mod common;

use common::{T0, World, config};
use serde_json::Value;
use sesh::store::SqliteStore;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sesh-inspect-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn inspect(args: &[&str], path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sesh-inspect"))
        .args(args)
        .arg(path)
        .output()
        .expect("run sesh-inspect")
}

fn inspect_json(path: &Path, now: i64) -> Value {
    let out = inspect(&["--json", "--now", &now.to_string()], path);
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// Every file in `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    files.sort();
    files
}

fn namespace<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["namespace"] == name)
        .unwrap_or_else(|| panic!("no namespace {name} in {report:#}"))
}

/// The inspector's figures for `ns` agree with a handle's getters. `joined`: the handle
/// joined a live one, so it also has the app state last seen (a first opener takes
/// `start_in_background`'s instead).
fn agrees_with_getters(report: &Value, ns: &Value, handle: &common::Handle<'_>, joined: bool) {
    let entity = handle.entity().expect("a session");
    let data = entity.get("data").unwrap_or(&entity);
    let session = &ns["session"];
    assert_eq!(session["id"], data["sessionId"], "{ns:#}");
    assert_eq!(session["index"], data["sessionIndex"]);
    assert_eq!(session["event_index"], data["eventIndex"]);
    assert_eq!(session["first_event_id"], data["firstEventId"]);
    assert_eq!(session["first_event_iso"], data["firstEventTimestamp"]);
    assert_eq!(session["previous_id"], data["previousSessionId"]);
    assert_eq!(report["user_id"], Value::from(handle.user()));
    if joined {
        assert_eq!(
            ns["in_background"],
            Value::from(handle.tracker.in_background().unwrap())
        );
    } else {
        assert_eq!(ns["in_background"], true);
        assert!(!handle.tracker.in_background().unwrap());
    }
    let (bg, fg) = handle.tracker.lifecycle_indexes().unwrap().unwrap();
    assert_eq!(session["background_index"], Value::from(bg));
    assert_eq!(session["foreground_index"], Value::from(fg));
}

#[test]
fn a_live_store_matches_a_fresh_handles_getters_and_names_its_holder() {
    let dir = dir("live");
    let db = dir.join("store.db");
    let world = World::new();
    let mut cfg = config();
    cfg.namespace = "app".into();
    let first = world.open_on(cfg.clone(), Box::new(SqliteStore::open(&db).unwrap()));
    for _ in 0..3 {
        world.at(1);
        first.track();
    }
    world.at(5);
    first.background();
    world.at(7);
    first.track();
    // Live: this process holds the namespace; the hot line is newer than SQLite.
    let report = inspect_json(&db, T0 + 60_000);
    let ns = namespace(&report, "app");
    assert_eq!(report["schema_version"], 1);
    assert_eq!(ns["holder_pid"], Value::from(std::process::id()));
    assert_eq!(ns["session"]["event_index_source"], "coordination hot line");
    assert_eq!(ns["session"]["event_index"], 5);
    assert_eq!(ns["session"]["last_activity"], T0 + 7000);
    assert_eq!(ns["open_now"]["continues"], true);
    let second = world.open_on(cfg.clone(), Box::new(SqliteStore::open(&db).unwrap()));
    agrees_with_getters(&report, ns, &second, true);
    second.close();
    first.close();

    // Closed: nobody holds it; reading changes no file and makes none.
    let before = snapshot(&dir);
    let report = inspect_json(&db, T0 + 60_000);
    assert_eq!(snapshot(&dir), before, "sesh-inspect changed the directory");
    let ns = namespace(&report, "app");
    assert_eq!(ns["holder_pid"], Value::Null);
    assert_eq!(ns["open_now"]["continues"], true);
    let text = inspect(&["--now", &(T0 + 60_000).to_string()], &db);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("namespace \"app\""), "{text}");
    assert!(text.contains("53 s ago"), "{text}");
    // 31 minutes later, judged with the background timeout (the app was last seen there).
    let late = inspect_json(&db, T0 + 7000 + 31 * 60_000);
    let verdict = &namespace(&late, "app")["open_now"];
    assert_eq!(verdict["continues"], false, "{verdict}");
    assert_eq!(verdict["reason"], "timeout");
    let reopened = world.open_on(cfg.clone(), Box::new(SqliteStore::open(&db).unwrap()));
    agrees_with_getters(&report, ns, &reopened, false);
    reopened.close();
}

fn refused(path: &Path, status: i32, words: &str) {
    let dir = path.parent().unwrap();
    let before = snapshot(dir);
    for args in [&[][..], &["--json"][..]] {
        let out = inspect(args, path);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(status), "{args:?}: {stderr}");
        assert!(stderr.contains(words), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(snapshot(dir), before, "{} changed", path.display());
    }
}

#[test]
fn files_that_are_not_sesh_stores_are_refused_and_left_as_they_were() {
    let missing = dir("missing").join("none.db");
    refused(&missing, 2, "no such file");
    assert!(!missing.exists());

    let text = dir("text").join("notes.db");
    std::fs::write(&text, b"this is a text file, not a database\n".repeat(50)).unwrap();
    refused(&text, 3, "not an SQLite database");

    let damaged = dir("damaged").join("damaged.db");
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend(std::iter::repeat_n(0xA5u8, 8192));
    std::fs::write(&damaged, &bytes).unwrap();
    refused(&damaged, 3, "damaged");

    let foreign = dir("foreign").join("host.db");
    {
        let c = rusqlite::Connection::open(&foreign).unwrap();
        c.execute_batch("CREATE TABLE host_things (a); INSERT INTO host_things VALUES (1);")
            .unwrap();
    }
    refused(&foreign, 4, "without sesh's tables");

    let newer = dir("newer").join("newer.db");
    {
        let world = World::new();
        let handle = world.open_on(config(), Box::new(SqliteStore::open(&newer).unwrap()));
        handle.track();
        handle.close();
        let c = rusqlite::Connection::open(&newer).unwrap();
        c.execute(
            "UPDATE sesh_meta SET value = 2 WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    }
    refused(&newer, 5, "newer sesh (schema version 2");

    let empty = dir("empty").join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    refused(&empty, 4, "empty file");
}
