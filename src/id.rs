//! Identifiers: parsing the hosts' UUIDs and generating new ones.

use uuid::Uuid;

/// The user id shown in anonymous mode.
pub const ANONYMOUS_USER_ID: Uuid = Uuid::nil();

/// Parses a UUID written 8-4-4-4-12 in hex digits of any case (and no other form).
pub fn parse_hyphenated(text: &str) -> Option<Uuid> {
    // `Uuid::try_parse` also takes the simple, braced and URN forms; only 36 characters is
    // the hyphenated one.
    if text.len() != 36 {
        return None;
    }
    Uuid::try_parse(text).ok()
}

/// Where the engine's new ids come from: random in production, predictable in tests.
pub trait IdGenerator: Send {
    /// A new UUIDv4.
    fn next_id(&mut self) -> Uuid;
}

/// Random UUIDv4s from the operating system's generator.
#[derive(Debug, Default)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn next_id(&mut self) -> Uuid {
        Uuid::new_v4()
    }
}

/// UUIDv4s from a counter: `00000000-0000-4000-8000-000000000001`, then `…002`, and so on.
#[derive(Debug, Default)]
pub struct SequentialIds {
    issued: u64,
}

impl IdGenerator for SequentialIds {
    fn next_id(&mut self) -> Uuid {
        self.issued += 1;
        let mut bytes = [0u8; 16];
        bytes[8..].copy_from_slice(&self.issued.to_be_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_hyphenated_form_in_any_case() {
        let lower = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let upper = "0F8FAD5B-D9CB-469F-A165-70867728950E";
        assert_eq!(parse_hyphenated(upper), parse_hyphenated(lower));
        assert!(parse_hyphenated(lower).is_some());
        assert!(parse_hyphenated("0f8fad5bd9cb469fa16570867728950e").is_none());
        assert!(parse_hyphenated("{0f8fad5b-d9cb-469f-a165-70867728950e}").is_none());
        assert!(parse_hyphenated("0f8fad5b-d9cb-469f-a165-70867728950g").is_none());
        assert!(parse_hyphenated("0f8fad5b-d9cb4-69f-a165-70867728950e").is_none());
        assert!(parse_hyphenated("").is_none());
    }

    #[test]
    fn sequential_ids_are_version_4() {
        let mut ids = SequentialIds::default();
        let first = ids.next_id();
        assert_eq!(first.get_version_num(), 4);
        assert_eq!(first.to_string(), "00000000-0000-4000-8000-000000000001");
        assert_ne!(ids.next_id(), first);
    }
}
