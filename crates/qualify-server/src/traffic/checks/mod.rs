//! Client checks (control.md section 7): `GET /admin/v1/partners/{p}/checks`, what the
//! partner's code did wrong, judged ([`rules`]) from this instance's journal.

pub mod junit;
pub mod rules;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use self::junit::junit;
use self::rules::{Violation, judge};
use crate::http::auth::Operator;
use crate::http::body::ok;
use crate::http::error::ApiResult;
use crate::http::params::PartnerPath;
use crate::http::query::query_map;
use crate::http::strict::invalid_at;
use crate::traffic::journal::{Entry, Journal};

#[derive(Serialize, utoipa::ToSchema)]
pub struct ViolationOut {
    /// retry-after-ignored, write-retried-without-request-id, write-without-request-id,
    /// legacy-endpoint or tight-polling.
    check: &'static str,
    /// The journal entries (seq) involved, every occurrence's.
    seq: Vec<u64>,
    /// What happened the first time (and how often it happened again).
    detail: String,
    /// How often the client made this mistake: the findings of a check for one `MS-RequestId`
    /// the client sent (one call of its SDK, retries included), else for one endpoint (method
    /// and path), are one violation.
    #[schema(minimum = 1)]
    occurrences: usize,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChecksOut {
    violations: Vec<ViolationOut>,
    /// The partner's requests judged (those in this instance's journal).
    requests: usize,
    /// false when some of the partner's requests left the journal (its ring was full) before
    /// they were judged: the checks saw only part of the traffic, and `qualify admin checks`
    /// fails.
    complete: bool,
    /// How many of the partner's requests left the journal unjudged.
    evicted: u64,
}

impl From<Violation> for ViolationOut {
    fn from(v: Violation) -> Self {
        Self {
            check: v.check.name(),
            seq: v.seq,
            detail: v.detail,
            occurrences: v.occurrences,
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
    ),
)]
pub async fn checks(
    State(journal): State<Arc<Journal>>,
    _: Operator,
    PartnerPath { partner_id }: PartnerPath,
    uri: Uri,
) -> ApiResult<Response> {
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
    let scope = journal.scope(Some(partner_id));
    let entries: Vec<&Entry> = scope.entries.iter().map(|e| e.as_ref()).collect();
    let violations = judge(&entries);
    if junit_format {
        let xml = junit(
            &partner_id.to_string(),
            entries.len(),
            scope.evicted,
            &violations,
        );
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
        complete: scope.evicted == 0,
        evicted: scope.evicted,
    })
    .into_response())
}
