//! `/admin/v1/faults` (control.md section 5): add, list, remove and clear fault rules. The
//! list itself is [`service::Faults`]; what a rule looks like on the wire, [`wire`]; what makes
//! one valid, [`validate`].

pub mod service;
pub mod validate;
pub mod wire;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use self::service::Faults;
use self::wire::{FaultIn, FaultOut};
use crate::clock::Time;
use crate::http::auth::Operator;
use crate::http::body::{Json, ok};
use crate::http::error::ApiResult;
use crate::http::params::FaultPath;
use crate::http::query::{partner_query, query_map};
use crate::http::strict::ControlBody;

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
    ),
)]
pub async fn add(
    State(faults): State<Faults>,
    State(time): State<Time>,
    Operator(caller): Operator,
    ControlBody(body): ControlBody<FaultIn>,
) -> ApiResult<Response> {
    let spec = body.into_spec()?;
    let fault = faults.add(&spec, time.wall()).await?;
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
    ),
)]
pub async fn list(State(faults): State<Faults>, _: Operator, uri: Uri) -> ApiResult<Response> {
    let partner = partner_query(&query_map(&uri)?)?;
    let list = faults.list(partner).await?;
    Ok(ok(list.iter().map(FaultOut::from).collect::<Vec<_>>()).into_response())
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
    ),
)]
pub async fn clear(
    State(faults): State<Faults>,
    Operator(caller): Operator,
    uri: Uri,
) -> ApiResult<Response> {
    let partner = partner_query(&query_map(&uri)?)?;
    let n = faults.clear(partner).await?;
    tracing::info!(removed = n, partner = ?partner, actor = %caller.actor(), "control: faults cleared");
    Ok(StatusCode::NO_CONTENT.into_response())
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
    ),
)]
pub async fn remove(
    State(faults): State<Faults>,
    Operator(caller): Operator,
    FaultPath { fault_id }: FaultPath,
) -> ApiResult<Response> {
    let removed = faults.remove(&fault_id).await?;
    tracing::info!(removed, actor = %caller.actor(), "control: fault removed");
    Ok(StatusCode::NO_CONTENT.into_response())
}
