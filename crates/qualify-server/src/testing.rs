//! The in-process test harness: the real router without a socket, a fresh store, a manual clock
//! and a synchronous drain of the job queue, so that HTTP behaviour tests run in milliseconds
//! and never sleep. Black-box tests that need a process (crash, cluster, slow clients, attacks,
//! the CLI) start the binary instead (`crates/qualify-cli/tests/api`).
//!
//! ```no_run
//! # async fn t() {
//! use qualify_server::testing::TestApp;
//! let app = TestApp::new().await;
//! let p = app.partner();
//! let c = app.create_customer(&p).await;
//! let r = app
//!     .post(&format!("/v1/customers/{c}/qualifications"))
//!     .token(&p.app_user)
//!     .json(serde_json::json!({"qualification": "StateOwnedEntity"}))
//!     .send()
//!     .await;
//! assert_eq!(r.status, 201);
//! app.run_pending_jobs().await;
//! # }
//! ```
//!
//! The store is an in-memory SQLite database, or a fresh PostgreSQL database when
//! `QUALIFY_TEST_BACKEND=postgres` (with `QUALIFY_TEST_POSTGRES_URL`).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request};
use http_body_util::BodyExt;
use qualify_core::{ManualClock, PartnerId};
use qualify_store::{PgSettings, PgStore, SqliteStore, Store};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt;

use crate::auth::{DEFAULT_AUDIENCE, DEFAULT_DEV_SECRET};
use crate::{AppState, DevToken, Secret, ServerConfig, mint_dev_token, routes, worker};

/// Where the manual clock of a [`TestApp`] starts: 2026-01-05T12:00:00Z.
pub const T0: OffsetDateTime = time::macros::datetime!(2026-01-05 12:00:00 UTC);

/// A server without a socket.
pub struct TestApp {
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    app: routes::App,
    /// Dropped with the harness: its event feed stops.
    _feed_stop: tokio::sync::watch::Sender<bool>,
}

/// A store for a test: in-memory SQLite, or a fresh PostgreSQL database when
/// `QUALIFY_TEST_BACKEND=postgres`.
pub async fn test_store() -> Arc<dyn Store> {
    match std::env::var("QUALIFY_TEST_BACKEND").as_deref() {
        Ok("postgres") => {
            let url = qualify_store::testing::fresh_postgres_database()
                .await
                .unwrap_or_else(|| {
                    panic!(
                        "QUALIFY_TEST_BACKEND=postgres needs {}",
                        qualify_store::testing::POSTGRES_URL_VAR
                    )
                });
            Arc::new(
                PgStore::open(&url, &PgSettings::default())
                    .await
                    .expect("opening the test database"),
            )
        }
        Ok("sqlite") | Err(_) => Arc::new(
            SqliteStore::open("sqlite::memory:")
                .await
                .expect("opening an in-memory database"),
        ),
        Ok(other) => panic!("QUALIFY_TEST_BACKEND={other:?} is not sqlite or postgres"),
    }
}

impl TestApp {
    /// Manual vetting, no throttling, the clock at [`T0`].
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    /// Like [`TestApp::new`], with the configuration changed by `configure`.
    pub async fn with_config(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        let mut config = ServerConfig {
            rate_limit_per_minute: 0,
            ..ServerConfig::default()
        };
        configure(&mut config);
        Self::on(test_store().await, config).await
    }

    /// A harness on a given store (e.g. one that another `TestApp` also uses: two instances).
    pub async fn on(store: Arc<dyn Store>, config: ServerConfig) -> Self {
        Self::on_with(store, config, worker::Handlers::standard()).await
    }

    /// Like [`TestApp::on`], with these job handlers (a test's own job kinds).
    pub async fn on_with(
        store: Arc<dyn Store>,
        config: ServerConfig,
        jobs: worker::Handlers,
    ) -> Self {
        Self::build(AppState::builder(store, config).jobs(jobs)).await
    }

    /// Like [`TestApp::with_config`], resolving webhook hosts with `resolver`.
    pub async fn with_resolver(
        configure: impl FnOnce(&mut ServerConfig),
        resolver: Arc<dyn crate::webhooks::Resolver>,
    ) -> Self {
        let mut config = ServerConfig {
            rate_limit_per_minute: 0,
            ..ServerConfig::default()
        };
        configure(&mut config);
        Self::build(AppState::builder(test_store().await, config).resolver(resolver)).await
    }

    async fn build(builder: crate::AppStateBuilder) -> Self {
        let clock = Arc::new(ManualClock::new(T0));
        let state = builder
            .clock(clock.clone())
            .build()
            .await
            .expect("building the app state");
        state.set_worker_running();
        // The event stream's feed, as `serve` runs it (it stops with the test's runtime).
        let (feed_stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(crate::events::run_feed(state.clone(), stopped));
        Self {
            app: routes::app(state.clone()),
            state,
            clock,
            _feed_stop: feed_stop,
        }
    }

    /// Moves the manual clock on and wakes the worker.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.state.wake_worker();
    }

    /// Runs every job that is due by the clock's time, as the worker would, and returns how
    /// many ran.
    pub async fn run_pending_jobs(&self) -> usize {
        worker::drain(&self.state, "test-worker")
            .await
            .expect("running the pending jobs")
    }

    pub fn req(&self, method: Method, path: &str) -> Req<'_> {
        Req {
            app: self,
            method,
            path: path.to_owned(),
            headers: vec![],
            body: None,
        }
    }

    pub fn get(&self, path: &str) -> Req<'_> {
        self.req(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Req<'_> {
        self.req(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> Req<'_> {
        self.req(Method::PUT, path)
    }

    pub fn delete(&self, path: &str) -> Req<'_> {
        self.req(Method::DELETE, path)
    }

    /// A new partner tenant with its tokens.
    pub fn partner(&self) -> Partner {
        Partner::new(PartnerId::new_random())
    }

    /// An operator token (App-only, role `Qualify.Admin`).
    pub fn admin_token(&self) -> String {
        token(PartnerId::new_random(), true, true)
    }

    pub async fn create_customer(&self, partner: &Partner) -> String {
        self.create_customer_with_domain(partner, "contoso.onmicrosoft.com")
            .await
    }

    pub async fn create_customer_with_domain(&self, partner: &Partner, domain: &str) -> String {
        let r = self
            .post("/v1/customers")
            .token(&partner.app_user)
            .json(customer_body(domain))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["id"].as_str().expect("a customer id").to_owned()
    }

    /// Issues a GCC validation code with `max` creates to the partner.
    pub async fn issue_code(&self, partner: &Partner, max: i64) -> String {
        let r = self
            .post(&format!("/admin/v1/partners/{}/validations", partner.id))
            .token(&self.admin_token())
            .json(json!({"organizationName": "Contoso Gov", "maxCreates": max}))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["validationId"]
            .as_str()
            .expect("a validation id")
            .to_owned()
    }

    /// `GET /v1/customers/{id}/qualifications` as the partner (200).
    pub async fn qualifications(&self, partner: &Partner, customer: &str) -> Value {
        self.ok(self
            .get(&format!("/v1/customers/{customer}/qualifications"))
            .token(&partner.app_user))
            .await
    }

    /// The review queue (InReview).
    pub async fn reviews(&self) -> Value {
        self.ok(self
            .get("/admin/v1/reviews?status=InReview")
            .token(&self.admin_token()))
            .await
    }

    pub async fn history(&self, customer: &str, qualification: &str) -> Value {
        self.ok(self
            .get(&format!(
                "/admin/v1/customers/{customer}/qualifications/{qualification}/history"
            ))
            .token(&self.admin_token()))
            .await
    }

    /// The etag of the customer's open request, from the review queue.
    pub async fn review_etag(&self, customer: &str, qualification: &str) -> String {
        let queue = self.reviews().await;
        queue
            .as_array()
            .expect("an array")
            .iter()
            .find(|i| i["customerId"] == customer && i["qualification"] == qualification)
            .unwrap_or_else(|| panic!("{qualification} of {customer} not in review: {queue}"))
            ["etag"]
            .as_str()
            .expect("an etag")
            .to_owned()
    }

    /// An operator's decision of the customer's open request (200).
    pub async fn decide(
        &self,
        customer: &str,
        qualification: &str,
        status: &str,
        reason: Option<&str>,
    ) -> Value {
        let etag = self.review_etag(customer, qualification).await;
        let mut body = json!({"vettingStatus": status});
        if let Some(r) = reason {
            body["vettingReason"] = json!(r);
        }
        self.ok(self
            .post(&format!(
                "/admin/v1/customers/{customer}/qualifications/{qualification}/decision"
            ))
            .token(&self.admin_token())
            .header("If-Match", &etag)
            .json(body))
            .await
    }

    /// Sends an operator request and asserts its status; returns the body.
    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: u16,
    ) -> Value {
        let mut req = self.req(method.clone(), path).token(&self.admin_token());
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.text);
        r.body
    }

    async fn ok(&self, req: Req<'_>) -> Value {
        let r = req.send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    }
}

/// A partner tenant and its dev tokens.
#[derive(Debug, Clone)]
pub struct Partner {
    pub id: PartnerId,
    pub app_user: String,
    pub app_only: String,
}

impl Partner {
    pub fn new(id: PartnerId) -> Self {
        Self {
            id,
            app_user: token(id, false, false),
            app_only: token(id, true, false),
        }
    }
}

/// A dev token of `tenant` valid for an hour (of real time).
pub fn token(tenant: PartnerId, app_only: bool, admin: bool) -> String {
    mint_dev_token(
        &DevToken {
            tenant,
            app_only,
            admin,
            upn: Some("user@partner.example".into()),
            ttl: Duration::from_secs(3600),
            audience: DEFAULT_AUDIENCE.into(),
        },
        &Secret::new(DEFAULT_DEV_SECRET),
    )
}

/// A customer body with the given company domain.
pub fn customer_body(domain: &str) -> Value {
    json!({
        "companyProfile": {"domain": domain, "companyName": "Contoso"},
        "billingProfile": {
            "firstName": "Ada", "lastName": "Lovelace", "email": "ada@contoso.com", "culture": "en-US", "language": "en",
            "companyName": "Contoso",
            "defaultAddress": {"country": "US", "city": "Redmond", "state": "WA", "addressLine1": "1 Microsoft Way", "postalCode": "98052"}
        }
    })
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A request being built.
pub struct Req<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
}

impl Req<'_> {
    pub fn token(self, t: &str) -> Self {
        self.header("Authorization", &format!("Bearer {t}"))
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_owned(), v.to_owned()));
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

    /// Sends the request and keeps the answer's body open (an event stream).
    pub async fn open(self) -> EventStream {
        let response = self.response().await;
        EventStream {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.into_body(),
            buffer: String::new(),
        }
    }

    async fn response(self) -> axum::response::Response {
        let mut builder = Request::builder().method(self.method).uri(&self.path);
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        let body = match self.body {
            Some((content_type, bytes)) => {
                builder = builder.header("Content-Type", content_type);
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let request = builder.body(body).expect("a valid request");
        self.app
            .app
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible")
    }

    pub async fn send(self) -> Resp {
        let mut builder = Request::builder().method(self.method).uri(&self.path);
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        let body = match self.body {
            Some((content_type, bytes)) => {
                builder = builder.header("Content-Type", content_type);
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let request = builder.body(body).expect("a valid request");
        let response = self
            .app
            .app
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Resp {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }
}

/// An answer whose body is a Server-Sent Events stream, read as it comes.
pub struct EventStream {
    pub status: u16,
    pub headers: HeaderMap,
    body: Body,
    buffer: String,
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
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .ok()??
                .ok()?;
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&data));
            }
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
