//! The layer every `/v1` request passes (inside the auth layer, so the caller is known): it
//! applies the faults (control.md 5) and records the request in the journal (section 6).
//!
//! With the journal off and no fault configured it costs one path check and an atomic load.
//! Otherwise it reads the request body (bounded like the handlers' own reading), asks the store
//! whether a fault whose `match` holds fires, runs the request or not (`phase`), answers with
//! the injected answer or the real one, and records what the client got.

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use qualify_core::ErrorKind;
use qualify_core::faults::{Fault, FaultResponse, Phase, RequestFacts, customer_of_path};

use super::service::Traffic;
use crate::chain::Chain;
use crate::clock::Time;
use crate::http::auth::{Caller, Credential};
use crate::http::body::BODY_LIMIT;
use crate::http::context::{Injected, RequestIds};
use crate::http::error::{ApiError, JSON_CONTENT_TYPE};
use crate::http::headers::{IDEMPOTENT_REPLAYED, QUALIFY_FAULT};
use crate::http::path::SentPath;
use crate::http::transport::DropConnection;
use crate::traffic::journal::{self, Entry, Journal, TokenSummary};

fn is_v1(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

/// The journal entry of a request while it runs: recorded with its answer, or without one when
/// the request is abandoned (the client went away, or the request timed out).
struct Pending<'a> {
    journal: &'a Journal,
    entry: Option<Entry>,
    started: Instant,
}

impl Pending<'_> {
    fn finish(&mut self, status: Option<u16>, code: Option<u32>, response: Option<&Response>) {
        let Some(mut entry) = self.entry.take() else {
            return;
        };
        entry.status = status;
        entry.code = code;
        if let Some(r) = response {
            entry.replayed = r.headers().contains_key(IDEMPOTENT_REPLAYED);
            entry.retry_after = r
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
        }
        entry.duration_ms = self.started.elapsed().as_secs_f64() * 1e3;
        self.journal.record(entry);
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.finish(None, None, None);
    }
}

pub async fn layer(State(traffic): State<Traffic>, req: Request, next: Next) -> Response {
    if !is_v1(req.uri().path()) {
        return next.run(req).await;
    }
    let journal_on = traffic.journal.enabled();
    let any_fault = !traffic.faults.is_empty();
    if !journal_on && !any_fault {
        return next.run(req).await;
    }
    let started = Instant::now();
    let caller = req.extensions().get::<Caller>().cloned();
    let partner = caller.as_ref().map(|c| c.partner);
    let (parts, body) = req.into_parts();
    let mut pending = Pending {
        journal: &traffic.journal,
        entry: journal_on.then(|| new_entry(&traffic.time, &parts, caller.as_ref())),
        started,
    };
    let bytes = if has_no_body(&parts.headers, &body) {
        Bytes::new()
    } else {
        match read_body(body).await {
            Ok(b) => b,
            Err(e) => {
                let code = e.error.kind.code();
                let response = e.into_response();
                let status = response.status().as_u16();
                pending.finish(Some(status), Some(code), Some(&response));
                return response;
            }
        }
    };
    if let Some(entry) = pending.entry.as_mut()
        && let Some((body, cut)) = journal::keep_body(&bytes)
    {
        entry.body = Some(body);
        entry.body_truncated = cut;
    }
    let fired = if any_fault {
        let path = parts.uri.path();
        let facts = RequestFacts {
            method: parts.method.as_str(),
            path,
            partner,
            customer: customer_of_path(path),
        };
        let candidates = traffic.faults.candidates(&facts);
        if candidates.is_empty() {
            None
        } else {
            match traffic.faults.hit(&candidates).await {
                Ok(hit) => hit,
                Err(e) => {
                    tracing::warn!(error = %Chain(&e), "deciding the faults failed; the request runs as is");
                    None
                }
            }
        }
    } else {
        None
    };
    let req = Request::from_parts(parts, Body::from(bytes));
    let Some(hit) = fired else {
        let response = next.run(req).await;
        return if pending.entry.is_some() {
            let (response, code) = error_code(response).await;
            let status = response.status().as_u16();
            pending.finish(Some(status), code, Some(&response));
            response
        } else {
            response
        };
    };
    let fault = hit.fault;
    tracing::info!(fault = %fault.id, position = fault.hits, "fault injected");
    crate::metrics::fault_fired();
    if let Some(entry) = pending.entry.as_mut() {
        entry.fault_id = Some(fault.id.as_str().into());
    }
    let response = inject(&fault, req, next).await;
    if response.extensions().get::<DropConnection>().is_some() {
        pending.finish(None, None, None);
        return response;
    }
    let (response, code) = error_code(response).await;
    let status = response.status().as_u16();
    pending.finish(Some(status), code, Some(&response));
    response
}

/// Whether the request certainly has no body: said by the body itself, or (the transport's body
/// deadline wrapper hides the size) by HTTP/1.1 framing: neither `Content-Length` (other than 0)
/// nor `Transfer-Encoding`. Reading an empty body would still arm the body deadline's timer.
fn has_no_body(headers: &axum::http::HeaderMap, body: &Body) -> bool {
    match axum::body::HttpBody::size_hint(body).exact() {
        Some(n) => n == 0,
        None => {
            !headers.contains_key(header::TRANSFER_ENCODING)
                && headers
                    .get(header::CONTENT_LENGTH)
                    .is_none_or(|v| v.as_bytes() == b"0")
        }
    }
}

fn new_entry(time: &Time, parts: &axum::http::request::Parts, caller: Option<&Caller>) -> Entry {
    let ids = parts.extensions.get::<RequestIds>();
    Entry {
        seq: 0,
        at: time.wall(),
        partner: caller.map(|c| c.partner),
        method: parts.method.as_str().into(),
        path: journal::keep_text(parts.uri.path(), journal::PATH_KEPT),
        query: parts
            .uri
            .query()
            .map(|q| journal::keep_text(q, journal::QUERY_KEPT)),
        sent_path: parts
            .extensions
            .get::<SentPath>()
            .map(|SentPath(sent)| journal::keep_text(sent, journal::PATH_KEPT)),
        request_id: ids.map(|i| i.request_id.as_str()).unwrap_or("").into(),
        correlation_id: ids.map(|i| i.correlation_id.as_str()).unwrap_or("").into(),
        headers: journal::keep_headers(&parts.headers),
        auth: caller.map(|c| TokenSummary {
            tid: c.partner,
            app_only: !c.is_delegated(),
            admin: matches!(c.credential, Credential::Operator { .. }),
        }),
        body: None,
        body_truncated: false,
        status: None,
        code: None,
        retry_after: None,
        replayed: false,
        fault_id: None,
        duration_ms: 0.0,
    }
}

/// The request body, bounded as the handlers bound it; the errors are theirs.
async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    match http_body_util::Limited::new(body, BODY_LIMIT)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => {
            if e.is::<http_body_util::LengthLimitError>() {
                return Err(ApiError::new(
                    ErrorKind::PayloadTooLarge,
                    format!("The request body is larger than {BODY_LIMIT} bytes."),
                ));
            }
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e.as_ref());
            while let Some(c) = cause {
                if c.is::<tower_http::timeout::TimeoutError>() {
                    return Err(ApiError::new(
                        ErrorKind::RequestTimeout,
                        "The request body was not received within the body read timeout.",
                    ));
                }
                cause = c.source();
            }
            Err(ApiError::invalid(format!(
                "The request body could not be read: {e}"
            )))
        }
    }
}

/// The `code` of an error body (the body is read and put back).
async fn error_code(response: Response) -> (Response, Option<u32>) {
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || !json {
        return (response, None);
    }
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    #[derive(serde::Deserialize)]
    struct Code {
        code: Option<u32>,
    }
    let code = serde_json::from_slice::<Code>(&bytes)
        .ok()
        .and_then(|c| c.code);
    (Response::from_parts(parts, Body::from(bytes)), code)
}

/// The answer of a request a fault took.
async fn inject(fault: &Fault, req: Request, next: Next) -> Response {
    let spec = &fault.spec;
    if let Some(latency) = spec.latency() {
        tokio::time::sleep(latency).await;
    }
    let runs = spec.phase == Phase::After
        || matches!(
            spec.response,
            FaultResponse::Real | FaultResponse::Patch { .. }
        );
    let real = if runs {
        Some(next.run(req).await)
    } else {
        None
    };
    let mut response = match (&spec.response, real) {
        (
            FaultResponse::Error {
                status,
                code,
                description,
                retry_after,
            },
            _,
        ) => {
            let body = serde_json::json!({
                "code": code,
                "description": description,
                "data": [],
                "source": "PartnerFD",
            });
            let mut r = (status_of(*status), body.to_string()).into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, JSON_CONTENT_TYPE);
            if let Some(secs) = retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*secs));
            }
            r
        }
        (
            FaultResponse::Raw {
                status,
                raw_body,
                content_type,
            },
            _,
        ) => {
            let mut r = (status_of(*status), raw_body.clone()).into_response();
            if let Ok(v) = HeaderValue::from_str(content_type) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            if matches!(status, 429 | 503) {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(1u64));
            }
            r
        }
        (FaultResponse::Drop, _) => {
            let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            r.extensions_mut().insert(DropConnection);
            r
        }
        (FaultResponse::Patch { patch }, Some(real)) => patched(real, patch).await,
        (FaultResponse::Real, Some(real)) => real,
        (FaultResponse::Patch { .. } | FaultResponse::Real, None) => {
            unreachable!("these responses run the request")
        }
    };
    if matches!(
        response.status(),
        StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
    ) {
        // These statuses have no body (RFC 9110 15.3.5, 15.4.5): a raw body given for one is
        // not sent, and no Content-Length announces it.
        response = without_body(response);
    }
    if let Ok(v) = HeaderValue::from_str(&fault.id) {
        response.headers_mut().insert(QUALIFY_FAULT, v);
    }
    response.extensions_mut().insert(Injected);
    response
}

/// `response` with an empty body and no `Content-Length`.
fn without_body(response: Response) -> Response {
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::empty())
}

fn status_of(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The real answer with the merge patch applied to its JSON body (to each element of an
/// array); a body that is not JSON is left as it is.
async fn patched(real: Response, patch: &serde_json::Value) -> Response {
    let (mut parts, body) = real.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    match &mut value {
        serde_json::Value::Array(items) => {
            items.iter_mut().for_each(|i| json_patch::merge(i, patch))
        }
        other => json_patch::merge(other, patch),
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(value.to_string()))
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use crate::testing::TestApp;

    /// The journal shows the path a client sent beside the one it was routed by: Microsoft's
    /// Java SDK sends `/v1//customers`.
    #[tokio::test]
    async fn the_journal_keeps_the_target_as_sent() {
        let app = TestApp::new().await;
        let p = app.partner();
        for sent in ["/v1//customers?size=1", "/v1/customers?size=2"] {
            let r = app.get(sent).token(&p.app_user).send().await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        let journal = app
            .admin(
                Method::GET,
                &format!("/admin/v1/journal?partner={}", p.id),
                None,
                200,
            )
            .await;
        let entries = journal["entries"].as_array().unwrap();
        let seen: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| (e["path"].as_str().unwrap(), e["target"].as_str().unwrap()))
            .collect();
        assert_eq!(
            seen,
            [
                ("/v1/customers", "/v1//customers?size=1"),
                ("/v1/customers", "/v1/customers?size=2"),
            ]
        );
    }
}
