//! The partner's GCC validation codes and a customer's account validation status (4.5, 4.6).

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use qualify_core::ErrorKind;

use super::{owned_customer, query_map};
use crate::AppState;
use crate::auth::Caller;
use crate::body::ok;
use crate::dto::output::{ValidationCodeOut, ValidationStatusOut};
use crate::error::{ApiError, ApiResult};

/// `GET /v1/customers/all/validations`: the caller's codes, a bare array.
pub async fn list_codes(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let codes = state.store.validation_codes(caller.partner).await?;
    Ok(ok(codes
        .iter()
        .map(ValidationCodeOut::from)
        .collect::<Vec<_>>())
    .into_response())
}

/// `GET /v1/customers/{id}/validationStatus?type=account` (App+User only).
pub async fn account_status(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    caller.require_app_user()?;
    let customer = owned_customer(&state, &caller, &id).await?;
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
    let status = state
        .store
        .validation_status(customer.id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorKind::ValidationStatusNotFound,
                format!(
                    "No account validation status was found for the customer {}.",
                    customer.id
                ),
            )
        })?;
    Ok(ok(ValidationStatusOut::from(&status)).into_response())
}
