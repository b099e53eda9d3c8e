//! What `serve` is told: every setting of the server, already validated (the CLI's `Settings`
//! resolve to it).

use std::time::Duration;

use qualify_core::policy::VettingPolicy;
use qualify_core::validation::GdapRole;

use crate::http::auth::{AuthConfig, DEFAULT_AUDIENCE, DEFAULT_DEV_SECRET, Secret};
use crate::http::transport::Limits;
use crate::traffic::journal;

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
    /// Connections served at once; past it a new connection closes the oldest one that is not in
    /// a request (silent, still sending its head, or idle between keep-alive requests), and
    /// waits, unanswered, only when every one is in a request, until one ends.
    pub max_connections: usize,
    /// Requests handled at once; further ones get 503 with `Retry-After`.
    pub max_in_flight: usize,
    /// Event streams (`GET /admin/v1/events`) served at once; further ones get 503 with
    /// `Retry-After` and the connection closed. Streams are counted apart from `max_in_flight`;
    /// together the two stay below `max_connections`, so a connection slot is always free or
    /// closable for another client.
    pub max_streams: usize,
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
                secret: Secret::new(DEFAULT_DEV_SECRET),
                audience: DEFAULT_AUDIENCE.into(),
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
            max_streams: 256,
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

impl ServerConfig {
    /// What the transport bounds.
    pub fn limits(&self) -> Limits {
        Limits {
            header_read_timeout: self.header_read_timeout,
            body_read_timeout: self.body_read_timeout,
            max_header_bytes: self.max_header_bytes,
            max_connections: self.max_connections,
            max_in_flight: self.max_in_flight,
            shutdown_grace: self.shutdown_grace,
        }
    }
}
