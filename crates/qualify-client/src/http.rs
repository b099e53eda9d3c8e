//! One logical call: the attempts, their headers, and the retry policy between them.

use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorCategory, Result};
use crate::{Client, SDK_VERSION};

pub(crate) const MS_REQUEST_ID: &str = "MS-RequestId";
pub(crate) const MS_CORRELATION_ID: &str = "MS-CorrelationId";
pub(crate) const MS_CONTINUATION_TOKEN: &str = "MS-ContinuationToken";

/// How many attempts a call may make and how long to wait between them.
///
/// Retried: 429 (after its `Retry-After`), 5xx, and connection failures or timeouts. Never
/// retried: any other 4xx — sending the same request again cannot change the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first one included (1 = no retries).
    pub max_attempts: u32,
    /// The backoff before the second attempt; it doubles for each further one.
    pub initial_backoff: Duration,
    /// The backoff never grows past this.
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited for: the error is returned at once with
    /// [`Error::retry_after`] set, and the caller decides.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Exponential backoff with "equal jitter": a random delay in `[b/2, b]` where `b` is the
    /// capped exponential step, so many clients failing at once do not come back in lockstep.
    pub fn backoff(&self, failed_attempts: u32) -> Duration {
        let exp = failed_attempts.saturating_sub(1).min(30);
        let step = self
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        let half = step / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rand::rng().random_range(0..=jitter_ms))
    }

    /// The wait after a `Retry-After`: at least what the server asked, plus up to 10% (at most
    /// 500 ms) so throttled clients do not all return in the same instant.
    fn after_retry_after(&self, retry_after: Duration) -> Duration {
        let extra = (retry_after / 10).min(Duration::from_millis(500));
        let extra_ms = u64::try_from(extra.as_millis()).unwrap_or(0);
        retry_after + Duration::from_millis(rand::rng().random_range(0..=extra_ms))
    }
}

/// Whether a call may be sent again after an answer that leaves its effect unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// Reads, writes the server deduplicates by `MS-RequestId`, and writes that are naturally
    /// idempotent: retried after 429, 5xx, timeouts and broken connections.
    Safe,
    /// A write the server does not deduplicate: retried only when it certainly had no effect
    /// (429, or the connection could not be opened).
    OnlyUnprocessed,
}

/// A request before it is sent.
pub(crate) struct Call {
    pub method: Method,
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
    pub replay: Replay,
    /// The time one attempt may take, when not the client's (a clock advance runs longer).
    pub timeout: Option<Duration>,
}

impl Call {
    pub fn new<S: AsRef<str>>(method: Method, segments: &[S]) -> Self {
        Self {
            method,
            segments: segments.iter().map(|s| s.as_ref().to_owned()).collect(),
            query: vec![],
            headers: vec![],
            body: None,
            replay: Replay::Safe,
            timeout: None,
        }
    }

    pub fn get<S: AsRef<str>>(segments: &[S]) -> Self {
        Self::new(Method::GET, segments)
    }

    pub fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_owned(), value.into()));
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Self> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            Error::new(
                ErrorCategory::BadInput,
                format!("the request body cannot be serialised: {e}"),
            )
        })?;
        self.body = Some(bytes);
        Ok(self)
    }

    pub fn replay(mut self, replay: Replay) -> Self {
        self.replay = replay;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// A success response.
pub(crate) struct Reply {
    pub body: String,
    /// `MS-ContinuationToken`: where the next page starts, when more follow.
    pub continuation: Option<String>,
}

impl Reply {
    pub fn decode<T: DeserializeOwned>(&self, request_id: &str, correlation_id: &str) -> Result<T> {
        serde_json::from_str(&self.body).map_err(|e| {
            Error::new(
                ErrorCategory::InvalidResponse,
                format!("the response body could not be read: {e}"),
            )
            .with_source(e)
            .with_ids(Some(request_id.to_owned()), Some(correlation_id.to_owned()))
        })
    }
}

/// `If-Match` wants an entity tag in quotes; etags in bodies come without them.
pub(crate) fn quoted_etag(etag: &str) -> String {
    let etag = etag.trim();
    if etag.starts_with('"') || etag.starts_with("W/") || etag == "*" {
        etag.to_owned()
    } else {
        format!("\"{etag}\"")
    }
}

fn header_string(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `Retry-After` as delta-seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The whole error chain on one line (reqwest's own message hides the cause).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s = s.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        source = source.and_then(|x| x.source());
    }
    out
}

impl Client {
    pub(crate) fn url(&self, call: &Call) -> Result<Url> {
        let mut url = self.inner.base_url.clone();
        {
            let mut path = url.path_segments_mut().map_err(|_| {
                Error::new(
                    ErrorCategory::Configuration,
                    "the base URL cannot carry a path",
                )
            })?;
            path.pop_if_empty();
            path.extend(call.segments.iter());
        }
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(call.query.iter());
        }
        Ok(url)
    }

    /// Sends `call` and decodes the JSON answer.
    pub(crate) async fn send<T: DeserializeOwned>(&self, call: Call) -> Result<T> {
        let request_id = self.request_id_for_call();
        let correlation_id = self.correlation_id_for_call();
        let reply = self.execute(call, &request_id, &correlation_id).await?;
        reply.decode(&request_id, &correlation_id)
    }

    /// Sends `call` whose answer has no body (204).
    pub(crate) async fn send_empty(&self, call: Call) -> Result<()> {
        let request_id = self.request_id_for_call();
        let correlation_id = self.correlation_id_for_call();
        self.execute(call, &request_id, &correlation_id)
            .await
            .map(drop)
    }

    /// Sends `call` and returns the answer's body as text.
    pub(crate) async fn send_text(&self, call: Call) -> Result<String> {
        let request_id = self.request_id_for_call();
        let correlation_id = self.correlation_id_for_call();
        let reply = self.execute(call, &request_id, &correlation_id).await?;
        Ok(reply.body)
    }

    /// Sends `call` and decodes the JSON answer, with the `MS-ContinuationToken` of the answer.
    pub(crate) async fn send_paged<T: DeserializeOwned>(
        &self,
        call: Call,
    ) -> Result<(T, Option<String>)> {
        let request_id = self.request_id_for_call();
        let correlation_id = self.correlation_id_for_call();
        let reply = self.execute(call, &request_id, &correlation_id).await?;
        let value = reply.decode(&request_id, &correlation_id)?;
        Ok((value, reply.continuation))
    }

    /// Runs the attempts of one logical call. Every attempt carries the same `MS-RequestId`:
    /// it is the server's idempotency key, so a write retried after a lost answer is applied
    /// once.
    pub(crate) async fn execute(
        &self,
        call: Call,
        request_id: &str,
        correlation_id: &str,
    ) -> Result<Reply> {
        let inner = &*self.inner;
        let url = self.url(&call)?;
        let policy = &inner.retry;
        let max_attempts = policy.max_attempts.max(1);
        let timeout = call.timeout.unwrap_or(inner.timeout);
        let ids = || (Some(request_id.to_owned()), Some(correlation_id.to_owned()));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = inner.token.token().await.map_err(|e| {
                let (r, c) = ids();
                Error::new(
                    ErrorCategory::Credentials,
                    format!("the token provider failed: {e}"),
                )
                .with_source(e)
                .with_ids(r, c)
                .with_attempts(attempt - 1)
            })?;
            let mut req = inner
                .http
                .request(call.method.clone(), url.clone())
                .timeout(timeout)
                .bearer_auth(token)
                .header(MS_REQUEST_ID, request_id)
                .header(MS_CORRELATION_ID, correlation_id)
                .header("X-Locale", &inner.locale)
                .header("MS-SdkVersion", SDK_VERSION);
            if !call
                .headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("Accept"))
            {
                req = req.header(reqwest::header::ACCEPT, "application/json");
            }
            if let Some(app) = &inner.application {
                req = req.header("MS-PartnerCenter-Application", app);
            }
            for (name, value) in &call.headers {
                let value = HeaderValue::from_str(value).map_err(|_| {
                    Error::new(
                        ErrorCategory::BadInput,
                        format!("{name} {value:?} is not a valid header value"),
                    )
                })?;
                req = req.header(*name, value);
            }
            if let Some(body) = &call.body {
                req = req
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/json; charset=utf-8",
                    )
                    .body(body.clone());
            }

            let (error, retryable) = match self.attempt(req, &url, call.replay, timeout).await {
                Ok(reply) => return Ok(reply),
                Err(failure) => failure,
            };
            let (r, c) = ids();
            let error = error.with_ids(r, c).with_attempts(attempt);
            if !retryable || attempt >= max_attempts {
                return Err(error);
            }
            let delay = match error.retry_after() {
                Some(wait) if wait > policy.max_retry_after => return Err(error),
                Some(wait) => policy.after_retry_after(wait),
                None => policy.backoff(attempt),
            };
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt: the reply, or the error and whether another attempt may follow.
    async fn attempt(
        &self,
        req: reqwest::RequestBuilder,
        url: &Url,
        replay: Replay,
        timeout: Duration,
    ) -> Result<Reply, (Error, bool)> {
        let resp = match req.send().await {
            Ok(resp) => resp,
            Err(err) => {
                // A connection that could not be opened carried nothing; anything later (a
                // reset, a timeout) may have reached the server.
                let retryable = !err.is_builder() && (replay == Replay::Safe || err.is_connect());
                return Err((self.transport_error(url, timeout, err), retryable));
            }
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        match resp.text().await {
            Ok(body) if (200..300).contains(&status) => Ok(Reply {
                body,
                continuation: header_string(&headers, MS_CONTINUATION_TOKEN),
            }),
            Ok(body) => {
                let error = Error::from_response(status, &body)
                    .with_ids(
                        header_string(&headers, MS_REQUEST_ID),
                        header_string(&headers, MS_CORRELATION_ID),
                    )
                    .with_retry_after(retry_after(&headers));
                // A 429 is refused before any processing; a 5xx may come after some.
                let retryable = status == 429 || (status >= 500 && replay == Replay::Safe);
                Err((error, retryable))
            }
            // The answer broke off: whether the request took effect is unknown.
            Err(err) => Err((
                self.transport_error(url, timeout, err),
                replay == Replay::Safe,
            )),
        }
    }

    fn transport_error(&self, url: &Url, timeout: Duration, err: reqwest::Error) -> Error {
        let what = if err.is_timeout() {
            format!(
                "no answer from {} within {:?}",
                url.origin().ascii_serialization(),
                timeout
            )
        } else {
            format!(
                "calling {}: {}",
                url.origin().ascii_serialization(),
                chain(&err)
            )
        };
        Error::new(ErrorCategory::Transport, what).with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_bounds_with_jitter() {
        let p = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for _ in 0..50 {
            let first = p.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = p.backoff(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let capped = p.backoff(20);
            assert!(capped >= Duration::from_millis(500) && capped <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_str(&httpdate::fmt_http_date(later)).unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }
}
