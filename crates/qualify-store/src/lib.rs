//! Persistence for qualify. One `Store` trait; each backend has its own module, SQL and
//! migrations. A store method that changes state does everything that must be atomic (rules
//! that read stored state, the change, the audit event, the job, the idempotency record) in one
//! transaction.

use std::time::Duration;

use async_trait::async_trait;
use qualify_core::clock::{ClockChange, ClockPlan, ClockSetting, PartnerClocks};
use qualify_core::customer::{BillingProfile, Customer, NewCustomer};
use qualify_core::engine::{Counts, Scope, Stamp};
use qualify_core::faults::{Fault, FaultSpec};
use qualify_core::fixture::Fixture;
use qualify_core::jobs::{AfterFailure, Job, JobFinish, NewJob};
use qualify_core::policy::VettingPolicy;
use qualify_core::qualification::{
    QualificationRecord, SettableQualification, VettingDecision, VettingStatus,
};
use qualify_core::rules::QualificationRequest;
use qualify_core::scenario::Scenario;
use qualify_core::validation::{
    AccountStatus, GdapGrant, GdapRole, ValidationCode, ValidationStatus,
};
use qualify_core::webhooks::{Event, Registration, Verdict};
use qualify_core::{CustomerId, DomainError, PartnerId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub mod backup;
mod observe;
pub mod postgres;
mod rows;
pub mod sqlite;
pub mod testing;

pub use observe::{CommitObserver, observe_commits};
pub use postgres::{PgSettings, PgStore};
pub use sqlite::SqliteStore;

/// Why a store call failed: a domain rule (a 4xx for the client) or the backend (a 5xx).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// An earlier request with the same idempotency key was rejected with this error.
    #[error("replayed: {0}")]
    Replayed(DomainError),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Backend(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            other => StoreError::Backend(other.to_string()),
        }
    }
}

impl From<qualify_core::ErrorKind> for StoreError {
    fn from(k: qualify_core::ErrorKind) -> Self {
        StoreError::Domain(k.into())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

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

/// How a fixture is applied (control.md 2).
#[derive(Debug, Clone)]
pub enum FixtureMode {
    /// An upsert by id. `record` remembers a `--seed` document (by its SHA-256), so that a
    /// restart does not apply it again and a reset applies it anew.
    Seed { record: Option<SeedRecord> },
    /// Replaces the scope with the document: a reset, then a seed.
    Restore(Scope),
}

#[derive(Debug, Clone)]
pub struct SeedRecord {
    pub sha256: String,
    pub document: String,
}

/// What applying a fixture did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FixtureOutcome {
    /// What the reset of a restore removed.
    pub removed: Counts,
    /// What the document added or replaced.
    pub applied: Counts,
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

/// A read that counted `afterReads` ([`Store::count_reads`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CountedRead {
    pub owner: PartnerId,
    /// The customer's requests as the read shows them.
    pub records: Vec<QualificationRecord>,
    /// The ids of the requests this read decided.
    pub decided: Vec<i64>,
}

impl CountedRead {
    /// The read's `records` after its plan; `waiting` are the ids of the requests it counted that
    /// were InReview before: those now decided are the read's decisions.
    pub(crate) fn new(
        owner: PartnerId,
        waiting: &[i64],
        records: Vec<QualificationRecord>,
    ) -> Self {
        let decided = records
            .iter()
            .filter(|q| waiting.contains(&q.id) && q.vetting_status.is_terminal())
            .map(|q| q.id)
            .collect();
        Self {
            owner,
            records,
            decided,
        }
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Database reachable and answering.
    async fn ping(&self) -> StoreResult<()>;

    /// Notified when another process enqueued a job (PostgreSQL LISTEN/NOTIFY); `None` when the
    /// backend has no such signal and workers rely on their own wake-ups and polling.
    fn jobs_signal(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }

    // Customers and profiles.
    async fn create_customer(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        new: NewCustomer,
        default_gdap_roles: &[GdapRole],
    ) -> StoreResult<Idempotent<Customer>>;
    async fn customer(&self, id: CustomerId) -> StoreResult<Option<Customer>>;
    /// The partner a customer belongs to: the tenant-isolation check of every customer route,
    /// without reading the profiles.
    async fn customer_partner(&self, id: CustomerId) -> StoreResult<Option<PartnerId>>;
    async fn list_customers(
        &self,
        partner: PartnerId,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<CustomerPage>;
    async fn update_billing_profile(
        &self,
        ctx: &WriteContext,
        customer: CustomerId,
        if_match: &str,
        profile: BillingProfile,
    ) -> StoreResult<Idempotent<Customer>>;

    // Qualifications.
    async fn qualifications(&self, customer: CustomerId) -> StoreResult<Vec<QualificationRecord>>;
    /// The customer's owner and its qualification requests (oldest first), read in one
    /// statement: what a partner's read checks and returns. `None` when the customer does not
    /// exist.
    async fn owned_qualifications(
        &self,
        customer: CustomerId,
    ) -> StoreResult<Option<(PartnerId, Vec<QualificationRecord>)>>;
    /// Records a qualification request by [`engine::plan_create`](qualify_core::engine) in one
    /// transaction: the stateful rules (GDAP role for GCC, existing qualifications, the GCC
    /// code), the qualification, the GCC decrement, the vetting job and the audit event, at the
    /// partner's domain time; its outcome chosen by the scenario, test values or `policy`.
    async fn create_qualification(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        customer: CustomerId,
        request: QualificationRequest,
        policy: &VettingPolicy,
    ) -> StoreResult<Idempotent<QualificationRecord>>;
    /// A read by the customer's partner that counts for `afterReads` requests (all of them, or
    /// only the request `only`): applies the decisions the read brings, in one transaction, and
    /// returns the owner, the requests as the read shows them and those it decided (control.md 3).
    async fn count_reads(
        &self,
        customer: CustomerId,
        wall: OffsetDateTime,
        policy: &VettingPolicy,
        only: Option<i64>,
    ) -> StoreResult<Option<CountedRead>>;

    // GCC validation codes.
    async fn validation_codes(&self, partner: PartnerId) -> StoreResult<Vec<ValidationCode>>;
    async fn issue_validation_code(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        organization_name: &str,
        max_creates: i64,
    ) -> StoreResult<ValidationCode>;

    // Account validation status.
    async fn validation_status(
        &self,
        customer: CustomerId,
    ) -> StoreResult<Option<ValidationStatus>>;
    async fn set_validation_status(
        &self,
        ctx: &WriteContext,
        customer: CustomerId,
        status: AccountStatus,
    ) -> StoreResult<ValidationStatus>;

    // GDAP.
    async fn gdap_grant(
        &self,
        partner: PartnerId,
        customer: CustomerId,
    ) -> StoreResult<Option<GdapGrant>>;
    async fn set_gdap_grant(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        customer: CustomerId,
        roles: &[GdapRole],
    ) -> StoreResult<GdapGrant>;

    // Operator: review queue, decisions, history.
    async fn reviews(
        &self,
        status: VettingStatus,
        limit: u32,
    ) -> StoreResult<Vec<QualificationRecord>>;
    /// Decides the customer's latest request for `qualification`: 404 when there is none, 409
    /// when it is no longer InReview, 412 when `if_match` is not its etag.
    async fn decide(
        &self,
        ctx: &WriteContext,
        customer: CustomerId,
        qualification: SettableQualification,
        if_match: &str,
        decision: &VettingDecision,
    ) -> StoreResult<QualificationRecord>;
    async fn history(
        &self,
        customer: CustomerId,
        qualification: SettableQualification,
    ) -> StoreResult<Vec<AuditEvent>>;
    /// A page of the review queue: requests in `status` (of one qualification, one partner),
    /// oldest first (`vettingCreateDate`, then id), after the cursor, with the customer's
    /// company name and domain. Served by indexes whatever the filters.
    async fn review_page(&self, query: &ReviewQuery) -> StoreResult<ReviewPage>;

    // The event stream (events.md section 3).
    /// Up to `limit` transitions with a seq after `after` (of one partner, or all), oldest
    /// first, read from the audit trail. Only a stable prefix is returned: a transition
    /// committed later never has a seq at or below [`TransitionPage::last_seq`] (on PostgreSQL,
    /// where concurrent transactions commit their ids out of order, a transaction still in
    /// flight holds back the transitions after its own).
    async fn transitions(
        &self,
        after: i64,
        partner: Option<PartnerId>,
        limit: u32,
    ) -> StoreResult<TransitionPage>;
    /// The seq the live stream starts after: every transition up to it is committed, and none
    /// committed later has a seq at or below it.
    async fn transition_horizon(&self) -> StoreResult<i64>;
    /// Notified after this process committed a transition, so that the event stream reads at
    /// once instead of at its next poll (transitions of other processes are found by polling).
    fn transitions_signal(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }

    // The durable job queue (jobs of every kind).
    /// Enqueues a job on its own (jobs caused by a transition are enqueued by its plan, in its
    /// transaction). `qualification` names its subject, when it has one.
    async fn enqueue_job(&self, job: NewJob, qualification: Option<i64>) -> StoreResult<()>;
    /// Leases up to `limit` due jobs (not done, `run_at <= now`, no live lease) to `owner`,
    /// oldest due first; each claim counts as an attempt.
    async fn claim_jobs(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Job>>;
    /// Runs a claimed vetting job in one transaction, only while `owner` holds its lease: loads
    /// its qualification and the customer's company profile, lets
    /// [`engine::plan_vetting`](qualify_core::engine::plan_vetting) decide with `policy`,
    /// applies the effects and marks the job done. Running a job twice has the effect of once.
    async fn run_vetting_job(
        &self,
        job: &Job,
        owner: &str,
        now: OffsetDateTime,
        policy: &VettingPolicy,
    ) -> StoreResult<JobFinish>;
    /// Marks a claimed job done with `finish` (for handlers whose work lies outside the
    /// database). `false` when `owner` no longer holds the lease.
    async fn complete_job(
        &self,
        job: &Job,
        owner: &str,
        now: OffsetDateTime,
        finish: &JobFinish,
    ) -> StoreResult<bool>;
    /// A claimed job's attempt failed with `error`: it is tried again at the time `after` says,
    /// or given up (done, outcome `dead`). `false` when `owner` no longer holds the lease.
    async fn fail_job(
        &self,
        job: &Job,
        owner: &str,
        now: OffsetDateTime,
        error: &str,
        after: AfterFailure,
    ) -> StoreResult<bool>;
    /// Gives back one claimed job untouched: its lease ends and its claim is not counted as an
    /// attempt. `false` when `owner` no longer holds it.
    async fn release_job(&self, job: &Job, owner: &str) -> StoreResult<bool>;
    /// Gives back the leases `owner` holds (graceful shutdown).
    async fn release_jobs(&self, owner: &str) -> StoreResult<u64>;
    /// The unfinished jobs of `kind` and how long the oldest due one has waited, by its
    /// partner's clock at wall time `wall` (read when metrics are scraped).
    async fn queue_stats(&self, kind: &str, wall: OffsetDateTime) -> StoreResult<QueueStats>;
    /// When the next unfinished job can be claimed (its due time, or the end of its lease).
    async fn next_job_due(&self) -> StoreResult<Option<OffsetDateTime>>;
    /// Leases due jobs of a scope for a clock advance: due by `due_by` (the scope's new time)
    /// rather than by the clocks, oldest due first.
    async fn claim_jobs_due_by(
        &self,
        owner: &str,
        wall: OffsetDateTime,
        lease: Duration,
        limit: u32,
        scope: Scope,
        due_by: OffsetDateTime,
    ) -> StoreResult<Vec<Job>>;
    /// Unfinished jobs of a scope due by `due_by`, leased ones included.
    async fn unfinished_due_by(&self, scope: Scope, due_by: OffsetDateTime) -> StoreResult<u64>;
    /// The status changes of a scope's audit trail after `seq`, up to `to`, by time.
    async fn transitions_after(
        &self,
        seq: i64,
        scope: Scope,
        to: OffsetDateTime,
    ) -> StoreResult<Vec<AppliedTransition>>;
    /// The sequence number of the newest audit event (0 when there is none).
    async fn last_audit_seq(&self) -> StoreResult<i64>;

    // The test control plane's state (control.md 1-4).
    /// The clocks that decide a partner's domain time.
    async fn partner_clocks(&self, partner: PartnerId) -> StoreResult<PartnerClocks>;
    /// A scope's own clock (`Scope::All`: the global clock).
    async fn clock(&self, scope: Scope) -> StoreResult<Option<ClockSetting>>;
    /// Changes a scope's clock by [`clock::plan_clock`](qualify_core::clock::plan_clock), in
    /// one transaction (409 when time would go back).
    async fn change_clock(
        &self,
        scope: Scope,
        wall: OffsetDateTime,
        change: ClockChange,
    ) -> StoreResult<ClockPlan>;
    /// What a clock change would do, without doing it.
    async fn plan_clock_change(
        &self,
        scope: Scope,
        wall: OffsetDateTime,
        change: ClockChange,
    ) -> StoreResult<ClockPlan>;
    /// A partner's scenario document, as it was set.
    async fn scenario(&self, partner: PartnerId) -> StoreResult<Option<serde_json::Value>>;
    /// Sets (or, with `None`, removes) a partner's scenario.
    async fn set_scenario(
        &self,
        partner: PartnerId,
        scenario: Option<(Scenario, serde_json::Value)>,
    ) -> StoreResult<()>;
    /// Applies a fixture (a seed or a restore) by the plans of `qualify_core::fixture`, all or
    /// nothing, in one transaction that concurrent writes of the scope's partners do not
    /// interleave with.
    async fn apply_fixture(
        &self,
        mode: FixtureMode,
        fixture: &Fixture,
        wall: OffsetDateTime,
        policy: &VettingPolicy,
    ) -> StoreResult<FixtureOutcome>;
    /// The document of a scope's state.
    async fn snapshot(&self, scope: Scope) -> StoreResult<Fixture>;
    /// Whether a `--seed` document with this SHA-256 was applied.
    async fn seed_applied(&self, sha256: &str) -> StoreResult<bool>;
    /// The `--seed` document applied last (what a reset goes back to).
    async fn current_seed(&self) -> StoreResult<Option<String>>;

    /// Deletes idempotency records created before `before`; returns how many.
    async fn purge_idempotency(&self, before: OffsetDateTime) -> StoreResult<u64>;

    // Fault injection (control.md section 5). The store is authoritative: an instance's copy of
    // the list only tells which requests may match; `hit_faults` decides.
    /// Notified when any process changed the faults (PostgreSQL LISTEN/NOTIFY); `None` when
    /// only this process writes the database (SQLite), which then knows of every change.
    fn faults_signal(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }
    /// Stores a new fault, last in evaluation order; `id` is the new fault's id.
    async fn add_fault(
        &self,
        id: &str,
        spec: &FaultSpec,
        now: OffsetDateTime,
    ) -> StoreResult<Fault>;
    /// The faults in evaluation order; with `partner`, those whose `match.partner` is it.
    async fn faults(&self, partner: Option<PartnerId>) -> StoreResult<Vec<Fault>>;
    /// Removes one fault; `false` when there was none with that id.
    async fn remove_fault(&self, id: &str) -> StoreResult<bool>;
    /// Removes every fault, or those whose `match.partner` is `partner` (a partner's reset);
    /// returns how many.
    async fn clear_faults(&self, partner: Option<PartnerId>) -> StoreResult<u64>;
    /// A request reached the faults `ids` (in evaluation order) and matched each: in one
    /// transaction, counts a hit on each in turn until one fires (`FaultSpec::fires` at its
    /// next position), counts that firing, and removes the fault once it has fired `times`.
    /// Faults that no longer exist are passed over. `None` when none fired.
    async fn hit_faults(&self, ids: &[String]) -> StoreResult<Option<FaultHit>>;

    // Webhooks (events.md 1-2). Deliveries are jobs of kind `webhooks::DELIVERY_JOB`, enqueued
    // by a transition's `Effect::Emit` when its partner's registration wants the event.
    async fn webhook_registration(&self, partner: PartnerId) -> StoreResult<Option<Registration>>;
    /// Creates or replaces the partner's registration (enabled again).
    async fn put_webhook_registration(
        &self,
        registration: &Registration,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Removes the registration and cancels its pending deliveries; `false` when there was none.
    async fn delete_webhook_registration(
        &self,
        partner: PartnerId,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// The key that signs every delivery: `key` is stored unless one already is; returns the
    /// stored one (so concurrent instances end up with the same).
    async fn signing_key(&self, key: Option<SigningKey>) -> StoreResult<Option<SigningKey>>;
    /// A partner's deliveries, oldest first, optionally of one status.
    async fn deliveries(
        &self,
        partner: PartnerId,
        status: Option<DeliveryStatus>,
    ) -> StoreResult<Vec<Delivery>>;
    /// One delivery by id, or by its partner and event id (a test event's correlation id).
    async fn delivery(&self, find: DeliveryRef<'_>) -> StoreResult<Option<Delivery>>;
    /// Records an attempt of a claimed delivery and its verdict in one transaction (retry:
    /// due again at the verdict's time; `Disable` also disables the registration); `false` when
    /// `owner` no longer holds the lease.
    async fn finish_attempt(
        &self,
        job: &Job,
        owner: &str,
        attempt: &Attempt,
        verdict: Verdict,
    ) -> StoreResult<bool>;
    /// Makes a delivery pending again, due at `now`, with a fresh schedule (same event, same
    /// `webhook-id`); `None` when there is no such delivery.
    async fn redeliver(&self, id: i64, now: OffsetDateTime) -> StoreResult<Option<Delivery>>;
}

/// How a delivery is looked up.
#[derive(Debug, Clone, Copy)]
pub enum DeliveryRef<'a> {
    Id(i64),
    Event(PartnerId, &'a str),
}

/// The RSA key (PKCS#8 PEM) that signs deliveries, and its self-signed X.509 certificate (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub private_key: String,
    pub certificate: String,
}

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

    /// From a delivery job's `outcome` (`None`: not done).
    pub(crate) fn of_outcome(outcome: Option<&str>) -> Self {
        match outcome {
            None => DeliveryStatus::Pending,
            Some("succeeded") => DeliveryStatus::Succeeded,
            Some("cancelled") => DeliveryStatus::Cancelled,
            Some(_) => DeliveryStatus::Dead,
        }
    }

    /// The SQL condition on a job row (`done_at`, `outcome`) for this status.
    pub(crate) fn condition(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "done_at IS NULL",
            DeliveryStatus::Succeeded => "outcome = 'succeeded'",
            DeliveryStatus::Dead => {
                "done_at IS NOT NULL AND outcome NOT IN ('succeeded', 'cancelled')"
            }
            DeliveryStatus::Cancelled => "outcome = 'cancelled'",
        }
    }
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

/// A fault that fired, with its counters after the hit.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultHit {
    pub fault: Fault,
    /// It reached `times` and was removed.
    pub removed: bool,
}

pub use qualify_core::engine::new_etag;

/// A new numeric validation code id (the value clients send as `validationCode`).
pub fn new_validation_id() -> String {
    use rand::Rng;
    rand::rng()
        .random_range(100_000_000u64..1_000_000_000)
        .to_string()
}
