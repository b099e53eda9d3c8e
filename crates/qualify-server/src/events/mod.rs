//! Events: what the server tells about transitions as they happen (events.md) — the event
//! stream of the operator API ([`stream`], read from the audit trail by the process's one
//! [`feed::Feed`]), webhooks to a partner's receiver ([`webhooks`]), and Prometheus metrics
//! ([`metrics`]).

pub mod feed;
pub mod metrics;
pub mod stream;
pub mod webhooks;

use axum::extract::FromRef;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::feed::Feed;
pub use self::feed::run_feed;
use self::metrics::Scrape;
use self::webhooks::service::Webhooks;
use crate::http::auth::PartnerThrottle;
use crate::http::responses::{operator, partner, public};

/// The operations of events.
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Feed: FromRef<S>,
    Scrape: FromRef<S>,
    Webhooks: FromRef<S>,
    PartnerThrottle: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(public(routes!(metrics::metrics)))
        .routes(operator(routes!(stream::stream)))
        .routes(partner(routes!(webhooks::events)))
        .routes(partner(routes!(
            webhooks::register,
            webhooks::update,
            webhooks::get,
            webhooks::delete
        )))
        .routes(partner(routes!(webhooks::create_validation_event)))
        .routes(partner(routes!(webhooks::validation_event)))
        .routes(public(routes!(webhooks::certificate)))
        .routes(operator(routes!(webhooks::deliveries)))
        .routes(operator(routes!(webhooks::redeliver)))
}
