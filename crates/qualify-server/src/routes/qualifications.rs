//! Customer qualifications: the seed `POST`, the list, and the retired single-value contract
//! (api.md 4.1 - 4.3).

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use qualify_core::rules::{QualificationRequest, legacy_current};

use super::customers::replayed;
use super::{WriteRequest, owned_customer, query_map, write_context};
use crate::AppState;
use crate::auth::Caller;
use crate::body::{Json, JsonBody, ok};
use crate::context::RequestIds;
use crate::dto::input::{LegacyQualificationIn, QualificationIn};
use crate::dto::output::QualificationOut;
use crate::error::ApiResult;

/// Records the request (one transaction: qualification, GCC decrement, vetting job, audit
/// event) and wakes the worker. Vetting happens afterwards.
async fn record(
    state: &AppState,
    caller: &Caller,
    ids: &RequestIds,
    write: WriteRequest<'_>,
    customer_id: &str,
    request: impl FnOnce() -> Result<QualificationRequest, qualify_core::DomainError>,
) -> ApiResult<qualify_store::Idempotent<qualify_core::qualification::QualificationRecord>> {
    caller.require_app_user()?;
    let customer = owned_customer(state, caller, customer_id).await?;
    let request = request()?;
    let ctx = write_context(state, caller, ids, Some(write));
    let vet_at = ctx.now + state.config.policy.delay;
    let created = state
        .store
        .create_qualification(&ctx, caller.partner, customer.id, request, vet_at)
        .await?;
    if !created.replayed {
        state.jobs_enqueued.notify_one();
    }
    Ok(created)
}

/// `POST /v1/customers/{id}/qualifications[?code=]`: 201 with the InReview qualification.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ids: RequestIds,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
    body: JsonBody<QualificationIn>,
) -> ApiResult<Response> {
    let code = query_map(&uri)?.remove("code");
    let write = WriteRequest {
        method: &method,
        uri: &uri,
        canonical_body: &body.canonical,
    };
    let created = record(&state, &caller, &ids, write, &id, || {
        body.value.into_request(code)
    })
    .await?;
    Ok(replayed(
        Json(StatusCode::CREATED, QualificationOut::from(&created.value)).into_response(),
        created.replayed,
    ))
}

/// `GET /v1/customers/{id}/qualifications`: a bare array, oldest first.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let customer = owned_customer(&state, &caller, &id).await?;
    let all = state.store.qualifications(customer.id).await?;
    Ok(ok(all.iter().map(QualificationOut::from).collect::<Vec<_>>()).into_response())
}

/// `GET /v1/customers/{id}/qualification`: the latest InReview or Approved value as a bare
/// lower snake-case string, else `"none"`.
pub async fn legacy_get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let customer = owned_customer(&state, &caller, &id).await?;
    let all = state.store.qualifications(customer.id).await?;
    let value =
        legacy_current(&all).map_or("none", |q| q.qualification.qualification().legacy_name());
    Ok(ok(value).into_response())
}

/// `PUT /v1/customers/{id}/qualification[?code=]`: the rules of 4.1 without `educationSegment`.
pub async fn legacy_put(
    State(state): State<AppState>,
    caller: Caller,
    ids: RequestIds,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
    body: JsonBody<LegacyQualificationIn>,
) -> ApiResult<Response> {
    let code = query_map(&uri)?.remove("code");
    let write = WriteRequest {
        method: &method,
        uri: &uri,
        canonical_body: &body.canonical,
    };
    let created = record(&state, &caller, &ids, write, &id, || {
        body.value.into_request(code)
    })
    .await?;
    let value = created.value.qualification.qualification().legacy_name();
    Ok(replayed(ok(value).into_response(), created.replayed))
}
