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
///
/// Matching costs at most O(path segments × glob segments) segment comparisons (a greedy
/// two-pointer walk that only ever backtracks to the last `**`), each linear in the two
/// segments, so no glob stalls a request whatever the path; [`PathGlob::parse`] bounds the
/// glob itself ([`MAX_GLOB_CHARS`], [`MAX_GLOB_SEGMENTS`], [`MAX_GLOB_ANY`],
/// [`MAX_GLOB_SEGMENT_CHARS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathGlob {
    text: String,
    segments: Vec<String>,
}

/// The longest path glob, in bytes.
pub const MAX_GLOB_CHARS: usize = 2048;
/// The most segments a path glob has (the longest `/v1` path has 5).
pub const MAX_GLOB_SEGMENTS: usize = 32;
/// The most `**` segments in a path glob (more never selects anything more).
pub const MAX_GLOB_ANY: usize = 8;
/// The longest segment of a path glob, in bytes (a customer id has 36).
pub const MAX_GLOB_SEGMENT_CHARS: usize = 256;

impl PathGlob {
    /// A glob; it must start with `/` and stay within [`MAX_GLOB_CHARS`] bytes,
    /// [`MAX_GLOB_SEGMENTS`] segments, [`MAX_GLOB_ANY`] `**` and [`MAX_GLOB_SEGMENT_CHARS`]
    /// bytes per segment.
    pub fn parse(text: &str) -> Result<Self, String> {
        let glob = Self::parse_unbounded(text)?;
        if glob.segments.len() > MAX_GLOB_SEGMENTS {
            return Err(format!(
                "a path glob has at most {MAX_GLOB_SEGMENTS} segments (this one has {})",
                glob.segments.len()
            ));
        }
        let any = glob.segments.iter().filter(|s| *s == "**").count();
        if any > MAX_GLOB_ANY {
            return Err(format!(
                "a path glob has at most {MAX_GLOB_ANY} '**' segments (this one has {any})"
            ));
        }
        if let Some(long) = glob
            .segments
            .iter()
            .find(|s| s.len() > MAX_GLOB_SEGMENT_CHARS)
        {
            return Err(format!(
                "a segment of a path glob is at most {MAX_GLOB_SEGMENT_CHARS} bytes (one has {})",
                long.len()
            ));
        }
        Ok(glob)
    }

    /// A glob as [`PathGlob::parse`] took it before it bounded segments and `**` (only the
    /// leading `/` and [`MAX_GLOB_CHARS`] are checked): for globs already stored, which must
    /// keep loading. Matching stays polynomial whatever the glob.
    pub fn parse_unbounded(text: &str) -> Result<Self, String> {
        if !text.starts_with('/') {
            return Err("a path glob starts with '/' (e.g. /v1/customers/*/qualifications)".into());
        }
        if text.len() > MAX_GLOB_CHARS {
            return Err(format!(
                "a path glob is at most {MAX_GLOB_CHARS} characters"
            ));
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
        self.matches_counting(path).0
    }

    /// Whether `path` matches, and the steps the match took (each a comparison of one glob
    /// segment with one path segment, a `**` taken, or a return to the last `**`): at most
    /// `2 × path segments × glob segments + glob segments + 1`. For tests and diagnostics.
    pub fn matches_counting(&self, path: &str) -> (bool, u64) {
        #[cfg(test)]
        tests::GLOB_RUNS.with(|runs| runs.set(runs.get() + 1));
        let path: Vec<&str> = segments(path).collect();
        match_segments(&self.segments, &path)
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

/// Stored faults come back through here: unbounded, so that a glob stored before the bounds
/// still loads (see [`PathGlob::parse_unbounded`]). New globs go through [`PathGlob::parse`].
impl<'de> Deserialize<'de> for PathGlob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PathGlob::parse_unbounded(&text).map_err(serde::de::Error::custom)
    }
}

/// The non-empty segments of a path.
pub fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// The greedy wildcard walk over segments, `**` standing for any run of segments: on a
/// mismatch it returns to the last `**` seen and lets it take one more segment. Earlier `**`
/// never need revisiting (whatever they could take, the last one can), so each pair (glob
/// segment, path segment) is compared at most once: O(|glob| × |path|) steps, never
/// exponential in the number of `**`.
fn match_segments(glob: &[String], path: &[&str]) -> (bool, u64) {
    let (mut g, mut p) = (0, 0);
    let mut steps = 0u64;
    // The glob position after the last `**`, and the path position it resumes from.
    let mut any: Option<(usize, usize)> = None;
    while p < path.len() {
        steps += 1;
        match glob.get(g).map(String::as_str) {
            Some("**") => {
                g += 1;
                any = Some((g, p));
            }
            Some(pattern) if wildcard(pattern, path[p]) => {
                g += 1;
                p += 1;
            }
            _ => match any {
                Some((after, from)) => {
                    g = after;
                    p = from + 1;
                    any = Some((after, from + 1));
                }
                None => return (false, steps),
            },
        }
    }
    steps += 1;
    (glob[g..].iter().all(|s| s == "**"), steps)
}

/// `*` = any characters (within one segment). Linear in the two: the pattern's literal pieces
/// between `*`s are found leftmost-first in order (enough for `*` alone), the first piece
/// anchored at the start and the last at the end.
fn wildcard(pattern: &str, text: &str) -> bool {
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or_default();
    let Some(last) = pieces.next_back() else {
        return pattern == text;
    };
    let Some(mut rest) = text
        .strip_prefix(first)
        .and_then(|rest| rest.strip_suffix(last))
    else {
        return false;
    };
    for piece in pieces {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
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
        // The cheap, selective keys first: a request outside the fault's partner never reaches
        // the path glob.
        self.partner.is_none_or(|p| r.partner == Some(p))
            && self.customer_id.is_none_or(|c| r.customer == Some(c))
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(r.method))
            && self.path.as_ref().is_none_or(|g| g.matches(r.path))
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

    thread_local! {
        /// How often a glob ran on this thread.
        pub(super) static GLOB_RUNS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

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
        // The first and last pieces never share characters.
        assert!(!wildcard("ab*ba", "aba"));
        assert!(wildcard("ab*ba", "abba"));
        assert!(!wildcard("a*a", "a"));
        assert!(wildcard("*a*b*", "xxaxxbxx"));
        assert!(!wildcard("*b*a*", "xxaxxbxx"));
        assert!(wildcard("é*ü", "éxxü"));
        assert!(!wildcard("abc", "abcd"));
    }

    #[test]
    fn globs_beyond_the_bounds_are_refused_with_the_bound_named() {
        let many = format!("/v1{}", "/a".repeat(MAX_GLOB_SEGMENTS));
        let e = PathGlob::parse(&many).unwrap_err();
        assert!(e.contains("at most 32 segments"), "{e}");
        assert!(PathGlob::parse(&format!("/v1{}", "/a".repeat(MAX_GLOB_SEGMENTS - 1))).is_ok());

        let nine = format!("/v1{}/zz", "/**".repeat(MAX_GLOB_ANY + 1));
        let e = PathGlob::parse(&nine).unwrap_err();
        assert!(e.contains("at most 8 '**'"), "{e}");
        assert!(PathGlob::parse(&format!("/v1{}/zz", "/**".repeat(MAX_GLOB_ANY))).is_ok());

        let long = format!("/v1/{}", "a".repeat(MAX_GLOB_SEGMENT_CHARS + 1));
        let e = PathGlob::parse(&long).unwrap_err();
        assert!(e.contains("at most 256 bytes"), "{e}");
        assert!(PathGlob::parse(&format!("/v1/{}", "a".repeat(MAX_GLOB_SEGMENT_CHARS))).is_ok());

        let e = PathGlob::parse(&format!("/{}", "a/".repeat(1100))).unwrap_err();
        assert!(e.contains("2048"), "{e}");

        // A glob stored before the bounds still loads, and still matches in bounded steps.
        let stored: PathGlob = serde_json::from_value(serde_json::json!(nine)).unwrap();
        assert_eq!(stored.as_str(), nine);
        let path = format!("/v1{}", "/a".repeat(500));
        let (matched, steps) = stored.matches_counting(&path);
        assert!(!matched && steps <= 2 * 501 * 11 + 11 + 1, "{steps}");
        assert!(serde_json::from_value::<PathGlob>(serde_json::json!("v1/x")).is_err());
    }

    #[test]
    fn a_fault_scoped_to_another_partner_never_runs_its_glob() {
        let a = PartnerId(uuid::Uuid::from_u128(1));
        let b = PartnerId(uuid::Uuid::from_u128(2));
        let m = FaultMatch {
            method: Some("GET".into()),
            path: Some(g("/v1/**/**/**/**/**/zz")),
            partner: Some(a),
            customer_id: None,
        };
        let path = format!("/v1{}", "/a".repeat(2_000));
        let runs = || GLOB_RUNS.with(std::cell::Cell::get);
        let before = runs();
        for partner in [Some(b), None] {
            let facts = RequestFacts {
                method: "GET",
                path: &path,
                partner,
                customer: None,
            };
            assert!(!m.holds(&facts));
        }
        let wrong_method = RequestFacts {
            method: "POST",
            path: "/v1/zz",
            partner: Some(a),
            customer: None,
        };
        assert!(!m.holds(&wrong_method));
        assert_eq!(
            runs(),
            before,
            "the glob ran for a request outside the fault's scope"
        );
        let own = RequestFacts {
            method: "get",
            path: "/v1/x/y/zz",
            partner: Some(a),
            customer: None,
        };
        assert!(m.holds(&own));
        assert_eq!(runs(), before + 1);
        let customer = CustomerId(uuid::Uuid::from_u128(3));
        let scoped = FaultMatch {
            customer_id: Some(customer),
            partner: None,
            ..m
        };
        assert!(!scoped.holds(&own), "another customer's request");
        assert_eq!(runs(), before + 1);
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
