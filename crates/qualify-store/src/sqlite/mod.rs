//! The embedded SQLite backend: WAL, `synchronous=FULL` (a committed write is on disk), one
//! writer connection (writes are serialised, so the rules read inside a transaction cannot race)
//! and a pool of readers.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use qualify_core::customer::{BillingProfile, CompanyProfile, Customer, NewCustomer};
use qualify_core::qualification::{
    EducationSegment, QualificationRecord, SettableQualification, Transition, VettingDecision,
    VettingStatus, transition,
};
use qualify_core::rules::{QualificationRequest, check_against_existing, check_validation_code};
use qualify_core::time_fmt::{from_millis, to_millis};
use qualify_core::validation::{
    AccountStatus, GdapGrant, GdapRole, ValidationCode, ValidationStatus,
};
use qualify_core::{CustomerId, DomainError, ErrorKind, PartnerId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection, SqlitePool};
use time::OffsetDateTime;

use crate::rows;

mod writer;
use crate::{
    AuditEvent, ClaimedJob, CustomerPage, Idempotent, JobFinish, JobOutcome, Store, StoreError,
    StoreResult, WriteContext, new_etag, new_validation_id,
};
use writer::Writer;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a request waits for a connection before the store reports itself unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct SqliteStore {
    writer: Writer,
    reader: SqlitePool,
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` and applies the migrations.
    /// `url` is `sqlite:PATH`, `sqlite://PATH`, `sqlite::memory:` or a bare file path.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let base = if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url)?
        } else {
            SqliteConnectOptions::new().filename(url)
        };
        // `sqlite::memory:` is a named shared-cache database: the writer and the readers see
        // the same data, and it lives as long as the writer's connection.
        let memory = base.get_filename().to_string_lossy().contains("in-memory")
            || url.contains("mode=memory");
        let options = base
            .create_if_missing(true)
            .journal_mode(if memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migrations failed: {e}")))?;
        let writer = Writer::start(pool.acquire().await?);
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(if memory {
                options
            } else {
                options.read_only(true)
            })
            .await?;
        Ok(Self {
            writer,
            reader,
            pool,
        })
    }

    pub async fn close(&self) {
        self.reader.close().await;
        self.pool.close().await;
    }
}

// ---- columns -----------------------------------------------------------------------------------

macro_rules! qualification_columns {
    () => {
        "id, customer_id, partner_id, qualification, vetting_status, vetting_reason, vetting_create_date, \
         education_segment, website, validation_code, etag"
    };
}

macro_rules! customer_columns {
    () => {
        "seq, id, partner_id, company_profile, company_etag, billing_profile, billing_etag, created_at"
    };
}

crate::rows::impl_cells!(SqliteRow);

// ---- transaction helpers ----------------------------------------------------------------------

/// The stored result of an earlier request with the same key, or 409 when the key was used for
/// a different request.
async fn replay<T: DeserializeOwned>(
    conn: &mut SqliteConnection,
    ctx: &WriteContext,
) -> StoreResult<Option<T>> {
    let Some(key) = &ctx.idempotency else {
        return Ok(None);
    };
    let row = sqlx::query("SELECT fingerprint, response FROM idempotency_records WHERE partner_id = ? AND request_id = ?")
        .bind(key.partner.to_string())
        .bind(&key.request_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let fingerprint: String = row.try_get("fingerprint")?;
    if fingerprint != key.fingerprint {
        return Err(DomainError::of(ErrorKind::IdempotencyKeyReused).into());
    }
    Ok(Some(rows::replayed(
        &row.try_get::<String, _>("response")?,
    )?))
}

async fn remember<T: Serialize>(
    conn: &mut SqliteConnection,
    ctx: &WriteContext,
    value: &T,
) -> StoreResult<()> {
    let Some(key) = &ctx.idempotency else {
        return Ok(());
    };
    sqlx::query("INSERT INTO idempotency_records (partner_id, request_id, fingerprint, response, created_at) VALUES (?, ?, ?, ?, ?)")
        .bind(key.partner.to_string())
        .bind(&key.request_id)
        .bind(&key.fingerprint)
        .bind(rows::stored_ok(value)?)
        .bind(to_millis(ctx.now))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn load_qualifications(
    conn: &mut SqliteConnection,
    customer: CustomerId,
) -> StoreResult<Vec<QualificationRecord>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        qualification_columns!(),
        " FROM qualifications WHERE customer_id = ? ORDER BY id"
    ))
    .bind(customer.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(rows::qualification).collect()
}

#[allow(clippy::too_many_arguments)]
async fn insert_audit(
    conn: &mut SqliteConnection,
    q: &QualificationRecord,
    at: OffsetDateTime,
    actor: &str,
    from: Option<VettingStatus>,
    to: VettingStatus,
    reason: Option<&str>,
    ids: Option<(&str, &str)>,
    profile_etag: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_events (qualification_id, customer_id, partner_id, qualification, at, actor, from_status, \
         to_status, reason, request_id, correlation_id, profile_etag) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(q.id)
    .bind(q.customer_id.to_string())
    .bind(q.partner_id.to_string())
    .bind(q.qualification.name())
    .bind(to_millis(at))
    .bind(actor)
    .bind(from.map(VettingStatus::name))
    .bind(to.name())
    .bind(reason)
    .bind(ids.map(|i| i.0))
    .bind(ids.map(|i| i.1))
    .bind(profile_etag)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn company_etag(
    conn: &mut SqliteConnection,
    customer: CustomerId,
) -> StoreResult<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT company_etag FROM customers WHERE id = ?")
            .bind(customer.to_string())
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// Applies a decision to a qualification, with its audit event. Returns the updated record, or
/// `None` when the same decision was already applied.
async fn apply_decision(
    conn: &mut SqliteConnection,
    q: &QualificationRecord,
    decision: &VettingDecision,
    at: OffsetDateTime,
    actor: &str,
    ids: Option<(&str, &str)>,
) -> StoreResult<Option<QualificationRecord>> {
    let Transition::Decide { from, to } = transition(q.vetting_status, decision)? else {
        return Ok(None);
    };
    let etag = new_etag();
    let done = sqlx::query(
        "UPDATE qualifications SET vetting_status = ?, vetting_reason = ?, etag = ?, decided_at = ? \
         WHERE id = ? AND vetting_status = 'InReview'",
    )
    .bind(to.name())
    .bind(decision.reason.as_deref())
    .bind(&etag)
    .bind(to_millis(at))
    .bind(q.id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Err(DomainError::of(ErrorKind::AlreadyDecided).into());
    }
    let profile = company_etag(conn, q.customer_id).await?;
    insert_audit(
        conn,
        q,
        at,
        actor,
        Some(from),
        to,
        decision.reason.as_deref(),
        ids,
        profile.as_deref(),
    )
    .await?;
    Ok(Some(QualificationRecord {
        vetting_status: to,
        vetting_reason: decision.reason.clone(),
        etag,
        ..q.clone()
    }))
}

// ---- the Store ----------------------------------------------------------------------------------

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn create_customer(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        new: NewCustomer,
        default_gdap_roles: &[GdapRole],
    ) -> StoreResult<Idempotent<Customer>> {
        let owned_ctx = ctx.clone();
        let default_gdap_roles = default_gdap_roles.to_vec();
        self.writer
            .write_idempotent(ctx, move |mut tx| async move {
                let ctx = &owned_ctx;
                let default_gdap_roles = default_gdap_roles.as_slice();
                let result: StoreResult<Idempotent<Customer>> = async {
                    if let Some(value) = replay(&mut tx, ctx).await? {
                        return Ok(Idempotent {
                            value,
                            replayed: true,
                        });
                    }
                    let customer = Customer {
                        id: CustomerId::new_random(),
                        partner_id: partner,
                        company_profile: new.company_profile,
                        company_etag: new_etag(),
                        billing_profile: new.billing_profile,
                        billing_etag: new_etag(),
                        created_at: ctx.now,
                    };
                    sqlx::query(
                        "INSERT INTO customers (id, partner_id, company_profile, company_etag, billing_profile, billing_etag, created_at) \
                         VALUES (?, ?, ?, ?, ?, ?, ?)",
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
                        sqlx::query("INSERT INTO gdap_grants (partner_id, customer_id, roles, updated_at) VALUES (?, ?, ?, ?)")
                            .bind(partner.to_string())
                            .bind(customer.id.to_string())
                            .bind(rows::gdap_roles_json(default_gdap_roles)?)
                            .bind(to_millis(ctx.now))
                            .execute(&mut *tx)
                            .await?;
                    }
                    remember(&mut tx, ctx, &customer).await?;
                    Ok(Idempotent {
                        value: customer,
                        replayed: false,
                    })
                }
                .await;
                (tx, result)
            })
            .await
    }

    async fn customer_partner(&self, id: CustomerId) -> StoreResult<Option<PartnerId>> {
        let partner: Option<String> =
            sqlx::query_scalar("SELECT partner_id FROM customers WHERE id = ?")
                .bind(id.to_string())
                .fetch_optional(&self.reader)
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
            " FROM customers WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(rows::customer).transpose()
    }

    async fn list_customers(
        &self,
        partner: PartnerId,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<CustomerPage> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            customer_columns!(),
            " FROM customers WHERE partner_id = ? AND seq > ? ORDER BY seq LIMIT ?"
        ))
        .bind(partner.to_string())
        .bind(after.unwrap_or(0))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.reader)
        .await?;
        let more = rows.len() > limit as usize;
        let rows = &rows[..rows.len().min(limit as usize)];
        let next = if more {
            rows.last()
                .map(|r| r.try_get::<i64, _>("seq"))
                .transpose()?
        } else {
            None
        };
        Ok(CustomerPage {
            items: rows
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
        let owned_ctx = ctx.clone();
        let if_match = if_match.to_owned();
        self.writer
            .write_idempotent(ctx, move |mut tx| async move {
                let ctx = &owned_ctx;
                let if_match = if_match.as_str();
                let result: StoreResult<Idempotent<Customer>> = async {
                    if let Some(value) = replay(&mut tx, ctx).await? {
                        return Ok(Idempotent {
                            value,
                            replayed: true,
                        });
                    }
                    let row = sqlx::query(concat!(
                        "SELECT ",
                        customer_columns!(),
                        " FROM customers WHERE id = ?"
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
                    sqlx::query(
                        "UPDATE customers SET billing_profile = ?, billing_etag = ? WHERE id = ?",
                    )
                    .bind(rows::json(&updated.billing_profile)?)
                    .bind(&updated.billing_etag)
                    .bind(customer.to_string())
                    .execute(&mut *tx)
                    .await?;
                    remember(&mut tx, ctx, &updated).await?;
                    Ok(Idempotent {
                        value: updated,
                        replayed: false,
                    })
                }
                .await;
                (tx, result)
            })
            .await
    }

    async fn qualifications(&self, customer: CustomerId) -> StoreResult<Vec<QualificationRecord>> {
        let mut conn = self.reader.acquire().await?;
        load_qualifications(&mut conn, customer).await
    }

    async fn create_qualification(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        customer: CustomerId,
        request: QualificationRequest,
        vet_at: OffsetDateTime,
    ) -> StoreResult<Idempotent<QualificationRecord>> {
        let owned_ctx = ctx.clone();
        self.writer
            .write_idempotent(ctx, move |mut tx| async move {
                let ctx = &owned_ctx;
                let result: StoreResult<Idempotent<QualificationRecord>> = async {
                    if let Some(value) = replay(&mut tx, ctx).await? {
                        return Ok(Idempotent {
                            value,
                            replayed: true,
                        });
                    }
                    if request.qualification == SettableQualification::GovernmentCommunityCloud {
                        let grant = sqlx::query("SELECT partner_id, customer_id, roles, updated_at FROM gdap_grants WHERE partner_id = ? AND customer_id = ?")
                            .bind(partner.to_string())
                            .bind(customer.to_string())
                            .fetch_optional(&mut *tx)
                            .await?;
                        let allowed = grant
                            .as_ref()
                            .map(rows::gdap)
                            .transpose()?
                            .is_some_and(|g| g.allows_gcc());
                        if !allowed {
                            return Err(DomainError::new(
                                ErrorKind::Forbidden,
                                "GovernmentCommunityCloud requires one of the GDAP roles Directory Reader, Directory Writer, \
                                 License Administrator or User Administrator over this customer.",
                            )
                            .into());
                        }
                    }
                    let existing = load_qualifications(&mut tx, customer).await?;
                    check_against_existing(&request, &existing)?;
                    if let Some(code) = &request.validation_code {
                        let row = sqlx::query("SELECT * FROM validation_codes WHERE validation_id = ?")
                            .bind(code)
                            .fetch_optional(&mut *tx)
                            .await?;
                        let found = row.as_ref().map(rows::validation_code).transpose()?;
                        check_validation_code(partner, found.as_ref())?;
                        sqlx::query(
                            "UPDATE validation_codes SET remaining_creates = remaining_creates - 1, etag = ? \
                             WHERE validation_id = ? AND remaining_creates > 0",
                        )
                        .bind(new_etag())
                        .bind(code)
                        .execute(&mut *tx)
                        .await?;
                    }
                    let etag = new_etag();
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO qualifications (customer_id, partner_id, qualification, vetting_status, vetting_create_date, \
                         education_segment, website, validation_code, etag) VALUES (?, ?, ?, 'InReview', ?, ?, ?, ?, ?) RETURNING id",
                    )
                    .bind(customer.to_string())
                    .bind(partner.to_string())
                    .bind(request.qualification.name())
                    .bind(to_millis(ctx.now))
                    .bind(request.education_segment.map(EducationSegment::name))
                    .bind(request.website.as_deref())
                    .bind(request.validation_code.as_deref())
                    .bind(&etag)
                    .fetch_one(&mut *tx)
                    .await?;
                    let record = QualificationRecord {
                        id,
                        customer_id: customer,
                        partner_id: partner,
                        qualification: request.qualification,
                        vetting_status: VettingStatus::InReview,
                        vetting_reason: None,
                        vetting_create_date: ctx.now,
                        education_segment: request.education_segment,
                        website: request.website,
                        validation_code: request.validation_code,
                        etag,
                    };
                    sqlx::query(
                        "INSERT INTO jobs (kind, qualification_id, partner_id, run_at) VALUES ('vet', ?, ?, ?)",
                    )
                    .bind(id)
                    .bind(partner.to_string())
                    .bind(to_millis(vet_at))
                    .execute(&mut *tx)
                    .await?;
                    let profile = company_etag(&mut tx, customer).await?;
                    let ids = (ctx.request_id.as_str(), ctx.correlation_id.as_str());
                    insert_audit(
                        &mut tx,
                        &record,
                        ctx.now,
                        &ctx.actor,
                        None,
                        VettingStatus::InReview,
                        None,
                        Some(ids),
                        profile.as_deref(),
                    )
                    .await?;
                    remember(&mut tx, ctx, &record).await?;
                    Ok(Idempotent {
                        value: record,
                        replayed: false,
                    })
                }
                .await;
                (tx, result)
            })
            .await
    }

    async fn validation_codes(&self, partner: PartnerId) -> StoreResult<Vec<ValidationCode>> {
        let rows = sqlx::query("SELECT * FROM validation_codes WHERE partner_id = ? ORDER BY created_at, validation_id")
            .bind(partner.to_string())
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(rows::validation_code).collect()
    }

    async fn issue_validation_code(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        organization_name: &str,
        max_creates: i64,
    ) -> StoreResult<ValidationCode> {
        let ctx = ctx.clone();
        let organization_name = organization_name.to_owned();
        self.writer
            .write(move |mut tx| async move {
                let ctx = &ctx;
                let organization_name = organization_name.as_str();
                let result: StoreResult<_> = async {
                // Ids are random; a collision is retried with another.
                let mut code = None;
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
                         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (validation_id) DO NOTHING",
                    )
                    .bind(&candidate.validation_id)
                    .bind(partner.to_string())
                    .bind(organization_name)
                    .bind(max_creates)
                    .bind(max_creates)
                    .bind(&candidate.etag)
                    .bind(to_millis(ctx.now))
                    .execute(&mut *tx)
                    .await?;
                    if inserted.rows_affected() == 1 {
                        code = Some(candidate);
                        break;
                    }
                }
                let code =
                    code.ok_or_else(|| StoreError::Backend("could not find a free validation id".into()))?;
                Ok(code)
                }
                .await;
                (tx, result)
            })
            .await
    }

    async fn validation_status(
        &self,
        customer: CustomerId,
    ) -> StoreResult<Option<ValidationStatus>> {
        let row = sqlx::query(
            "SELECT status, last_update FROM validation_statuses WHERE customer_id = ?",
        )
        .bind(customer.to_string())
        .fetch_optional(&self.reader)
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
        let now = to_millis(ctx.now);
        self.writer
            .write(move |mut conn| async move {
                let r = sqlx::query(
                    "INSERT INTO validation_statuses (customer_id, status, last_update) VALUES (?, ?, ?) \
                     ON CONFLICT (customer_id) DO UPDATE SET status = excluded.status, last_update = excluded.last_update",
                )
                .bind(customer.to_string())
                .bind(status.name())
                .bind(now)
                .execute(&mut *conn)
                .await;
                (conn, r.map_err(StoreError::from))
            })
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
        let row = sqlx::query("SELECT partner_id, customer_id, roles, updated_at FROM gdap_grants WHERE partner_id = ? AND customer_id = ?")
            .bind(partner.to_string())
            .bind(customer.to_string())
            .fetch_optional(&self.reader)
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
        let roles_json = rows::gdap_roles_json(&roles)?;
        let now = to_millis(ctx.now);
        self.writer
            .write(move |mut conn| async move {
                let r = sqlx::query(
                    "INSERT INTO gdap_grants (partner_id, customer_id, roles, updated_at) VALUES (?, ?, ?, ?) \
                     ON CONFLICT (partner_id, customer_id) DO UPDATE SET roles = excluded.roles, updated_at = excluded.updated_at",
                )
                .bind(partner.to_string())
                .bind(customer.to_string())
                .bind(roles_json)
                .bind(now)
                .execute(&mut *conn)
                .await;
                (conn, r.map_err(StoreError::from))
            })
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
        let rows = sqlx::query(concat!(
            "SELECT ",
            qualification_columns!(),
            " FROM qualifications WHERE vetting_status = ? ORDER BY vetting_create_date, id LIMIT ?"
        ))
        .bind(status.name())
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(rows::qualification).collect()
    }

    async fn decide(
        &self,
        ctx: &WriteContext,
        customer: CustomerId,
        qualification: SettableQualification,
        if_match: &str,
        decision: &VettingDecision,
    ) -> StoreResult<QualificationRecord> {
        let ctx = ctx.clone();
        let if_match = if_match.to_owned();
        let decision = decision.clone();
        self.writer
            .write(move |mut tx| async move {
                let ctx = &ctx;
                let if_match = if_match.as_str();
                let decision = &decision;
                let result: StoreResult<_> = async {
                let row = sqlx::query(concat!(
                    "SELECT ", qualification_columns!(), " FROM qualifications WHERE customer_id = ? AND qualification = ? ORDER BY id DESC LIMIT 1"
                ))
                .bind(customer.to_string())
                .bind(qualification.name())
                .fetch_optional(&mut *tx)
                .await?;
                let current = row
                    .as_ref()
                    .map(rows::qualification)
                    .transpose()?
                    .ok_or_else(|| {
                        DomainError::new(
                            ErrorKind::NotFound,
                            format!("The customer has no {qualification} qualification request."),
                        )
                    })?;
                if current.vetting_status.is_terminal() {
                    return Err(DomainError::new(
                        ErrorKind::AlreadyDecided,
                        format!("The {qualification} qualification is already {}; terminal states never change.", current.vetting_status),
                    )
                    .into());
                }
                if current.etag != if_match {
                    return Err(ErrorKind::PreconditionFailed.into());
                }
                let ids = (ctx.request_id.as_str(), ctx.correlation_id.as_str());
                let updated = apply_decision(&mut tx, &current, decision, ctx.now, &ctx.actor, Some(ids))
                    .await?
                    .ok_or(ErrorKind::AlreadyDecided)?;
                Ok(updated)
                }
                .await;
                (tx, result)
            })
            .await
    }

    async fn history(
        &self,
        customer: CustomerId,
        qualification: SettableQualification,
    ) -> StoreResult<Vec<AuditEvent>> {
        let rows = sqlx::query(
            "SELECT at, actor, from_status, to_status, reason, request_id, correlation_id, profile_etag FROM audit_events \
             WHERE customer_id = ? AND qualification = ? ORDER BY id",
        )
        .bind(customer.to_string())
        .bind(qualification.name())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(rows::audit_event).collect()
    }

    async fn claim_jobs(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedJob>> {
        let now_ms = to_millis(now);
        let until = now_ms + lease.as_millis() as i64;
        let owner = owner.to_owned();
        self.writer
            .write(move |mut tx| async move {
                let owner = owner.as_str();
                let result: StoreResult<_> = async {
                let claimed = sqlx::query(
                    "UPDATE jobs SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 WHERE id IN \
                     (SELECT id FROM jobs WHERE done_at IS NULL AND run_at <= ? AND (lease_until IS NULL OR lease_until < ?) \
                      ORDER BY run_at, id LIMIT ?) RETURNING id, qualification_id, attempts",
                )
                .bind(owner)
                .bind(until)
                .bind(now_ms)
                .bind(now_ms)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
                let mut jobs = Vec::with_capacity(claimed.len());
                for row in &claimed {
                    let qid: i64 = row.try_get("qualification_id")?;
                    let q = sqlx::query(concat!(
                        "SELECT ",
                        qualification_columns!(),
                        " FROM qualifications WHERE id = ?"
                    ))
                    .bind(qid)
                    .fetch_one(&mut *tx)
                    .await?;
                    let qualification = rows::qualification(&q)?;
                    let c = sqlx::query("SELECT company_profile, company_etag FROM customers WHERE id = ?")
                        .bind(qualification.customer_id.to_string())
                        .fetch_one(&mut *tx)
                        .await?;
                    jobs.push(ClaimedJob {
                        id: row.try_get("id")?,
                        attempts: row.try_get("attempts")?,
                        company: rows::from_json::<CompanyProfile>(
                            "company profile",
                            &c.try_get::<String, _>("company_profile")?,
                        )?,
                        company_etag: c.try_get("company_etag")?,
                        qualification,
                    });
                }
                Ok(jobs)
                }
                .await;
                (tx, result)
            })
            .await
    }

    async fn finish_job(
        &self,
        job: &ClaimedJob,
        owner: &str,
        now: OffsetDateTime,
        outcome: &JobOutcome,
    ) -> StoreResult<JobFinish> {
        let job = job.clone();
        let owner = owner.to_owned();
        let outcome = outcome.clone();
        self.writer
            .write(move |mut tx| async move {
                let job = &job;
                let owner = owner.as_str();
                let outcome = &outcome;
                let result: StoreResult<_> = async {
                let held: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM jobs WHERE id = ? AND lease_owner = ? AND done_at IS NULL",
                )
                .bind(job.id)
                .bind(owner)
                .fetch_optional(&mut *tx)
                .await?;
                if held.is_none() {
                    return Ok(JobFinish::LeaseLost);
                }
                let (finish, label) = match outcome {
                    JobOutcome::AwaitReviewer => {
                        (JobFinish::LeftForReviewer, "awaiting-reviewer".to_owned())
                    }
                    JobOutcome::Decide(decision) => {
                        // Re-read inside the transaction: a reviewer may have decided meanwhile.
                        let row = sqlx::query(concat!(
                            "SELECT ",
                            qualification_columns!(),
                            " FROM qualifications WHERE id = ?"
                        ))
                        .bind(job.qualification.id)
                        .fetch_one(&mut *tx)
                        .await?;
                        let current = rows::qualification(&row)?;
                        if current.vetting_status.is_terminal() {
                            (
                                JobFinish::NoChange,
                                format!("already-{}", current.vetting_status),
                            )
                        } else {
                            apply_decision(&mut tx, &current, decision, now, "vetting-policy", None)
                                .await?;
                            (
                                JobFinish::Decided,
                                decision.status.vetting_status().name().to_owned(),
                            )
                        }
                    }
                };
                sqlx::query("UPDATE jobs SET done_at = ?, outcome = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?")
                    .bind(to_millis(now))
                    .bind(label)
                    .bind(job.id)
                    .execute(&mut *tx)
                    .await?;
                Ok(finish)
                }
                .await;
                (tx, result)
            })
            .await
    }

    async fn release_jobs(&self, owner: &str) -> StoreResult<u64> {
        let owner = owner.to_owned();
        self.writer
            .write(move |mut conn| async move {
                let r = sqlx::query("UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ? AND done_at IS NULL")
                    .bind(owner)
                    .execute(&mut *conn)
                    .await;
                (conn, r.map(|r| r.rows_affected()).map_err(StoreError::from))
            })
            .await
    }

    async fn next_job_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(MAX(run_at, COALESCE(lease_until, 0))) FROM jobs WHERE done_at IS NULL",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok(at.map(from_millis))
    }

    async fn purge_idempotency(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let before = to_millis(before);
        self.writer
            .write(move |mut conn| async move {
                let r = sqlx::query("DELETE FROM idempotency_records WHERE created_at < ?")
                    .bind(before)
                    .execute(&mut *conn)
                    .await;
                (conn, r.map(|r| r.rows_affected()).map_err(StoreError::from))
            })
            .await
    }
}
