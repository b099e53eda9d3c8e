//! Client checks (control.md section 7): what a partner's code did wrong, judged from its
//! recorded traffic against the real service's rules. Pure functions over journal entries.
//!
//! One mistake of a client is one violation however often it was made: what a check finds is
//! grouped by the `MS-RequestId` the client sent (one SDK call that ignored `Retry-After` on
//! each of its retries), else by endpoint (method and path), and reported once with every
//! request involved and how often it happened.

use std::collections::HashMap;

use crate::traffic::journal::Entry;

/// A client check, in the order they are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckId {
    RetryAfterIgnored,
    WriteRetriedWithoutRequestId,
    WriteWithoutRequestId,
    LegacyEndpoint,
    TightPolling,
}

impl CheckId {
    pub const ALL: [CheckId; 5] = [
        Self::RetryAfterIgnored,
        Self::WriteRetriedWithoutRequestId,
        Self::WriteWithoutRequestId,
        Self::LegacyEndpoint,
        Self::TightPolling,
    ];

    /// Its name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Self::RetryAfterIgnored => "retry-after-ignored",
            Self::WriteRetriedWithoutRequestId => "write-retried-without-request-id",
            Self::WriteWithoutRequestId => "write-without-request-id",
            Self::LegacyEndpoint => "legacy-endpoint",
            Self::TightPolling => "tight-polling",
        }
    }

    /// What it finds.
    pub fn description(self) -> &'static str {
        match self {
            Self::RetryAfterIgnored => {
                "A request arrived before the Retry-After of an earlier 429 or 503 to the same partner had passed."
            }
            Self::WriteRetriedWithoutRequestId => {
                "The same write (method, path, body) was sent again after a failure or no answer with a different or no MS-RequestId: the retry could have made a second qualification or spent a second GCC code."
            }
            Self::WriteWithoutRequestId => {
                "A POST or PUT under /v1 without MS-RequestId (a retry of it cannot be recognised)."
            }
            Self::LegacyEndpoint => "A call to the retired single-value /qualification contract.",
            Self::TightPolling => {
                "More than 5 reads of one customer's qualifications within one second."
            }
        }
    }
}

/// Reads allowed in one second before `tight-polling` fires.
pub const POLLS_PER_SECOND: usize = 5;

/// A mistake of the client: every request involved (journal `seq`), what happened the first
/// time, and how often it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub check: CheckId,
    pub seq: Vec<u64>,
    pub detail: String,
    pub occurrences: usize,
}

/// What one check found once, and what it is grouped by.
struct Found {
    check: CheckId,
    seq: Vec<u64>,
    detail: String,
    group: Group,
}

/// What makes two findings of a check the same mistake.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Group {
    /// The client's `MS-RequestId`: one call of its SDK, retries included.
    RequestId(String),
    /// Method and path.
    Endpoint(String),
    /// A customer's qualifications, however read.
    Customer(String),
}

impl Group {
    /// The request's own id when the client chose it, else its endpoint.
    fn of(e: &Entry) -> Self {
        if e.sent("MS-RequestId") {
            Group::RequestId(e.request_id.to_string())
        } else {
            Group::endpoint(e)
        }
    }

    fn endpoint(e: &Entry) -> Self {
        Group::Endpoint(format!("{} {}", e.method, e.path))
    }

    fn what(&self) -> String {
        match self {
            Group::RequestId(id) => format!("MS-RequestId {id}"),
            Group::Endpoint(endpoint) => format!("endpoint {endpoint}"),
            Group::Customer(customer) => format!("customer {customer}"),
        }
    }
}

/// The violations in `entries` (one partner's, any order), check by check, each mistake once.
pub fn judge(entries: &[&Entry]) -> Vec<Violation> {
    let mut sorted: Vec<&Entry> = entries.to_vec();
    sorted.sort_by_key(|e| (e.at, e.seq));
    let mut found = retry_after_ignored(&sorted);
    found.extend(write_retried_without_request_id(&sorted));
    found.extend(write_without_request_id(&sorted));
    found.extend(legacy_endpoint(&sorted));
    found.extend(tight_polling(&sorted));
    grouped(found)
}

/// One violation per check and group, in the order of their first finding.
fn grouped(found: Vec<Found>) -> Vec<Violation> {
    let mut out: Vec<(Violation, Group)> = Vec::new();
    let mut index: HashMap<(CheckId, Group), usize> = HashMap::new();
    for f in found {
        match index.get(&(f.check, f.group.clone())) {
            Some(&i) => {
                let v = &mut out[i].0;
                v.seq.extend(f.seq);
                v.occurrences += 1;
            }
            None => {
                index.insert((f.check, f.group.clone()), out.len());
                out.push((
                    Violation {
                        check: f.check,
                        seq: f.seq,
                        detail: f.detail,
                        occurrences: 1,
                    },
                    f.group,
                ));
            }
        }
    }
    out.into_iter()
        .map(|(mut v, group)| {
            if v.occurrences > 1 {
                v.seq.sort_unstable();
                v.seq.dedup();
                v.detail = format!(
                    "{}; the same again {} more time(s) for the same {}",
                    v.detail,
                    v.occurrences - 1,
                    group.what()
                );
            }
            v
        })
        .collect()
}

fn is_write(e: &Entry) -> bool {
    matches!(&*e.method, "POST" | "PUT")
}

/// The answer asked the client to wait (a 429 or 503 with `Retry-After`).
fn retry_after_ignored(sorted: &[&Entry]) -> Vec<Found> {
    let mut out = Vec::new();
    for (i, refused) in sorted.iter().enumerate() {
        let (Some(status @ (429 | 503)), Some(wait)) = (refused.status, refused.retry_after) else {
            continue;
        };
        let answered = refused.answered_at();
        let until = answered + time::Duration::seconds(wait as i64);
        let early: Vec<&Entry> = sorted[i + 1..]
            .iter()
            .filter(|e| e.at > answered && e.at < until)
            .copied()
            .collect();
        if let Some(first) = early.first() {
            let after = (first.at - answered).as_seconds_f64();
            let mut seq = vec![refused.seq];
            seq.extend(early.iter().map(|e| e.seq));
            out.push(Found {
                check: CheckId::RetryAfterIgnored,
                group: Group::of(refused),
                seq,
                detail: format!(
                    "request {} ({} {}) answered {status} with Retry-After: {wait}; {} request(s) followed before it had passed, the first {after:.3} s after the answer (request {})",
                    refused.seq,
                    refused.method,
                    refused.path,
                    early.len(),
                    first.seq
                ),
            });
        }
    }
    out
}

fn failed_or_unanswered(e: &Entry) -> bool {
    match e.status {
        None => true,
        Some(s) => s >= 500 || s == 429 || s == 408,
    }
}

fn same_body(a: &Entry, b: &Entry) -> bool {
    match (a.body.as_deref(), b.body.as_deref()) {
        (Some(x), Some(y)) if x == y => true,
        (Some(x), Some(y)) => match (
            serde_json::from_str::<serde_json::Value>(x),
            serde_json::from_str::<serde_json::Value>(y),
        ) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        },
        (None, None) => true,
        _ => false,
    }
}

fn write_retried_without_request_id(sorted: &[&Entry]) -> Vec<Found> {
    let mut out = Vec::new();
    for (i, first) in sorted.iter().enumerate() {
        if !is_write(first) || !failed_or_unanswered(first) {
            continue;
        }
        // The next time the same write was sent.
        let again = sorted[i + 1..]
            .iter()
            .find(|e| e.method == first.method && e.path == first.path && same_body(first, e));
        let Some(again) = again else { continue };
        let kept = first.sent("MS-RequestId")
            && again.sent("MS-RequestId")
            && first.request_id == again.request_id;
        if kept {
            continue;
        }
        let what = match first.status {
            Some(s) => format!("answered {s}"),
            None => "had no answer".to_owned(),
        };
        let id = if again.sent("MS-RequestId") {
            "another MS-RequestId"
        } else {
            "no MS-RequestId"
        };
        out.push(Found {
            check: CheckId::WriteRetriedWithoutRequestId,
            group: Group::endpoint(first),
            seq: vec![first.seq, again.seq],
            detail: format!(
                "{} {} (request {}) {what}; it was sent again (request {}) with {id}, so the server could not tell it was a retry",
                first.method, first.path, first.seq, again.seq
            ),
        });
    }
    out
}

fn write_without_request_id(sorted: &[&Entry]) -> Vec<Found> {
    sorted
        .iter()
        .filter(|e| is_write(e) && !e.sent("MS-RequestId"))
        .map(|e| Found {
            check: CheckId::WriteWithoutRequestId,
            group: Group::endpoint(e),
            seq: vec![e.seq],
            detail: format!(
                "{} {} (request {}) was sent without MS-RequestId",
                e.method, e.path, e.seq
            ),
        })
        .collect()
}

/// `/v1/customers/{id}/qualification`, the retired single-value contract.
fn is_legacy(path: &str) -> bool {
    let s: Vec<&str> = qualify_core::faults::segments(path).collect();
    matches!(s.as_slice(), ["v1", "customers", _, "qualification"])
}

fn is_qualifications_read(e: &Entry) -> bool {
    let s: Vec<&str> = qualify_core::faults::segments(&e.path).collect();
    &*e.method == "GET"
        && matches!(
            s.as_slice(),
            ["v1", "customers", _, "qualifications" | "qualification"]
        )
}

fn legacy_endpoint(sorted: &[&Entry]) -> Vec<Found> {
    sorted
        .iter()
        .filter(|e| is_legacy(&e.path))
        .map(|e| Found {
            check: CheckId::LegacyEndpoint,
            group: Group::endpoint(e),
            seq: vec![e.seq],
            detail: format!(
                "{} {} (request {}) uses the single-value /qualification contract Microsoft retired in 2021; use /qualifications",
                e.method, e.path, e.seq
            ),
        })
        .collect()
}

fn tight_polling(sorted: &[&Entry]) -> Vec<Found> {
    let mut by_customer: HashMap<&str, Vec<&Entry>> = HashMap::new();
    for e in sorted.iter().filter(|e| is_qualifications_read(e)) {
        let customer = qualify_core::faults::segments(&e.path).nth(2).unwrap_or("");
        by_customer.entry(customer).or_default().push(e);
    }
    let mut out = Vec::new();
    let mut customers: Vec<_> = by_customer.into_iter().collect();
    customers.sort_by_key(|(_, reads)| reads[0].seq);
    for (customer, reads) in customers {
        // Marks every read that is part of a window of more than 5 within one second; runs of
        // marked reads are one burst each.
        let mut marked = vec![false; reads.len()];
        for i in 0..reads.len() {
            let j = i + POLLS_PER_SECOND;
            if j < reads.len() && reads[j].at - reads[i].at < time::Duration::SECOND {
                marked[i..=j].iter_mut().for_each(|m| *m = true);
            }
        }
        let mut i = 0;
        while i < reads.len() {
            if !marked[i] {
                i += 1;
                continue;
            }
            let start = i;
            while i < reads.len() && marked[i] {
                i += 1;
            }
            let burst = &reads[start..i];
            let span = (burst[burst.len() - 1].at - burst[0].at).as_seconds_f64();
            out.push(Found {
                check: CheckId::TightPolling,
                group: Group::Customer(customer.to_owned()),
                seq: burst.iter().map(|e| e.seq).collect(),
                detail: format!(
                    "{} reads of customer {customer}'s qualifications in {span:.3} s (more than {POLLS_PER_SECOND} within one second); poll every few seconds, or less",
                    burst.len()
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use qualify_core::PartnerId;
    use time::Duration;

    use super::*;
    use crate::traffic::journal::sample as entry;

    struct Traffic {
        partner: PartnerId,
        entries: Vec<Entry>,
        t: time::OffsetDateTime,
    }

    impl Traffic {
        fn new() -> Self {
            Self {
                partner: PartnerId::new_random(),
                entries: vec![],
                t: time::macros::datetime!(2026-01-05 12:00:00 UTC),
            }
        }
        /// A request `ms` after the previous one.
        fn at(
            &mut self,
            ms: i64,
            method: &str,
            path: &str,
            f: impl FnOnce(&mut Entry),
        ) -> &mut Self {
            self.t += Duration::milliseconds(ms);
            let mut e = entry(Some(self.partner), method, path);
            e.seq = self.entries.len() as u64 + 1;
            e.at = self.t;
            f(&mut e);
            self.entries.push(e);
            self
        }
        fn judge(&self) -> Vec<Violation> {
            judge(&self.entries.iter().collect::<Vec<_>>())
        }
        fn checks(&self) -> Vec<&'static str> {
            self.judge().iter().map(|v| v.check.name()).collect()
        }
    }

    const Q: &str = "/v1/customers/2b3f6a7e-1f1e-4c55-9b0a-3c2d1e0f9a8b/qualifications";
    const BODY: &str = r#"{"qualification":"StateOwnedEntity"}"#;

    fn keyed(id: &str, status: Option<u16>) -> impl FnOnce(&mut Entry) {
        let id = id.to_owned();
        move |e| {
            e.request_id = id.clone().into();
            e.headers = vec![("MS-RequestId", id.into())];
            e.body = Some(BODY.into());
            e.status = status;
        }
    }

    #[test]
    fn a_clean_client_passes_every_check() {
        let mut t = Traffic::new();
        t.at(0, "POST", Q, keyed("a", Some(503)))
            .at(0, "GET", Q, |e| e.status = Some(200))
            .at(1, "POST", Q, |e| {
                keyed("a", Some(503))(e);
                e.retry_after = Some(2)
            })
            .at(2500, "POST", Q, keyed("a", None))
            .at(3000, "POST", Q, keyed("a", Some(201)))
            .at(0, "POST", Q, keyed("b", Some(429)))
            .at(1200, "GET", Q, |_| {})
            .at(1200, "GET", Q, |_| {});
        for _ in 0..4 {
            t.at(150, "GET", Q, |_| {});
        }
        assert_eq!(t.judge(), vec![]);
    }

    #[test]
    fn retry_after_ignored_fires_on_a_request_inside_the_wait() {
        let mut t = Traffic::new();
        t.at(0, "POST", Q, |e| {
            keyed("a", Some(429))(e);
            e.retry_after = Some(2);
        })
        .at(500, "GET", "/v1/customers", |_| {})
        .at(3000, "GET", "/v1/customers", |_| {});
        let v = t.judge();
        assert_eq!(t.checks(), ["retry-after-ignored"]);
        assert_eq!(v[0].seq, [1, 2]);
        // A request in flight while the 429 was answered is not a violation.
        let mut t = Traffic::new();
        t.at(0, "GET", "/v1/customers", |e| {
            e.status = Some(503);
            e.retry_after = Some(1);
            e.duration_ms = 100.0;
        })
        .at(50, "GET", "/v1/customers", |_| {});
        assert!(t.checks().is_empty());
    }

    #[test]
    fn a_mistake_repeated_is_one_violation_grouped_by_request_id_or_endpoint() {
        // One SDK call retried 15 times, each retry too early: one violation, not 14.
        let mut t = Traffic::new();
        for _ in 0..15 {
            t.at(100, "POST", Q, |e| {
                keyed("a", Some(429))(e);
                e.retry_after = Some(2);
            });
        }
        let v = t.judge();
        assert_eq!(t.checks(), ["retry-after-ignored"], "{v:?}");
        assert_eq!(
            v[0].occurrences, 14,
            "the last refusal had no early follower"
        );
        assert_eq!(v[0].seq, (1..=15).collect::<Vec<u64>>());
        assert!(
            v[0].detail
                .contains("13 more time(s) for the same MS-RequestId a"),
            "{}",
            v[0].detail
        );
        // Without MS-RequestId, the endpoint groups them; other endpoints stay apart.
        let mut t = Traffic::new();
        for _ in 0..3 {
            t.at(10, "POST", "/v1/customers", |_| {});
        }
        t.at(10, "POST", Q, |_| {});
        let v = t.judge();
        assert_eq!(
            v.iter()
                .map(|v| (v.check, v.occurrences, v.seq.clone()))
                .collect::<Vec<_>>(),
            [
                (CheckId::WriteWithoutRequestId, 3, vec![1, 2, 3]),
                (CheckId::WriteWithoutRequestId, 1, vec![4]),
            ]
        );
    }

    #[test]
    fn write_retried_without_request_id_fires_on_a_new_id_after_a_failure() {
        let mut t = Traffic::new();
        t.at(0, "POST", Q, keyed("a", Some(503)))
            .at(1000, "POST", Q, keyed("b", Some(201)));
        assert_eq!(t.checks(), ["write-retried-without-request-id"]);
        assert_eq!(t.judge()[0].seq, [1, 2]);
        let mut t = Traffic::new();
        t.at(0, "POST", Q, keyed("a", None))
            .at(1000, "POST", Q, |e| {
                e.body = Some(r#"{ "qualification": "StateOwnedEntity" }"#.into());
                e.status = Some(201);
            });
        let checks = t.checks();
        assert!(
            checks.contains(&"write-retried-without-request-id"),
            "{checks:?}"
        );
        assert!(checks.contains(&"write-without-request-id"), "{checks:?}");
        // Another body is another write; a success is not retried.
        let mut t = Traffic::new();
        t.at(0, "POST", Q, keyed("a", Some(201)))
            .at(10, "POST", Q, keyed("b", Some(409)))
            .at(10, "POST", Q, |e| {
                keyed("c", Some(503))(e);
                e.body = Some("{}".into())
            })
            .at(2000, "POST", Q, keyed("d", Some(201)));
        assert!(t.checks().is_empty(), "{:?}", t.judge());
    }

    #[test]
    fn writes_without_request_id_and_legacy_calls_fire() {
        let mut t = Traffic::new();
        t.at(0, "POST", "/v1/customers", |_| {})
            .at(
                10,
                "GET",
                "/v1/customers/2b3f6a7e-1f1e-4c55-9b0a-3c2d1e0f9a8b/qualification",
                |_| {},
            )
            .at(10, "GET", "/v1/customers", |_| {});
        assert_eq!(t.checks(), ["write-without-request-id", "legacy-endpoint"]);
        assert_eq!(t.judge()[1].seq, [2]);
    }

    #[test]
    fn tight_polling_fires_on_six_reads_within_a_second() {
        let mut t = Traffic::new();
        for _ in 0..6 {
            t.at(150, "GET", Q, |_| {});
        }
        t.at(5000, "GET", Q, |_| {});
        let v = t.judge();
        assert_eq!(t.checks(), ["tight-polling"]);
        assert_eq!(v[0].seq, [1, 2, 3, 4, 5, 6]);
        // Six reads spread over other customers do not.
        let mut t = Traffic::new();
        for i in 0..6 {
            let path = format!("/v1/customers/{}/qualifications", uuid::Uuid::from_u128(i));
            t.at(100, "GET", &path, |_| {});
        }
        assert!(t.checks().is_empty());
    }
}
