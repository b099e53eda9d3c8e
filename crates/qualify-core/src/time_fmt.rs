//! Wire and storage representations of time.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `2020-12-04T20:54:24Z`: UTC, whole seconds, as Partner Center writes dates.
pub fn wire(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// UTC with exactly three fractional digits (`2026-12-01T10:00:00.000Z`), as webhook events
/// write `ResourceChangeUtcDate` (events.md 2).
pub fn wire_millis(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))
    .unwrap_or_default()
}

/// The earliest instant a control document, a clock or a setting may name: the Unix epoch (the
/// stores keep milliseconds since it).
pub const EARLIEST: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

/// The latest such instant. Far enough before the end of year 9999 (the last RFC 3339 can write)
/// that an instant plus [`LONGEST`] still has a date: nothing the domain adds can overflow.
pub const LATEST: OffsetDateTime = time::macros::datetime!(9000-01-01 0:00 UTC);

/// The longest duration a control document, a clock advance or a setting may name: 100 years
/// of 365 days.
pub const LONGEST: std::time::Duration = std::time::Duration::from_secs(36_500 * 86_400);

/// Why `t` is outside [`EARLIEST`, `LATEST`], if it is.
pub fn out_of_range(t: OffsetDateTime) -> Option<String> {
    (t < EARLIEST || t > LATEST).then(|| {
        format!(
            "{} is outside the instants qualify keeps ({} to {}).",
            wire(t),
            wire(EARLIEST),
            wire(LATEST)
        )
    })
}

/// Why `d` is longer than [`LONGEST`], if it is.
pub fn too_long(d: std::time::Duration) -> Option<String> {
    (d > LONGEST).then(|| {
        "is longer than 100 years (36500d), the longest duration qualify takes.".to_owned()
    })
}

pub fn truncate_millis(t: OffsetDateTime) -> OffsetDateTime {
    from_millis(to_millis(t))
}

pub fn to_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Serde adapter: wire format out, RFC 3339 in (for stored copies of responses).
pub mod wire_serde {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::wire(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let s = String::deserialize(d)?;
        OffsetDateTime::parse(&s, &Rfc3339).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_is_utc_seconds_with_z() {
        let t = from_millis(1_607_115_264_123);
        assert_eq!(wire(t), "2020-12-04T20:54:24Z");
    }

    #[test]
    fn the_latest_instant_plus_the_longest_duration_still_has_a_date() {
        assert!(LATEST.checked_add(LONGEST.try_into().unwrap()).is_some());
        assert!(out_of_range(LATEST).is_none() && out_of_range(EARLIEST).is_none());
        assert!(out_of_range(LATEST + time::Duration::SECOND).is_some());
        assert!(out_of_range(EARLIEST - time::Duration::SECOND).is_some());
        assert!(too_long(LONGEST).is_none());
        assert!(too_long(LONGEST + std::time::Duration::from_millis(1)).is_some());
    }

    #[test]
    fn millis_round_trip() {
        assert_eq!(to_millis(from_millis(1_234_567_890_123)), 1_234_567_890_123);
    }
}
