//! Milliseconds since the Unix epoch and their ISO 8601 form.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The last millisecond of year 9999: the largest time ISO 8601's four-digit year can write.
pub const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;

/// Whether `ms` is a time sesh accepts: from the epoch to the end of year 9999.
pub fn is_valid(ms: i64) -> bool {
    (0..=MAX_TIMESTAMP_MS).contains(&ms)
}

/// `2009-02-13T23:31:31.012Z`. `ms` must satisfy [`is_valid`]; others are clamped into range.
pub fn format_iso8601(ms: i64) -> String {
    let mut out = String::with_capacity(24);
    push_iso8601(&mut out, ms);
    out
}

/// As [`format_iso8601`], appended to `out`.
pub fn push_iso8601(out: &mut String, ms: i64) {
    use std::fmt::Write;
    let clamped = ms.clamp(0, MAX_TIMESTAMP_MS) as u64;
    let time = UNIX_EPOCH + Duration::from_millis(clamped);
    // Writing to a String cannot fail.
    let _ = write!(out, "{}", humantime::format_rfc3339_millis(time));
}

/// Milliseconds since the epoch of a system time (negative before it).
pub fn system_time_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds_in_utc() {
        assert_eq!(
            format_iso8601(1_234_567_891_012),
            "2009-02-13T23:31:31.012Z"
        );
        assert_eq!(format_iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_iso8601(MAX_TIMESTAMP_MS), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn range_is_epoch_to_year_9999() {
        assert!(is_valid(0));
        assert!(is_valid(MAX_TIMESTAMP_MS));
        assert!(!is_valid(-1));
        assert!(!is_valid(MAX_TIMESTAMP_MS + 1));
        assert!(!is_valid(i64::MAX));
    }
}
