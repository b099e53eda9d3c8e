//! Fault injection (control.md section 5), the server's side: the body of `POST
//! /admin/v1/faults` and its checks, the wire form of a fault, and this instance's copy of the
//! fault list.
//!
//! The store is authoritative (`Store::hit_faults` decides each hit in one transaction); the
//! copy here only says which requests may match, so that with no fault configured a `/v1`
//! request costs one atomic load and no database round trip. The copy is read again after every
//! change made through this instance, whenever the store signals a change made elsewhere
//! (PostgreSQL: `LISTEN/NOTIFY`, within milliseconds), and every [`RELOAD_EVERY`] in any case
//! (a notification lost while the listener reconnected). A fault that is gone from the database
//! but still in a copy is passed over by `hit_faults`; one that is new reaches another instance
//! with its notification.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use qualify_core::faults::{
    Fault, FaultMatch, FaultResponse, FaultSpec, MAX_LATENCY, PathGlob, Phase, RequestFacts,
};
use qualify_core::{CustomerId, ErrorKind, PartnerId};
use qualify_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::control::{duration, invalid_at};
use crate::error::ApiError;

/// How often the copy is read again without a signal.
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// This instance's copy of the fault list, in evaluation order.
pub struct FaultList {
    list: RwLock<Arc<Vec<Fault>>>,
    empty: AtomicBool,
    /// One reload at a time, so the last one to start is the last one to install its list.
    reloading: tokio::sync::Mutex<()>,
}

impl Default for FaultList {
    fn default() -> Self {
        Self {
            list: RwLock::new(Arc::new(Vec::new())),
            empty: AtomicBool::new(true),
            reloading: tokio::sync::Mutex::new(()),
        }
    }
}

impl FaultList {
    /// No fault is configured (the hot path's one check).
    pub fn is_empty(&self) -> bool {
        self.empty.load(Ordering::Acquire)
    }

    /// The ids of the faults whose `match` holds for the request, in evaluation order.
    pub fn candidates(&self, facts: &RequestFacts<'_>) -> Vec<String> {
        let list = self.list.read().unwrap_or_else(|p| p.into_inner()).clone();
        list.iter()
            .filter(|f| f.spec.matches.holds(facts))
            .map(|f| f.id.clone())
            .collect()
    }

    /// Reads the list from the store again.
    pub async fn reload(&self, store: &dyn Store) {
        let _one = self.reloading.lock().await;
        match store.faults(None).await {
            Ok(list) => {
                self.empty.store(list.is_empty(), Ordering::Release);
                *self.list.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(list);
            }
            Err(e) => tracing::warn!(error = %e, "reading the fault list failed"),
        }
    }
}

/// Keeps `shared.faults` current until the state is dropped.
pub(crate) fn spawn_reloader(shared: std::sync::Weak<crate::Shared>) {
    let Some(state) = shared.upgrade() else {
        return;
    };
    let mut signal = state.store.signals().faults();
    drop(state);
    tokio::spawn(async move {
        loop {
            let _ = tokio::time::timeout(RELOAD_EVERY, signal.changed()).await;
            let Some(state) = shared.upgrade() else {
                return;
            };
            state.faults.reload(state.store.as_ref()).await;
        }
    });
}

// ---- the body of POST /admin/v1/faults ----------------------------------------------------------

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

fn guid<T: std::str::FromStr>(path: &str, raw: &str) -> Result<T, ApiError> {
    raw.parse()
        .map_err(|_| invalid_at(path, format!("{raw:?} is not a GUID")))
}

/// Catalogue defaults for an injected error status.
fn default_error(status: u16) -> (u32, &'static str) {
    match ErrorKind::ALL.iter().find(|k| k.status() == status) {
        Some(k) => (k.code(), k.meaning()),
        None if status >= 500 => (ErrorKind::Internal.code(), ErrorKind::Internal.meaning()),
        None => (
            ErrorKind::InvalidInput.code(),
            "The request was refused (injected fault).",
        ),
    }
}

impl FaultResponseIn {
    fn given(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        let pairs: [(&'static str, bool); 8] = [
            ("status", self.status.is_some()),
            ("code", self.code.is_some()),
            ("description", self.description.is_some()),
            ("retryAfter", self.retry_after.is_some()),
            ("rawBody", self.raw_body.is_some()),
            ("contentType", self.content_type.is_some()),
            ("drop", self.drop.is_some()),
            ("patch", self.patch.is_some()),
        ];
        for (k, given) in pairs {
            if given {
                keys.push(k);
            }
        }
        keys
    }

    fn into_domain(self) -> Result<FaultResponse, ApiError> {
        let given = self.given();
        let only = |allowed: &[&str], with: &str| -> Result<(), ApiError> {
            match given.iter().find(|k| !allowed.contains(k)) {
                Some(k) => Err(invalid_at(
                    &format!("response.{k}"),
                    format!("not allowed with {with}"),
                )),
                None => Ok(()),
            }
        };
        if let Some(drop) = self.drop {
            if !drop {
                return Err(invalid_at("response.drop", "must be true (or absent)"));
            }
            only(&["drop"], "drop")?;
            return Ok(FaultResponse::Drop);
        }
        if let Some(patch) = self.patch {
            only(&["patch"], "patch")?;
            if !patch.is_object() {
                return Err(invalid_at(
                    "response.patch",
                    "a JSON merge patch is an object",
                ));
            }
            return Ok(FaultResponse::Patch { patch });
        }
        let status = self.status.ok_or_else(|| {
            invalid_at(
                "response.status",
                "required (or give drop or patch instead)",
            )
        })?;
        if !(200..=599).contains(&status) {
            return Err(invalid_at(
                "response.status",
                format!("{status} is not an HTTP status between 200 and 599"),
            ));
        }
        let retry_after = match self.retry_after {
            Some(0) => return Err(invalid_at("response.retryAfter", "at least 1 second")),
            Some(s) if s > 86_400 => {
                return Err(invalid_at("response.retryAfter", "at most 86400 seconds"));
            }
            Some(s) => Some(s),
            None if matches!(status, 429 | 503) => Some(1),
            None => None,
        };
        if let Some(raw_body) = self.raw_body {
            only(&["status", "rawBody", "contentType"], "rawBody")?;
            let content_type = self
                .content_type
                .unwrap_or_else(|| "text/plain; charset=utf-8".into());
            if axum::http::HeaderValue::from_str(&content_type).is_err() || content_type.is_empty()
            {
                return Err(invalid_at(
                    "response.contentType",
                    "not a valid header value",
                ));
            }
            // (A raw 429 or 503 still carries `Retry-After: 1`: see `traffic`.)
            return Ok(FaultResponse::Raw {
                status,
                raw_body,
                content_type,
            });
        }
        only(&["status", "code", "description", "retryAfter"], "status")?;
        if status < 400 {
            return Err(invalid_at(
                "response.status",
                "an error body needs a 4xx or 5xx status (use rawBody for another answer)",
            ));
        }
        let (code, meaning) = default_error(status);
        let description = self.description.unwrap_or_else(|| meaning.to_owned());
        if description.is_empty() || description.len() > 1024 {
            return Err(invalid_at("response.description", "1 to 1024 characters"));
        }
        Ok(FaultResponse::Error {
            status,
            code: self.code.unwrap_or(code),
            description,
            retry_after,
        })
    }
}

impl FaultIn {
    /// The validated fault; every rejection names its field.
    pub fn into_spec(self) -> Result<FaultSpec, ApiError> {
        let matches = match self.matches {
            None => FaultMatch::default(),
            Some(m) => {
                let method = match m.method {
                    Some(method) => {
                        if method.is_empty()
                            || method.len() > 16
                            || !method.bytes().all(|b| b.is_ascii_alphabetic())
                        {
                            return Err(invalid_at(
                                "match.method",
                                format!("{method:?} is not an HTTP method"),
                            ));
                        }
                        Some(method.to_ascii_uppercase())
                    }
                    None => None,
                };
                let path = match m.path {
                    Some(p) => {
                        let glob = PathGlob::parse(&p).map_err(|e| invalid_at("match.path", e))?;
                        if glob.first_literal().is_some_and(|s| s != "v1") {
                            return Err(invalid_at(
                                "match.path",
                                "faults apply to /v1 requests only (e.g. /v1/customers/*/qualifications)",
                            ));
                        }
                        Some(glob)
                    }
                    None => None,
                };
                FaultMatch {
                    method,
                    path,
                    partner: m
                        .partner
                        .map(|p| guid::<PartnerId>("match.partner", &p))
                        .transpose()?,
                    customer_id: m
                        .customer_id
                        .map(|c| guid::<CustomerId>("match.customerId", &c))
                        .transpose()?,
                }
            }
        };
        let response = match self.response {
            Some(r) => r.into_domain()?,
            None => FaultResponse::Real,
        };
        let phase = match self.phase.as_deref() {
            None => None,
            Some("before") => Some(Phase::Before),
            Some("after") => Some(Phase::After),
            Some(other) => {
                return Err(invalid_at(
                    "phase",
                    format!("{other:?} is not before or after"),
                ));
            }
        };
        let phase = match (&response, phase) {
            (FaultResponse::Patch { .. }, Some(Phase::Before)) => {
                return Err(invalid_at(
                    "phase",
                    "a patch changes the real answer, so it needs phase after",
                ));
            }
            (FaultResponse::Patch { .. }, _) => Phase::After,
            (_, p) => p.unwrap_or_default(),
        };
        let latency_ms = match self.latency {
            Some(l) => {
                let d = duration("latency", &l)?;
                if d > MAX_LATENCY {
                    return Err(invalid_at("latency", "at most 1h"));
                }
                Some(d.as_millis() as u64)
            }
            None => None,
        };
        let nth = match self.nth {
            Some(nth) => {
                if nth.is_empty() {
                    return Err(invalid_at("nth", "at least one position"));
                }
                if let Some(i) = nth.iter().position(|n| *n == 0) {
                    return Err(invalid_at(&format!("nth[{i}]"), "positions count from 1"));
                }
                let mut nth = nth;
                nth.sort_unstable();
                nth.dedup();
                Some(nth)
            }
            None => None,
        };
        if self.times == Some(0) {
            return Err(invalid_at("times", "at least 1 (or absent: unbounded)"));
        }
        let probability = self.probability.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&probability) {
            return Err(invalid_at("probability", "between 0 and 1"));
        }
        if matches!(response, FaultResponse::Real) && latency_ms.is_none() {
            return Err(invalid_at(
                "response",
                "a fault needs a response (an error, rawBody, drop or patch) or a latency",
            ));
        }
        Ok(FaultSpec {
            matches,
            phase,
            response,
            latency_ms,
            nth,
            times: self.times,
            probability,
            seed: self.seed.unwrap_or_else(rand_seed),
            seed_given: self.seed.is_some(),
        })
    }
}

fn rand_seed() -> u64 {
    let id = uuid::Uuid::new_v4();
    id.as_u64_pair().0
}

// ---- the wire form ----------------------------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(body: Value) -> Result<FaultSpec, String> {
        crate::control::parse_strict::<FaultIn>(body.to_string().as_bytes())
            .and_then(FaultIn::into_spec)
            .map_err(|e| e.error.description)
    }

    #[test]
    fn the_example_of_the_spec_is_accepted() {
        let s = spec(serde_json::json!({
            "match": {"method": "post", "path": "/v1/customers/*/qualifications", "partner": "9daaeb1c-4195-4db5-9f1d-509eb70c8c2d"},
            "phase": "before",
            "response": {"status": 503, "code": 900503, "description": "Service unavailable", "retryAfter": 2},
            "latency": "250ms", "nth": [3, 1], "times": 2, "probability": 1.0, "seed": 7
        }))
        .unwrap();
        assert_eq!(s.matches.method.as_deref(), Some("POST"));
        assert_eq!(s.nth, Some(vec![1, 3]));
        assert_eq!(s.latency_ms, Some(250));
        assert!(matches!(
            s.response,
            FaultResponse::Error {
                retry_after: Some(2),
                ..
            }
        ));
        let patch =
            spec(serde_json::json!({"response": {"patch": {"vettingStatus": "PendingDocuments"}}}))
                .unwrap();
        assert_eq!(patch.phase, Phase::After);
        let e503 = spec(serde_json::json!({"response": {"status": 503}})).unwrap();
        assert!(matches!(
            e503.response,
            FaultResponse::Error {
                code: 900503,
                retry_after: Some(1),
                ..
            }
        ));
    }

    #[test]
    fn bad_faults_name_their_field() {
        for (body, field) in [
            (
                serde_json::json!({"match": {"paht": "/v1/**"}, "latency": "1s"}),
                "match.paht: ",
            ),
            (serde_json::json!({"afterRead": 1}), "afterRead: "),
            (
                serde_json::json!({"match": {"path": "v1/x"}, "latency": "1s"}),
                "match.path: ",
            ),
            (
                serde_json::json!({"match": {"path": "/admin/**"}, "latency": "1s"}),
                "match.path: ",
            ),
            (
                serde_json::json!({"match": {"partner": "nope"}, "latency": "1s"}),
                "match.partner: ",
            ),
            (
                serde_json::json!({"match": {"method": "P OST"}, "latency": "1s"}),
                "match.method: ",
            ),
            (serde_json::json!({"latency": "soon"}), "latency: "),
            (serde_json::json!({"latency": "2h"}), "latency: "),
            (
                serde_json::json!({"latency": "1s", "nth": [1, 0]}),
                "nth[1]: ",
            ),
            (
                serde_json::json!({"latency": "1s", "nth": [-1]}),
                "nth[0]: ",
            ),
            (serde_json::json!({"latency": "1s", "nth": []}), "nth: "),
            (serde_json::json!({"latency": "1s", "times": 0}), "times: "),
            (
                serde_json::json!({"latency": "1s", "probability": 1.5}),
                "probability: ",
            ),
            (
                serde_json::json!({"latency": "1s", "phase": "later"}),
                "phase: ",
            ),
            (
                serde_json::json!({"response": {"patch": {}}, "phase": "before"}),
                "phase: ",
            ),
            (
                serde_json::json!({"response": {"patch": []}}),
                "response.patch: ",
            ),
            (
                serde_json::json!({"response": {"drop": true, "status": 500}}),
                "response.status: ",
            ),
            (
                serde_json::json!({"response": {"drop": false}}),
                "response.drop: ",
            ),
            (
                serde_json::json!({"response": {"status": 200}}),
                "response.status: ",
            ),
            (
                serde_json::json!({"response": {"status": 700}}),
                "response.status: ",
            ),
            (
                serde_json::json!({"response": {"code": 1}}),
                "response.status: ",
            ),
            (
                serde_json::json!({"response": {"status": 503, "rawBody": "x", "code": 1}}),
                "response.code: ",
            ),
            (
                serde_json::json!({"response": {"status": "503"}}),
                "response.status: ",
            ),
            (serde_json::json!({}), "response: "),
        ] {
            let e = spec(body.clone()).unwrap_err();
            assert!(e.starts_with(field), "{body}: {e}");
        }
    }
}
