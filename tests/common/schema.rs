//! The JSON Schema gate every output of the tests passes through.
//!
//! Shared by the integration tests (`tests/common/mod.rs`) and the engine's unit tests
//! (`src/engine/tests.rs`, through `#[path]`), so it uses nothing but `serde_json` and
//! `jsonschema`. The iglu schemas are the project's copies in `schemas/`; their `$schema`
//! (an iglu meta-schema no validator knows) and `self` keys are stripped, and formats are
//! validated, so that `uuid` and `date-time` are checked, not just annotated.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::sync::OnceLock;

pub const CLIENT_SESSION_SCHEMA: &str =
    "iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-2";
pub const BACKGROUND_SCHEMA: &str =
    "iglu:com.snowplowanalytics.snowplow/application_background/jsonschema/1-0-0";
pub const FOREGROUND_SCHEMA: &str =
    "iglu:com.snowplowanalytics.snowplow/application_foreground/jsonschema/1-0-0";

/// The user id every anonymous entity, callback and getter shows.
pub const NIL_USER: &str = "00000000-0000-0000-0000-000000000000";

const CLIENT_SESSION_JSON: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/schemas/client_session-1-0-2.json"
));
const BACKGROUND_JSON: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/schemas/application_background-1-0-0.json"
));
const FOREGROUND_JSON: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/schemas/application_foreground-1-0-0.json"
));

/// Compiles a schema with format validation on.
pub fn compile(schema: &Value) -> jsonschema::Validator {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("schema does not compile: {e}"))
}

/// Compiles one of the iglu schemas, without its iglu-only keys.
fn compile_iglu(text: &str) -> jsonschema::Validator {
    let mut schema: Value = serde_json::from_str(text).expect("the schema file is JSON");
    let object = schema.as_object_mut().expect("the schema is an object");
    assert!(
        object.remove("$schema").is_some(),
        "iglu schema without $schema"
    );
    assert!(object.remove("self").is_some(), "iglu schema without self");
    compile(&schema)
}

fn client_session() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| compile_iglu(CLIENT_SESSION_JSON))
}

fn background() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| compile_iglu(BACKGROUND_JSON))
}

fn foreground() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| compile_iglu(FOREGROUND_JSON))
}

/// The end-of-session summary of behaviour §6, written as a schema of our own.
fn summary_schema() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let iso = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$";
        compile(&json!({
            "type": "object",
            "properties": {
                "sessionId": {"type": "string", "format": "uuid"},
                "sessionIndex": {"type": "integer", "minimum": 1, "maximum": 2147483647},
                "userId": {
                    "type": "string",
                    "pattern": "^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$"
                },
                "firstEventTimestamp": {
                    "type": ["null", "string"], "format": "date-time", "pattern": iso
                },
                "lastActivity": {"type": "string", "format": "date-time", "pattern": iso},
                "eventCount": {"type": "integer", "minimum": 0, "maximum": 2147483647},
                "durationMs": {"type": "integer", "minimum": 0},
                "reason": {"enum": [
                    "timeout", "clock_changed", "max_duration", "manual", "new_session",
                    "user_changed", "anonymity_changed", "restart"
                ]}
            },
            "required": [
                "sessionId", "sessionIndex", "userId", "firstEventTimestamp",
                "lastActivity", "eventCount", "durationMs", "reason"
            ],
            "additionalProperties": false
        }))
    })
}

fn check(validator: &jsonschema::Validator, what: &str, value: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{what} {value} is invalid: {errors:?}");
}

fn parse(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"))
}

/// A lower-case hyphenated UUID (any version).
fn assert_lower_uuid(what: &str, value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value}"));
    assert_eq!(text.len(), 36, "{what} is not hyphenated: {text}");
    assert_eq!(
        text,
        text.to_lowercase(),
        "{what} is not lower-case: {text}"
    );
}

/// A lower-case UUIDv4 (behaviour §2: user and session ids).
fn assert_v4(what: &str, value: &Value) {
    assert_lower_uuid(what, value);
    let text = value.as_str().unwrap_or_default();
    assert_eq!(&text[14..15], "4", "{what} is not version 4: {text}");
    assert!(
        matches!(&text[19..20], "8" | "9" | "a" | "b"),
        "{what} is not RFC 4122: {text}"
    );
}

fn assert_iso_ms(what: &str, value: &Value) {
    let text = value.as_str().unwrap_or_default();
    let b = text.as_bytes();
    assert!(
        b.len() == 24 && b[10] == b'T' && b[19] == b'.' && b[23] == b'Z',
        "{what} is not ISO 8601 UTC with milliseconds: {value}"
    );
}

/// Validates a self-describing `client_session` entity and returns its data.
pub fn entity(json: &str) -> Value {
    let value = parse(json);
    let object = value.as_object().expect("the entity is an object");
    assert_eq!(
        object.len(),
        2,
        "self-describing JSON has schema and data: {json}"
    );
    assert_eq!(value["schema"], CLIENT_SESSION_SCHEMA, "{json}");
    let data = value["data"].clone();
    check(client_session(), "client_session entity", &data);
    // behaviour §2: every key is always present (null when there is no value).
    for key in [
        "userId",
        "sessionId",
        "sessionIndex",
        "eventIndex",
        "previousSessionId",
        "storageMechanism",
        "firstEventId",
        "firstEventTimestamp",
    ] {
        assert!(data.get(key).is_some(), "entity without {key}: {json}");
    }
    if data["userId"] != NIL_USER {
        assert_v4("userId", &data["userId"]);
    }
    assert_v4("sessionId", &data["sessionId"]);
    if !data["previousSessionId"].is_null() {
        assert_v4("previousSessionId", &data["previousSessionId"]);
    }
    assert!(data["sessionIndex"].as_u64().unwrap_or(0) >= 1, "{json}");
    assert!(data["eventIndex"].is_u64(), "{json}");
    // The first-event fields are null together, or filled together.
    assert_eq!(
        data["firstEventId"].is_null(),
        data["firstEventTimestamp"].is_null(),
        "{json}"
    );
    if !data["firstEventId"].is_null() {
        assert_lower_uuid("firstEventId", &data["firstEventId"]);
        assert_iso_ms("firstEventTimestamp", &data["firstEventTimestamp"]);
    }
    data
}

/// A lifecycle event as the tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifecycle {
    Background(u64),
    Foreground(u64),
}

/// Validates an `application_background` / `application_foreground` event.
pub fn lifecycle(json: &str) -> Lifecycle {
    let value = parse(json);
    let object = value.as_object().expect("the event is an object");
    assert_eq!(
        object.len(),
        2,
        "self-describing JSON has schema and data: {json}"
    );
    let data = &value["data"];
    let schema = value["schema"].as_str().unwrap_or_default();
    if schema == BACKGROUND_SCHEMA {
        check(background(), "application_background event", data);
        Lifecycle::Background(data["backgroundIndex"].as_u64().expect("backgroundIndex"))
    } else if schema == FOREGROUND_SCHEMA {
        check(foreground(), "application_foreground event", data);
        Lifecycle::Foreground(data["foregroundIndex"].as_u64().expect("foregroundIndex"))
    } else {
        panic!("not a lifecycle event: {json}");
    }
}

/// Validates a session-end summary (behaviour §6) and returns it.
pub fn summary(json: &str) -> Value {
    let value = parse(json);
    check(summary_schema(), "session-end summary", &value);
    assert_v4("sessionId", &value["sessionId"]);
    if value["userId"] != NIL_USER {
        assert_v4("userId", &value["userId"]);
    }
    if value["firstEventTimestamp"].is_null() {
        assert_eq!(value["eventCount"], 0, "{json}");
        assert_eq!(value["durationMs"], 0, "{json}");
    }
    value
}

/// The gate itself must reject what the schemas forbid, or it proves nothing.
pub fn self_test() {
    let good = json!({
        "userId": "00000000-0000-4000-8000-000000000001",
        "sessionId": "00000000-0000-4000-8000-000000000002",
        "sessionIndex": 1, "eventIndex": 1, "previousSessionId": null,
        "storageMechanism": "LOCAL_STORAGE",
        "firstEventId": "00000000-0000-4000-8000-000000000003",
        "firstEventTimestamp": "2009-02-13T23:31:30.000Z"
    });
    assert!(client_session().is_valid(&good));
    let bad = |key: &str, value: Value| {
        let mut copy = good.clone();
        copy[key] = value;
        assert!(!client_session().is_valid(&copy), "{key} accepted: {copy}");
    };
    bad("sessionId", json!("not-a-uuid"));
    bad("firstEventId", json!("00000000-0000-4000-8000-00000000000"));
    bad("firstEventTimestamp", json!("2009-02-13 23:31:30"));
    bad("firstEventTimestamp", json!("2009-02-30T23:31:30.000Z"));
    bad("userId", json!("00000000-0000-4000-8000-00000000000A"));
    bad("storageMechanism", json!("MEMORY"));
    bad("sessionIndex", json!(-1));
    bad("eventIndex", json!(2_147_483_648_u64));
    bad("extra", json!(1));
    assert!(!background().is_valid(&json!({"backgroundIndex": -1})));
    assert!(!background().is_valid(&json!({"foregroundIndex": 1})));
    assert!(!foreground().is_valid(&json!({"foregroundIndex": "1"})));
    assert!(foreground().is_valid(&json!({"foregroundIndex": 0})));
}
