//! The HTTP floor: what every capability stands on and none of them is. The transport, the
//! request context (ids, the one log line of a request), the error body, authentication and
//! the auth classes, JSON bodies (lenient for the Partner Center API, strict for control
//! documents), throttling, path normalisation and typed path parameters, the write extractor,
//! and the OpenAPI parts operations share (error responses, vocabularies). It imports no
//! capability.

pub mod auth;
pub mod body;
pub mod context;
pub mod error;
pub mod headers;
pub mod params;
pub mod path;
pub mod query;
pub mod redact;
pub mod responses;
pub mod schemas;
pub mod strict;
pub mod throttle;
pub mod transport;
pub mod write;
