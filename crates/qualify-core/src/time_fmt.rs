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
    fn millis_round_trip() {
        assert_eq!(to_millis(from_millis(1_234_567_890_123)), 1_234_567_890_123);
    }
}
