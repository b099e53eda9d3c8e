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
///
/// Refused: every block of the IANA IPv4 and IPv6 Special-Purpose Address Registries that is
/// not globally reachable, the deprecated blocks that are not (site-local `fec0::/10`, the
/// 6to4 relay anycast `192.88.99.0/24`), multicast, and all of IPv6 outside the global unicast
/// range `2000::/3` (reserved by the IETF). Two whole blocks are refused even where the
/// registry lists a globally reachable part, since no webhook receiver lives there:
/// `192.0.0.0/24` and `2001::/23` (IETF protocol assignments: PCP, TURN and DNS-SD anycast,
/// AMT, AS112, ORCHIDv2, drone tags). IPv4-mapped (`::ffff:0:0/96`), IPv4-compatible and NAT64
/// (`64:ff9b::/96`) addresses are judged by the IPv4 address they carry; 6to4 (`2002::/16`)
/// is refused outright (RFC 7526 deprecates its relays, and the relay or a local 6to4
/// interface, not the embedded IPv4, decides where the packets go), as are Teredo
/// (`2001::/32`) and the local-use NAT64 prefix (`64:ff9b:1::/48`, which the local network
/// translates).
pub fn forbidden_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return forbidden_v4(v4);
            }
            let bits = u128::from(v6);
            if let Some((_, _, why)) = V6_BLOCKS.iter().find(|(net, len, _)| {
                let mask = u128::MAX.checked_shl(128 - u32::from(*len)).unwrap_or(0);
                bits & mask == u128::from(*net)
            }) {
                return Some(why);
            }
            // Outside 2000::/3 nothing is assigned for unicast use.
            (bits >> 125 != 0b001)
                .then_some("a reserved address (outside the global unicast range 2000::/3)")
        }
    }
}

/// IPv6 blocks refused (besides everything outside `2000::/3`), most specific first.
const V6_BLOCKS: &[(Ipv6Addr, u8, &str)] = &[
    (Ipv6Addr::LOCALHOST, 128, "a loopback address"),
    (Ipv6Addr::UNSPECIFIED, 128, "the unspecified address"),
    (
        Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254),
        128,
        "a cloud metadata address",
    ),
    (
        Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        "a NAT64 local-use address",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        "a discard-only address",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 1, 0, 0, 0, 0),
        64,
        "a dummy address (100:0:0:1::/64)",
    ),
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        32,
        "a Teredo address",
    ),
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        23,
        "an IETF protocol assignment address",
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        "a documentation address",
    ),
    (
        Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0),
        16,
        "a 6to4 address",
    ),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        "a documentation address",
    ),
    (
        Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0),
        16,
        "a segment routing (SRv6) address",
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        "a private (unique local) address",
    ),
    (
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
        "a link-local address",
    ),
    (
        Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        "a site-local address (deprecated)",
    ),
    (
        Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
        8,
        "a multicast address",
    ),
];

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

/// IPv4 blocks refused, most specific first.
const V4_BLOCKS: &[(Ipv4Addr, u8, &str)] = &[
    (
        Ipv4Addr::new(169, 254, 169, 254),
        32,
        "a cloud metadata address",
    ),
    (
        Ipv4Addr::new(100, 100, 100, 200),
        32,
        "a cloud metadata address",
    ),
    (Ipv4Addr::new(0, 0, 0, 0), 8, "the unspecified address"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "a private address"),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        "a shared (carrier-grade NAT) address",
    ),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "a loopback address"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "a link-local address"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "a private address"),
    (
        Ipv4Addr::new(192, 0, 0, 0),
        24,
        "an IETF protocol assignment address",
    ),
    (
        Ipv4Addr::new(192, 0, 2, 0),
        24,
        "a documentation or benchmarking address",
    ),
    (
        Ipv4Addr::new(192, 88, 99, 0),
        24,
        "a 6to4 relay anycast address (deprecated)",
    ),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "a private address"),
    (
        Ipv4Addr::new(198, 18, 0, 0),
        15,
        "a documentation or benchmarking address",
    ),
    (
        Ipv4Addr::new(198, 51, 100, 0),
        24,
        "a documentation or benchmarking address",
    ),
    (
        Ipv4Addr::new(203, 0, 113, 0),
        24,
        "a documentation or benchmarking address",
    ),
    (
        Ipv4Addr::new(224, 0, 0, 0),
        4,
        "a broadcast, multicast or reserved address",
    ),
    (
        Ipv4Addr::new(240, 0, 0, 0),
        4,
        "a broadcast, multicast or reserved address",
    ),
];

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let bits = u32::from(ip);
    V4_BLOCKS
        .iter()
        .find(|(net, len, _)| {
            let mask = u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
            bits & mask == u32::from(*net)
        })
        .map(|(_, _, why)| *why)
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

    /// One address from each block of the IANA IPv4 and IPv6 Special-Purpose Address
    /// Registries that is not globally reachable (and the other non-public blocks), with the
    /// reason it is refused.
    #[test]
    fn every_special_purpose_block_is_refused() {
        let refused = [
            // IPv4 (RFC 6890 and its updates).
            ("0.1.2.3", "unspecified"),        // 0.0.0.0/8 "this network"
            ("10.20.30.40", "private"),        // 10.0.0.0/8
            ("100.127.255.254", "shared"),     // 100.64.0.0/10
            ("127.0.0.53", "loopback"),        // 127.0.0.0/8
            ("169.254.10.1", "link-local"),    // 169.254.0.0/16
            ("169.254.169.254", "metadata"),   // cloud metadata
            ("172.20.0.1", "private"),         // 172.16.0.0/12
            ("192.0.0.8", "IETF protocol"),    // 192.0.0.0/24 (dummy address)
            ("192.0.0.170", "IETF protocol"),  // NAT64/DNS64 discovery
            ("192.0.2.1", "documentation"),    // TEST-NET-1
            ("192.88.99.1", "6to4 relay"),     // 192.88.99.0/24 (deprecated)
            ("192.168.0.1", "private"),        // 192.168.0.0/16
            ("198.19.255.1", "benchmarking"),  // 198.18.0.0/15
            ("198.51.100.7", "documentation"), // TEST-NET-2
            ("203.0.113.9", "documentation"),  // TEST-NET-3
            ("224.0.0.251", "multicast"),      // 224.0.0.0/4
            ("240.0.0.1", "reserved"),         // 240.0.0.0/4
            ("255.255.255.255", "broadcast"),  // limited broadcast
            // IPv6 (RFC 6890, 8190 and their updates).
            ("::1", "loopback"),                 // ::1/128
            ("::", "unspecified"),               // ::/128
            ("::ffff:10.0.0.1", "private"),      // ::ffff:0:0/96, by its IPv4
            ("::ffff:0:10.0.0.1", "reserved"),   // IPv4-translated (SIIT)
            ("::0.0.1.2", "reserved"),           // ::/96 IPv4-compatible
            ("64:ff9b::10.0.0.1", "private"),    // 64:ff9b::/96, by its IPv4
            ("64:ff9b:1::1", "NAT64 local-use"), // 64:ff9b:1::/48
            ("64:ff9b:1:ffff::8.8.8.8", "NAT64 local-use"),
            ("100::1", "discard-only"), // 100::/64
            ("100:0:0:1::1", "dummy"),  // 100:0:0:1::/64 (dummy prefix)
            ("2001::1", "Teredo"),      // 2001::/32
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
            ("2001:2::1", "IETF protocol"), // 2001:2::/48 benchmarking
            ("2001:10::1", "IETF protocol"), // ORCHID (deprecated)
            ("2001:1ff::1", "IETF protocol"), // the rest of 2001::/23
            ("2001:db8::1", "documentation"), // 2001:db8::/32
            ("2002:c000:204::1", "6to4"),   // 2002::/16 (of 192.0.2.4)
            ("2002:808:808::1", "6to4"),    // 2002::/16 (of 8.8.8.8: refused too)
            ("3fff::1", "documentation"),   // 3fff::/20 (RFC 9637)
            ("3fff:fff::1", "documentation"),
            ("5f00::1", "segment routing"), // 5f00::/16 (RFC 9602)
            ("fc00::1", "unique local"),    // fc00::/7
            ("fdff::1", "unique local"),
            ("fd00:ec2::254", "metadata"), // cloud metadata
            ("fe80::1", "link-local"),     // fe80::/10
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"), // fec0::/10 (deprecated)
            ("feff::1", "site-local"),
            ("ff02::1", "multicast"), // ff00::/8
            ("4000::1", "reserved"),  // outside 2000::/3
            ("1::1", "reserved"),
            ("e000::1", "reserved"),
        ];
        for (ip, why) in refused {
            let addr: IpAddr = ip.parse().unwrap();
            let got = forbidden_address(addr);
            assert!(
                got.is_some_and(|g| g.contains(why)),
                "{ip} should be refused as {why:?}, got {got:?}"
            );
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.215.14",
            "100.128.0.1",
            "172.32.0.1",
            "192.0.1.1",
            "192.88.98.1",
            "192.88.100.1",
            "198.20.0.1",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "2001:200::1",
            "2003::1",
            "2a00:1450:4001::1",
            "3ffe::1",
            "3fff:1000::1",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
        ] {
            let addr: IpAddr = ip.parse().unwrap();
            assert_eq!(forbidden_address(addr), None, "{ip} is public");
        }
    }

    #[test]
    fn each_refused_block_is_written_as_its_network_address() {
        for (net, len, why) in V4_BLOCKS {
            let host = u32::MAX.checked_shr(u32::from(*len)).unwrap_or(0);
            assert_eq!(u32::from(*net) & host, 0, "{net}/{len} ({why})");
        }
        for (net, len, why) in V6_BLOCKS {
            let host = u128::MAX.checked_shr(u32::from(*len)).unwrap_or(0);
            assert_eq!(u128::from(*net) & host, 0, "{net}/{len} ({why})");
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
