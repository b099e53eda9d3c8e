//! The wire types of qualification requests (api.md 4.1 - 4.3): the request of
//! `POST .../qualifications` (lower-case names: the body's keys arrive folded), the retired
//! contract's bare string, and the answer's one qualification.

use qualify_core::DomainError;
use qualify_core::qualification::{EducationSegment, Qualification, QualificationRecord};
use qualify_core::rules::{Contract, QualificationRequest};
use qualify_core::time_fmt::wire;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::schemas::{
    EducationSegmentSchema, LegacySettableQualificationSchema, QualificationSchema,
    VettingStatusSchema,
};

/// A string field that also accepts a number (GCC codes are documented as `int`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum StringOrNumber {
    S(String),
    #[schema(value_type = i64)]
    N(serde_json::Number),
}

impl StringOrNumber {
    pub fn into_string(self) -> String {
        match self {
            StringOrNumber::S(s) => s,
            StringOrNumber::N(n) => n.to_string(),
        }
    }
}

/// `POST /v1/customers/{id}/qualifications`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = QualificationRequest)]
pub struct QualificationIn {
    #[schema(value_type = QualificationSchema, required = true)]
    pub qualification: Option<String>,
    /// Required with Education.
    #[schema(rename = "educationSegment", value_type = Option<EducationSegmentSchema>)]
    pub educationsegment: Option<String>,
    /// Education only: the institution's website or host name.
    #[schema(max_length = 2048)]
    pub website: Option<String>,
    /// GovernmentCommunityCloud: one of the partner's validation codes (`validationId`).
    #[schema(rename = "validationCode")]
    pub validationcode: Option<StringOrNumber>,
}

impl QualificationIn {
    /// `query_code` is the legacy `?code=`; the body's `validationCode` wins over it.
    pub fn into_request(
        self,
        query_code: Option<String>,
    ) -> Result<QualificationRequest, DomainError> {
        let name = self
            .qualification
            .ok_or_else(|| DomainError::invalid("qualification is required."))?;
        let q = Qualification::parse(&name).ok_or_else(|| {
            DomainError::invalid(format!(
                "qualification {name:?} is not a CustomerQualification value (Education, GovernmentCommunityCloud, StateOwnedEntity)."
            ))
        })?;
        let settable = q.settable()?;
        let segment = match self.educationsegment {
            Some(s) => Some(EducationSegment::parse(&s).ok_or_else(|| {
                DomainError::invalid(format!(
                    "educationSegment {s:?} is not one of K12, HigherEducation."
                ))
            })?),
            None => None,
        };
        let code = self
            .validationcode
            .map(StringOrNumber::into_string)
            .or(query_code);
        QualificationRequest::new(settable, segment, self.website, code, Contract::Current)
    }
}

/// The legacy `PUT /qualification` body: a bare string, or an object with `qualification`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(as = LegacyQualificationRequest)]
pub enum LegacyQualificationIn {
    #[schema(value_type = LegacySettableQualificationSchema)]
    Bare(String),
    Object {
        #[schema(value_type = LegacySettableQualificationSchema)]
        qualification: String,
    },
}

impl LegacyQualificationIn {
    pub fn into_request(
        self,
        query_code: Option<String>,
    ) -> Result<QualificationRequest, DomainError> {
        let name = match self {
            LegacyQualificationIn::Bare(s) | LegacyQualificationIn::Object { qualification: s } => {
                s
            }
        };
        let q = Qualification::parse_legacy(&name).ok_or_else(|| {
            DomainError::invalid(format!("{name:?} is not a qualification value."))
        })?;
        QualificationRequest::new(q.settable()?, None, None, query_code, Contract::Legacy)
    }
}

/// The 4.2 shape: one qualification request.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CustomerQualification)]
pub struct QualificationOut {
    #[schema(value_type = QualificationSchema)]
    pub qualification: &'static str,
    #[schema(value_type = VettingStatusSchema)]
    pub vetting_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub vetting_reason: Option<String>,
    #[schema(format = DateTime)]
    pub vetting_create_date: String,
}

impl From<&QualificationRecord> for QualificationOut {
    fn from(q: &QualificationRecord) -> Self {
        Self {
            qualification: q.qualification.name(),
            vetting_status: q.vetting_status.name(),
            vetting_reason: q.vetting_reason.clone(),
            vetting_create_date: wire(q.vetting_create_date),
        }
    }
}

/// A body that asks for a qualification, in either contract; `query_code` is the legacy
/// `?code=`.
pub trait AsksForQualification {
    fn into_request(self, query_code: Option<String>) -> Result<QualificationRequest, DomainError>;
}

impl AsksForQualification for QualificationIn {
    fn into_request(self, query_code: Option<String>) -> Result<QualificationRequest, DomainError> {
        QualificationIn::into_request(self, query_code)
    }
}

impl AsksForQualification for LegacyQualificationIn {
    fn into_request(self, query_code: Option<String>) -> Result<QualificationRequest, DomainError> {
        LegacyQualificationIn::into_request(self, query_code)
    }
}
