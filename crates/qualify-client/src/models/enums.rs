//! The enums of the API, open: an unknown value is kept, not refused.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use super::open_enum::open_enum;

open_enum! {
    /// Partner Center's `CustomerQualification`.
    Qualification {
        None = "None",
        Education = "Education",
        Nonprofit = "Nonprofit",
        GovernmentCommunityCloud = "GovernmentCommunityCloud",
        StateOwnedEntity = "StateOwnedEntity",
    }
}

open_enum! {
    /// Where a qualification request stands in vetting. `InReview` is the only non-terminal
    /// value known today; see [`VettingStatus::is_terminal`].
    VettingStatus {
        InReview = "InReview",
        Approved = "Approved",
        Denied = "Denied",
    }
}

impl VettingStatus {
    /// Approved and Denied never change again. Unknown values are not treated as terminal:
    /// a waiting client keeps polling until its deadline rather than stopping on a value whose
    /// meaning it cannot know.
    pub fn is_terminal(&self) -> bool {
        matches!(self, VettingStatus::Approved | VettingStatus::Denied)
    }
}

open_enum! {
    /// The kind of school of an Education request.
    EducationSegment {
        K12 = "K12",
        HigherEducation = "HigherEducation",
    }
}

open_enum! {
    /// A customer's account validation status (`Not Ready` has a space on the wire).
    AccountStatus {
        Unknown = "Unknown",
        UnderReview = "UnderReview",
        Allowed = "Allowed",
        NotAllowed = "NotAllowed",
        NotReady = "Not Ready" | "NotReady",
    }
}

open_enum! {
    /// The `type` of a validation status query.
    ValidationType {
        Account = "account",
    }
}

open_enum! {
    /// The GDAP roles that matter for Government Community Cloud.
    GdapRole {
        DirectoryReader = "Directory Reader" | "DirectoryReader",
        DirectoryWriter = "Directory Writer" | "DirectoryWriter",
        LicenseAdministrator = "License Administrator" | "LicenseAdministrator",
        UserAdministrator = "User Administrator" | "UserAdministrator",
    }
}

open_enum! {
    /// The value of the retired single-qualification contract (`GET`/`PUT .../qualification`):
    /// a bare string in lower snake case. PascalCase names are accepted on the way in.
    LegacyQualification {
        None = "none",
        Education = "education",
        Nonprofit = "nonprofit",
        GovernmentCommunityCloud = "government_community_cloud" | "GovernmentCommunityCloud",
        StateOwnedEntity = "state_owned_entity" | "StateOwnedEntity",
    }
}

/// Dates: RFC 3339 out (`2020-12-04T20:54:24Z`); in, RFC 3339 or a date-time without a zone
/// (read as UTC), because Partner Center documents `lastUpdateDateTime` that way.
pub mod date {
    use super::*;
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;

    pub fn parse(s: &str) -> Option<OffsetDateTime> {
        if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
            return Some(t);
        }
        let no_zone = format_description!(
            version = 2,
            "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
        );
        time::PrimitiveDateTime::parse(s, &no_zone)
            .ok()
            .map(|t| t.assume_utc())
    }

    pub fn format(t: &OffsetDateTime) -> String {
        t.format(&Rfc3339).unwrap_or_default()
    }

    pub fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&format(t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => parse(&s).map(Some).ok_or_else(|| {
                serde::de::Error::custom(format!("{s:?} is not an RFC 3339 date-time"))
            }),
        }
    }

    /// An instant as control documents (control.md) write it, like the server: UTC, with
    /// milliseconds when there are any (`2026-01-05T12:00:00.250Z`).
    pub fn format_control(t: &OffsetDateTime) -> String {
        let t = t.to_offset(time::UtcOffset::UTC);
        if t.nanosecond() == 0 || !t.nanosecond().is_multiple_of(1_000_000) {
            return format(&t);
        }
        let millis = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        t.format(&millis).unwrap_or_else(|_| format(&t))
    }

    /// Serde adapter of an optional instant of a control document.
    pub mod control {
        use super::*;

        pub fn serialize<S: Serializer>(
            t: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&format_control(t)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            super::deserialize(d)
        }
    }

    /// Serde adapter of an instant of a control document that is always present.
    pub mod control_required {
        use super::*;

        pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&format_control(t))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
            let s = String::deserialize(d)?;
            parse(&s).ok_or_else(|| {
                serde::de::Error::custom(format!("{s:?} is not an RFC 3339 date-time"))
            })
        }
    }
}
