//! Liveness and readiness.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use qualify_core::ErrorKind;
use serde_json::json;

use crate::AppState;
use crate::body::ok;
use crate::error::ApiError;

/// Alive: the process answers.
pub async fn healthz() -> Response {
    ok(json!({"status": "ok"})).into_response()
}

/// Ready: the database answers (migrations ran when the store opened) and the worker runs.
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
