//! An async Rust SDK for the Partner Center customer-qualification API, as served by `qualify`
//! (and by Microsoft Partner Center itself on the same paths), plus qualify's operator API.
//!
//! It is shaped like the official Partner Center SDKs: a client, then a path of operations.
//!
//! ```no_run
//! use qualify_client::{Client, EducationSegment, QualificationRequest};
//!
//! # async fn run() -> Result<(), qualify_client::Error> {
//! let client = Client::builder()
//!     .base_url("http://127.0.0.1:8080")
//!     .token(std::env::var("QUALIFY_TOKEN").unwrap_or_default())
//!     .build()?;
//! let customer_id = "a4f1d0a4-54f7-4f5b-9d3b-1b4b3b0b8e6a";
//! let created = client
//!     .customers()
//!     .by_id(customer_id)
//!     .qualifications()
//!     .create(&QualificationRequest::education(EducationSegment::HigherEducation, Some("contoso.edu")))
//!     .await?;
//! println!("{} is {}", created.qualification, created.vetting_status);
//! # Ok(())
//! # }
//! ```
//!
//! Every call sends an `MS-RequestId` and an `MS-CorrelationId`; a write keeps its
//! `MS-RequestId` across retries, which the server uses as the idempotency key, so a create
//! retried after a timeout cannot produce a second qualification. Failures are one [`Error`]
//! type with an [`ErrorCategory`]. Retries (429 honouring `Retry-After`, 5xx, broken
//! connections; never another 4xx) follow the client's [`RetryPolicy`].

mod auth;
mod error;
mod http;
pub mod models;
mod ops;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

pub use auth::{StaticToken, TokenError, TokenFn, TokenProvider};
pub use error::{Error, ErrorCategory, Result};
pub use http::RetryPolicy;
pub use models::*;
pub use ops::admin::{ADVANCE_ATTEMPT_TIMEOUT, AdminClock, AdminScenario};
pub use ops::admin::{
    Admin, AdminCustomer, AdminGdap, AdminPartner, AdminQualification, AdminValidationCodes,
    AdminValidationStatus, ReviewPage, Reviews, ReviewsQuery,
};
pub use ops::control::{
    CheckReport, Checks, Fault, FaultAnswer, FaultMatch, Faults, Journal, JournalCount,
    JournalEntry, JournalFound, JournalPage, JournalPattern, NearMiss, NewFault, TokenSummary,
    Violation,
};
pub use ops::customers::{
    BillingProfileOperations, CompanyProfileOperations, CustomerOperations, Customers, Profiles,
};
pub use ops::events::{EventStream, Events, StreamItem};
pub use ops::qualifications::{LegacyQualificationOperations, Qualifications, WaitOptions};
pub use ops::validations::{ValidationCodes, ValidationStatusOperations};
pub use ops::webhooks::Webhooks;
pub use webhook::{
    WEBHOOK_TOLERANCE, WebhookError, WebhookHeaders, WebhookVerifier, verify_webhook,
    verify_webhook_rsa,
};

/// What the SDK sends as `MS-SdkVersion`.
pub const SDK_VERSION: &str = concat!("qualify-client/", env!("CARGO_PKG_VERSION"));

/// The default base URL: a `qualify serve` on this machine.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";

struct Inner {
    http: reqwest::Client,
    base_url: Url,
    token: Arc<dyn TokenProvider>,
    retry: RetryPolicy,
    timeout: Duration,
    locale: String,
    application: Option<String>,
}

/// The entry point. Cheap to clone; clones share one connection pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    correlation_id: Option<String>,
    request_id: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url.as_str())
            .field("retry", &self.inner.retry)
            .field("timeout", &self.inner.timeout)
            .field("correlation_id", &self.correlation_id)
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The base URL calls are made under.
    pub fn base_url(&self) -> &str {
        self.inner.base_url.as_str()
    }

    /// The same client, sending `correlation_id` as `MS-CorrelationId` on every call (to trace a
    /// chain of calls in the server's logs). Without it each call gets a fresh one.
    pub fn with_correlation_id(&self, correlation_id: impl Into<String>) -> Client {
        Client {
            correlation_id: Some(correlation_id.into()),
            ..self.clone()
        }
    }

    /// The same client, sending `request_id` as `MS-RequestId`. Use it for **one** logical
    /// write whose id you keep yourself (e.g. in a job table), so that running that write again
    /// after a crash of *your* process is still answered from the server's idempotency record.
    /// Without it, each call gets a fresh id, kept across that call's own retries.
    pub fn with_request_id(&self, request_id: impl Into<String>) -> Client {
        Client {
            request_id: Some(request_id.into()),
            ..self.clone()
        }
    }

    fn request_id_for_call(&self) -> String {
        self.request_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    }

    fn correlation_id_for_call(&self) -> String {
        self.correlation_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    }

    /// `/v1/customers`.
    pub fn customers(&self) -> Customers<'_> {
        Customers::new(self)
    }

    /// `/v1/customers/all/validations`: the partner's GCC validation codes.
    pub fn validation_codes(&self) -> ValidationCodes<'_> {
        ValidationCodes::new(self)
    }

    /// `/webhooks/v1`: the partner's webhook registration and test events (verify what arrives
    /// with [`WebhookVerifier`]).
    pub fn webhooks(&self) -> Webhooks<'_> {
        Webhooks::new(self)
    }

    /// qualify's operator API (`/admin/v1`); needs a token with the `Qualify.Admin` role.
    pub fn admin(&self) -> Admin<'_> {
        Admin::new(self)
    }
}

/// Builds a [`Client`].
pub struct ClientBuilder {
    base_url: String,
    token: Option<Arc<dyn TokenProvider>>,
    retry: RetryPolicy,
    timeout: Duration,
    connect_timeout: Duration,
    locale: String,
    application: Option<String>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            token: None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            locale: "en-US".to_owned(),
            application: None,
        }
    }
}

impl ClientBuilder {
    /// Where the API lives, e.g. `http://127.0.0.1:8080` or
    /// `https://api.partnercenter.microsoft.com` (the SDK appends `/v1/...`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// A fixed bearer token.
    pub fn token(self, token: impl Into<String>) -> Self {
        self.token_provider(StaticToken::new(token))
    }

    /// A provider asked for the token before every attempt.
    pub fn token_provider(mut self, provider: impl TokenProvider + 'static) -> Self {
        self.token = Some(Arc::new(provider));
        self
    }

    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Attempts per call, the first included (1 turns retries off).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.retry.max_attempts = attempts.max(1);
        self
    }

    /// The first backoff and its cap (it doubles in between, with jitter).
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.retry.initial_backoff = initial;
        self.retry.max_backoff = max.max(initial);
        self
    }

    /// The time one attempt may take, from sending to the end of the answer.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// `X-Locale` (default `en-US`).
    pub fn locale(mut self, locale: impl Into<String>) -> Self {
        self.locale = locale.into();
        self
    }

    /// `MS-PartnerCenter-Application`: your application's name, for the server's logs.
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application = Some(name.into());
        self
    }

    pub fn build(self) -> Result<Client> {
        let base_url = Url::parse(self.base_url.trim()).map_err(|e| {
            Error::new(
                ErrorCategory::Configuration,
                format!("the base URL {:?} is not a URL: {e}", self.base_url),
            )
        })?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            return Err(Error::new(
                ErrorCategory::Configuration,
                format!("the base URL {:?} is not an http(s) URL", self.base_url),
            ));
        }
        let token = self.token.ok_or_else(|| {
            Error::new(
                ErrorCategory::Configuration,
                "no token: call .token(..) or .token_provider(..)",
            )
        })?;
        let http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .user_agent(SDK_VERSION)
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorCategory::Configuration,
                    format!("the HTTP client cannot be built: {e}"),
                )
                .with_source(e)
            })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base_url,
                token,
                retry: self.retry,
                timeout: self.timeout,
                locale: self.locale,
                application: self.application,
            }),
            correlation_id: None,
            request_id: None,
        })
    }
}
