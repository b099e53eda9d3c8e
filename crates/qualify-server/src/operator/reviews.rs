//! The review queue: qualification requests in a vetting status, oldest first, a page at a
//! time (api.md 6).

use axum::extract::State;
use axum::http::{HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use qualify_core::PartnerId;
use qualify_core::qualification::{QualificationRecord, SettableQualification, VettingStatus};
use qualify_core::time_fmt::wire;
use qualify_store::{ReviewCursor, ReviewItem, ReviewQuery};
use serde::Serialize;
use utoipa::ToSchema;

use super::service::OperatorApi;
use crate::http::auth::Operator;
use crate::http::body::ok;
use crate::http::error::{ApiError, ApiResult};
use crate::http::headers::MS_CONTINUATION_TOKEN;
use crate::http::query::query_map;
use crate::http::schemas::{EducationSegmentSchema, QualificationSchema, VettingStatusSchema};

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
    #[param(value_type = Option<QualificationSchema>)]
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
    ),
)]
pub async fn reviews(State(api): State<OperatorApi>, _: Operator, uri: Uri) -> ApiResult<Response> {
    let query = review_query(&uri)?;
    let page = api.review_page(&query).await?;
    let mut response =
        ok(page.items.iter().map(ReviewOut::from).collect::<Vec<_>>()).into_response();
    if let Some(next) = page.next
        && let Ok(v) = HeaderValue::from_str(&encode_cursor(&next))
    {
        response.headers_mut().insert(MS_CONTINUATION_TOKEN, v);
    }
    Ok(response)
}

/// An item of the operator's review queue.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Review)]
pub struct ReviewOut {
    #[schema(format = Uuid)]
    pub customer_id: String,
    #[schema(format = Uuid)]
    pub partner_id: String,
    #[schema(value_type = QualificationSchema)]
    pub qualification: &'static str,
    #[schema(value_type = VettingStatusSchema)]
    pub vetting_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub vetting_reason: Option<String>,
    #[schema(format = DateTime)]
    pub vetting_create_date: String,
    /// The If-Match of a decision.
    pub etag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Option<EducationSegmentSchema>)]
    pub education_segment: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub website: Option<String>,
    /// The customer's company name (company profile), in the review queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub company_name: Option<String>,
    /// The customer's domain (company profile), in the review queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub domain: Option<String>,
}

impl From<&ReviewItem> for ReviewOut {
    fn from(r: &ReviewItem) -> Self {
        Self {
            company_name: r.company_name.clone(),
            domain: r.domain.clone(),
            ..Self::from(&r.qualification)
        }
    }
}

impl From<&QualificationRecord> for ReviewOut {
    fn from(q: &QualificationRecord) -> Self {
        Self {
            customer_id: q.customer_id.to_string(),
            partner_id: q.partner_id.to_string(),
            qualification: q.qualification.name(),
            vetting_status: q.vetting_status.name(),
            vetting_reason: q.vetting_reason.clone(),
            vetting_create_date: wire(q.vetting_create_date),
            etag: q.etag.clone(),
            education_segment: q.education_segment.map(|s| s.name()),
            website: q.website.clone(),
            company_name: None,
            domain: None,
        }
    }
}
