//! The store, by area. Each area has its reads — SQL of each backend — and its writes, which
//! are commands (`qualify_core::commands`) that every backend runs through its one write
//! pipeline (`crate::pipeline`): the writes are implemented once, for every backend
//! (`crate::writes`). [`Store`] is all of them; a service that needs one area holds that area's
//! trait (`Arc<dyn Store>` upcasts to `Arc<dyn FaultStore>`).

use std::time::Duration;

use async_trait::async_trait;
use qualify_core::clock::{ClockChange, ClockPlan, ClockSetting, PartnerClocks};
use qualify_core::commands::control::{ClockState, FixtureMode, FixtureOutcome};
use qualify_core::commands::qualifications::CountedRead;
use qualify_core::customer::{BillingProfile, Customer, NewCustomer};
use qualify_core::engine::Scope;
use qualify_core::faults::{Fault, FaultHit, FaultSpec};
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
use qualify_core::webhooks::{Attempt, DeliveryStatus, Registration, SigningKey, Verdict};
use qualify_core::{CustomerId, PartnerId};
use time::OffsetDateTime;

use crate::error::StoreResult;
use crate::model::{
    AppliedTransition, AuditEvent, CustomerPage, Delivery, DeliveryRef, Idempotent, QueueStats,
    ReviewPage, ReviewQuery, ScopeState, TransitionPage, WriteContext,
};
use crate::signals::StoreSignals;

// ---- customers, profiles, qualification requests, codes, GDAP, account status ----------------

#[async_trait]
pub trait CustomerReads: Send + Sync {
    async fn customer(&self, id: CustomerId) -> StoreResult<Option<Customer>>;
    /// The partner a customer belongs to: the tenant-isolation check of every customer route,
    /// without reading the profiles.
    async fn customer_partner(&self, id: CustomerId) -> StoreResult<Option<PartnerId>>;
    /// A page of a partner's customers after position `after`, oldest first.
    async fn list_customers(
        &self,
        partner: PartnerId,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<CustomerPage>;
    async fn qualifications(&self, customer: CustomerId) -> StoreResult<Vec<QualificationRecord>>;
    /// The customer's owner and its qualification requests (oldest first), read in one
    /// statement: what a partner's read checks and returns. `None` when the customer does not
    /// exist.
    async fn owned_qualifications(
        &self,
        customer: CustomerId,
    ) -> StoreResult<Option<(PartnerId, Vec<QualificationRecord>)>>;
    async fn validation_codes(&self, partner: PartnerId) -> StoreResult<Vec<ValidationCode>>;
    async fn validation_status(
        &self,
        customer: CustomerId,
    ) -> StoreResult<Option<ValidationStatus>>;
    async fn gdap_grant(
        &self,
        partner: PartnerId,
        customer: CustomerId,
    ) -> StoreResult<Option<GdapGrant>>;
}

#[async_trait]
pub trait CustomerStore: CustomerReads {
    async fn create_customer(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        new: NewCustomer,
        default_gdap_roles: &[GdapRole],
    ) -> StoreResult<Idempotent<Customer>>;
    /// Replaces the billing profile when `if_match` is its etag (412 otherwise).
    async fn update_billing_profile(
        &self,
        ctx: &WriteContext,
        customer: CustomerId,
        if_match: &str,
        profile: BillingProfile,
    ) -> StoreResult<Idempotent<Customer>>;
    /// Records a qualification request (`commands::qualifications::CreateQualification`): the
    /// stateful rules, the qualification, the GCC code use, the vetting job and the audit
    /// event, at the partner's domain time, in one transaction.
    async fn create_qualification(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        customer: CustomerId,
        request: QualificationRequest,
        policy: &VettingPolicy,
    ) -> StoreResult<Idempotent<QualificationRecord>>;
    /// A read by the customer's partner that counts for `afterReads` requests (all of them, or
    /// only the request `only`): applies the decisions the read brings, in one transaction.
    async fn count_reads(
        &self,
        customer: CustomerId,
        wall: OffsetDateTime,
        policy: &VettingPolicy,
        only: Option<i64>,
    ) -> StoreResult<Option<CountedRead>>;
    async fn issue_validation_code(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        organization_name: &str,
        max_creates: i64,
    ) -> StoreResult<ValidationCode>;
    async fn set_validation_status(
        &self,
        ctx: &WriteContext,
        customer: CustomerId,
        status: AccountStatus,
    ) -> StoreResult<ValidationStatus>;
    async fn set_gdap_grant(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        customer: CustomerId,
        roles: &[GdapRole],
    ) -> StoreResult<GdapGrant>;
}

// ---- the operator's review queue, decisions and history ------------------------------------

#[async_trait]
pub trait ReviewReads: Send + Sync {
    async fn reviews(
        &self,
        status: VettingStatus,
        limit: u32,
    ) -> StoreResult<Vec<QualificationRecord>>;
    async fn history(
        &self,
        customer: CustomerId,
        qualification: SettableQualification,
    ) -> StoreResult<Vec<AuditEvent>>;
    /// A page of the review queue: requests in `status` (of one qualification, one partner),
    /// oldest first (`vettingCreateDate`, then id), after the cursor, with the customer's
    /// company name and domain. Served by indexes whatever the filters.
    async fn review_page(&self, query: &ReviewQuery) -> StoreResult<ReviewPage>;
}

#[async_trait]
pub trait ReviewStore: ReviewReads {
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
}

// ---- the audit trail as a stream of transitions (events.md 3) ------------------------------

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Up to `limit` transitions with a seq after `after` (of one partner, or all), oldest
    /// first. Only a stable prefix is returned: a transition committed later never has a seq
    /// at or below [`TransitionPage::last_seq`] (on PostgreSQL, where concurrent transactions
    /// commit their ids out of order, a transaction still in flight holds back the transitions
    /// after its own).
    async fn transitions(
        &self,
        after: i64,
        partner: Option<PartnerId>,
        limit: u32,
    ) -> StoreResult<TransitionPage>;
    /// The seq the live stream starts after: every transition up to it is committed, and none
    /// committed later has a seq at or below it.
    async fn transition_horizon(&self) -> StoreResult<i64>;
    /// The status changes of a scope's audit trail after `seq`, up to `to`, by time.
    async fn transitions_after(
        &self,
        seq: i64,
        scope: Scope,
        to: OffsetDateTime,
    ) -> StoreResult<Vec<AppliedTransition>>;
    /// The sequence number of the newest audit event (0 when there is none).
    async fn last_audit_seq(&self) -> StoreResult<i64>;
}

// ---- the durable job queue -----------------------------------------------------------------

/// Leases and selections of the queue: one indexed statement each, no rule.
#[async_trait]
pub trait QueueReads: Send + Sync {
    /// Leases up to `limit` due jobs (not done, due by their partner's clock at `now`, no live
    /// lease) to `owner`, oldest due first; each claim counts as an attempt.
    async fn claim_jobs(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Job>>;
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
    /// Gives back one claimed job untouched: its lease ends and its claim is not counted as an
    /// attempt. `false` when `owner` no longer holds it.
    async fn release_job(&self, job: &Job, owner: &str) -> StoreResult<bool>;
    /// Gives back the leases `owner` holds (graceful shutdown).
    async fn release_jobs(&self, owner: &str) -> StoreResult<u64>;
    /// The unfinished jobs of `kind` and how long the oldest due one has waited, by its
    /// partner's clock at wall time `wall`.
    async fn queue_stats(&self, kind: &str, wall: OffsetDateTime) -> StoreResult<QueueStats>;
    /// When the next unfinished job can be claimed (its due time, or the end of its lease).
    async fn next_job_due(&self) -> StoreResult<Option<OffsetDateTime>>;
    /// Unfinished jobs of a scope due by `due_by`, leased ones included.
    async fn unfinished_due_by(&self, scope: Scope, due_by: OffsetDateTime) -> StoreResult<u64>;
}

#[async_trait]
pub trait QueueStore: QueueReads {
    /// Enqueues a job on its own (jobs caused by a transition are enqueued by its plan, in its
    /// transaction). `qualification` names its subject, when it has one.
    async fn enqueue_job(&self, job: NewJob, qualification: Option<i64>) -> StoreResult<()>;
    /// Runs a claimed vetting job at the partner's time `now`, only while `owner` holds its
    /// lease (`commands::queue::RunVettingJob`). Running a job twice has the effect of once.
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
}

// ---- the test control plane's state (control.md 1-4) ---------------------------------------

#[async_trait]
pub trait ControlReads: Send + Sync {
    /// The clocks that decide a partner's domain time.
    async fn partner_clocks(&self, partner: PartnerId) -> StoreResult<PartnerClocks>;
    /// A scope's own clock (`Scope::All`: the global clock).
    async fn clock(&self, scope: Scope) -> StoreResult<Option<ClockSetting>>;
    /// A scope's own clock and the global one: what a change of the scope's clock reads.
    async fn clock_state(&self, scope: Scope) -> StoreResult<ClockState>;
    /// A partner's scenario document, as it was set.
    async fn scenario(&self, partner: PartnerId) -> StoreResult<Option<serde_json::Value>>;
    /// The stored state of a scope, as rows (what a snapshot is assembled from).
    async fn scope_state(&self, scope: Scope) -> StoreResult<ScopeState>;
    /// Whether a `--seed` document with this SHA-256 was applied.
    async fn seed_applied(&self, sha256: &str) -> StoreResult<bool>;
    /// The `--seed` document applied last (what a reset goes back to).
    async fn current_seed(&self) -> StoreResult<Option<String>>;
    /// Deletes idempotency records created before `before`; returns how many.
    async fn purge_idempotency(&self, before: OffsetDateTime) -> StoreResult<u64>;
}

#[async_trait]
pub trait ControlStore: ControlReads {
    /// Changes a scope's clock in one transaction (409 when time would go back).
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
    /// Sets (or, with `None`, removes) a partner's scenario.
    async fn set_scenario(
        &self,
        partner: PartnerId,
        scenario: Option<(Scenario, serde_json::Value)>,
    ) -> StoreResult<()>;
    /// The document of a scope's state (`qualify_core::snapshot::document`).
    async fn snapshot(&self, scope: Scope) -> StoreResult<Fixture>;
    /// Applies a fixture (a seed or a restore), all or nothing, in one transaction that
    /// concurrent writes of the scope's partners do not interleave with.
    async fn apply_fixture(
        &self,
        mode: FixtureMode,
        fixture: &Fixture,
        wall: OffsetDateTime,
        policy: &VettingPolicy,
    ) -> StoreResult<FixtureOutcome>;
}

// ---- fault injection (control.md 5) ---------------------------------------------------------

#[async_trait]
pub trait FaultReads: Send + Sync {
    /// The faults in evaluation order; with `partner`, those whose `match.partner` is it.
    async fn faults(&self, partner: Option<PartnerId>) -> StoreResult<Vec<Fault>>;
}

/// The store is authoritative: an instance's copy of the list only tells which requests may
/// match; `hit_faults` decides.
#[async_trait]
pub trait FaultStore: FaultReads {
    /// Stores a new fault, last in evaluation order; `id` is the new fault's id. `now` is when.
    async fn add_fault(
        &self,
        id: &str,
        spec: &FaultSpec,
        now: OffsetDateTime,
    ) -> StoreResult<Fault>;
    /// Removes one fault; `false` when there was none with that id.
    async fn remove_fault(&self, id: &str) -> StoreResult<bool>;
    /// Removes every fault, or those whose `match.partner` is `partner`; returns how many.
    async fn clear_faults(&self, partner: Option<PartnerId>) -> StoreResult<u64>;
    /// A request reached the faults `ids` (in evaluation order) and matched each: counts the
    /// hits until one fires, in one transaction. `None` when none fired.
    async fn hit_faults(&self, ids: &[String]) -> StoreResult<Option<FaultHit>>;
}

// ---- webhooks (events.md 1-2) -----------------------------------------------------------------

#[async_trait]
pub trait WebhookReads: Send + Sync {
    async fn webhook_registration(&self, partner: PartnerId) -> StoreResult<Option<Registration>>;
    /// A partner's deliveries, oldest first, optionally of one status.
    async fn deliveries(
        &self,
        partner: PartnerId,
        status: Option<DeliveryStatus>,
    ) -> StoreResult<Vec<Delivery>>;
    /// One delivery by id, or by its partner and event id (a test event's correlation id).
    async fn delivery(&self, find: DeliveryRef<'_>) -> StoreResult<Option<Delivery>>;
}

/// Deliveries are jobs of the queue (`WebhookDelivery`), enqueued by a transition's
/// `Effect::Emit` when its partner's registration wants the event.
#[async_trait]
pub trait WebhookStore: WebhookReads {
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
    /// Records an attempt of a claimed delivery and its verdict in one transaction; `false`
    /// when `owner` no longer holds the lease.
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

// ---- all of it ------------------------------------------------------------------------------

/// The whole store: every area, the database's health and what its commits signal.
#[async_trait]
pub trait Store:
    CustomerStore
    + ReviewStore
    + EventStore
    + QueueStore
    + ControlStore
    + FaultStore
    + WebhookStore
    + 'static
{
    /// Database reachable and answering.
    async fn ping(&self) -> StoreResult<()>;
    /// What this process's commits signal (and, on PostgreSQL, other instances' too).
    fn signals(&self) -> &StoreSignals;
}
