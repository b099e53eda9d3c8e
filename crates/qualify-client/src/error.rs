//! The one error type of the SDK.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// What kind of failure an [`Error`] is; decide on this, not on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCategory {
    /// 400 (and 405, 413, 415, 422): the request was invalid; fix it before sending again.
    BadInput,
    /// 401: the token is missing or was refused.
    Unauthorized,
    /// 403: the credential type or role does not allow it, or the customer is another partner's.
    Forbidden,
    /// 404.
    NotFound,
    /// 409: the request conflicts with stored state (e.g. the qualification is already in review).
    Conflict,
    /// 412 (stale `If-Match`) and 428 (`If-Match` missing).
    PreconditionFailed,
    /// 429, after the SDK's retries; `retry_after` says when to try again.
    Throttled,
    /// 502, 503, 504, after the SDK's retries.
    ServerBusy,
    /// 500 or another 5xx, after the SDK's retries.
    ServerError,
    /// Any other HTTP status the SDK does not expect.
    UnexpectedStatus,
    /// The server could not be reached, the connection broke, or an attempt timed out.
    Transport,
    /// A success response whose body the SDK could not read.
    InvalidResponse,
    /// The token provider failed.
    Credentials,
    /// The client was built with an invalid setting (e.g. a bad base URL).
    Configuration,
    /// A wait (e.g. for vetting to finish) ran past its deadline.
    WaitTimedOut,
}

impl ErrorCategory {
    /// The category of an HTTP error status.
    pub fn from_status(status: u16) -> Self {
        match status {
            400 | 405 | 413 | 415 | 422 => ErrorCategory::BadInput,
            401 => ErrorCategory::Unauthorized,
            403 => ErrorCategory::Forbidden,
            404 => ErrorCategory::NotFound,
            409 => ErrorCategory::Conflict,
            412 | 428 => ErrorCategory::PreconditionFailed,
            429 => ErrorCategory::Throttled,
            502..=504 => ErrorCategory::ServerBusy,
            500..=599 => ErrorCategory::ServerError,
            _ => ErrorCategory::UnexpectedStatus,
        }
    }
}

/// A failed call: the HTTP status and the Partner Center error body when the server answered,
/// and always the ids to quote when asking the service's operators about it.
///
/// Boxed inside, so a `Result<T, Error>` stays one pointer wide on the error side.
#[derive(Debug)]
pub struct Error(Box<Inner>);

#[derive(Debug)]
struct Inner {
    category: ErrorCategory,
    status: Option<u16>,
    code: Option<i64>,
    description: String,
    request_id: Option<String>,
    correlation_id: Option<String>,
    retry_after: Option<Duration>,
    data: Vec<serde_json::Value>,
    attempts: u32,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The Partner Center error body; `code` is a number, but old services sent strings.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default, alias = "Code")]
    code: Option<serde_json::Value>,
    #[serde(default, alias = "Description", alias = "message")]
    description: Option<String>,
    #[serde(default, alias = "Data")]
    data: Option<serde_json::Value>,
}

impl Error {
    pub(crate) fn new(category: ErrorCategory, description: impl Into<String>) -> Self {
        Self(Box::new(Inner {
            category,
            status: None,
            code: None,
            description: description.into(),
            request_id: None,
            correlation_id: None,
            retry_after: None,
            data: vec![],
            attempts: 0,
            source: None,
        }))
    }

    /// An error response: the Partner Center body when there is one, else the raw text.
    pub(crate) fn from_response(status: u16, body: &str) -> Self {
        let parsed = serde_json::from_str::<ErrorBody>(body).ok();
        let code = parsed.as_ref().and_then(|b| match &b.code {
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        });
        let data = match parsed.as_ref().and_then(|b| b.data.clone()) {
            Some(serde_json::Value::Array(items)) => items,
            _ => vec![],
        };
        let description = parsed
            .and_then(|b| b.description)
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| {
                let text: String = body.trim().chars().take(512).collect();
                if text.is_empty() {
                    format!("HTTP {status} without a body")
                } else {
                    text
                }
            });
        let mut e = Self::new(ErrorCategory::from_status(status), description);
        e.0.status = Some(status);
        e.0.code = code;
        e.0.data = data;
        e
    }

    pub(crate) fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.0.source = Some(source.into());
        self
    }

    pub(crate) fn with_ids(
        mut self,
        request_id: Option<String>,
        correlation_id: Option<String>,
    ) -> Self {
        self.0.request_id = self.0.request_id.take().or(request_id);
        self.0.correlation_id = self.0.correlation_id.take().or(correlation_id);
        self
    }

    pub(crate) fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.0.retry_after = retry_after;
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.0.attempts = attempts;
        self
    }

    pub fn category(&self) -> ErrorCategory {
        self.0.category
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        self.0.status
    }

    /// The Partner Center error `code` (e.g. 800002, 20002, 600074).
    pub fn code(&self) -> Option<i64> {
        self.0.code
    }

    /// The server's description, or what went wrong on the client's side.
    pub fn description(&self) -> &str {
        &self.0.description
    }

    /// The `MS-RequestId` of the call (the same on every attempt of a write).
    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    pub fn correlation_id(&self) -> Option<&str> {
        self.0.correlation_id.as_deref()
    }

    /// The server's `Retry-After` on a 429 or 503.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// The `data` array of the Partner Center error body (empty when there was none). qualify
    /// puts there what a partly done operation did, e.g. the transitions a clock advance
    /// applied before its `--advance-timeout` ([`crate::AppliedTransition::applied_so_far`]).
    pub fn data(&self) -> &[serde_json::Value] {
        &self.0.data
    }

    /// How many attempts were made before giving up (0 when none was sent).
    pub fn attempts(&self) -> u32 {
        self.0.attempts
    }

    /// True when the server answered (the error carries an HTTP status).
    pub fn is_api_error(&self) -> bool {
        self.0.status.is_some()
    }

    /// True when an attempt (not a wait) timed out.
    pub fn is_timeout(&self) -> bool {
        let mut source = self
            .0
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static));
        while let Some(s) = source {
            if let Some(r) = s.downcast_ref::<reqwest::Error>()
                && r.is_timeout()
            {
                return true;
            }
            source = s.source();
        }
        false
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &*self.0;
        match (e.status, e.code) {
            (Some(s), Some(c)) => write!(f, "HTTP {s}, code {c}: {}", e.description)?,
            (Some(s), None) => write!(f, "HTTP {s}: {}", e.description)?,
            _ => write!(f, "{}", e.description)?,
        }
        if e.attempts > 1 {
            write!(f, " (after {} attempts)", e.attempts)?;
        }
        if let Some(r) = &e.request_id {
            write!(f, " [MS-RequestId {r}")?;
            if let Some(c) = &e.correlation_id {
                write!(f, ", MS-CorrelationId {c}")?;
            }
            write!(f, "]")?;
        }
        Ok(())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partner_center_body_is_read() {
        let e = Error::from_response(
            403,
            r#"{"code": 20002, "description": "no relationship", "data": [], "source": "PartnerFD"}"#,
        );
        assert_eq!(e.category(), ErrorCategory::Forbidden);
        assert_eq!(e.code(), Some(20002));
        assert_eq!(e.description(), "no relationship");
        let e = Error::from_response(400, r#"{"code": "800002", "description": "bad"}"#);
        assert_eq!(e.code(), Some(800002));
        let e = Error::from_response(502, "<html>bad gateway</html>");
        assert_eq!(e.category(), ErrorCategory::ServerBusy);
        assert_eq!(e.code(), None);
        assert!(e.description().contains("bad gateway"));
    }

    #[test]
    fn statuses_map_to_categories() {
        use ErrorCategory::*;
        for (status, category) in [
            (400, BadInput),
            (401, Unauthorized),
            (403, Forbidden),
            (404, NotFound),
            (409, Conflict),
            (412, PreconditionFailed),
            (428, PreconditionFailed),
            (429, Throttled),
            (503, ServerBusy),
            (500, ServerError),
            (418, UnexpectedStatus),
        ] {
            assert_eq!(ErrorCategory::from_status(status), category, "{status}");
        }
    }
}
