//! Customer qualifications: the seed `POST`, the list, and the retired single-value contract
//! (api.md 4.1 - 4.3).

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use qualify_core::engine::reads_count;
use qualify_core::rules::{QualificationRequest, legacy_current};

use super::customers::replayed;
use super::{
    CustomerPath, WriteRequest, owned_customer_id, owned_qualifications, query_map, write_context,
};
use crate::AppState;
use crate::auth::{AnyPartner, Caller, Delegated};
use crate::body::{Json, JsonBody, ok};
use crate::context::RequestIds;
use crate::dto::input::{LegacyQualificationIn, QualificationIn};
use crate::dto::output::QualificationOut;
use crate::error::ApiResult;
use crate::openapi::{
    BadRequest, Conflict, Forbidden, LegacyQualificationSchema, LegacySettableQualificationSchema,
    NotFound, PayloadTooLarge, RequestTimeout, ServiceUnavailable, TooManyRequests, Unauthorized,
    UnsupportedMediaType,
};

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
    let customer = owned_customer_id(state, caller, customer_id).await?;
    let request = request()?;
    let ctx = write_context(state, caller, ids, Some(write));
    let created = state
        .store
        .create_qualification(
            &ctx,
            caller.partner,
            customer,
            request,
            &state.config.policy,
        )
        .await?;
    if !created.replayed {
        crate::metrics::qualification_created(created.value.qualification);
        state.wake_worker();
    }
    Ok(created)
}

/// Counts a read of the customer's `afterReads` requests (all, or only `only`): the read that
/// completes a rule's count is the first to show its decision.
async fn counted_read(
    state: &AppState,
    raw_id: &str,
    only: Option<i64>,
) -> ApiResult<Vec<qualify_core::qualification::QualificationRecord>> {
    let customer = super::customer_id(raw_id)?;
    let read = state
        .store
        .count_reads(customer, state.time.wall(), &state.config.policy, only)
        .await?
        .ok_or_else(|| {
            crate::error::ApiError::new(
                qualify_core::ErrorKind::NotFound,
                "The customer was not found.",
            )
        })?;
    for q in read.records.iter().filter(|q| read.decided.contains(&q.id)) {
        crate::metrics::vetting_decision(
            q.qualification,
            q.vetting_status,
            crate::metrics::ActorKind::Scenario,
        );
    }
    Ok(read.records)
}

/// `POST /v1/customers/{id}/qualifications[?code=]`: 201 with the InReview qualification.
#[utoipa::path(
    post,
    path = "/v1/customers/{customer_id}/qualifications",
    tag = "qualifications",
    operation_id = "createQualification",
    summary = "Request a qualification for a customer (App+User only)",
    description = "Records the request, InReview; vetting happens asynchronously afterwards. \
        Education needs `educationSegment` and may be requested at most three times per customer; \
        GovernmentCommunityCloud needs one of the partner's validation codes with \
        `remainingCreates > 0` (body `validationCode`, or the legacy query `code`; the body wins) \
        and a GDAP role over the customer; Education and GovernmentCommunityCloud cannot be \
        combined. A qualification already InReview or Approved is a conflict.",
    params(
        CustomerPath,
        ("code" = Option<String>, Query,
            description = "The GCC validation code, the legacy place for it (the body's `validationCode` wins)."),
    ),
    request_body(
        content = QualificationIn,
        examples(
            ("Education" = (value = json!({"qualification": "Education", "educationSegment": "HigherEducation", "website": "contoso.edu"}))),
            ("GovernmentCommunityCloud" = (value = json!({"qualification": "GovernmentCommunityCloud", "validationCode": "123456"}))),
            ("StateOwnedEntity" = (value = json!({"qualification": "StateOwnedEntity"}))),
        ),
    ),
    responses(
        (status = 201, description = "The recorded request, InReview.", body = QualificationOut,
            headers(("Idempotent-Replayed" = String, description = "`true` on a replay of the same MS-RequestId.")),
            example = json!({"qualification": "Education", "vettingStatus": "InReview", "vettingCreateDate": "2020-12-04T20:54:24Z"})),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    Delegated(caller): Delegated,
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
#[utoipa::path(
    get,
    path = "/v1/customers/{customer_id}/qualifications",
    tag = "qualifications",
    operation_id = "listQualifications",
    summary = "List a customer's qualifications",
    params(CustomerPath),
    responses(
        (status = 200, description = "A bare array, oldest first; empty when the customer has none.",
            body = Vec<QualificationOut>,
            example = json!([{"qualification": "Education", "vettingStatus": "Denied", "vettingReason": "Not an Education Customer", "vettingCreateDate": "2020-12-03T10:37:38Z"}])),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    AnyPartner(caller): AnyPartner,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let mut all = owned_qualifications(&state, &caller, &id).await?;
    // A request whose scenario rule says `afterReads` is decided by the partner's reads.
    if reads_count(&all) {
        all = counted_read(&state, &id, None).await?;
    }
    Ok(ok(all.iter().map(QualificationOut::from).collect::<Vec<_>>()).into_response())
}

/// `GET /v1/customers/{id}/qualification`: the latest InReview or Approved value as a bare
/// lower snake-case string, else `"none"`.
#[utoipa::path(
    get,
    path = "/v1/customers/{customer_id}/qualification",
    tag = "qualifications",
    operation_id = "getLegacyQualification",
    summary = "The customer's qualification, retired single-value contract",
    params(CustomerPath),
    responses(
        (status = 200, description = "The latest InReview or Approved qualification as a bare string, else `none`.",
            body = LegacyQualificationSchema, content_type = "application/json", example = json!("education")),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn legacy_get(
    State(state): State<AppState>,
    AnyPartner(caller): AnyPartner,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let mut all = owned_qualifications(&state, &caller, &id).await?;
    // The read includes the request it shows (control.md 3, afterReads).
    if let Some(current) = legacy_current(&all).filter(|q| reads_count(std::slice::from_ref(*q))) {
        let only = current.id;
        all = counted_read(&state, &id, Some(only)).await?;
    }
    let value =
        legacy_current(&all).map_or("none", |q| q.qualification.qualification().legacy_name());
    Ok(ok(value).into_response())
}

/// `PUT /v1/customers/{id}/qualification[?code=]`: the rules of 4.1 without `educationSegment`.
#[utoipa::path(
    put,
    path = "/v1/customers/{customer_id}/qualification",
    tag = "qualifications",
    operation_id = "putLegacyQualification",
    summary = "Request a qualification, retired single-value contract (App+User only)",
    description = "The rules of createQualification, without `educationSegment`.",
    params(
        CustomerPath,
        ("code" = Option<String>, Query, description = "The GCC validation code."),
    ),
    request_body(content = LegacyQualificationIn, content_type = "application/json", example = json!("education")),
    responses(
        (status = 200, description = "The requested qualification as a bare string.",
            body = LegacySettableQualificationSchema, content_type = "application/json",
            headers(("Idempotent-Replayed" = String, description = "`true` on a replay of the same MS-RequestId.")),
            example = json!("education")),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn legacy_put(
    State(state): State<AppState>,
    Delegated(caller): Delegated,
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
