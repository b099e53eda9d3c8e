//! The one HTTP error type. Every failure, extractor rejections included, becomes the Partner
//! Center error body `{"code": n, "description": "...", "data": [], "source": "PartnerFD"}`.
//! Causes of server errors go to the log, never to the body.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use qualify_core::{DomainError, ErrorKind};
use qualify_store::StoreError;
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub error: DomainError,
    /// Seconds for `Retry-After` (429 always has one).
    pub retry_after: Option<u64>,
    /// The stored answer of an earlier request with the same `MS-RequestId`.
    pub replayed: bool,
}

impl ApiError {
    pub fn new(kind: ErrorKind, description: impl Into<String>) -> Self {
        Self {
            error: DomainError::new(kind, description),
            retry_after: None,
            replayed: false,
        }
    }

    pub fn of(kind: ErrorKind) -> Self {
        Self {
            error: DomainError::of(kind),
            retry_after: None,
            replayed: false,
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
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.error.kind
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        Self {
            error,
            retry_after: None,
            replayed: false,
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
            StoreError::Unavailable(cause) => {
                tracing::error!(%cause, "database unavailable");
                let mut e = ApiError::of(ErrorKind::Unavailable);
                e.retry_after = Some(1);
                e
            }
            StoreError::Backend(cause) => {
                tracing::error!(%cause, "database error");
                ApiError::of(ErrorKind::Internal)
            }
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: u32,
    description: &'a str,
    data: [(); 0],
    source: &'static str,
}

/// `application/json; charset=utf-8`, the content type of every JSON response.
pub const JSON_CONTENT_TYPE: HeaderValue =
    HeaderValue::from_static("application/json; charset=utf-8");

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = self.error.kind;
        let status =
            StatusCode::from_u16(kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(
                code = kind.code(),
                status = status.as_u16(),
                "request failed"
            );
        } else {
            tracing::info!(code = kind.code(), status = status.as_u16(), description = %self.error.description, "request rejected");
        }
        let body = serde_json::to_vec(&ErrorBody {
            code: kind.code(),
            description: &self.error.description,
            data: [],
            source: "PartnerFD",
        })
        .unwrap_or_default();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, JSON_CONTENT_TYPE);
        if self.replayed {
            response.headers_mut().insert(
                crate::context::IDEMPOTENT_REPLAYED,
                HeaderValue::from_static("true"),
            );
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
