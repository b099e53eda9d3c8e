//! The partner's GCC validation codes and a customer's account validation status (4.5, 4.6).

pub mod wire;

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};

use self::wire::{ValidationCodeOut, ValidationStatusOut};
use super::service::PartnerApi;
use crate::http::auth::{AnyPartner, Delegated};
use crate::http::body::ok;
use crate::http::error::{ApiError, ApiResult};
use crate::http::params::CustomerPath;
use crate::http::query::query_map;
use crate::http::responses::{Forbidden, NotFound};

/// `GET /v1/customers/all/validations`: the caller's codes, a bare array.
#[utoipa::path(
    get,
    path = "/v1/customers/all/validations",
    tag = "validations",
    operation_id = "listValidationCodes",
    summary = "The calling partner's GCC validation codes",
    responses(
        (status = 200, description = "A bare array of the partner's codes.", body = Vec<ValidationCodeOut>,
            example = json!([{"partnerId": "9daaeb1c-4195-4db5-9f1d-509eb70c8c2d", "organizationName": "Contoso, Inc.", "validationId": "12345", "maxCreates": 5, "remainingCreates": 4, "eTag": "b3JnYW5pemF0aW9u", "etag": "b3JnYW5pemF0aW9u"}])),
    ),
)]
pub async fn list_codes(
    State(api): State<PartnerApi>,
    AnyPartner(caller): AnyPartner,
) -> ApiResult<Response> {
    let codes = api.validation_codes(caller.partner).await?;
    Ok(ok(codes
        .iter()
        .map(ValidationCodeOut::from)
        .collect::<Vec<_>>())
    .into_response())
}

/// `GET /v1/customers/{id}/validationStatus?type=account` (App+User only).
#[utoipa::path(
    get,
    path = "/v1/customers/{customer_id}/validationStatus",
    tag = "validations",
    operation_id = "getValidationStatus",
    summary = "A customer's account validation status (App+User only)",
    params(
        CustomerPath,
        ("type" = String, Query, pattern = "^[Aa][Cc][Cc][Oo][Uu][Nn][Tt]$",
            description = "`account` (matched case-insensitively; the SDK sends `Account`)."),
    ),
    responses(
        (status = 200, description = "The status an operator set.", body = ValidationStatusOut,
            example = json!({"type": "account", "status": "Allowed", "lastUpdateDateTime": "2021-07-14T18:02:00Z"})),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub async fn account_status(
    State(api): State<PartnerApi>,
    Delegated(caller): Delegated,
    CustomerPath { customer_id }: CustomerPath,
    uri: Uri,
) -> ApiResult<Response> {
    let customer = api.owned(&caller, customer_id).await?;
    match query_map(&uri)?.get("type") {
        Some(t) if t.eq_ignore_ascii_case("account") => {}
        Some(t) => {
            return Err(ApiError::invalid(format!(
                "type {t:?} is not supported; use account."
            )));
        }
        None => {
            return Err(ApiError::invalid(
                "The query parameter type is required (type=account).",
            ));
        }
    }
    let status = api.validation_status(customer).await?;
    Ok(ok(ValidationStatusOut::from(&status)).into_response())
}
