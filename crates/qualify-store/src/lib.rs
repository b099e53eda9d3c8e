//! Persistence for qualify. One `Store` trait; each backend has its own module, SQL and
//! migrations. A store method that changes state does everything that must be atomic (rules
//! that read stored state, the change, the audit event, the job, the idempotency record) in one
//! transaction.

use std::time::Duration;

use async_trait::async_trait;
use qualify_core::customer::{BillingProfile, Customer, NewCustomer};
use qualify_core::engine::Stamp;
use qualify_core::faults::{Fault, FaultSpec};
use qualify_core::jobs::{AfterFailure, Job, JobFinish, NewJob};
use qualify_core::policy::VettingPolicy;
use qualify_core::qualification::{
    QualificationRecord, SettableQualification, VettingDecision, VettingStatus,
};
use qualify_core::rules::QualificationRequest;
use qualify_core::validation::{
    AccountStatus, GdapGrant, GdapRole, ValidationCode, ValidationStatus,
};
use qualify_core::{CustomerId, DomainError, PartnerId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub mod backup;
pub mod postgres;
mod rows;
pub mod sqlite;
pub mod testing;

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
    pub now: OffsetDateTime,
    pub actor: String,
    pub request_id: String,
    pub correlation_id: String,
    /// `None` when the client sent no `MS-RequestId` (nothing to replay against).
    pub idempotency: Option<IdempotencyKey>,
}

impl WriteContext {
    /// What the write's audit events are stamped with.
    pub fn stamp(&self) -> Stamp<'_> {
        Stamp {
            at: self.now,
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
    /// Checks the stateful rules (GDAP role for GCC, existing qualifications, the GCC code),
    /// then writes the qualification, the GCC decrement, the vetting job due at `vet_at` and
    /// the audit event, all in one transaction.
    async fn create_qualification(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        customer: CustomerId,
        request: QualificationRequest,
        vet_at: OffsetDateTime,
    ) -> StoreResult<Idempotent<QualificationRecord>>;

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
    /// Gives back the leases `owner` holds (graceful shutdown).
    async fn release_jobs(&self, owner: &str) -> StoreResult<u64>;
    /// When the next unfinished job can be claimed (its due time, or the end of its lease).
    async fn next_job_due(&self) -> StoreResult<Option<OffsetDateTime>>;
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
