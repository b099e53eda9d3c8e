//! The wire form of a fault (control.md 5): the body of `POST /admin/v1/faults` (strict:
//! unknown keys refused) and a fault as `/admin/v1/faults` shows it. What makes a body a valid
//! fault is [`super::validate`]'s.

use qualify_core::faults::{Fault, FaultResponse, Phase};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A new fault (control.md 5). Unknown keys are refused.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FaultIn {
    /// Which `/v1` requests it applies to; all keys optional, all must hold.
    #[serde(rename = "match", default)]
    pub matches: Option<FaultMatchIn>,
    /// `before` (default): the request is not executed. `after`: it is executed and
    /// committed, then its answer is replaced (a lost answer).
    #[schema(value_type = Option<String>, pattern = "^(before|after)$")]
    pub phase: Option<String>,
    pub response: Option<FaultResponseIn>,
    /// Added before the answer: `250ms`, `2s` or ISO 8601 (`PT0.25S`); at most an hour.
    pub latency: Option<String>,
    /// 1-based positions among the requests that reached this fault and matched it.
    #[schema(min_items = 1)]
    pub nth: Option<Vec<u64>>,
    /// How often it fires; then it is removed.
    #[schema(minimum = 1)]
    pub times: Option<u64>,
    /// 0..1, default 1 (used when `nth` is absent).
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub probability: Option<f64>,
    /// Makes the `probability` sequence reproducible.
    pub seed: Option<u64>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FaultMatchIn {
    /// An HTTP method (any case).
    pub method: Option<String>,
    /// A glob over the path: `*` = one segment, `**` = any number of segments.
    pub path: Option<String>,
    /// The partner tenant id of the request's token.
    pub partner: Option<String>,
    /// The customer id of a `/v1/customers/{id}/...` path.
    pub customer_id: Option<String>,
}

/// One of: the error body (`status`, `code`, `description`, `retryAfter`); exact bytes
/// (`status`, `rawBody`, `contentType`); `{"drop": true}`; `{"patch": {...}}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FaultResponseIn {
    #[schema(minimum = 200, maximum = 599)]
    pub status: Option<u16>,
    pub code: Option<u32>,
    pub description: Option<String>,
    /// Seconds; 429 and 503 always carry one (default 1).
    pub retry_after: Option<u64>,
    pub raw_body: Option<String>,
    pub content_type: Option<String>,
    pub drop: Option<bool>,
    /// A JSON merge patch (RFC 7396) of the real answer (of each element of an array).
    #[schema(value_type = Option<Object>)]
    pub patch: Option<Value>,
}

/// A fault as `/admin/v1/faults` shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FaultOut {
    pub id: String,
    #[serde(rename = "match")]
    #[schema(value_type = Object)]
    pub matches: Value,
    #[schema(pattern = "^(before|after)$")]
    pub phase: &'static str,
    /// Absent for a latency-only fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub response: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nth: Option<Vec<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    pub probability: f64,
    pub seed: u64,
    /// Requests that reached this fault and matched it.
    pub hits: u64,
    /// How often it may still fire; null when `times` is absent.
    pub remaining: Option<u64>,
}

impl From<&Fault> for FaultOut {
    fn from(f: &Fault) -> Self {
        let s = &f.spec;
        let response = match &s.response {
            FaultResponse::Error {
                status,
                code,
                description,
                retry_after,
            } => {
                let mut v =
                    serde_json::json!({"status": status, "code": code, "description": description});
                if let Some(r) = retry_after {
                    v["retryAfter"] = (*r).into();
                }
                Some(v)
            }
            FaultResponse::Raw {
                status,
                raw_body,
                content_type,
            } => Some(
                serde_json::json!({"status": status, "rawBody": raw_body, "contentType": content_type}),
            ),
            FaultResponse::Drop => Some(serde_json::json!({"drop": true})),
            FaultResponse::Patch { patch } => Some(serde_json::json!({ "patch": patch })),
            FaultResponse::Real => None,
        };
        Self {
            id: f.id.clone(),
            matches: serde_json::to_value(&s.matches).unwrap_or_default(),
            phase: match s.phase {
                Phase::Before => "before",
                Phase::After => "after",
            },
            response,
            latency: s
                .latency()
                .map(|d| humantime::format_duration(d).to_string()),
            nth: s.nth.clone(),
            times: s.times,
            probability: s.probability,
            seed: s.seed,
            hits: f.hits,
            remaining: f.remaining(),
        }
    }
}
