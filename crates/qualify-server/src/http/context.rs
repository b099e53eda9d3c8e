//! Per-request context: the `MS-RequestId` / `MS-CorrelationId` pair (the caller's or generated
//! ones), echoed on every response, and the request span that carries the correlation id into
//! every log line of the request. Where a request ends it is logged once, its error (code,
//! description, cause chain) included.
//!
//! A log line is bounded whatever the client sends: the path is cut to [`LOGGED_PATH`] bytes and
//! each informational header to [`LOGGED_HEADER`], both redacted as the journal redacts them (a
//! JWT in `MS-PartnerCenter-Client` is `[redacted]`), and the lines of rejected requests (4xx) are
//! at most [`REJECTIONS_LOGGED_PER_SECOND`] a second, the next one logged saying how many were
//! left out (`left_out`).

use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use axum::extract::{FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::http::error::{ApiError, Failure};
use crate::http::headers::{MS_CORRELATION_ID, MS_REQUEST_ID};
use crate::http::redact::keep_text;

/// The most bytes of a request's path its log line carries.
pub const LOGGED_PATH: usize = 256;
/// The most bytes of each informational client header (`MS-PartnerCenter-Application`,
/// `MS-PartnerCenter-Client`, `MS-SdkVersion`) a log line carries.
pub const LOGGED_HEADER: usize = 128;
/// The most lines of rejected requests (status 4xx, and the 503s of an overload) logged in one
/// second; other 5xx and successful requests are always logged.
pub const REJECTIONS_LOGGED_PER_SECOND: u32 = 50;

/// The rate bound on rejection lines: which second it counts, how many it logged in it, and how
/// many it left out since the last line it logged.
#[derive(Debug, Default)]
struct RejectionLines {
    second: u64,
    logged: u32,
    left_out: u64,
}

impl RejectionLines {
    /// Whether a rejection in `second` is logged; if so, how many were left out before it.
    fn admit(&mut self, second: u64) -> Option<u64> {
        if second != self.second {
            self.second = second;
            self.logged = 0;
        }
        if self.logged < REJECTIONS_LOGGED_PER_SECOND {
            self.logged += 1;
            Some(std::mem::take(&mut self.left_out))
        } else {
            self.left_out += 1;
            None
        }
    }
}

/// Whether the line of a rejected request is logged now (the process's rejection lines, counted
/// in seconds since the first request); if so, how many were left out before it.
pub(crate) fn admit_rejection() -> Option<u64> {
    static SINCE: LazyLock<Instant> = LazyLock::new(Instant::now);
    static LINES: Mutex<RejectionLines> = Mutex::new(RejectionLines {
        second: 0,
        logged: 0,
        left_out: 0,
    });
    let second = SINCE.elapsed().as_secs();
    LINES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .admit(second)
}

/// In a response's extensions: the answer is what a test asked for (a fault's injected
/// answer); the floor leaves its body alone (a raw body stays raw).
#[derive(Debug, Clone)]
pub struct Injected;

/// The ids of this request.
#[derive(Debug, Clone)]
pub struct RequestIds {
    pub request_id: String,
    pub correlation_id: String,
    /// Whether the client chose the request id (only then is it an idempotency key).
    pub client_request_id: bool,
}

/// An id header is accepted when it is 1..=128 visible ASCII characters (GUIDs in practice).
pub(crate) fn id_header(headers: &HeaderMap, name: &HeaderName) -> Result<Option<String>, String> {
    let Some(v) = headers.get(name) else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .map_err(|_| format!("{name} must be visible ASCII (a GUID)."))?
        .trim();
    if s.is_empty() || s.len() > 128 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{name} must be a GUID of at most 128 visible characters."
        ));
    }
    Ok(Some(s.to_owned()))
}

pub async fn request_context(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let headers = req.headers();
    let request_id = id_header(headers, &MS_REQUEST_ID);
    let correlation_id = id_header(headers, &MS_CORRELATION_ID);
    let generated = || uuid::Uuid::new_v4().to_string();
    let ids = RequestIds {
        client_request_id: matches!(request_id, Ok(Some(_))),
        request_id: request_id.clone().ok().flatten().unwrap_or_else(generated),
        correlation_id: correlation_id
            .clone()
            .ok()
            .flatten()
            .unwrap_or_else(generated),
    };
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %keep_text(req.uri().path(), LOGGED_PATH),
        request_id = %ids.request_id,
        correlation_id = %ids.correlation_id,
        // Recorded by the auth layer once the token is verified.
        partner = tracing::field::Empty,
    );
    // Informational client headers: logged when sent, never required.
    let client = [
        "ms-partnercenter-application",
        "ms-partnercenter-client",
        "ms-sdkversion",
    ]
    .map(|h| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| keep_text(v, LOGGED_HEADER))
    });
    req.extensions_mut().insert(ids.clone());
    // This layer runs after routing (`Router::layer`): the template is known, absent when no
    // route matched.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let response = async move {
        if let Some(bad) = request_id.err().or(correlation_id.err()) {
            return ApiError::invalid(bad).into_response();
        }
        next.run(req).await
    }
    .instrument(span.clone())
    .await;
    let mut response = json_errors_only(response);
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&ids.request_id) {
        h.insert(MS_REQUEST_ID, v);
    }
    if let Ok(v) = HeaderValue::from_str(&ids.correlation_id) {
        h.insert(MS_CORRELATION_ID, v);
    }
    let elapsed = started.elapsed();
    crate::metrics::http_request(
        route.as_ref().map(MatchedPath::as_str),
        &method,
        response.status(),
        elapsed,
    );
    let failure = response.extensions().get::<Failure>();
    let status = response.status().as_u16();
    // A rejection beyond the second's bound is not logged; the next line logged counts it.
    let left_out = match status {
        400..=499 => match admit_rejection() {
            Some(n) => (n > 0).then_some(n),
            None => return response,
        },
        _ => None,
    };
    // `None` is not recorded: a header the client did not send is no field at all, and a
    // request that succeeded has no error fields.
    macro_rules! finished {
        ($level:ident) => {
            tracing::$level!(
                status,
                left_out,
                elapsed_ms = millis(elapsed),
                application = client[0].as_deref(),
                client = client[1].as_deref(),
                sdk_version = client[2].as_deref(),
                code = failure.map(|f| f.code),
                error = failure.map(|f| f.description.as_str()),
                cause = failure.and_then(|f| f.cause.as_deref()),
                "request finished"
            )
        };
    }
    span.in_scope(|| match status {
        500.. if failure.is_some_and(|f| f.cause.is_some()) => finished!(error),
        500.. => finished!(warn),
        _ => finished!(info),
    });
    response
}

/// Milliseconds to two decimals (10 µs): `5.59`, not `5.585259000000001`.
fn millis(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

impl<S: Send + Sync> FromRequestParts<S> for RequestIds {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<RequestIds>()
            .cloned()
            .ok_or_else(|| ApiError::of(qualify_core::ErrorKind::Internal))
    }
}

/// The `If-Match` header, unquoted (`"abc"` and `W/"abc"` both give `abc`); `None` when the
/// client sent none.
#[derive(Debug, Clone)]
pub struct IfMatch(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(if_match(&parts.headers)))
    }
}

fn if_match(headers: &HeaderMap) -> Option<String> {
    let v = headers
        .get(axum::http::header::IF_MATCH)?
        .to_str()
        .ok()?
        .trim();
    let v = v.strip_prefix("W/").unwrap_or(v);
    let v = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(v);
    (!v.is_empty()).then(|| v.to_owned())
}

/// The safety net under every route: an error response that is not already our JSON error body
/// (a framework rejection) is replaced by one with the matching catalogue entry.
fn json_errors_only(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<Injected>().is_some()
    {
        return response;
    }
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    use qualify_core::ErrorKind as K;
    let kind = match status.as_u16() {
        404 => K::NotFound,
        405 => K::MethodNotAllowed,
        413 => K::PayloadTooLarge,
        415 => K::UnsupportedMediaType,
        400..=499 => K::InvalidInput,
        503 => K::Unavailable,
        _ => K::Internal,
    };
    ApiError::of(kind).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_lines_are_bounded_per_second_and_the_next_line_counts_the_rest() {
        let mut lines = RejectionLines::default();
        for _ in 0..REJECTIONS_LOGGED_PER_SECOND {
            assert_eq!(lines.admit(0), Some(0));
        }
        assert_eq!(lines.admit(0), None);
        assert_eq!(lines.admit(0), None);
        // A new second: logged again, saying two were left out, then counting from zero.
        assert_eq!(lines.admit(1), Some(2));
        assert_eq!(lines.admit(1), Some(0));
        assert_eq!(lines.admit(5), Some(0));
    }
}
