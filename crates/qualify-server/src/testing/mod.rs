//! The test harness (cargo feature `testing`, which only test builds enable): one interface,
//! [`Api`], over the two ways a test can reach a server —
//!
//! - **in process** ([`TestApp`]): the real router without a socket, a fresh store, a manual
//!   clock and a synchronous drain of the job queue, so that HTTP contract tests run in
//!   milliseconds and never sleep;
//! - **over a socket** ([`Api::over_http`]): a real server on `127.0.0.1:0` — the `qualify`
//!   process that the black-box suite (`crates/qualify-cli/tests/api`) starts, for what needs a
//!   process (crash, signals, slow clients and the transport, the CLI, a cluster).
//!
//! Both send the same requests ([`Req`]), give the same answers ([`Resp`]), mint the same
//! partners and tokens, and wait the same way: [`Api::eventually`] runs the due jobs in process
//! and polls with a deadline over a socket. A contract test body written against `&Api` runs on
//! either.
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

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use qualify_core::{ManualClock, PartnerId};
use qualify_store::{PgSettings, PgStore, SqliteStore, Store};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::app::routes;
use crate::app::state::{AppState, AppStateBuilder};
use crate::events::webhooks::Resolver;
use crate::http::auth::{DEFAULT_AUDIENCE, DEFAULT_DEV_SECRET};
use crate::jobs;
use crate::{DevToken, Secret, ServerConfig, mint_dev_token};

mod request;

pub use self::request::{EventStream, Req, Resp, SseBlock};

/// Where the manual clock of a [`TestApp`] starts: 2026-01-05T12:00:00Z.
pub const T0: OffsetDateTime = time::macros::datetime!(2026-01-05 12:00:00 UTC);

/// How often [`poll_until`] asks again.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// A store for a test: in-memory SQLite, or a fresh PostgreSQL database when
/// `QUALIFY_TEST_BACKEND=postgres`.
pub async fn test_store() -> Arc<dyn Store> {
    match backend() {
        Backend::Postgres => open_store(&fresh_postgres().await).await,
        Backend::Sqlite => open_store("sqlite::memory:").await,
    }
}

/// The database URL of a test that must reach its database from outside the server (another
/// process, a direct read of its tables): a SQLite file in `dir`, or a fresh PostgreSQL database
/// when `QUALIFY_TEST_BACKEND=postgres`.
pub async fn test_database_url(dir: &Path) -> String {
    match backend() {
        Backend::Postgres => fresh_postgres().await,
        Backend::Sqlite => format!("sqlite://{}", dir.join("qualify.db").display()),
    }
}

/// Opens the store of `url` (`sqlite:...` or `postgres://...`).
pub async fn open_store(url: &str) -> Arc<dyn Store> {
    if url.starts_with("postgres") {
        Arc::new(
            PgStore::open(url, &PgSettings::default())
                .await
                .unwrap_or_else(|e| panic!("opening the test database {url}: {e}")),
        )
    } else {
        Arc::new(
            SqliteStore::open(url)
                .await
                .unwrap_or_else(|e| panic!("opening the test database {url}: {e}")),
        )
    }
}

enum Backend {
    Sqlite,
    Postgres,
}

fn backend() -> Backend {
    match std::env::var("QUALIFY_TEST_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        Ok("sqlite") | Err(_) => Backend::Sqlite,
        Ok(other) => panic!("QUALIFY_TEST_BACKEND={other:?} is not sqlite or postgres"),
    }
}

async fn fresh_postgres() -> String {
    qualify_store::testing::fresh_postgres_database()
        .await
        .unwrap_or_else(|| {
            panic!(
                "QUALIFY_TEST_BACKEND=postgres needs {}",
                qualify_store::testing::POSTGRES_URL_VAR
            )
        })
}

/// Asks `check` until it gives a value, at most for `within` (every 20 ms); panics with `what`
/// after that. The one way a test waits for something it cannot cause itself (a process, a
/// socket, another instance): never a pause that hopes.
pub async fn poll_until<T>(
    what: &str,
    within: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {within:?}"
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// The server a test talks to: the router in process, or a real server over a socket. Requests,
/// answers, partners and the helpers below are the same for both.
#[derive(Clone)]
pub struct Api {
    target: Target,
}

#[derive(Clone)]
enum Target {
    InProcess { app: routes::App, state: AppState },
    Socket { base: String, http: reqwest::Client },
}

impl Api {
    /// A server listening at `base` (`http://127.0.0.1:PORT`).
    pub fn over_http(base: impl Into<String>) -> Self {
        Self {
            target: Target::Socket {
                base: base.into(),
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .expect("an HTTP client"),
            },
        }
    }

    fn in_process(state: AppState) -> Self {
        Self {
            target: Target::InProcess {
                app: routes::app(state.clone()),
                state,
            },
        }
    }

    /// `http://127.0.0.1:PORT` over a socket; `None` in process.
    pub fn base(&self) -> Option<&str> {
        match &self.target {
            Target::Socket { base, .. } => Some(base),
            Target::InProcess { .. } => None,
        }
    }

    /// Whether requests go through a socket to a server (not to a router in this process).
    pub fn is_remote(&self) -> bool {
        self.base().is_some()
    }

    pub fn req(&self, method: Method, path: &str) -> Req<'_> {
        Req {
            api: self,
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

    /// Waits until `check` gives a value: in process, the due jobs run first (each time:
    /// nothing else would run them); over a socket the server's own worker runs them, and
    /// `check` is asked again until `within` has passed.
    pub async fn eventually<T>(
        &self,
        what: &str,
        within: Duration,
        mut check: impl AsyncFnMut() -> Option<T>,
    ) -> T {
        poll_until(what, within, async || {
            if let Target::InProcess { state, .. } = &self.target {
                jobs::drain(state, "test-worker")
                    .await
                    .expect("running the pending jobs");
            }
            check().await
        })
        .await
    }

    /// The customer's last qualification request once it has left InReview (see
    /// [`Api::eventually`]).
    pub async fn wait_terminal(
        &self,
        partner: &Partner,
        customer: &str,
        within: Duration,
    ) -> Value {
        self.eventually(
            &format!("a decision of {customer}'s request"),
            within,
            async || {
                let list = self.qualifications(partner, customer).await;
                list.as_array()
                    .and_then(|a| a.last())
                    .filter(|last| last["vettingStatus"] != "InReview")
                    .cloned()
            },
        )
        .await
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

    /// `POST /v1/customers/{id}/qualifications` as the partner (App+User).
    pub async fn create_qualification(
        &self,
        partner: &Partner,
        customer: &str,
        body: Value,
    ) -> Resp {
        self.post(&qualifications_path(customer))
            .token(&partner.app_user)
            .json(body)
            .send()
            .await
    }

    /// `GET /v1/customers/{id}/qualifications` as the partner (200).
    pub async fn qualifications(&self, partner: &Partner, customer: &str) -> Value {
        self.ok(self
            .get(&qualifications_path(customer))
            .token(&partner.app_user))
            .await
    }

    /// The partner's validation codes (`GET /v1/customers/all/validations`, 200).
    pub async fn codes(&self, partner: &Partner) -> Value {
        self.ok(self
            .get("/v1/customers/all/validations")
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

/// A server without a socket: [`Api`] in process, plus what only a process of one's own can
/// do — move the clock, run the queue now, reach the state.
pub struct TestApp {
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    api: Api,
    /// Dropped with the harness: its event feed stops.
    _feed_stop: tokio::sync::watch::Sender<bool>,
}

impl std::ops::Deref for TestApp {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

impl TestApp {
    /// Manual vetting, no throttling, the clock at [`T0`].
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    /// Like [`TestApp::new`], with the configuration changed by `configure`.
    pub async fn with_config(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        Self::on(test_store().await, test_config(configure)).await
    }

    /// Like [`TestApp::new`], on the database of `url` (see [`test_database_url`]).
    pub async fn at(url: &str) -> Self {
        Self::on(open_store(url).await, test_config(|_| {})).await
    }

    /// A harness on a given store (e.g. one that another `TestApp` also uses: two instances).
    pub async fn on(store: Arc<dyn Store>, config: ServerConfig) -> Self {
        Self::on_with(store, config, jobs::Handlers::standard()).await
    }

    /// Like [`TestApp::on`], with these job handlers (a test's own job kinds).
    pub async fn on_with(
        store: Arc<dyn Store>,
        config: ServerConfig,
        jobs: jobs::Handlers,
    ) -> Self {
        Self::build(AppState::builder(store, config).jobs(jobs)).await
    }

    /// Like [`TestApp::with_config`], resolving webhook hosts with `resolver`.
    pub async fn with_resolver(
        configure: impl FnOnce(&mut ServerConfig),
        resolver: Arc<dyn Resolver>,
    ) -> Self {
        Self::build(
            AppState::builder(test_store().await, test_config(configure)).resolver(resolver),
        )
        .await
    }

    async fn build(builder: AppStateBuilder) -> Self {
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
            api: Api::in_process(state.clone()),
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
        jobs::drain(&self.state, "test-worker")
            .await
            .expect("running the pending jobs")
    }
}

/// The configuration of a [`TestApp`]: no throttling, then `configure`.
fn test_config(configure: impl FnOnce(&mut ServerConfig)) -> ServerConfig {
    let mut config = ServerConfig {
        rate_limit_per_minute: 0,
        ..ServerConfig::default()
    };
    configure(&mut config);
    config
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

/// `/v1/customers/{customer}/qualifications`.
pub fn qualifications_path(customer: &str) -> String {
    format!("/v1/customers/{customer}/qualifications")
}

/// An Education request (HigherEducation, `contoso.edu`).
pub fn education() -> Value {
    json!({"qualification": "Education", "educationSegment": "HigherEducation", "website": "contoso.edu"})
}

/// An Education request (HigherEducation) with this website, or none.
pub fn education_at(website: Option<&str>) -> Value {
    let mut b = json!({"qualification": "Education", "educationSegment": "HigherEducation"});
    if let Some(w) = website {
        b["website"] = json!(w);
    }
    b
}

/// A GovernmentCommunityCloud request with the validation code `code`.
pub fn gcc(code: &str) -> Value {
    json!({"qualification": "GovernmentCommunityCloud", "validationCode": code})
}

/// A StateOwnedEntity request.
pub fn state_owned() -> Value {
    json!({"qualification": "StateOwnedEntity"})
}

/// Asserts a 201 of a new request of `qualification`, InReview.
#[track_caller]
pub fn assert_created(r: &Resp, qualification: &str) {
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["qualification"], qualification, "{}", r.text);
    assert_eq!(r.body["vettingStatus"], "InReview", "{}", r.text);
}
