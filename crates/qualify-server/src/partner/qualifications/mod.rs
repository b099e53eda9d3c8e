//! Customer qualifications: the seed `POST`, the list, and the retired single-value contract
//! (api.md 4.1 - 4.3).

pub mod wire;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use qualify_core::CustomerId;
use qualify_core::qualification::QualificationRecord;
use qualify_store::Idempotent;

use self::wire::{AsksForQualification, LegacyQualificationIn, QualificationIn, QualificationOut};
use super::service::PartnerApi;
use crate::http::auth::{AnyPartner, Delegated};
use crate::http::body::{Json, ok, replayed};
use crate::http::error::ApiResult;
use crate::http::params::{CustomerPath, WithBody};
use crate::http::query::query_map;
use crate::http::responses::{Conflict, Forbidden, NotFound};
use crate::http::schemas::{LegacyQualificationSchema, LegacySettableQualificationSchema};
use crate::http::write::Write;

/// Records the qualification a write asks for (the query's `code` is the legacy place of a GCC
/// code; the body's wins).
async fn record<T: AsksForQualification>(
    api: &PartnerApi,
    customer: CustomerId,
    uri: &Uri,
    write: Write<Delegated, T>,
) -> ApiResult<Idempotent<QualificationRecord>> {
    let code = query_map(uri)?.remove("code");
    api.record(&write.ctx, &write.caller, customer, || {
        write.body.into_request(code)
    })
    .await
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
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn create(
    State(api): State<PartnerApi>,
    uri: Uri,
    WithBody(CustomerPath { customer_id }, write): WithBody<
        CustomerPath,
        Write<Delegated, QualificationIn>,
    >,
) -> ApiResult<Response> {
    let created = record(&api, customer_id, &uri, write).await?;
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
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub async fn list(
    State(api): State<PartnerApi>,
    AnyPartner(caller): AnyPartner,
    CustomerPath { customer_id }: CustomerPath,
) -> ApiResult<Response> {
    let all = api.qualifications(&caller, customer_id).await?;
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
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub async fn legacy_get(
    State(api): State<PartnerApi>,
    AnyPartner(caller): AnyPartner,
    CustomerPath { customer_id }: CustomerPath,
) -> ApiResult<Response> {
    let current = api.legacy_qualification(&caller, customer_id).await?;
    let value = current.map_or("none", |q| q.qualification.qualification().legacy_name());
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
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub async fn legacy_put(
    State(api): State<PartnerApi>,
    uri: Uri,
    WithBody(CustomerPath { customer_id }, write): WithBody<
        CustomerPath,
        Write<Delegated, LegacyQualificationIn>,
    >,
) -> ApiResult<Response> {
    let created = record(&api, customer_id, &uri, write).await?;
    let value = created.value.qualification.qualification().legacy_name();
    Ok(replayed(ok(value).into_response(), created.replayed))
}
