//! The request journal (control.md section 6): this instance's record of `/v1` requests
//! ([`Journal`]: its entries, their redaction and bounds) and `/admin/v1/journal`, which reads
//! it.

mod entry;
mod redact;
mod ring;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use qualify_core::faults::PathGlob;
use serde::{Deserialize, Serialize};

#[cfg(test)]
pub(crate) use self::entry::sample;
pub use self::entry::{
    BODY_KEPT, DEFAULT_SIZE, Entry, HEADER_KEPT, KEPT_HEADERS, PATH_KEPT, QUERY_KEPT, REDACTED,
    TokenSummary, bound_bytes,
};
pub use self::redact::{keep_body, keep_headers, keep_text, redact_text};
pub use self::ring::{Found, Journal, Page, Pattern};
use crate::http::auth::Operator;
use crate::http::body::ok;
use crate::http::error::ApiResult;
use crate::http::query::{partner_query, query_map};
use crate::http::strict::{ControlBody, invalid_at};

/// The most entries one page returns.
pub const MAX_PAGE: usize = 10_000;

/// One recorded request (never a token: `auth` says what the token said).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = JournalEntry, example = json!({
    "seq": 42, "at": "2026-01-05T12:00:00.123Z", "partner": "9daaeb1c-4195-4db5-9f1d-509eb70c8c2d",
    "method": "POST", "path": "/v1/customers/2b3f6a7e-1f1e-4c55-9b0a-3c2d1e0f9a8b/qualifications",
    "query": null, "target": "/v1/customers/2b3f6a7e-1f1e-4c55-9b0a-3c2d1e0f9a8b/qualifications", "requestId": "6f7c...", "correlationId": "1a2b...",
    "headers": {"MS-RequestId": "6f7c...", "Content-Type": "application/json"},
    "auth": {"tid": "9daaeb1c-4195-4db5-9f1d-509eb70c8c2d", "appOnly": false, "admin": false},
    "body": "{\"qualification\":\"StateOwnedEntity\"}", "bodyTruncated": false,
    "status": 201, "code": null, "retryAfter": null, "replayed": false, "faultId": null, "durationMs": 1.4
}))]
#[allow(dead_code)]
pub struct EntrySchema {
    /// Strictly increasing per instance.
    seq: u64,
    /// When the request arrived (RFC 3339, UTC).
    at: String,
    #[schema(format = Uuid)]
    partner: Option<String>,
    method: String,
    /// The path as routed: empty segments removed (`/v1//customers` is `/v1/customers`).
    path: String,
    query: Option<String>,
    /// The request target (path and query) exactly as the client sent it: where it differs
    /// from `path`, the client sent empty segments (Microsoft's Java SDK sends `/v1//customers`).
    target: String,
    /// The request's MS-RequestId as answered (the client's, or the generated one); whether the
    /// client sent one shows in `headers`.
    request_id: String,
    correlation_id: String,
    /// The headers the client sent, of MS-RequestId, MS-CorrelationId, MS-Contract-Version,
    /// MS-PartnerCenter-Application, MS-PartnerCenter-Client, MS-SdkVersion, X-Locale,
    /// Content-Type, Accept, If-Match and User-Agent.
    #[schema(value_type = Object)]
    headers: serde_json::Value,
    auth: Option<TokenSchema>,
    /// The body, at most 16 KiB, token-like values redacted.
    body: Option<String>,
    body_truncated: bool,
    /// null: no answer (the connection was dropped or the request abandoned).
    status: Option<u16>,
    /// The `code` of an error body.
    code: Option<u32>,
    /// The answer's Retry-After, seconds.
    retry_after: Option<u64>,
    replayed: bool,
    fault_id: Option<String>,
    duration_ms: f64,
}

/// What the token said.
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
pub struct TokenSchema {
    #[schema(format = Uuid)]
    tid: String,
    app_only: bool,
    admin: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct JournalPage {
    #[schema(value_type = Vec<EntrySchema>)]
    entries: Vec<Arc<Entry>>,
    /// Entries of the scope evicted from the ring (to make room) since it was last cleared.
    evicted: u64,
}

/// `GET /admin/v1/journal?partner=&after=&limit=`.
#[utoipa::path(
    get,
    path = "/admin/v1/journal",
    tag = "control",
    operation_id = "listJournal",
    summary = "This instance's recorded /v1 requests, oldest first after a seq",
    params(
        ("partner" = Option<String>, Query, format = Uuid, description = "Only this partner's requests."),
        ("after" = Option<u64>, Query, description = "Only entries with a larger seq (default 0)."),
        ("limit" = Option<usize>, Query, minimum = 1, maximum = 10000, description = "At most this many (default 100)."),
    ),
    responses(
        (status = 200, description = "A page, oldest first.", body = JournalPage),
    ),
)]
pub async fn list(
    State(journal): State<Arc<Journal>>,
    _: Operator,
    uri: Uri,
) -> ApiResult<Response> {
    let q = query_map(&uri)?;
    let partner = partner_query(&q)?;
    let number = |name: &str, default: u64| -> ApiResult<u64> {
        match q.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| invalid_at(name, format!("{v:?} is not a whole number"))),
        }
    };
    let after = number("after", 0)?;
    let limit = number("limit", 100)? as usize;
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(invalid_at("limit", format!("1 to {MAX_PAGE}")));
    }
    let page = journal.page(partner, after, limit);
    Ok(ok(JournalPage {
        entries: page.entries,
        evicted: page.evicted,
    })
    .into_response())
}

/// `DELETE /admin/v1/journal[?partner=P]`.
#[utoipa::path(
    delete,
    path = "/admin/v1/journal",
    tag = "control",
    operation_id = "clearJournal",
    summary = "Forget this instance's recorded requests, or one partner's",
    params(("partner" = Option<String>, Query, format = Uuid, description = "Only this partner's requests.")),
    responses(
        (status = 204, description = "Forgotten."),
    ),
)]
pub async fn clear(
    State(journal): State<Arc<Journal>>,
    Operator(caller): Operator,
    uri: Uri,
) -> ApiResult<Response> {
    let partner = partner_query(&query_map(&uri)?)?;
    journal.clear(partner);
    tracing::info!(partner = ?partner, actor = %caller.actor(), "control: journal cleared");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What `find` and `count` look for; every key given must hold (unknown keys are refused).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PatternIn {
    /// An HTTP method (any case).
    pub method: Option<String>,
    /// A path glob: `*` = one segment, `**` = any number.
    pub path: Option<String>,
    #[schema(format = Uuid)]
    pub partner: Option<String>,
    /// The customer id of a `/v1/customers/{id}/...` path.
    #[schema(format = Uuid)]
    pub customer_id: Option<String>,
    pub status: Option<u16>,
    pub request_id: Option<String>,
    /// A substring of the (redacted, at most 16 KiB) body.
    pub body_contains: Option<String>,
}

impl PatternIn {
    fn into_pattern(self) -> ApiResult<Pattern> {
        Ok(Pattern {
            method: self.method,
            path: self
                .path
                .map(|p| PathGlob::parse(&p).map_err(|e| invalid_at("path", e)))
                .transpose()?,
            partner: self
                .partner
                .map(|p| {
                    p.parse()
                        .map_err(|_| invalid_at("partner", format!("{p:?} is not a GUID")))
                })
                .transpose()?,
            customer_id: self
                .customer_id
                .map(|c| {
                    c.parse()
                        .map_err(|_| invalid_at("customerId", format!("{c:?} is not a GUID")))
                })
                .transpose()?,
            status: self.status,
            request_id: self.request_id,
            body_contains: self.body_contains,
        })
    }
}

/// An entry close to the pattern, and the pattern's fields it did not satisfy.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NearMiss {
    #[schema(value_type = EntrySchema)]
    entry: Arc<Entry>,
    differences: Vec<&'static str>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FindResult {
    #[schema(value_type = Vec<EntrySchema>)]
    entries: Vec<Arc<Entry>>,
    /// When nothing matched: up to 3 entries closest to the pattern.
    near_misses: Vec<NearMiss>,
    /// false when entries that might have matched were evicted.
    complete: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CountResult {
    count: usize,
    /// false when entries that might have matched were evicted.
    complete: bool,
}

/// `POST /admin/v1/journal/find`.
#[utoipa::path(
    post,
    path = "/admin/v1/journal/find",
    tag = "control",
    operation_id = "findJournal",
    summary = "The recorded requests that match a pattern (near misses when none does)",
    request_body(content = PatternIn, example = json!({"method": "POST", "path": "/v1/customers/*/qualifications", "status": 201})),
    responses(
        (status = 200, description = "The matching entries, oldest first.", body = FindResult),
    ),
)]
pub async fn find(
    State(journal): State<Arc<Journal>>,
    _: Operator,
    ControlBody(body): ControlBody<PatternIn>,
) -> ApiResult<Response> {
    let pattern = body.into_pattern()?;
    let found = journal.find(&pattern);
    Ok(ok(FindResult {
        entries: found.entries,
        near_misses: found
            .near_misses
            .into_iter()
            .map(|(entry, differences)| NearMiss { entry, differences })
            .collect(),
        complete: found.complete,
    })
    .into_response())
}

/// `POST /admin/v1/journal/count`.
#[utoipa::path(
    post,
    path = "/admin/v1/journal/count",
    tag = "control",
    operation_id = "countJournal",
    summary = "How many recorded requests match a pattern",
    request_body(content = PatternIn, example = json!({"method": "POST", "status": 503})),
    responses(
        (status = 200, description = "The count.", body = CountResult),
    ),
)]
pub async fn count(
    State(journal): State<Arc<Journal>>,
    _: Operator,
    ControlBody(body): ControlBody<PatternIn>,
) -> ApiResult<Response> {
    let pattern = body.into_pattern()?;
    let (count, complete) = journal.count(&pattern);
    Ok(ok(CountResult { count, complete }).into_response())
}
