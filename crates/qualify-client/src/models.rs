//! The wire models: camelCase JSON, nulls omitted on the way out, unknown properties ignored on
//! the way in. Every enum is *open*: a value this SDK does not know (Microsoft adds values from
//! time to time) is kept in `Other(String)` instead of failing the whole response.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

/// Declares an open enum: known variants with their wire spelling (plus accepted aliases),
/// matched case-insensitively, and `Other(String)` for anything else.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of the SDK does not know, kept as it was sent.
            Other(String),
        }

        impl $name {
            /// The known values.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Other(s) => s,
                }
            }

            /// Case-insensitive; anything unknown becomes `Other`.
            pub fn parse(s: &str) -> Self {
                $(
                    if s.eq_ignore_ascii_case($wire) $(|| s.eq_ignore_ascii_case($alias))* {
                        return $name::$variant;
                    }
                )+
                $name::Other(s.to_owned())
            }

            /// Whether this is one of the values the SDK knows.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Other(_))
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match $name::parse(&s) {
                    $name::Other(_) => $name::Other(s),
                    known => known,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                match v {
                    $name::Other(s) => s,
                    known => known.as_str().to_owned(),
                }
            }
        }

        impl FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok($name::parse(s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

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

/// `attributes` of a Partner Center resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceAttributes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_type: Option<String>,
}

/// A header a link asks the client to send (e.g. `MS-ContinuationToken`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkHeader {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub uri: String,
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub headers: Vec<LinkHeader>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_link: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Link>,
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// ISO 3166-1 alpha-2, required.
    #[serde(default)]
    pub country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    /// Required, 1..200 characters.
    #[serde(default)]
    pub address_line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

/// A customer's company profile: what vetting reads (domain, name, address).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompanyProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_registration_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<ResourceAttributes>,
}

impl CompanyProfile {
    pub fn etag(&self) -> Option<&str> {
        self.attributes.as_ref()?.etag.as_deref()
    }
}

/// A customer's billing profile; updates need its etag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BillingProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub culture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<ResourceAttributes>,
}

impl BillingProfile {
    pub fn etag(&self) -> Option<&str> {
        self.attributes.as_ref()?.etag.as_deref()
    }
}

/// A customer of the partner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    /// The customer's tenant id (a GUID).
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_profile: Option<CompanyProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_profile: Option<BillingProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship_to_partner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<ResourceAttributes>,
}

/// The body of `POST /v1/customers`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewCustomer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_profile: Option<CompanyProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_profile: Option<BillingProfile>,
}

/// A Partner Center collection (`{"totalCount", "items", "links", "attributes"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceCollection<T> {
    #[serde(default)]
    pub total_count: u64,
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
    #[serde(default)]
    pub links: Links,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<ResourceAttributes>,
}

impl<T> ResourceCollection<T> {
    /// The `MS-ContinuationToken` of the next page, if there is one.
    pub fn continuation(&self) -> Option<&str> {
        self.links
            .next
            .as_ref()
            .and_then(|next| {
                next.headers
                    .iter()
                    .find(|h| h.key.eq_ignore_ascii_case("MS-ContinuationToken"))
                    .map(|h| h.value.as_str())
            })
            .or(self.continuation_token.as_deref())
    }
}

/// A qualification request of a customer and where its vetting stands (api.md 4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerQualification {
    pub qualification: Qualification,
    pub vetting_status: VettingStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vetting_reason: Option<String>,
    #[serde(
        default,
        with = "date",
        alias = "vettingCreatedDate",
        skip_serializing_if = "Option::is_none"
    )]
    pub vetting_create_date: Option<OffsetDateTime>,
}

/// The body of `POST /v1/customers/{id}/qualifications`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QualificationRequest {
    pub qualification: Qualification,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub education_segment: Option<EducationSegment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// The GCC validation code (a `validationId` of [`ValidationCode`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_code: Option<String>,
}

impl QualificationRequest {
    pub fn new(qualification: Qualification) -> Self {
        Self {
            qualification,
            education_segment: None,
            website: None,
            validation_code: None,
        }
    }

    /// Education: the segment is required, the website optional.
    pub fn education(segment: EducationSegment, website: Option<&str>) -> Self {
        Self {
            education_segment: Some(segment),
            website: website.map(str::to_owned),
            ..Self::new(Qualification::Education)
        }
    }

    /// Government Community Cloud with one of the partner's validation codes.
    pub fn government_community_cloud(validation_code: impl Into<String>) -> Self {
        Self {
            validation_code: Some(validation_code.into()),
            ..Self::new(Qualification::GovernmentCommunityCloud)
        }
    }

    pub fn state_owned_entity() -> Self {
        Self::new(Qualification::StateOwnedEntity)
    }
}

/// One of the partner's GCC validation codes (api.md 4.5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationCode {
    #[serde(default)]
    pub partner_id: String,
    #[serde(default)]
    pub organization_name: String,
    /// The value sent as `validationCode`.
    #[serde(default, deserialize_with = "string_or_number")]
    pub validation_id: String,
    #[serde(default)]
    pub max_creates: i64,
    #[serde(default)]
    pub remaining_creates: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
}

/// Partner Center documents codes as `int` in places; accept both.
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Null => Ok(String::new()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or a number, got {other}"
        ))),
    }
}

/// A customer's account validation status (api.md 4.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationStatus {
    #[serde(rename = "type")]
    pub kind: ValidationType,
    pub status: AccountStatus,
    #[serde(default, with = "date", skip_serializing_if = "Option::is_none")]
    pub last_update_date_time: Option<OffsetDateTime>,
}

/// An item of the operator's review queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    pub customer_id: String,
    pub partner_id: String,
    pub qualification: Qualification,
    pub vetting_status: VettingStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vetting_reason: Option<String>,
    #[serde(default, with = "date", skip_serializing_if = "Option::is_none")]
    pub vetting_create_date: Option<OffsetDateTime>,
    /// Needed to decide the request (`If-Match`).
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub education_segment: Option<EducationSegment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// The customer's company name (company profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// The customer's domain (company profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

/// One transition of the event stream (`GET /admin/v1/events`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransitionEvent {
    /// The sequence number (the event's id): resume after it.
    pub seq: i64,
    pub partner_id: String,
    pub customer_id: String,
    pub qualification: Qualification,
    /// Absent on the first event of a request (its creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<VettingStatus>,
    pub to: VettingStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, with = "date", skip_serializing_if = "Option::is_none")]
    pub at: Option<OffsetDateTime>,
    pub actor: String,
}

/// An operator's decision on a qualification request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VettingDecision {
    pub vetting_status: VettingStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vetting_reason: Option<String>,
}

impl VettingDecision {
    pub fn approve() -> Self {
        Self {
            vetting_status: VettingStatus::Approved,
            vetting_reason: None,
        }
    }

    pub fn deny(reason: impl Into<String>) -> Self {
        Self {
            vetting_status: VettingStatus::Denied,
            vetting_reason: Some(reason.into()),
        }
    }
}

/// The body of `POST /admin/v1/partners/{id}/validations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewValidationCode {
    pub organization_name: String,
    pub max_creates: i64,
}

/// The GDAP roles a partner holds over a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GdapGrant {
    #[serde(default)]
    pub partner_id: String,
    #[serde(default)]
    pub customer_id: String,
    #[serde(default)]
    pub roles: Vec<GdapRole>,
    #[serde(default, with = "date", skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<OffsetDateTime>,
}

/// One event of a qualification's audit history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    #[serde(default, with = "date", skip_serializing_if = "Option::is_none")]
    pub at: Option<OffsetDateTime>,
    #[serde(default)]
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<VettingStatus>,
    pub to: VettingStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The company profile version vetting looked at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_etag: Option<String>,
}

// ---- The test control plane, state (control.md 1-4) ------------------------------------------

/// Unknown keys of a control document, kept as they came so that a document read from a newer
/// server (a snapshot) is written back whole (a restore). Control endpoints refuse keys they do
/// not know, so this stays empty in documents you build yourself.
pub type ExtraFields = serde_json::Map<String, serde_json::Value>;

/// What a reset removed, or what a seed or restore applied (added or replaced).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlCounts {
    #[serde(default)]
    pub customers: u64,
    #[serde(default)]
    pub qualifications: u64,
    #[serde(default)]
    pub validation_codes: u64,
}

/// The fixture document (control.md 2): one format for `serve --seed FILE`, `seed`, `snapshot`
/// and `restore`. Its JSON Schema is [`Admin::fixture_schema`](crate::Admin::fixture_schema).
///
/// ```
/// use qualify_client::{Fixture, FixtureCustomer, FixturePartner, FixtureQualification, Qualification, VettingStatus};
///
/// let doc = Fixture::new(vec![FixturePartner {
///     customers: vec![FixtureCustomer {
///         qualifications: vec![FixtureQualification {
///             vetting_status: Some(VettingStatus::Approved),
///             ..FixtureQualification::new(Qualification::StateOwnedEntity)
///         }],
///         ..FixtureCustomer::new("2b3f6a7e-1f1e-4c55-9b0a-3c2d1e0f9a8b")
///     }],
///     ..FixturePartner::new("9daaeb1c-4195-4db5-9f1d-509eb70c8c2d")
/// }]);
/// assert_eq!(serde_json::to_value(&doc).unwrap()["partners"][0]["customers"][0]["qualifications"][0]["vettingStatus"], "Approved");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fixture {
    /// The format's version: [`Fixture::VERSION`].
    pub version: u32,
    #[serde(default)]
    pub partners: Vec<FixturePartner>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new(vec![])
    }
}

impl Fixture {
    /// The version of the format this SDK writes.
    pub const VERSION: u32 = 1;

    pub fn new(partners: Vec<FixturePartner>) -> Self {
        Self {
            version: Self::VERSION,
            partners,
            extra: ExtraFields::new(),
        }
    }

    /// The document's entry for one partner tenant.
    pub fn partner(&self, partner_id: &str) -> Option<&FixturePartner> {
        self.partners
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(partner_id))
    }
}

/// One partner tenant's state in a [`Fixture`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixturePartner {
    /// The partner tenant id (GUID).
    pub id: String,
    #[serde(default)]
    pub validation_codes: Vec<FixtureValidationCode>,
    #[serde(default)]
    pub customers: Vec<FixtureCustomer>,
    /// The partner's vetting scenario; a snapshot writes it only for a partner that has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vetting: Option<Scenario>,
    /// The partner's own clock; a snapshot writes it only for a partner that has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<FixtureClock>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl FixturePartner {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }
}

/// A GCC validation code in a [`Fixture`], upserted by `validation_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureValidationCode {
    /// What a partner sends as `validationCode`.
    #[serde(deserialize_with = "string_or_number")]
    pub validation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    /// Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_creates: Option<i64>,
    /// Default `max_creates`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_creates: Option<i64>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// A customer in a [`Fixture`]: applying it replaces the stored customer as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureCustomer {
    /// The customer tenant id (GUID).
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_profile: Option<FixtureCompanyProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_profile: Option<FixtureBillingProfile>,
    /// The GDAP roles the partner holds over the customer.
    #[serde(default)]
    pub gdap_roles: Vec<GdapRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_status: Option<FixtureValidationStatus>,
    /// Oldest first.
    #[serde(default)]
    pub qualifications: Vec<FixtureQualification>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl FixtureCustomer {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }
}

/// A customer's company profile in a [`Fixture`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureCompanyProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_registration_number: Option<String>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// A customer's billing profile in a [`Fixture`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureBillingProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub culture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_address: Option<Address>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// A customer's account validation status in a [`Fixture`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureValidationStatus {
    pub status: AccountStatus,
    /// Default: the partner's clock.
    #[serde(
        default,
        with = "date::control",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_update_date_time: Option<OffsetDateTime>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl FixtureValidationStatus {
    pub fn new(status: AccountStatus) -> Self {
        Self {
            status,
            last_update_date_time: None,
            extra: ExtraFields::new(),
        }
    }
}

/// A qualification request in a [`Fixture`]. An `InReview` one gets a vetting job, decided by
/// the partner's scenario like a new request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureQualification {
    pub qualification: Qualification,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub education_segment: Option<EducationSegment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_code: Option<String>,
    /// `InReview` (the default), `Approved` or `Denied`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vetting_status: Option<VettingStatus>,
    /// Only with `Denied`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vetting_reason: Option<String>,
    /// Default: the partner's clock.
    #[serde(
        default,
        with = "date::control",
        skip_serializing_if = "Option::is_none"
    )]
    pub vetting_create_date: Option<OffsetDateTime>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl FixtureQualification {
    pub fn new(qualification: Qualification) -> Self {
        Self {
            qualification,
            education_segment: None,
            website: None,
            validation_code: None,
            vetting_status: None,
            vetting_reason: None,
            vetting_create_date: None,
            extra: ExtraFields::new(),
        }
    }
}

open_enum! {
    /// How a scope's clock runs (control.md 4).
    ClockMode {
        /// Real time (no clock of its own, or the global clock unset).
        System = "system",
        /// Time stands still.
        Frozen = "frozen",
        /// Real pace, at a fixed offset from real time.
        Running = "running",
    }
}

open_enum! {
    /// Whose clock a partner follows.
    ClockScope {
        Global = "global",
        Partner = "partner",
    }
}

/// A partner's own clock in a [`Fixture`]: frozen at `now`, or running `offset_seconds` from
/// real time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureClock {
    /// `frozen` or `running`.
    pub mode: ClockMode,
    #[serde(
        default,
        with = "date::control",
        skip_serializing_if = "Option::is_none"
    )]
    pub now: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_seconds: Option<f64>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl FixtureClock {
    pub fn frozen(at: OffsetDateTime) -> Self {
        Self {
            mode: ClockMode::Frozen,
            now: Some(at),
            offset_seconds: None,
            extra: ExtraFields::new(),
        }
    }

    pub fn running(offset_seconds: f64) -> Self {
        Self {
            mode: ClockMode::Running,
            now: None,
            offset_seconds: Some(offset_seconds),
            extra: ExtraFields::new(),
        }
    }
}

open_enum! {
    /// What a scenario rule decides (control.md 3).
    ScenarioOutcome {
        Approved = "Approved",
        /// Needs a `reason`.
        Denied = "Denied",
        /// The server's built-in policy (docs/vetting.md).
        Auto = "Auto",
        /// Waits for a reviewer.
        Manual = "Manual",
    }
}

/// A partner's vetting scenario (control.md 3): rules tried in order when a request is
/// recorded; the first whose `match` holds chooses the outcome.
///
/// ```
/// use std::time::Duration;
/// use qualify_client::{Qualification, Scenario, ScenarioRule};
///
/// let scenario = Scenario::new(vec![
///     ScenarioRule::approved().qualification(Qualification::Education).website("*.edu").after(Duration::from_secs(2)),
///     ScenarioRule::denied("Not an Education Customer").qualification(Qualification::Education).after_reads(2),
///     ScenarioRule::manual().qualification(Qualification::StateOwnedEntity),
///     ScenarioRule::auto(),
/// ]);
/// assert_eq!(serde_json::to_value(&scenario).unwrap()["rules"][0]["after"], "2s");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    #[serde(default)]
    pub rules: Vec<ScenarioRule>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl Scenario {
    pub fn new(rules: Vec<ScenarioRule>) -> Self {
        Self {
            rules,
            extra: ExtraFields::new(),
        }
    }
}

/// One rule of a [`Scenario`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioRule {
    /// Every key that is set must hold; the default matches every request.
    #[serde(rename = "match", default)]
    pub matches: RuleMatch,
    pub outcome: ScenarioOutcome,
    /// Required with `Denied`, refused otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A duration on the partner's clock from `vettingCreateDate`, as the server takes it
    /// (`2s`, `72h`, `PT72H`); see [`ScenarioRule::after`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// The partner's N-th read that includes the request is the first to show the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_reads: Option<u32>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl ScenarioRule {
    pub fn new(outcome: ScenarioOutcome) -> Self {
        Self {
            matches: RuleMatch::default(),
            outcome,
            reason: None,
            after: None,
            after_reads: None,
            extra: ExtraFields::new(),
        }
    }

    pub fn approved() -> Self {
        Self::new(ScenarioOutcome::Approved)
    }

    pub fn denied(reason: impl Into<String>) -> Self {
        Self {
            reason: Some(reason.into()),
            ..Self::new(ScenarioOutcome::Denied)
        }
    }

    /// The server's built-in policy decides.
    pub fn auto() -> Self {
        Self::new(ScenarioOutcome::Auto)
    }

    /// A reviewer decides.
    pub fn manual() -> Self {
        Self::new(ScenarioOutcome::Manual)
    }

    /// Only requests for this qualification.
    pub fn qualification(mut self, qualification: Qualification) -> Self {
        self.matches.qualification = Some(qualification);
        self
    }

    /// Only Education requests of this segment.
    pub fn education_segment(mut self, segment: EducationSegment) -> Self {
        self.matches.education_segment = Some(segment);
        self
    }

    /// Only this customer's requests.
    pub fn customer(mut self, customer_id: impl Into<String>) -> Self {
        self.matches.customer_id = Some(customer_id.into());
        self
    }

    /// Only requests whose website's host matches `glob` (`*` = any characters).
    pub fn website(mut self, glob: impl Into<String>) -> Self {
        self.matches.website = Some(glob.into());
        self
    }

    /// Only customers whose company-profile domain matches `glob`.
    pub fn domain(mut self, glob: impl Into<String>) -> Self {
        self.matches.domain = Some(glob.into());
        self
    }

    /// Decide this long after `vettingCreateDate`, on the partner's clock (milliseconds are
    /// the finest unit the server keeps).
    pub fn after(mut self, delay: std::time::Duration) -> Self {
        self.after = Some(duration_text(delay));
        self.after_reads = None;
        self
    }

    /// Show the decision from the partner's `n`-th read that includes the request.
    pub fn after_reads(mut self, n: u32) -> Self {
        self.after_reads = Some(n);
        self.after = None;
        self
    }
}

/// What a [`ScenarioRule`] applies to; all keys optional, all must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualification: Option<Qualification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub education_segment: Option<EducationSegment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// A glob over the website's host (`*` = any characters, case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// A glob over the company-profile domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// A duration as control bodies take it: whole seconds (`72s`), else milliseconds (`1500ms`).
pub(crate) fn duration_text(d: std::time::Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// A scope's clock (`GET .../clock`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClockState {
    /// The scope's current time.
    #[serde(with = "date::control_required")]
    pub now: OffsetDateTime,
    pub mode: ClockMode,
    /// `partner` when the partner has a clock of its own, else `global`.
    pub scope: ClockScope,
}

/// What an advance did: the new time and each transition it caused, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClockAdvance {
    #[serde(with = "date::control_required")]
    pub now: OffsetDateTime,
    #[serde(default)]
    pub applied: Vec<AppliedTransition>,
}

/// One transition an advance caused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedTransition {
    pub customer_id: String,
    pub qualification: Qualification,
    pub from: VettingStatus,
    pub to: VettingStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The virtual time it was applied at.
    #[serde(with = "date::control_required")]
    pub at: OffsetDateTime,
}

impl AppliedTransition {
    /// The transitions an advance applied before it ran out of time: a 503 after the server's
    /// `--advance-timeout` lists them in the error body's `data` ([`crate::Error::data`]).
    pub fn applied_so_far(error: &crate::Error) -> Vec<AppliedTransition> {
        error
            .data()
            .iter()
            .filter_map(|v| serde_json::from_value(v.clone()).ok())
            .collect()
    }
}

// ---- Webhooks (events.md 1 and 2) ---------------------------------------------------------------

open_enum! {
    /// An event a webhook registration can ask for (`GET /webhooks/v1/registration/events`).
    WebhookEvent {
        /// Sent by [`Webhooks::send_test_event`](crate::Webhooks::send_test_event).
        TestCreated = "test-created",
        /// A qualification request was recorded (InReview).
        CustomerQualificationCreated = "customer-qualification-created",
        /// A qualification request was decided (Approved or Denied).
        CustomerQualificationUpdated = "customer-qualification-updated",
    }
}

/// The body of a registration (`POST` and `PUT /webhooks/v1/registration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NewWebhookRegistration {
    /// An absolute http(s) URL; deliveries are `POST`ed to it.
    pub webhook_url: String,
    pub webhook_events: Vec<WebhookEvent>,
}

impl NewWebhookRegistration {
    pub fn new(webhook_url: impl Into<String>, webhook_events: Vec<WebhookEvent>) -> Self {
        Self {
            webhook_url: webhook_url.into(),
            webhook_events,
        }
    }
}

/// The partner's webhook registration (one per partner tenant).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebhookRegistration {
    #[serde(default, alias = "subscriberId")]
    pub subscriber_id: String,
    #[serde(default, alias = "webhookUrl")]
    pub webhook_url: String,
    #[serde(default, alias = "webhookEvents")]
    pub webhook_events: Vec<WebhookEvent>,
    /// qualify's addition: the Standard Webhooks secret (`whsec_...`) that signs deliveries;
    /// give it to [`WebhookVerifier::new`](crate::WebhookVerifier::new).
    #[serde(
        default,
        alias = "signingSecret",
        skip_serializing_if = "Option::is_none"
    )]
    pub signing_secret: Option<String>,
    /// qualify's addition: true once the receiver answered 410 Gone; nothing is delivered
    /// until the partner registers again.
    #[serde(
        default,
        alias = "disabled",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub disabled: bool,
    /// Why it was disabled.
    #[serde(
        default,
        alias = "disabledReason",
        skip_serializing_if = "Option::is_none"
    )]
    pub disabled_reason: Option<String>,
}

impl fmt::Debug for WebhookRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookRegistration")
            .field("subscriber_id", &self.subscriber_id)
            .field("webhook_url", &self.webhook_url)
            .field("webhook_events", &self.webhook_events)
            .field(
                "signing_secret",
                &self.signing_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("disabled", &self.disabled)
            .field("disabled_reason", &self.disabled_reason)
            .finish()
    }
}

/// The body of a delivery: what changed, never more than Partner Center's events carry; read
/// `resource_uri` for the current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebhookPayload {
    pub event_name: WebhookEvent,
    #[serde(default)]
    pub resource_uri: String,
    #[serde(default)]
    pub resource_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_uri: Option<String>,
    /// When the change happened, on the partner's (virtual) clock.
    #[serde(default, with = "date", skip_serializing_if = "Option::is_none")]
    pub resource_change_utc_date: Option<OffsetDateTime>,
}

open_enum! {
    /// Where a test event (`validationEvents`) stands.
    WebhookValidationState {
        Pending = "pending",
        Completed = "completed",
        Failed = "failed",
    }
}

/// `GET /webhooks/v1/registration/validationEvents/{correlationId}`: what became of a test event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookValidation {
    #[serde(default)]
    pub correlation_id: String,
    #[serde(default)]
    pub partner_id: String,
    pub status: WebhookValidationState,
    #[serde(default)]
    pub callback_url: String,
    #[serde(default)]
    pub results: Vec<WebhookValidationResult>,
}

/// One attempt at delivering a test event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookValidationResult {
    /// As the REST reference types it: the name of a .NET `HttpStatusCode` (`OK`, `Gone`,
    /// `InternalServerError`) or the number as text; see [`Self::status_code`].
    #[serde(default, deserialize_with = "string_or_number")]
    pub response_code: String,
    #[serde(default)]
    pub response_message: String,
    /// True when the attempt failed on the sender's side (no answer: refused, timed out).
    #[serde(default)]
    pub system_error: bool,
    #[serde(default, with = "date", skip_serializing_if = "Option::is_none")]
    pub date_time_utc: Option<OffsetDateTime>,
}

impl WebhookValidationResult {
    /// The HTTP status of [`response_code`](Self::response_code), when it is a number or a
    /// `HttpStatusCode` name this SDK knows.
    pub fn status_code(&self) -> Option<u16> {
        let code = self.response_code.trim();
        code.parse().ok().or_else(|| {
            HTTP_STATUS_NAMES
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(code))
                .map(|(_, status)| *status)
        })
    }
}

/// .NET's `HttpStatusCode` names of the statuses a receiver answers most.
const HTTP_STATUS_NAMES: &[(&str, u16)] = &[
    ("OK", 200),
    ("Created", 201),
    ("Accepted", 202),
    ("NoContent", 204),
    ("MovedPermanently", 301),
    ("Redirect", 302),
    ("Found", 302),
    ("TemporaryRedirect", 307),
    ("PermanentRedirect", 308),
    ("BadRequest", 400),
    ("Unauthorized", 401),
    ("Forbidden", 403),
    ("NotFound", 404),
    ("MethodNotAllowed", 405),
    ("RequestTimeout", 408),
    ("Conflict", 409),
    ("Gone", 410),
    ("TooManyRequests", 429),
    ("InternalServerError", 500),
    ("NotImplemented", 501),
    ("BadGateway", 502),
    ("ServiceUnavailable", 503),
    ("GatewayTimeout", 504),
];

open_enum! {
    /// Where a webhook delivery stands (operator API).
    DeliveryStatus {
        Pending = "pending",
        Succeeded = "succeeded",
        Dead = "dead",
        /// The registration was deleted or disabled before it succeeded.
        Cancelled = "cancelled",
    }
}

/// One event's delivery to a partner's webhook (`GET /admin/v1/partners/{p}/deliveries`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    /// Sent as `webhook-id`, the same on every attempt.
    #[serde(default, deserialize_with = "string_or_number")]
    pub event_id: String,
    pub event_name: WebhookEvent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualification: Option<Qualification>,
    pub status: DeliveryStatus,
    /// Oldest first.
    #[serde(default)]
    pub attempts: Vec<DeliveryAttempt>,
    /// When the next attempt is due, on the partner's clock (none once it is over).
    #[serde(default, with = "date", skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    #[serde(default, with = "date", skip_serializing_if = "Option::is_none")]
    pub at: Option<OffsetDateTime>,
    /// The receiver's HTTP status; none when there was no answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_code: Option<u16>,
    /// Why there was no answer (refused, timed out, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub duration_ms: u64,
}

/// Wraps a value so it serializes as a bare JSON string body (legacy `PUT`).
pub(crate) struct Bare<'a>(pub &'a str);

impl Serialize for Bare<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_enum_values_are_kept_not_rejected() {
        let q: CustomerQualification = serde_json::from_value(json!({
            "qualification": "SomethingNew",
            "vettingStatus": "Escalated",
            "vettingCreateDate": "2020-12-04T20:54:24Z",
            "brandNewField": 1
        }))
        .unwrap();
        assert_eq!(q.vetting_status, VettingStatus::Other("Escalated".into()));
        assert_eq!(q.qualification, Qualification::Other("SomethingNew".into()));
        assert!(!q.vetting_status.is_terminal());
        let back = serde_json::to_value(&q).unwrap();
        assert_eq!(back["vettingStatus"], "Escalated");
        assert_eq!(back["vettingCreateDate"], "2020-12-04T20:54:24Z");
    }

    #[test]
    fn known_values_match_case_insensitively_and_keep_their_wire_spelling() {
        assert_eq!(VettingStatus::parse("approved"), VettingStatus::Approved);
        assert_eq!(AccountStatus::parse("NotReady"), AccountStatus::NotReady);
        assert_eq!(AccountStatus::NotReady.as_str(), "Not Ready");
        assert_eq!(
            serde_json::to_value(GdapRole::DirectoryReader).unwrap(),
            json!("Directory Reader")
        );
        assert_eq!(
            LegacyQualification::parse("GovernmentCommunityCloud"),
            LegacyQualification::GovernmentCommunityCloud
        );
    }

    #[test]
    fn dates_without_a_zone_are_read_as_utc() {
        let s: ValidationStatus = serde_json::from_value(json!({
            "type": "account", "status": "Allowed", "lastUpdateDateTime": "2021-07-14T18:02:00"
        }))
        .unwrap();
        assert_eq!(
            s.last_update_date_time.unwrap().unix_timestamp(),
            1_626_285_720
        );
        assert!(
            serde_json::from_value::<ValidationStatus>(json!({
                "type": "account", "status": "Allowed", "lastUpdateDateTime": "yesterday"
            }))
            .is_err()
        );
    }

    #[test]
    fn requests_omit_absent_fields() {
        let body = serde_json::to_value(QualificationRequest::education(
            EducationSegment::HigherEducation,
            None,
        ))
        .unwrap();
        assert_eq!(
            body,
            json!({"qualification": "Education", "educationSegment": "HigherEducation"})
        );
    }

    #[test]
    fn webhook_models_read_the_wire_shapes() {
        let r: WebhookRegistration = serde_json::from_value(json!({
            "SubscriberId": "e1a9c8f0-0000-4000-8000-000000000001",
            "WebhookUrl": "https://receiver.example/hook",
            "WebhookEvents": ["customer-qualification-updated", "something-new"],
            "SigningSecret": "whsec_c2VjcmV0",
            "Disabled": true,
            "DisabledReason": "the receiver answered 410 Gone",
            "Later": true
        }))
        .unwrap();
        assert_eq!(
            r.webhook_events,
            [
                WebhookEvent::CustomerQualificationUpdated,
                WebhookEvent::Other("something-new".into())
            ]
        );
        assert!(r.disabled && r.disabled_reason.is_some());
        assert!(
            !format!("{r:?}").contains("c2VjcmV0"),
            "Debug hides the secret"
        );
        let body = serde_json::to_value(NewWebhookRegistration::new(
            "https://receiver.example/hook",
            vec![WebhookEvent::CustomerQualificationCreated],
        ))
        .unwrap();
        assert_eq!(
            body,
            json!({"WebhookUrl": "https://receiver.example/hook",
                   "WebhookEvents": ["customer-qualification-created"]})
        );

        let v: WebhookValidation = serde_json::from_value(json!({
            "correlationId": "c", "partnerId": "p", "status": "completed", "callbackUrl": "u",
            "results": [{"responseCode": "Gone", "responseMessage": "", "systemError": false,
                         "dateTimeUtc": "2026-12-01T10:00:00.000Z"},
                        {"responseCode": 502, "responseMessage": "", "systemError": false}]
        }))
        .unwrap();
        assert_eq!(v.status, WebhookValidationState::Completed);
        assert_eq!(v.results[0].status_code(), Some(410));
        assert_eq!(v.results[1].status_code(), Some(502));

        let d: Delivery = serde_json::from_value(json!({
            "id": 7, "eventId": "3f0c", "eventName": "customer-qualification-created",
            "customerId": null, "qualification": null, "status": "dead",
            "attempts": [{"at": "2030-01-01T00:00:00Z", "responseCode": null,
                          "error": "timed out", "durationMs": 10000}],
            "nextAttemptAt": null
        }))
        .unwrap();
        assert_eq!((d.id.as_str(), d.status), ("7", DeliveryStatus::Dead));
        assert_eq!(d.attempts[0].response_code, None);
    }

    #[test]
    fn the_continuation_comes_from_links_next() {
        let page: ResourceCollection<Customer> = serde_json::from_value(json!({
            "totalCount": 0, "items": [],
            "links": {"self": {"uri": "/customers?size=1", "method": "GET", "headers": []},
                      "next": {"uri": "/customers?size=1&seekOperation=Next", "method": "GET",
                               "headers": [{"key": "MS-ContinuationToken", "value": "abc"}]}},
            "attributes": {"objectType": "Collection"}
        }))
        .unwrap();
        assert_eq!(page.continuation(), Some("abc"));
    }
}
