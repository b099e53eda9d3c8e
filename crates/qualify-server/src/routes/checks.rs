//! `GET /admin/v1/partners/{p}/checks` (control.md section 7): what the partner's code did
//! wrong, judged from this instance's journal.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::admin::{PartnerPath, partner_id};
use super::query_map;
use crate::AppState;
use crate::auth::Operator;
use crate::body::ok;
use crate::checks::{Violation, judge, junit};
use crate::control::invalid_at;
use crate::error::ApiResult;
use crate::openapi::{BadRequest, Forbidden, ServiceUnavailable, Unauthorized};

#[derive(Serialize, utoipa::ToSchema)]
pub struct ViolationOut {
    /// retry-after-ignored, write-retried-without-request-id, write-without-request-id,
    /// legacy-endpoint or tight-polling.
    check: &'static str,
    /// The journal entries (seq) involved.
    seq: Vec<u64>,
    detail: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChecksOut {
    violations: Vec<ViolationOut>,
    /// The partner's requests judged (those in this instance's journal).
    requests: usize,
}

impl From<Violation> for ViolationOut {
    fn from(v: Violation) -> Self {
        Self {
            check: v.check,
            seq: v.seq,
            detail: v.detail,
        }
    }
}

/// `GET /admin/v1/partners/{p}/checks[?format=junit]`.
#[utoipa::path(
    get,
    path = "/admin/v1/partners/{partner_id}/checks",
    tag = "control",
    operation_id = "partnerChecks",
    summary = "Checks of the partner's recorded traffic against the real service's rules",
    params(
        PartnerPath,
        ("format" = Option<String>, Query, pattern = "^(json|junit)$", description = "`junit`: JUnit XML, one test case per check."),
    ),
    responses(
        (status = 200, description = "The violations (JSON), or JUnit XML with `format=junit`.",
            content(
                (ChecksOut = "application/json"),
                (String = "application/xml"),
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn checks(
    State(state): State<AppState>,
    _: Operator,
    Path(partner): Path<String>,
    uri: Uri,
) -> ApiResult<Response> {
    let partner = partner_id(&partner)?;
    let junit_format = match query_map(&uri)?.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("junit") => true,
        Some(other) => {
            return Err(invalid_at(
                "format",
                format!("{other:?} is not json or junit"),
            ));
        }
    };
    let scope = state.journal.scope(Some(partner));
    let entries: Vec<&crate::journal::Entry> = scope.entries.iter().map(|e| e.as_ref()).collect();
    let violations = judge(&entries);
    if junit_format {
        let xml = junit(&partner.to_string(), entries.len(), &violations);
        let mut r = xml.into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=utf-8"),
        );
        return Ok(r);
    }
    Ok(ok(ChecksOut {
        violations: violations.into_iter().map(ViolationOut::from).collect(),
        requests: entries.len(),
    })
    .into_response())
}
