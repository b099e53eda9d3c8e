//! The values a store takes and gives back, beyond the domain's own types.

use std::time::Duration;

use qualify_core::customer::Customer;
use qualify_core::effects::Stamp;
use qualify_core::qualification::{QualificationRecord, SettableQualification, VettingStatus};
use qualify_core::webhooks::{Attempt, DeliveryStatus, Event};
use qualify_core::{CustomerId, PartnerId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The idempotency key of a write: (partner tenant, `MS-RequestId`) and a fingerprint of the
/// request (method, path, body) that must match for a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub partner: PartnerId,
    pub request_id: String,
    pub fingerprint: String,
}

/// Who writes, when, and under which ids: stamped on audit events and idempotency records.
#[derive(Debug, Clone)]
pub struct WriteContext {
    /// Wall time of the request. The store stamps the write with the partner's domain time,
    /// read from the clocks in the write's transaction (control.md 4).
    pub wall: OffsetDateTime,
    pub actor: String,
    pub request_id: String,
    pub correlation_id: String,
    /// `None` when the client sent no `MS-RequestId` (nothing to replay against).
    pub idempotency: Option<IdempotencyKey>,
}

impl WriteContext {
    /// What the write's audit events are stamped with, at the partner's domain time `at`.
    pub fn stamp(&self, at: OffsetDateTime) -> Stamp<'_> {
        Stamp {
            at,
            actor: &self.actor,
            ids: Some((&self.request_id, &self.correlation_id)),
        }
    }
}

/// A write's result, and whether it is the stored result of an earlier identical request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotent<T> {
    pub value: T,
    pub replayed: bool,
}

/// A page of a partner's customers, oldest first.
#[derive(Debug, Clone)]
pub struct CustomerPage {
    pub items: Vec<Customer>,
    /// Position after the last item, when more may follow.
    pub next: Option<i64>,
}

impl CustomerPage {
    /// Keeps `limit` of `rows` (positions and customers, read with `limit + 1`): the position
    /// of the last kept one when more followed.
    pub(crate) fn of(mut rows: Vec<(i64, Customer)>, limit: u32) -> Self {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Self {
            next: more.then(|| rows.last().map(|(seq, _)| *seq)).flatten(),
            items: rows.into_iter().map(|(_, c)| c).collect(),
        }
    }
}

/// One audit event of a qualification (api.md section 6, history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: String,
    pub from: Option<VettingStatus>,
    pub to: VettingStatus,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    /// The etag of the company profile (domain, name, address) the event looked at.
    pub profile_etag: Option<String>,
}

/// A status change of the audit trail, as a clock advance reports it (control.md 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedTransition {
    pub seq: i64,
    pub customer_id: CustomerId,
    pub qualification: SettableQualification,
    pub from: VettingStatus,
    pub to: VettingStatus,
    pub reason: Option<String>,
    pub at: OffsetDateTime,
}

/// One transition of a qualification, as the event stream sends it (events.md section 3): an
/// audit event with its sequence number (the audit trail's id, strictly increasing in commit
/// order as readers see it, see [`Store::transitions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub seq: i64,
    pub partner_id: PartnerId,
    pub customer_id: CustomerId,
    pub qualification: SettableQualification,
    /// `None` for the first event of a request (its creation).
    pub from: Option<VettingStatus>,
    pub to: VettingStatus,
    pub reason: Option<String>,
    pub at: OffsetDateTime,
    pub actor: String,
}

/// Transitions after a sequence number, oldest first.
#[derive(Debug, Clone, Default)]
pub struct TransitionPage {
    pub items: Vec<Transition>,
    /// How far the read got: every transition with a seq up to this one is in `items`, was at
    /// or before the `after` asked for, or belongs to another partner than the one asked for —
    /// and none with a seq up to this one can appear later. The next read continues after it.
    pub last_seq: i64,
}

impl TransitionPage {
    /// A page of `items` read after `after` with `limit`, when every seq up to `top` is
    /// stable: a full page ends at its last item, a short one at `top`.
    pub(crate) fn of(items: Vec<Transition>, after: i64, top: i64, limit: u32) -> Self {
        let last_seq = if items.len() >= limit as usize {
            items.last().map_or(after, |t| t.seq)
        } else {
            top.max(after)
        };
        Self { items, last_seq }
    }
}

/// Where a page of the review queue starts: after this request in the queue's order
/// (`vettingCreateDate`, then id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewCursor {
    pub vetting_create_date: OffsetDateTime,
    pub id: i64,
}

/// What the review queue lists (the operator reads of the console, console.md).
#[derive(Debug, Clone)]
pub struct ReviewQuery {
    pub status: VettingStatus,
    pub qualification: Option<SettableQualification>,
    pub partner: Option<PartnerId>,
    pub after: Option<ReviewCursor>,
    pub limit: u32,
}

/// One request of the review queue, with the customer's company name and domain.
#[derive(Debug, Clone)]
pub struct ReviewItem {
    pub qualification: QualificationRecord,
    pub company_name: Option<String>,
    pub domain: Option<String>,
}

/// A page of the review queue, oldest first.
#[derive(Debug, Clone)]
pub struct ReviewPage {
    pub items: Vec<ReviewItem>,
    /// Where the next page starts, when more follow.
    pub next: Option<ReviewCursor>,
}

impl ReviewPage {
    /// Keeps `limit` of `rows` (read with `limit + 1`): the cursor of the last kept one when
    /// more followed.
    pub(crate) fn of(mut rows: Vec<ReviewItem>, limit: u32) -> Self {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = more
            .then(|| {
                rows.last().map(|r| ReviewCursor {
                    vetting_create_date: r.qualification.vetting_create_date,
                    id: r.qualification.id,
                })
            })
            .flatten();
        Self { items: rows, next }
    }
}

/// The unfinished jobs of one kind, as metrics show them ([`Store::queue_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Jobs not done (due or not, leased or not).
    pub pending: u64,
    /// How long the oldest of them that is due by its partner's clock has been due (zero when
    /// none is due).
    pub oldest_due: Duration,
}

impl QueueStats {
    /// From a count and the largest age in milliseconds (negative: not due yet).
    pub(crate) fn of(pending: i64, oldest_ms: Option<i64>) -> Self {
        let ms = oldest_ms.unwrap_or(0).max(0);
        Self {
            pending: u64::try_from(pending).unwrap_or(0),
            oldest_due: Duration::from_millis(ms.unsigned_abs()),
        }
    }
}

/// How a delivery is looked up.
#[derive(Debug, Clone, Copy)]
pub enum DeliveryRef<'a> {
    Id(i64),
    Event(PartnerId, &'a str),
}

/// A delivery: one event to its partner's registration, with its attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub event: Event,
    pub status: DeliveryStatus,
    pub attempts: Vec<Attempt>,
    /// When it is due next (pending only).
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// The stored state of a scope, as rows: its customers and codes with everything under them,
/// its partners' scenarios and own clocks.
#[derive(Debug, Clone, Default)]
pub struct ScopeState {
    pub rows: qualify_core::snapshot::Rows,
    pub scenarios: Vec<(
        PartnerId,
        (qualify_core::scenario::Scenario, serde_json::Value),
    )>,
    pub clocks: Vec<(PartnerId, Option<qualify_core::clock::ClockSetting>)>,
}
