//! The state of a server: its services, built once, each handed to the handlers that use it
//! (`State<X>` through [`FromRef`]) — no handler sees the whole.

use std::sync::Arc;

use axum::extract::FromRef;
use qualify_core::jobs::Vetting;
use qualify_core::webhooks::WebhookDelivery;
use qualify_core::{Clock, PartnerId, SystemClock};
use qualify_store::{Store, StoreError};

use super::config::ServerConfig;
use crate::chain::Chain;
use crate::clock::Time;
use crate::console::Console;
use crate::control::service::{Control, ControlSettings};
use crate::events::feed::Feed;
use crate::events::metrics::Scrape;
use crate::events::webhooks::delivery::Delivery;
use crate::events::webhooks::sender::Sender;
use crate::events::webhooks::service::Webhooks;
use crate::events::webhooks::targets::{Resolver, SystemResolver};
use crate::http::auth::{Authenticator, PartnerThrottle};
use crate::http::throttle::Throttle;
use crate::jobs::{Handlers, JobContext, Worker};
use crate::operator::service::OperatorApi;
use crate::partner::service::PartnerApi;
use crate::partner::vetting::Vetter;
use crate::traffic::faults::service::Faults;
use crate::traffic::journal::Journal;
use crate::traffic::service::Traffic;

/// The server's services; one pointer, cloned for every request.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

/// Builds an [`AppState`]: the store and configuration, plus a clock, job handlers and a
/// resolver of webhook hosts that tests replace.
pub struct AppStateBuilder {
    store: Arc<dyn Store>,
    config: ServerConfig,
    clock: Arc<dyn Clock>,
    jobs: Handlers,
    resolver: Arc<dyn Resolver>,
}

impl AppStateBuilder {
    /// The wall clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The resolver of webhook target hosts (default: the system's).
    pub fn resolver(mut self, resolver: Arc<dyn Resolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// The job handlers (default: [`Handlers::standard`]).
    pub fn jobs(mut self, jobs: Handlers) -> Self {
        self.jobs = jobs;
        self
    }

    pub async fn build(self) -> Result<AppState, String> {
        let Self {
            store,
            config,
            clock,
            jobs,
            resolver,
        } = self;
        if config.metrics {
            crate::metrics::install();
        }
        let auth = Arc::new(Authenticator::new(&config.auth).await?);
        let time = Time::new(clock);
        // The live event stream starts after what is committed now.
        let feed = Feed::start(store.clone(), config.max_streams)
            .await
            .map_err(|e| format!("reading the audit trail: {}", Chain(&e)))?;
        let sender = Arc::new(Sender::new(
            resolver,
            config.webhook_allow_private,
            config.webhook_timeout,
            config.public_url.clone(),
        )?);
        let handlers = jobs
            .bind_standard::<Vetting>(Vetter {
                policy: config.policy.clone(),
            })
            .bind_standard::<WebhookDelivery>(Delivery {
                sender: sender.clone(),
            });
        let worker = Worker::new(
            JobContext {
                store: store.clone(),
                time: time.clone(),
            },
            handlers,
            config.job_lease,
            config.policy.clone(),
        );
        let traffic = Traffic {
            faults: Faults::start(store.clone()).await,
            journal: Arc::new(Journal::new(config.journal_size)),
            time: time.clone(),
        };
        let control = Control::new(
            store.clone(),
            time.clone(),
            ControlSettings {
                policy: config.policy.clone(),
                start_clock: config.start_clock,
                advance_timeout: config.advance_timeout,
            },
            traffic.clone(),
            worker.clone(),
        );
        Ok(AppState(Arc::new(Services {
            partner: PartnerApi::new(
                store.clone(),
                time.clone(),
                config.policy.clone(),
                config.default_gdap_roles.clone(),
            ),
            operator: OperatorApi::new(store.clone()),
            webhooks: Webhooks::new(store.clone(), time.clone(), sender.clone()),
            scrape: Scrape {
                store: store.clone(),
                time: time.clone(),
                on: config.metrics,
            },
            console: Console::new(&config.auth),
            throttle: PartnerThrottle(Arc::new(Throttle::per_minute(config.rate_limit_per_minute))),
            control,
            traffic,
            feed,
            sender,
            worker,
            auth,
            time,
            store,
            config,
        })))
    }
}

impl AppState {
    pub fn builder(store: Arc<dyn Store>, config: ServerConfig) -> AppStateBuilder {
        AppStateBuilder {
            store,
            config,
            clock: Arc::new(SystemClock),
            jobs: Handlers::standard(),
            resolver: Arc::new(SystemResolver),
        }
    }

    /// The state with the system clock and the standard job handlers.
    pub async fn new(store: Arc<dyn Store>, config: ServerConfig) -> Result<Self, String> {
        Self::builder(store, config).build().await
    }

    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.0.store
    }

    pub fn time(&self) -> &Time {
        &self.0.time
    }

    /// A partner tenant's domain time: its clock, else the global clock, else wall time.
    pub async fn domain_now(&self, partner: PartnerId) -> Result<time::OffsetDateTime, StoreError> {
        self.0.time.domain_now(self.0.store.as_ref(), partner).await
    }

    /// Wakes the job worker: the wall clock moved (a test's manual clock).
    pub fn wake_worker(&self) {
        self.0.worker.wake();
    }

    /// Marks the job worker as running (a test harness that drains the queue itself).
    pub fn set_worker_running(&self) {
        self.0.worker.set_running(true);
    }

    /// Applies the `--seed` document at start (once per document); see
    /// [`Control::seed_at_start`].
    pub async fn seed_at_start(
        &self,
        bytes: &[u8],
    ) -> Result<Option<qualify_core::engine::Counts>, String> {
        self.0.control.seed_at_start(bytes).await
    }

    /// Sets `{base}` of webhook events from the listening address when `--public-url` did not
    /// (the first call wins).
    pub fn set_default_base(&self, base: String) {
        self.0.sender.set_default_base(base);
    }

    /// Ends the open event streams (graceful shutdown begins).
    pub fn close_streams(&self) {
        self.0.feed.close();
    }

    pub(super) fn throttle(&self) -> &PartnerThrottle {
        &self.0.throttle
    }

    pub(super) fn worker(&self) -> Worker {
        self.0.worker.clone()
    }

    pub(super) fn feed(&self) -> Feed {
        self.0.feed.clone()
    }
}

/// What a state holds — its settings, the store, the outbound webhook client, and the
/// services — and each service as the handlers that use it take it.
macro_rules! services {
    ($($field:ident: $ty:ty),* $(,)?) => {
        struct Services {
            config: ServerConfig,
            store: Arc<dyn Store>,
            sender: Arc<Sender>,
            $($field: $ty,)*
        }

        $(impl FromRef<AppState> for $ty {
            fn from_ref(state: &AppState) -> Self {
                state.0.$field.clone()
            }
        })*
    };
}

services! {
    time: Time,
    auth: Arc<Authenticator>,
    throttle: PartnerThrottle,
    worker: Worker,
    partner: PartnerApi,
    operator: OperatorApi,
    control: Control,
    traffic: Traffic,
    feed: Feed,
    webhooks: Webhooks,
    scrape: Scrape,
    console: Console,
}

impl FromRef<AppState> for Faults {
    fn from_ref(state: &AppState) -> Self {
        state.0.traffic.faults.clone()
    }
}

impl FromRef<AppState> for Arc<Journal> {
    fn from_ref(state: &AppState) -> Self {
        state.0.traffic.journal.clone()
    }
}
