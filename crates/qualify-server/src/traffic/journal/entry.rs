//! One recorded request of the journal (control.md section 6), and the bounds of what it keeps.
//!
//! Memory: an entry holds at most [`BODY_KEPT`] bytes of body, [`PATH_KEPT`] of path (twice when
//! the path as sent differs), [`QUERY_KEPT`] of query and [`HEADER_KEPT`] per kept
//! header ([`KEPT_HEADERS`]), plus about 400 bytes of fixed fields, so a full journal of the
//! default 10,000 entries stays under [`bound_bytes`]`(10_000)` (every field at its limit);
//! 10,000 entries with 16 KiB bodies and ordinary headers measure 164 MiB
//! (`tests/journal_memory.rs`, a counting allocator).

use qualify_core::faults::customer_of_path;
use qualify_core::{CustomerId, PartnerId};
use serde::Serialize;
use serde::ser::SerializeMap;
use time::OffsetDateTime;

/// Bytes of a request body kept.
pub const BODY_KEPT: usize = 16 * 1024;
/// Bytes of the path kept.
pub const PATH_KEPT: usize = 2048;
/// Bytes of the query kept.
pub const QUERY_KEPT: usize = 2048;
/// Bytes of each kept header's value.
pub const HEADER_KEPT: usize = 512;
/// The request headers an entry keeps (what the client sent), by their documented names.
pub const KEPT_HEADERS: &[&str] = &[
    "MS-RequestId",
    "MS-CorrelationId",
    "MS-Contract-Version",
    "MS-PartnerCenter-Application",
    "MS-PartnerCenter-Client",
    "MS-SdkVersion",
    "X-Locale",
    "Content-Type",
    "Accept",
    "If-Match",
    "User-Agent",
];
/// The default of `--journal-size`.
pub const DEFAULT_SIZE: usize = 10_000;
/// What replaces a token-like value.
pub use crate::http::redact::REDACTED;

/// The most memory `entries` entries can hold (their payload bytes, as counted by
/// [`Entry::heap_bytes`], plus the ring's own slots).
pub fn bound_bytes(entries: usize) -> usize {
    let per_entry = std::mem::size_of::<Entry>()
        + 16 * 8 // the Arc's counters and the ring's slot, rounded up
        + BODY_KEPT
        + PATH_KEPT
        + QUERY_KEPT
        + PATH_KEPT // the path as sent
        + KEPT_HEADERS.len() * (HEADER_KEPT + std::mem::size_of::<(&str, Box<str>)>())
        + 3 * 128 // request id, correlation id, fault id
        + 64; // method
    entries * per_entry
}

/// What the token said (never the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenSummary {
    pub tid: PartnerId,
    pub app_only: bool,
    pub admin: bool,
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: u64,
    /// When the request arrived (wall time).
    pub at: OffsetDateTime,
    pub partner: Option<PartnerId>,
    pub method: Box<str>,
    /// The path as routed: empty segments removed (api.md 1).
    pub path: Box<str>,
    pub query: Option<Box<str>>,
    /// The path exactly as the client sent it, when that differs from `path` (a client's
    /// `//`); the query is never rewritten.
    pub sent_path: Option<Box<str>>,
    /// The request's ids as answered (the client's, or the generated ones); whether the client
    /// sent them shows in `headers`.
    pub request_id: Box<str>,
    pub correlation_id: Box<str>,
    pub headers: Vec<(&'static str, Box<str>)>,
    pub auth: Option<TokenSummary>,
    pub body: Option<Box<str>>,
    pub body_truncated: bool,
    /// `None`: no answer (the connection was dropped, or the request was abandoned).
    pub status: Option<u16>,
    /// The `code` of an error body.
    pub code: Option<u32>,
    /// The answer's `Retry-After`, seconds.
    pub retry_after: Option<u64>,
    pub replayed: bool,
    pub fault_id: Option<Box<str>>,
    pub duration_ms: f64,
}

impl Entry {
    /// Whether the client sent this header (by its documented name).
    pub fn sent(&self, header: &str) -> bool {
        self.headers
            .iter()
            .any(|(h, _)| h.eq_ignore_ascii_case(header))
    }

    pub fn customer(&self) -> Option<CustomerId> {
        customer_of_path(&self.path)
    }

    /// When the answer left (arrival plus duration).
    pub fn answered_at(&self) -> OffsetDateTime {
        self.at + time::Duration::seconds_f64(self.duration_ms / 1000.0)
    }

    /// The bytes this entry holds on the heap, and its own size.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.method.len()
            + self.path.len()
            + self.query.as_ref().map_or(0, |q| q.len())
            + self.sent_path.as_ref().map_or(0, |p| p.len())
            + self.request_id.len()
            + self.correlation_id.len()
            + self.headers.capacity() * std::mem::size_of::<(&str, Box<str>)>()
            + self.headers.iter().map(|(_, v)| v.len()).sum::<usize>()
            + self.body.as_ref().map_or(0, |b| b.len())
            + self.fault_id.as_ref().map_or(0, |f| f.len())
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Serialize for Entry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Headers<'a>(&'a [(&'static str, Box<str>)]);
        impl Serialize for Headers<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    m.serialize_entry(k, v.as_ref())?;
                }
                m.end()
            }
        }
        let path = self.sent_path.as_deref().unwrap_or(&self.path);
        let target = match &self.query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        };
        let mut m = s.serialize_map(Some(19))?;
        m.serialize_entry("seq", &self.seq)?;
        m.serialize_entry("at", &rfc3339(self.at))?;
        m.serialize_entry("partner", &self.partner)?;
        m.serialize_entry("method", &*self.method)?;
        m.serialize_entry("path", &*self.path)?;
        m.serialize_entry("query", &self.query.as_deref())?;
        m.serialize_entry("target", &target)?;
        m.serialize_entry("requestId", &*self.request_id)?;
        m.serialize_entry("correlationId", &*self.correlation_id)?;
        m.serialize_entry("headers", &Headers(&self.headers))?;
        m.serialize_entry("auth", &self.auth)?;
        m.serialize_entry("body", &self.body.as_deref())?;
        m.serialize_entry("bodyTruncated", &self.body_truncated)?;
        m.serialize_entry("status", &self.status)?;
        m.serialize_entry("code", &self.code)?;
        m.serialize_entry("retryAfter", &self.retry_after)?;
        m.serialize_entry("replayed", &self.replayed)?;
        m.serialize_entry("faultId", &self.fault_id.as_deref())?;
        m.serialize_entry(
            "durationMs",
            &((self.duration_ms * 1000.0).round() / 1000.0),
        )?;
        m.end()
    }
}

/// An entry for tests: `method path` of `partner`, answered 200 in a millisecond.
#[cfg(test)]
pub(crate) fn sample(partner: Option<PartnerId>, method: &str, path: &str) -> Entry {
    Entry {
        seq: 0,
        at: time::macros::datetime!(2026-01-05 12:00:00 UTC),
        partner,
        method: method.into(),
        path: path.into(),
        query: None,
        sent_path: None,
        request_id: uuid::Uuid::new_v4().to_string().into(),
        correlation_id: "c".into(),
        headers: vec![],
        auth: None,
        body: None,
        body_truncated: false,
        status: Some(200),
        code: None,
        retry_after: None,
        replayed: false,
        fault_id: None,
        duration_ms: 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What docs/testing.md promises of a full journal of the default size.
    #[test]
    fn a_full_journal_of_the_default_size_stays_under_280_mib() {
        let bound = bound_bytes(DEFAULT_SIZE);
        assert!(bound < 280 * 1024 * 1024, "{} MiB", bound / 1024 / 1024);
    }
}
