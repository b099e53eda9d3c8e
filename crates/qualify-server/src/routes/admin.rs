//! The operator API under `/admin/v1` (api.md section 6). Every handler takes the [`Operator`]
//! extractor: tokens without the admin role get 403 900150.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use qualify_core::qualification::{SettableQualification, VettingDecision, VettingStatus};
use qualify_core::validation::{AccountStatus, GdapRole};
use qualify_core::{ErrorKind, PartnerId};
use qualify_store::{ReviewCursor, ReviewQuery};

use super::{
    CustomerPath, QualificationPath, any_customer, query_map, settable_qualification, write_context,
};
use crate::AppState;
use crate::auth::Operator;
use crate::body::{Json, JsonBody, ok};
use crate::context::{MS_CONTINUATION_TOKEN, RequestIds, if_match};
use crate::dto::input::{DecisionIn, GdapIn, IssueCodeIn, ValidationStatusIn};
use crate::dto::output::{
    AdminCustomerOut, AuditEventOut, GdapGrantOut, QualificationOut, ReviewOut, ValidationCodeOut,
    ValidationStatusOut,
};
use crate::error::{ApiError, ApiResult};
use crate::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, PreconditionFailed,
    PreconditionRequired, RequestTimeout, ServiceUnavailable, Unauthorized, UnsupportedMediaType,
    VettingStatusSchema,
};

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
    let ctx = write_context(&state, &caller, &ids, None);
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

/// The most requests one page of the review queue holds, and how many it holds by default.
pub const REVIEW_PAGE_MAX: u32 = 500;
pub const REVIEW_PAGE_DEFAULT: u32 = 100;

/// The filters and paging of the review queue, as documented (parsed by [`review_query`]).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ReviewParams {
    /// InReview (default), Approved or Denied; case-insensitive.
    #[param(value_type = Option<VettingStatusSchema>)]
    status: Option<String>,
    /// Only requests for this qualification.
    #[param(value_type = Option<crate::openapi::QualificationSchema>)]
    qualification: Option<String>,
    /// Only this partner's requests.
    #[param(format = Uuid)]
    partner: Option<String>,
    /// The `MS-ContinuationToken` of the previous page (opaque).
    #[param(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    after: Option<String>,
    /// Requests per page, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// The review queue's cursor on the wire: opaque to clients (base64url of the position).
pub fn encode_cursor(c: &ReviewCursor) -> String {
    use base64::Engine;
    let raw = format!(
        "r1.{}.{}",
        qualify_core::time_fmt::to_millis(c.vetting_create_date),
        c.id
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_cursor(s: &str) -> Option<ReviewCursor> {
    use base64::Engine;
    if s.len() > 64 {
        return None;
    }
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let mut parts = raw.strip_prefix("r1.")?.splitn(2, '.');
    let millis: i64 = parts.next()?.parse().ok()?;
    let id: i64 = parts.next()?.parse().ok()?;
    let at =
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).ok()?;
    (id >= 0).then_some(ReviewCursor {
        vetting_create_date: at,
        id,
    })
}

/// The query of `GET /admin/v1/reviews`: 400 naming the parameter when one is invalid.
pub fn review_query(uri: &Uri) -> ApiResult<ReviewQuery> {
    let q = query_map(uri)?;
    let text = |name: &str| q.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let status = match text("status") {
        None => VettingStatus::InReview,
        Some(s) => VettingStatus::parse(s).ok_or_else(|| {
            ApiError::invalid(format!(
                "status {s:?} is not one of InReview, Approved, Denied."
            ))
        })?,
    };
    let qualification = text("qualification")
        .map(|s| {
            SettableQualification::parse(s).ok_or_else(|| {
                ApiError::invalid(format!(
                    "qualification {s:?} is not one of Education, GovernmentCommunityCloud, StateOwnedEntity."
                ))
            })
        })
        .transpose()?;
    let partner = text("partner")
        .map(|s| {
            s.parse::<PartnerId>()
                .map_err(|_| ApiError::invalid(format!("partner {s:?} is not a valid GUID.")))
        })
        .transpose()?;
    let after = text("after")
        .map(|s| {
            decode_cursor(s).ok_or_else(|| {
                ApiError::invalid(
                    "after is not a continuation token of the review queue (send back the MS-ContinuationToken of the previous page).",
                )
            })
        })
        .transpose()?;
    let limit = match text("limit") {
        None => REVIEW_PAGE_DEFAULT,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=REVIEW_PAGE_MAX).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "limit {s:?} must be an integer from 1 to {REVIEW_PAGE_MAX}."
                ))
            })?,
    };
    Ok(ReviewQuery {
        status,
        qualification,
        partner,
        after,
        limit,
    })
}

/// `GET /admin/v1/reviews?status=&qualification=&partner=&after=&limit=`: oldest first.
#[utoipa::path(
    get,
    path = "/admin/v1/reviews",
    tag = "operator",
    operation_id = "listReviews",
    summary = "The review queue: qualifications in a vetting status, oldest first",
    params(ReviewParams),
    responses(
        (status = 200, description = "A bare array, oldest first (`vettingCreateDate`, then the order of creation). When more follow, `MS-ContinuationToken` carries the cursor of the next page: send it back as `after`.", body = Vec<ReviewOut>,
            headers(("MS-ContinuationToken" = String, description = "Present when more requests follow: the `after` of the next page.")),
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
                ("AdminGetCustomer" = (operation_id = "adminGetCustomer", parameters(("customer_id" = "$response.body#/0/customerId")))),
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
    let query = review_query(&uri)?;
    let page = state.store.review_page(&query).await?;
    let mut response =
        ok(page.items.iter().map(ReviewOut::from).collect::<Vec<_>>()).into_response();
    if let Some(next) = page.next
        && let Ok(v) = HeaderValue::from_str(&encode_cursor(&next))
    {
        response.headers_mut().insert(MS_CONTINUATION_TOKEN, v);
    }
    Ok(response)
}

/// `GET /admin/v1/customers/{id}`: any partner's customer with what a reviewer looks at.
#[utoipa::path(
    get,
    path = "/admin/v1/customers/{customer_id}",
    tag = "operator",
    operation_id = "adminGetCustomer",
    summary = "Any partner's customer: profiles, partner, GDAP roles, validation status, qualifications",
    params(CustomerPath),
    responses(
        (status = 200, description = "The customer.", body = AdminCustomerOut),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn get_customer(
    State(state): State<AppState>,
    _: Operator,
    Path(customer): Path<String>,
) -> ApiResult<Response> {
    let customer = any_customer(&state, &customer).await?;
    let gdap = state
        .store
        .gdap_grant(customer.partner_id, customer.id)
        .await?;
    let status = state.store.validation_status(customer.id).await?;
    let qualifications = state.store.qualifications(customer.id).await?;
    Ok(ok(AdminCustomerOut::new(
        &customer,
        gdap.as_ref(),
        status.as_ref(),
        &qualifications,
    ))
    .into_response())
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
    let ctx = write_context(&state, &caller, &ids, None);
    let ctx = qualify_store::WriteContext {
        actor: format!("operator {}", ctx.actor),
        ..ctx
    };
    let decided = state
        .store
        .decide(&ctx, customer.id, qualification, &etag, &decision)
        .await?;
    // Its webhook event is due now.
    state.wake_worker();
    tracing::info!(customer_id = %customer.id, %qualification, status = %decided.vetting_status, "qualification decided by operator");
    crate::metrics::vetting_decision(
        decided.qualification,
        decided.vetting_status,
        crate::metrics::ActorKind::Reviewer,
    );
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
    let ctx = write_context(&state, &caller, &ids, None);
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
    let ctx = write_context(&state, &caller, &ids, None);
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
