//! The operator API's answers and bodies: reviews, decisions, codes, GDAP, history, events.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::enums::*;

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
