//! Fuzz target `state`: the persisted-state decoder and the whole open path on persisted text.
//!
//! One input is `STATE \0 USER \0 CONTROL` (see fuzz/README.md; an empty STATE or USER means
//! "nothing stored"). The target
//!
//! 1. decodes STATE with `engine::state::decode`; what decodes must encode and decode back to
//!    the same state;
//! 2. puts STATE and USER in a `MemoryStore` (`put_raw_state`, `put_raw_user`), opens a
//!    `Tracker` on it with the options CONTROL's first bytes choose, and checks that the open
//!    reports `corrupt_state` exactly when the stored text is unreadable;
//! 3. runs CONTROL's operations (events, transitions, session controls, clock jumps, a close
//!    and reopen on the same store), checking after each one that everything sesh wrote to the
//!    store decodes, that every entity and callback JSON parses and fits
//!    `MAX_ENTITY_SIZE`, and that a close leaves the exact state in the store.
//!
//! A broken invariant panics; the entry point turns any panic into an abort, which libFuzzer
//! reports as a crash. The C entry point is fuzz/state.c.

use sesh::Config;
use sesh::clock::{Clock, ManualClock};
use sesh::engine::Transition;
use sesh::engine::state::{self, NamespaceState};
use sesh::error::ErrorKind;
use sesh::id::{IdGenerator, parse_hyphenated};
use sesh::render::MAX_ENTITY_SIZE;
use sesh::store::{MemoryStore, Store};
use sesh::timestamp::MAX_TIMESTAMP_MS;
use sesh::tracker::{Hooks, LogLevel, Parts, Tracker};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The clock every input starts at: the tests' epoch, 2009-02-13T23:31:30.000Z.
pub const T0: i64 = 1_234_567_890_000;

/// How far the clock moves before an operation: the low 4 bits of its third byte.
pub const STEPS_MS: [i64; 16] = [
    0,
    1,
    500,
    999,
    1_000,
    1_001,
    29_999,
    30_000,
    60_000,
    1_799_999,
    1_800_000,
    1_800_001,
    3_600_000,
    86_400_000,
    7 * 86_400_000,
    1_000_000_000,
];

/// One input, split.
pub struct Input<'a> {
    pub state: Option<&'a [u8]>,
    pub user: Option<&'a [u8]>,
    pub control: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn split(data: &'a [u8]) -> Input<'a> {
        let mut parts = data.splitn(3, |b| *b == 0);
        let state = parts.next().filter(|p| !p.is_empty());
        let user = parts.next().filter(|p| !p.is_empty());
        let control = parts.next().unwrap_or(&[]);
        Input {
            state,
            user,
            control,
        }
    }

    fn header(&self, i: usize) -> u8 {
        self.control.get(i).copied().unwrap_or(0)
    }

    /// The operations: what follows the 4 header bytes, 3 bytes each.
    fn ops(&self) -> impl Iterator<Item = (u8, u8, u8)> + '_ {
        self.control.get(4..).unwrap_or(&[]).chunks(3).map(|c| {
            (
                c[0],
                c.get(1).copied().unwrap_or(0),
                c.get(2).copied().unwrap_or(0),
            )
        })
    }
}

/// The options header byte 0 and 1 choose (the C harness `custom_store` reads them alike).
pub fn config_from(h0: u8, h1: u8) -> Config {
    const FOREGROUND: [u64; 4] = [1800, 1, 30, 5];
    const BACKGROUND: [u64; 4] = [1800, 1, 60, 3600];
    const MAX_DURATION: [u64; 4] = [0, 60, 3600, 1];
    const NAMESPACES: [&str; 4] = ["default", "default", "ns", "a.b"];
    Config {
        namespace: NAMESPACES[usize::from((h1 >> 2) & 3)].to_owned(),
        foreground_timeout_seconds: FOREGROUND[usize::from((h0 >> 4) & 3)],
        background_timeout_seconds: BACKGROUND[usize::from(h0 >> 6)],
        continue_on_restart: h0 & 1 == 0,
        anonymous: h0 & 2 != 0,
        automatic: h0 & 4 == 0,
        max_duration_seconds: MAX_DURATION[usize::from(h1 & 3)],
        start_in_background: h0 & 8 != 0,
    }
}

/// UUIDv4s from a counter shared by every tracker of one input, so that a reopen draws
/// fresh ones.
struct Counter(Arc<AtomicU64>);

impl IdGenerator for Counter {
    fn next_id(&mut self) -> uuid::Uuid {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        let mut bytes = [0u8; 16];
        bytes[8..].copy_from_slice(&n.to_be_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

/// Hooks that check what they are handed.
struct Checking;

impl Hooks for Checking {
    fn session_started(&self, entity_json: &str) {
        check_entity(entity_json);
    }
    fn session_ended(&self, summary_json: &str) {
        let summary: serde_json::Value =
            serde_json::from_str(summary_json).expect("a session-end summary is JSON");
        assert!(summary.is_object(), "summary {summary_json}");
    }
    fn log(&self, _level: LogLevel, message: &str) {
        assert!(!message.is_empty());
    }
}

fn check_entity(json: &str) {
    assert!(
        json.len() < MAX_ENTITY_SIZE,
        "an entity of {} bytes: {json}",
        json.len()
    );
    let entity: serde_json::Value = serde_json::from_str(json).expect("an entity is JSON");
    let data = &entity["data"];
    for key in ["sessionIndex", "eventIndex"] {
        let n = data[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} in {json}"));
        assert!(n <= i32::MAX as u64, "{key} out of range in {json}");
    }
    assert!(data["sessionIndex"].as_u64() >= Some(1), "{json}");
    for key in ["userId", "sessionId"] {
        let id = data[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} in {json}"));
        assert!(parse_hyphenated(id).is_some(), "{key} in {json}");
    }
}

fn check_lifecycle(json: &str) {
    let event: serde_json::Value = serde_json::from_str(json).expect("a lifecycle event is JSON");
    assert!(event["data"].is_object(), "{json}");
}

/// Decoding: never panics; what decodes round-trips.
fn check_decode(text: &str) -> Option<NamespaceState> {
    let decoded = state::decode(text).ok()?;
    let again = state::decode(&state::encode(&decoded))
        .unwrap_or_else(|e| panic!("sesh cannot read what it wrote for {text:?}: {e}"));
    assert_eq!(again, decoded, "encode/decode round trip of {text:?}");
    Some(decoded)
}

/// What sesh wrote to the store reads back.
fn check_store(store: &MemoryStore, namespace: &str) {
    if let Some(text) = store.raw_state(namespace)
        && let Err(e) = state::decode(&text)
    {
        panic!("sesh wrote state it cannot read: {e}: {text}");
    }
    if let Some(user) = store.clone().load_user().expect("a memory store reads") {
        assert!(
            parse_hyphenated(&user).is_some(),
            "sesh wrote user id {user:?}"
        );
    }
}

struct Run {
    store: MemoryStore,
    clock: Arc<ManualClock>,
    ids: Arc<AtomicU64>,
    config: Config,
}

impl Run {
    fn open(&self) -> sesh::error::Result<Tracker> {
        Tracker::open(Parts {
            config: self.config.clone(),
            clock: Box::new(self.clock.clone()),
            ids: Box::new(Counter(self.ids.clone())),
            store: Box::new(self.store.clone()),
            hooks: Box::new(Checking),
        })
    }
}

/// A status that must never come out of a call on a live tracker.
fn check_result<T>(what: &str, result: &sesh::error::Result<T>) {
    if let Err(err) = result {
        assert_ne!(err.kind, ErrorKind::Panic, "{what}: {err:?}");
        assert!(
            !err.message.is_empty(),
            "{what}: an error without a message"
        );
    }
}

fn event_id(arg: u8) -> String {
    match arg >> 5 {
        0..=3 => format!("eeeeeeee-0000-4000-8000-{:012x}", arg & 0x3f),
        4 => format!("EEEEEEEE-0000-4000-8000-{:012X}", arg & 0x1f),
        5 => "eeeeeeee00004000800000000000000f".to_owned(),
        6 => "{eeeeeeee-0000-4000-8000-00000000000f}".to_owned(),
        _ => "not-a-uuid".to_owned(),
    }
}

fn clock_jump(arg: u8, now: i64) -> i64 {
    match arg & 15 {
        0 => 0,
        1 => -1,
        2 => T0,
        3 => now.saturating_sub(1),
        4 => now.saturating_sub(1_000),
        5 => now.saturating_sub(1_800_000),
        6 => MAX_TIMESTAMP_MS,
        7 => MAX_TIMESTAMP_MS + 1,
        8 => i64::MAX,
        9 => i64::MIN,
        10 => now.saturating_add(i64::from(arg) * 3_600_000),
        _ => now.saturating_sub(i64::from(arg) * 60_000),
    }
}

/// Runs one input; panics when an invariant breaks.
pub fn run_one(data: &[u8]) {
    let input = Input::split(data);
    let state_text = input.state.map(String::from_utf8_lossy);
    let user_text = input.user.map(String::from_utf8_lossy);

    // 1. The decoder alone.
    let decoded = state_text.as_deref().and_then(check_decode);

    // 2. Open on what the store holds.
    let run = Run {
        store: MemoryStore::new(),
        clock: Arc::new(ManualClock::new(T0)),
        ids: Arc::new(AtomicU64::new(0)),
        config: config_from(input.header(0), input.header(1)),
    };
    if let Some(text) = &state_text {
        run.store.put_raw_state(&run.config.namespace, text);
    }
    if let Some(text) = &user_text {
        run.store.put_raw_user(text);
    }
    let user_unreadable = user_text
        .as_deref()
        .is_some_and(|u| parse_hyphenated(u).is_none());
    let state_unreadable = state_text.is_some() && decoded.is_none();
    let mut tracker = run.open().expect("open on a memory store at a valid time");
    let fault = tracker.last_fault().expect("open").map(|f| f.kind);
    let expected = (user_unreadable || state_unreadable).then_some(ErrorKind::CorruptState);
    assert_eq!(
        fault, expected,
        "open's fault (user unreadable: {user_unreadable}, state unreadable: {state_unreadable})"
    );
    check_store(&run.store, &run.config.namespace);

    // 3. The operations.
    for (op, arg, step) in input.ops() {
        let now = run.clock.now_ms();
        run.clock
            .set(now.saturating_add(STEPS_MS[usize::from(step & 15)]));
        match op & 15 {
            0 => {
                let r = tracker.track(None, None);
                check_result("track", &r);
                if let Ok(Some(entity)) = &r {
                    check_entity(entity);
                }
            }
            1 => {
                let id = event_id(arg);
                let r = tracker.track(Some(&id), None);
                check_result("track with an id", &r);
                if let Ok(Some(entity)) = &r {
                    check_entity(entity);
                }
            }
            2 => {
                let ts = match arg & 3 {
                    0 => run.clock.now_ms(),
                    1 => T0 - i64::from(arg) * 1000,
                    2 => -i64::from(arg),
                    _ => MAX_TIMESTAMP_MS + i64::from(arg & 1),
                };
                let r = tracker.track(None, Some(ts));
                check_result("track at", &r);
                if let Ok(Some(entity)) = &r {
                    check_entity(entity);
                }
            }
            3 | 4 => {
                let id = (arg & 0x80 != 0).then(|| event_id(arg << 1));
                let r = tracker.transition(op & 15 == 3, id.as_deref());
                check_result("transition", &r);
                if let Ok(Transition::Changed {
                    lifecycle_event,
                    entity,
                }) = &r
                {
                    check_lifecycle(lifecycle_event);
                    if let Some(entity) = entity {
                        check_entity(entity);
                    }
                }
            }
            5 => check_result("new_session", &tracker.new_session()),
            6 => check_result("end_session", &tracker.end_session()),
            7 => check_result("check", &tracker.check()),
            8 => check_result("pause", &tracker.pause()),
            9 => check_result("resume", &tracker.resume()),
            10 => check_result("set_anonymous", &tracker.set_anonymous(arg & 1 == 1)),
            11 => check_result("reset_user", &tracker.reset_user()),
            12 => {
                let mut buffer = vec![0xAAu8; MAX_ENTITY_SIZE + usize::from(arg & 3)];
                let r = tracker.track_into(None, &mut buffer);
                check_result("track_into", &r);
                if let Ok(Some(len)) = r {
                    assert_eq!(buffer[len], 0, "track_into ends the entity with a NUL");
                    let text = std::str::from_utf8(&buffer[..len]).expect("entity is UTF-8");
                    check_entity(text);
                }
            }
            13 => {
                check_result("entity", &tracker.entity());
                check_result("user_id", &tracker.user_id());
                check_result("in_background", &tracker.in_background());
                check_result("lifecycle_indexes", &tracker.lifecycle_indexes());
                check_result("is_paused", &tracker.is_paused());
                if let Ok(Some(entity)) = tracker.entity() {
                    check_entity(&entity.to_json());
                }
            }
            14 => {
                // Close, then reopen on the same store: the exact state is in the store and
                // sesh reads it back without a fault.
                let before = tracker.state().expect("live tracker");
                tracker.close().expect("close on a memory store");
                let kept = run
                    .store
                    .raw_state(&run.config.namespace)
                    .expect("a closed namespace has its state in the store");
                let kept = state::decode(&kept).expect("what close wrote decodes");
                assert_eq!(kept, before, "close left a different state in the store");
                let after = tracker.track(None, None).map_err(|e| e.kind);
                // Whatever the clock reads (regress-closed-bad-clock once found otherwise).
                assert_eq!(after, Err(ErrorKind::Closed), "a call after close");
                match run.open() {
                    Ok(reopened) => {
                        let fault = reopened.last_fault().expect("open").map(|f| f.kind);
                        assert_eq!(fault, None, "reopen on sesh's own state found a fault");
                        tracker = reopened;
                    }
                    Err(err) => {
                        // Only the clock can fail an open on a memory store; keep using the
                        // closed tracker (every call answers `closed`) until a valid time.
                        assert_eq!(err.kind, ErrorKind::CallbackError, "{err:?}");
                        break;
                    }
                }
            }
            _ => {
                let now = run.clock.now_ms();
                run.clock.set(clock_jump(arg, now));
            }
        }
        check_store(&run.store, &run.config.namespace);
    }
    if !tracker.is_closed() {
        let r = tracker.close();
        check_result("close", &r);
    }
    check_store(&run.store, &run.config.namespace);
}

/// The C entry point (fuzz/state.c): runs one input, aborting on a broken invariant.
///
/// # Safety
/// `data` is readable for `size` bytes (or `size` is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sesh_fuzz_state(data: *const u8, size: usize) -> i32 {
    let bytes = if size == 0 || data.is_null() {
        &[][..]
    } else {
        // SAFETY: as the caller promises.
        unsafe { std::slice::from_raw_parts(data, size) }
    };
    if catch_unwind(AssertUnwindSafe(|| run_one(bytes))).is_err() {
        // The panic message is already on stderr.
        std::process::abort();
    }
    0
}
