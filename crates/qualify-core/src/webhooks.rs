//! Webhooks as the domain sees them (events.md 1-2): the events a transition emits, a partner's
//! registration, the retry schedule of a delivery, what an attempt's answer means, and which
//! addresses a delivery may never reach. The server sends and signs; the stores persist.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{CustomerId, PartnerId};
use crate::jobs::{JobFinish, JobOutcome, JobType};
use crate::qualification::SettableQualification;

/// Delivering one event to its partner's registration: a job of the general queue whose payload
/// is the [`Event`]. One partner's deliveries run in due order (a receiver sees its events in
/// transition order).
#[derive(Debug, Clone, Copy)]
pub struct WebhookDelivery;

impl JobType for WebhookDelivery {
    const KIND: &'static str = "webhook-delivery";
    const ORDERED: bool = true;
    type Payload = Event;
}

/// The stored kind of delivery jobs.
pub const DELIVERY_JOB: &str = WebhookDelivery::KIND;

/// Where a delivery stands, from its job: not done, or done with an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Dead,
    /// The registration was removed (or no longer wants the event) before it succeeded.
    Cancelled,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 4] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Succeeded,
        DeliveryStatus::Dead,
        DeliveryStatus::Cancelled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Dead => "dead",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(s))
    }

    /// From a delivery job's outcome (`None`: not done). A delivery that ended otherwise than
    /// succeeded or cancelled is dead.
    pub fn of_outcome(outcome: Option<JobOutcome>) -> Self {
        match outcome {
            None => DeliveryStatus::Pending,
            Some(JobOutcome::Succeeded) => DeliveryStatus::Succeeded,
            Some(JobOutcome::Cancelled) => DeliveryStatus::Cancelled,
            Some(_) => DeliveryStatus::Dead,
        }
    }
}

/// The events qualify sends, by their Partner Center names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventName {
    #[serde(rename = "test-created")]
    TestCreated,
    /// A request was recorded (InReview).
    #[serde(rename = "customer-qualification-created")]
    QualificationCreated,
    /// A request was decided (Approved or Denied).
    #[serde(rename = "customer-qualification-updated")]
    QualificationUpdated,
}

impl EventName {
    pub const ALL: [EventName; 3] = [
        EventName::TestCreated,
        EventName::QualificationCreated,
        EventName::QualificationUpdated,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventName::TestCreated => "test-created",
            EventName::QualificationCreated => "customer-qualification-created",
            EventName::QualificationUpdated => "customer-qualification-updated",
        }
    }

    /// Case-insensitive, as Partner Center reads its event names.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(s.trim()))
    }
}

impl std::fmt::Display for EventName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One event: what a delivery job carries (its payload). The body sent is built from it at each
/// attempt, so every attempt of one event sends the same bytes for the same `--public-url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The `webhook-id` of every attempt (for a test event: its correlation id).
    pub event_id: String,
    pub event_name: EventName,
    pub partner_id: PartnerId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualification: Option<SettableQualification>,
    /// `ResourceChangeUtcDate`: the transition's time on the partner's clock.
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: OffsetDateTime,
}

impl Event {
    /// The one event of a transition: a request's creation (`created`) or its decision.
    pub fn transition(
        partner: PartnerId,
        customer: CustomerId,
        qualification: SettableQualification,
        created: bool,
        at: OffsetDateTime,
    ) -> Self {
        Self {
            event_id: new_event_id(),
            event_name: if created {
                EventName::QualificationCreated
            } else {
                EventName::QualificationUpdated
            },
            partner_id: partner,
            customer_id: Some(customer),
            qualification: Some(qualification),
            changed_at: at,
        }
    }

    /// A `test-created` event; its id is the correlation id the partner polls with.
    pub fn test(partner: PartnerId, at: OffsetDateTime) -> Self {
        Self {
            event_id: new_event_id(),
            event_name: EventName::TestCreated,
            partner_id: partner,
            customer_id: None,
            qualification: None,
            changed_at: at,
        }
    }
}

fn new_event_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A partner tenant's registration (one per partner, as in Partner Center).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub partner_id: PartnerId,
    pub subscriber_id: String,
    pub url: String,
    pub events: Vec<EventName>,
    /// `whsec_...`: signs every delivery.
    pub secret: String,
    /// The secret before the last rotation, and until when (real time) it signs too.
    pub previous_secret: Option<(String, OffsetDateTime)>,
    /// Why deliveries stopped (the receiver answered 410); a POST or PUT enables it again.
    pub disabled: Option<String>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The partner's time of the attempt.
    pub at: OffsetDateTime,
    pub response_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// The RSA key (PKCS#8 PEM) that signs deliveries, and its self-signed X.509 certificate (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub private_key: String,
    pub certificate: String,
}

/// How long the secret before a rotation keeps signing.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);

impl Registration {
    pub fn wants(&self, event: EventName) -> bool {
        event == EventName::TestCreated || self.events.contains(&event)
    }

    /// The secrets that sign a delivery at `wall`: the current one, and the one before a
    /// rotation during its overlap.
    pub fn signing_secrets(&self, wall: OffsetDateTime) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let Some((old, until)) = &self.previous_secret
            && wall < *until
        {
            secrets.push(old);
        }
        secrets
    }
}

// ---- the schedule -----------------------------------------------------------------------------

/// Attempts of one delivery before it is `dead`.
pub const MAX_ATTEMPTS: i64 = 10;

/// The wait after each failed attempt (Standard Webhooks' schedule): after the first, 5 s; after
/// the ninth, 24 h.
pub const SCHEDULE: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(24 * 3600),
];

/// The longest `Retry-After` honoured (a larger one waits this long).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// What one attempt got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The receiver answered with this status (and `Retry-After`, on a 429 or 503).
    Status {
        code: u16,
        retry_after: Option<Duration>,
    },
    /// No answer within the timeout.
    Timeout,
    /// The connection failed (refused, reset, TLS, ...).
    Failed(String),
    /// The target is not allowed (events.md 2: private, loopback, link-local, metadata).
    Refused(String),
}

impl Answer {
    /// The attempt's error, as the deliveries API shows it (`None` on success).
    pub fn error(&self) -> Option<String> {
        match self {
            Answer::Status { code, .. } if (200..300).contains(code) => None,
            Answer::Status { code: 410, .. } => {
                Some("the receiver answered 410 Gone: the registration is disabled".into())
            }
            Answer::Status { code, .. } => Some(format!("the receiver answered {code}")),
            Answer::Timeout => Some("no answer within the timeout".into()),
            Answer::Failed(e) => Some(e.clone()),
            Answer::Refused(e) => Some(format!("refused: {e}")),
        }
    }

    pub fn code(&self) -> Option<u16> {
        match self {
            Answer::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Succeeded,
    /// 410: the delivery ends `dead` and the registration is disabled.
    Disable,
    RetryAt(OffsetDateTime),
    Dead,
}

impl Verdict {
    /// The delivery job's outcome when the verdict ends it.
    pub fn outcome(self) -> Option<JobOutcome> {
        match self {
            Verdict::Succeeded => Some(JobOutcome::Succeeded),
            Verdict::Disable | Verdict::Dead => Some(JobOutcome::Dead),
            Verdict::RetryAt(_) => None,
        }
    }

    /// What the delivery handler reports for this verdict.
    pub fn finish(self) -> JobFinish {
        match self {
            Verdict::RetryAt(at) => JobFinish::RetryAt(at),
            ended => JobFinish::Ended(ended.outcome().unwrap_or(JobOutcome::Dead)),
        }
    }
}

/// The verdict on attempt number `attempts` (1-based) made at `now` (the partner's time).
pub fn judge(attempts: i64, now: OffsetDateTime, answer: &Answer) -> Verdict {
    let retry_after = match answer {
        Answer::Status { code, .. } if (200..300).contains(code) => return Verdict::Succeeded,
        Answer::Status { code: 410, .. } => return Verdict::Disable,
        Answer::Status {
            code: 429 | 503,
            retry_after,
        } => *retry_after,
        _ => None,
    };
    if attempts >= MAX_ATTEMPTS {
        return Verdict::Dead;
    }
    let index = usize::try_from(attempts.max(1) - 1).unwrap_or(0);
    let wait = SCHEDULE[index.min(SCHEDULE.len() - 1)];
    let wait = retry_after.map_or(wait, |r| wait.max(r.min(MAX_RETRY_AFTER)));
    Verdict::RetryAt(now + wait)
}

// ---- targets ----------------------------------------------------------------------------------

/// Why a delivery may not reach `ip` (events.md 2), or `None` when it is a public address.
/// IPv4-mapped and NAT64 IPv6 addresses are judged by the IPv4 address they carry.
pub fn forbidden_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return forbidden_v4(v4);
            }
            let s = v6.segments();
            if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("the unspecified address")
            } else if s[0] & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if s == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254] {
                Some("a cloud metadata address")
            } else if s[0] & 0xfe00 == 0xfc00 {
                Some("a private (unique local) address")
            } else if s[0] & 0xff00 == 0xff00 {
                Some("a multicast address")
            } else if s[0] == 0x2001 && s[1] == 0x0db8 {
                Some("a documentation address")
            } else {
                None
            }
        }
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated).
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail()),
        [0, 0, 0, 0, 0, 0, _, _] if s[6] != 0 => Some(tail()),
        // 64:ff9b::/96 (NAT64).
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail()),
        _ => None,
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) {
        Some("a cloud metadata address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if ip.is_private() {
        Some("a private address")
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("a shared (carrier-grade NAT) address")
    } else if ip.is_unspecified() || o[0] == 0 {
        Some("the unspecified address")
    } else if ip.is_broadcast() || ip.is_multicast() || o[0] >= 240 {
        Some("a broadcast, multicast or reserved address")
    } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        Some("an IETF protocol assignment address")
    } else if ip.is_documentation() || (o[0] == 198 && (o[1] & 0xfe) == 18) {
        Some("a documentation or benchmarking address")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_schedule_walks_ten_attempts_over_about_three_days() {
        let mut at = datetime!(2026-12-01 10:00 UTC);
        let mut attempts = 0;
        let failing = Answer::Status {
            code: 500,
            retry_after: None,
        };
        loop {
            attempts += 1;
            match judge(attempts, at, &failing) {
                Verdict::RetryAt(next) => at = next,
                Verdict::Dead => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(attempts, 10);
        let total = at - datetime!(2026-12-01 10:00 UTC);
        assert_eq!(
            total,
            time::Duration::seconds(5 + 300 + 1800) + time::Duration::hours(75)
        );
    }

    #[test]
    fn answers_decide_the_verdict() {
        let now = datetime!(2026-12-01 10:00 UTC);
        let status = |code, retry_after| Answer::Status { code, retry_after };
        assert_eq!(judge(1, now, &status(204, None)), Verdict::Succeeded);
        assert_eq!(judge(3, now, &status(410, None)), Verdict::Disable);
        assert_eq!(
            judge(1, now, &status(500, None)),
            Verdict::RetryAt(now + Duration::from_secs(5))
        );
        assert_eq!(
            judge(2, now, &Answer::Timeout),
            Verdict::RetryAt(now + Duration::from_secs(300))
        );
        // Retry-After is respected on 429 and 503 (never earlier than the schedule).
        assert_eq!(
            judge(1, now, &status(429, Some(Duration::from_secs(120)))),
            Verdict::RetryAt(now + Duration::from_secs(120))
        );
        assert_eq!(
            judge(1, now, &status(503, Some(Duration::from_secs(1)))),
            Verdict::RetryAt(now + Duration::from_secs(5))
        );
        assert_eq!(
            judge(1, now, &status(500, Some(Duration::from_secs(120)))),
            Verdict::RetryAt(now + Duration::from_secs(5))
        );
        assert_eq!(
            judge(1, now, &status(429, Some(Duration::from_secs(10 * 86400)))),
            Verdict::RetryAt(now + MAX_RETRY_AFTER)
        );
        assert_eq!(judge(10, now, &status(500, None)), Verdict::Dead);
        assert_eq!(Verdict::Disable.outcome(), Some(JobOutcome::Dead));
        assert_eq!(
            DeliveryStatus::of_outcome(Verdict::Disable.outcome()),
            DeliveryStatus::Dead
        );
        assert_eq!(DeliveryStatus::of_outcome(None), DeliveryStatus::Pending);
    }

    #[test]
    fn private_and_special_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "127.5.6.7",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "100.64.0.1",
            "100.100.100.200",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "::127.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(forbidden_address(ip).is_some(), "{ip} should be refused");
        }
        for ip in [
            "93.184.215.14",
            "8.8.8.8",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(forbidden_address(ip), None, "{ip} is public");
        }
    }

    #[test]
    fn event_names_parse_case_insensitively_and_round_trip() {
        for e in EventName::ALL {
            assert_eq!(EventName::parse(&e.name().to_uppercase()), Some(e));
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{}\"", e.name()));
        }
        assert_eq!(EventName::parse("customer-created"), None);
    }

    #[test]
    fn a_rotated_secret_signs_for_its_overlap_only() {
        let now = datetime!(2026-12-01 10:00 UTC);
        let r = Registration {
            partner_id: PartnerId(uuid::Uuid::nil()),
            subscriber_id: "s".into(),
            url: "https://example.com/hook".into(),
            events: vec![EventName::QualificationUpdated],
            secret: "new".into(),
            previous_secret: Some(("old".into(), now + ROTATION_OVERLAP)),
            disabled: None,
        };
        assert_eq!(r.signing_secrets(now), ["new", "old"]);
        assert_eq!(r.signing_secrets(now + ROTATION_OVERLAP), ["new"]);
        assert!(r.wants(EventName::TestCreated));
        assert!(!r.wants(EventName::QualificationCreated));
    }
}
