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
