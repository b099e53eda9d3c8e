//! The names of the headers the floor reads and writes.

use axum::http::HeaderName;

pub const MS_REQUEST_ID: HeaderName = HeaderName::from_static("ms-requestid");
pub const MS_CORRELATION_ID: HeaderName = HeaderName::from_static("ms-correlationid");
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
pub const MS_CONTINUATION_TOKEN: HeaderName = HeaderName::from_static("ms-continuationtoken");
/// `Qualify-Fault: <id>` on every answer a fault injected.
pub const QUALIFY_FAULT: HeaderName = HeaderName::from_static("qualify-fault");
