//! Liveness and readiness.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use qualify_core::ErrorKind;
use serde_json::json;

use crate::http::body::ok;
use crate::http::error::ApiError;
use crate::jobs::Worker;

/// Alive: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    operation_id = "healthz",
    responses(
        (status = 200, description = "Alive.", body = Object, example = json!({"status": "ok"})),
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
    ),
)]
pub async fn readyz(State(worker): State<Worker>) -> Response {
    if let Err(e) = worker.context().store.ping().await {
        return ApiError::new(ErrorKind::Unavailable, "The database is not reachable.")
            .caused_by(e)
            .into_response();
    }
    if !worker.is_running() {
        return ApiError::new(ErrorKind::Unavailable, "The vetting worker is not running.")
            .into_response();
    }
    ok(json!({"status": "ready", "database": "ok", "migrations": "applied", "worker": "running"}))
        .into_response()
}
