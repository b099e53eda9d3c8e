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
use qualify_core::clock::{ClockChange, ClockPlan, ClockSetting, PartnerClocks};
use qualify_core::customer::{BillingProfile, CompanyProfile, Customer, NewCustomer};
use qualify_core::engine::{
    Counts, CreateReads, CreateSnapshot, DecideSnapshot, Effect, QualificationRef, Scope,
    VettingSnapshot, plan_create, plan_decide, plan_vetting,
};
use qualify_core::fixture::Fixture;
use qualify_core::jobs::{AfterFailure, Job, JobFinish, NewJob};
use qualify_core::policy::VettingPolicy;
use qualify_core::qualification::{
    EducationSegment, QualificationRecord, SettableQualification, VettingDecision, VettingStatus,
};
use qualify_core::rules::QualificationRequest;
use qualify_core::rules::replays;
use qualify_core::scenario::Scenario;
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

use crate::observe::CommitTimer;
use crate::rows::{self, Applied};
use crate::{
    AppliedTransition, Attempt, AuditEvent, CountedRead, CustomerPage, Delivery, DeliveryRef,
    DeliveryStatus, FaultHit, FixtureMode, FixtureOutcome, Idempotent, QueueStats, ReviewPage,
    ReviewQuery, SigningKey, Store, StoreError, StoreResult, TransitionPage, WriteContext,
    new_etag, new_validation_id,
};
use qualify_core::faults::{Fault, FaultSpec};
use qualify_core::webhooks::{self as hooks, Registration, Verdict};

mod control;
mod webhooks;

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
    /// Notified after this process committed a transition.
    transitions_signal: Arc<Notify>,
    /// How far the audit trail is known to be final (see [`PgStore::transitions`]).
    horizon: Arc<tokio::sync::Mutex<Horizon>>,
    faults_signal: Arc<Notify>,
}

/// How many audit event ids one walk of the horizon reads.
const HORIZON_WALK: i64 = 10_000;

/// How far the audit trail is final. Ids are taken from a sequence when a transaction inserts
/// its audit event, but transactions commit in any order: a reader may see id 11 before id 10
/// commits, or id 10 may never come (its transaction rolled back). Ids up to `stable` are final:
/// each is visible or never will be. Above it, a hole waits until every transaction of this
/// database that was running when the hole was seen has ended (each of them has its
/// transaction id before it takes an audit event id: migration 0004), after which every id up
/// to the top seen then is final too.
#[derive(Debug, Default)]
struct Horizon {
    stable: i64,
    /// A hole seen above `stable`: the highest id visible then, and the transactions running then.
    pending: Option<(i64, Vec<String>)>,
}

crate::rows::impl_cells!(PgRow);

macro_rules! qualification_columns {
    () => {
        "id, customer_id::text AS customer_id, partner_id::text AS partner_id, qualification, vetting_status, \
         vetting_reason, vetting_create_date, education_segment, website, validation_code, etag, choice, reads"
    };
}

/// The wall time (ms) at which job `j` is due by its partner's clock `c` (or the global clock
/// `$5` frozen at / `$6` offset): 0 for a due job of a frozen clock, NULL for one that time does
/// not reach until the clock is moved.
macro_rules! job_due_wall {
    () => {
        "CASE WHEN c.frozen_at IS NOT NULL THEN CASE WHEN j.run_at <= c.frozen_at THEN 0 END \
              WHEN c.offset_ms IS NOT NULL THEN j.run_at - c.offset_ms \
              WHEN $5::bigint IS NOT NULL THEN CASE WHEN j.run_at <= $5::bigint THEN 0 END \
              ELSE j.run_at - COALESCE($6::bigint, 0) END"
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

macro_rules! transition_columns {
    () => {
        "SELECT id, partner_id::text AS partner_id, customer_id::text AS customer_id, qualification, \
         from_status, to_status, reason, at, actor FROM audit_events"
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
            transitions_signal: Arc::new(Notify::new()),
            horizon: Arc::new(tokio::sync::Mutex::new(Horizon::default())),
            faults_signal,
        })
    }

    /// The transaction ids (as text) of this database's other sessions that are running a
    /// transaction that has one.
    async fn running_transactions(&self) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT backend_xid::text FROM pg_stat_activity WHERE datname = current_database() \
             AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Moves the horizon as far as it can now; returns it.
    async fn advance_horizon(&self) -> StoreResult<i64> {
        let mut h = self.horizon.lock().await;
        for _ in 0..8 {
            if let Some((top, running)) = &h.pending {
                let now = self.running_transactions().await?;
                if running.iter().any(|x| now.contains(x)) {
                    return Ok(h.stable);
                }
                h.stable = h.stable.max(*top);
                h.pending = None;
            }
            let ids: Vec<i64> = sqlx::query_scalar(
                "SELECT id FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2",
            )
            .bind(h.stable)
            .bind(HORIZON_WALK)
            .fetch_all(&self.pool)
            .await?;
            let mut next = h.stable;
            for id in &ids {
                if *id != next + 1 {
                    break;
                }
                next = *id;
            }
            h.stable = next;
            if ids.iter().any(|id| *id > next) {
                // A hole with visible ids above it. One statement: the top is read in its
                // snapshot, the running transactions after it, so a transaction that holds an
                // id below the top is among them.
                let row = sqlx::query(
                    "SELECT (SELECT COALESCE(MAX(id), 0) FROM audit_events) AS top, \
                     ARRAY(SELECT backend_xid::text FROM pg_stat_activity WHERE datname = current_database() \
                     AND backend_xid IS NOT NULL AND pid <> pg_backend_pid())::text[] AS running",
                )
                .fetch_one(&self.pool)
                .await?;
                let top: i64 = row.try_get("top")?;
                let running: Vec<String> = row.try_get("running")?;
                h.pending = Some((top, running));
                continue;
            }
            if (ids.len() as i64) < HORIZON_WALK {
                break;
            }
        }
        Ok(h.stable)
    }

    fn transition_committed(&self) {
        self.transitions_signal.notify_one();
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
            let mut conn = self.pool.acquire().await?;
            let domain = partner_clocks(&mut conn, key.partner).await?.now(ctx.wall);
            sqlx::query(
                "INSERT INTO idempotency_records (partner_id, request_id, fingerprint, response, created_at, domain_at) \
                 VALUES ($1::uuid, $2, $3, $4, $5, $6) ON CONFLICT (partner_id, request_id) DO NOTHING",
            )
            .bind(key.partner.to_string())
            .bind(&key.request_id)
            .bind(&key.fingerprint)
            .bind(rows::stored_err(rejection)?)
            .bind(to_millis(ctx.wall))
            .bind(to_millis(domain))
            .execute(&mut *conn)
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
/// same key waits here until the first one commits or rolls back. A record older than the
/// replay window (on the partner's clock, `now`) is claimed anew: the request runs as a new one.
async fn replay<T: DeserializeOwned>(
    conn: &mut PgConnection,
    ctx: &WriteContext,
    now: OffsetDateTime,
) -> StoreResult<Option<T>> {
    let Some(key) = &ctx.idempotency else {
        return Ok(None);
    };
    let claimed = sqlx::query(
        "INSERT INTO idempotency_records (partner_id, request_id, fingerprint, response, created_at, domain_at) \
         VALUES ($1::uuid, $2, $3, NULL, $4, $5) ON CONFLICT (partner_id, request_id) DO NOTHING",
    )
    .bind(key.partner.to_string())
    .bind(&key.request_id)
    .bind(&key.fingerprint)
    .bind(to_millis(ctx.wall))
    .bind(to_millis(now))
    .execute(&mut *conn)
    .await?;
    if claimed.rows_affected() == 1 {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT fingerprint, response, COALESCE(domain_at, created_at) AS recorded FROM idempotency_records \
         WHERE partner_id = $1::uuid AND request_id = $2 FOR UPDATE",
    )
    .bind(key.partner.to_string())
    .bind(&key.request_id)
    .fetch_one(&mut *conn)
    .await?;
    if !replays(from_millis(row.try_get("recorded")?), now) {
        sqlx::query(
            "UPDATE idempotency_records SET fingerprint = $3, response = NULL, created_at = $4, domain_at = $5 \
             WHERE partner_id = $1::uuid AND request_id = $2",
        )
        .bind(key.partner.to_string())
        .bind(&key.request_id)
        .bind(&key.fingerprint)
        .bind(to_millis(ctx.wall))
        .bind(to_millis(now))
        .execute(&mut *conn)
        .await?;
        return Ok(None);
    }
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

/// Advisory lock keys: every write of a partner holds both shared; a reset (restore, seed) of
/// a partner holds the partner's exclusively, a global one the global key exclusively. So a
/// reset waits for the partner's writes in flight, and the writes after it wait for the reset:
/// each write happened entirely before it or entirely after it (control.md 1).
const LOCK_CLASS_ALL: i32 = 7170;
const LOCK_CLASS_PARTNER: i32 = 7171;

/// Takes the partner's write locks (shared) and reads the clocks that decide its domain time
/// (control.md 4), in one round trip.
async fn partner_clocks(conn: &mut PgConnection, partner: PartnerId) -> StoreResult<PartnerClocks> {
    let found = sqlx::query(
        "SELECT c.scope, c.frozen_at, c.offset_ms FROM \
         (SELECT pg_advisory_xact_lock_shared($2, 0)::text || pg_advisory_xact_lock_shared($3, hashtext($1))::text AS locked) l \
         LEFT JOIN clocks c ON c.scope IN ('global', $1)",
    )
    .bind(partner.to_string())
    .bind(LOCK_CLASS_ALL)
    .bind(LOCK_CLASS_PARTNER)
    .fetch_all(&mut *conn)
    .await?;
    let mut clocks = PartnerClocks::default();
    for row in found {
        let Some(scope) = row.try_get::<Option<String>, _>("scope")? else {
            continue;
        };
        let setting = rows::clock_setting(row.try_get("frozen_at")?, row.try_get("offset_ms")?);
        if scope == "global" {
            clocks.global = setting;
        } else {
            clocks.own = setting;
        }
    }
    Ok(clocks)
}

/// Takes the exclusive lock of a scope (a reset, restore or seed of it).
async fn lock_scope(conn: &mut PgConnection, scope: Scope) -> StoreResult<()> {
    match scope {
        Scope::All => {
            sqlx::query("SELECT pg_advisory_xact_lock($1, 0)::text")
                .bind(LOCK_CLASS_ALL)
                .execute(&mut *conn)
                .await?;
        }
        Scope::Partner(p) => {
            sqlx::query(
                "SELECT pg_advisory_xact_lock_shared($2, 0)::text || pg_advisory_xact_lock($3, hashtext($1))::text",
            )
            .bind(p.to_string())
            .bind(LOCK_CLASS_ALL)
            .bind(LOCK_CLASS_PARTNER)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// Commits a transaction, timed for the commit observer (a batch of one request).
async fn commit(tx: sqlx::Transaction<'_, sqlx::Postgres>) -> StoreResult<()> {
    let timer = CommitTimer::start();
    tx.commit().await?;
    timer.committed(1);
    Ok(())
}

/// A scope's own clock.
async fn own_clock(conn: &mut PgConnection, scope: Scope) -> StoreResult<Option<ClockSetting>> {
    let row = sqlx::query("SELECT frozen_at, offset_ms FROM clocks WHERE scope = $1")
        .bind(rows::clock_scope(scope))
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| {
        Ok(rows::clock_setting(
            r.try_get("frozen_at")?,
            r.try_get("offset_ms")?,
        ))
    })
    .transpose()
    .map(Option::flatten)
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
    let company = sqlx::query(
        "SELECT company_etag, company_profile->>'domain' AS domain FROM customers WHERE id = $1::uuid FOR UPDATE",
    )
    .bind(customer.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(company) = company else {
        return Ok(CreateSnapshot::default());
    };
    let company_etag: Option<String> = Some(company.try_get("company_etag")?);
    let company_domain: Option<String> = company.try_get("domain")?;
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
        company_domain,
        gdap,
        existing,
        code,
        scenario: scenario_of(conn, partner).await?,
    })
}

async fn scenario_of(conn: &mut PgConnection, partner: PartnerId) -> StoreResult<Option<Scenario>> {
    let rules: Option<String> =
        sqlx::query_scalar("SELECT rules FROM scenarios WHERE partner_id = $1::uuid")
            .bind(partner.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    rules.map(|r| rows::from_json("scenario", &r)).transpose()
}

async fn customer_owner(conn: &mut PgConnection, id: CustomerId) -> StoreResult<Option<PartnerId>> {
    let partner: Option<String> =
        sqlx::query_scalar("SELECT partner_id::text FROM customers WHERE id = $1::uuid")
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    partner
        .map(|p| {
            uuid::Uuid::parse_str(&p)
                .map(PartnerId)
                .map_err(|_| rows::corrupt("partner id", &p))
        })
        .transpose()
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

/// Applies a plan's effects in order.
async fn apply(conn: &mut PgConnection, effects: &[Effect]) -> StoreResult<Applied> {
    let mut inserted = None;
    let mut removed = Counts::default();
    for effect in effects {
        match effect {
            Effect::InsertQualification(q) => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO qualifications (customer_id, partner_id, qualification, vetting_status, \
                     vetting_reason, vetting_create_date, education_segment, website, validation_code, etag, choice) \
                     VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                )
                .bind(q.customer_id.to_string())
                .bind(q.partner_id.to_string())
                .bind(q.qualification.name())
                .bind(q.vetting_status.name())
                .bind(q.vetting_reason.as_deref())
                .bind(to_millis(q.vetting_create_date))
                .bind(q.education_segment.map(EducationSegment::name))
                .bind(q.website.as_deref())
                .bind(q.validation_code.as_deref())
                .bind(&q.etag)
                .bind(q.choice.as_ref().map(rows::json).transpose()?)
                .fetch_one(&mut *conn)
                .await?;
                inserted = Some(id);
            }
            Effect::CountRead { id, reads } => {
                sqlx::query("UPDATE qualifications SET reads = $1 WHERE id = $2")
                    .bind(i64::from(*reads))
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
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
            Effect::Emit { event, subject } => {
                sqlx::query(
                    "INSERT INTO jobs (kind, partner_id, qualification_id, payload, run_at) \
                     SELECT $1, r.partner_id, $2, $3::jsonb, $4 FROM webhook_registrations r \
                     WHERE r.partner_id = $5::uuid AND r.disabled IS NULL AND r.events ? $6",
                )
                .bind(hooks::DELIVERY_JOB)
                .bind(rows::resolve(*subject, inserted)?)
                .bind(rows::json(event)?)
                .bind(to_millis(event.changed_at))
                .bind(event.partner_id.to_string())
                .bind(event.event_name.name())
                .execute(&mut *conn)
                .await?;
            }
            Effect::ClearScope(scope) => removed = clear_scope(conn, *scope).await?,
            Effect::DeleteCustomer(id) => {
                for sql in [
                    "DELETE FROM webhook_attempts WHERE job_id IN (SELECT j.id FROM jobs j JOIN qualifications q \
                     ON q.id = j.qualification_id WHERE q.customer_id = $1::uuid)",
                    "DELETE FROM jobs WHERE qualification_id IN (SELECT id FROM qualifications WHERE customer_id = $1::uuid)",
                    "DELETE FROM audit_events WHERE customer_id = $1::uuid",
                    "DELETE FROM validation_statuses WHERE customer_id = $1::uuid",
                    "DELETE FROM gdap_grants WHERE customer_id = $1::uuid",
                    "DELETE FROM qualifications WHERE customer_id = $1::uuid",
                    "DELETE FROM customers WHERE id = $1::uuid",
                ] {
                    sqlx::query(sql)
                        .bind(id.to_string())
                        .execute(&mut *conn)
                        .await?;
                }
            }
            Effect::InsertCustomer(c) => {
                sqlx::query(
                    "INSERT INTO customers (id, partner_id, company_profile, company_etag, billing_profile, billing_etag, created_at) \
                     VALUES ($1::uuid, $2::uuid, $3::jsonb, $4, $5::jsonb, $6, $7)",
                )
                .bind(c.id.to_string())
                .bind(c.partner_id.to_string())
                .bind(rows::json(&c.company_profile)?)
                .bind(&c.company_etag)
                .bind(rows::json(&c.billing_profile)?)
                .bind(&c.billing_etag)
                .bind(to_millis(c.created_at))
                .execute(&mut *conn)
                .await?;
            }
            Effect::SetGdap(g) => {
                sqlx::query(
                    "INSERT INTO gdap_grants (partner_id, customer_id, roles, updated_at) VALUES ($1::uuid, $2::uuid, $3::jsonb, $4) \
                     ON CONFLICT (partner_id, customer_id) DO UPDATE SET roles = excluded.roles, updated_at = excluded.updated_at",
                )
                .bind(g.partner_id.to_string())
                .bind(g.customer_id.to_string())
                .bind(rows::gdap_roles_json(&g.roles)?)
                .bind(to_millis(g.updated_at))
                .execute(&mut *conn)
                .await?;
            }
            Effect::SetValidationStatus(v) => {
                sqlx::query(
                    "INSERT INTO validation_statuses (customer_id, status, last_update) VALUES ($1::uuid, $2, $3) \
                     ON CONFLICT (customer_id) DO UPDATE SET status = excluded.status, last_update = excluded.last_update",
                )
                .bind(v.customer_id.to_string())
                .bind(v.status.name())
                .bind(to_millis(v.last_update))
                .execute(&mut *conn)
                .await?;
            }
            Effect::UpsertValidationCode { code, at } => {
                sqlx::query(
                    "INSERT INTO validation_codes (validation_id, partner_id, organization_name, max_creates, remaining_creates, etag, created_at) \
                     VALUES ($1, $2::uuid, $3, $4, $5, $6, $7) ON CONFLICT (validation_id) DO UPDATE SET \
                     organization_name = excluded.organization_name, max_creates = excluded.max_creates, \
                     remaining_creates = excluded.remaining_creates, etag = excluded.etag",
                )
                .bind(&code.validation_id)
                .bind(code.partner_id.to_string())
                .bind(&code.organization_name)
                .bind(code.max_creates)
                .bind(code.remaining_creates)
                .bind(&code.etag)
                .bind(to_millis(*at))
                .execute(&mut *conn)
                .await?;
            }
            Effect::SetScenario { partner, scenario } => match scenario {
                Some((rules, document)) => {
                    sqlx::query(
                        "INSERT INTO scenarios (partner_id, rules, document, updated_at) VALUES ($1::uuid, $2, $3, 0) \
                         ON CONFLICT (partner_id) DO UPDATE SET rules = excluded.rules, document = excluded.document",
                    )
                    .bind(partner.to_string())
                    .bind(rows::json(rules)?)
                    .bind(rows::json(document)?)
                    .execute(&mut *conn)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM scenarios WHERE partner_id = $1::uuid")
                        .bind(partner.to_string())
                        .execute(&mut *conn)
                        .await?;
                }
            },
            Effect::SetClock { scope, setting } => match setting {
                Some(setting) => {
                    let (frozen_at, offset_ms) = rows::clock_columns(*setting);
                    sqlx::query(
                        "INSERT INTO clocks (scope, frozen_at, offset_ms) VALUES ($1, $2, $3) \
                         ON CONFLICT (scope) DO UPDATE SET frozen_at = excluded.frozen_at, offset_ms = excluded.offset_ms",
                    )
                    .bind(rows::clock_scope(*scope))
                    .bind(frozen_at)
                    .bind(offset_ms)
                    .execute(&mut *conn)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM clocks WHERE scope = $1")
                        .bind(rows::clock_scope(*scope))
                        .execute(&mut *conn)
                        .await?;
                }
            },
        }
    }
    Ok(Applied { inserted, removed })
}

/// Removes a scope's state (control.md 1): children before parents. The caller holds the
/// scope's exclusive lock.
async fn clear_scope(conn: &mut PgConnection, scope: Scope) -> StoreResult<Counts> {
    let (filter, partner) = match scope {
        Scope::All => ("$1::text IS NULL", None),
        Scope::Partner(p) => ("partner_id = $1::uuid", Some(p.to_string())),
    };
    let mut run = async |sql: String| -> StoreResult<u64> {
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(partner.clone())
            .execute(&mut *conn)
            .await?
            .rows_affected())
    };
    for table in [
        "webhook_attempts",
        "webhook_registrations",
        "jobs",
        "audit_events",
    ] {
        run(format!("DELETE FROM {table} WHERE {filter}")).await?;
    }
    run(format!(
        "DELETE FROM validation_statuses WHERE customer_id IN (SELECT id FROM customers WHERE {filter})"
    ))
    .await?;
    run(format!(
        "DELETE FROM gdap_grants WHERE {filter} OR customer_id IN (SELECT id FROM customers WHERE {filter})"
    ))
    .await?;
    for table in ["idempotency_records", "scenarios"] {
        run(format!("DELETE FROM {table} WHERE {filter}")).await?;
    }
    match scope {
        Scope::All => run("DELETE FROM clocks WHERE $1::text IS NULL".into()).await?,
        Scope::Partner(_) => run("DELETE FROM clocks WHERE scope = $1::text".into()).await?,
    };
    Ok(Counts {
        qualifications: run(format!("DELETE FROM qualifications WHERE {filter}")).await?,
        customers: run(format!("DELETE FROM customers WHERE {filter}")).await?,
        validation_codes: run(format!("DELETE FROM validation_codes WHERE {filter}")).await?,
    })
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
            let now = partner_clocks(&mut tx, partner).await?.now(ctx.wall);
            if let Some(value) = replay(&mut tx, ctx, now).await? {
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
                created_at: now,
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
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
            if !default_gdap_roles.is_empty() {
                sqlx::query("INSERT INTO gdap_grants (partner_id, customer_id, roles, updated_at) VALUES ($1::uuid, $2::uuid, $3::jsonb, $4)")
                    .bind(partner.to_string())
                    .bind(customer.id.to_string())
                    .bind(rows::gdap_roles_json(default_gdap_roles)?)
                    .bind(to_millis(now))
                    .execute(&mut *tx)
                    .await?;
            }
            remember(&mut tx, ctx, &customer).await?;
            commit(tx).await?;
            Ok(Idempotent {
                value: customer,
                replayed: false,
            })
        }
        .await;
        self.settle(ctx, result).await
    }

    async fn customer_partner(&self, id: CustomerId) -> StoreResult<Option<PartnerId>> {
        let mut conn = self.pool.acquire().await?;
        customer_owner(&mut conn, id).await
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
            let owner = customer_owner(&mut tx, customer)
                .await?
                .ok_or(ErrorKind::NotFound)?;
            let now = partner_clocks(&mut tx, owner).await?.now(ctx.wall);
            if let Some(value) = replay(&mut tx, ctx, now).await? {
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
            commit(tx).await?;
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
             q.vetting_create_date, q.education_segment, q.website, q.validation_code, q.etag, q.choice, q.reads \
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
        policy: &VettingPolicy,
    ) -> StoreResult<Idempotent<QualificationRecord>> {
        let result: StoreResult<Idempotent<QualificationRecord>> = async {
            let mut tx = self.pool.begin().await?;
            let now = partner_clocks(&mut tx, partner).await?.now(ctx.wall);
            if let Some(value) = replay(&mut tx, ctx, now).await? {
                return Ok(Idempotent {
                    value,
                    replayed: true,
                });
            }
            let snapshot =
                create_snapshot(&mut tx, partner, customer, CreateReads::of(&request)).await?;
            let plan = plan_create(
                partner,
                customer,
                &request,
                &snapshot,
                ctx.stamp(now),
                policy,
            )?;
            let id = apply(&mut tx, &plan.effects)
                .await?
                .inserted
                .ok_or_else(|| StoreError::Backend("the plan inserted nothing".into()))?;
            let record = plan.qualification.into_record(id);
            remember(&mut tx, ctx, &record).await?;
            commit(tx).await?;
            self.transition_committed();
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
            // Wall time: it only orders a partner's codes.
            .bind(to_millis(ctx.wall))
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
        let mut tx = self.pool.begin().await?;
        let owner = customer_owner(&mut tx, customer)
            .await?
            .ok_or(ErrorKind::NotFound)?;
        let saved = ValidationStatus {
            customer_id: customer,
            status,
            last_update: partner_clocks(&mut tx, owner).await?.now(ctx.wall),
        };
        apply(&mut tx, &[Effect::SetValidationStatus(saved.clone())]).await?;
        commit(tx).await?;
        Ok(saved)
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
        let mut tx = self.pool.begin().await?;
        let grant = GdapGrant {
            partner_id: partner,
            customer_id: customer,
            roles,
            updated_at: partner_clocks(&mut tx, partner).await?.now(ctx.wall),
        };
        apply(&mut tx, &[Effect::SetGdap(grant.clone())]).await?;
        commit(tx).await?;
        Ok(grant)
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
        let now = match customer_owner(&mut tx, customer).await? {
            Some(owner) => partner_clocks(&mut tx, owner).await?.now(ctx.wall),
            None => ctx.wall,
        };
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
        let plan = plan_decide(qualification, if_match, decision, &snapshot, ctx.stamp(now))?;
        apply(&mut tx, &plan.effects).await?;
        commit(tx).await?;
        self.transition_committed();
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

    async fn review_page(&self, query: &ReviewQuery) -> StoreResult<ReviewPage> {
        // One statement per combination of filters, so that each is planned on its index.
        let mut sql = String::from(
            "SELECT q.id, q.customer_id::text AS customer_id, q.partner_id::text AS partner_id, q.qualification, \
             q.vetting_status, q.vetting_reason, q.vetting_create_date, q.education_segment, q.website, \
             q.validation_code, q.etag, q.choice, q.reads, c.company_profile->>'company_name' AS company_name, \
             c.company_profile->>'domain' AS domain \
             FROM qualifications q JOIN customers c ON c.id = q.customer_id WHERE q.vetting_status = $1",
        );
        let mut n = 1;
        let mut arg = |sql: &mut String, clause: &str| {
            n += 1;
            sql.push_str(&clause.replace('$', &format!("${n}")));
        };
        if query.partner.is_some() {
            arg(&mut sql, " AND q.partner_id = $::uuid");
        }
        if query.qualification.is_some() {
            arg(&mut sql, " AND q.qualification = $");
        }
        if query.after.is_some() {
            arg(&mut sql, " AND (q.vetting_create_date, q.id) > ($");
            arg(&mut sql, ", $)");
        }
        arg(&mut sql, " ORDER BY q.vetting_create_date, q.id LIMIT $");
        // Built from the constant clauses above only; every value is a bound parameter.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(query.status.name());
        if let Some(p) = query.partner {
            q = q.bind(p.to_string());
        }
        if let Some(k) = query.qualification {
            q = q.bind(k.name());
        }
        if let Some(a) = query.after {
            q = q.bind(to_millis(a.vetting_create_date)).bind(a.id);
        }
        let found = q
            .bind(i64::from(query.limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        let items = found
            .iter()
            .map(rows::review_item)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(ReviewPage::of(items, query.limit))
    }

    async fn transitions(
        &self,
        after: i64,
        partner: Option<PartnerId>,
        limit: u32,
    ) -> StoreResult<TransitionPage> {
        let stable = self.advance_horizon().await?;
        if after >= stable {
            return Ok(TransitionPage {
                items: vec![],
                last_seq: after,
            });
        }
        let found = match partner {
            None => {
                sqlx::query(concat!(
                    transition_columns!(),
                    " WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3"
                ))
                .bind(after)
                .bind(stable)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
            Some(p) => {
                sqlx::query(concat!(
                    transition_columns!(),
                    " WHERE partner_id = $4::uuid AND id > $1 AND id <= $2 ORDER BY id LIMIT $3"
                ))
                .bind(after)
                .bind(stable)
                .bind(i64::from(limit))
                .bind(p.to_string())
                .fetch_all(&self.pool)
                .await?
            }
        };
        let items = found
            .iter()
            .map(rows::transition)
            .collect::<StoreResult<Vec<_>>>()?;
        let last_seq = if items.len() >= limit as usize {
            items.last().map_or(after, |t| t.seq)
        } else {
            stable
        };
        Ok(TransitionPage { items, last_seq })
    }

    async fn transition_horizon(&self) -> StoreResult<i64> {
        // A hole right now waits for the transactions running now (milliseconds); bounded.
        let mut stable = self.advance_horizon().await?;
        for _ in 0..100 {
            if self.horizon.lock().await.pending.is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            stable = self.advance_horizon().await?;
        }
        Ok(stable)
    }

    fn transitions_signal(&self) -> Option<Arc<Notify>> {
        Some(self.transitions_signal.clone())
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
        wall: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let wall_ms = to_millis(wall);
        let until = wall_ms + lease.as_millis() as i64;
        let mut conn = self.pool.acquire().await?;
        let (gfrozen, goffset) = own_clock(&mut conn, Scope::All)
            .await?
            .map_or((None, None), rows::clock_columns);
        let claimed = sqlx::query(concat!(
            "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 WHERE id IN \
             (SELECT j.id FROM jobs j LEFT JOIN clocks c ON c.scope = j.partner_id::text \
              WHERE j.done_at IS NULL AND (j.lease_until IS NULL OR j.lease_until < $3) AND (",
            job_due_wall!(),
            ") <= $3 ORDER BY j.run_at, j.id LIMIT $4 FOR UPDATE OF j SKIP LOCKED) RETURNING ",
            job_columns!()
        ))
        .bind(owner)
        .bind(until)
        .bind(wall_ms)
        .bind(i64::from(limit))
        .bind(gfrozen)
        .bind(goffset)
        .fetch_all(&mut *conn)
        .await?;
        claimed.iter().map(rows::job).collect()
    }

    async fn claim_jobs_due_by(
        &self,
        owner: &str,
        wall: OffsetDateTime,
        lease: Duration,
        limit: u32,
        scope: Scope,
        due_by: OffsetDateTime,
    ) -> StoreResult<Vec<Job>> {
        let wall_ms = to_millis(wall);
        let until = wall_ms + lease.as_millis() as i64;
        let (filter, param) = control::scope_filter(scope, 3);
        let claimed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET lease_owner = $5, lease_until = $6, attempts = attempts + 1 WHERE id IN \
             (SELECT id FROM jobs WHERE done_at IS NULL AND (lease_until IS NULL OR lease_until < $1) \
              AND run_at <= $2 AND {filter} ORDER BY run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING {}",
            job_columns!()
        )))
        .bind(wall_ms)
        .bind(to_millis(due_by))
        .bind(param)
        .bind(i64::from(limit))
        .bind(owner)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        claimed.iter().map(rows::job).collect()
    }

    async fn unfinished_due_by(&self, scope: Scope, due_by: OffsetDateTime) -> StoreResult<u64> {
        let mut conn = self.pool.acquire().await?;
        control::unfinished_due_by(&mut conn, scope, due_by).await
    }

    async fn transitions_after(
        &self,
        seq: i64,
        scope: Scope,
        to: OffsetDateTime,
    ) -> StoreResult<Vec<AppliedTransition>> {
        let mut conn = self.pool.acquire().await?;
        control::transitions_after(&mut conn, seq, scope, to).await
    }

    async fn last_audit_seq(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0)::bigint FROM audit_events")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn partner_clocks(&self, partner: PartnerId) -> StoreResult<PartnerClocks> {
        let mut conn = self.pool.acquire().await?;
        partner_clocks(&mut conn, partner).await
    }

    async fn clock(&self, scope: Scope) -> StoreResult<Option<ClockSetting>> {
        let mut conn = self.pool.acquire().await?;
        own_clock(&mut conn, scope).await
    }

    async fn change_clock(
        &self,
        scope: Scope,
        wall: OffsetDateTime,
        change: ClockChange,
    ) -> StoreResult<ClockPlan> {
        let mut tx = self.pool.begin().await?;
        let plan = control::change_clock(&mut tx, scope, wall, change).await?;
        commit(tx).await?;
        Ok(plan)
    }

    async fn plan_clock_change(
        &self,
        scope: Scope,
        wall: OffsetDateTime,
        change: ClockChange,
    ) -> StoreResult<ClockPlan> {
        let mut conn = self.pool.acquire().await?;
        control::plan_clock_change(&mut conn, scope, wall, change).await
    }

    async fn scenario(&self, partner: PartnerId) -> StoreResult<Option<serde_json::Value>> {
        let mut conn = self.pool.acquire().await?;
        Ok(control::scenario_pair(&mut conn, partner)
            .await?
            .map(|(_, document)| document))
    }

    async fn set_scenario(
        &self,
        partner: PartnerId,
        scenario: Option<(Scenario, serde_json::Value)>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        partner_clocks(&mut tx, partner).await?;
        apply(&mut tx, &[Effect::SetScenario { partner, scenario }]).await?;
        commit(tx).await?;
        Ok(())
    }

    async fn apply_fixture(
        &self,
        mode: FixtureMode,
        fixture: &Fixture,
        wall: OffsetDateTime,
        policy: &VettingPolicy,
    ) -> StoreResult<FixtureOutcome> {
        let mut tx = self.pool.begin().await?;
        let outcome = control::apply_fixture(&mut tx, &mode, fixture, wall, policy).await?;
        commit(tx).await?;
        Ok(outcome)
    }

    async fn snapshot(&self, scope: Scope) -> StoreResult<Fixture> {
        // One consistent view of everything the document holds.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        let fixture = control::snapshot(&mut tx, scope).await?;
        commit(tx).await?;
        Ok(fixture)
    }

    async fn seed_applied(&self, sha256: &str) -> StoreResult<bool> {
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM seeds WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    async fn current_seed(&self) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT document FROM seeds ORDER BY applied_at DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn count_reads(
        &self,
        customer: CustomerId,
        wall: OffsetDateTime,
        policy: &VettingPolicy,
        only: Option<i64>,
    ) -> StoreResult<Option<CountedRead>> {
        let mut tx = self.pool.begin().await?;
        let shown = control::count_reads(&mut tx, customer, wall, policy, only).await?;
        commit(tx).await?;
        Ok(shown)
    }

    async fn run_vetting_job(
        &self,
        job: &Job,
        owner: &str,
        now: OffsetDateTime,
        policy: &VettingPolicy,
    ) -> StoreResult<JobFinish> {
        let mut tx = self.pool.begin().await?;
        // The partner's lock before any row lock (a reset takes it exclusively first).
        partner_clocks(&mut tx, job.partner).await?;
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
        commit(tx).await?;
        if plan.effects.iter().any(|e| matches!(e, Effect::Audit(_))) {
            self.transition_committed();
        }
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
        commit(tx).await?;
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

    async fn release_job(&self, job: &Job, owner: &str) -> StoreResult<bool> {
        let released = sqlx::query(
            "UPDATE jobs SET lease_owner = NULL, lease_until = NULL, attempts = GREATEST(attempts - 1, 0) \
             WHERE id = $1 AND lease_owner = $2 AND done_at IS NULL",
        )
        .bind(job.id)
        .bind(owner)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(released == 1)
    }

    async fn release_jobs(&self, owner: &str) -> StoreResult<u64> {
        let r = sqlx::query("UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1 AND done_at IS NULL")
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    async fn queue_stats(&self, kind: &str, wall: OffsetDateTime) -> StoreResult<QueueStats> {
        let mut conn = self.pool.acquire().await?;
        let (gfrozen, goffset) = own_clock(&mut conn, Scope::All)
            .await?
            .map_or((None, None), rows::clock_columns);
        // A job's age: its partner's domain time now minus its due time (due when >= 0).
        let (pending, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MAX(CASE WHEN c.frozen_at IS NOT NULL THEN c.frozen_at \
                  WHEN c.offset_ms IS NOT NULL THEN $1 + c.offset_ms \
                  WHEN $3::bigint IS NOT NULL THEN $3::bigint \
                  ELSE $1 + COALESCE($4::bigint, 0) END - j.run_at) \
             FROM jobs j LEFT JOIN clocks c ON c.scope = j.partner_id::text \
             WHERE j.done_at IS NULL AND j.kind = $2",
        )
        .bind(to_millis(wall))
        .bind(kind)
        .bind(gfrozen)
        .bind(goffset)
        .fetch_one(&mut *conn)
        .await?;
        Ok(QueueStats::of(pending, oldest))
    }

    async fn next_job_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        let mut conn = self.pool.acquire().await?;
        let (gfrozen, goffset) = own_clock(&mut conn, Scope::All)
            .await?
            .map_or((None, None), rows::clock_columns);
        // $1..$4 of the claim are unused here; $5, $6 are the global clock.
        let at: Option<i64> = sqlx::query_scalar(concat!(
            "SELECT MIN(CASE WHEN due IS NULL THEN NULL ELSE GREATEST(due, COALESCE(lease_until, 0)) END) FROM \
             (SELECT (",
            job_due_wall!(),
            ") AS due, j.lease_until FROM jobs j LEFT JOIN clocks c ON c.scope = j.partner_id::text \
              WHERE j.done_at IS NULL AND $1::bigint IS NULL AND $2::bigint IS NULL AND $3::bigint IS NULL \
              AND $4::bigint IS NULL) d"
        ))
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(gfrozen)
        .bind(goffset)
        .fetch_one(&mut *conn)
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
        commit(tx).await?;
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
        commit(tx).await?;
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
        commit(tx).await?;
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
                commit(tx).await?;
                return Ok(Some(FaultHit { fault, removed }));
            }
        }
        commit(tx).await?;
        Ok(None)
    }

    async fn webhook_registration(&self, partner: PartnerId) -> StoreResult<Option<Registration>> {
        webhooks::registration(&self.pool, partner).await
    }

    async fn put_webhook_registration(
        &self,
        registration: &Registration,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        webhooks::put_registration(&self.pool, registration, now).await
    }

    async fn delete_webhook_registration(
        &self,
        partner: PartnerId,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        webhooks::delete_registration(&self.pool, partner, now).await
    }

    async fn signing_key(&self, key: Option<SigningKey>) -> StoreResult<Option<SigningKey>> {
        webhooks::signing_key(&self.pool, key).await
    }

    async fn deliveries(
        &self,
        partner: PartnerId,
        status: Option<DeliveryStatus>,
    ) -> StoreResult<Vec<Delivery>> {
        webhooks::deliveries(&self.pool, partner, status).await
    }

    async fn delivery(&self, find: DeliveryRef<'_>) -> StoreResult<Option<Delivery>> {
        webhooks::delivery(&self.pool, find).await
    }

    async fn finish_attempt(
        &self,
        job: &Job,
        owner: &str,
        attempt: &Attempt,
        verdict: Verdict,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let held = webhooks::finish_attempt(&mut tx, job, owner, attempt, verdict).await?;
        commit(tx).await?;
        Ok(held)
    }

    async fn redeliver(&self, id: i64, now: OffsetDateTime) -> StoreResult<Option<Delivery>> {
        webhooks::redeliver(&self.pool, id, now).await
    }
}
