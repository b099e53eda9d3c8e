//! A request of the harness ([`Req`]) as built and sent, in process or over a socket, and its
//! answer ([`Resp`], or an [`EventStream`] read as it comes).

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use super::{Api, Target};

/// A request being built.
pub struct Req<'a> {
    pub(super) api: &'a Api,
    pub(super) method: Method,
    pub(super) path: String,
    pub(super) headers: Vec<(String, Vec<u8>)>,
    pub(super) body: Option<(String, Vec<u8>)>,
}

impl Req<'_> {
    /// The bearer token (replacing one set before).
    pub fn token(mut self, t: &str) -> Self {
        self.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
        self.header("Authorization", &format!("Bearer {t}"))
    }

    pub fn header(self, k: &str, v: &str) -> Self {
        self.header_bytes(k, v.as_bytes())
    }

    /// A header whose value is any bytes HTTP allows (obs-text included).
    pub fn header_bytes(mut self, k: &str, v: &[u8]) -> Self {
        self.headers.push((k.to_owned(), v.to_vec()));
        self
    }

    pub fn request_id(self, id: &str) -> Self {
        self.header("MS-RequestId", id)
    }

    pub fn json(mut self, v: Value) -> Self {
        self.body = Some(("application/json".into(), v.to_string().into_bytes()));
        self
    }

    /// A body sent as is, with the given content type.
    pub fn raw(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some((content_type.to_owned(), body.into()));
        self
    }

    /// A body sent as is, with no content type of its own (a `Content-Type` header, if any, is
    /// sent as the test set it).
    pub fn bytes(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some((String::new(), body.into()));
        self
    }

    /// Sends the request and reads the whole answer.
    pub async fn send(self) -> Resp {
        match self.exchange().await {
            Answer::InProcess(response) => {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let bytes = response
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                Resp::new(status, headers, &bytes)
            }
            Answer::Socket(response) => {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let bytes = response.bytes().await.unwrap_or_default();
                Resp::new(status, headers, &bytes)
            }
        }
    }

    /// Sends the request and keeps the answer's body open (an event stream).
    pub async fn open(self) -> EventStream {
        let (status, headers, body) = match self.exchange().await {
            Answer::InProcess(r) => (
                r.status().as_u16(),
                r.headers().clone(),
                Chunks::InProcess(r.into_body()),
            ),
            Answer::Socket(r) => (r.status().as_u16(), r.headers().clone(), Chunks::Socket(r)),
        };
        EventStream {
            status,
            headers,
            body,
            buffer: String::new(),
        }
    }

    async fn exchange(self) -> Answer {
        let content_type = self
            .body
            .as_ref()
            .filter(|(ct, _)| !ct.is_empty())
            .map(|(ct, _)| ct.clone());
        match &self.api.target {
            Target::InProcess { app, .. } => {
                let mut builder = Request::builder()
                    .method(self.method)
                    .uri(in_process_uri(&self.path));
                for (k, v) in &self.headers {
                    builder = builder.header(k.as_str(), v.as_slice());
                }
                if let Some(ct) = content_type {
                    builder = builder.header(header::CONTENT_TYPE, ct);
                }
                // What a client on the wire sends with a body, and hyper hands the router.
                let body = match self.body {
                    Some((_, bytes)) => {
                        builder = builder.header(header::CONTENT_LENGTH, bytes.len());
                        Body::from(bytes)
                    }
                    None => Body::empty(),
                };
                let request = builder.body(body).expect("a valid request");
                Answer::InProcess(
                    app.clone()
                        .oneshot(request)
                        .await
                        .expect("the router is infallible"),
                )
            }
            Target::Socket { base, http } => {
                let mut r = http.request(self.method.clone(), format!("{base}{}", self.path));
                for (k, v) in &self.headers {
                    let name = HeaderName::from_bytes(k.as_bytes()).expect("a header name");
                    let value = HeaderValue::from_bytes(v).expect("a header value");
                    r = r.header(name, value);
                }
                if let Some(ct) = content_type {
                    r = r.header(header::CONTENT_TYPE, ct);
                }
                if let Some((_, bytes)) = self.body {
                    r = r.body(bytes);
                }
                let what = format!("{} {}", self.method, self.path);
                Answer::Socket(
                    r.send()
                        .await
                        .unwrap_or_else(|e| panic!("{what}: no answer: {e}")),
                )
            }
        }
    }
}

/// The path as the router gets it: as given when it is a valid request target; otherwise
/// percent-encoded as an HTTP client library would send it.
fn in_process_uri(path: &str) -> Uri {
    path.parse().unwrap_or_else(|_| {
        let url = url::Url::parse(&format!("http://localhost{path}"))
            .unwrap_or_else(|e| panic!("{path:?} is no request target: {e}"));
        let mut target = url.path().to_owned();
        if let Some(q) = url.query() {
            target.push('?');
            target.push_str(q);
        }
        target
            .parse()
            .unwrap_or_else(|e| panic!("{path:?} is no request target: {e}"))
    })
}

enum Answer {
    InProcess(axum::response::Response),
    Socket(reqwest::Response),
}

/// An answer whose body is a Server-Sent Events stream, read as it comes.
pub struct EventStream {
    pub status: u16,
    pub headers: HeaderMap,
    body: Chunks,
    buffer: String,
}

enum Chunks {
    InProcess(Body),
    Socket(reqwest::Response),
}

impl Chunks {
    /// The next piece of the body; `None` at its end or on an error.
    async fn next(&mut self) -> Option<Vec<u8>> {
        match self {
            Chunks::InProcess(body) => loop {
                let frame = body.frame().await?.ok()?;
                if let Ok(data) = frame.into_data() {
                    return Some(data.to_vec());
                }
            },
            Chunks::Socket(r) => r.chunk().await.ok()?.map(|b| b.to_vec()),
        }
    }
}

/// One block of an event stream: an event, or a comment (`comment` set, the rest empty).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SseBlock {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
    pub comment: Option<String>,
}

impl SseBlock {
    /// The `data:` as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }
}

impl EventStream {
    /// The next block, or `None` when the stream ended or nothing came within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<SseBlock> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(at) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..at + 2).collect();
                let mut out = SseBlock::default();
                for line in block.lines() {
                    if let Some(c) = line.strip_prefix(':') {
                        out.comment = Some(c.trim().to_owned());
                    } else if let Some((k, v)) = line.split_once(':') {
                        let v = v.strip_prefix(' ').unwrap_or(v);
                        match k {
                            "id" => out.id = Some(v.to_owned()),
                            "event" => out.event = Some(v.to_owned()),
                            "data" => out.data.push_str(v),
                            _ => {}
                        }
                    }
                }
                return Some(out);
            }
            let data = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&data));
        }
    }

    /// The next event (comments skipped).
    pub async fn next_event(&mut self, wait: Duration) -> Option<SseBlock> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let block = self.next(left).await?;
            if block.comment.is_none() {
                return Some(block);
            }
        }
    }
}

/// An answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    fn new(status: u16, headers: HeaderMap, bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes).into_owned();
        Self {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the Partner Center error body with a numeric code, and the ids headers.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: u64) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.body["code"].as_u64(), Some(code), "{}", self.text);
        assert!(
            self.body["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty() && d.len() <= 1024),
            "{}",
            self.text
        );
        assert!(self.body["data"].is_array(), "{}", self.text);
        assert!(
            self.header("content-type")
                .unwrap_or("")
                .starts_with("application/json"),
            "{:?}",
            self.headers
        );
        assert!(self.header("ms-requestid").is_some() && self.header("ms-correlationid").is_some());
    }
}
