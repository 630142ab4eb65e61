//! The state sesh persists for one namespace, and its JSON form.
//!
//! The decoder is strict: a missing field, a wrong type, an id that is not a hyphenated UUID
//! or a value out of range makes the whole record unreadable (`corrupt_state`), so that the
//! engine starts clean rather than from half-trusted numbers.

use crate::error::{Error, Result};
use crate::id::parse_hyphenated;
use crate::timestamp;
use serde::{Deserialize, Serialize};
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

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredState {
    version: u32,
    /// The coordination record's generation this state was written at (SQLite store);
    /// absent in records of other stores.
    #[serde(default, skip_serializing_if = "is_zero")]
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

#[derive(Serialize, Deserialize)]
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

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredFirstEvent {
    id: String,
    timestamp: i64,
    counted_at: i64,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// The JSON a store keeps for a namespace.
pub fn encode(state: &NamespaceState) -> String {
    encode_at(state, 0)
}

/// As [`encode`], noting the coordination generation it was written at.
pub fn encode_at(state: &NamespaceState, generation: u32) -> String {
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
