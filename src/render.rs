//! The JSON sesh hands out: the `client_session` entity, lifecycle events and end summaries.

use serde::{Serialize, Serializer};
use uuid::Uuid;

pub const CLIENT_SESSION_SCHEMA: &str =
    "iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-2";
pub const APPLICATION_BACKGROUND_SCHEMA: &str =
    "iglu:com.snowplowanalytics.snowplow/application_background/jsonschema/1-0-0";
pub const APPLICATION_FOREGROUND_SCHEMA: &str =
    "iglu:com.snowplowanalytics.snowplow/application_foreground/jsonschema/1-0-0";

/// Bytes enough for any `client_session` entity JSON and its NUL.
pub const MAX_ENTITY_SIZE: usize = 512;

/// Where the session is kept, as the entity's `storageMechanism` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StorageMechanism {
    #[serde(rename = "SQLITE")]
    Sqlite,
    #[serde(rename = "COOKIE_1")]
    Cookie1,
    #[serde(rename = "COOKIE_3")]
    Cookie3,
    #[serde(rename = "LOCAL_STORAGE")]
    LocalStorage,
    #[serde(rename = "FLASH_LSO")]
    FlashLso,
}

/// A millisecond timestamp written as ISO 8601 UTC with milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsoTime(pub i64);

impl Serialize for IsoTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&crate::timestamp::format_iso8601(self.0))
    }
}

/// `{"schema": …, "data": …}`
#[derive(Serialize)]
struct SelfDescribing<'a, T: Serialize> {
    schema: &'a str,
    data: T,
}

/// The data of a `client_session` entity, as shown (anonymous mode already applied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionEntity {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub session_index: u32,
    pub event_index: u32,
    pub previous_session_id: Option<Uuid>,
    pub storage_mechanism: StorageMechanism,
    pub first_event_id: Option<Uuid>,
    pub first_event_timestamp: Option<IsoTime>,
}

impl SessionEntity {
    /// The self-describing JSON string.
    pub fn to_json(&self) -> String {
        to_json(&SelfDescribing {
            schema: CLIENT_SESSION_SCHEMA,
            data: self,
        })
    }
}

/// A session's entity with everything but `eventIndex` rendered once: the per-event cost
/// is one allocation and two copies.
#[derive(Debug, Clone)]
pub struct EntityTemplate {
    /// The entity it was rendered from, with `event_index` 0.
    source: SessionEntity,
    head: String,
    tail: String,
}

impl EntityTemplate {
    pub fn new(entity: &SessionEntity) -> Self {
        let source = SessionEntity {
            event_index: 0,
            ..entity.clone()
        };
        let json = source.to_json();
        const KEY: &str = "\"eventIndex\":";
        // The key appears once: every other value is a UUID, a number, a fixed name or
        // an ISO time.
        let at = json.find(KEY).map_or(json.len(), |i| i + KEY.len());
        let head = json[..at].to_owned();
        let tail = json[at..]
            .strip_prefix('0')
            .unwrap_or(&json[at..])
            .to_owned();
        EntityTemplate { source, head, tail }
    }

    /// Whether it renders `entity` (whatever its `event_index`).
    pub fn fits(&self, entity: &SessionEntity) -> bool {
        let source = &self.source;
        source.user_id == entity.user_id
            && source.session_id == entity.session_id
            && source.session_index == entity.session_index
            && source.previous_session_id == entity.previous_session_id
            && source.storage_mechanism == entity.storage_mechanism
            && source.first_event_id == entity.first_event_id
            && source.first_event_timestamp == entity.first_event_timestamp
    }

    /// Writes the entity JSON with this `event_index` and a NUL into `out`; its length
    /// without the NUL, or `None` (nothing written) when `out` is too small.
    pub fn render_into(&self, event_index: u32, out: &mut [u8]) -> Option<usize> {
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(event_index).as_bytes();
        let length = self.head.len() + digits.len() + self.tail.len();
        if out.len() <= length {
            return None;
        }
        let (head, rest) = out.split_at_mut(self.head.len());
        head.copy_from_slice(self.head.as_bytes());
        let (middle, rest) = rest.split_at_mut(digits.len());
        middle.copy_from_slice(digits);
        rest[..self.tail.len()].copy_from_slice(self.tail.as_bytes());
        rest[self.tail.len()] = 0;
        Some(length)
    }

    /// The entity JSON with this `event_index`; one spare byte for the C string's NUL.
    pub fn render(&self, event_index: u32) -> String {
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(event_index);
        let mut json = String::with_capacity(self.head.len() + digits.len() + self.tail.len() + 1);
        json.push_str(&self.head);
        json.push_str(digits);
        json.push_str(&self.tail);
        json
    }
}

/// An `application_background` or `application_foreground` event.
pub fn lifecycle_event_json(to_background: bool, index: u32) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Background {
        background_index: u32,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Foreground {
        foreground_index: u32,
    }
    if to_background {
        to_json(&SelfDescribing {
            schema: APPLICATION_BACKGROUND_SCHEMA,
            data: Background {
                background_index: index,
            },
        })
    } else {
        to_json(&SelfDescribing {
            schema: APPLICATION_FOREGROUND_SCHEMA,
            data: Foreground {
                foreground_index: index,
            },
        })
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    Timeout,
    ClockChanged,
    MaxDuration,
    Manual,
    NewSession,
    UserChanged,
    AnonymityChanged,
    Restart,
}

/// What the session-end callback receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndSummary {
    pub session_id: Uuid,
    pub session_index: u32,
    pub user_id: Uuid,
    pub first_event_timestamp: Option<IsoTime>,
    pub last_activity: IsoTime,
    pub event_count: u32,
    pub duration_ms: i64,
    pub reason: EndReason,
}

impl EndSummary {
    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    // Serializing these plain structs into a String cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_keeps_the_documented_key_order_and_nulls() {
        let entity = SessionEntity {
            user_id: Uuid::nil(),
            session_id: Uuid::from_u128(1),
            session_index: 1,
            event_index: 0,
            previous_session_id: None,
            storage_mechanism: StorageMechanism::LocalStorage,
            first_event_id: None,
            first_event_timestamp: None,
        };
        assert_eq!(
            entity.to_json(),
            "{\"schema\":\"iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-2\",\
             \"data\":{\"userId\":\"00000000-0000-0000-0000-000000000000\",\
             \"sessionId\":\"00000000-0000-0000-0000-000000000001\",\"sessionIndex\":1,\
             \"eventIndex\":0,\"previousSessionId\":null,\"storageMechanism\":\"LOCAL_STORAGE\",\
             \"firstEventId\":null,\"firstEventTimestamp\":null}}"
        );
    }

    #[test]
    fn a_template_renders_exactly_what_serde_renders() {
        let mut entity = SessionEntity {
            user_id: Uuid::from_u128(7),
            session_id: Uuid::from_u128(8),
            session_index: 12,
            event_index: 0,
            previous_session_id: Some(Uuid::from_u128(6)),
            storage_mechanism: StorageMechanism::Sqlite,
            first_event_id: Some(Uuid::from_u128(9)),
            first_event_timestamp: Some(IsoTime(1_234_567_891_012)),
        };
        let template = EntityTemplate::new(&entity);
        for index in [0, 1, 9, 10, 4242, i32::MAX as u32] {
            entity.event_index = index;
            assert!(template.fits(&entity));
            assert_eq!(template.render(index), entity.to_json());
        }
        entity.first_event_id = None;
        assert!(!template.fits(&entity));
    }

    /// The largest entity there can be: every id present, the longest storage name, the
    /// largest indexes, a timestamp in year 9999.
    #[test]
    fn every_entity_fits_in_max_entity_size_with_its_nul() {
        let entity = SessionEntity {
            user_id: Uuid::max(),
            session_id: Uuid::max(),
            session_index: i32::MAX as u32,
            event_index: i32::MAX as u32,
            previous_session_id: Some(Uuid::max()),
            storage_mechanism: StorageMechanism::LocalStorage,
            first_event_id: Some(Uuid::max()),
            first_event_timestamp: Some(IsoTime(crate::timestamp::MAX_TIMESTAMP_MS)),
        };
        let json = entity.to_json();
        assert!(json.len() < MAX_ENTITY_SIZE, "{} bytes", json.len());
        let template = EntityTemplate::new(&entity);
        let mut buffer = [0xffu8; MAX_ENTITY_SIZE];
        let length = template.render_into(i32::MAX as u32, &mut buffer).unwrap();
        assert_eq!(&buffer[..length], json.as_bytes());
        assert_eq!(buffer[length], 0);
        assert_eq!(template.render_into(1, &mut buffer[..length - 9]), None);
    }

    #[test]
    fn lifecycle_events_carry_their_index() {
        assert_eq!(
            lifecycle_event_json(true, 3),
            "{\"schema\":\"iglu:com.snowplowanalytics.snowplow/application_background/jsonschema/1-0-0\",\"data\":{\"backgroundIndex\":3}}"
        );
        assert_eq!(
            lifecycle_event_json(false, 1),
            "{\"schema\":\"iglu:com.snowplowanalytics.snowplow/application_foreground/jsonschema/1-0-0\",\"data\":{\"foregroundIndex\":1}}"
        );
    }
}
