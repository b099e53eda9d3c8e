//! `/admin/v1/faults` (control.md section 5): add, list, remove and clear fault rules.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use qualify_core::PartnerId;

use super::query_map;
use crate::AppState;
use crate::auth::Operator;
use crate::body::{Json, ok};
use crate::control::{ControlBody, invalid_at};
use crate::error::ApiResult;
use crate::faults::{FaultIn, FaultOut};
use crate::openapi::{
    BadRequest, Forbidden, PayloadTooLarge, RequestTimeout, ServiceUnavailable, Unauthorized,
    UnsupportedMediaType,
};

/// `?partner=P`, when given.
pub(crate) fn partner_query(uri: &Uri) -> ApiResult<Option<PartnerId>> {
    match query_map(uri)?.get("partner") {
        None => Ok(None),
        Some(p) => p
            .parse()
            .map(Some)
            .map_err(|_| invalid_at("partner", format!("{p:?} is not a GUID"))),
    }
}

/// `POST /admin/v1/faults`: 201, the stored fault.
#[utoipa::path(
    post,
    path = "/admin/v1/faults",
    tag = "control",
    operation_id = "addFault",
    summary = "Add a fault rule (tried after the existing ones)",
    description = "Faults apply to `/v1` requests only, in the order they were added; the first \
        whose `match` holds and that fires wins. Unknown keys are refused; a 400 names the \
        offending field by its JSON path.",
    request_body(content = FaultIn, example = json!({
        "match": {"method": "POST", "path": "/v1/customers/*/qualifications", "partner": "9daaeb1c-4195-4db5-9f1d-509eb70c8c2d"},
        "phase": "before",
        "response": {"status": 503, "code": 900503, "description": "Service unavailable", "retryAfter": 2},
        "latency": "250ms", "nth": [1, 3], "times": 2, "probability": 1.0, "seed": 7
    })),
    responses(
        (status = 201, description = "The fault, with its `id`.", body = FaultOut),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn add(
    State(state): State<AppState>,
    Operator(caller): Operator,
    ControlBody(body): ControlBody<FaultIn>,
) -> ApiResult<Response> {
    let spec = body.into_spec()?;
    let id = uuid::Uuid::new_v4().to_string();
    let fault = state.store.add_fault(&id, &spec, state.time.wall()).await?;
    state.faults.reload(state.store.as_ref()).await;
    tracing::info!(fault = %fault.id, actor = %caller.actor(), "control: fault added");
    Ok(Json(StatusCode::CREATED, FaultOut::from(&fault)).into_response())
}

/// `GET /admin/v1/faults[?partner=P]`: in evaluation order.
#[utoipa::path(
    get,
    path = "/admin/v1/faults",
    tag = "control",
    operation_id = "listFaults",
    summary = "The fault rules in evaluation order, with their hits and remaining firings",
    params(("partner" = Option<String>, Query, format = Uuid, description = "Only the faults whose `match.partner` is this partner.")),
    responses(
        (status = 200, description = "A bare array in evaluation order.", body = Vec<FaultOut>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn list(State(state): State<AppState>, _: Operator, uri: Uri) -> ApiResult<Response> {
    let partner = partner_query(&uri)?;
    let faults = state.store.faults(partner).await?;
    Ok(ok(faults.iter().map(FaultOut::from).collect::<Vec<_>>()).into_response())
}

/// `DELETE /admin/v1/faults[?partner=P]`: 204.
#[utoipa::path(
    delete,
    path = "/admin/v1/faults",
    tag = "control",
    operation_id = "clearFaults",
    summary = "Remove every fault rule, or one partner's",
    params(("partner" = Option<String>, Query, format = Uuid, description = "Only the faults whose `match.partner` is this partner.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn clear(
    State(state): State<AppState>,
    Operator(caller): Operator,
    uri: Uri,
) -> ApiResult<Response> {
    let partner = partner_query(&uri)?;
    let n = state.store.clear_faults(partner).await?;
    state.faults.reload(state.store.as_ref()).await;
    tracing::info!(removed = n, partner = ?partner, actor = %caller.actor(), "control: faults cleared");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The id of a fault, as documented.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct FaultPath {
    /// The fault's id (from `POST /admin/v1/faults`).
    pub fault_id: String,
}

/// `DELETE /admin/v1/faults/{id}`: 204, also when it is already gone (a fault removes itself
/// once it fired `times`).
#[utoipa::path(
    delete,
    path = "/admin/v1/faults/{fault_id}",
    tag = "control",
    operation_id = "removeFault",
    summary = "Remove one fault rule",
    description = "204 also when there is no such fault (any more): a fault removes itself once it has fired `times`.",
    params(FaultPath),
    responses(
        (status = 204, description = "Removed (or already gone)."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn remove(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let removed = state.store.remove_fault(&id).await?;
    state.faults.reload(state.store.as_ref()).await;
    tracing::info!(removed, actor = %caller.actor(), "control: fault removed");
    Ok(StatusCode::NO_CONTENT.into_response())
}
