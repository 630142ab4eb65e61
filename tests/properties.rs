//! Property tests (issue "Hardening"): random operation sequences on one tracker with an
//! injected clock and a memory store, restarts (close + reopen) and kills (the tracker is
//! forgotten, never closed, and a new one opens on what the store holds) included.
//!
//! Two layers of checks run after every step:
//! - [`Invariants`]: what the issue asks, judged from the outputs alone (entities, lifecycle
//!   events, callbacks, getters): `sessionIndex` never repeats nor goes down (back to 1 only
//!   after `reset_user`); `eventIndex` runs 1, 2, 3… inside a session while no kill
//!   happened and never repeats across a kill; `previousSessionId` is the id of the session
//!   before (null first, after `reset_user` and in anonymous mode); callbacks come
//!   end-before-start; an end summary names the session that was current; every output
//!   validates against its schema (tests/common/schema.rs).
//! - [`Model`]: a reference model of behaviour §3–§7 that predicts, for every operation,
//!   which sessions end (and why), which start, and every field of every entity, lifecycle
//!   event, summary and getter. Across a kill it reads back what the store holds and checks
//!   the §5 promise (no index lost, at most the last second of activity lost).
//!
//! `PROPTEST_CASES` sets the number of cases (default 256); sequences hold up to 60 steps.
//! `begin_session` is `new_session` on a `Tracker` (the C ABI maps both to it).

mod common;

use common::schema::{self, Lifecycle, NIL_USER};
use common::{Call, T0, World};
use proptest::prelude::*;
use serde_json::{Value, json};
use sesh::Config;
use sesh::engine::Transition;
use sesh::engine::state::{self, NamespaceState};
use sesh::error::ErrorKind;
use sesh::timestamp::{MAX_TIMESTAMP_MS, format_iso8601};
use sesh::tracker::Tracker;
use std::collections::{HashMap, HashSet, VecDeque};
use uuid::Uuid;

// ----- operations ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cfg {
    foreground: u64,
    background: u64,
    max_duration: u64,
    automatic: bool,
    continue_on_restart: bool,
    anonymous: bool,
    start_in_background: bool,
}

impl Cfg {
    fn config(&self) -> Config {
        Config {
            foreground_timeout_seconds: self.foreground,
            background_timeout_seconds: self.background,
            max_duration_seconds: self.max_duration,
            automatic: self.automatic,
            continue_on_restart: self.continue_on_restart,
            anonymous: self.anonymous,
            start_in_background: self.start_in_background,
            ..Config::default()
        }
    }
}

/// A host event id: a UUID, written upper-case when the flag says so.
type HostId = Option<(u128, bool)>;

#[derive(Debug, Clone)]
enum Op {
    Track {
        id: HostId,
        timestamp: Option<i64>,
    },
    Transition {
        to_background: bool,
        id: HostId,
    },
    /// `new_session`, and `begin_session` (the same call on a `Tracker`).
    NewSession,
    EndSession,
    Check,
    Pause,
    Resume,
    Anonymous(bool),
    ResetUser,
    /// Moves the clock by this many ms (negative: back).
    Advance(i64),
    /// Close and reopen, with a new configuration if given.
    Restart(Option<Cfg>),
    /// Forget the tracker without closing it, then reopen on a clone of the store.
    Kill(Option<Cfg>),
}

fn timeout() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(1u64),
        Just(2),
        Just(5),
        Just(30),
        Just(1800),
        1u64..=100
    ]
}

fn cfg() -> impl Strategy<Value = Cfg> {
    (
        timeout(),
        timeout(),
        prop_oneof![3 => Just(0u64), 1 => 1u64..=120, 1 => Just(3600)],
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.7),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.2),
    )
        .prop_map(
            |(foreground, background, max_duration, automatic, cont, anonymous, bg)| Cfg {
                foreground,
                background,
                max_duration,
                automatic,
                continue_on_restart: cont,
                anonymous,
                start_in_background: bg,
            },
        )
}

fn host_id() -> impl Strategy<Value = HostId> {
    proptest::option::of((any::<u128>(), any::<bool>()))
}

fn advance() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => 0i64..1_500,
        // Whole seconds: lands exactly on the small timeouts' boundaries.
        4 => (0i64..=70).prop_map(|s| s * 1000),
        2 => (0i64..=4_000).prop_map(|s| s * 1000),
        // A day to ten years.
        1 => 86_400_000i64..=315_360_000_000,
        2 => -5_000i64..0,
        1 => -86_400_000i64..-5_000,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (host_id(), proptest::option::of(0..=MAX_TIMESTAMP_MS))
            .prop_map(|(id, timestamp)| Op::Track { id, timestamp }),
        3 => (any::<bool>(), host_id())
            .prop_map(|(to_background, id)| Op::Transition { to_background, id }),
        1 => Just(Op::NewSession),
        1 => Just(Op::EndSession),
        1 => Just(Op::Check),
        1 => Just(Op::Pause),
        1 => Just(Op::Resume),
        1 => any::<bool>().prop_map(Op::Anonymous),
        1 => Just(Op::ResetUser),
        8 => advance().prop_map(Op::Advance),
        1 => proptest::option::of(cfg()).prop_map(Op::Restart),
        1 => proptest::option::of(cfg()).prop_map(Op::Kill),
    ]
}

fn host_id_text(id: HostId) -> Option<String> {
    id.map(|(bits, upper)| {
        let text = Uuid::from_u128(bits).to_string();
        if upper { text.to_uppercase() } else { text }
    })
}

fn iso(ms: i64) -> String {
    format_iso8601(ms)
}

// ----- invariants: judged from the outputs alone ----------------------------------------------

#[derive(Debug)]
struct SeenSession {
    index: u64,
    user: Value,
    previous: Value,
    /// The highest event index seen in it.
    last_event_index: u64,
    /// A kill happened since: the next index may jump ahead (never back, never repeat).
    may_jump: bool,
}

#[derive(Debug, Default)]
struct Invariants {
    /// The session started (or continued) and not yet ended.
    current: Option<String>,
    sessions: HashMap<String, SeenSession>,
    ended: HashSet<String>,
    /// The highest `sessionIndex` seen for the current user.
    max_index: u64,
    /// The latest session of the current user.
    last_session: Option<String>,
    /// `reset_user` happened since the last session started.
    user_reset: bool,
}

impl Invariants {
    /// A session-start callback.
    fn on_start(&mut self, data: &Value) {
        let id = data["sessionId"].as_str().unwrap().to_owned();
        assert!(
            self.current.is_none(),
            "session {id} started before the end of {:?} was reported",
            self.current
        );
        assert!(
            !self.sessions.contains_key(&id),
            "session id {id} reused: {data}"
        );
        let index = data["sessionIndex"].as_u64().unwrap();
        if self.user_reset {
            assert_eq!(index, 1, "the first session after reset_user: {data}");
        } else {
            assert!(
                index > self.max_index,
                "sessionIndex {index} repeated or went down (highest {}): {data}",
                self.max_index
            );
        }
        let anonymous = data["userId"] == NIL_USER;
        let expected_previous = match (&self.last_session, anonymous) {
            (Some(last), false) => json!(last),
            _ => Value::Null,
        };
        assert_eq!(
            data["previousSessionId"], expected_previous,
            "previousSessionId is not the session before: {data}"
        );
        let event_index = data["eventIndex"].as_u64().unwrap();
        assert!(
            event_index <= 1,
            "a session starts with eventIndex 0 or 1: {data}"
        );
        self.sessions.insert(
            id.clone(),
            SeenSession {
                index,
                user: data["userId"].clone(),
                previous: data["previousSessionId"].clone(),
                last_event_index: 0,
                may_jump: false,
            },
        );
        self.max_index = index;
        self.last_session = Some(id.clone());
        self.user_reset = false;
        self.current = Some(id);
    }

    /// An entity: of a counted event (`counted`) or from the getter.
    fn on_entity(&mut self, data: &Value, counted: bool) {
        let id = data["sessionId"].as_str().unwrap();
        assert_eq!(
            self.current.as_deref(),
            Some(id),
            "an entity of a session that is not the current one: {data}"
        );
        assert!(!self.ended.contains(id), "an entity of an ended session");
        let seen = self.sessions.get_mut(id).expect("a session seen to start");
        assert_eq!(
            data["sessionIndex"], seen.index,
            "sessionIndex changed: {data}"
        );
        assert_eq!(
            data["userId"], seen.user,
            "userId changed in a session: {data}"
        );
        assert_eq!(
            data["previousSessionId"], seen.previous,
            "previousSessionId changed in a session: {data}"
        );
        let event_index = data["eventIndex"].as_u64().unwrap();
        let last = seen.last_event_index;
        match (counted, seen.may_jump) {
            (true, false) => assert_eq!(
                event_index,
                last + 1,
                "eventIndex skipped or repeated (last {last}): {data}"
            ),
            (true, true) => assert!(
                event_index > last,
                "eventIndex repeated or went back across a kill (last {last}): {data}"
            ),
            (false, false) => assert_eq!(event_index, last, "the getter's eventIndex: {data}"),
            (false, true) => assert!(event_index >= last, "the getter's eventIndex: {data}"),
        }
        seen.last_event_index = event_index;
        seen.may_jump = false;
    }

    /// A session-end callback.
    fn on_end(&mut self, summary: &Value) {
        let id = summary["sessionId"].as_str().unwrap().to_owned();
        assert_eq!(
            self.current.as_deref(),
            Some(id.as_str()),
            "an end summary of a session that was not current: {summary}"
        );
        let seen = &self.sessions[&id];
        assert_eq!(summary["sessionIndex"], seen.index, "{summary}");
        assert_eq!(summary["userId"], seen.user, "{summary}");
        let count = summary["eventCount"].as_u64().unwrap();
        if seen.may_jump {
            assert!(count >= seen.last_event_index, "{summary}");
        } else {
            assert_eq!(
                count, seen.last_event_index,
                "eventCount is not the last eventIndex: {summary}"
            );
        }
        self.ended.insert(id);
        self.current = None;
    }

    fn on_kill(&mut self) {
        if let Some(current) = &self.current {
            self.sessions.get_mut(current).unwrap().may_jump = true;
        }
    }

    fn on_reset_user(&mut self) {
        self.user_reset = true;
        self.last_session = None;
    }
}

// ----- the reference model ------------------------------------------------------------------

#[derive(Debug, Clone)]
struct First {
    /// `None`: generated by the engine, learnt from the first entity that shows it.
    id: Option<String>,
    timestamp: i64,
    counted_at: i64,
}

#[derive(Debug, Clone)]
struct Sess {
    /// Empty until the start callback shows it.
    id: String,
    previous: Option<String>,
    event_index: u64,
    first: Option<First>,
    started_at: i64,
    last_activity: i64,
    background_index: u64,
    foreground_index: u64,
}

#[derive(Debug)]
struct Model {
    cfg: Cfg,
    now: i64,
    /// The store's user id.
    user: String,
    anonymous: bool,
    in_background: bool,
    paused: bool,
    session_index: u64,
    last_session_id: Option<String>,
    session: Option<Sess>,
}

impl Model {
    fn shown_user(&self) -> String {
        if self.anonymous {
            NIL_USER.to_owned()
        } else {
            self.user.clone()
        }
    }

    fn timeout_ms(&self, in_background: bool) -> i64 {
        1000 * if in_background {
            self.cfg.background
        } else {
            self.cfg.foreground
        } as i64
    }

    /// Rules 2–4 of §3.
    fn expiry(&self, now: i64, timeout_ms: i64) -> Option<&'static str> {
        let s = self.session.as_ref()?;
        if now - s.last_activity > timeout_ms {
            Some("timeout")
        } else if now < s.last_activity {
            Some("clock_changed")
        } else if self.cfg.max_duration > 0
            && now - s.started_at > 1000 * self.cfg.max_duration as i64
        {
            Some("max_duration")
        } else {
            None
        }
    }

    fn automatic_expiry(&self, now: i64) -> Option<&'static str> {
        if !self.cfg.automatic || self.paused {
            return None;
        }
        self.expiry(now, self.timeout_ms(self.in_background))
    }

    fn expected_entity(&self) -> Value {
        let s = self.session.as_ref().unwrap();
        json!({
            "userId": self.shown_user(),
            "sessionId": s.id,
            "sessionIndex": self.session_index,
            "eventIndex": s.event_index,
            "previousSessionId": if self.anonymous { None } else { s.previous.clone() },
            "storageMechanism": "LOCAL_STORAGE",
            "firstEventId": s.first.as_ref().map(|f| f.id.clone()),
            "firstEventTimestamp": s.first.as_ref().map(|f| iso(f.timestamp)),
        })
    }

    /// Compares an entity with the model, learning a generated first-event id.
    fn check_entity(&mut self, data: &Value, what: &str) {
        let s = self
            .session
            .as_mut()
            .expect("an entity with no session in the model");
        if let Some(first) = s.first.as_mut() {
            if first.id.is_none() {
                let generated = data["firstEventId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no firstEventId after an event: {data}"));
                assert_eq!(&generated[14..15], "4", "a generated event id is a UUIDv4");
                first.id = Some(generated.to_owned());
            }
        }
        assert_eq!(data, &self.expected_entity(), "{what}");
    }

    fn end(&mut self, reason: &str, calls: &mut VecDeque<Call>, inv: &mut Invariants, what: &str) {
        let shown_user = self.shown_user();
        let s = self.session.take().expect("ending a session the model has");
        let expected = json!({
            "sessionId": s.id,
            "sessionIndex": self.session_index,
            "userId": shown_user,
            "firstEventTimestamp": s.first.as_ref().map(|f| iso(f.timestamp)),
            "lastActivity": iso(s.last_activity),
            "eventCount": s.event_index,
            "durationMs": s.first.as_ref().map_or(0, |f| (s.last_activity - f.counted_at).max(0)),
            "reason": reason,
        });
        match calls.pop_front() {
            Some(Call::End(summary)) => {
                inv.on_end(&summary);
                assert_eq!(summary, expected, "{what}: the end summary");
            }
            other => panic!(
                "{what}: expected the end of {} ({reason}), got {other:?}",
                s.id
            ),
        }
    }

    fn start(&mut self, now: i64) {
        self.session_index += 1;
        self.session = Some(Sess {
            id: String::new(),
            previous: self.last_session_id.clone(),
            event_index: 0,
            first: None,
            started_at: now,
            last_activity: now,
            background_index: 0,
            foreground_index: 0,
        });
    }

    /// The start callback of the session the model just started (and maybe counted in).
    fn take_start(&mut self, calls: &mut VecDeque<Call>, inv: &mut Invariants, what: &str) {
        let data = match calls.pop_front() {
            Some(Call::Start(data)) => data,
            other => panic!("{what}: expected a session start, got {other:?}"),
        };
        inv.on_start(&data);
        let id = data["sessionId"].as_str().unwrap().to_owned();
        self.session.as_mut().unwrap().id = id.clone();
        self.last_session_id = Some(id);
        self.check_entity(&data, &format!("{what}: the start callback's entity"));
    }

    /// Renews when a rule of §3 says so; true when a session started.
    fn prepare_event(
        &mut self,
        now: i64,
        calls: &mut VecDeque<Call>,
        inv: &mut Invariants,
        what: &str,
    ) -> bool {
        if let Some(reason) = self.automatic_expiry(now) {
            self.end(reason, calls, inv, what);
        }
        if self.session.is_none() && self.cfg.automatic {
            self.start(now);
            return true;
        }
        false
    }

    fn count(&mut self, now: i64, id: Option<&str>, timestamp: i64) {
        let paused = self.paused;
        let s = self.session.as_mut().unwrap();
        s.event_index += 1;
        if s.first.is_none() {
            s.first = Some(First {
                id: id.map(str::to_lowercase),
                timestamp,
                counted_at: now,
            });
        }
        if !paused {
            s.last_activity = now;
        }
    }

    /// Opens on what the store holds: the persisted session goes on or ends here (§5, §6).
    fn open(&mut self, cfg: Cfg, calls: &mut VecDeque<Call>, inv: &mut Invariants) {
        let now = self.now;
        let persisted_in_background = self.in_background;
        self.cfg = cfg.clone();
        if self.session.is_some() {
            let reason = if cfg.automatic {
                self.expiry(now, self.timeout_ms(persisted_in_background))
            } else {
                None
            }
            .or_else(|| (self.anonymous != cfg.anonymous).then_some("anonymity_changed"))
            .or_else(|| (!cfg.continue_on_restart).then_some("restart"));
            if let Some(reason) = reason {
                self.end(reason, calls, inv, "open");
            }
        }
        self.in_background = cfg.start_in_background;
        self.anonymous = cfg.anonymous;
        self.paused = false;
    }
}

// ----- one case -----------------------------------------------------------------------------

struct Run<'w> {
    world: &'w World,
    tracker: Option<Tracker>,
    model: Model,
    inv: Invariants,
    kills: usize,
}

impl<'w> Run<'w> {
    fn new(world: &'w World, cfg: Cfg) -> Run<'w> {
        let tracker = world.try_open_on(cfg.config(), Box::new(world.store.clone()));
        let tracker = tracker.expect("open");
        let user = tracker.user_id().unwrap();
        let user = if cfg.anonymous {
            assert_eq!(user.to_string(), NIL_USER);
            world.store_user().expect("the user id is stored at open")
        } else {
            user.to_string()
        };
        assert!(world.calls().is_empty(), "callbacks at the first open");
        let mut run = Run {
            world,
            tracker: Some(tracker),
            model: Model {
                now: T0,
                user,
                anonymous: cfg.anonymous,
                in_background: cfg.start_in_background,
                paused: false,
                session_index: 0,
                last_session_id: None,
                session: None,
                cfg,
            },
            inv: Invariants::default(),
            kills: 0,
        };
        run.check_getters("open");
        run
    }

    fn tracker(&self) -> &Tracker {
        self.tracker.as_ref().unwrap()
    }

    fn calls(&self) -> VecDeque<Call> {
        self.world.calls().into()
    }

    fn step(&mut self, op: &Op) {
        let now = self.model.now;
        let what = format!("{op:?} at T0{:+}ms", now - T0);
        let what = what.as_str();
        match op {
            Op::Advance(by) => {
                self.model.now = (now + by).clamp(0, MAX_TIMESTAMP_MS);
                self.world.clock.set(self.model.now);
            }
            Op::Track { id, timestamp } => {
                let id = host_id_text(*id);
                let out = self
                    .tracker()
                    .track(id.as_deref(), *timestamp)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                let mut calls = self.calls();
                let started = self
                    .model
                    .prepare_event(now, &mut calls, &mut self.inv, what);
                if self.model.session.is_none() {
                    assert_eq!(out, None, "{what}: an entity outside a session");
                } else {
                    self.model
                        .count(now, id.as_deref(), timestamp.unwrap_or(now));
                    let data = schema::entity(&out.expect("an entity inside a session"));
                    if started {
                        self.model.take_start(&mut calls, &mut self.inv, what);
                    }
                    self.model.check_entity(&data, what);
                    self.inv.on_entity(&data, true);
                }
                assert!(calls.is_empty(), "{what}: unexpected callbacks {calls:?}");
            }
            Op::Transition { to_background, id } => {
                let to_background = *to_background;
                let id = host_id_text(*id);
                let out = self
                    .tracker()
                    .transition(to_background, id.as_deref())
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                let mut calls = self.calls();
                if self.model.in_background == to_background {
                    assert_eq!(out, Transition::Unchanged, "{what}");
                } else {
                    let started = self
                        .model
                        .prepare_event(now, &mut calls, &mut self.inv, what);
                    self.model.in_background = to_background;
                    let Transition::Changed {
                        lifecycle_event,
                        entity,
                    } = out
                    else {
                        panic!("{what}: the state did not change");
                    };
                    let lifecycle = schema::lifecycle(&lifecycle_event);
                    let index = match self.model.session.as_mut() {
                        Some(s) if to_background => {
                            s.background_index += 1;
                            s.background_index
                        }
                        Some(s) => {
                            s.foreground_index += 1;
                            s.foreground_index
                        }
                        None => 0,
                    };
                    let expected = if to_background {
                        Lifecycle::Background(index)
                    } else {
                        Lifecycle::Foreground(index)
                    };
                    assert_eq!(lifecycle, expected, "{what}: the lifecycle event");
                    if self.model.session.is_none() {
                        assert_eq!(entity, None, "{what}: an entity outside a session");
                    } else {
                        self.model.count(now, id.as_deref(), now);
                        let data = schema::entity(&entity.expect("an entity in a session"));
                        if started {
                            self.model.take_start(&mut calls, &mut self.inv, what);
                        }
                        self.model.check_entity(&data, what);
                        self.inv.on_entity(&data, true);
                    }
                }
                assert!(calls.is_empty(), "{what}: unexpected callbacks {calls:?}");
            }
            Op::NewSession => {
                self.tracker()
                    .new_session()
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                let mut calls = self.calls();
                if self.model.session.is_some() {
                    self.model
                        .end("new_session", &mut calls, &mut self.inv, what);
                }
                self.model.start(now);
                self.model.take_start(&mut calls, &mut self.inv, what);
                assert!(calls.is_empty(), "{what}: unexpected callbacks {calls:?}");
            }
            Op::EndSession => {
                let result = self.tracker().end_session();
                let mut calls = self.calls();
                if self.model.session.is_some() {
                    result.unwrap_or_else(|e| panic!("{what}: {e}"));
                    self.model.end("manual", &mut calls, &mut self.inv, what);
                } else {
                    assert_eq!(
                        result.map_err(|e| e.kind),
                        Err(ErrorKind::NoSession),
                        "{what}"
                    );
                }
                assert!(calls.is_empty(), "{what}: unexpected callbacks {calls:?}");
            }
            Op::Check => {
                self.tracker()
                    .check()
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                let mut calls = self.calls();
                if let Some(reason) = self.model.automatic_expiry(now) {
                    self.model.end(reason, &mut calls, &mut self.inv, what);
                }
                assert!(calls.is_empty(), "{what}: unexpected callbacks {calls:?}");
            }
            Op::Pause | Op::Resume => {
                let pause = matches!(op, Op::Pause);
                let result = if pause {
                    self.tracker().pause()
                } else {
                    self.tracker().resume()
                };
                result.unwrap_or_else(|e| panic!("{what}: {e}"));
                self.model.paused = pause;
                let calls = self.calls();
                assert!(calls.is_empty(), "{what}: unexpected callbacks {calls:?}");
            }
            Op::Anonymous(anonymous) => {
                self.tracker()
                    .set_anonymous(*anonymous)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                let mut calls = self.calls();
                if self.model.anonymous != *anonymous {
                    let had_session = self.model.session.is_some();
                    if had_session {
                        self.model
                            .end("anonymity_changed", &mut calls, &mut self.inv, what);
                    }
                    self.model.anonymous = *anonymous;
                    if self.model.cfg.automatic || had_session {
                        self.model.start(now);
                        self.model.take_start(&mut calls, &mut self.inv, what);
                    }
                }
                assert!(calls.is_empty(), "{what}: unexpected callbacks {calls:?}");
            }
            Op::ResetUser => {
                let user = self
                    .tracker()
                    .reset_user()
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                let mut calls = self.calls();
                if self.model.session.is_some() {
                    self.model
                        .end("user_changed", &mut calls, &mut self.inv, what);
                }
                assert_ne!(user.to_string(), self.model.user, "{what}: the same user");
                self.model.user = user.to_string();
                self.model.session_index = 0;
                self.model.last_session_id = None;
                self.inv.on_reset_user();
                assert_eq!(
                    self.world.store_user().as_deref(),
                    Some(self.model.user.as_str()),
                    "{what}: the store keeps the new user"
                );
                assert!(calls.is_empty(), "{what}: unexpected callbacks {calls:?}");
            }
            Op::Restart(cfg) | Op::Kill(cfg) => {
                let killed = matches!(op, Op::Kill(_));
                let tracker = self.tracker.take().unwrap();
                if killed {
                    tracker.abandon();
                    self.kills += 1;
                    self.inv.on_kill();
                } else {
                    tracker
                        .close()
                        .unwrap_or_else(|e| panic!("{what}: close: {e}"));
                }
                assert!(self.world.calls().is_empty(), "{what}: callbacks at close");
                self.check_persisted(killed, what);
                let cfg = cfg.clone().unwrap_or_else(|| self.model.cfg.clone());
                let tracker = self
                    .world
                    .try_open_on(cfg.config(), Box::new(self.world.store.clone()))
                    .unwrap_or_else(|e| panic!("{what}: open: {e}"));
                self.tracker = Some(tracker);
                let mut calls = self.calls();
                self.model.open(cfg, &mut calls, &mut self.inv);
                assert!(calls.is_empty(), "{what}: unexpected callbacks {calls:?}");
            }
        }
        self.check_getters(what);
    }

    /// What the store holds after a close (exactly the model) or a kill (§5: no event index
    /// given out is lost, at most the last second of activity is); the model then goes on
    /// from what the store holds, as the engine will.
    fn check_persisted(&mut self, killed: bool, what: &str) {
        let raw = self
            .world
            .store
            .raw_state("default")
            .expect("the state is stored");
        let stored: NamespaceState = state::decode(&raw).expect("the stored state decodes");
        let m = &mut self.model;
        assert_eq!(stored.user_id.to_string(), m.user, "{what}: stored user");
        assert_eq!(stored.session_index as u64, m.session_index, "{what}");
        assert_eq!(
            stored.last_session_id.map(|id| id.to_string()),
            m.last_session_id,
            "{what}: stored last session id"
        );
        assert_eq!(
            stored.in_background, m.in_background,
            "{what}: stored app state"
        );
        assert_eq!(stored.anonymous, m.anonymous, "{what}: stored anonymity");
        match (&stored.session, m.session.as_mut()) {
            (None, None) => {}
            (Some(kept), Some(s)) => {
                assert_eq!(kept.id.to_string(), s.id, "{what}: stored session id");
                assert_eq!(
                    kept.previous_id.map(|id| id.to_string()),
                    s.previous,
                    "{what}"
                );
                assert_eq!(kept.started_at, s.started_at, "{what}");
                assert_eq!(
                    kept.background_index as u64, s.background_index,
                    "{what}: stored background index"
                );
                assert_eq!(
                    kept.foreground_index as u64, s.foreground_index,
                    "{what}: stored foreground index"
                );
                match (&kept.first_event, &s.first) {
                    (None, None) => {}
                    (Some(k), Some(f)) => {
                        assert_eq!(Some(k.id.to_string()), f.id, "{what}: stored first event");
                        assert_eq!(k.timestamp, f.timestamp, "{what}");
                        assert_eq!(k.counted_at, f.counted_at, "{what}");
                    }
                    other => panic!("{what}: stored first event {other:?}"),
                }
                let kept_index = kept.event_index as u64;
                if killed {
                    assert!(
                        kept_index >= s.event_index,
                        "{what}: the store covers eventIndex {kept_index}, {} were given out",
                        s.event_index
                    );
                    // At most the last second of activity is lost (a store ahead of the
                    // engine is not a loss: manual mode with the clock going back).
                    assert!(
                        kept.last_activity > s.last_activity - 1000,
                        "{what}: the store lost {} ms of activity",
                        s.last_activity - kept.last_activity
                    );
                    s.event_index = kept_index;
                    s.last_activity = kept.last_activity;
                } else {
                    assert_eq!(kept_index, s.event_index, "{what}: stored eventIndex");
                    assert_eq!(kept.last_activity, s.last_activity, "{what}");
                }
            }
            (kept, model) => panic!("{what}: stored session {kept:?}, model {model:?}"),
        }
    }

    fn check_getters(&mut self, what: &str) {
        let tracker = self.tracker.as_ref().unwrap();
        let entity = tracker.entity().expect("entity getter");
        match (entity, self.model.session.is_some()) {
            (None, false) => {}
            (Some(entity), true) => {
                let data = schema::entity(&entity.to_json());
                self.model
                    .check_entity(&data, &format!("{what}: the entity getter"));
                self.inv.on_entity(&data, false);
            }
            (entity, _) => panic!(
                "{what}: the getter shows {entity:?}, the model {:?}",
                self.model.session
            ),
        }
        assert_eq!(
            tracker.user_id().unwrap().to_string(),
            self.model.shown_user(),
            "{what}: user id getter"
        );
        assert_eq!(
            tracker.in_background().unwrap(),
            self.model.in_background,
            "{what}: in background getter"
        );
        assert_eq!(tracker.is_paused().unwrap(), self.model.paused, "{what}");
        assert_eq!(
            tracker.lifecycle_indexes().unwrap(),
            self.model
                .session
                .as_ref()
                .map(|s| (s.background_index as u32, s.foreground_index as u32)),
            "{what}: lifecycle index getters"
        );
        assert_eq!(tracker.last_fault().unwrap(), None, "{what}: a fault");
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // No regression files in the tree: a failure prints its minimal sequence.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_sequences_keep_every_invariant(
        initial in cfg(),
        ops in prop::collection::vec(op(), 1..=60),
    ) {
        let world = World::new();
        let mut run = Run::new(&world, initial);
        for op in &ops {
            run.step(op);
        }
        // A clean exit writes everything; the store then holds exactly what the model does.
        if let Some(tracker) = run.tracker.take() {
            tracker.close().expect("close");
        }
        run.check_persisted(false, "the final close");
    }
}

#[test]
fn the_schema_gate_rejects_what_it_must() {
    schema::self_test();
}
