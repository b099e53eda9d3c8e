//! The qualify HTTP server: the Partner Center `/v1` surface, the operator API under
//! `/admin/v1`, and the vetting worker that runs inside `serve`.

pub mod auth;
pub mod body;
pub mod checks;
pub mod console;
pub mod context;
pub mod control;
pub mod dto;
pub mod error;
pub mod events;
pub mod faults;
pub mod journal;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod testing;
pub mod throttle;
pub mod traffic;
pub mod transport;
pub mod webhooks;
pub mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use qualify_core::policy::VettingPolicy;
use qualify_core::validation::GdapRole;
use qualify_core::{Clock, PartnerId, SystemClock};
use qualify_store::Store;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

pub use auth::{
    AnyPartner, AuthConfig, Authenticator, Caller, Credential, Delegated, DevToken, Operator,
    Secret, mint_dev_token,
};

/// Everything `serve` needs, already validated.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub auth: AuthConfig,
    pub policy: VettingPolicy,
    /// 0 turns throttling off.
    pub rate_limit_per_minute: u32,
    /// The GDAP roles a customer created through `POST /v1/customers` starts with.
    pub default_gdap_roles: Vec<GdapRole>,
    /// How long a worker holds a claimed vetting job before another may take it.
    pub job_lease: Duration,
    /// How long a request may take before it is answered with 503.
    pub request_timeout: Duration,
    /// How long graceful shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// How long a client may take to send a request's headers (and how long an idle keep-alive
    /// connection stays open) before the connection is closed.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's whole body (408 after that).
    pub body_read_timeout: Duration,
    /// The largest request head (request line and headers) accepted, in bytes (at least 8 KiB).
    pub max_header_bytes: usize,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Requests handled at once; further ones get 503 with `Retry-After`.
    pub max_in_flight: usize,
    /// How long a clock advance may run its scope's due work before it answers 503 with what it
    /// applied so far (control.md 4).
    pub advance_timeout: Duration,
    /// `--clock frozen:T`: the global clock starts frozen at T (and a global reset puts it back).
    pub start_clock: Option<time::OffsetDateTime>,
    /// Entries of the request journal (control.md 6); 0 turns it off.
    pub journal_size: usize,
    /// Prometheus metrics at `GET /metrics` (events.md 4); off, nothing is recorded and the
    /// route answers 404.
    pub metrics: bool,
    /// `{base}` of webhook events and the certificate URL (`--public-url`); default: `http://`
    /// and the listening address.
    pub public_url: Option<String>,
    /// Webhook targets on loopback, private, link-local or metadata addresses are allowed (`serve`
    /// sets it with `--auth dev`, or with `--auth oidc --webhook-allow-private true`).
    pub webhook_allow_private: bool,
    /// How long one delivery attempt may take.
    pub webhook_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            auth: AuthConfig::Dev {
                secret: Secret::new(auth::DEFAULT_DEV_SECRET),
                audience: auth::DEFAULT_AUDIENCE.into(),
            },
            policy: VettingPolicy::default(),
            rate_limit_per_minute: 500,
            default_gdap_roles: vec![GdapRole::DirectoryReader],
            job_lease: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(20),
            header_read_timeout: Duration::from_secs(15),
            body_read_timeout: Duration::from_secs(20),
            max_header_bytes: 64 * 1024,
            max_connections: 1024,
            max_in_flight: 512,
            advance_timeout: Duration::from_secs(120),
            start_clock: None,
            journal_size: journal::DEFAULT_SIZE,
            metrics: true,
            public_url: None,
            // The default auth is dev: a test suite's receiver runs on loopback.
            webhook_allow_private: true,
            webhook_timeout: Duration::from_secs(10),
        }
    }
}

/// Shared state of the handlers: one pointer, cloned for every request (the fields are behind
/// `Deref`).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What the handlers share.
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub auth: Authenticator,
    pub time: Time,
    pub throttle: throttle::Throttle,
    pub config: ServerConfig,
    /// The job handlers by kind.
    pub jobs: worker::Handlers,
    /// Wakes the job worker: after an enqueue, or when the clock moved.
    pub jobs_enqueued: Notify,
    pub worker_running: AtomicBool,
    /// The reader of the audit trail behind the event stream.
    pub feed: events::Feed,
    /// Set when graceful shutdown begins: open event streams end.
    pub closing: watch::Sender<bool>,
    /// This instance's request journal (in memory).
    pub journal: journal::Journal,
    /// This instance's copy of the fault list (the store decides each hit).
    pub faults: faults::FaultList,
    /// The outbound webhook client, the signing key, `{base}`.
    pub webhooks: webhooks::Webhooks,
    /// `test-created` events: 2 per minute per partner, as in Partner Center.
    pub test_events: throttle::Throttle,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Time through one seam. **Wall time** (leases, throttling, purges) comes from the injected
/// [`Clock`]; **domain time** — what a partner sees and what its schedules use:
/// `vettingCreateDate`, audit times, due times, the idempotency window — is the partner's virtual
/// clock (control.md 4) over wall time: [`AppState::domain_now`], and inside every write the
/// store reads the clocks in its own transaction. Token `exp`/`nbf` are checked against the
/// system clock by the JWT library, always: tokens are minted in real time.
pub struct Time {
    clock: Arc<dyn Clock>,
}

impl Time {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock }
    }

    /// Wall time.
    pub fn wall(&self) -> time::OffsetDateTime {
        self.clock.now()
    }
}

/// Builds an [`AppState`]: the store and configuration, plus a clock and job handlers that
/// tests replace.
pub struct AppStateBuilder {
    store: Arc<dyn Store>,
    config: ServerConfig,
    clock: Arc<dyn Clock>,
    jobs: worker::Handlers,
    resolver: Arc<dyn webhooks::Resolver>,
}

impl AppStateBuilder {
    /// The wall clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The resolver of webhook target hosts (default: the system's).
    pub fn resolver(mut self, resolver: Arc<dyn webhooks::Resolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// The job handlers (default: [`worker::Handlers::standard`]).
    pub fn jobs(mut self, jobs: worker::Handlers) -> Self {
        self.jobs = jobs;
        self
    }

    pub async fn build(self) -> Result<AppState, String> {
        if self.config.metrics {
            metrics::install();
        }
        let auth = Authenticator::new(&self.config.auth).await?;
        // The live event stream starts after what is committed now.
        let horizon = self
            .store
            .transition_horizon()
            .await
            .map_err(|e| format!("reading the audit trail: {e}"))?;
        let webhooks = webhooks::Webhooks::new(
            self.resolver,
            self.config.webhook_allow_private,
            self.config.webhook_timeout,
            self.config.public_url.clone(),
        )?;
        let state = AppState(Arc::new(Shared {
            store: self.store,
            webhooks,
            test_events: throttle::Throttle::per_minute(2),
            auth,
            time: Time::new(self.clock),
            throttle: throttle::Throttle::per_minute(self.config.rate_limit_per_minute),
            journal: journal::Journal::new(self.config.journal_size),
            config: self.config,
            jobs: self.jobs,
            jobs_enqueued: Notify::new(),
            worker_running: AtomicBool::new(false),
            feed: events::Feed::new(horizon),
            closing: events::closing_channel(),
            faults: faults::FaultList::default(),
        }));
        state.faults.reload(state.store.as_ref()).await;
        faults::spawn_reloader(Arc::downgrade(&state.0));
        Ok(state)
    }
}

impl AppState {
    pub fn builder(store: Arc<dyn Store>, config: ServerConfig) -> AppStateBuilder {
        AppStateBuilder {
            store,
            config,
            clock: Arc::new(SystemClock),
            jobs: worker::Handlers::standard(),
            resolver: Arc::new(webhooks::SystemResolver),
        }
    }

    /// The state with the system clock and the standard job handlers.
    pub async fn new(store: Arc<dyn Store>, config: ServerConfig) -> Result<Self, String> {
        Self::builder(store, config).build().await
    }

    /// Wakes the job worker (a job was enqueued, or time moved).
    pub fn wake_worker(&self) {
        self.jobs_enqueued.notify_one();
    }

    /// A partner tenant's domain time: its clock, else the global clock, else wall time.
    pub async fn domain_now(
        &self,
        partner: PartnerId,
    ) -> Result<time::OffsetDateTime, qualify_store::StoreError> {
        Ok(self
            .store
            .partner_clocks(partner)
            .await?
            .now(self.time.wall()))
    }
}

/// Runs the server and its job worker on `listener` until `shutdown` resolves; then
/// finishes in-flight requests (bounded by `shutdown_grace`) and releases claimed jobs.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = tokio::spawn(worker::run(state.clone(), stop_rx.clone()));
    let housekeeping = tokio::spawn(housekeeping(state.clone(), stop_rx.clone()));
    let feed = tokio::spawn(events::run_feed(state.clone(), stop_rx.clone()));
    let app = routes::app(state.clone());
    // Open event streams never finish by themselves: they end as soon as shutdown begins, so
    // that graceful shutdown waits only for real in-flight requests.
    let closing = state.clone();
    let shutdown = async move {
        shutdown.await;
        let _ = closing.closing.send(true);
    };
    let result = transport::run(listener, app, &state.config, shutdown).await;
    let _ = stop_tx.send(true);
    let _ = worker.await;
    let _ = housekeeping.await;
    let _ = feed.await;
    state.worker_running.store(false, Ordering::SeqCst);
    result
}

/// Periodic upkeep: forget idle throttle buckets, purge idempotency records older than 48h.
async fn housekeeping(state: AppState, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(300)) => {}
            _ = stop.changed() => return,
        }
        state.throttle.housekeep();
        let before = state.time.wall() - time::Duration::hours(48);
        match state.store.purge_idempotency(before).await {
            Ok(n) if n > 0 => tracing::info!(purged = n, "purged old idempotency records"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purging idempotency records failed"),
        }
    }
}
