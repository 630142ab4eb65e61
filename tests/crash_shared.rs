//! Kill -9 at random instants while several processes and threads share one live session
//! (docs/behaviour.md §5 and §9), and the write order of a custom store under 8 threads.
//!
//! A child is this test binary run again with `SESH_CRASH_SHARED_CHILD` set to the test's
//! name. Every line a child prints is written after the call it reports returned (one
//! write per line), so the parent knows exactly what the host was handed before the kill:
//!
//! - `L op proc thread t0 t1 ENTITY GETTER .`: a call (`track`, `bg`, `fg`, `bg=`/`fg=`
//!   for a transition that found the app there already, `new`, `check`, `reset`), the
//!   CLOCK_MONOTONIC time in ns just before and just after it, the entity it returned
//!   (`user sid sessionIndex eventIndex`, or four `-`), then what `state()` showed right
//!   after it (`t1 user sid sessionIndex lastActivity`, or five `-`);
//! - `S proc thread t0 t1 user sid sessionIndex eventIndex .`: the session-start callback
//!   of that call;
//! - `E proc thread t0 t1 user sid sessionIndex eventCount reason .`: its session-end
//!   callback;
//! - `X message`: a call failed.
//!
//! `SESH_CRASH_ROUNDS` sets the number of rounds of every test here; `SESH_CRASH_SEED`
//! the seed (printed, so that a failure's choices can be run again; kill instants vary).

use sesh::clock::SystemClock;
use sesh::engine::Config;
use sesh::engine::Transition;
use sesh::engine::state::{self, NamespaceState};
use sesh::error::{Error, Result as SeshResult};
use sesh::id::RandomIds;
use sesh::store::{SqliteStore, StorageMechanism, Store};
use sesh::tracker::{Hooks, Parts, Tracker};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "SESH_CRASH_SHARED_CHILD";
const PATH_ENV: &str = "SESH_CRASH_SHARED_PATH";
const PROC_ENV: &str = "SESH_CRASH_SHARED_PROC";
const SEED_ENV: &str = "SESH_CRASH_SEED";
const ROUNDS_ENV: &str = "SESH_CRASH_ROUNDS";

// ----- small helpers ----------------------------------------------------------------------

/// CLOCK_MONOTONIC in ns: one clock for every process on the machine.
fn mono_ns() -> i64 {
    let mut spec = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `spec` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut spec) };
    assert_eq!(rc, 0, "clock_gettime failed");
    #[allow(clippy::unnecessary_cast)]
    let ns = (spec.tv_sec as i64) * 1_000_000_000 + spec.tv_nsec as i64;
    ns
}

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 once, so that neighbouring seeds differ in every bit.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn rounds(default: usize) -> usize {
    env_u64(ROUNDS_ENV).map_or(default, |n| n as usize)
}

fn seed() -> u64 {
    env_u64(SEED_ENV).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    })
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sesh-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn integrity(path: &Path) -> String {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap()
}

/// Runs this test binary again as a child in `test`'s child mode.
fn spawn_child(test: &str, path: &Path, proc_no: usize, seed: u64) -> Running {
    let exe = std::env::current_exe().unwrap();
    let started_ns = mono_ns();
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test)
        .env(PATH_ENV, path)
        .env(PROC_ENV, proc_no.to_string())
        .env(SEED_ENV, seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(std::result::Result::ok)
            .collect::<Vec<_>>()
    });
    Running {
        child,
        reader,
        proc_no,
        started,
        started_ns,
        killed_ns: 0,
    }
}

struct Running {
    child: Child,
    reader: JoinHandle<Vec<String>>,
    proc_no: usize,
    started: Instant,
    started_ns: i64,
    killed_ns: i64,
}

/// SIGKILLs each child at its own instant after its start, waits for all, and returns
/// each child's lines.
fn kill_at(mut children: Vec<Running>, after: &[Duration]) -> Vec<(Running, Vec<String>)> {
    let mut order: Vec<usize> = (0..children.len()).collect();
    order.sort_by_key(|&i| children[i].started + after[i]);
    for i in order {
        let at = children[i].started + after[i];
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
        children[i].child.kill().unwrap(); // SIGKILL on Unix
        children[i].killed_ns = mono_ns();
    }
    children
        .into_iter()
        .map(|mut running| {
            let status = running.child.wait().unwrap();
            assert!(!status.success(), "a child ended on its own: {status:?}");
            let reader = std::mem::replace(&mut running.reader, std::thread::spawn(Vec::new));
            let lines = reader.join().unwrap();
            (running, lines)
        })
        .collect()
}

// ----- what a child prints ----------------------------------------------------------------

thread_local! {
    /// Callback lines of the call in progress on this thread: printed once it returned.
    static HOOK_LINES: RefCell<Vec<HookLine>> = const { RefCell::new(Vec::new()) };
}

#[derive(Debug, Clone)]
enum HookLine {
    Start(Ent),
    End {
        user: String,
        sid: String,
        sidx: u32,
        count: u32,
        reason: String,
    },
}

/// Records the session callbacks of the calling thread.
struct LineHooks;

impl Hooks for LineHooks {
    fn session_started(&self, entity_json: &str) {
        let ent = parse_entity(entity_json);
        HOOK_LINES.with(|lines| lines.borrow_mut().push(HookLine::Start(ent)));
    }
    fn session_ended(&self, summary_json: &str) {
        let v: serde_json::Value = serde_json::from_str(summary_json).unwrap();
        let line = HookLine::End {
            user: v["userId"].as_str().unwrap().to_owned(),
            sid: v["sessionId"].as_str().unwrap().to_owned(),
            sidx: v["sessionIndex"].as_u64().unwrap() as u32,
            count: v["eventCount"].as_u64().unwrap() as u32,
            reason: v["reason"].as_str().unwrap_or("?").to_owned(),
        };
        HOOK_LINES.with(|lines| lines.borrow_mut().push(line));
    }
    fn log(&self, level: sesh::tracker::LogLevel, message: &str) {
        // A fault in a child fails the test (`X` lines); the parent's are read as the
        // handle's last fault.
        if std::env::var_os(CHILD_ENV).is_some() {
            fail(format!("log {level:?}: {message}"));
        }
    }
}

fn take_hook_lines() -> Vec<HookLine> {
    HOOK_LINES.with(|lines| std::mem::take(&mut *lines.borrow_mut()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Ent {
    user: String,
    sid: String,
    sidx: u32,
    eidx: u32,
}

fn parse_entity(json: &str) -> Ent {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let d = &v["data"];
    Ent {
        user: d["userId"].as_str().unwrap().to_owned(),
        sid: d["sessionId"].as_str().unwrap().to_owned(),
        sidx: d["sessionIndex"].as_u64().unwrap() as u32,
        eidx: d["eventIndex"].as_u64().unwrap() as u32,
    }
}

#[derive(Debug, Clone)]
struct Getter {
    t1: i64,
    user: String,
    sid: String,
    sidx: u32,
    la: i64,
}

/// What `state()` shows right after a call; `None` when no session runs.
fn getter(tracker: &Tracker) -> SeshResult<Option<Getter>> {
    let state = tracker.state()?;
    let t1 = mono_ns();
    Ok(state.session.as_ref().map(|s| Getter {
        t1,
        user: state.user_id.to_string(),
        sid: s.id.to_string(),
        sidx: state.session_index,
        la: s.last_activity,
    }))
}

/// Prints a call's line and its callbacks' lines, each in one write.
#[allow(clippy::too_many_arguments)]
fn emit(
    op: &str,
    proc_no: usize,
    thread: usize,
    t0: i64,
    t1: i64,
    entity: Option<&Ent>,
    got: Option<&Getter>,
    hooks: Vec<HookLine>,
) {
    let mut lines = Vec::with_capacity(1 + hooks.len());
    let ent = entity.map_or("- - - -".to_owned(), |e| {
        format!("{} {} {} {}", e.user, e.sid, e.sidx, e.eidx)
    });
    let get = got.map_or("- - - - -".to_owned(), |g| {
        format!("{} {} {} {} {}", g.t1, g.user, g.sid, g.sidx, g.la)
    });
    lines.push(format!(
        "L {op} {proc_no} {thread} {t0} {t1} {ent} {get} .\n"
    ));
    for hook in hooks {
        lines.push(match hook {
            HookLine::Start(e) => format!(
                "S {proc_no} {thread} {t0} {t1} {} {} {} {} .\n",
                e.user, e.sid, e.sidx, e.eidx
            ),
            HookLine::End {
                user,
                sid,
                sidx,
                count,
                reason,
            } => format!("E {proc_no} {thread} {t0} {t1} {user} {sid} {sidx} {count} {reason} .\n"),
        });
    }
    let stdout = std::io::stdout();
    for line in lines {
        let mut out = stdout.lock();
        out.write_all(line.as_bytes()).unwrap();
        out.flush().unwrap();
    }
}

fn fail(message: String) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("X {}\n", message.replace('\n', " ")).as_bytes());
    let _ = out.flush();
}

/// The operation mix of a child thread.
#[derive(Clone, Copy)]
struct Mix {
    /// Out of 100 000.
    reset_user: u64,
    new_session: u64,
    transition: u64,
    check: u64,
    /// Whether each call is followed by `state()`.
    getter: bool,
}

/// One child thread: calls `tracker` forever and prints what each call handed out.
fn child_thread(tracker: Arc<Tracker>, proc_no: usize, thread: usize, seed: u64, mix: Mix) {
    let mut rng = Rng::new(seed ^ ((proc_no as u64) << 20) ^ thread as u64);
    loop {
        let roll = rng.below(100_000);
        let mut at = 0;
        let mut pick = |share: u64| {
            at += share;
            roll < at
        };
        let _ = take_hook_lines();
        let t0;
        let t1;
        let op: String;
        let mut entity = None;
        if pick(mix.reset_user) {
            t0 = mono_ns();
            let result = tracker.reset_user();
            t1 = mono_ns();
            if let Err(err) = result {
                fail(format!("reset_user: {err:?}"));
                continue;
            }
            op = "reset".into();
        } else if pick(mix.new_session) {
            t0 = mono_ns();
            let result = tracker.new_session();
            t1 = mono_ns();
            if let Err(err) = result {
                fail(format!("new_session: {err:?}"));
                continue;
            }
            op = "new".into();
        } else if pick(mix.transition) {
            let to_background = match tracker.in_background() {
                Ok(now) => !now,
                Err(err) => {
                    fail(format!("in_background: {err:?}"));
                    continue;
                }
            };
            let _ = take_hook_lines();
            t0 = mono_ns();
            let result = tracker.transition(to_background, None);
            t1 = mono_ns();
            let name = if to_background { "bg" } else { "fg" };
            match result {
                Ok(Transition::Changed {
                    entity: Some(json), ..
                }) => {
                    entity = Some(parse_entity(&json));
                    op = name.into();
                }
                Ok(Transition::Changed { entity: None, .. }) => {
                    fail(format!("{name}: no entity in automatic mode"));
                    continue;
                }
                Ok(Transition::Unchanged) => op = format!("{name}="),
                Err(err) => {
                    fail(format!("transition: {err:?}"));
                    continue;
                }
            }
        } else if pick(mix.check) {
            t0 = mono_ns();
            let result = tracker.check();
            t1 = mono_ns();
            if let Err(err) = result {
                fail(format!("check: {err:?}"));
                continue;
            }
            op = "check".into();
        } else {
            t0 = mono_ns();
            let result = tracker.track(None, None);
            t1 = mono_ns();
            match result {
                Ok(Some(json)) => entity = Some(parse_entity(&json)),
                Ok(None) => {
                    fail("track: no entity in automatic mode".into());
                    continue;
                }
                Err(err) => {
                    fail(format!("track: {err:?}"));
                    continue;
                }
            }
            op = "track".into();
        }
        let hooks = take_hook_lines();
        let got = if mix.getter {
            match getter(&tracker) {
                Ok(got) => got,
                Err(err) => {
                    fail(format!("state: {err:?}"));
                    None
                }
            }
        } else {
            None
        };
        emit(
            &op,
            proc_no,
            thread,
            t0,
            t1,
            entity.as_ref(),
            got.as_ref(),
            hooks,
        );
    }
}

/// A child process: `threads` threads on one handle until killed.
fn run_child(open: impl FnOnce() -> SeshResult<Tracker>, threads: usize, mix: Mix) -> ! {
    let proc_no: usize = env_u64(PROC_ENV).unwrap() as usize;
    let seed = env_u64(SEED_ENV).unwrap();
    let _ = take_hook_lines();
    let t0 = mono_ns();
    let tracker = match open() {
        Ok(tracker) => Arc::new(tracker),
        Err(err) => {
            fail(format!("open: {err:?}"));
            std::process::exit(3);
        }
    };
    let t1 = mono_ns();
    if let Ok(Some(fault)) = tracker.last_fault() {
        fail(format!("open left a fault: {fault:?}"));
    }
    emit("open", proc_no, 0, t0, t1, None, None, take_hook_lines());
    let handles: Vec<_> = (0..threads)
        .map(|thread| {
            let tracker = Arc::clone(&tracker);
            std::thread::spawn(move || child_thread(tracker, proc_no, thread, seed, mix))
        })
        .collect();
    for handle in handles {
        let _ = handle.join();
    }
    fail("a child thread ended".into());
    std::process::exit(4);
}

/// The child side of a test: in the process `spawn_child` started for `test`, opens the
/// store at the path it was given and tracks until killed.
fn serve_if_child(
    test: &str,
    threads: usize,
    mix: Mix,
    open: impl FnOnce(&Path) -> SeshResult<Tracker>,
) {
    if std::env::var(CHILD_ENV).as_deref() == Ok(test) {
        let path = PathBuf::from(std::env::var_os(PATH_ENV).unwrap());
        run_child(|| open(&path), threads, mix);
    }
}

// ----- what the parent reads --------------------------------------------------------------

#[derive(Debug, Clone)]
enum Line {
    Op {
        op: String,
        t0: i64,
        t1: i64,
        entity: Option<Ent>,
        got: Option<Getter>,
    },
    Start {
        t0: i64,
        t1: i64,
        ent: Ent,
    },
    End {
        t0: i64,
        t1: i64,
        user: String,
        sid: String,
        sidx: u32,
        count: u32,
        reason: String,
    },
    Fail(String),
}

fn parse_line(text: &str) -> Option<Line> {
    if let Some(message) = text.strip_prefix("X ") {
        return Some(Line::Fail(message.to_owned()));
    }
    let parts: Vec<&str> = text.split(' ').collect();
    if parts.last() != Some(&".") {
        return None;
    }
    let num = |s: &str| s.parse::<i64>().ok();
    match parts[0] {
        "L" if parts.len() == 16 => {
            let entity = if parts[6] == "-" {
                None
            } else {
                Some(Ent {
                    user: parts[6].to_owned(),
                    sid: parts[7].to_owned(),
                    sidx: parts[8].parse().ok()?,
                    eidx: parts[9].parse().ok()?,
                })
            };
            let got = if parts[10] == "-" {
                None
            } else {
                Some(Getter {
                    t1: num(parts[10])?,
                    user: parts[11].to_owned(),
                    sid: parts[12].to_owned(),
                    sidx: parts[13].parse().ok()?,
                    la: num(parts[14])?,
                })
            };
            Some(Line::Op {
                op: parts[1].to_owned(),
                t0: num(parts[4])?,
                t1: num(parts[5])?,
                entity,
                got,
            })
        }
        "S" if parts.len() == 10 => Some(Line::Start {
            t0: num(parts[3])?,
            t1: num(parts[4])?,
            ent: Ent {
                user: parts[5].to_owned(),
                sid: parts[6].to_owned(),
                sidx: parts[7].parse().ok()?,
                eidx: parts[8].parse().ok()?,
            },
        }),
        "E" if parts.len() == 11 => Some(Line::End {
            t0: num(parts[3])?,
            t1: num(parts[4])?,
            user: parts[5].to_owned(),
            sid: parts[6].to_owned(),
            sidx: parts[7].parse().ok()?,
            count: parts[8].parse().ok()?,
            reason: parts[9].to_owned(),
        }),
        _ => None,
    }
}

/// A child's lines as the parent takes them: the test harness's own lines are skipped; a
/// line of ours that does not parse can only be the last (cut by the kill).
fn parse_lines(lines: &[String], what: &str) -> Vec<Line> {
    let ours: Vec<&String> = lines
        .iter()
        .filter(|l| {
            l.starts_with("L ") || l.starts_with("S ") || l.starts_with("E ") || l.starts_with("X ")
        })
        .collect();
    let mut parsed = Vec::with_capacity(ours.len());
    for (i, line) in ours.iter().enumerate() {
        match parse_line(line) {
            Some(Line::Fail(message)) => panic!("{what}: a child's call failed: {message}"),
            Some(line) => parsed.push(line),
            None if i + 1 == ours.len() => {}
            None => panic!("{what}: a line that is not the last one was cut: {line:?}"),
        }
    }
    parsed
}

// ----- the SQLite handles ------------------------------------------------------------------

fn open_sqlite(path: &Path) -> SeshResult<Tracker> {
    Tracker::open(Parts {
        config: Config::default(),
        clock: Box::new(SystemClock::new()),
        ids: Box::new(RandomIds),
        store: Box::new(SqliteStore::open(path)?),
        hooks: Box::new(LineHooks),
    })
}

// ----- 1. four processes, four threads ----------------------------------------------------

const FOUR: &str = "four_processes_four_threads_killed_at_random";
const PROCS: usize = 4;
const THREADS: usize = 4;
/// Calls in flight at the kills of one round: each thread has at most one.
const IN_FLIGHT: usize = PROCS * THREADS;

/// One sighting of a session: it was the namespace's current session at some instant
/// between `t0` and `t1`.
#[derive(Debug, Clone, Copy)]
struct Sighting {
    t0: i64,
    t1: i64,
}

#[derive(Debug, Default)]
struct SessionLog {
    /// (userId, sessionIndex) as each sighting showed it.
    ids: HashSet<(String, u32)>,
    sightings: Vec<Sighting>,
    /// Event indexes returned by `track` and transitions, with the round.
    events: Vec<u32>,
    /// Who handed each one out: (eventIndex, child, op, t0, t1), for failure reports.
    handed: Vec<(u32, usize, String, i64, i64)>,
    rounds: Vec<usize>,
    /// The highest last activity `state()` showed right after a call, in this session.
    max_la: Option<i64>,
    starts: usize,
    ends: Vec<EndLine>,
}

#[derive(Debug, Clone)]
struct EndLine {
    t0: i64,
    t1: i64,
    user: String,
    sidx: u32,
    count: u32,
    reason: String,
    proc_no: usize,
}

#[derive(Default)]
struct Book {
    sessions: HashMap<String, SessionLog>,
    /// (spawn, kill) instants of every child.
    children: Vec<(i64, i64)>,
    events: usize,
    lines: usize,
    /// Calls per operation, for the report.
    ops: BTreeMap<String, usize>,
}

impl Book {
    fn sighting(&mut self, sid: &str, user: &str, sidx: u32, t0: i64, t1: i64, round: usize) {
        let log = self.sessions.entry(sid.to_owned()).or_default();
        log.ids.insert((user.to_owned(), sidx));
        log.sightings.push(Sighting { t0, t1 });
        log.rounds.push(round);
    }

    fn take(&mut self, lines: Vec<Line>, round: usize, proc_no: usize) {
        for line in lines {
            self.lines += 1;
            match line {
                Line::Op {
                    op,
                    t0,
                    t1,
                    entity,
                    got,
                } => {
                    *self.ops.entry(op.clone()).or_default() += 1;
                    if let Some(e) = entity {
                        self.sighting(&e.sid, &e.user, e.sidx, t0, t1, round);
                        let log = self.sessions.get_mut(&e.sid).unwrap();
                        log.events.push(e.eidx);
                        log.handed.push((e.eidx, proc_no, op, t0, t1));
                        self.events += 1;
                    }
                    if let Some(g) = got {
                        self.sighting(&g.sid, &g.user, g.sidx, t0, g.t1, round);
                        let log = self.sessions.get_mut(&g.sid).unwrap();
                        log.max_la = Some(log.max_la.map_or(g.la, |la| la.max(g.la)));
                    }
                }
                Line::Start { t0, t1, ent } => {
                    self.sighting(&ent.sid, &ent.user, ent.sidx, t0, t1, round);
                    self.sessions.get_mut(&ent.sid).unwrap().starts += 1;
                }
                Line::End {
                    t0,
                    t1,
                    user,
                    sid,
                    sidx,
                    count,
                    reason,
                } => {
                    self.sighting(&sid, &user, sidx, t0, t1, round);
                    self.sessions.get_mut(&sid).unwrap().ends.push(EndLine {
                        t0,
                        t1,
                        user,
                        sidx,
                        count,
                        reason,
                        proc_no,
                    });
                }
                Line::Fail(_) => unreachable!(),
            }
        }
    }

    /// The reopened handle's session against what the children were handed.
    fn check_reopened(&self, state: &NamespaceState, round: usize, seed: u64) {
        let user = state.user_id.to_string();
        let highest_seen = self
            .sessions
            .values()
            .flat_map(|log| log.ids.iter())
            .filter(|(u, _)| *u == user)
            .map(|(_, sidx)| *sidx)
            .max()
            .unwrap_or(0);
        assert!(
            state.session_index >= highest_seen,
            "seed {seed} round {round}: reopened sessionIndex {} < {highest_seen} seen for user {user}",
            state.session_index
        );
        let Some(session) = &state.session else {
            return;
        };
        let sid = session.id.to_string();
        match self.sessions.get(&sid) {
            Some(log) => {
                assert!(
                    log.ids.contains(&(user.clone(), state.session_index)),
                    "seed {seed} round {round}: reopened session {sid} shows ({user}, {}), the \
                     children saw {:?}",
                    state.session_index,
                    log.ids
                );
                assert_eq!(
                    state.session_index, highest_seen,
                    "seed {seed} round {round}: the reopened session {sid} is not the last one seen"
                );
                if let Some(&max) = log.events.iter().max() {
                    assert!(
                        session.event_index >= max,
                        "seed {seed} round {round}: reopened eventIndex {} < {max} returned in \
                         session {sid}",
                        session.event_index
                    );
                }
                if let Some(max_la) = log.max_la {
                    assert!(
                        session.last_activity >= max_la,
                        "seed {seed} round {round}: reopened last activity {} < {max_la} shown \
                         in session {sid} (lost {} ms)",
                        session.last_activity,
                        max_la - session.last_activity
                    );
                }
            }
            None => assert!(
                state.session_index > highest_seen,
                "seed {seed} round {round}: the reopened session {sid} was never seen, yet its \
                 sessionIndex {} is not past {highest_seen}",
                state.session_index
            ),
        }
    }
}

/// Sightings sorted by `t0`, with the smallest `t1` of each suffix: the first instant a
/// sighting that began after a given time proves the session current.
struct Timeline {
    t0s: Vec<i64>,
    suffix_min_t1: Vec<i64>,
}

impl Timeline {
    fn new(sightings: &[Sighting]) -> Timeline {
        let mut sorted = sightings.to_vec();
        sorted.sort_by_key(|s| s.t0);
        let mut suffix_min_t1 = vec![i64::MAX; sorted.len() + 1];
        for i in (0..sorted.len()).rev() {
            suffix_min_t1[i] = suffix_min_t1[i + 1].min(sorted[i].t1);
        }
        Timeline {
            t0s: sorted.iter().map(|s| s.t0).collect(),
            suffix_min_t1,
        }
    }
    /// The smallest `t1` of the sightings that began after `after`.
    fn first_after(&self, after: i64) -> i64 {
        let at = self.t0s.partition_point(|&t0| t0 <= after);
        self.suffix_min_t1[at]
    }
}

/// The checks over every line of every round (a)–(d).
fn check_book(book: &Book, final_sid: Option<&str>, final_at: i64, seed: u64) {
    // (a) one sessionIndex and one userId per session id; one session id per (user, index).
    let mut by_user: HashMap<&str, BTreeMap<u32, &str>> = HashMap::new();
    for (sid, log) in &book.sessions {
        assert_eq!(
            log.ids.len(),
            1,
            "seed {seed}: session {sid} was shown with several (userId, sessionIndex): {:?}",
            log.ids
        );
        let (user, sidx) = log.ids.iter().next().unwrap();
        if let Some(other) = by_user.entry(user).or_default().insert(*sidx, sid) {
            panic!("seed {seed}: user {user} has sessionIndex {sidx} twice: {other} and {sid}");
        }
    }
    // (a) + (c): in each user's sessions, by sessionIndex, no sighting of an earlier session
    // began after a sighting of a later one ended: sessions do not overlap, and the index
    // never goes down in time.
    let span = |sid: &str| {
        let s = &book.sessions[sid].sightings;
        (
            s.iter().map(|s| s.t0).max().unwrap(),
            s.iter().map(|s| s.t1).min().unwrap(),
        )
    };
    for (user, sessions) in &by_user {
        let ordered: Vec<(u32, &str)> = sessions.iter().map(|(i, s)| (*i, *s)).collect();
        let mut later_min_t1 = i64::MAX;
        let mut later_sid = "";
        for &(sidx, sid) in ordered.iter().rev() {
            let (max_t0, min_t1) = span(sid);
            assert!(
                max_t0 <= later_min_t1,
                "seed {seed}: user {user}: session {sid} (index {sidx}) was current at a call \
                 that began {} ns after a call that saw the later session {later_sid} had ended",
                max_t0 - later_min_t1
            );
            if min_t1 < later_min_t1 {
                later_min_t1 = min_t1;
                later_sid = sid;
            }
        }
    }

    let timelines: HashMap<&str, Timeline> = book
        .sessions
        .iter()
        .map(|(sid, log)| (sid.as_str(), Timeline::new(&log.sightings)))
        .collect();
    let mut missing_ends = 0;
    for (sid, log) in &book.sessions {
        // (b) event indexes unique; the ones missing at most the calls in flight at kills.
        let first = *log.rounds.iter().min().unwrap();
        let last = *log.rounds.iter().max().unwrap();
        // A session may have been made in the round before it was first seen, by a call
        // the kill cut short, and have drawn indexes there.
        let live_rounds = last - first + 1 + usize::from(first > 0);
        let allowance = IN_FLIGHT * live_rounds;
        let mut indexes = log.events.clone();
        indexes.sort_unstable();
        for pair in indexes.windows(2) {
            assert_ne!(
                pair[0], pair[1],
                "seed {seed}: eventIndex {} handed out twice in session {sid}",
                pair[0]
            );
        }
        let max = indexes.last().copied().unwrap_or(0);
        let missing = max as usize - indexes.len();
        if missing > allowance {
            let mut gaps = Vec::new();
            let mut expected = 1;
            for &index in &indexes {
                if index > expected {
                    gaps.push(format!("{expected}..={}", index - 1));
                }
                expected = index + 1;
            }
            // Around the widest gap: who handed out the indexes on each side, and the
            // children's lives (ns, CLOCK_MONOTONIC).
            let mut widest = (0, 0);
            let mut expected = 1;
            for &index in &indexes {
                if index - expected > widest.1 - widest.0 {
                    widest = (expected, index);
                }
                expected = index + 1;
            }
            let near: Vec<_> = log
                .handed
                .iter()
                .filter(|h| h.0 + 3 >= widest.0 && h.0 <= widest.1 + 2)
                .collect();
            let (lo, hi) = (
                near.iter().map(|h| h.3).min().unwrap_or(0),
                near.iter().map(|h| h.4).max().unwrap_or(0),
            );
            let lives: Vec<_> = book
                .children
                .iter()
                .enumerate()
                .filter(|(_, (spawned, killed))| *spawned < hi && *killed > lo)
                .collect();
            panic!(
                "seed {seed}: session {sid} lacks {missing} of its indexes 1..={max}, more than \
                 the {allowance} calls in flight at the kills of its {live_rounds} rounds \
                 {first}..={last}; missing: {}; around the widest gap \
                 (eventIndex, child, op, t0, t1): {near:?}; children alive then \
                 (child, (spawned, killed)): {lives:?}",
                gaps.join(", ")
            );
        }
        if let Some(&zero) = indexes.first() {
            assert!(zero >= 1, "seed {seed}: eventIndex 0 returned by an event");
        }
        assert!(
            log.starts <= 1,
            "seed {seed}: session {sid} reported as started {} times",
            log.starts
        );

        // (d) the end summaries.
        assert!(
            log.ends.len() <= 1,
            "seed {seed}: session {sid} reported as ended {} times: {:?}",
            log.ends.len(),
            log.ends
        );
        let (user, sidx) = log.ids.iter().next().unwrap();
        let (max_t0, _) = span(sid);
        let max_t1 = log.sightings.iter().map(|s| s.t1).max().unwrap();
        if let Some(end) = log.ends.first() {
            assert!(
                end.reason == "new_session" || end.reason == "user_changed",
                "seed {seed}: session {sid} ended for {} (only new_session and reset_user end \
                 sessions here)",
                end.reason
            );
            assert_eq!(
                (&end.user, end.sidx),
                (user, *sidx),
                "seed {seed}: {sid}'s summary"
            );
            assert!(
                end.count >= max,
                "seed {seed}: session {sid}'s eventCount {} < the highest eventIndex returned \
                 in it, {max}",
                end.count
            );
            assert!(
                end.count as usize <= indexes.len() + allowance,
                "seed {seed}: session {sid}'s eventCount {} exceeds the {} distinct indexes \
                 returned by more than {allowance}",
                end.count,
                indexes.len()
            );
            assert!(
                max_t0 <= end.t1,
                "seed {seed}: session {sid} was current at a call that began after the call \
                 (child {}) that ended it had returned",
                end.proc_no
            );
            assert_ne!(
                final_sid,
                Some(sid.as_str()),
                "seed {seed}: session {sid} reported ended, yet it runs at the final close"
            );
            let _ = end.t0;
        } else {
            // Ended: another session was current after this one last was, or the final
            // handle found another one.
            let ended_by = timelines
                .iter()
                .filter(|(other, _)| **other != sid.as_str())
                .map(|(_, timeline)| timeline.first_after(max_t1))
                .min()
                .unwrap_or(i64::MAX)
                .min(if final_sid != Some(sid.as_str()) {
                    final_at
                } else {
                    i64::MAX
                });
            if ended_by == i64::MAX {
                continue;
            }
            // The call that ended it began before `ended_by` and did not return: its
            // process was killed after the session's last sighting began.
            let excused = book
                .children
                .iter()
                .any(|&(spawned, killed)| spawned < ended_by && killed > max_t0);
            assert!(
                excused,
                "seed {seed}: session {sid} ended (another was current by {ended_by}) but no \
                 end was reported, and no child was killed while that could have been in flight"
            );
            missing_ends += 1;
        }
    }
    eprintln!("{missing_ends} sessions ended in calls cut short by a kill (no END line)");
}

#[test]
fn four_processes_four_threads_killed_at_random() {
    serve_if_child(
        FOUR,
        THREADS,
        Mix {
            reset_user: 10,
            new_session: 100,
            transition: 1_000,
            check: 1_000,
            getter: true,
        },
        open_sqlite,
    );
    let rounds = rounds(75);
    let seed = seed();
    eprintln!("{FOUR}: seed {seed}, {rounds} rounds");
    let dir = temp_dir("crash-shared");
    let path = dir.join("shared.db");
    let mut rng = Rng::new(seed);
    let mut book = Book::default();
    let began = Instant::now();
    let mut final_sid = None;
    let mut final_at = 0;
    for round in 0..rounds {
        let children: Vec<Running> = (0..PROCS)
            .map(|i| spawn_child(FOUR, &path, round * PROCS + i, seed))
            .collect();
        let after: Vec<Duration> = (0..PROCS)
            .map(|_| Duration::from_micros(2_000 + rng.below(38_001)))
            .collect();
        for (running, lines) in kill_at(children, &after) {
            book.children.push((running.started_ns, running.killed_ns));
            let what = format!("seed {seed} round {round} child {}", running.proc_no);
            book.take(parse_lines(&lines, &what), round, running.proc_no);
        }

        // A fresh handle opens what the kills left.
        let _ = take_hook_lines();
        let t0 = mono_ns();
        let tracker = open_sqlite(&path).expect("the handle opens after the kills");
        let fault = tracker.last_fault().unwrap();
        assert_eq!(
            fault, None,
            "seed {seed} round {round}: the reopened handle found a fault"
        );
        assert_eq!(integrity(&path), "ok", "seed {seed} round {round}");
        let state = tracker.state().unwrap();
        book.check_reopened(&state, round, seed);
        tracker.close().unwrap();
        let t1 = mono_ns();
        // A `reset_user` killed after it set the new user and before it ended the session
        // took effect: the first call to see it ends the session (`user_changed`) and
        // reports it, here the reopened handle at its open (behaviour §9: an end found at
        // open is reported by the handle that found it). Anything else is a failure.
        let mut found_at_open = Vec::new();
        for hook in take_hook_lines() {
            match hook {
                HookLine::End {
                    user,
                    sid,
                    sidx,
                    count,
                    reason,
                } if reason == "user_changed" => found_at_open.push(Line::End {
                    t0,
                    t1,
                    user,
                    sid,
                    sidx,
                    count,
                    reason,
                }),
                other => {
                    panic!("seed {seed} round {round}: the reopened handle reported {other:?}")
                }
            }
        }
        assert!(
            found_at_open.len() <= 1,
            "seed {seed} round {round}: the reopened handle ended {} sessions",
            found_at_open.len()
        );
        book.take(found_at_open, round, PROCS);
        final_sid = state.session.as_ref().map(|s| s.id.to_string());
        final_at = t1;
    }
    check_book(&book, final_sid.as_deref(), final_at, seed);
    eprintln!(
        "{FOUR}: {rounds} rounds, {} kills, {} lines, {} events, {} sessions in {:.1} s",
        book.children.len(),
        book.lines,
        book.events,
        book.sessions.len(),
        began.elapsed().as_secs_f64()
    );
    eprintln!("{FOUR}: calls {:?}", book.ops);
    assert!(
        book.events > rounds,
        "the children tracked only {} events",
        book.events
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- 2. eight threads, one process ------------------------------------------------------

const EIGHT: usize = 8;

/// What the handles of a store handed out: every event index per session and every
/// session's (user, index), checked as they come.
#[derive(Default)]
struct Handed {
    events: HashMap<String, HashSet<u32>>,
    ids: HashMap<String, (String, u32)>,
    by_index: HashMap<(String, u32), String>,
    /// Per session: the highest floor of last activity the host was shown (see below).
    la_floor: HashMap<String, i64>,
    count: usize,
}

impl Handed {
    fn session(&mut self, ent: &Ent, what: &str) {
        let id = (ent.user.clone(), ent.sidx);
        match self.ids.get(&ent.sid) {
            Some(known) => assert_eq!(
                known, &id,
                "{what}: session {} changed its (userId, sessionIndex)",
                ent.sid
            ),
            None => {
                if let Some(other) = self.by_index.get(&id) {
                    panic!(
                        "{what}: sessionIndex {} of user {} repeated: sessions {other} and {}",
                        ent.sidx, ent.user, ent.sid
                    );
                }
                self.ids.insert(ent.sid.clone(), id.clone());
                self.by_index.insert(id, ent.sid.clone());
            }
        }
    }

    fn event(&mut self, ent: &Ent, what: &str) {
        self.session(ent, what);
        self.count += 1;
        assert!(
            self.events
                .entry(ent.sid.clone())
                .or_default()
                .insert(ent.eidx),
            "{what}: eventIndex {} handed out twice in session {}",
            ent.eidx,
            ent.sid
        );
    }

    fn take(&mut self, lines: &[Line], what: &str) {
        for line in lines {
            match line {
                Line::Op {
                    t0, entity, got, ..
                } => {
                    if let Some(e) = entity {
                        self.event(e, what);
                    }
                    if let Some(g) = got {
                        // The call's own activity is at least what `state()` showed less the
                        // time from the call's start to the getter's end.
                        let window_ms = (g.t1 - t0) / 1_000_000 + 2;
                        let floor = g.la - window_ms;
                        let entry = self.la_floor.entry(g.sid.clone()).or_insert(floor);
                        *entry = (*entry).max(floor);
                    }
                }
                Line::Start { ent, .. } => self.session(ent, what),
                Line::End {
                    user, sid, sidx, ..
                } => self.session(
                    &Ent {
                        user: user.clone(),
                        sid: sid.clone(),
                        sidx: *sidx,
                        eidx: 0,
                    },
                    what,
                ),
                Line::Fail(_) => unreachable!(),
            }
        }
    }

    /// The highest sessionIndex seen for `user`.
    fn highest_index(&self, user: &str) -> u32 {
        self.by_index
            .keys()
            .filter(|(u, _)| u == user)
            .map(|(_, i)| *i)
            .max()
            .unwrap_or(0)
    }

    /// The first event a reopened handle tracks: never an index handed out before in its
    /// session, at most `skip` past the highest one, and never an old session.
    fn check_next(&mut self, ent: &Ent, skip: u32, what: &str) {
        let highest = self.highest_index(&ent.user);
        match self.events.get(&ent.sid) {
            Some(indexes) => {
                let max = indexes.iter().copied().max().unwrap_or(0);
                assert!(
                    ent.eidx > max,
                    "{what}: the reopened handle's event has eventIndex {} in session {}, which \
                     handed out up to {max}",
                    ent.eidx,
                    ent.sid
                );
                assert!(
                    ent.eidx <= max + skip,
                    "{what}: the reopened handle's event has eventIndex {} in session {}: {} \
                     past the highest returned, {max}, more than the {skip} allowed",
                    ent.eidx,
                    ent.sid,
                    ent.eidx - max
                );
                assert_eq!(
                    ent.sidx, highest,
                    "{what}: the reopened handle went on with session {}, not the last one seen",
                    ent.sid
                );
            }
            None if self.ids.contains_key(&ent.sid) => {
                assert_eq!(ent.sidx, highest, "{what}: an older session went on");
            }
            None => assert!(
                ent.sidx > highest,
                "{what}: the reopened handle started session {} with sessionIndex {}, not past \
                 {highest}",
                ent.sid,
                ent.sidx
            ),
        }
        self.event(ent, what);
    }
}

const SQLITE8: &str = "eight_threads_on_sqlite_killed_repeat_nothing";

#[test]
fn eight_threads_on_sqlite_killed_repeat_nothing() {
    serve_if_child(
        SQLITE8,
        EIGHT,
        Mix {
            reset_user: 0,
            new_session: 50,
            transition: 500,
            check: 0,
            getter: false,
        },
        open_sqlite,
    );
    // SQLite loses nothing a returned call handed out: only the indexes drawn by the eight
    // calls in flight at the kill may be skipped.
    eight_threads_killed(
        SQLITE8,
        rounds(100),
        "eight.db",
        EIGHT as u32 + 1,
        open_sqlite,
        |_, path, _, what| assert_eq!(integrity(path), "ok", "{what}"),
    );
}

/// One process of eight threads on the store at `file`, SIGKILLed at a random instant,
/// `rounds` times. After each kill the store opens without a fault, `check` looks at it, and
/// the next event goes on past every index handed out, skipping at most `skip`.
fn eight_threads_killed(
    test: &str,
    rounds: usize,
    file: &str,
    skip: u32,
    open: impl Fn(&Path) -> SeshResult<Tracker>,
    check: impl Fn(&Tracker, &Path, &Handed, &str),
) {
    let seed = seed();
    eprintln!("{test}: seed {seed}, {rounds} rounds");
    let dir = temp_dir(test);
    let path = dir.join(file);
    let mut rng = Rng::new(seed);
    let mut handed = Handed::default();
    let began = Instant::now();
    for round in 0..rounds {
        let what = format!("seed {seed} round {round}");
        let child = spawn_child(test, &path, round, seed);
        let after = [Duration::from_micros(3_000 + rng.below(57_001))];
        for (_, lines) in kill_at(vec![child], &after) {
            handed.take(&parse_lines(&lines, &what), &what);
        }
        let tracker = open(&path).expect("the handle opens after the kill");
        assert_eq!(
            tracker.last_fault().unwrap(),
            None,
            "{what}: a fault at open"
        );
        check(&tracker, &path, &handed, &what);
        let entity = parse_entity(&tracker.track(None, None).unwrap().unwrap());
        handed.check_next(&entity, skip, &what);
        tracker.close().unwrap();
        let _ = take_hook_lines();
    }
    eprintln!(
        "{test}: {rounds} kills, {} events, {} sessions in {:.1} s",
        handed.count,
        handed.ids.len(),
        began.elapsed().as_secs_f64()
    );
    assert!(
        handed.count > rounds,
        "the child tracked only {} events",
        handed.count
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- a custom store: records in a file, written atomically ------------------------------

/// One `save_state` call, decoded.
#[derive(Debug, Clone)]
struct Written {
    sid: Option<String>,
    sidx: u32,
    eidx: u32,
    lifecycle: (u32, u32),
    la: i64,
}

/// A host's store: the user id and each namespace's state in one JSON file, replaced
/// whole (written to a temporary file, then renamed over it) on every write; every state
/// written is also appended to `log`.
struct FileStore {
    path: PathBuf,
    user: Option<String>,
    states: BTreeMap<String, String>,
    log: Arc<Mutex<Vec<Written>>>,
}

impl FileStore {
    fn open(path: &Path, log: Arc<Mutex<Vec<Written>>>) -> FileStore {
        let mut store = FileStore {
            path: path.to_owned(),
            user: None,
            states: BTreeMap::new(),
            log,
        };
        if let Ok(text) = std::fs::read_to_string(path) {
            let v: serde_json::Value =
                serde_json::from_str(&text).expect("the file store is always whole");
            store.user = v["user"].as_str().map(str::to_owned);
            for (ns, state) in v["states"].as_object().unwrap() {
                store
                    .states
                    .insert(ns.clone(), state.as_str().unwrap().to_owned());
            }
        }
        store
    }

    fn persist(&self) -> SeshResult<()> {
        let text = serde_json::json!({"user": self.user, "states": self.states}).to_string();
        let mut temp = self.path.as_os_str().to_owned();
        temp.push(".tmp");
        std::fs::write(&temp, text)
            .and_then(|_| std::fs::rename(&temp, &self.path))
            .map_err(|e| Error::store(format!("file store: {e}")))
    }

    fn record(&self, state_json: &str) {
        let state = state::decode(state_json).expect("sesh writes states it can read");
        let written = Written {
            sid: state.session.as_ref().map(|s| s.id.to_string()),
            sidx: state.session_index,
            eidx: state.session.as_ref().map_or(0, |s| s.event_index),
            lifecycle: state
                .session
                .as_ref()
                .map_or((0, 0), |s| (s.background_index, s.foreground_index)),
            la: state.session.as_ref().map_or(0, |s| s.last_activity),
        };
        self.log.lock().unwrap().push(written);
    }
}

impl Store for FileStore {
    fn storage_mechanism(&self) -> StorageMechanism {
        StorageMechanism::LocalStorage
    }
    fn load_user(&mut self) -> SeshResult<Option<String>> {
        Ok(self.user.clone())
    }
    fn save_user(&mut self, user_id: &str) -> SeshResult<()> {
        self.user = Some(user_id.to_owned());
        self.persist()
    }
    fn load_state(&mut self, namespace: &str) -> SeshResult<Option<String>> {
        Ok(self.states.get(namespace).cloned())
    }
    fn save_state(&mut self, namespace: &str, state: &str) -> SeshResult<()> {
        self.save(None, namespace, state)
    }
    fn save(&mut self, user_id: Option<&str>, namespace: &str, state: &str) -> SeshResult<()> {
        self.record(state);
        if let Some(user) = user_id {
            self.user = Some(user.to_owned());
        }
        self.states.insert(namespace.to_owned(), state.to_owned());
        self.persist()
    }
}

fn open_file_store(
    path: &Path,
    log: Arc<Mutex<Vec<Written>>>,
    hooks: Box<dyn Hooks>,
) -> SeshResult<Tracker> {
    Tracker::open(Parts {
        config: Config::default(),
        clock: Box::new(SystemClock::new()),
        ids: Box::new(RandomIds),
        store: Box::new(FileStore::open(path, log)),
        hooks,
    })
}

/// Writes never go back: no state written is older than one written before it (the last
/// one is the close's, which writes the exact index where the others reserved ahead).
fn check_write_order(log: &[Written]) {
    let mut left: HashSet<String> = HashSet::new();
    for (i, pair) in log.windows(2).enumerate() {
        let (a, b) = (&pair[0], &pair[1]);
        let at = format!(
            "writes {} and {}: {a:?} then {b:?}; writes {}..{}: {:#?}",
            i,
            i + 1,
            i.saturating_sub(6),
            (i + 8).min(log.len()),
            &log[i.saturating_sub(6)..(i + 8).min(log.len())]
        );
        assert!(b.sidx >= a.sidx, "sessionIndex went back, {at}");
        if a.sid != b.sid {
            if let Some(sid) = &b.sid {
                assert!(
                    !left.contains(sid),
                    "a session written again after it was left, {at}"
                );
            }
            if let (Some(_), Some(_)) = (&a.sid, &b.sid) {
                assert!(b.sidx > a.sidx, "a new session without a new index, {at}");
            }
            if let Some(sid) = &a.sid {
                left.insert(sid.clone());
            }
            continue;
        }
        if a.sid.is_none() {
            continue;
        }
        assert!(
            b.la >= a.la,
            "last activity went back within a session, {at}"
        );
        let (ab, af) = a.lifecycle;
        let (bb, bf) = b.lifecycle;
        assert!(
            bb >= ab && bf >= af,
            "lifecycle indexes went back within a session, {at}"
        );
        // Between two transitions the app state is one: in foreground the index written
        // is reserved ahead, in background it is exact, and neither goes back. The last
        // write (close) gives the exact index back, below the reservation: the caller
        // checks it against the handle's final state.
        let closing = i + 2 == log.len();
        if a.lifecycle == b.lifecycle && !closing {
            assert!(
                b.eidx >= a.eidx,
                "eventIndex went back within a session, {at}"
            );
        }
    }
}

const CUSTOM8: &str = "eight_threads_on_a_custom_store_write_in_order";

#[test]
fn eight_threads_on_a_custom_store_write_in_order() {
    const OPS: usize = 20_000;
    let seed = seed();
    eprintln!("{CUSTOM8}: seed {seed}");
    let dir = temp_dir("custom8");
    let path = dir.join("records.json");
    let log = Arc::new(Mutex::new(Vec::new()));
    let tracker = Arc::new(
        open_file_store(&path, Arc::clone(&log), Box::new(sesh::tracker::NoHooks)).unwrap(),
    );
    let began = Instant::now();
    let threads: Vec<_> = (0..EIGHT)
        .map(|thread| {
            let tracker = Arc::clone(&tracker);
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut rng = Rng::new(seed ^ thread as u64);
                let mut events = 0usize;
                for _ in 0..OPS {
                    let roll = rng.below(100_000);
                    let entity = if roll < 50 {
                        tracker.new_session().unwrap();
                        None
                    } else if roll < 1_050 {
                        let to_background = !tracker.in_background().unwrap();
                        match tracker.transition(to_background, None).unwrap() {
                            Transition::Changed { entity, .. } => entity,
                            Transition::Unchanged => None,
                        }
                    } else if roll < 1_550 {
                        tracker.check().unwrap();
                        None
                    } else {
                        tracker.track(None, None).unwrap()
                    };
                    let Some(json) = entity else { continue };
                    events += 1;
                    // The call returned: the store holds its entity, or something newer.
                    let ent = parse_entity(&json);
                    let log = log.lock().unwrap();
                    let last = log.last().expect("a write before the first entity");
                    if last.sid.as_deref() == Some(ent.sid.as_str()) {
                        assert!(
                            last.eidx >= ent.eidx,
                            "seed {seed}: eventIndex {} of session {} returned while the store \
                             held {}",
                            ent.eidx,
                            ent.sid,
                            last.eidx
                        );
                    } else {
                        assert!(
                            last.sidx > ent.sidx,
                            "seed {seed}: session {} (index {}) returned while the store held \
                             {last:?}",
                            ent.sid,
                            ent.sidx
                        );
                    }
                }
                events
            })
        })
        .collect();
    let events: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let state = tracker.state().unwrap();
    assert_eq!(tracker.last_fault().unwrap(), None);
    tracker.close().unwrap();
    let log = log.lock().unwrap().clone();
    check_write_order(&log);
    // The last write is the exact state the handle closed with.
    let last = log.last().unwrap();
    let session = state.session.as_ref().unwrap();
    assert_eq!(last.sid, Some(session.id.to_string()));
    assert_eq!(
        last.eidx, session.event_index,
        "close writes the exact index"
    );
    eprintln!(
        "{CUSTOM8}: {} threads x {OPS} operations, {events} events, {} writes in {:.1} s",
        EIGHT,
        log.len(),
        began.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

const CUSTOM8_KILLED: &str = "eight_threads_on_a_custom_store_killed_repeat_nothing";

#[test]
fn eight_threads_on_a_custom_store_killed_repeat_nothing() {
    serve_if_child(
        CUSTOM8_KILLED,
        EIGHT,
        Mix {
            reset_user: 0,
            new_session: 50,
            transition: 500,
            check: 500,
            getter: true,
        },
        |path| open_file_store(path, Arc::default(), Box::new(LineHooks)),
    );
    // A custom store may skip ahead by a reservation (64), past the eight calls in flight,
    // and lose at most a second of last activity.
    eight_threads_killed(
        CUSTOM8_KILLED,
        rounds(60),
        "records.json",
        EIGHT as u32 + 64 + 1,
        |path| open_file_store(path, Arc::default(), Box::new(LineHooks)),
        |tracker, _, handed, what| {
            let state = tracker.state().unwrap();
            if let Some(session) = &state.session {
                if let Some(&floor) = handed.la_floor.get(&session.id.to_string()) {
                    assert!(
                        session.last_activity >= floor - 1000,
                        "{what}: the store lost {} ms of last activity, more than a second",
                        floor - session.last_activity
                    );
                }
            }
        },
    );
}
