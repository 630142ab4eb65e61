//! Kill -9 at random instants while a child process tracks as fast as it can on an SQLite
//! store (behaviour §5): the store is never corrupt, `sessionIndex` never repeats or goes
//! down, `eventIndex` never repeats inside a session, and at most the last second of
//! last-activity time is lost.
//!
//! The child is this test binary run again with `SESH_CRASH_CHILD` set; it prints one line
//! per entity it was handed (after the call returned), so the parent knows exactly what
//! the host saw before the kill.

use sesh::clock::SystemClock;
use sesh::engine::Config;
use sesh::id::RandomIds;
use sesh::store::SqliteStore;
use sesh::tracker::{NoHooks, Parts, Tracker};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KILLS: usize = 200;

fn open(path: &Path) -> Tracker {
    Tracker::open(Parts {
        config: Config::default(),
        clock: Box::new(SystemClock::new()),
        ids: Box::new(RandomIds),
        store: Box::new(SqliteStore::open(path).expect("the store opens")),
        hooks: Box::new(NoHooks),
    })
    .expect("the handle opens")
}

/// The child: track, move the app, start sessions, and report every entity until killed.
fn child(path: &Path, seed: u64) -> ! {
    let tracker = open(path);
    let mut out = std::io::stdout().lock();
    let mut rng = seed | 1;
    loop {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let entity = match rng % 1000 {
            0 => {
                tracker.new_session().unwrap();
                continue;
            }
            1..=3 => {
                let to_background = !tracker.in_background().unwrap();
                match tracker.transition(to_background, None).unwrap() {
                    sesh::engine::Transition::Changed {
                        entity: Some(entity),
                        ..
                    } => entity,
                    _ => continue,
                }
            }
            _ => tracker.track(None, None).unwrap().expect("automatic mode"),
        };
        let data: serde_json::Value = serde_json::from_str(&entity).unwrap();
        let data = &data["data"];
        let last_activity = tracker.state().unwrap().session.unwrap().last_activity;
        // Written after the call returned: what the host saw.
        writeln!(
            out,
            "{} {} {} {}",
            data["sessionId"].as_str().unwrap(),
            data["sessionIndex"],
            data["eventIndex"],
            last_activity
        )
        .unwrap();
        out.flush().unwrap();
    }
}

struct Seen {
    session_id: String,
    session_index: u64,
    event_index: u64,
    last_activity: i64,
}

fn parse(line: &str) -> Option<Seen> {
    let mut parts = line.split(' ');
    let seen = Seen {
        session_id: parts.next()?.to_owned(),
        session_index: parts.next()?.parse().ok()?,
        event_index: parts.next()?.parse().ok()?,
        last_activity: parts.next()?.parse().ok()?,
    };
    parts.next().is_none().then_some(seen)
}

#[test]
fn kill_9_at_random_instants_never_corrupts_or_repeats() {
    if let Some(path) = std::env::var_os("SESH_CRASH_CHILD") {
        let seed = std::env::var("SESH_CRASH_SEED").unwrap().parse().unwrap();
        child(Path::new(&path), seed);
    }
    let dir = std::env::temp_dir().join(format!("sesh-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join("crash.db");
    let exe = std::env::current_exe().unwrap();

    let mut max_event_index: HashMap<String, u64> = HashMap::new();
    let mut max_session_index = 0u64;
    let mut index_of_session: HashMap<String, u64> = HashMap::new();
    let mut total_events = 0usize;
    let mut continued = 0usize;
    let mut previous_last: Option<String> = None;
    for kill in 0..KILLS {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "kill_9_at_random_instants_never_corrupts_or_repeats",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SESH_CRASH_CHILD", &path)
            .env("SESH_CRASH_SEED", (kill as u64 * 7919 + 17).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        // Kill at a random instant once the child has tracked a little.
        let wait = Duration::from_micros(2_000 + (kill as u64 * 104_729) % 40_000);
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<_>>()
        });
        let started = Instant::now();
        while started.elapsed() < wait {
            std::thread::sleep(Duration::from_micros(500));
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let lines = reader.join().unwrap();

        let mut last: Option<Seen> = None;
        if let (Some(first), Some(before)) = (lines.iter().find_map(|l| parse(l)), &previous_last) {
            if &first.session_id == before {
                continued += 1;
            }
        }
        for line in &lines {
            // The last line may be cut by the kill; a cut line was not seen whole.
            let Some(seen) = parse(line) else { continue };
            total_events += 1;
            if let Some(index) = index_of_session.get(&seen.session_id) {
                assert_eq!(*index, seen.session_index, "a session changed its index");
            } else {
                assert!(
                    seen.session_index > max_session_index,
                    "sessionIndex {} repeated or went down (max {max_session_index})",
                    seen.session_index
                );
                index_of_session.insert(seen.session_id.clone(), seen.session_index);
                max_session_index = seen.session_index;
            }
            let max = max_event_index.entry(seen.session_id.clone()).or_insert(0);
            assert!(
                seen.event_index > *max,
                "eventIndex {} repeated in session {} (max {max}), run {kill}",
                seen.event_index,
                seen.session_id
            );
            *max = seen.event_index;
            last = Some(seen);
        }

        // A fresh handle opens the store as it was left.
        let tracker = open(&path);
        assert_eq!(
            tracker.last_fault().unwrap(),
            None,
            "run {kill}: the store was damaged"
        );
        let state = tracker.state().unwrap();
        assert!(state.session_index as u64 >= max_session_index);
        if let Some(last) = &last {
            previous_last = Some(last.session_id.clone());
            let session = state.session.as_ref().expect("the session goes on");
            if session.id.to_string() == last.session_id {
                assert!(session.event_index as u64 >= last.event_index);
                assert!(
                    session.last_activity > last.last_activity - 1000,
                    "run {kill}: lost {} ms of activity",
                    last.last_activity - session.last_activity
                );
            } else {
                // A session that started after the last line the parent read whole.
                assert!(state.session_index as u64 > last.session_index);
            }
        }
        drop(tracker);
    }
    let integrity: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    eprintln!(
        "{KILLS} kills, {total_events} events, {} sessions, {continued} runs went on with the session before",
        index_of_session.len()
    );
    assert!(
        total_events > KILLS,
        "the children tracked only {total_events} events"
    );
    assert!(
        continued > KILLS / 2,
        "only {continued} runs went on with the session before"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
