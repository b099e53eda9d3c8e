//! The request journal (control.md section 6): every `/v1` request, in memory, per instance, in
//! a ring of `--journal-size` entries (0 turns it off; the oldest go first), each with a
//! strictly increasing `seq`. Never a token: `Authorization` is replaced by what the token said
//! (`auth`), and token-like text in the path, query, kept headers and body is redacted. Bodies
//! are kept up to [`BODY_KEPT`] bytes.
//!
//! Memory: an entry holds at most [`BODY_KEPT`] bytes of body, [`PATH_KEPT`] of path,
//! [`QUERY_KEPT`] of query and [`HEADER_KEPT`] per kept header ([`KEPT_HEADERS`]), plus about
//! 400 bytes of fixed fields, so a full journal of the default 10,000 entries stays under
//! [`bound_bytes`]`(10_000)` = 260 MiB (every field at its limit); 10,000 entries with 16 KiB
//! bodies and ordinary headers measure 164 MiB (`tests/journal_memory.rs`, a counting
//! allocator).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use qualify_core::faults::{PathGlob, customer_of_path};
use qualify_core::{CustomerId, PartnerId};
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;
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
pub const REDACTED: &str = "[redacted]";

/// The most memory `entries` entries can hold (their payload bytes, as counted by
/// [`Entry::heap_bytes`], plus the ring's own slots).
pub fn bound_bytes(entries: usize) -> usize {
    let per_entry = std::mem::size_of::<Entry>()
        + 16 * 8 // the Arc's counters and the ring's slot, rounded up
        + BODY_KEPT
        + PATH_KEPT
        + QUERY_KEPT
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
    pub path: Box<str>,
    pub query: Option<Box<str>>,
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
        let mut m = s.serialize_map(Some(18))?;
        m.serialize_entry("seq", &self.seq)?;
        m.serialize_entry("at", &rfc3339(self.at))?;
        m.serialize_entry("partner", &self.partner)?;
        m.serialize_entry("method", &*self.method)?;
        m.serialize_entry("path", &*self.path)?;
        m.serialize_entry("query", &self.query.as_deref())?;
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

// ---- redaction ---------------------------------------------------------------------------------

fn token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// Text with token-like parts replaced by [`REDACTED`]: JWTs (base64url segments joined by
/// dots, the first a JSON object: `eyJ...`) and the credential after `Bearer `.
pub fn redact_text(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    // `Bearer ` ends in a space, and the values kept have few: look for `bearer` only before
    // each space.
    let has_bearer = || {
        bytes
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b' ' && i >= 6 && bytes[i - 6..i].eq_ignore_ascii_case(b"bearer"))
    };
    if !text.contains("eyJ") && !has_bearer() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"eyJ") && (i == 0 || !token_char(bytes[i - 1])) {
            let mut end = i;
            while end < bytes.len() && (token_char(bytes[end]) || bytes[end] == b'.') {
                end += 1;
            }
            let run = &text[i..end];
            if run.contains('.') && run.len() >= 16 {
                out.push_str(REDACTED);
                i = end;
                continue;
            }
        }
        if i + 7 <= bytes.len() && bytes[i..i + 7].eq_ignore_ascii_case(b"bearer ") {
            let mut start = i + 7;
            while start < bytes.len() && bytes[start] == b' ' {
                start += 1;
            }
            let mut end = start;
            while end < bytes.len() && !bytes[end].is_ascii_whitespace() && bytes[end] != b'"' {
                end += 1;
            }
            if end > start {
                out.push_str(&text[i..i + 7]);
                out.push_str(REDACTED);
                i = end;
                continue;
            }
        }
        let c = text[i..].chars().next().expect("inside the text");
        out.push(c);
        i += c.len_utf8();
    }
    std::borrow::Cow::Owned(out)
}

/// Names of JSON fields whose values are secrets whatever they look like.
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "authorization",
        "apikey",
        "api_key",
        "assertion",
    ]
    .iter()
    .any(|s| k.contains(s))
}

fn redact_value(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(r) = redact_text(s) {
                *s = r;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_value),
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if secret_key(k) && !v.is_null() {
                    *v = Value::String(REDACTED.into());
                } else {
                    redact_value(v);
                }
            }
        }
        _ => {}
    }
}

fn might_hold_secret(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("eyj")
        || lower.contains("bearer")
        || [
            "password",
            "secret",
            "token",
            "authorization",
            "apikey",
            "api_key",
            "assertion",
        ]
        .iter()
        .any(|s| lower.contains(s))
}

/// A body as the journal keeps it: redacted, then cut to [`BODY_KEPT`] bytes. Returns the
/// text and whether it was cut.
pub fn keep_body(bytes: &[u8]) -> Option<(Box<str>, bool)> {
    if bytes.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(bytes);
    let redacted: String = if might_hold_secret(&text) {
        match serde_json::from_str::<Value>(&text) {
            Ok(mut v) if v.is_object() || v.is_array() => {
                redact_value(&mut v);
                v.to_string()
            }
            _ => redact_text(&text).into_owned(),
        }
    } else {
        text.into_owned()
    };
    let (kept, cut) = cut_to(&redacted, BODY_KEPT);
    Some((kept.into(), cut))
}

fn cut_to(text: &str, limit: usize) -> (&str, bool) {
    if text.len() <= limit {
        return (text, false);
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// A short text field (path, query, header value): redacted and cut.
pub fn keep_text(text: &str, limit: usize) -> Box<str> {
    let r = redact_text(text);
    cut_to(&r, limit).0.into()
}

/// The kept headers of a request, redacted and cut. One pass over the request's headers
/// (lower-case names, compared as text): looking each kept name up parsed it every time.
pub fn keep_headers(headers: &HeaderMap) -> Vec<(&'static str, Box<str>)> {
    static LOWER: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        KEPT_HEADERS
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect()
    });
    let mut out: Vec<(&'static str, Box<str>)> = Vec::new();
    for (name, value) in headers {
        let Some(i) = LOWER.iter().position(|l| l == name.as_str()) else {
            continue;
        };
        let canonical = KEPT_HEADERS[i];
        if out.iter().any(|(h, _)| *h == canonical) {
            continue;
        }
        let v = String::from_utf8_lossy(value.as_bytes());
        out.push((canonical, keep_text(&v, HEADER_KEPT)));
    }
    out.shrink_to_fit();
    out
}

// ---- the ring ----------------------------------------------------------------------------------

struct Ring {
    entries: VecDeque<Arc<Entry>>,
    next_seq: u64,
    /// Entries that left the ring to make room, in all and by partner, since the scope was last
    /// cleared.
    evicted: u64,
    evicted_by: HashMap<Option<PartnerId>, u64>,
}

/// The journal of this instance.
pub struct Journal {
    capacity: usize,
    ring: Mutex<Ring>,
    /// Wakes followers (`GET /admin/v1/journal` long polls do not exist; the CLI polls).
    pub recorded: tokio::sync::Notify,
}

/// A page of the journal.
#[derive(Debug, Clone)]
pub struct Page {
    pub entries: Vec<Arc<Entry>>,
    pub evicted: u64,
}

impl Journal {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ring: Mutex::new(Ring {
                entries: VecDeque::with_capacity(capacity.min(1024)),
                next_seq: 1,
                evicted: 0,
                evicted_by: HashMap::new(),
            }),
            recorded: tokio::sync::Notify::new(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an entry, giving it the next `seq` (the one it is given is ignored); returns it.
    pub fn record(&self, mut entry: Entry) -> u64 {
        if !self.enabled() {
            return 0;
        }
        let seq = {
            let mut ring = self.lock();
            entry.seq = ring.next_seq;
            ring.next_seq += 1;
            ring.entries.push_back(Arc::new(entry));
            while ring.entries.len() > self.capacity {
                if let Some(old) = ring.entries.pop_front() {
                    ring.evicted += 1;
                    *ring.evicted_by.entry(old.partner).or_default() += 1;
                }
            }
            ring.next_seq - 1
        };
        self.recorded.notify_waiters();
        seq
    }

    /// The entries (of `partner`, or all) with `seq > after`, oldest first, at most `limit`.
    pub fn page(&self, partner: Option<PartnerId>, after: u64, limit: usize) -> Page {
        let ring = self.lock();
        // Entries are in seq order: skip the older ones by binary search.
        let start = ring.entries.partition_point(|e| e.seq <= after);
        let entries = ring
            .entries
            .range(start..)
            .filter(|e| partner.is_none_or(|p| e.partner == Some(p)))
            .take(limit)
            .cloned()
            .collect();
        Page {
            entries,
            evicted: evicted(&ring, partner),
        }
    }

    /// Every entry of the scope, oldest first, and how many of the scope were evicted.
    pub fn scope(&self, partner: Option<PartnerId>) -> Page {
        self.page(partner, 0, usize::MAX)
    }

    /// Forgets the entries of `partner`, or all (a reset); the scope's eviction count starts
    /// over.
    pub fn clear(&self, partner: Option<PartnerId>) {
        let mut ring = self.lock();
        match partner {
            None => {
                ring.entries.clear();
                ring.evicted = 0;
                ring.evicted_by.clear();
            }
            Some(p) => {
                ring.entries.retain(|e| e.partner != Some(p));
                let gone = ring.evicted_by.remove(&Some(p)).unwrap_or(0);
                ring.evicted = ring.evicted.saturating_sub(gone);
            }
        }
    }

    /// The heap bytes the entries hold.
    pub fn heap_bytes(&self) -> usize {
        let ring = self.lock();
        ring.entries.iter().map(|e| e.heap_bytes()).sum::<usize>()
            + ring.entries.capacity() * std::mem::size_of::<Arc<Entry>>()
    }
}

fn evicted(ring: &Ring, partner: Option<PartnerId>) -> u64 {
    match partner {
        None => ring.evicted,
        Some(p) => ring.evicted_by.get(&Some(p)).copied().unwrap_or(0),
    }
}

// ---- patterns ----------------------------------------------------------------------------------

/// What `find` and `count` look for; every field given must hold.
#[derive(Debug, Clone, Default)]
pub struct Pattern {
    pub method: Option<String>,
    pub path: Option<PathGlob>,
    pub partner: Option<PartnerId>,
    pub customer_id: Option<CustomerId>,
    pub status: Option<u16>,
    pub request_id: Option<String>,
    pub body_contains: Option<String>,
}

impl Pattern {
    /// The pattern's fields (but `partner`, which scopes the search) that `e` does not satisfy.
    pub fn differences(&self, e: &Entry) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self
            .method
            .as_deref()
            .is_some_and(|m| !m.eq_ignore_ascii_case(&e.method))
        {
            out.push("method");
        }
        if self.path.as_ref().is_some_and(|g| !g.matches(&e.path)) {
            out.push("path");
        }
        if self.customer_id.is_some_and(|c| e.customer() != Some(c)) {
            out.push("customerId");
        }
        if self.status.is_some_and(|s| e.status != Some(s)) {
            out.push("status");
        }
        if self
            .request_id
            .as_deref()
            .is_some_and(|r| r != &*e.request_id)
        {
            out.push("requestId");
        }
        if self
            .body_contains
            .as_deref()
            .is_some_and(|b| !e.body.as_deref().unwrap_or("").contains(b))
        {
            out.push("bodyContains");
        }
        out
    }

    pub fn matches(&self, e: &Entry) -> bool {
        self.partner.is_none_or(|p| e.partner == Some(p)) && self.differences(e).is_empty()
    }
}

/// The result of `find`.
pub struct Found {
    pub entries: Vec<Arc<Entry>>,
    /// When nothing matched: up to 3 entries of the scope closest to the pattern (fewest
    /// differing fields, newest first), with the fields that differed.
    pub near_misses: Vec<(Arc<Entry>, Vec<&'static str>)>,
    pub complete: bool,
}

impl Journal {
    pub fn find(&self, pattern: &Pattern) -> Found {
        let scope = self.scope(pattern.partner);
        let entries: Vec<Arc<Entry>> = scope
            .entries
            .iter()
            .filter(|e| pattern.matches(e))
            .cloned()
            .collect();
        let mut near_misses = Vec::new();
        if entries.is_empty() {
            let mut scored: Vec<(Arc<Entry>, Vec<&'static str>)> = scope
                .entries
                .iter()
                .rev()
                .map(|e| (e.clone(), pattern.differences(e)))
                .collect();
            // Stable: among equally close ones the newest stay first.
            scored.sort_by_key(|(_, d)| d.len());
            near_misses = scored.into_iter().take(3).collect();
        }
        Found {
            entries,
            near_misses,
            complete: scope.evicted == 0,
        }
    }

    /// How many entries match, and whether entries that might have matched were evicted.
    pub fn count(&self, pattern: &Pattern) -> (usize, bool) {
        let ring = self.lock();
        let n = ring.entries.iter().filter(|e| pattern.matches(e)).count();
        (n, evicted(&ring, pattern.partner) == 0)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn entry(partner: Option<PartnerId>, method: &str, path: &str) -> Entry {
        Entry {
            seq: 0,
            at: time::macros::datetime!(2026-01-05 12:00:00 UTC),
            partner,
            method: method.into(),
            path: path.into(),
            query: None,
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

    #[test]
    fn tokens_are_redacted_everywhere_they_may_hide() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJ0aWQiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
        assert_eq!(redact_text(&format!("a {jwt} b")), "a [redacted] b");
        assert_eq!(
            redact_text(&format!("?access_token={jwt}&x=1")),
            "?access_token=[redacted]&x=1"
        );
        assert_eq!(
            redact_text("Authorization: Bearer abc.def"),
            "Authorization: Bearer [redacted]"
        );
        assert_eq!(redact_text("nothing here"), "nothing here");
        let body = format!(
            r#"{{"qualification": "Education", "note": "{jwt}", "password": "hunter2", "nested": [{{"clientSecret": "s"}}]}}"#
        );
        let (kept, cut) = keep_body(body.as_bytes()).unwrap();
        assert!(!cut);
        assert!(
            !kept.contains(jwt) && !kept.contains("hunter2") && !kept.contains("\"s\""),
            "{kept}"
        );
        assert!(kept.contains("Education"), "{kept}");
        let (raw, _) = keep_body(format!("token {jwt}").as_bytes()).unwrap();
        assert_eq!(&*raw, "token [redacted]");
    }

    #[test]
    fn bodies_are_cut_to_16_kib_on_a_character_boundary() {
        let long = "é".repeat(BODY_KEPT);
        let (kept, cut) = keep_body(long.as_bytes()).unwrap();
        assert!(cut && kept.len() <= BODY_KEPT && kept.len() > BODY_KEPT - 2);
        assert!(keep_body(b"").is_none());
    }

    #[test]
    fn the_ring_keeps_the_newest_counts_evictions_by_scope_and_clears() {
        let (p, q) = (PartnerId::new_random(), PartnerId::new_random());
        let j = Journal::new(3);
        for i in 0..5 {
            let partner = if i % 2 == 0 { p } else { q };
            j.record(entry(Some(partner), "GET", "/v1/customers"));
        }
        let all = j.scope(None);
        assert_eq!(
            all.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(all.evicted, 2);
        assert_eq!(j.scope(Some(p)).evicted, 1, "seq 1 was p's");
        assert_eq!(j.page(None, 3, 1).entries[0].seq, 4);
        let pattern = Pattern {
            partner: Some(p),
            ..Pattern::default()
        };
        assert_eq!(j.count(&pattern), (2, false));
        j.clear(Some(p));
        assert_eq!(
            j.count(&pattern),
            (0, true),
            "a cleared scope is complete again"
        );
        assert_eq!(j.scope(None).entries.len(), 1);
        assert_eq!(j.scope(Some(q)).evicted, 1);
        let next = j.record(entry(None, "GET", "/v1/x"));
        assert_eq!(next, 6, "seq never goes back");
        assert!(!Journal::new(0).enabled());
    }

    #[test]
    fn find_reports_near_misses_with_what_differed() {
        let j = Journal::new(10);
        let p = PartnerId::new_random();
        let mut e = entry(Some(p), "POST", "/v1/customers/x/qualifications");
        e.status = Some(201);
        j.record(e);
        j.record(entry(Some(p), "GET", "/v1/customers"));
        j.record(entry(
            Some(PartnerId::new_random()),
            "POST",
            "/v1/customers/x/qualifications",
        ));
        let pattern = Pattern {
            method: Some("post".into()),
            path: Some(PathGlob::parse("/v1/customers/*/qualifications").unwrap()),
            partner: Some(p),
            status: Some(503),
            ..Pattern::default()
        };
        let found = j.find(&pattern);
        assert!(found.entries.is_empty());
        assert_eq!(found.near_misses.len(), 2, "only p's entries");
        assert_eq!(found.near_misses[0].1, ["status"]);
        assert_eq!(found.near_misses[1].1, ["method", "path", "status"]);
        let hit = Pattern {
            status: Some(201),
            ..pattern
        };
        let found = j.find(&hit);
        assert_eq!(found.entries.len(), 1);
        assert!(found.near_misses.is_empty() && found.complete);
    }
}
