//! The one HTTP error type. Every failure, extractor rejections included, becomes the Partner
//! Center error body `{"code": n, "description": "...", "data": [], "source": "PartnerFD"}`.
//!
//! An error is logged once, where the request ends: its answer carries a [`Failure`] in its
//! extensions, and the request's one log line (`context::request_context`) names the code, the
//! description as it may be logged, and the cause with its whole chain. Causes go to the log,
//! never to the body.

use std::error::Error as StdError;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use qualify_core::{DomainError, ErrorKind};
use qualify_store::StoreError;
use serde::Serialize;

use crate::chain::Chain;
use crate::http::headers::IDEMPOTENT_REPLAYED;

/// What went wrong underneath (a database error and its sources).
pub type Cause = Arc<dyn StdError + Send + Sync + 'static>;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub error: DomainError,
    /// Seconds for `Retry-After` (429 always has one).
    pub retry_after: Option<u64>,
    /// The stored answer of an earlier request with the same `MS-RequestId`.
    pub replayed: bool,
    /// The body's `data`: empty, but for the routes that document what they put there (a
    /// clock advance that timed out lists what it applied).
    pub data: Vec<serde_json::Value>,
    /// Why a server error happened: logged with its chain, never answered.
    pub cause: Option<Cause>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, description: impl Into<String>) -> Self {
        Self {
            error: DomainError::new(kind, description),
            retry_after: None,
            replayed: false,
            data: vec![],
            cause: None,
        }
    }

    pub fn of(kind: ErrorKind) -> Self {
        Self {
            error: DomainError::of(kind),
            retry_after: None,
            replayed: false,
            data: vec![],
            cause: None,
        }
    }

    pub fn invalid(description: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, description)
    }

    pub fn throttled(retry_after: u64) -> Self {
        Self {
            error: DomainError::of(ErrorKind::Throttled),
            retry_after: Some(retry_after.max(1)),
            replayed: false,
            data: vec![],
            cause: None,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.error.kind
    }

    /// The error with what caused it underneath (logged, never answered).
    pub fn caused_by(mut self, cause: impl StdError + Send + Sync + 'static) -> Self {
        self.cause = Some(Arc::new(cause));
        self
    }

    /// A 503 that asks the client to come back in `secs` seconds.
    pub fn unavailable(description: impl Into<String>, secs: u64) -> Self {
        let mut e = Self::new(ErrorKind::Unavailable, description);
        e.retry_after = Some(secs);
        e
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        Self {
            error,
            retry_after: None,
            replayed: false,
            data: vec![],
            cause: None,
        }
    }
}

impl From<ErrorKind> for ApiError {
    fn from(kind: ErrorKind) -> Self {
        Self::of(kind)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => d.into(),
            StoreError::Replayed(d) => ApiError {
                replayed: true,
                ..d.into()
            },
            e @ StoreError::Unavailable(_) => {
                let mut api = ApiError::of(ErrorKind::Unavailable).caused_by(e);
                api.retry_after = Some(1);
                api
            }
            e @ (StoreError::Backend(_) | StoreError::Taken) => {
                ApiError::of(ErrorKind::Internal).caused_by(e)
            }
        }
    }
}

/// A description as it may be logged: the quoted parts, which are values the client sent (echoed
/// back to it in the body), are left out, so that no request input reaches the log (a client
/// may put anything, a token even, into any field).
pub fn loggable(description: &str) -> String {
    let mut out = String::with_capacity(description.len());
    let mut chars = description.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '"' {
            // Skip to the closing quote; `{:?}` escapes quotes inside with a backslash.
            while let Some(q) = chars.next() {
                match q {
                    '\\' => {
                        chars.next();
                    }
                    '"' => break,
                    _ => {}
                }
            }
            out.push_str("…\"");
        }
    }
    out
}

/// The Partner Center error body, the same for every error status.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"code": 800002, "description": "qualification is required.", "data": [], "source": "PartnerFD"}))]
pub struct ErrorBody<'a> {
    /// The numeric error code (see docs/errors.md); always a JSON number.
    #[schema(minimum = 0)]
    code: u32,
    /// Human-readable description, at most 1024 characters.
    #[schema(max_length = 1024)]
    description: &'a str,
    /// An empty array, but where a route documents what it holds (a clock advance that timed
    /// out: the transitions it applied).
    #[schema(value_type = Vec<serde_json::Value>)]
    data: &'a [serde_json::Value],
    /// Always `PartnerFD`.
    #[schema(value_type = String, pattern = "^PartnerFD$")]
    source: &'static str,
}

/// `application/json; charset=utf-8`, the content type of every JSON response.
pub const JSON_CONTENT_TYPE: HeaderValue =
    HeaderValue::from_static("application/json; charset=utf-8");

/// In an error answer's extensions: what the request's log line says about the error.
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: u32,
    /// The description without what the client sent ([`loggable`]).
    pub description: String,
    /// The cause and its sources, `: `-separated.
    pub cause: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = self.error.kind;
        let status =
            StatusCode::from_u16(kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let failure = Failure {
            code: kind.code(),
            description: loggable(&self.error.description),
            cause: self.cause.as_deref().map(|c| Chain(c).to_string()),
        };
        let body = serde_json::to_vec(&ErrorBody {
            code: kind.code(),
            description: &self.error.description,
            data: &self.data,
            source: "PartnerFD",
        })
        .unwrap_or_default();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, JSON_CONTENT_TYPE);
        if self.replayed {
            response
                .headers_mut()
                .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(failure);
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod loggable_tests {
    use super::loggable;

    #[test]
    fn logged_descriptions_leave_out_what_the_client_sent() {
        assert_eq!(
            loggable(r#"qualification "eyJ.x\"y" is not a value."#),
            r#"qualification "…" is not a value."#
        );
        assert_eq!(
            loggable("invalid type: string \"secret\", expected u32"),
            "invalid type: string \"…\", expected u32"
        );
        assert_eq!(loggable("no quotes here"), "no quotes here");
        assert_eq!(loggable("unterminated \"abc"), "unterminated \"…\"");
    }
}
