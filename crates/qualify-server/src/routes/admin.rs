//! The operator API under `/admin/v1` (api.md section 6). Every handler takes the [`Operator`]
//! extractor: tokens without the admin role get 403 900150.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use qualify_core::qualification::{VettingDecision, VettingStatus};
use qualify_core::validation::{AccountStatus, GdapRole};
use qualify_core::{ErrorKind, PartnerId};

use super::{
    CustomerPath, QualificationPath, any_customer, query_map, settable_qualification,
    write_context_for,
};
use crate::AppState;
use crate::auth::Operator;
use crate::body::{Json, JsonBody, ok};
use crate::context::{RequestIds, if_match};
use crate::dto::input::{DecisionIn, GdapIn, IssueCodeIn, ValidationStatusIn};
use crate::dto::output::{
    AuditEventOut, GdapGrantOut, QualificationOut, ReviewOut, ValidationCodeOut,
    ValidationStatusOut,
};
use crate::error::{ApiError, ApiResult};
use crate::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, PreconditionFailed,
    PreconditionRequired, RequestTimeout, ServiceUnavailable, Unauthorized, UnsupportedMediaType,
    VettingStatusSchema,
};

const REVIEW_PAGE: u32 = 1000;

/// The partner tenant id of an operator path, as documented.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PartnerPath {
    /// The partner's tenant id, a GUID.
    #[param(format = Uuid)]
    pub partner_id: String,
}

pub(crate) fn partner_id(raw: &str) -> ApiResult<PartnerId> {
    raw.parse().map_err(|_| {
        ApiError::invalid(format!(
            "The partner tenant id {raw:?} is not a valid GUID."
        ))
    })
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn issue_code(
    State(state): State<AppState>,
    Operator(caller): Operator,
    ids: RequestIds,
    Path(partner): Path<String>,
    body: JsonBody<IssueCodeIn>,
) -> ApiResult<Response> {
    let partner = partner_id(&partner)?;
    let (org, max) = body.value.validate()?;
    let ctx = write_context_for(&state, partner, &caller, &ids, None);
    let code = state
        .store
        .issue_validation_code(&ctx, partner, &org, max)
        .await?;
    tracing::info!(%partner, validation_id = %code.validation_id, max_creates = max, "validation code issued");
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn list_codes(
    State(state): State<AppState>,
    _: Operator,
    Path(partner): Path<String>,
) -> ApiResult<Response> {
    let partner = partner_id(&partner)?;
    let codes = state.store.validation_codes(partner).await?;
    Ok(ok(codes
        .iter()
        .map(ValidationCodeOut::from)
        .collect::<Vec<_>>())
    .into_response())
}

/// `GET /admin/v1/reviews?status=InReview`: oldest first.
#[utoipa::path(
    get,
    path = "/admin/v1/reviews",
    tag = "operator",
    operation_id = "listReviews",
    summary = "The review queue: qualifications in a vetting status, oldest first",
    params(("status" = Option<VettingStatusSchema>, Query, description = "InReview (default), Approved or Denied; case-insensitive.")),
    responses(
        (status = 200, description = "A bare array, oldest first (at most 1000).", body = Vec<ReviewOut>,
            links(
                ("DecideQualification" = (operation_id = "decideQualification", parameters(
                    ("customer_id" = "$response.body#/0/customerId"),
                    ("qualification" = "$response.body#/0/qualification"),
                    ("header.If-Match" = "$response.body#/0/etag"),
                ))),
                ("QualificationHistory" = (operation_id = "qualificationHistory", parameters(
                    ("customer_id" = "$response.body#/0/customerId"),
                    ("qualification" = "$response.body#/0/qualification"),
                ))),
                ("SetValidationStatus" = (operation_id = "setValidationStatus", parameters(("customer_id" = "$response.body#/0/customerId")))),
                ("GetGdapGrant" = (operation_id = "getGdapGrant", parameters(("customer_id" = "$response.body#/0/customerId")))),
                ("SetGdapGrant" = (operation_id = "setGdapGrant", parameters(("customer_id" = "$response.body#/0/customerId")))),
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn reviews(State(state): State<AppState>, _: Operator, uri: Uri) -> ApiResult<Response> {
    let status = match query_map(&uri)?.get("status") {
        None => VettingStatus::InReview,
        Some(s) => VettingStatus::parse(s).ok_or_else(|| {
            ApiError::invalid(format!(
                "status {s:?} is not one of InReview, Approved, Denied."
            ))
        })?,
    };
    let items = state.store.reviews(status, REVIEW_PAGE).await?;
    Ok(ok(items.iter().map(ReviewOut::from).collect::<Vec<_>>()).into_response())
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 428, response = PreconditionRequired),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn decide(
    State(state): State<AppState>,
    Operator(caller): Operator,
    ids: RequestIds,
    headers: HeaderMap,
    Path((customer, qualification)): Path<(String, String)>,
    body: JsonBody<DecisionIn>,
) -> ApiResult<Response> {
    let customer = any_customer(&state, &customer).await?;
    let qualification = settable_qualification(&qualification)?;
    let decision = VettingDecision::try_from(body.value)?;
    let etag = if_match(&headers).ok_or_else(|| {
        ApiError::new(
            ErrorKind::PreconditionRequired,
            "A decision requires If-Match with the qualification's etag (see /admin/v1/reviews).",
        )
    })?;
    let ctx = write_context_for(&state, customer.partner_id, &caller, &ids, None);
    let ctx = qualify_store::WriteContext {
        actor: format!("operator {}", ctx.actor),
        ..ctx
    };
    let decided = state
        .store
        .decide(&ctx, customer.id, qualification, &etag, &decision)
        .await?;
    tracing::info!(customer_id = %customer.id, %qualification, status = %decided.vetting_status, "qualification decided by operator");
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn history(
    State(state): State<AppState>,
    _: Operator,
    Path((customer, qualification)): Path<(String, String)>,
) -> ApiResult<Response> {
    let customer = any_customer(&state, &customer).await?;
    let qualification = settable_qualification(&qualification)?;
    let events = state.store.history(customer.id, qualification).await?;
    Ok(ok(events.iter().map(AuditEventOut::from).collect::<Vec<_>>()).into_response())
}

/// `PUT /admin/v1/customers/{id}/validationStatus`.
#[utoipa::path(
    put,
    path = "/admin/v1/customers/{customer_id}/validationStatus",
    tag = "operator",
    operation_id = "setValidationStatus",
    summary = "Set a customer's account validation status",
    params(CustomerPath),
    request_body(content = ValidationStatusIn, example = json!({"status": "Allowed"})),
    responses(
        (status = 200, description = "The status, as the customer's partner reads it.", body = ValidationStatusOut),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn set_validation_status(
    State(state): State<AppState>,
    Operator(caller): Operator,
    ids: RequestIds,
    Path(customer): Path<String>,
    body: JsonBody<ValidationStatusIn>,
) -> ApiResult<Response> {
    let customer = any_customer(&state, &customer).await?;
    let status = AccountStatus::try_from(body.value)?;
    let ctx = write_context_for(&state, customer.partner_id, &caller, &ids, None);
    let saved = state
        .store
        .set_validation_status(&ctx, customer.id, status)
        .await?;
    Ok(ok(ValidationStatusOut::from(&saved)).into_response())
}

/// `PUT /admin/v1/customers/{id}/gdap`: the roles the customer's partner holds over it.
#[utoipa::path(
    put,
    path = "/admin/v1/customers/{customer_id}/gdap",
    tag = "operator",
    operation_id = "setGdapGrant",
    summary = "Set the GDAP roles the customer's partner holds over it",
    params(CustomerPath),
    request_body(content = GdapIn, example = json!({"roles": ["Directory Reader"]})),
    responses(
        (status = 200, description = "The grant.", body = GdapGrantOut),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn set_gdap(
    State(state): State<AppState>,
    Operator(caller): Operator,
    ids: RequestIds,
    Path(customer): Path<String>,
    body: JsonBody<GdapIn>,
) -> ApiResult<Response> {
    let customer = any_customer(&state, &customer).await?;
    let roles = Vec::<GdapRole>::try_from(body.value)?;
    let ctx = write_context_for(&state, customer.partner_id, &caller, &ids, None);
    let grant = state
        .store
        .set_gdap_grant(&ctx, customer.partner_id, customer.id, &roles)
        .await?;
    Ok(ok(GdapGrantOut::from(&grant)).into_response())
}

/// `GET /admin/v1/customers/{id}/gdap`.
#[utoipa::path(
    get,
    path = "/admin/v1/customers/{customer_id}/gdap",
    tag = "operator",
    operation_id = "getGdapGrant",
    summary = "The GDAP roles the customer's partner holds over it",
    params(CustomerPath),
    responses(
        (status = 200, description = "The grant (no roles when none was ever set).", body = GdapGrantOut),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn get_gdap(
    State(state): State<AppState>,
    _: Operator,
    Path(customer): Path<String>,
) -> ApiResult<Response> {
    let customer = any_customer(&state, &customer).await?;
    let grant = state
        .store
        .gdap_grant(customer.partner_id, customer.id)
        .await?
        .unwrap_or(qualify_core::validation::GdapGrant {
            partner_id: customer.partner_id,
            customer_id: customer.id,
            roles: vec![],
            updated_at: customer.created_at,
        });
    Ok(ok(GdapGrantOut::from(&grant)).into_response())
}
