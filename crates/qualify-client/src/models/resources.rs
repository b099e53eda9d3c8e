//! Customers, their profiles, qualifications and validation codes (the `/v1` resources).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use super::enums::*;

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
pub(crate) fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
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

/// Wraps a value so it serializes as a bare JSON string body (legacy `PUT`).
pub(crate) struct Bare<'a>(pub &'a str);

impl Serialize for Bare<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}
