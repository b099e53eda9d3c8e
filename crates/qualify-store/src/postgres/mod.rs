//! The PostgreSQL backend: the scale-out engine. Several qualify instances share one database
//! and keep no state of their own that correctness depends on:
//!
//! - stateful rules are checked under row locks (`SELECT ... FOR UPDATE` on the customer, the
//!   validation code, the qualification), so concurrent requests on any instances serialise;
//! - an idempotency key is claimed by inserting its record first in the transaction: a second
//!   request with the same key blocks on the unique index until the first commits, then replays;
//! - jobs are claimed with `FOR UPDATE SKIP LOCKED` and a lease; `LISTEN/NOTIFY` wakes the
//!   workers of every instance when a job is enqueued;
//! - migrations run under sqlx's advisory lock: one instance applies them, the others wait.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use qualify_core::customer::{BillingProfile, CompanyProfile, Customer, NewCustomer};
use qualify_core::engine::{
    CreateReads, CreateSnapshot, DecideSnapshot, Effect, QualificationRef, VettingSnapshot,
    plan_create, plan_decide, plan_vetting,
};
use qualify_core::jobs::{AfterFailure, Job, JobFinish, NewJob};
use qualify_core::policy::VettingPolicy;
use qualify_core::qualification::{
    EducationSegment, QualificationRecord, SettableQualification, VettingDecision, VettingStatus,
};
use qualify_core::rules::QualificationRequest;
use qualify_core::time_fmt::{from_millis, to_millis};
use qualify_core::validation::{
    AccountStatus, GdapGrant, GdapRole, ValidationCode, ValidationStatus,
};
use qualify_core::{CustomerId, DomainError, ErrorKind, PartnerId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Row};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::rows;
use crate::{
    AuditEvent, CustomerPage, FaultHit, Idempotent, Store, StoreError, StoreResult, WriteContext,
    new_etag, new_validation_id,
};
use qualify_core::faults::{Fault, FaultSpec};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const NOTIFY_CHANNEL: &str = "qualify_jobs";
/// Notified (in the changing transaction) whenever the faults change.
const FAULTS_CHANNEL: &str = "qualify_faults";

/// Connection settings of the PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgSettings {
    pub max_connections: u32,
    /// Server-side bound on one statement (`statement_timeout`).
    pub statement_timeout: Duration,
}

impl Default for PgSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            statement_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    jobs_signal: Arc<Notify>,
    faults_signal: Arc<Notify>,
}

crate::rows::impl_cells!(PgRow);

macro_rules! qualification_columns {
    () => {
        "id, customer_id::text AS customer_id, partner_id::text AS partner_id, qualification, vetting_status, \
         vetting_reason, vetting_create_date, education_segment, website, validation_code, etag"
    };
}

macro_rules! job_columns {
    () => {
        "id, kind, partner_id::text AS partner_id, qualification_id, payload::text AS payload, run_at, attempts, last_error"
    };
}

macro_rules! customer_columns {
    () => {
        "seq, id::text AS id, partner_id::text AS partner_id, company_profile::text AS company_profile, company_etag, \
         billing_profile::text AS billing_profile, billing_etag, created_at"
    };
}

macro_rules! code_columns {
    () => {
        "validation_id, partner_id::text AS partner_id, organization_name, max_creates, remaining_creates, etag"
    };
}

macro_rules! gdap_columns {
    () => {
        "partner_id::text AS partner_id, customer_id::text AS customer_id, roles::text AS roles, updated_at"
    };
}

impl PgStore {
    /// Connects, applies the migrations (under an advisory lock) and starts listening for job
    /// notifications.
    pub async fn open(url: &str, settings: &PgSettings) -> StoreResult<Self> {
        let timeout_ms = settings.statement_timeout.as_millis().to_string();
        let options =
            PgConnectOptions::from_str(url)?.options([("statement_timeout", timeout_ms.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(2))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migrations failed: {e}")))?;
        let jobs_signal = Arc::new(Notify::new());
        let faults_signal = Arc::new(Notify::new());
        let mut listener = PgListener::connect_with(&pool).await?;
        listener
            .listen_all([NOTIFY_CHANNEL, FAULTS_CHANNEL])
            .await?;
        let (signal, faults) = (jobs_signal.clone(), faults_signal.clone());
        tokio::spawn(async move {
            loop {
                // `recv` reconnects by itself after a lost connection; a notification may be
                // missed then, which the worker's polling (and the fault list's periodic
                // re-read) covers.
                match listener.recv().await {
                    Ok(n) if n.channel() == FAULTS_CHANNEL => faults.notify_one(),
                    Ok(_) => signal.notify_one(),
                    Err(e) => {
                        tracing::warn!(error = %e, "job notification listener failed; retrying");
                        faults.notify_one();
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(Self {
            pool,
            jobs_signal,
            faults_signal,
        })
    }

    /// Stores a rejection under the request's idempotency key (in its own transaction, the
    /// request's having rolled back), so that a retry gets the same answer.
    async fn settle<T>(
        &self,
        ctx: &WriteContext,
        result: StoreResult<Idempotent<T>>,
    ) -> StoreResult<Idempotent<T>> {
        if let (Err(e), Some(key)) = (&result, &ctx.idempotency)
            && let Some(rejection) = rows::is_storable(e)
        {
            sqlx::query(
                "INSERT INTO idempotency_records (partner_id, request_id, fingerprint, response, created_at) \
                 VALUES ($1::uuid, $2, $3, $4, $5) ON CONFLICT (partner_id, request_id) DO NOTHING",
            )
            .bind(key.partner.to_string())
            .bind(&key.request_id)
            .bind(&key.fingerprint)
            .bind(rows::stored_err(rejection)?)
            .bind(to_millis(ctx.now))
            .execute(&self.pool)
            .await?;
        }
        result
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

// ---- transaction helpers ----------------------------------------------------------------------

/// Tells every instance (this one too) that the faults changed, when the transaction commits.
async fn notify_faults(conn: &mut PgConnection) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(FAULTS_CHANNEL)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Claims the idempotency key for this transaction, or returns the stored result of an earlier
/// request with the same key (409 when it was another request). A concurrent request with the
/// same key waits here until the first one commits or rolls back.
async fn replay<T: DeserializeOwned>(
    conn: &mut PgConnection,
    ctx: &WriteContext,
) -> StoreResult<Option<T>> {
    let Some(key) = &ctx.idempotency else {
        return Ok(None);
    };
    let claimed = sqlx::query(
        "INSERT INTO idempotency_records (partner_id, request_id, fingerprint, response, created_at) \
         VALUES ($1::uuid, $2, $3, NULL, $4) ON CONFLICT (partner_id, request_id) DO NOTHING",
    )
    .bind(key.partner.to_string())
    .bind(&key.request_id)
    .bind(&key.fingerprint)
    .bind(to_millis(ctx.now))
    .execute(&mut *conn)
    .await?;
    if claimed.rows_affected() == 1 {
        return Ok(None);
    }
    let row = sqlx::query("SELECT fingerprint, response FROM idempotency_records WHERE partner_id = $1::uuid AND request_id = $2")
        .bind(key.partner.to_string())
        .bind(&key.request_id)
        .fetch_one(&mut *conn)
        .await?;
    let fingerprint: String = row.try_get("fingerprint")?;
    if fingerprint != key.fingerprint {
        return Err(DomainError::of(ErrorKind::IdempotencyKeyReused).into());
    }
    let response: Option<String> = row.try_get("response")?;
    let response = response
        .ok_or_else(|| StoreError::Backend("idempotency record without a response".into()))?;
    Ok(Some(rows::replayed(&response)?))
}

async fn remember<T: Serialize>(
    conn: &mut PgConnection,
    ctx: &WriteContext,
    value: &T,
) -> StoreResult<()> {
    let Some(key) = &ctx.idempotency else {
        return Ok(());
    };
    sqlx::query("UPDATE idempotency_records SET response = $3 WHERE partner_id = $1::uuid AND request_id = $2")
        .bind(key.partner.to_string())
        .bind(&key.request_id)
        .bind(rows::stored_ok(value)?)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn load_qualifications(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> StoreResult<Vec<QualificationRecord>> {
    let found = sqlx::query(concat!(
        "SELECT ",
        qualification_columns!(),
        " FROM qualifications WHERE customer_id = $1::uuid ORDER BY id"
    ))
    .bind(customer.to_string())
    .fetch_all(&mut *conn)
    .await?;
    found.iter().map(rows::qualification).collect()
}

// ---- snapshots and effects ----------------------------------------------------------------------
//
// A write loads the snapshot its plan reads (`qualify_core::engine`) under row locks, lets the
// plan decide, and applies the effects in the same transaction: concurrent writes on any
// instance serialise on the rows they read.

/// What a create reads. Locks the customer first: every request on one customer, whatever
/// instance it reached, waits here for the one before it.
async fn create_snapshot(
    conn: &mut PgConnection,
    partner: PartnerId,
    customer: CustomerId,
    reads: CreateReads<'_>,
) -> StoreResult<CreateSnapshot> {
    let company_etag: Option<String> =
        sqlx::query_scalar("SELECT company_etag FROM customers WHERE id = $1::uuid FOR UPDATE")
            .bind(customer.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    if company_etag.is_none() {
        return Ok(CreateSnapshot::default());
    }
    let gdap = if reads.gdap {
        let row = sqlx::query(concat!(
            "SELECT ",
            gdap_columns!(),
            " FROM gdap_grants WHERE partner_id = $1::uuid AND customer_id = $2::uuid"
        ))
        .bind(partner.to_string())
        .bind(customer.to_string())
        .fetch_optional(&mut *conn)
        .await?;
        row.as_ref().map(rows::gdap).transpose()?
    } else {
        None
    };
    let existing = load_qualifications(conn, customer).await?;
    let code = match reads.code {
        Some(code) => {
            let row = sqlx::query(concat!(
                "SELECT ",
                code_columns!(),
                " FROM validation_codes WHERE validation_id = $1 FOR UPDATE"
            ))
            .bind(code)
            .fetch_optional(&mut *conn)
            .await?;
            row.as_ref().map(rows::validation_code).transpose()?
        }
        None => None,
    };
    Ok(CreateSnapshot {
        company_etag,
        gdap,
        existing,
        code,
    })
}

async fn company_of(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> StoreResult<Option<(CompanyProfile, String)>> {
    let row = sqlx::query(
        "SELECT company_profile::text AS company_profile, company_etag FROM customers WHERE id = $1::uuid",
    )
    .bind(customer.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok((
            rows::from_json::<CompanyProfile>(
                "company profile",
                &r.try_get::<String, _>("company_profile")?,
            )?,
            r.try_get("company_etag")?,
        ))
    })
    .transpose()
}

async fn qualification_for_update(
    conn: &mut PgConnection,
    id: i64,
) -> StoreResult<Option<QualificationRecord>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        qualification_columns!(),
        " FROM qualifications WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(rows::qualification).transpose()
}

/// Applies a plan's effects in order; returns the id of the qualification it inserted, if any.
async fn apply(conn: &mut PgConnection, effects: &[Effect]) -> StoreResult<Option<i64>> {
    let mut inserted = None;
    for effect in effects {
        match effect {
            Effect::InsertQualification(q) => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO qualifications (customer_id, partner_id, qualification, vetting_status, \
                     vetting_create_date, education_segment, website, validation_code, etag) \
                     VALUES ($1::uuid, $2::uuid, $3, 'InReview', $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(q.customer_id.to_string())
                .bind(q.partner_id.to_string())
                .bind(q.qualification.name())
                .bind(to_millis(q.vetting_create_date))
                .bind(q.education_segment.map(EducationSegment::name))
                .bind(q.website.as_deref())
                .bind(q.validation_code.as_deref())
                .bind(&q.etag)
                .fetch_one(&mut *conn)
                .await?;
                inserted = Some(id);
            }
            Effect::SpendValidationCode {
                validation_id,
                etag,
            } => {
                let spent = sqlx::query(
                    "UPDATE validation_codes SET remaining_creates = remaining_creates - 1, etag = $1 \
                     WHERE validation_id = $2 AND remaining_creates > 0",
                )
                .bind(etag)
                .bind(validation_id)
                .execute(&mut *conn)
                .await?;
                if spent.rows_affected() != 1 {
                    return Err(ErrorKind::ValidationCodeExhausted.into());
                }
            }
            Effect::DecideQualification {
                id,
                to,
                reason,
                etag,
                at,
            } => {
                let changed = sqlx::query(
                    "UPDATE qualifications SET vetting_status = $1, vetting_reason = $2, etag = $3, decided_at = $4 \
                     WHERE id = $5 AND vetting_status = 'InReview'",
                )
                .bind(to.name())
                .bind(reason.as_deref())
                .bind(etag)
                .bind(to_millis(*at))
                .bind(id)
                .execute(&mut *conn)
                .await?;
                if changed.rows_affected() != 1 {
                    return Err(ErrorKind::AlreadyDecided.into());
                }
            }
            Effect::Enqueue { job, subject } => {
                let qualification = subject.map(|s| rows::resolve(s, inserted)).transpose()?;
                sqlx::query(
                    "INSERT INTO jobs (kind, partner_id, qualification_id, payload, run_at) \
                     VALUES ($1, $2::uuid, $3, $4::jsonb, $5)",
                )
                .bind(job.kind.as_str())
                .bind(job.partner.to_string())
                .bind(qualification)
                .bind(rows::json(&job.payload)?)
                .bind(to_millis(job.run_at))
                .execute(&mut *conn)
                .await?;
            }
            Effect::Audit(a) => {
                sqlx::query(
                    "INSERT INTO audit_events (qualification_id, customer_id, partner_id, qualification, at, actor, \
                     from_status, to_status, reason, request_id, correlation_id, profile_etag) \
                     VALUES ($1, $2::uuid, $3::uuid, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(rows::resolve(a.qualification, inserted)?)
                .bind(a.customer_id.to_string())
                .bind(a.partner_id.to_string())
                .bind(a.kind.name())
                .bind(to_millis(a.at))
                .bind(&a.actor)
                .bind(a.from.map(VettingStatus::name))
                .bind(a.to.name())
                .bind(a.reason.as_deref())
                .bind(a.request_id.as_deref())
                .bind(a.correlation_id.as_deref())
                .bind(a.profile_etag.as_deref())
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    Ok(inserted)
}

/// Locks an unfinished job if `owner` still holds its lease.
async fn holds(conn: &mut PgConnection, job: i64, owner: &str) -> StoreResult<bool> {
    let held: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM jobs WHERE id = $1 AND lease_owner = $2 AND done_at IS NULL FOR UPDATE",
    )
    .bind(job)
    .bind(owner)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(held.is_some())
}

async fn mark_done(
    conn: &mut PgConnection,
    job: i64,
    now: OffsetDateTime,
    outcome: &str,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE jobs SET done_at = $1, outcome = $2, lease_owner = NULL, lease_until = NULL WHERE id = $3",
    )
    .bind(to_millis(now))
    .bind(outcome)
    .bind(job)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

// ---- the Store ----------------------------------------------------------------------------------

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn jobs_signal(&self) -> Option<Arc<Notify>> {
        Some(self.jobs_signal.clone())
    }

    async fn create_customer(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        new: NewCustomer,
        default_gdap_roles: &[GdapRole],
    ) -> StoreResult<Idempotent<Customer>> {
        let result: StoreResult<Idempotent<Customer>> = async {
            let mut tx = self.pool.begin().await?;
            if let Some(value) = replay(&mut tx, ctx).await? {
                return Ok(Idempotent {
                    value,
                    replayed: true,
                });
            }
            let customer = Customer {
                id: CustomerId::new_time_ordered(),
                partner_id: partner,
                company_profile: new.company_profile,
                company_etag: new_etag(),
                billing_profile: new.billing_profile,
                billing_etag: new_etag(),
                created_at: ctx.now,
            };
            sqlx::query(
                "INSERT INTO customers (id, partner_id, company_profile, company_etag, billing_profile, billing_etag, created_at) \
                 VALUES ($1::uuid, $2::uuid, $3::jsonb, $4, $5::jsonb, $6, $7)",
            )
            .bind(customer.id.to_string())
            .bind(partner.to_string())
            .bind(rows::json(&customer.company_profile)?)
            .bind(&customer.company_etag)
            .bind(rows::json(&customer.billing_profile)?)
            .bind(&customer.billing_etag)
            .bind(to_millis(ctx.now))
            .execute(&mut *tx)
            .await?;
            if !default_gdap_roles.is_empty() {
                sqlx::query("INSERT INTO gdap_grants (partner_id, customer_id, roles, updated_at) VALUES ($1::uuid, $2::uuid, $3::jsonb, $4)")
                    .bind(partner.to_string())
                    .bind(customer.id.to_string())
                    .bind(rows::gdap_roles_json(default_gdap_roles)?)
                    .bind(to_millis(ctx.now))
                    .execute(&mut *tx)
                    .await?;
            }
            remember(&mut tx, ctx, &customer).await?;
            tx.commit().await?;
            Ok(Idempotent {
                value: customer,
                replayed: false,
            })
        }
        .await;
        self.settle(ctx, result).await
    }

    async fn customer_partner(&self, id: CustomerId) -> StoreResult<Option<PartnerId>> {
        let partner: Option<String> =
            sqlx::query_scalar("SELECT partner_id::text FROM customers WHERE id = $1::uuid")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        partner
            .map(|p| {
                uuid::Uuid::parse_str(&p)
                    .map(PartnerId)
                    .map_err(|_| rows::corrupt("partner id", &p))
            })
            .transpose()
    }

    async fn customer(&self, id: CustomerId) -> StoreResult<Option<Customer>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            customer_columns!(),
            " FROM customers WHERE id = $1::uuid"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::customer).transpose()
    }

    async fn list_customers(
        &self,
        partner: PartnerId,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<CustomerPage> {
        let found = sqlx::query(concat!(
            "SELECT ",
            customer_columns!(),
            " FROM customers WHERE partner_id = $1::uuid AND seq > $2 ORDER BY seq LIMIT $3"
        ))
        .bind(partner.to_string())
        .bind(after.unwrap_or(0))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let more = found.len() > limit as usize;
        let page = &found[..found.len().min(limit as usize)];
        let next = if more {
            page.last()
                .map(|r| r.try_get::<i64, _>("seq"))
                .transpose()?
        } else {
            None
        };
        Ok(CustomerPage {
            items: page
                .iter()
                .map(rows::customer)
                .collect::<StoreResult<_>>()?,
            next,
        })
    }

    async fn update_billing_profile(
        &self,
        ctx: &WriteContext,
        customer: CustomerId,
        if_match: &str,
        profile: BillingProfile,
    ) -> StoreResult<Idempotent<Customer>> {
        let result: StoreResult<Idempotent<Customer>> = async {
            let mut tx = self.pool.begin().await?;
            if let Some(value) = replay(&mut tx, ctx).await? {
                return Ok(Idempotent {
                    value,
                    replayed: true,
                });
            }
            let row = sqlx::query(concat!(
                "SELECT ",
                customer_columns!(),
                " FROM customers WHERE id = $1::uuid FOR UPDATE"
            ))
            .bind(customer.to_string())
            .fetch_optional(&mut *tx)
            .await?;
            let current = row
                .as_ref()
                .map(rows::customer)
                .transpose()?
                .ok_or(ErrorKind::NotFound)?;
            if current.billing_etag != if_match {
                return Err(ErrorKind::PreconditionFailed.into());
            }
            let updated = Customer {
                billing_profile: profile,
                billing_etag: new_etag(),
                ..current
            };
            sqlx::query("UPDATE customers SET billing_profile = $1::jsonb, billing_etag = $2 WHERE id = $3::uuid")
                .bind(rows::json(&updated.billing_profile)?)
                .bind(&updated.billing_etag)
                .bind(customer.to_string())
                .execute(&mut *tx)
                .await?;
            remember(&mut tx, ctx, &updated).await?;
            tx.commit().await?;
            Ok(Idempotent {
                value: updated,
                replayed: false,
            })
        }
        .await;
        self.settle(ctx, result).await
    }

    async fn qualifications(&self, customer: CustomerId) -> StoreResult<Vec<QualificationRecord>> {
        let mut conn = self.pool.acquire().await?;
        load_qualifications(&mut conn, customer).await
    }

    async fn owned_qualifications(
        &self,
        customer: CustomerId,
    ) -> StoreResult<Option<(PartnerId, Vec<QualificationRecord>)>> {
        let rows = sqlx::query(
            "SELECT c.partner_id::text AS owner, q.id, q.customer_id::text AS customer_id, \
             q.partner_id::text AS partner_id, q.qualification, q.vetting_status, q.vetting_reason, \
             q.vetting_create_date, q.education_segment, q.website, q.validation_code, q.etag \
             FROM customers c LEFT JOIN qualifications q ON q.customer_id = c.id WHERE c.id = $1::uuid ORDER BY q.id",
        )
        .bind(customer.to_string())
        .fetch_all(&self.pool)
        .await?;
        let rows = rows
            .iter()
            .map(rows::owner_and_qualification)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(rows::fold_owned_qualifications(rows))
    }

    async fn create_qualification(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        customer: CustomerId,
        request: QualificationRequest,
        vet_at: OffsetDateTime,
    ) -> StoreResult<Idempotent<QualificationRecord>> {
        let result: StoreResult<Idempotent<QualificationRecord>> = async {
            let mut tx = self.pool.begin().await?;
            if let Some(value) = replay(&mut tx, ctx).await? {
                return Ok(Idempotent {
                    value,
                    replayed: true,
                });
            }
            let snapshot =
                create_snapshot(&mut tx, partner, customer, CreateReads::of(&request)).await?;
            let plan = plan_create(partner, customer, &request, &snapshot, ctx.stamp(), vet_at)?;
            let id = apply(&mut tx, &plan.effects)
                .await?
                .ok_or_else(|| StoreError::Backend("the plan inserted nothing".into()))?;
            let record = plan.qualification.into_record(id);
            remember(&mut tx, ctx, &record).await?;
            tx.commit().await?;
            Ok(Idempotent {
                value: record,
                replayed: false,
            })
        }
        .await;
        self.settle(ctx, result).await
    }

    async fn validation_codes(&self, partner: PartnerId) -> StoreResult<Vec<ValidationCode>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            code_columns!(),
            " FROM validation_codes WHERE partner_id = $1::uuid ORDER BY created_at, validation_id"
        ))
        .bind(partner.to_string())
        .fetch_all(&self.pool)
        .await?;
        found.iter().map(rows::validation_code).collect()
    }

    async fn issue_validation_code(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        organization_name: &str,
        max_creates: i64,
    ) -> StoreResult<ValidationCode> {
        for _ in 0..8 {
            let candidate = ValidationCode {
                partner_id: partner,
                organization_name: organization_name.to_owned(),
                validation_id: new_validation_id(),
                max_creates,
                remaining_creates: max_creates,
                etag: new_etag(),
            };
            let inserted = sqlx::query(
                "INSERT INTO validation_codes (validation_id, partner_id, organization_name, max_creates, remaining_creates, etag, created_at) \
                 VALUES ($1, $2::uuid, $3, $4, $5, $6, $7) ON CONFLICT (validation_id) DO NOTHING",
            )
            .bind(&candidate.validation_id)
            .bind(partner.to_string())
            .bind(organization_name)
            .bind(max_creates)
            .bind(max_creates)
            .bind(&candidate.etag)
            .bind(to_millis(ctx.now))
            .execute(&self.pool)
            .await?;
            if inserted.rows_affected() == 1 {
                return Ok(candidate);
            }
        }
        Err(StoreError::Backend(
            "could not find a free validation id".into(),
        ))
    }

    async fn validation_status(
        &self,
        customer: CustomerId,
    ) -> StoreResult<Option<ValidationStatus>> {
        let row = sqlx::query(
            "SELECT status, last_update FROM validation_statuses WHERE customer_id = $1::uuid",
        )
        .bind(customer.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| rows::validation_status(&r, customer))
            .transpose()
    }

    async fn set_validation_status(
        &self,
        ctx: &WriteContext,
        customer: CustomerId,
        status: AccountStatus,
    ) -> StoreResult<ValidationStatus> {
        sqlx::query(
            "INSERT INTO validation_statuses (customer_id, status, last_update) VALUES ($1::uuid, $2, $3) \
             ON CONFLICT (customer_id) DO UPDATE SET status = excluded.status, last_update = excluded.last_update",
        )
        .bind(customer.to_string())
        .bind(status.name())
        .bind(to_millis(ctx.now))
        .execute(&self.pool)
        .await?;
        Ok(ValidationStatus {
            customer_id: customer,
            status,
            last_update: ctx.now,
        })
    }

    async fn gdap_grant(
        &self,
        partner: PartnerId,
        customer: CustomerId,
    ) -> StoreResult<Option<GdapGrant>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            gdap_columns!(),
            " FROM gdap_grants WHERE partner_id = $1::uuid AND customer_id = $2::uuid"
        ))
        .bind(partner.to_string())
        .bind(customer.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::gdap).transpose()
    }

    async fn set_gdap_grant(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        customer: CustomerId,
        roles: &[GdapRole],
    ) -> StoreResult<GdapGrant> {
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        sqlx::query(
            "INSERT INTO gdap_grants (partner_id, customer_id, roles, updated_at) VALUES ($1::uuid, $2::uuid, $3::jsonb, $4) \
             ON CONFLICT (partner_id, customer_id) DO UPDATE SET roles = excluded.roles, updated_at = excluded.updated_at",
        )
        .bind(partner.to_string())
        .bind(customer.to_string())
        .bind(rows::gdap_roles_json(&roles)?)
        .bind(to_millis(ctx.now))
        .execute(&self.pool)
        .await?;
        Ok(GdapGrant {
            partner_id: partner,
            customer_id: customer,
            roles,
            updated_at: ctx.now,
        })
    }

    async fn reviews(
        &self,
        status: VettingStatus,
        limit: u32,
    ) -> StoreResult<Vec<QualificationRecord>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            qualification_columns!(),
            " FROM qualifications WHERE vetting_status = $1 ORDER BY vetting_create_date, id LIMIT $2"
        ))
        .bind(status.name())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        found.iter().map(rows::qualification).collect()
    }

    async fn decide(
        &self,
        ctx: &WriteContext,
        customer: CustomerId,
        qualification: SettableQualification,
        if_match: &str,
        decision: &VettingDecision,
    ) -> StoreResult<QualificationRecord> {
        let mut tx = self.pool.begin().await?;
        let latest: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM qualifications WHERE customer_id = $1::uuid AND qualification = $2 ORDER BY id DESC LIMIT 1",
        )
        .bind(customer.to_string())
        .bind(qualification.name())
        .fetch_optional(&mut *tx)
        .await?;
        // Two reviewers on two instances: the second waits here and then sees the decision.
        let latest = match latest {
            Some(id) => qualification_for_update(&mut tx, id).await?,
            None => None,
        };
        let snapshot = DecideSnapshot {
            latest,
            company_etag: company_of(&mut tx, customer).await?.map(|(_, etag)| etag),
        };
        let plan = plan_decide(qualification, if_match, decision, &snapshot, ctx.stamp())?;
        apply(&mut tx, &plan.effects).await?;
        tx.commit().await?;
        Ok(plan.updated)
    }

    async fn history(
        &self,
        customer: CustomerId,
        qualification: SettableQualification,
    ) -> StoreResult<Vec<AuditEvent>> {
        let found = sqlx::query(
            "SELECT at, actor, from_status, to_status, reason, request_id, correlation_id, profile_etag FROM audit_events \
             WHERE customer_id = $1::uuid AND qualification = $2 ORDER BY id",
        )
        .bind(customer.to_string())
        .bind(qualification.name())
        .fetch_all(&self.pool)
        .await?;
        found.iter().map(rows::audit_event).collect()
    }

    async fn enqueue_job(&self, job: NewJob, qualification: Option<i64>) -> StoreResult<()> {
        let effect = Effect::Enqueue {
            job,
            subject: qualification.map(QualificationRef::Existing),
        };
        let mut conn = self.pool.acquire().await?;
        apply(&mut conn, &[effect]).await?;
        Ok(())
    }

    async fn claim_jobs(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let now_ms = to_millis(now);
        let until = now_ms + lease.as_millis() as i64;
        let claimed = sqlx::query(concat!(
            "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 WHERE id IN \
             (SELECT id FROM jobs WHERE done_at IS NULL AND run_at <= $3 AND (lease_until IS NULL OR lease_until < $3) \
              ORDER BY run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING ",
            job_columns!()
        ))
        .bind(owner)
        .bind(until)
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        claimed.iter().map(rows::job).collect()
    }

    async fn run_vetting_job(
        &self,
        job: &Job,
        owner: &str,
        now: OffsetDateTime,
        policy: &VettingPolicy,
    ) -> StoreResult<JobFinish> {
        let mut tx = self.pool.begin().await?;
        if !holds(&mut tx, job.id, owner).await? {
            return Ok(JobFinish::LeaseLost);
        }
        // Locked and read inside the transaction: a reviewer may have decided meanwhile.
        let qualification = match job.qualification_id {
            Some(id) => qualification_for_update(&mut tx, id).await?,
            None => None,
        };
        let company = match &qualification {
            Some(q) => company_of(&mut tx, q.customer_id).await?,
            None => None,
        };
        let snapshot = VettingSnapshot {
            qualification,
            company,
        };
        let plan = plan_vetting(job, &snapshot, policy, now)?;
        apply(&mut tx, &plan.effects).await?;
        mark_done(&mut tx, job.id, now, &plan.finish.label()).await?;
        tx.commit().await?;
        Ok(plan.finish)
    }

    async fn complete_job(
        &self,
        job: &Job,
        owner: &str,
        now: OffsetDateTime,
        finish: &JobFinish,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        if !holds(&mut tx, job.id, owner).await? {
            return Ok(false);
        }
        mark_done(&mut tx, job.id, now, &finish.label()).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn fail_job(
        &self,
        job: &Job,
        owner: &str,
        now: OffsetDateTime,
        error: &str,
        after: AfterFailure,
    ) -> StoreResult<bool> {
        let (run_at, done_at, outcome) = match after {
            AfterFailure::RetryAt(at) => (Some(to_millis(at)), None, None),
            AfterFailure::Dead => (None, Some(to_millis(now)), Some("dead")),
        };
        let r = sqlx::query(
            "UPDATE jobs SET last_error = $1, run_at = COALESCE($2, run_at), done_at = $3, outcome = $4, \
             lease_owner = NULL, lease_until = NULL WHERE id = $5 AND lease_owner = $6 AND done_at IS NULL",
        )
        .bind(error)
        .bind(run_at)
        .bind(done_at)
        .bind(outcome)
        .bind(job.id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn release_jobs(&self, owner: &str) -> StoreResult<u64> {
        let r = sqlx::query("UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1 AND done_at IS NULL")
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    async fn next_job_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        let at: Option<i64> =
            sqlx::query_scalar("SELECT MIN(GREATEST(run_at, COALESCE(lease_until, 0))) FROM jobs WHERE done_at IS NULL")
                .fetch_one(&self.pool)
                .await?;
        Ok(at.map(from_millis))
    }

    async fn purge_idempotency(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM idempotency_records WHERE created_at < $1")
            .bind(to_millis(before))
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    fn faults_signal(&self) -> Option<Arc<Notify>> {
        Some(self.faults_signal.clone())
    }

    async fn add_fault(
        &self,
        id: &str,
        spec: &FaultSpec,
        now: OffsetDateTime,
    ) -> StoreResult<Fault> {
        let mut tx = self.pool.begin().await?;
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO faults (id, partner_id, spec, created_at) VALUES ($1, $2::uuid, $3, $4) RETURNING seq",
        )
        .bind(id)
        .bind(spec.matches.partner.map(|p| p.to_string()))
        .bind(rows::json(spec)?)
        .bind(to_millis(now))
        .fetch_one(&mut *tx)
        .await?;
        notify_faults(&mut tx).await?;
        tx.commit().await?;
        Ok(Fault {
            id: id.to_owned(),
            seq,
            spec: spec.clone(),
            hits: 0,
            fired: 0,
        })
    }

    async fn faults(&self, partner: Option<PartnerId>) -> StoreResult<Vec<Fault>> {
        let found = match partner {
            Some(p) => {
                sqlx::query("SELECT id, seq, spec, hits, fired FROM faults WHERE partner_id = $1::uuid ORDER BY seq")
                    .bind(p.to_string())
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query("SELECT id, seq, spec, hits, fired FROM faults ORDER BY seq")
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        found.iter().map(rows::fault).collect()
    }

    async fn remove_fault(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query("DELETE FROM faults WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        notify_faults(&mut tx).await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    async fn clear_faults(&self, partner: Option<PartnerId>) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        let r = match partner {
            Some(p) => {
                sqlx::query("DELETE FROM faults WHERE partner_id = $1::uuid")
                    .bind(p.to_string())
                    .execute(&mut *tx)
                    .await?
            }
            None => sqlx::query("DELETE FROM faults").execute(&mut *tx).await?,
        };
        notify_faults(&mut tx).await?;
        tx.commit().await?;
        Ok(r.rows_affected())
    }

    async fn hit_faults(&self, ids: &[String]) -> StoreResult<Option<FaultHit>> {
        let mut tx = self.pool.begin().await?;
        // Row locks in evaluation order: concurrent requests on any instance count their hits
        // on one fault one after the other, and never lock two faults in opposite orders.
        for id in ids {
            let row = sqlx::query(
                "SELECT id, seq, spec, hits, fired FROM faults WHERE id = $1 FOR UPDATE",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(mut fault) = row.as_ref().map(rows::fault).transpose()? else {
                continue;
            };
            let position = fault.hits + 1;
            let fires = fault.spec.fires(position, fault.fired);
            fault.hits = position;
            fault.fired += u64::from(fires);
            let removed = fires && fault.spec.times.is_some_and(|t| fault.fired >= t);
            if removed {
                sqlx::query("DELETE FROM faults WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                notify_faults(&mut tx).await?;
            } else {
                sqlx::query("UPDATE faults SET hits = $2, fired = $3 WHERE id = $1")
                    .bind(id)
                    .bind(fault.hits as i64)
                    .bind(fault.fired as i64)
                    .execute(&mut *tx)
                    .await?;
            }
            if fires {
                tx.commit().await?;
                return Ok(Some(FaultHit { fault, removed }));
            }
        }
        tx.commit().await?;
        Ok(None)
    }
}
