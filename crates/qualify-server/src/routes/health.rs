//! Liveness, readiness and metrics.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use qualify_core::ErrorKind;
use serde_json::json;

use crate::AppState;
use crate::body::ok;
use crate::error::ApiError;
use crate::openapi::{NotFound, ServiceUnavailable};

/// Alive: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    operation_id = "healthz",
    responses(
        (status = 200, description = "Alive.", body = Object, example = json!({"status": "ok"})),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn healthz() -> Response {
    ok(json!({"status": "ok"})).into_response()
}

/// Ready: the database answers (migrations ran when the store opened) and the worker runs.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "meta",
    operation_id = "readyz",
    responses(
        (status = 200, description = "Ready.", body = Object,
            example = json!({"status": "ready", "database": "ok", "migrations": "applied", "worker": "running"})),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    if let Err(e) = state.store.ping().await {
        tracing::warn!(error = %e, "not ready: database");
        return ApiError::new(ErrorKind::Unavailable, "The database is not reachable.")
            .into_response();
    }
    if !state.worker_running.load(Ordering::SeqCst) {
        return ApiError::new(ErrorKind::Unavailable, "The vetting worker is not running.")
            .into_response();
    }
    ok(json!({"status": "ready", "database": "ok", "migrations": "applied", "worker": "running"}))
        .into_response()
}

/// The content type of Prometheus' text exposition format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4";

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
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    match crate::metrics::render(&state).await {
        Some(text) => ([(axum::http::header::CONTENT_TYPE, PROMETHEUS_TEXT)], text).into_response(),
        None => ApiError::new(
            ErrorKind::NotFound,
            "Metrics are off on this server (serve --metrics false).",
        )
        .into_response(),
    }
}
