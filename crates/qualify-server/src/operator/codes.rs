//! GCC validation codes, as an operator issues them to a partner (api.md 6).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use qualify_core::DomainError;
use qualify_core::customer::optional_text;
use qualify_core::validation::MAX_CREATES_LIMIT;
use serde::Deserialize;
use utoipa::ToSchema;

use super::service::OperatorApi;
use crate::http::auth::Operator;
use crate::http::body::{Json, ok};
use crate::http::error::ApiResult;
use crate::http::params::{PartnerPath, WithBody};
use crate::http::write::Write;
use crate::partner::validations::wire::ValidationCodeOut;

/// `POST /admin/v1/partners/{id}/validations`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = IssueValidationCodeRequest)]
pub struct IssueCodeIn {
    #[schema(
        rename = "organizationName",
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 256
    )]
    pub organizationname: Option<String>,
    /// How many qualifications the code may create (default 1).
    #[schema(rename = "maxCreates", value_type = Option<i64>, minimum = 1, maximum = 1_000_000)]
    pub maxcreates: Option<serde_json::Value>,
}

impl IssueCodeIn {
    pub fn validate(self) -> Result<(String, i64), DomainError> {
        let org = optional_text("organizationName", self.organizationname, 256)?
            .ok_or_else(|| DomainError::invalid("organizationName is required."))?;
        let max = match self.maxcreates {
            None => 1,
            Some(v) => v
                .as_i64()
                .filter(|n| (1..=MAX_CREATES_LIMIT).contains(n))
                .ok_or_else(|| {
                    DomainError::invalid(format!(
                        "maxCreates must be an integer from 1 to {MAX_CREATES_LIMIT}."
                    ))
                })?,
        };
        Ok((org, max))
    }
}

/// `POST /admin/v1/partners/{partnerTenantId}/validations`: 201, a new code.
#[utoipa::path(
    post,
    path = "/admin/v1/partners/{partner_id}/validations",
    tag = "operator",
    operation_id = "issueValidationCode",
    summary = "Issue a GCC validation code to a partner",
    params(PartnerPath),
    request_body(content = IssueCodeIn, example = json!({"organizationName": "Contoso Gov", "maxCreates": 5})),
    responses(
        (status = 201, description = "The new code; `validationId` is what the partner sends as `validationCode`.", body = ValidationCodeOut,
            links(("ListPartnerValidationCodes" = (operation_id = "listPartnerValidationCodes", parameters(("partner_id" = "$response.body#/partnerId")))))),
    ),
)]
pub async fn issue_code(
    State(api): State<OperatorApi>,
    WithBody(PartnerPath { partner_id }, write): WithBody<
        PartnerPath,
        Write<Operator, IssueCodeIn>,
    >,
) -> ApiResult<Response> {
    let (org, max) = write.body.validate()?;
    let code = api.issue_code(&write.ctx, partner_id, &org, max).await?;
    Ok(Json(StatusCode::CREATED, ValidationCodeOut::from(&code)).into_response())
}

/// `GET /admin/v1/partners/{partnerTenantId}/validations`: that partner's codes.
#[utoipa::path(
    get,
    path = "/admin/v1/partners/{partner_id}/validations",
    tag = "operator",
    operation_id = "listPartnerValidationCodes",
    summary = "A partner's GCC validation codes",
    params(PartnerPath),
    responses(
        (status = 200, description = "A bare array of the partner's codes.", body = Vec<ValidationCodeOut>),
    ),
)]
pub async fn list_codes(
    State(api): State<OperatorApi>,
    _: Operator,
    PartnerPath { partner_id }: PartnerPath,
) -> ApiResult<Response> {
    let codes = api.validation_codes(partner_id).await?;
    Ok(ok(codes
        .iter()
        .map(ValidationCodeOut::from)
        .collect::<Vec<_>>())
    .into_response())
}
