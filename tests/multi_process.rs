//! Several writers on one SQLite file and one namespace (issue "Hardening"): two handles in
//! one process, and two processes (this test binary run again with `SESH_MP_CHILD` set, as
//! tests/crash_sqlite.rs does), tracking at the same time.
//!
//! Checked, always:
//! - no crash: every child exits cleanly, every call returns `Ok`;
//! - SQLITE_BUSY never surfaces: no call fails, no write fault reaches the log callback or
//!   the last fault (a failed write would not fail the call; it would show there), the busy
//!   timeout waits instead;
//! - no corruption: `PRAGMA integrity_check` is `ok` and a new handle opens the file
//!   without a fault, reading a state that decodes.
//!
//! Also checked: no `sessionIndex` repeats across every entity and start callback both
//! writers saw (the SQLite store hands out session indexes from the file, in a
//! transaction), and two first opens of a new store at once agree on one user id.
//!
//! `SESH_MP_OPS` sets the operations per writer and round (default 5 000).

use sesh::Config;
use sesh::clock::SystemClock;
use sesh::engine::Transition;
use sesh::engine::state;
use sesh::id::RandomIds;
use sesh::store::SqliteStore;
use sesh::tracker::{Hooks, LogLevel, Parts, Tracker};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ROUNDS: usize = 4;

fn ops() -> usize {
    std::env::var("SESH_MP_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sesh-mp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What a writer heard: entities of its events, start callbacks, and log messages.
#[derive(Default)]
struct Heard {
    lines: Mutex<Vec<String>>,
}

struct Recorder(Arc<Heard>);

impl Hooks for Recorder {
    fn session_started(&self, entity_json: &str) {
        let line = format!("S {}", fields(entity_json));
        self.0.lines.lock().unwrap().push(line);
    }

    fn log(&self, level: LogLevel, message: &str) {
        let line = format!("L {level:?} {message}");
        self.0.lines.lock().unwrap().push(line);
    }
}

/// `sessionId sessionIndex eventIndex userId` of an entity.
fn fields(entity_json: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(entity_json).expect("an entity is JSON");
    let data = &value["data"];
    format!(
        "{} {} {} {}",
        data["sessionId"].as_str().unwrap(),
        data["sessionIndex"],
        data["eventIndex"],
        data["userId"].as_str().unwrap()
    )
}

fn open(path: &Path, heard: Arc<Heard>) -> Tracker {
    Tracker::open(Parts {
        config: Config::default(),
        clock: Box::new(SystemClock::new()),
        ids: Box::new(RandomIds),
        store: Box::new(SqliteStore::open(path).expect("the store opens")),
        hooks: Box::new(Recorder(heard)),
    })
    .expect("the handle opens")
}

/// One writer: `ops` operations (events, transitions, now and then a new session), every
/// call `Ok`. Returns the lines it heard: `E`/`S` entity lines, `L` log lines, and a final
/// `F` line with the last fault.
fn write(path: &Path, seed: u64, ops: usize) -> Vec<String> {
    let heard = Arc::new(Heard::default());
    let tracker = open(path, Arc::clone(&heard));
    let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for _ in 0..ops {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let entity = match rng % 1000 {
            0..3 => {
                tracker.new_session().expect("new_session");
                continue;
            }
            3..30 => {
                let to_background = !tracker.in_background().expect("getter");
                match tracker.transition(to_background, None).expect("transition") {
                    Transition::Changed {
                        entity: Some(entity),
                        ..
                    } => entity,
                    // Another handle moved the namespace there first (behaviour §9: the app
                    // state belongs to the namespace).
                    Transition::Unchanged => continue,
                    other => panic!("a transition in automatic mode: {other:?}"),
                }
            }
            30..40 => {
                tracker.entity().expect("getter");
                continue;
            }
            _ => tracker
                .track(None, None)
                .expect("track")
                .expect("automatic mode"),
        };
        let line = format!("E {}", fields(&entity));
        heard.lines.lock().unwrap().push(line);
    }
    let fault = tracker.last_fault().expect("getter");
    tracker.close().expect("close");
    let mut lines = std::mem::take(&mut *heard.lines.lock().unwrap());
    lines.push(format!("F {fault:?}"));
    lines
}

/// What every writer saw, put together.
#[derive(Default)]
struct Seen {
    /// sessionIndex → the session ids that showed it.
    ids_of_index: BTreeMap<u64, BTreeSet<String>>,
    /// (session id, eventIndex) → how many events showed it.
    event_indexes: HashMap<(String, u64), usize>,
    events: usize,
    /// The user ids the entities showed.
    users: BTreeSet<String>,
}

impl Seen {
    /// Takes a writer's lines, failing on any fault it heard.
    fn add(&mut self, writer: &str, lines: &[String]) {
        let mut finished = false;
        for line in lines {
            let mut parts = line.splitn(2, ' ');
            match (parts.next(), parts.next()) {
                (Some(kind @ ("E" | "S")), Some(rest)) => {
                    let mut fields = rest.split(' ');
                    let id = fields.next().unwrap().to_owned();
                    let index: u64 = fields.next().unwrap().parse().unwrap();
                    let event_index: u64 = fields.next().unwrap().parse().unwrap();
                    self.users.insert(fields.next().unwrap().to_owned());
                    self.ids_of_index
                        .entry(index)
                        .or_default()
                        .insert(id.clone());
                    if kind == "E" {
                        self.events += 1;
                        *self.event_indexes.entry((id, event_index)).or_default() += 1;
                    }
                }
                (Some("L"), Some(message)) => {
                    panic!("{writer}: the log callback heard {message:?} (SQLITE_BUSY?)")
                }
                (Some("F"), Some(fault)) => {
                    assert_eq!(fault, "None", "{writer}: last fault");
                    finished = true;
                }
                _ => {}
            }
        }
        assert!(finished, "{writer} did not finish");
    }

    fn repeated_session_indexes(&self) -> Vec<(u64, usize)> {
        self.ids_of_index
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(&index, ids)| (index, ids.len()))
            .collect()
    }

    fn repeated_event_indexes(&self) -> usize {
        self.event_indexes.values().filter(|&&n| n > 1).count()
    }

    fn report(&self, what: &str) {
        let repeated = self.repeated_session_indexes();
        eprintln!(
            "{what}: {} events, {} sessionIndex values, {} of them shown by more than one \
             session {:?}; {} (sessionId, eventIndex) pairs shown more than once; {} user ids",
            self.events,
            self.ids_of_index.len(),
            repeated.len(),
            &repeated[..repeated.len().min(5)],
            self.repeated_event_indexes(),
            self.users.len()
        );
    }

    fn assert_no_repeated_session_index(&self) {
        let repeated = self.repeated_session_indexes();
        assert!(
            repeated.is_empty(),
            "sessionIndex repeated across writers: (index, sessions) {:?}",
            &repeated[..repeated.len().min(10)]
        );
    }
}

/// The file is sound: integrity check, and a new handle opens it without a fault on a state
/// that decodes.
fn assert_sound(path: &Path) {
    let connection = rusqlite::Connection::open(path).unwrap();
    let integrity: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let raw: String = connection
        .query_row(
            "SELECT state FROM sesh_state WHERE namespace = 'default'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    state::decode(&raw).expect("the stored state decodes");
    drop(connection);
    let heard = Arc::new(Heard::default());
    let tracker = open(path, Arc::clone(&heard));
    assert_eq!(tracker.last_fault().unwrap(), None, "a fault at reopen");
    tracker.track(None, None).unwrap().unwrap();
    tracker.close().unwrap();
    for line in heard.lines.lock().unwrap().iter() {
        assert!(!line.starts_with('L'), "reopen: {line}");
    }
}

// ----- two handles in one process -------------------------------------------------------------

fn two_handles(name: &str) -> Seen {
    let dir = temp_dir(name);
    let path = dir.join("store.db");
    let mut seen = Seen::default();
    for round in 0..ROUNDS {
        let outputs: Vec<Vec<String>> = std::thread::scope(|scope| {
            let writers: Vec<_> = (0..2)
                .map(|w| {
                    let path = &path;
                    scope.spawn(move || write(path, (round * 2 + w + 1) as u64, ops()))
                })
                .collect();
            writers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        for (w, lines) in outputs.iter().enumerate() {
            seen.add(&format!("round {round}, handle {w}"), lines);
        }
        assert_sound(&path);
    }
    seen.report("two handles, one process");
    let _ = std::fs::remove_dir_all(&dir);
    seen
}

#[test]
fn two_handles_in_one_process_never_corrupt_nor_fail() {
    two_handles("handles");
}

#[test]
fn two_handles_in_one_process_never_repeat_session_index() {
    two_handles("handles-index").assert_no_repeated_session_index();
}

// ----- two processes ------------------------------------------------------------------------

/// The child: waits for the common start instant, writes, prints what it heard.
fn child(path: &Path) -> ! {
    let seed: u64 = std::env::var("SESH_MP_SEED").unwrap().parse().unwrap();
    let start_at: u128 = std::env::var("SESH_MP_START").unwrap().parse().unwrap();
    while SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        < start_at
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    let lines = write(path, seed, ops());
    let mut out = std::io::stdout().lock();
    for line in lines {
        writeln!(out, "{line}").unwrap();
    }
    out.flush().unwrap();
    std::process::exit(0);
}

fn two_processes(name: &str, test: &str) -> Seen {
    let dir = temp_dir(name);
    let path = dir.join("store.db");
    let exe = std::env::current_exe().unwrap();
    let mut seen = Seen::default();
    for round in 0..ROUNDS {
        // Both start at the same instant, once both are loaded.
        let start_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 300;
        let children: Vec<_> = (0..2)
            .map(|p| {
                Command::new(&exe)
                    .args([
                        "--exact",
                        test,
                        "--include-ignored",
                        "--nocapture",
                        "--test-threads=1",
                    ])
                    .env("SESH_MP_CHILD", &path)
                    .env("SESH_MP_SEED", (round * 2 + p + 1).to_string())
                    .env("SESH_MP_START", start_at.to_string())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let started = Instant::now();
        for (p, child) in children.into_iter().enumerate() {
            let output = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success(),
                "round {round}, process {p} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
            let lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
            seen.add(&format!("round {round}, process {p}"), &lines);
        }
        assert!(started.elapsed() < Duration::from_secs(120));
        assert_sound(&path);
    }
    seen.report("two processes");
    let _ = std::fs::remove_dir_all(&dir);
    seen
}

#[test]
fn two_processes_never_corrupt_nor_fail() {
    if let Some(path) = std::env::var_os("SESH_MP_CHILD") {
        child(Path::new(&path));
    }
    two_processes("processes", "two_processes_never_corrupt_nor_fail");
}

#[test]
fn two_processes_never_repeat_session_index() {
    if let Some(path) = std::env::var_os("SESH_MP_CHILD") {
        child(Path::new(&path));
    }
    two_processes(
        "processes-index",
        "two_processes_never_repeat_session_index",
    )
    .assert_no_repeated_session_index();
}

// ----- two first opens at once ------------------------------------------------------------------

/// FINDING (see the hardening report): behaviour §2 says the user id is created once per store
/// and shared by every namespace in it. Two handles (two namespaces, or two processes) that
/// open a fresh store at the same time both find no user id, both make one, and both write
/// it: the store keeps the later, while the other handle's entities showed the earlier.
/// Deterministic here: handle A reads "no user" and is held until handle B has opened
/// (writing its own user id) and tracked; then A goes on. At B's next open its namespace
/// belongs to a user the store no longer holds: its session ends (`user_changed`) and its
/// `sessionIndex` starts again at 1, with no `reset_user` anywhere.
#[test]
fn two_first_opens_at_once_share_one_user_id() {
    use sesh::error::Result;
    use sesh::store::{StorageMechanism, Store};
    use std::sync::mpsc::{Receiver, Sender, channel};

    struct Gated {
        inner: SqliteStore,
        loaded: Option<Sender<()>>,
        go: Option<Receiver<()>>,
    }
    impl Store for Gated {
        fn storage_mechanism(&self) -> StorageMechanism {
            self.inner.storage_mechanism()
        }
        fn load_user(&mut self) -> Result<Option<String>> {
            let user = self.inner.load_user();
            if let (Some(loaded), Some(go)) = (self.loaded.take(), self.go.take()) {
                loaded.send(()).unwrap();
                go.recv().unwrap();
            }
            user
        }
        fn save_user(&mut self, user_id: &str) -> Result<()> {
            self.inner.save_user(user_id)
        }
        fn claim_user(&mut self, candidate: &str) -> Result<String> {
            self.inner.claim_user(candidate)
        }
        fn database_path(&self) -> Option<&std::path::Path> {
            self.inner.database_path()
        }
        fn claim_store_id(&mut self, candidate: &str) -> Result<String> {
            self.inner.claim_store_id(candidate)
        }
        fn load_state(&mut self, namespace: &str) -> Result<Option<String>> {
            self.inner.load_state(namespace)
        }
        fn save_state(&mut self, namespace: &str, state: &str) -> Result<()> {
            self.inner.save_state(namespace, state)
        }
        fn flush(&mut self) -> Result<()> {
            self.inner.flush()
        }
    }
    fn open_on(store: Box<dyn Store>, namespace: &str) -> Tracker {
        Tracker::open(Parts {
            config: Config {
                namespace: namespace.to_owned(),
                ..Config::default()
            },
            clock: Box::new(SystemClock::new()),
            ids: Box::new(RandomIds),
            store,
            hooks: Box::new(sesh::tracker::NoHooks),
        })
        .unwrap()
    }
    fn user_of(entity: &str) -> String {
        let value: serde_json::Value = serde_json::from_str(entity).unwrap();
        value["data"]["userId"].as_str().unwrap().to_owned()
    }
    fn index_of(entity: &str) -> u64 {
        let value: serde_json::Value = serde_json::from_str(entity).unwrap();
        value["data"]["sessionIndex"].as_u64().unwrap()
    }

    let dir = temp_dir("first-opens");
    let path = dir.join("store.db");
    let (loaded_tx, loaded_rx) = channel();
    let (go_tx, go_rx) = channel();
    let gated = Gated {
        inner: SqliteStore::open(&path).unwrap(),
        loaded: Some(loaded_tx),
        go: Some(go_rx),
    };
    let (a_user, b_user, b_index_after) = std::thread::scope(|scope| {
        let a = scope.spawn(move || {
            let tracker = open_on(Box::new(gated), "a");
            let user = user_of(&tracker.track(None, None).unwrap().unwrap());
            tracker.close().unwrap();
            user
        });
        loaded_rx.recv().unwrap();
        // A found no user id and waits; B opens, makes and writes its own, and tracks.
        let b = open_on(Box::new(SqliteStore::open(&path).unwrap()), "b");
        let b_user = user_of(&b.track(None, None).unwrap().unwrap());
        b.new_session().unwrap();
        b.close().unwrap();
        go_tx.send(()).unwrap();
        let a_user = a.join().unwrap();
        // B again.
        let b = open_on(Box::new(SqliteStore::open(&path).unwrap()), "b");
        let entity = b.track(None, None).unwrap().unwrap();
        assert_eq!(
            user_of(&entity),
            a_user,
            "the store keeps the later user id"
        );
        (a_user, b_user, index_of(&entity))
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        a_user, b_user,
        "two namespaces of one store showed different user ids; B's sessionIndex went back to \
         {b_index_after} after 2"
    );
}
