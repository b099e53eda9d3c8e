//! `GET /metrics` (events.md 4): Prometheus' text exposition of every series, outside `/v1`
//! (no traffic layer, no faults, no token). What is recorded is [`crate::metrics`]'s.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use qualify_core::ErrorKind;
use qualify_store::Store;

use crate::clock::Time;
use crate::http::error::ApiError;
use crate::http::responses::NotFound;

/// The content type of Prometheus' text exposition format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4";

/// What a scrape reads: the queue of the store at wall time, when metrics are on.
#[derive(Clone)]
pub struct Scrape {
    pub store: Arc<dyn Store>,
    pub time: Time,
    /// `serve --metrics false`: the route answers 404.
    pub on: bool,
}

/// Prometheus metrics (events.md 4), no token needed; `docs/metrics.md` lists the series.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    operation_id = "metrics",
    responses(
        (status = 200, description = "Every series, in Prometheus' text exposition format.",
            content_type = "text/plain; version=0.0.4", body = String,
            example = "# TYPE qualify_vetting_queue_depth gauge\nqualify_vetting_queue_depth 0\n"),
        (status = 404, response = NotFound),
    ),
)]
pub async fn metrics(State(scrape): State<Scrape>) -> Response {
    let text = match scrape.on {
        true => crate::metrics::render(scrape.store.as_ref(), scrape.time.wall()).await,
        false => None,
    };
    match text {
        Some(text) => ([(axum::http::header::CONTENT_TYPE, PROMETHEUS_TEXT)], text).into_response(),
        None => ApiError::new(
            ErrorKind::NotFound,
            "Metrics are off on this server (serve --metrics false).",
        )
        .into_response(),
    }
}
