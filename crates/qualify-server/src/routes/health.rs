//! Liveness and readiness.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use qualify_core::ErrorKind;
use serde_json::json;

use crate::AppState;
use crate::body::ok;
use crate::error::ApiError;
use crate::openapi::ServiceUnavailable;

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
