//! Decisions on qualification requests, and their audit history (api.md 6).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use qualify_core::customer::optional_text;
use qualify_core::qualification::{DecisionStatus, VettingDecision};
use qualify_core::time_fmt::wire;
use qualify_core::{DomainError, ErrorKind};
use qualify_store::AuditEvent;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::service::OperatorApi;
use crate::http::auth::Operator;
use crate::http::body::ok;
use crate::http::context::IfMatch;
use crate::http::error::{ApiError, ApiResult};
use crate::http::params::{Both, CustomerPath, QualificationPath, WithBody};
use crate::http::responses::{Conflict, NotFound, PreconditionFailed, PreconditionRequired};
use crate::http::schemas::{DecisionStatusSchema, VettingStatusSchema};
use crate::http::write::Write;
use crate::partner::qualifications::wire::QualificationOut;

/// `POST /admin/v1/customers/{id}/qualifications/{q}/decision`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = VettingDecisionRequest)]
pub struct DecisionIn {
    #[schema(rename = "vettingStatus", value_type = DecisionStatusSchema, required = true)]
    pub vettingstatus: Option<String>,
    #[schema(
        rename = "vettingReason",
        max_length = 1024,
        example = "Not an Education Customer"
    )]
    pub vettingreason: Option<String>,
}

impl TryFrom<DecisionIn> for VettingDecision {
    type Error = DomainError;
    fn try_from(d: DecisionIn) -> Result<Self, DomainError> {
        let s = d.vettingstatus.ok_or_else(|| {
            DomainError::invalid("vettingStatus is required (Approved or Denied).")
        })?;
        let status = DecisionStatus::parse(&s).ok_or_else(|| {
            DomainError::invalid(format!("vettingStatus {s:?} is not Approved or Denied."))
        })?;
        Ok(VettingDecision {
            status,
            reason: optional_text("vettingReason", d.vettingreason, 1024)?,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AuditEvent)]
pub struct AuditEventOut {
    #[schema(format = DateTime)]
    pub at: String,
    pub actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Option<VettingStatusSchema>)]
    pub from: Option<&'static str>,
    #[schema(value_type = VettingStatusSchema)]
    pub to: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub correlation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub profile_etag: Option<String>,
}

impl From<&AuditEvent> for AuditEventOut {
    fn from(e: &AuditEvent) -> Self {
        Self {
            at: wire(e.at),
            actor: e.actor.clone(),
            from: e.from.map(|s| s.name()),
            to: e.to.name(),
            reason: e.reason.clone(),
            request_id: e.request_id.clone(),
            correlation_id: e.correlation_id.clone(),
            profile_etag: e.profile_etag.clone(),
        }
    }
}

/// `POST /admin/v1/customers/{id}/qualifications/{q}/decision` with `If-Match`.
#[utoipa::path(
    post,
    path = "/admin/v1/customers/{customer_id}/qualifications/{qualification}/decision",
    tag = "operator",
    operation_id = "decideQualification",
    summary = "Approve or deny a qualification in review",
    params(
        CustomerPath,
        QualificationPath,
        ("If-Match" = String, Header, pattern = "^(W/)?\"?[!#-~]+\"?$", description = "The qualification's etag from the review queue."),
    ),
    request_body(content = DecisionIn, example = json!({"vettingStatus": "Denied", "vettingReason": "Not an Education Customer"})),
    responses(
        (status = 200, description = "The decided qualification (the shape of the customer's list).", body = QualificationOut,
            headers(("ETag" = String, description = "The qualification's new etag, quoted."))),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 428, response = PreconditionRequired),
    ),
)]
pub async fn decide(
    State(api): State<OperatorApi>,
    IfMatch(etag): IfMatch,
    WithBody(path, write): WithBody<
        Both<CustomerPath, QualificationPath>,
        Write<Operator, DecisionIn>,
    >,
) -> ApiResult<Response> {
    let Both(CustomerPath { customer_id }, QualificationPath { qualification }) = path;
    let customer = api.customer(customer_id).await?;
    let decision = VettingDecision::try_from(write.body)?;
    let etag = etag.ok_or_else(|| {
        ApiError::new(
            ErrorKind::PreconditionRequired,
            "A decision requires If-Match with the qualification's etag (see /admin/v1/reviews).",
        )
    })?;
    let decided = api
        .decide(&write.ctx, customer.id, qualification, &etag, &decision)
        .await?;
    let mut response = ok(QualificationOut::from(&decided)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", decided.etag)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    Ok(response)
}

/// `GET /admin/v1/customers/{id}/qualifications/{q}/history`: audit events, oldest first.
#[utoipa::path(
    get,
    path = "/admin/v1/customers/{customer_id}/qualifications/{qualification}/history",
    tag = "operator",
    operation_id = "qualificationHistory",
    summary = "The audit history of a customer's qualification",
    params(CustomerPath, QualificationPath),
    responses(
        (status = 200, description = "A bare array of audit events, oldest first.", body = Vec<AuditEventOut>),
        (status = 404, response = NotFound),
    ),
)]
pub async fn history(
    State(api): State<OperatorApi>,
    _: Operator,
    CustomerPath { customer_id }: CustomerPath,
    QualificationPath { qualification }: QualificationPath,
) -> ApiResult<Response> {
    let customer = api.customer(customer_id).await?;
    let events = api.history(customer.id, qualification).await?;
    Ok(ok(events.iter().map(AuditEventOut::from).collect::<Vec<_>>()).into_response())
}
