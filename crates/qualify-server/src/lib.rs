//! The qualify HTTP server: the Partner Center `/v1` surface, the operator API under
//! `/admin/v1`, the test control plane, and the job worker that runs inside `serve`.
//!
//! The house, from the ground up (each layer imports only those below it):
//! - [`chain`], [`clock`], [`metrics`]: how errors are logged, time, what is recorded.
//! - [`http`]: the HTTP floor — transport, request context, errors, auth and the auth
//!   classes, bodies, throttling, typed path parameters, the write extractor, the OpenAPI parts
//!   operations share. It imports no capability.
//! - [`jobs`]: the queue's runner (handlers by kind, the context a job gets, the worker).
//! - The capabilities, a folder each with its routes, wire types and service: [`partner`]
//!   (Partner Center's API), [`operator`] (the operator API), [`control`] (reset, fixtures,
//!   scenarios, clocks), [`traffic`] (faults, the journal, checks), [`events`] (the event
//!   stream, webhooks, metrics), [`console`].
//! - [`app`]: the assembly — the state's services, every operation, the OpenAPI document, the
//!   router, `serve`.

pub mod app;
pub mod chain;
pub mod clock;
pub mod console;
pub mod control;
pub mod events;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod operator;
pub mod partner;
#[cfg(feature = "testing")]
pub mod testing;
pub mod traffic;

pub use app::config::ServerConfig;
pub use app::serve::serve;
pub use app::state::{AppState, AppStateBuilder};
pub use app::{openapi, routes};
pub use events::webhooks;
pub use http::auth::{
    AnyPartner, AuthConfig, Authenticator, Caller, Credential, Delegated, DevToken, Operator,
    Secret, mint_dev_token,
};
pub use http::{auth, body, error};
pub use jobs as worker;
pub use traffic::journal;
