//! Fault injection (control.md section 5): what a fault is, which requests it matches, and
//! whether it fires on a given request. No I/O: the store keeps the faults and their counters
//! and asks [`Fault::fires`] inside the transaction that counts a hit, so that every instance
//! on one database takes the same decision and `times` is exact.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{CustomerId, PartnerId};

/// The longest latency a fault may add (a longer one would only meet the request timeout).
pub const MAX_LATENCY: Duration = Duration::from_secs(3600);

/// A path glob over `/`-separated segments (empty segments are ignored, as the API ignores
/// them): `*` is one whole segment, `**` any number of segments (none included), and a `*`
/// inside a segment stands for any characters of that segment (`qualification*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathGlob {
    text: String,
    segments: Vec<String>,
}

impl PathGlob {
    /// A glob; it must start with `/`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if !text.starts_with('/') {
            return Err("a path glob starts with '/' (e.g. /v1/customers/*/qualifications)".into());
        }
        if text.len() > 2048 {
            return Err("a path glob is at most 2048 characters".into());
        }
        let segments = segments(text).map(str::to_owned).collect();
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first segment, when it is a literal (a glob under `/v1` starts with `v1`).
    pub fn first_literal(&self) -> Option<&str> {
        self.segments
            .first()
            .map(String::as_str)
            .filter(|s| !s.contains('*'))
    }

    /// Whether `path` (without its query) matches.
    pub fn matches(&self, path: &str) -> bool {
        let path: Vec<&str> = segments(path).collect();
        let glob: Vec<&str> = self.segments.iter().map(String::as_str).collect();
        match_segments(&glob, &path)
    }
}

impl std::fmt::Display for PathGlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for PathGlob {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for PathGlob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PathGlob::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The non-empty segments of a path.
pub fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

fn match_segments(glob: &[&str], path: &[&str]) -> bool {
    match glob.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| match_segments(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((segment, path_rest)) => {
                wildcard(first, segment) && match_segments(rest, path_rest)
            }
            None => false,
        },
    }
}

/// `*` = any characters (within one segment).
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The customer id of a `/v1/customers/{id}/...` path, when it is a GUID.
pub fn customer_of_path(path: &str) -> Option<CustomerId> {
    let mut s = segments(path);
    if s.next()? != "v1" || s.next()? != "customers" {
        return None;
    }
    s.next()?.parse().ok()
}

/// Which requests a fault applies to; every key given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultMatch {
    /// Upper case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathGlob>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<PartnerId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
}

/// What a request is, as a fault's `match` sees it.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub partner: Option<PartnerId>,
    pub customer: Option<CustomerId>,
}

impl FaultMatch {
    pub fn holds(&self, r: &RequestFacts<'_>) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(r.method))
            && self.path.as_ref().is_none_or(|g| g.matches(r.path))
            && self.partner.is_none_or(|p| r.partner == Some(p))
            && self.customer_id.is_none_or(|c| r.customer == Some(c))
    }
}

/// When the injected answer replaces the real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// The request is not executed; nothing changes.
    #[default]
    Before,
    /// The request is executed and committed, then its answer is replaced (a lost answer).
    After,
}

/// What the client gets instead of (or on top of) the real answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum FaultResponse {
    /// The Partner Center error body.
    Error {
        status: u16,
        code: u32,
        description: String,
        /// Seconds; always set for 429 and 503.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
    },
    /// Exactly these bytes with this content type.
    Raw {
        status: u16,
        raw_body: String,
        content_type: String,
    },
    /// The connection is closed without an answer.
    Drop,
    /// The real answer with this JSON merge patch (RFC 7396) applied to its body (to each
    /// element of an array).
    Patch { patch: serde_json::Value },
    /// The real answer (with `latency`, late).
    Real,
}

/// A validated fault, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultSpec {
    #[serde(rename = "match")]
    pub matches: FaultMatch,
    pub phase: Phase,
    pub response: FaultResponse,
    /// Milliseconds added before the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// 1-based positions among the requests that reached this fault and matched it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nth: Option<Vec<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    pub probability: f64,
    pub seed: u64,
    /// Whether the client chose `seed` (otherwise the server drew it).
    #[serde(default)]
    pub seed_given: bool,
}

impl FaultSpec {
    /// Whether the fault fires on the request at `position` (1-based) among those that reached
    /// it and matched, `fired` times having fired before. `nth` decides when given, else
    /// `probability` over a sequence that `seed` makes reproducible; `times` bounds it.
    pub fn fires(&self, position: u64, fired: u64) -> bool {
        if self.times.is_some_and(|t| fired >= t) {
            return false;
        }
        match &self.nth {
            Some(nth) => nth.contains(&position),
            None => unit(self.seed, position) < self.probability,
        }
    }

    pub fn latency(&self) -> Option<Duration> {
        self.latency_ms.map(Duration::from_millis)
    }
}

/// A fault as stored: its spec, id, evaluation order and counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub id: String,
    /// The order faults were added in (evaluation order).
    pub seq: i64,
    pub spec: FaultSpec,
    /// Requests that reached this fault and matched it.
    pub hits: u64,
    /// How often it fired.
    pub fired: u64,
}

impl Fault {
    /// How often it may still fire (`None`: unbounded).
    pub fn remaining(&self) -> Option<u64> {
        self.spec.times.map(|t| t.saturating_sub(self.fired))
    }

    /// A request reached this fault and matched it: counts the hit, and the firing when it
    /// fires at its next position. Returns whether it fired, and whether it has then fired its
    /// `times` (and is removed).
    pub fn hit(&mut self) -> (bool, bool) {
        let position = self.hits + 1;
        let fires = self.spec.fires(position, self.fired);
        self.hits = position;
        self.fired += u64::from(fires);
        let removed = fires && self.spec.times.is_some_and(|t| self.fired >= t);
        (fires, removed)
    }
}

/// A fault that fired, with its counters after the hit.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultHit {
    pub fault: Fault,
    /// It reached `times` and was removed.
    pub removed: bool,
}

/// A uniform number in `[0, 1)` for the `position`-th draw of `seed` (splitmix64).
fn unit(seed: u64, position: u64) -> f64 {
    let mut z = seed ^ position.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> PathGlob {
        PathGlob::parse(s).unwrap()
    }

    #[test]
    fn globs_match_by_segment() {
        let q = g("/v1/customers/*/qualifications");
        assert!(q.matches("/v1/customers/abc/qualifications"));
        assert!(q.matches("/v1//customers/abc/qualifications/"));
        assert!(!q.matches("/v1/customers/abc/def/qualifications"));
        assert!(!q.matches("/v1/customers/qualifications"));
        assert!(!q.matches("/v1/customers/abc/qualification"));
        let any = g("/v1/**");
        assert!(any.matches("/v1"));
        assert!(any.matches("/v1/customers/a/b/c"));
        assert!(!any.matches("/admin/v1/faults"));
        let mid = g("/v1/**/qualifications");
        assert!(mid.matches("/v1/qualifications"));
        assert!(mid.matches("/v1/customers/x/qualifications"));
        assert!(!mid.matches("/v1/customers/x/qualification"));
        let partial = g("/v1/customers/*/qualification*");
        assert!(partial.matches("/v1/customers/x/qualification"));
        assert!(partial.matches("/v1/customers/x/qualifications"));
        assert!(g("/**").matches("/anything/at/all"));
        assert!(g("/v1/customers").matches("/v1/customers"));
        assert!(!g("/v1/customers").matches("/v1/Customers"));
        assert!(PathGlob::parse("v1/customers").is_err());
        assert_eq!(g("/v1/x").first_literal(), Some("v1"));
        assert_eq!(g("/**").first_literal(), None);
    }

    #[test]
    fn wildcards_within_a_segment() {
        assert!(wildcard("*", ""));
        assert!(wildcard("a*c", "abbbc"));
        assert!(wildcard("*.edu", "contoso.edu"));
        assert!(!wildcard("a*c", "abd"));
        assert!(wildcard("a**", "a"));
    }

    #[test]
    fn customer_ids_of_paths() {
        let id = "2b3f6a7e-1f1e-4c55-9b0a-3c2d1e0f9a8b";
        assert_eq!(
            customer_of_path(&format!("/v1/customers/{id}/qualifications"))
                .unwrap()
                .to_string(),
            id
        );
        assert!(customer_of_path("/v1/customers/all/validations").is_none());
        assert!(customer_of_path("/v1/customers").is_none());
        assert!(customer_of_path("/admin/v1/customers/x").is_none());
    }

    fn spec(nth: Option<Vec<u64>>, times: Option<u64>, probability: f64, seed: u64) -> FaultSpec {
        FaultSpec {
            matches: FaultMatch::default(),
            phase: Phase::Before,
            response: FaultResponse::Drop,
            latency_ms: None,
            nth,
            times,
            probability,
            seed,
            seed_given: true,
        }
    }

    #[test]
    fn nth_picks_positions_and_times_bounds_them() {
        let s = spec(Some(vec![1, 3]), None, 1.0, 0);
        let fired: Vec<u64> = (1..=5).filter(|p| s.fires(*p, 0)).collect();
        assert_eq!(fired, [1, 3]);
        let bounded = spec(Some(vec![1, 3]), Some(1), 1.0, 0);
        assert!(bounded.fires(1, 0));
        assert!(!bounded.fires(3, 1), "times reached");
    }

    #[test]
    fn probability_is_reproducible_with_a_seed() {
        let s = spec(None, None, 0.3, 7);
        let a: Vec<bool> = (1..=200).map(|p| s.fires(p, 0)).collect();
        let b: Vec<bool> = (1..=200).map(|p| s.fires(p, 0)).collect();
        assert_eq!(a, b);
        let share = a.iter().filter(|f| **f).count();
        assert!((30..=90).contains(&share), "{share} of 200 at p=0.3");
        let other: Vec<bool> = (1..=200)
            .map(|p| spec(None, None, 0.3, 8).fires(p, 0))
            .collect();
        assert_ne!(a, other);
        assert!((1..=100).all(|p| spec(None, None, 1.0, 3).fires(p, 0)));
        assert!((1..=100).all(|p| !spec(None, None, 0.0, 3).fires(p, 0)));
    }
}
