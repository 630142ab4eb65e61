//! The JSON sesh hands out: the `client_session` entity, lifecycle events and end summaries.

use serde::{Serialize, Serializer};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// The self-describing JSON string: by hand, byte for byte what serde_json writes for
    /// it (the tests check both), since every session start renders one.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(MAX_ENTITY_SIZE);
        self.push_head(&mut out);
        push_number(&mut out, self.event_index);
        self.push_tail(&mut out);
        out
    }

    /// Everything before `eventIndex`'s value.
    fn push_head(&self, out: &mut String) {
        out.push_str("{\"schema\":\"");
        out.push_str(CLIENT_SESSION_SCHEMA);
        out.push_str("\",\"data\":{\"userId\":");
        push_uuid(out, &self.user_id);
        out.push_str(",\"sessionId\":");
        push_uuid(out, &self.session_id);
        out.push_str(",\"sessionIndex\":");
        push_number(out, self.session_index);
        out.push_str(",\"eventIndex\":");
    }

    /// Everything after `eventIndex`'s value.
    fn push_tail(&self, out: &mut String) {
        out.push_str(",\"previousSessionId\":");
        push_optional_uuid(out, self.previous_session_id.as_ref());
        out.push_str(",\"storageMechanism\":\"");
        out.push_str(self.storage_mechanism.name());
        out.push_str("\",\"firstEventId\":");
        push_optional_uuid(out, self.first_event_id.as_ref());
        out.push_str(",\"firstEventTimestamp\":");
        push_optional_time(out, self.first_event_timestamp);
        out.push_str("}}");
    }
}

impl StorageMechanism {
    /// As the entity's `storageMechanism` spells it (the serde names above).
    pub fn name(self) -> &'static str {
        match self {
            StorageMechanism::Sqlite => "SQLITE",
            StorageMechanism::Cookie1 => "COOKIE_1",
            StorageMechanism::Cookie3 => "COOKIE_3",
            StorageMechanism::LocalStorage => "LOCAL_STORAGE",
            StorageMechanism::FlashLso => "FLASH_LSO",
        }
    }
}

// The hand-written JSON's pieces. Nothing they write needs escaping: ids are hex digits and
// hyphens, times digits and `-:.TZ`, names fixed ASCII.

pub(crate) fn push_number(out: &mut String, value: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(value));
}

/// A UUID as a JSON string, hyphenated in lower case (as `Uuid` serializes).
pub(crate) fn push_uuid(out: &mut String, id: &Uuid) {
    let mut buffer = Uuid::encode_buffer();
    out.push('"');
    out.push_str(id.hyphenated().encode_lower(&mut buffer));
    out.push('"');
}

pub(crate) fn push_optional_uuid(out: &mut String, id: Option<&Uuid>) {
    match id {
        Some(id) => push_uuid(out, id),
        None => out.push_str("null"),
    }
}

fn push_time(out: &mut String, time: IsoTime) {
    out.push('"');
    crate::timestamp::push_iso8601(out, time.0);
    out.push('"');
}

fn push_optional_time(out: &mut String, time: Option<IsoTime>) {
    match time {
        Some(time) => push_time(out, time),
        None => out.push_str("null"),
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
    /// Unique among every template made in the process: a thread's copy is found by it.
    number: u64,
}

static NEXT_TEMPLATE_NUMBER: AtomicU64 = AtomicU64::new(1);

/// How many templates a thread keeps copies of: one per handle it tracks on, for a few.
const THREAD_COPIES: usize = 4;

thread_local! {
    /// Copies of the templates this thread rendered from last, newest first.
    static THREAD_TEMPLATES: RefCell<[Option<Box<EntityTemplate>>; THREAD_COPIES]> =
        const { RefCell::new([None, None, None, None]) };
}

/// An event's entity to be rendered once the engine lock is released, from this thread's
/// own copy of the session's template: threads tracking on one handle then wait for each
/// other only while the event is counted, and share no counter to do it.
#[derive(Debug)]
pub struct LaterEntity {
    template: Box<EntityTemplate>,
    event_index: u32,
}

impl LaterEntity {
    pub fn render(self) -> String {
        let text = self.template.render(self.event_index);
        self.keep();
        text
    }

    /// The entity's event index.
    pub fn event_index(&self) -> u32 {
        self.event_index
    }

    /// Which template it renders from: two entities with the same number differ in their
    /// event index alone (a host that kept the last one rendered needs only the index).
    pub fn template_number(&self) -> u64 {
        self.template.number
    }

    /// Gives the template copy back to this thread without rendering.
    pub fn keep(self) {
        // Newest first, the oldest copy dropped.
        let _ = THREAD_TEMPLATES.try_with(|copies| {
            if let Ok(mut copies) = copies.try_borrow_mut() {
                copies.rotate_right(1);
                copies[0] = Some(self.template);
            }
        });
    }
}

impl EntityTemplate {
    pub fn new(entity: &SessionEntity) -> Self {
        let source = SessionEntity {
            event_index: 0,
            ..entity.clone()
        };
        let mut head = String::with_capacity(MAX_ENTITY_SIZE / 2);
        source.push_head(&mut head);
        let mut tail = String::with_capacity(MAX_ENTITY_SIZE / 2);
        source.push_tail(&mut tail);
        EntityTemplate {
            source,
            head,
            tail,
            number: NEXT_TEMPLATE_NUMBER.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Under the engine lock: what rendering this template at `event_index` needs once the
    /// lock is released. This thread's copy is taken out of its keeping (so that nothing
    /// this thread runs in between can drop it); a thread without one gets a new copy.
    pub fn later(&self, event_index: u32) -> LaterEntity {
        let kept = THREAD_TEMPLATES
            .try_with(|copies| {
                let mut copies = copies.try_borrow_mut().ok()?;
                copies
                    .iter_mut()
                    .find(|copy| copy.as_ref().is_some_and(|c| c.number == self.number))?
                    .take()
            })
            .ok()
            .flatten();
        LaterEntity {
            template: kept.unwrap_or_else(|| Box::new(self.clone())),
            event_index,
        }
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

impl EndReason {
    /// As the end summary's `reason` spells it (the serde names above).
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::ClockChanged => "clock_changed",
            EndReason::MaxDuration => "max_duration",
            EndReason::Manual => "manual",
            EndReason::NewSession => "new_session",
            EndReason::UserChanged => "user_changed",
            EndReason::AnonymityChanged => "anonymity_changed",
            EndReason::Restart => "restart",
        }
    }
}

impl EndSummary {
    /// By hand, byte for byte what serde_json writes for it (the tests check both): a
    /// session renewal renders one when the host listens for ends.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(320);
        out.push_str("{\"sessionId\":");
        push_uuid(&mut out, &self.session_id);
        out.push_str(",\"sessionIndex\":");
        push_number(&mut out, self.session_index);
        out.push_str(",\"userId\":");
        push_uuid(&mut out, &self.user_id);
        out.push_str(",\"firstEventTimestamp\":");
        push_optional_time(&mut out, self.first_event_timestamp);
        out.push_str(",\"lastActivity\":");
        push_time(&mut out, self.last_activity);
        out.push_str(",\"eventCount\":");
        push_number(&mut out, self.event_count);
        out.push_str(",\"durationMs\":");
        push_number(&mut out, self.duration_ms);
        out.push_str(",\"reason\":\"");
        out.push_str(self.reason.name());
        out.push_str("\"}");
        out
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

    /// SplitMix64, so that every run checks the same entities.
    fn numbers(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed;
        move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
    }

    #[test]
    fn hand_written_entities_and_summaries_are_what_serde_writes() {
        let mut next = numbers(0xe7);
        let uuid = |n: u64, a: u64, b: u64| match n % 4 {
            0 => Uuid::nil(),
            1 => Uuid::max(),
            _ => Uuid::from_u64_pair(a, b),
        };
        let storages = [
            StorageMechanism::Sqlite,
            StorageMechanism::Cookie1,
            StorageMechanism::Cookie3,
            StorageMechanism::LocalStorage,
            StorageMechanism::FlashLso,
        ];
        let reasons = [
            EndReason::Timeout,
            EndReason::ClockChanged,
            EndReason::MaxDuration,
            EndReason::Manual,
            EndReason::NewSession,
            EndReason::UserChanged,
            EndReason::AnonymityChanged,
            EndReason::Restart,
        ];
        for round in 0..20_000u64 {
            let mut pick = |extremes: &[u64]| {
                let n = next();
                if n % 3 == 0 {
                    extremes[(n / 3) as usize % extremes.len()]
                } else {
                    next()
                }
            };
            let index = |n: u64| n as u32;
            let time = |n: u64| match n % 5 {
                0 => 0,
                1 => crate::timestamp::MAX_TIMESTAMP_MS,
                _ => (n % (crate::timestamp::MAX_TIMESTAMP_MS as u64 + 1)) as i64,
            };
            let ids: Vec<u64> = (0..12).map(|_| pick(&[0, 1, 2, 3])).collect();
            let numbers: Vec<u64> = (0..8)
                .map(|_| pick(&[0, 1, i32::MAX as u64, u32::MAX as u64]))
                .collect();
            let entity = SessionEntity {
                user_id: uuid(ids[0], ids[1], ids[2]),
                session_id: uuid(ids[3], ids[4], ids[5]),
                session_index: index(numbers[0]),
                event_index: index(numbers[1]),
                previous_session_id: (numbers[2] % 2 == 0).then(|| uuid(ids[6], ids[7], ids[8])),
                storage_mechanism: storages[(round % 5) as usize],
                first_event_id: (numbers[3] % 2 == 0).then(|| uuid(ids[9], ids[10], ids[11])),
                first_event_timestamp: (numbers[4] % 2 == 0).then(|| IsoTime(time(numbers[5]))),
            };
            let by_serde = to_json(&SelfDescribing {
                schema: CLIENT_SESSION_SCHEMA,
                data: &entity,
            });
            assert_eq!(entity.to_json(), by_serde);
            let summary = EndSummary {
                session_id: entity.session_id,
                session_index: entity.session_index,
                user_id: entity.user_id,
                first_event_timestamp: entity.first_event_timestamp,
                last_activity: IsoTime(time(numbers[6])),
                event_count: entity.event_index,
                duration_ms: match numbers[7] % 4 {
                    0 => i64::MIN,
                    1 => i64::MAX,
                    _ => numbers[7] as i64,
                },
                reason: reasons[(round % 8) as usize],
            };
            assert_eq!(summary.to_json(), to_json(&summary));
        }
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
