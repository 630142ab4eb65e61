//! The state sesh persists for one namespace, and its JSON form.
//!
//! The decoder is strict: a missing field, a wrong type, an id that is not a hyphenated UUID
//! or a value out of range makes the whole record unreadable (`corrupt_state`), so that the
//! engine starts clean rather than from half-trusted numbers.

use crate::error::{Error, Result};
use crate::id::parse_hyphenated;
use crate::render::{push_number, push_optional_uuid, push_uuid};
use crate::timestamp;
use serde::Deserialize;
#[cfg(test)]
use serde::Serialize;
use uuid::Uuid;

/// The format version written with every record.
pub const STATE_VERSION: u32 = 1;

/// The largest index the schemas allow.
pub const MAX_INDEX: u32 = i32::MAX as u32;

/// Everything a namespace carries across restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceState {
    /// The user this namespace's session index and previous id were counted for.
    pub user_id: Uuid,
    /// The index of the latest session; 0 before the first.
    pub session_index: u32,
    /// The id of the latest session: the next one's `previousSessionId`.
    pub last_session_id: Option<Uuid>,
    /// The app state the namespace was last seen in.
    pub in_background: bool,
    /// Whether the current (or latest) session runs anonymously.
    pub anonymous: bool,
    /// The current session, if any.
    pub session: Option<Session>,
}

impl NamespaceState {
    pub fn fresh(user_id: Uuid, in_background: bool, anonymous: bool) -> Self {
        NamespaceState {
            user_id,
            session_index: 0,
            last_session_id: None,
            in_background,
            anonymous,
            session: None,
        }
    }
}

/// A running session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: Uuid,
    pub previous_id: Option<Uuid>,
    pub event_index: u32,
    pub first_event: Option<FirstEvent>,
    /// When the session was created, on the engine's clock.
    pub started_at: i64,
    /// When its last event was counted (or its start), on the engine's clock.
    pub last_activity: i64,
    pub background_index: u32,
    pub foreground_index: u32,
}

/// The first event of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstEvent {
    pub id: Uuid,
    /// The event's own timestamp, as the host gave it.
    pub timestamp: i64,
    /// When it was counted, on the engine's clock.
    pub counted_at: i64,
}

// The JSON form. Ids travel as strings so that the decoder can insist on the hyphenated
// form; `deserialize_with` on the optional fields makes them required (present, maybe null).
// The encoder is written by hand ([`encode_at`]); the serde one is kept for the tests, which
// check that both write the same bytes.

#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
#[serde(rename_all = "camelCase")]
struct StoredState {
    version: u32,
    /// The coordination record's generation this state was written at (SQLite store);
    /// absent in records of other stores.
    #[serde(default)]
    #[cfg_attr(test, serde(skip_serializing_if = "is_zero"))]
    generation: u32,
    user_id: String,
    session_index: u32,
    #[serde(deserialize_with = "Option::deserialize")]
    last_session_id: Option<String>,
    in_background: bool,
    anonymous: bool,
    #[serde(deserialize_with = "Option::deserialize")]
    session: Option<StoredSession>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
#[serde(rename_all = "camelCase")]
struct StoredSession {
    id: String,
    #[serde(deserialize_with = "Option::deserialize")]
    previous_id: Option<String>,
    event_index: u32,
    #[serde(deserialize_with = "Option::deserialize")]
    first_event: Option<StoredFirstEvent>,
    started_at: i64,
    last_activity: i64,
    background_index: u32,
    foreground_index: u32,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
#[serde(rename_all = "camelCase")]
struct StoredFirstEvent {
    id: String,
    timestamp: i64,
    counted_at: i64,
}

#[cfg(test)]
fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// The JSON a store keeps for a namespace.
pub fn encode(state: &NamespaceState) -> String {
    encode_at(state, 0)
}

/// As [`encode`], noting the coordination generation it was written at.
///
/// Written by hand, byte for byte what serde_json writes for the stored form (the tests
/// check it against [`encode_at_serde`]): a session renewal on SQLite writes one, and this
/// spares it serde's formatting and the ids' intermediate strings.
pub fn encode_at(state: &NamespaceState, generation: u32) -> String {
    let mut out = String::with_capacity(ENCODED_CAPACITY);
    out.push_str("{\"version\":");
    push_number(&mut out, STATE_VERSION);
    if generation != 0 {
        out.push_str(",\"generation\":");
        push_number(&mut out, generation);
    }
    out.push_str(",\"userId\":");
    push_uuid(&mut out, &state.user_id);
    out.push_str(",\"sessionIndex\":");
    push_number(&mut out, state.session_index);
    out.push_str(",\"lastSessionId\":");
    push_optional_uuid(&mut out, state.last_session_id.as_ref());
    out.push_str(",\"inBackground\":");
    push_bool(&mut out, state.in_background);
    out.push_str(",\"anonymous\":");
    push_bool(&mut out, state.anonymous);
    out.push_str(",\"session\":");
    match &state.session {
        None => out.push_str("null"),
        Some(session) => {
            out.push_str("{\"id\":");
            push_uuid(&mut out, &session.id);
            out.push_str(",\"previousId\":");
            push_optional_uuid(&mut out, session.previous_id.as_ref());
            out.push_str(",\"eventIndex\":");
            push_number(&mut out, session.event_index);
            out.push_str(",\"firstEvent\":");
            match &session.first_event {
                None => out.push_str("null"),
                Some(first) => {
                    out.push_str("{\"id\":");
                    push_uuid(&mut out, &first.id);
                    out.push_str(",\"timestamp\":");
                    push_number(&mut out, first.timestamp);
                    out.push_str(",\"countedAt\":");
                    push_number(&mut out, first.counted_at);
                    out.push('}');
                }
            }
            out.push_str(",\"startedAt\":");
            push_number(&mut out, session.started_at);
            out.push_str(",\"lastActivity\":");
            push_number(&mut out, session.last_activity);
            out.push_str(",\"backgroundIndex\":");
            push_number(&mut out, session.background_index);
            out.push_str(",\"foregroundIndex\":");
            push_number(&mut out, session.foreground_index);
            out.push('}');
        }
    }
    out.push('}');
    out
}

/// The longest record [`encode_at`] writes (every field present, every number at its
/// widest) is under this many bytes, so `encode_at` allocates once.
const ENCODED_CAPACITY: usize = 640;

fn push_bool(out: &mut String, value: bool) {
    out.push_str(if value { "true" } else { "false" });
}

/// What [`encode_at`] wrote before it was written by hand: serde_json on the stored form.
#[cfg(test)]
fn encode_at_serde(state: &NamespaceState, generation: u32) -> String {
    let session = state.session.as_ref().map(|s| StoredSession {
        id: s.id.to_string(),
        previous_id: s.previous_id.map(|id| id.to_string()),
        event_index: s.event_index,
        first_event: s.first_event.map(|f| StoredFirstEvent {
            id: f.id.to_string(),
            timestamp: f.timestamp,
            counted_at: f.counted_at,
        }),
        started_at: s.started_at,
        last_activity: s.last_activity,
        background_index: s.background_index,
        foreground_index: s.foreground_index,
    });
    let stored = StoredState {
        version: STATE_VERSION,
        generation,
        user_id: state.user_id.to_string(),
        session_index: state.session_index,
        last_session_id: state.last_session_id.map(|id| id.to_string()),
        in_background: state.in_background,
        anonymous: state.anonymous,
        session,
    };
    serde_json::to_string(&stored).unwrap_or_default()
}

/// Reads what [`encode`] wrote; anything else is `corrupt_state`.
pub fn decode(json: &str) -> Result<NamespaceState> {
    decode_at(json).map(|(state, _)| state)
}

/// Reads what [`encode_at`] wrote, with its generation (0 when none was noted).
pub fn decode_at(json: &str) -> Result<(NamespaceState, u32)> {
    let stored: StoredState = serde_json::from_str(json)
        .map_err(|e| Error::corrupt(format!("persisted session state is unreadable: {e}")))?;
    if stored.version != STATE_VERSION {
        return Err(Error::corrupt(format!(
            "persisted session state has unknown version {}",
            stored.version
        )));
    }
    let generation = stored.generation;
    let state = NamespaceState {
        user_id: uuid_field("userId", &stored.user_id)?,
        session_index: index_field("sessionIndex", stored.session_index)?,
        last_session_id: optional_uuid_field("lastSessionId", stored.last_session_id.as_deref())?,
        in_background: stored.in_background,
        anonymous: stored.anonymous,
        session: stored.session.map(decode_session).transpose()?,
    };
    if let Some(session) = &state.session {
        if state.session_index == 0 || state.last_session_id != Some(session.id) {
            return Err(Error::corrupt(
                "persisted session disagrees with its namespace's counters",
            ));
        }
    }
    Ok((state, generation))
}

fn decode_session(stored: StoredSession) -> Result<Session> {
    Ok(Session {
        id: uuid_field("session.id", &stored.id)?,
        previous_id: optional_uuid_field("session.previousId", stored.previous_id.as_deref())?,
        event_index: index_field("session.eventIndex", stored.event_index)?,
        first_event: stored
            .first_event
            .map(|f| -> Result<FirstEvent> {
                Ok(FirstEvent {
                    id: uuid_field("session.firstEvent.id", &f.id)?,
                    timestamp: time_field("session.firstEvent.timestamp", f.timestamp)?,
                    counted_at: time_field("session.firstEvent.countedAt", f.counted_at)?,
                })
            })
            .transpose()?,
        started_at: time_field("session.startedAt", stored.started_at)?,
        last_activity: time_field("session.lastActivity", stored.last_activity)?,
        background_index: index_field("session.backgroundIndex", stored.background_index)?,
        foreground_index: index_field("session.foregroundIndex", stored.foreground_index)?,
    })
}

fn uuid_field(name: &str, text: &str) -> Result<Uuid> {
    parse_hyphenated(text).ok_or_else(|| Error::corrupt(format!("persisted {name} is not a UUID")))
}

fn optional_uuid_field(name: &str, text: Option<&str>) -> Result<Option<Uuid>> {
    text.map(|t| uuid_field(name, t)).transpose()
}

fn index_field(name: &str, value: u32) -> Result<u32> {
    if value > MAX_INDEX {
        return Err(Error::corrupt(format!("persisted {name} is out of range")));
    }
    Ok(value)
}

fn time_field(name: &str, value: i64) -> Result<i64> {
    if !timestamp::is_valid(value) {
        return Err(Error::corrupt(format!("persisted {name} is out of range")));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn sample() -> NamespaceState {
        NamespaceState {
            user_id: Uuid::from_u128(0x11),
            session_index: 4,
            last_session_id: Some(Uuid::from_u128(0x22)),
            in_background: true,
            anonymous: false,
            session: Some(Session {
                id: Uuid::from_u128(0x22),
                previous_id: Some(Uuid::from_u128(0x21)),
                event_index: 7,
                first_event: Some(FirstEvent {
                    id: Uuid::from_u128(0x33),
                    timestamp: 1_000,
                    counted_at: 1_001,
                }),
                started_at: 900,
                last_activity: 5_000,
                background_index: 2,
                foreground_index: 1,
            }),
        }
    }

    #[test]
    fn round_trips() {
        let state = sample();
        assert_eq!(decode(&encode(&state)).unwrap(), state);
        let empty = NamespaceState::fresh(Uuid::from_u128(5), false, true);
        assert_eq!(decode(&encode(&empty)).unwrap(), empty);
    }

    /// SplitMix64: random states that are the same on every run.
    struct Numbers(u64);

    impl Numbers {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn flip(&mut self) -> bool {
            self.next() & 1 == 1
        }
        /// Mostly the extremes and small numbers, sometimes anything.
        fn u32(&mut self) -> u32 {
            match self.next() % 6 {
                0 => 0,
                1 => u32::MAX,
                2 => MAX_INDEX,
                3 => (self.next() % 10) as u32,
                _ => self.next() as u32,
            }
        }
        fn i64(&mut self) -> i64 {
            match self.next() % 8 {
                0 => 0,
                1 => i64::MIN,
                2 => i64::MAX,
                3 => -1,
                4 => timestamp::MAX_TIMESTAMP_MS,
                5 => (self.next() % 2_000_000_000_000) as i64,
                _ => self.next() as i64,
            }
        }
        fn uuid(&mut self) -> Uuid {
            match self.next() % 5 {
                0 => Uuid::nil(),
                1 => Uuid::max(),
                _ => Uuid::from_u64_pair(self.next(), self.next()),
            }
        }
        fn optional_uuid(&mut self) -> Option<Uuid> {
            self.flip().then(|| self.uuid())
        }
        fn state(&mut self) -> NamespaceState {
            let session = self.flip().then(|| Session {
                id: self.uuid(),
                previous_id: self.optional_uuid(),
                event_index: self.u32(),
                first_event: self.flip().then(|| FirstEvent {
                    id: self.uuid(),
                    timestamp: self.i64(),
                    counted_at: self.i64(),
                }),
                started_at: self.i64(),
                last_activity: self.i64(),
                background_index: self.u32(),
                foreground_index: self.u32(),
            });
            NamespaceState {
                user_id: self.uuid(),
                session_index: self.u32(),
                last_session_id: self.optional_uuid(),
                in_background: self.flip(),
                anonymous: self.flip(),
                session,
            }
        }
    }

    #[test]
    fn the_hand_written_encoder_writes_what_serde_writes() {
        let mut numbers = Numbers(0x5e5b);
        let mut longest = 0;
        for _ in 0..20_000 {
            let state = numbers.state();
            let generation = numbers.u32();
            let written = encode_at(&state, generation);
            assert_eq!(written, encode_at_serde(&state, generation), "{state:?}");
            assert_eq!(encode(&state), encode_at_serde(&state, 0));
            longest = longest.max(written.len());
        }
        // Every field present and at its widest still fits the one allocation.
        let widest = NamespaceState {
            user_id: Uuid::max(),
            session_index: u32::MAX,
            last_session_id: Some(Uuid::max()),
            in_background: false,
            anonymous: false,
            session: Some(Session {
                id: Uuid::max(),
                previous_id: Some(Uuid::max()),
                event_index: u32::MAX,
                first_event: Some(FirstEvent {
                    id: Uuid::max(),
                    timestamp: i64::MIN,
                    counted_at: i64::MIN,
                }),
                started_at: i64::MIN,
                last_activity: i64::MIN,
                background_index: u32::MAX,
                foreground_index: u32::MAX,
            }),
        };
        let written = encode_at(&widest, u32::MAX);
        assert_eq!(written, encode_at_serde(&widest, u32::MAX));
        assert!(written.len() <= ENCODED_CAPACITY, "{} bytes", written.len());
        assert!(longest <= written.len());
        // And what it writes reads back.
        assert_eq!(decode_at(&encode_at(&sample(), 7)).unwrap(), (sample(), 7));
    }

    fn corrupt(json: &str) {
        let err = decode(json).unwrap_err();
        assert_eq!(err.kind, ErrorKind::CorruptState, "{json}: {err}");
    }

    #[test]
    fn rejects_what_it_did_not_write() {
        corrupt("");
        corrupt("not json");
        corrupt("[]");
        corrupt("{}");
        let good: serde_json::Value = serde_json::from_str(&encode(&sample())).unwrap();
        // Every field missing, then every field of the wrong type.
        let paths: Vec<Vec<&str>> = vec![
            vec!["version"],
            vec!["userId"],
            vec!["sessionIndex"],
            vec!["lastSessionId"],
            vec!["inBackground"],
            vec!["anonymous"],
            vec!["session"],
            vec!["session", "id"],
            vec!["session", "previousId"],
            vec!["session", "eventIndex"],
            vec!["session", "firstEvent"],
            vec!["session", "startedAt"],
            vec!["session", "lastActivity"],
            vec!["session", "backgroundIndex"],
            vec!["session", "foregroundIndex"],
            vec!["session", "firstEvent", "id"],
            vec!["session", "firstEvent", "timestamp"],
            vec!["session", "firstEvent", "countedAt"],
        ];
        for path in &paths {
            let mut removed = good.clone();
            parent(&mut removed, path)
                .as_object_mut()
                .unwrap()
                .remove(*path.last().unwrap());
            corrupt(&removed.to_string());
            for wrong in [
                serde_json::json!("x"),
                serde_json::json!(-5),
                serde_json::json!({}),
                serde_json::json!(true),
            ] {
                let mut mistyped = good.clone();
                parent(&mut mistyped, path)[*path.last().unwrap()] = wrong.clone();
                // A few fields take some of these types; those cases must decode to a
                // consistent state or fail, never panic.
                let _ = decode(&mistyped.to_string());
            }
            let mut nulled = good.clone();
            parent(&mut nulled, path)[*path.last().unwrap()] = serde_json::json!("not-a-uuid");
            corrupt(&nulled.to_string());
        }
    }

    fn parent<'a>(value: &'a mut serde_json::Value, path: &[&str]) -> &'a mut serde_json::Value {
        let mut node = value;
        for key in &path[..path.len() - 1] {
            node = &mut node[*key];
        }
        node
    }

    #[test]
    fn rejects_ids_that_are_not_hyphenated_uuids_and_times_out_of_range() {
        let mut state = serde_json::to_value(
            serde_json::from_str::<serde_json::Value>(&encode(&sample())).unwrap(),
        )
        .unwrap();
        state["session"]["id"] = serde_json::json!("22222222222222222222222222222222");
        corrupt(&state.to_string());
        let mut late: serde_json::Value = serde_json::from_str(&encode(&sample())).unwrap();
        late["session"]["lastActivity"] = serde_json::json!(i64::MAX);
        corrupt(&late.to_string());
        let mut big: serde_json::Value = serde_json::from_str(&encode(&sample())).unwrap();
        big["sessionIndex"] = serde_json::json!(u32::MAX);
        corrupt(&big.to_string());
        let mut other: serde_json::Value = serde_json::from_str(&encode(&sample())).unwrap();
        other["lastSessionId"] = serde_json::json!(Uuid::from_u128(9).to_string());
        corrupt(&other.to_string());
    }
}
