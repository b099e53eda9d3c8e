//! The embedded SQLite backend: WAL, `synchronous=FULL` (a committed write is on disk), one
//! writer thread with group commit (writes are serialised, so the rules read inside a
//! transaction cannot race) and a small set of reader connections.
//!
//! Statements run synchronously through `rusqlite` with cached prepared statements. Reads run on
//! the calling task: in WAL mode a reader never waits for the writer, and a point read from the
//! page cache takes microseconds, less than handing it to another thread would.

use std::sync::{Arc, Mutex};
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
use rusqlite::{Connection, OpenFlags, Params, Row, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::rows;

mod control;
mod migrate;
mod webhooks;
mod writer;
use crate::rows::Applied;
use crate::{
    AppliedTransition, Attempt, AuditEvent, CountedRead, CustomerPage, Delivery, DeliveryRef,
    DeliveryStatus, FaultHit, FixtureMode, FixtureOutcome, Idempotent, QueueStats, ReviewPage,
    ReviewQuery, SigningKey, Store, StoreError, StoreResult, TransitionPage, WriteContext,
    new_etag, new_validation_id,
};
use qualify_core::faults::{Fault, FaultSpec};
use qualify_core::webhooks::{self as hooks, Registration, Verdict};
use writer::{Durability, Writer};

/// How long a statement waits for a lock held by another connection or process.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle reader connections kept open; more are opened under load and closed after.
const IDLE_READERS: usize = 8;
/// Prepared statements cached per connection.
const STATEMENT_CACHE: usize = 64;
/// The writer's page cache, in KiB when negative (SQLite's convention): the pages a batch
/// touches stay in memory instead of being read again.
const WRITER_CACHE_KIB: i64 = -16 * 1024;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        match e.sqlite_error_code() {
            Some(
                ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::CannotOpen
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull,
            ) => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Backend(e.to_string()),
        }
    }
}

/// Where the database lives, parsed from the `--database` URL.
#[derive(Debug, Clone)]
struct Location {
    /// A file path, or a `file:` URI naming a private in-memory database.
    target: String,
    memory: bool,
}

impl Location {
    /// `sqlite:PATH`, `sqlite://PATH`, `sqlite::memory:` or a bare file path; the query may carry
    /// `mode=rwc|rw|memory` and `cache=shared|private` (accepted for compatibility).
    fn parse(url: &str) -> StoreResult<Self> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut memory = path == ":memory:" || path.is_empty();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=').unwrap_or((pair, "")) {
                ("mode", "memory") => memory = true,
                ("mode", "rwc" | "rw") | ("cache", "shared" | "private") => {}
                _ => {
                    return Err(StoreError::Backend(format!(
                        "unsupported SQLite URL parameter {pair:?} (known: mode=rwc|rw|memory)"
                    )));
                }
            }
        }
        if memory {
            // A `memdb` database whose name starts with '/' is shared by every connection of this
            // process that opens it, and lives while one of them is open (the writer's).
            let name = uuid::Uuid::new_v4().simple();
            return Ok(Self {
                target: format!("file:/qualify-{name}?vfs=memdb"),
                memory: true,
            });
        }
        let path = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .map_err(|_| StoreError::Backend("the SQLite path is not valid UTF-8".into()))?;
        Ok(Self {
            target: path.into_owned(),
            memory: false,
        })
    }

    fn open(&self, read_only: bool) -> StoreResult<Connection> {
        let mut flags = OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        flags |= if read_only && !self.memory {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
        };
        let conn = Connection::open_with_flags(&self.target, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.pragma_update(None, "foreign_keys", true)?;
        // Savepoint journals and sorts stay in memory instead of temporary files.
        conn.pragma_update(None, "temp_store", "memory")?;
        if !read_only {
            if !self.memory {
                conn.pragma_update(None, "journal_mode", "wal")?;
                // A log that grew under a burst is cut back to this size once it is reused.
                conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
            }
            conn.pragma_update(None, "synchronous", "full")?;
        }
        Ok(conn)
    }
}

/// Reader connections, lent to one read at a time.
struct Readers {
    location: Location,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let lent = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match lent {
            Some(conn) => conn,
            None => self.location.open(true)?,
        };
        let result = f(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

/// The file a `--database` URL names, as [`SqliteStore::open`] reads it; `None` for an
/// in-memory database.
pub fn database_file(url: &str) -> StoreResult<Option<std::path::PathBuf>> {
    let location = Location::parse(url)?;
    Ok((!location.memory).then(|| location.target.into()))
}

#[derive(Clone)]
pub struct SqliteStore {
    writer: Writer,
    readers: Arc<Readers>,
    /// Notified by the writer after a batch with a transition committed.
    transitions: Arc<tokio::sync::Notify>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` and applies the migrations.
    /// `url` is `sqlite:PATH`, `sqlite://PATH`, `sqlite::memory:` or a bare file path.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let location = Location::parse(url)?;
        let opening = location.clone();
        let conn = tokio::task::spawn_blocking(move || -> StoreResult<Connection> {
            let conn = opening.open(false)?;
            conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)?;
            migrate::run(&conn)?;
            Ok(conn)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("opening the database: {e}")))??;
        let readers = Arc::new(Readers {
            location,
            idle: Mutex::new(Vec::new()),
        });
        // One reader now: a database that cannot be read fails at start-up, not on a request.
        readers.read(|_| Ok(()))?;
        let durability = if readers.location.memory {
            Durability::Memory
        } else {
            Durability::File {
                checkpoints: Box::new(readers.location.open(false)?),
            }
        };
        let transitions = Arc::new(tokio::sync::Notify::new());
        Ok(Self {
            writer: Writer::start(conn, durability, transitions.clone())?,
            readers,
            transitions,
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.readers.read(f)
    }
}

// ---- columns and queries -------------------------------------------------------------------

macro_rules! qualification_columns {
    () => {
        "id, customer_id, partner_id, qualification, vetting_status, vetting_reason, vetting_create_date, \
         education_segment, website, validation_code, etag, choice, reads"
    };
}

/// `qualification_columns!` of the table aliased `q` (in a join with `customers c`).
macro_rules! joined_qualification_columns {
    () => {
        "q.id, q.customer_id, q.partner_id, q.qualification, q.vetting_status, q.vetting_reason, \
         q.vetting_create_date, q.education_segment, q.website, q.validation_code, q.etag, q.choice, q.reads"
    };
}

/// The wall time (ms) at which job `j` is due by its partner's clock `c` (or the global clock
/// `:gfrozen`/`:goffset`): 0 for a due job of a frozen clock, NULL for one that time does not
/// reach until the clock is moved.
macro_rules! job_due_wall {
    () => {
        "CASE WHEN c.frozen_at IS NOT NULL THEN CASE WHEN j.run_at <= c.frozen_at THEN 0 END \
              WHEN c.offset_ms IS NOT NULL THEN j.run_at - c.offset_ms \
              WHEN :gfrozen IS NOT NULL THEN CASE WHEN j.run_at <= :gfrozen THEN 0 END \
              ELSE j.run_at - COALESCE(:goffset, 0) END"
    };
}

macro_rules! job_columns {
    () => {
        "id, kind, partner_id, qualification_id, payload, run_at, attempts, last_error"
    };
}

macro_rules! customer_columns {
    () => {
        "seq, id, partner_id, company_profile, company_etag, billing_profile, billing_etag, created_at"
    };
}

impl rows::Cells for Row<'_> {
    fn text(&self, column: &str) -> StoreResult<String> {
        Ok(self.get(column)?)
    }
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        Ok(self.get(column)?)
    }
    fn int(&self, column: &str) -> StoreResult<i64> {
        Ok(self.get(column)?)
    }
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        Ok(self.get(column)?)
    }
}

/// The first row of `sql`, decoded by `f`.
fn one<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    f: impl FnOnce(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    rows.next()?.map(f).transpose()
}

/// Every row of `sql`, decoded by `f`.
fn all<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    mut f: impl FnMut(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(f(row)?);
    }
    Ok(out)
}

/// Runs a statement; returns the rows it changed.
fn run(conn: &Connection, sql: &str, params: impl Params) -> StoreResult<usize> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

// ---- transaction helpers ----------------------------------------------------------------------

/// The stored result of an earlier request with the same key, or 409 when the key was used for
/// a different request. A record older than the replay window (on the partner's clock) no
/// longer replays: it is removed and the request runs as a new one.
fn replay<T: DeserializeOwned>(
    conn: &Connection,
    ctx: &WriteContext,
    now: OffsetDateTime,
) -> StoreResult<Option<T>> {
    let Some(key) = &ctx.idempotency else {
        return Ok(None);
    };
    let stored = one(
        conn,
        "SELECT fingerprint, response, COALESCE(domain_at, created_at) FROM idempotency_records \
         WHERE partner_id = ? AND request_id = ?",
        params![key.partner.to_string(), key.request_id],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        },
    )?;
    let Some((fingerprint, response, recorded)) = stored else {
        return Ok(None);
    };
    if !replays(from_millis(recorded), now) {
        run(
            conn,
            "DELETE FROM idempotency_records WHERE partner_id = ? AND request_id = ?",
            params![key.partner.to_string(), key.request_id],
        )?;
        return Ok(None);
    }
    if fingerprint != key.fingerprint {
        return Err(DomainError::of(ErrorKind::IdempotencyKeyReused).into());
    }
    Ok(Some(rows::replayed(&response)?))
}

fn remember<T: Serialize>(
    conn: &Connection,
    ctx: &WriteContext,
    now: OffsetDateTime,
    value: &T,
) -> StoreResult<()> {
    let Some(key) = &ctx.idempotency else {
        return Ok(());
    };
    run(
        conn,
        "INSERT INTO idempotency_records (partner_id, request_id, fingerprint, response, created_at, domain_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
        params![
            key.partner.to_string(),
            key.request_id,
            key.fingerprint,
            rows::stored_ok(value)?,
            to_millis(ctx.wall),
            to_millis(now)
        ],
    )?;
    Ok(())
}

/// A write of `partner`'s that replays the stored answer of an earlier request with the same
/// key, and otherwise runs `op` at the partner's domain time and stores its answer.
fn idempotent<T: Serialize + DeserializeOwned>(
    conn: &Connection,
    ctx: &WriteContext,
    partner: PartnerId,
    op: impl FnOnce(OffsetDateTime) -> StoreResult<T>,
) -> StoreResult<Idempotent<T>> {
    let now = clocks_of(conn, partner)?.now(ctx.wall);
    if let Some(value) = replay(conn, ctx, now)? {
        return Ok(Idempotent {
            value,
            replayed: true,
        });
    }
    let value = op(now)?;
    remember(conn, ctx, now, &value)?;
    Ok(Idempotent {
        value,
        replayed: false,
    })
}

/// The clocks that decide `partner`'s domain time (control.md 4).
pub(super) fn clocks_of(conn: &Connection, partner: PartnerId) -> StoreResult<PartnerClocks> {
    let mut clocks = PartnerClocks::default();
    let partner = partner.to_string();
    let found = all(
        conn,
        "SELECT scope, frozen_at, offset_ms FROM clocks WHERE scope IN ('global', ?)",
        [&partner],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                rows::clock_setting(r.get(1)?, r.get(2)?),
            ))
        },
    )?;
    for (scope, setting) in found {
        if scope == partner {
            clocks.own = setting;
        } else {
            clocks.global = setting;
        }
    }
    Ok(clocks)
}

/// A scope's own clock (`Scope::All`: the global clock).
fn own_clock(conn: &Connection, scope: Scope) -> StoreResult<Option<ClockSetting>> {
    Ok(one(
        conn,
        "SELECT frozen_at, offset_ms FROM clocks WHERE scope = ?",
        [rows::clock_scope(scope)],
        |r| Ok(rows::clock_setting(r.get(0)?, r.get(1)?)),
    )?
    .flatten())
}

fn load_qualifications(
    conn: &Connection,
    customer: CustomerId,
) -> StoreResult<Vec<QualificationRecord>> {
    all(
        conn,
        concat!(
            "SELECT ",
            qualification_columns!(),
            " FROM qualifications WHERE customer_id = ? ORDER BY id"
        ),
        [customer.to_string()],
        |r| rows::qualification(r),
    )
}

/// The etag and domain of the customer's company profile and its qualifications, in one
/// statement.
#[allow(clippy::type_complexity)]
fn company_etag_and_qualifications(
    conn: &Connection,
    customer: CustomerId,
) -> StoreResult<(Option<(String, Option<String>)>, Vec<QualificationRecord>)> {
    let rows = all(
        conn,
        concat!(
            "SELECT c.company_etag, json_extract(c.company_profile, '$.domain') AS domain, c.partner_id AS owner, ",
            joined_qualification_columns!(),
            " FROM customers c LEFT JOIN qualifications q ON q.customer_id = c.id WHERE c.id = ? ORDER BY q.id"
        ),
        [customer.to_string()],
        |r| {
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?),
                rows::owner_and_qualification(r)?.1,
            ))
        },
    )?;
    let company = rows.first().map(|(company, _)| company.clone());
    Ok((company, rows.into_iter().filter_map(|(_, q)| q).collect()))
}

/// A partner's scenario rules.
fn scenario_of(conn: &Connection, partner: PartnerId) -> StoreResult<Option<Scenario>> {
    one(
        conn,
        "SELECT rules FROM scenarios WHERE partner_id = ?",
        [partner.to_string()],
        |r| rows::from_json::<Scenario>("scenario", &r.get::<_, String>(0)?),
    )
}

fn customer_owner(conn: &Connection, id: CustomerId) -> StoreResult<Option<PartnerId>> {
    one(
        conn,
        "SELECT partner_id FROM customers WHERE id = ?",
        [id.to_string()],
        |r| {
            let p: String = r.get(0)?;
            uuid::Uuid::parse_str(&p)
                .map(PartnerId)
                .map_err(|_| rows::corrupt("partner id", &p))
        },
    )
}

fn load_customer(conn: &Connection, id: CustomerId) -> StoreResult<Option<Customer>> {
    one(
        conn,
        concat!(
            "SELECT ",
            customer_columns!(),
            " FROM customers WHERE id = ?"
        ),
        [id.to_string()],
        |r| rows::customer(r),
    )
}

fn qualification_by_id(conn: &Connection, id: i64) -> StoreResult<Option<QualificationRecord>> {
    one(
        conn,
        concat!(
            "SELECT ",
            qualification_columns!(),
            " FROM qualifications WHERE id = ?"
        ),
        [id],
        |r| rows::qualification(r),
    )
}

fn load_gdap(
    conn: &Connection,
    partner: PartnerId,
    customer: CustomerId,
) -> StoreResult<Option<GdapGrant>> {
    one(
        conn,
        "SELECT partner_id, customer_id, roles, updated_at FROM gdap_grants WHERE partner_id = ? AND customer_id = ?",
        [partner.to_string(), customer.to_string()],
        |r| rows::gdap(r),
    )
}

// ---- snapshots and effects ----------------------------------------------------------------------
//
// A write loads the snapshot its plan reads (`qualify_core::engine`), lets the plan decide, and
// applies the effects. On SQLite every write runs on the one writer thread, so what a snapshot
// read cannot change before the effects are applied.

fn load_code(conn: &Connection, validation_id: &str) -> StoreResult<Option<ValidationCode>> {
    one(
        conn,
        "SELECT * FROM validation_codes WHERE validation_id = ?",
        [validation_id],
        |r| rows::validation_code(r),
    )
}

fn create_snapshot(
    conn: &Connection,
    partner: PartnerId,
    customer: CustomerId,
    reads: CreateReads<'_>,
) -> StoreResult<CreateSnapshot> {
    let (company, existing) = company_etag_and_qualifications(conn, customer)?;
    let (company_etag, company_domain) = company.unzip();
    Ok(CreateSnapshot {
        company_etag,
        company_domain: company_domain.flatten(),
        existing,
        scenario: scenario_of(conn, partner)?,
        gdap: if reads.gdap {
            load_gdap(conn, partner, customer)?
        } else {
            None
        },
        code: reads
            .code
            .map(|c| load_code(conn, c))
            .transpose()?
            .flatten(),
    })
}

fn company_of(
    conn: &Connection,
    customer: CustomerId,
) -> StoreResult<Option<(CompanyProfile, String)>> {
    one(
        conn,
        "SELECT company_profile, company_etag FROM customers WHERE id = ?",
        [customer.to_string()],
        |r| {
            Ok((
                rows::from_json::<CompanyProfile>("company profile", &r.get::<_, String>(0)?)?,
                r.get::<_, String>(1)?,
            ))
        },
    )
}

fn latest_qualification(
    conn: &Connection,
    customer: CustomerId,
    qualification: SettableQualification,
) -> StoreResult<Option<QualificationRecord>> {
    one(
        conn,
        concat!(
            "SELECT ",
            qualification_columns!(),
            " FROM qualifications WHERE customer_id = ? AND qualification = ? ORDER BY id DESC LIMIT 1"
        ),
        [customer.to_string(), qualification.name().to_owned()],
        |r| rows::qualification(r),
    )
}

/// Applies a plan's effects in order.
fn apply(conn: &Connection, effects: &[Effect]) -> StoreResult<Applied> {
    let mut inserted = None;
    let mut removed = Counts::default();
    for effect in effects {
        match effect {
            Effect::InsertQualification(q) => {
                let choice = q.choice.as_ref().map(rows::json).transpose()?;
                let id: i64 = conn
                    .prepare_cached(
                        "INSERT INTO qualifications (customer_id, partner_id, qualification, vetting_status, \
                         vetting_reason, vetting_create_date, education_segment, website, validation_code, etag, \
                         choice) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    )?
                    .query_row(
                        params![
                            q.customer_id.to_string(),
                            q.partner_id.to_string(),
                            q.qualification.name(),
                            q.vetting_status.name(),
                            q.vetting_reason.as_deref(),
                            to_millis(q.vetting_create_date),
                            q.education_segment.map(EducationSegment::name),
                            q.website.as_deref(),
                            q.validation_code.as_deref(),
                            q.etag,
                            choice,
                        ],
                        |r| r.get(0),
                    )?;
                inserted = Some(id);
            }
            Effect::CountRead { id, reads } => {
                run(
                    conn,
                    "UPDATE qualifications SET reads = ? WHERE id = ?",
                    params![reads, id],
                )?;
            }
            Effect::SpendValidationCode {
                validation_id,
                etag,
            } => {
                let spent = run(
                    conn,
                    "UPDATE validation_codes SET remaining_creates = remaining_creates - 1, etag = ? \
                     WHERE validation_id = ? AND remaining_creates > 0",
                    params![etag, validation_id],
                )?;
                if spent != 1 {
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
                let changed = run(
                    conn,
                    "UPDATE qualifications SET vetting_status = ?, vetting_reason = ?, etag = ?, decided_at = ? \
                     WHERE id = ? AND vetting_status = 'InReview'",
                    params![to.name(), reason.as_deref(), etag, to_millis(*at), id],
                )?;
                if changed != 1 {
                    return Err(ErrorKind::AlreadyDecided.into());
                }
            }
            Effect::Enqueue { job, subject } => {
                let qualification = subject.map(|s| rows::resolve(s, inserted)).transpose()?;
                run(
                    conn,
                    "INSERT INTO jobs (kind, partner_id, qualification_id, payload, run_at) VALUES (?, ?, ?, ?, ?)",
                    params![
                        job.kind.as_str(),
                        job.partner.to_string(),
                        qualification,
                        rows::json(&job.payload)?,
                        to_millis(job.run_at)
                    ],
                )?;
            }
            Effect::Audit(a) => {
                run(
                    conn,
                    "INSERT INTO audit_events (qualification_id, customer_id, partner_id, qualification, at, actor, \
                     from_status, to_status, reason, request_id, correlation_id, profile_etag) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    params![
                        rows::resolve(a.qualification, inserted)?,
                        a.customer_id.to_string(),
                        a.partner_id.to_string(),
                        a.kind.name(),
                        to_millis(a.at),
                        a.actor,
                        a.from.map(VettingStatus::name),
                        a.to.name(),
                        a.reason.as_deref(),
                        a.request_id.as_deref(),
                        a.correlation_id.as_deref(),
                        a.profile_etag.as_deref(),
                    ],
                )?;
            }
            Effect::Emit { event, subject } => {
                run(
                    conn,
                    "INSERT INTO jobs (kind, partner_id, qualification_id, payload, run_at) \
                     SELECT ?1, r.partner_id, ?2, ?3, ?4 FROM webhook_registrations r \
                     WHERE r.partner_id = ?5 AND r.disabled IS NULL \
                     AND EXISTS (SELECT 1 FROM json_each(r.events) WHERE value = ?6)",
                    params![
                        hooks::DELIVERY_JOB,
                        rows::resolve(*subject, inserted)?,
                        rows::json(event)?,
                        to_millis(event.changed_at),
                        event.partner_id.to_string(),
                        event.event_name.name(),
                    ],
                )?;
            }
            Effect::ClearScope(scope) => removed = clear_scope(conn, *scope)?,
            Effect::DeleteCustomer(id) => delete_customer(conn, *id)?,
            Effect::InsertCustomer(c) => {
                run(
                    conn,
                    "INSERT INTO customers (id, partner_id, company_profile, company_etag, billing_profile, \
                     billing_etag, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    params![
                        c.id.to_string(),
                        c.partner_id.to_string(),
                        rows::json(&c.company_profile)?,
                        c.company_etag,
                        rows::json(&c.billing_profile)?,
                        c.billing_etag,
                        to_millis(c.created_at)
                    ],
                )?;
            }
            Effect::SetGdap(g) => {
                run(
                    conn,
                    "INSERT INTO gdap_grants (partner_id, customer_id, roles, updated_at) VALUES (?, ?, ?, ?) \
                     ON CONFLICT (partner_id, customer_id) DO UPDATE SET roles = excluded.roles, updated_at = excluded.updated_at",
                    params![
                        g.partner_id.to_string(),
                        g.customer_id.to_string(),
                        rows::gdap_roles_json(&g.roles)?,
                        to_millis(g.updated_at)
                    ],
                )?;
            }
            Effect::SetValidationStatus(v) => {
                run(
                    conn,
                    "INSERT INTO validation_statuses (customer_id, status, last_update) VALUES (?, ?, ?) \
                     ON CONFLICT (customer_id) DO UPDATE SET status = excluded.status, last_update = excluded.last_update",
                    params![
                        v.customer_id.to_string(),
                        v.status.name(),
                        to_millis(v.last_update)
                    ],
                )?;
            }
            Effect::UpsertValidationCode { code, at } => {
                run(
                    conn,
                    "INSERT INTO validation_codes (validation_id, partner_id, organization_name, max_creates, \
                     remaining_creates, etag, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) \
                     ON CONFLICT (validation_id) DO UPDATE SET organization_name = excluded.organization_name, \
                     max_creates = excluded.max_creates, remaining_creates = excluded.remaining_creates, etag = excluded.etag",
                    params![
                        code.validation_id,
                        code.partner_id.to_string(),
                        code.organization_name,
                        code.max_creates,
                        code.remaining_creates,
                        code.etag,
                        to_millis(*at)
                    ],
                )?;
            }
            Effect::SetScenario { partner, scenario } => match scenario {
                Some((rules, document)) => {
                    run(
                        conn,
                        "INSERT INTO scenarios (partner_id, rules, document, updated_at) VALUES (?, ?, ?, 0) \
                         ON CONFLICT (partner_id) DO UPDATE SET rules = excluded.rules, document = excluded.document",
                        params![
                            partner.to_string(),
                            rows::json(rules)?,
                            rows::json(document)?
                        ],
                    )?;
                }
                None => {
                    run(
                        conn,
                        "DELETE FROM scenarios WHERE partner_id = ?",
                        [partner.to_string()],
                    )?;
                }
            },
            Effect::SetClock { scope, setting } => match setting {
                Some(setting) => {
                    let (frozen_at, offset_ms) = rows::clock_columns(*setting);
                    run(
                        conn,
                        "INSERT INTO clocks (scope, frozen_at, offset_ms) VALUES (?, ?, ?) \
                         ON CONFLICT (scope) DO UPDATE SET frozen_at = excluded.frozen_at, offset_ms = excluded.offset_ms",
                        params![rows::clock_scope(*scope), frozen_at, offset_ms],
                    )?;
                }
                None => {
                    run(
                        conn,
                        "DELETE FROM clocks WHERE scope = ?",
                        [rows::clock_scope(*scope)],
                    )?;
                }
            },
        }
    }
    Ok(Applied { inserted, removed })
}

/// Removes a scope's state (control.md 1): children before parents.
fn clear_scope(conn: &Connection, scope: Scope) -> StoreResult<Counts> {
    let counts = match scope {
        Scope::All => {
            for table in [
                "webhook_attempts",
                "webhook_registrations",
                "jobs",
                "audit_events",
                "validation_statuses",
                "gdap_grants",
                "idempotency_records",
                "scenarios",
                "clocks",
            ] {
                run(conn, &format!("DELETE FROM {table}"), [])?;
            }
            Counts {
                qualifications: run(conn, "DELETE FROM qualifications", [])? as u64,
                customers: run(conn, "DELETE FROM customers", [])? as u64,
                validation_codes: run(conn, "DELETE FROM validation_codes", [])? as u64,
            }
        }
        Scope::Partner(p) => {
            let p = p.to_string();
            for sql in [
                "DELETE FROM webhook_attempts WHERE partner_id = ?1",
                "DELETE FROM webhook_registrations WHERE partner_id = ?1",
                "DELETE FROM jobs WHERE partner_id = ?1",
                "DELETE FROM audit_events WHERE partner_id = ?1",
                "DELETE FROM validation_statuses WHERE customer_id IN (SELECT id FROM customers WHERE partner_id = ?1)",
                "DELETE FROM gdap_grants WHERE partner_id = ?1 \
                 OR customer_id IN (SELECT id FROM customers WHERE partner_id = ?1)",
                "DELETE FROM idempotency_records WHERE partner_id = ?1",
                "DELETE FROM scenarios WHERE partner_id = ?1",
                "DELETE FROM clocks WHERE scope = ?1",
            ] {
                run(conn, sql, [&p])?;
            }
            Counts {
                qualifications: run(
                    conn,
                    "DELETE FROM qualifications WHERE partner_id = ?",
                    [&p],
                )? as u64,
                customers: run(conn, "DELETE FROM customers WHERE partner_id = ?", [&p])? as u64,
                validation_codes: run(
                    conn,
                    "DELETE FROM validation_codes WHERE partner_id = ?",
                    [&p],
                )? as u64,
            }
        }
    };
    Ok(counts)
}

/// Removes a customer and everything under it.
fn delete_customer(conn: &Connection, id: CustomerId) -> StoreResult<()> {
    let id = id.to_string();
    for sql in [
        "DELETE FROM webhook_attempts WHERE job_id IN (SELECT j.id FROM jobs j JOIN qualifications q \
         ON q.id = j.qualification_id WHERE q.customer_id = ?1)",
        "DELETE FROM jobs WHERE qualification_id IN (SELECT id FROM qualifications WHERE customer_id = ?1)",
        "DELETE FROM audit_events WHERE customer_id = ?1",
        "DELETE FROM validation_statuses WHERE customer_id = ?1",
        "DELETE FROM gdap_grants WHERE customer_id = ?1",
        "DELETE FROM qualifications WHERE customer_id = ?1",
        "DELETE FROM customers WHERE id = ?1",
    ] {
        run(conn, sql, [&id])?;
    }
    Ok(())
}

/// Whether `owner` still holds the lease of an unfinished job.
fn holds(conn: &Connection, job: i64, owner: &str) -> StoreResult<bool> {
    Ok(one(
        conn,
        "SELECT id FROM jobs WHERE id = ? AND lease_owner = ? AND done_at IS NULL",
        params![job, owner],
        |_| Ok(()),
    )?
    .is_some())
}

fn mark_done(conn: &Connection, job: i64, now: OffsetDateTime, outcome: &str) -> StoreResult<()> {
    run(
        conn,
        "UPDATE jobs SET done_at = ?, outcome = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?",
        params![to_millis(now), outcome, job],
    )?;
    Ok(())
}

// ---- the Store ----------------------------------------------------------------------------------

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
    }

    async fn create_customer(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        new: NewCustomer,
        default_gdap_roles: &[GdapRole],
    ) -> StoreResult<Idempotent<Customer>> {
        let ctx_owned = ctx.clone();
        let roles = (!default_gdap_roles.is_empty())
            .then(|| rows::gdap_roles_json(default_gdap_roles))
            .transpose()?;
        self.writer
            .write_idempotent(ctx, move |conn| {
                let ctx = &ctx_owned;
                idempotent(conn, ctx, partner, |now| {
                    let customer = Customer {
                        id: CustomerId::new_time_ordered(),
                        partner_id: partner,
                        company_profile: new.company_profile,
                        company_etag: new_etag(),
                        billing_profile: new.billing_profile,
                        billing_etag: new_etag(),
                        created_at: now,
                    };
                    run(
                        conn,
                        "INSERT INTO customers (id, partner_id, company_profile, company_etag, billing_profile, \
                         billing_etag, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        params![
                            customer.id.to_string(),
                            partner.to_string(),
                            rows::json(&customer.company_profile)?,
                            customer.company_etag,
                            rows::json(&customer.billing_profile)?,
                            customer.billing_etag,
                            to_millis(now)
                        ],
                    )?;
                    if let Some(roles) = roles {
                        run(
                            conn,
                            "INSERT INTO gdap_grants (partner_id, customer_id, roles, updated_at) VALUES (?, ?, ?, ?)",
                            params![
                                partner.to_string(),
                                customer.id.to_string(),
                                roles,
                                to_millis(now)
                            ],
                        )?;
                    }
                    Ok(customer)
                })
            })
            .await
    }

    async fn customer_partner(&self, id: CustomerId) -> StoreResult<Option<PartnerId>> {
        self.read(|c| customer_owner(c, id))
    }

    async fn customer(&self, id: CustomerId) -> StoreResult<Option<Customer>> {
        self.read(|c| load_customer(c, id))
    }

    async fn list_customers(
        &self,
        partner: PartnerId,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<CustomerPage> {
        let mut page = self.read(|c| {
            all(
                c,
                concat!(
                    "SELECT ",
                    customer_columns!(),
                    " FROM customers WHERE partner_id = ? AND seq > ? ORDER BY seq LIMIT ?"
                ),
                params![
                    partner.to_string(),
                    after.unwrap_or(0),
                    i64::from(limit) + 1
                ],
                |r| Ok((r.get::<_, i64>("seq")?, rows::customer(r)?)),
            )
        })?;
        let more = page.len() > limit as usize;
        page.truncate(limit as usize);
        Ok(CustomerPage {
            next: more.then(|| page.last().map(|(seq, _)| *seq)).flatten(),
            items: page.into_iter().map(|(_, c)| c).collect(),
        })
    }

    async fn update_billing_profile(
        &self,
        ctx: &WriteContext,
        customer: CustomerId,
        if_match: &str,
        profile: BillingProfile,
    ) -> StoreResult<Idempotent<Customer>> {
        let ctx_owned = ctx.clone();
        let if_match = if_match.to_owned();
        self.writer
            .write_idempotent(ctx, move |conn| {
                let owner = customer_owner(conn, customer)?.ok_or(ErrorKind::NotFound)?;
                idempotent(conn, &ctx_owned, owner, |_| {
                    let current = load_customer(conn, customer)?.ok_or(ErrorKind::NotFound)?;
                    if current.billing_etag != if_match {
                        return Err(ErrorKind::PreconditionFailed.into());
                    }
                    let updated = Customer {
                        billing_profile: profile,
                        billing_etag: new_etag(),
                        ..current
                    };
                    run(
                        conn,
                        "UPDATE customers SET billing_profile = ?, billing_etag = ? WHERE id = ?",
                        params![
                            rows::json(&updated.billing_profile)?,
                            updated.billing_etag,
                            customer.to_string()
                        ],
                    )?;
                    Ok(updated)
                })
            })
            .await
    }

    async fn qualifications(&self, customer: CustomerId) -> StoreResult<Vec<QualificationRecord>> {
        self.read(|c| load_qualifications(c, customer))
    }

    async fn owned_qualifications(
        &self,
        customer: CustomerId,
    ) -> StoreResult<Option<(PartnerId, Vec<QualificationRecord>)>> {
        let rows = self.read(|c| {
            all(
                c,
                concat!(
                    "SELECT c.partner_id AS owner, ",
                    joined_qualification_columns!(),
                    " FROM customers c LEFT JOIN qualifications q ON q.customer_id = c.id WHERE c.id = ? ORDER BY q.id"
                ),
                [customer.to_string()],
                |r| rows::owner_and_qualification(r),
            )
        })?;
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
        let ctx_owned = ctx.clone();
        let policy = policy.clone();
        self.writer
            .write_idempotent(ctx, move |conn| {
                let ctx = &ctx_owned;
                idempotent(conn, ctx, partner, |now| {
                    let snapshot =
                        create_snapshot(conn, partner, customer, CreateReads::of(&request))?;
                    let plan = plan_create(
                        partner,
                        customer,
                        &request,
                        &snapshot,
                        ctx.stamp(now),
                        &policy,
                    )?;
                    let id = apply(conn, &plan.effects)?
                        .inserted
                        .ok_or_else(|| StoreError::Backend("the plan inserted nothing".into()))?;
                    Ok(plan.qualification.into_record(id))
                })
            })
            .await
    }

    async fn validation_codes(&self, partner: PartnerId) -> StoreResult<Vec<ValidationCode>> {
        self.read(|c| {
            all(
                c,
                "SELECT * FROM validation_codes WHERE partner_id = ? ORDER BY created_at, validation_id",
                [partner.to_string()],
                |r| rows::validation_code(r),
            )
        })
    }

    async fn issue_validation_code(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        organization_name: &str,
        max_creates: i64,
    ) -> StoreResult<ValidationCode> {
        // Wall time: it only orders a partner's codes.
        let now = to_millis(ctx.wall);
        let organization_name = organization_name.to_owned();
        self.writer
            .write(move |conn| {
                // Ids are random; a collision is retried with another.
                for _ in 0..8 {
                    let candidate = ValidationCode {
                        partner_id: partner,
                        organization_name: organization_name.clone(),
                        validation_id: new_validation_id(),
                        max_creates,
                        remaining_creates: max_creates,
                        etag: new_etag(),
                    };
                    let inserted = run(
                        conn,
                        "INSERT INTO validation_codes (validation_id, partner_id, organization_name, max_creates, \
                         remaining_creates, etag, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) \
                         ON CONFLICT (validation_id) DO NOTHING",
                        params![
                            candidate.validation_id,
                            partner.to_string(),
                            candidate.organization_name,
                            max_creates,
                            max_creates,
                            candidate.etag,
                            now
                        ],
                    )?;
                    if inserted == 1 {
                        return Ok(candidate);
                    }
                }
                Err(StoreError::Backend(
                    "could not find a free validation id".into(),
                ))
            })
            .await
    }

    async fn validation_status(
        &self,
        customer: CustomerId,
    ) -> StoreResult<Option<ValidationStatus>> {
        self.read(|c| {
            one(
                c,
                "SELECT status, last_update FROM validation_statuses WHERE customer_id = ?",
                [customer.to_string()],
                |r| rows::validation_status(r, customer),
            )
        })
    }

    async fn set_validation_status(
        &self,
        ctx: &WriteContext,
        customer: CustomerId,
        status: AccountStatus,
    ) -> StoreResult<ValidationStatus> {
        let wall = ctx.wall;
        self.writer
            .write(move |conn| {
                let owner = customer_owner(conn, customer)?.ok_or(ErrorKind::NotFound)?;
                let saved = ValidationStatus {
                    customer_id: customer,
                    status,
                    last_update: clocks_of(conn, owner)?.now(wall),
                };
                apply(conn, &[Effect::SetValidationStatus(saved.clone())])?;
                Ok(saved)
            })
            .await
    }

    async fn gdap_grant(
        &self,
        partner: PartnerId,
        customer: CustomerId,
    ) -> StoreResult<Option<GdapGrant>> {
        self.read(|c| load_gdap(c, partner, customer))
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
        let wall = ctx.wall;
        self.writer
            .write(move |conn| {
                let grant = GdapGrant {
                    partner_id: partner,
                    customer_id: customer,
                    roles,
                    updated_at: clocks_of(conn, partner)?.now(wall),
                };
                apply(conn, &[Effect::SetGdap(grant.clone())])?;
                Ok(grant)
            })
            .await
    }

    async fn reviews(
        &self,
        status: VettingStatus,
        limit: u32,
    ) -> StoreResult<Vec<QualificationRecord>> {
        self.read(|c| {
            all(
                c,
                concat!(
                    "SELECT ",
                    qualification_columns!(),
                    " FROM qualifications WHERE vetting_status = ? ORDER BY vetting_create_date, id LIMIT ?"
                ),
                params![status.name(), i64::from(limit)],
                |r| rows::qualification(r),
            )
        })
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
            .write(move |conn| {
                let snapshot = DecideSnapshot {
                    latest: latest_qualification(conn, customer, qualification)?,
                    company_etag: company_of(conn, customer)?.map(|(_, etag)| etag),
                };
                let now = match &snapshot.latest {
                    Some(q) => clocks_of(conn, q.partner_id)?.now(ctx.wall),
                    None => ctx.wall,
                };
                let plan = plan_decide(
                    qualification,
                    &if_match,
                    &decision,
                    &snapshot,
                    ctx.stamp(now),
                )?;
                apply(conn, &plan.effects)?;
                Ok(plan.updated)
            })
            .await
    }

    async fn history(
        &self,
        customer: CustomerId,
        qualification: SettableQualification,
    ) -> StoreResult<Vec<AuditEvent>> {
        self.read(|c| {
            all(
                c,
                "SELECT at, actor, from_status, to_status, reason, request_id, correlation_id, profile_etag \
                 FROM audit_events WHERE customer_id = ? AND qualification = ? ORDER BY id",
                [customer.to_string(), qualification.name().to_owned()],
                |r| rows::audit_event(r),
            )
        })
    }

    async fn review_page(&self, query: &ReviewQuery) -> StoreResult<ReviewPage> {
        // One statement per combination of filters, so that each is planned on its index.
        let mut sql = String::from(concat!(
            "SELECT ",
            joined_qualification_columns!(),
            ", json_extract(c.company_profile, '$.company_name') AS company_name, \
             json_extract(c.company_profile, '$.domain') AS domain \
             FROM qualifications q JOIN customers c ON c.id = q.customer_id \
             WHERE q.vetting_status = ?1"
        ));
        if query.partner.is_some() {
            sql.push_str(" AND q.partner_id = ?2");
        }
        if query.qualification.is_some() {
            sql.push_str(" AND q.qualification = ?3");
        }
        if query.after.is_some() {
            sql.push_str(" AND (q.vetting_create_date, q.id) > (?4, ?5)");
        }
        sql.push_str(" ORDER BY q.vetting_create_date, q.id LIMIT ?6");
        let after = query.after;
        let rows = self.read(|c| {
            all(
                c,
                &sql,
                params![
                    query.status.name(),
                    query.partner.map(|p| p.to_string()),
                    query.qualification.map(SettableQualification::name),
                    after.map(|a| to_millis(a.vetting_create_date)),
                    after.map(|a| a.id),
                    i64::from(query.limit) + 1,
                ],
                |r| rows::review_item(r),
            )
        })?;
        Ok(ReviewPage::of(rows, query.limit))
    }

    async fn transitions(
        &self,
        after: i64,
        partner: Option<PartnerId>,
        limit: u32,
    ) -> StoreResult<TransitionPage> {
        // One writer commits the ids in order: what a reader sees has no holes that a later
        // commit could fill. The top is read first; every id up to it is visible to the read
        // after it.
        self.read(|c| {
            let top: i64 = c
                .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM audit_events")?
                .query_row([], |r| r.get(0))?;
            let sql = match partner {
                None => {
                    "SELECT id, partner_id, customer_id, qualification, from_status, to_status, reason, at, actor \
                     FROM audit_events WHERE id > ?1 AND id <= ?2 AND ?3 IS NULL ORDER BY id LIMIT ?4"
                }
                Some(_) => {
                    "SELECT id, partner_id, customer_id, qualification, from_status, to_status, reason, at, actor \
                     FROM audit_events WHERE partner_id = ?3 AND id > ?1 AND id <= ?2 ORDER BY id LIMIT ?4"
                }
            };
            let items = all(
                c,
                sql,
                params![after, top, partner.map(|p| p.to_string()), i64::from(limit)],
                |r| rows::transition(r),
            )?;
            let last_seq = if items.len() >= limit as usize {
                items.last().map_or(after, |t| t.seq)
            } else {
                top.max(after)
            };
            Ok(TransitionPage { items, last_seq })
        })
    }

    async fn transition_horizon(&self) -> StoreResult<i64> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT COALESCE(MAX(id), 0) FROM audit_events")?
                    .query_row([], |r| r.get(0))?,
            )
        })
    }

    fn transitions_signal(&self) -> Option<Arc<tokio::sync::Notify>> {
        Some(self.transitions.clone())
    }

    async fn enqueue_job(&self, job: NewJob, qualification: Option<i64>) -> StoreResult<()> {
        let effect = Effect::Enqueue {
            job,
            subject: qualification.map(QualificationRef::Existing),
        };
        self.writer
            .write(move |conn| apply(conn, &[effect]))
            .await?;
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
        let owner = owner.to_owned();
        self.writer
            .write(move |conn| {
                let (gfrozen, goffset) = own_clock(conn, Scope::All)?
                    .map_or((None, None), rows::clock_columns);
                all(
                    conn,
                    concat!(
                        "UPDATE jobs SET lease_owner = :owner, lease_until = :until, attempts = attempts + 1 WHERE id IN \
                         (SELECT j.id FROM jobs j LEFT JOIN clocks c ON c.scope = j.partner_id \
                          WHERE j.done_at IS NULL AND (j.lease_until IS NULL OR j.lease_until < :wall) \
                          AND (",
                        job_due_wall!(),
                        ") <= :wall ORDER BY j.run_at, j.id LIMIT :limit) RETURNING ",
                        job_columns!()
                    ),
                    rusqlite::named_params! {
                        ":owner": owner,
                        ":until": until,
                        ":wall": wall_ms,
                        ":gfrozen": gfrozen,
                        ":goffset": goffset,
                        ":limit": i64::from(limit),
                    },
                    |r| rows::job(r),
                )
            })
            .await
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
        let owner = owner.to_owned();
        let (filter, param) = control::scope_filter(scope, 3);
        let sql = format!(
            "UPDATE jobs SET lease_owner = ?5, lease_until = ?6, attempts = attempts + 1 WHERE id IN \
             (SELECT id FROM jobs WHERE done_at IS NULL AND (lease_until IS NULL OR lease_until < ?1) \
              AND run_at <= ?2 AND {filter} ORDER BY run_at, id LIMIT ?4) RETURNING {}",
            job_columns!()
        );
        self.writer
            .write(move |conn| {
                all(
                    conn,
                    &sql,
                    params![
                        wall_ms,
                        to_millis(due_by),
                        param,
                        i64::from(limit),
                        owner,
                        until
                    ],
                    |r| rows::job(r),
                )
            })
            .await
    }

    async fn unfinished_due_by(&self, scope: Scope, due_by: OffsetDateTime) -> StoreResult<u64> {
        self.read(|c| control::unfinished_due_by(c, scope, due_by))
    }

    async fn transitions_after(
        &self,
        seq: i64,
        scope: Scope,
        to: OffsetDateTime,
    ) -> StoreResult<Vec<AppliedTransition>> {
        self.read(|c| control::transitions_after(c, seq, scope, to))
    }

    async fn last_audit_seq(&self) -> StoreResult<i64> {
        self.read(control::last_audit_seq)
    }

    async fn partner_clocks(&self, partner: PartnerId) -> StoreResult<PartnerClocks> {
        self.read(|c| clocks_of(c, partner))
    }

    async fn clock(&self, scope: Scope) -> StoreResult<Option<ClockSetting>> {
        self.read(|c| own_clock(c, scope))
    }

    async fn change_clock(
        &self,
        scope: Scope,
        wall: OffsetDateTime,
        change: ClockChange,
    ) -> StoreResult<ClockPlan> {
        self.writer
            .write(move |conn| control::change_clock(conn, scope, wall, change))
            .await
    }

    async fn plan_clock_change(
        &self,
        scope: Scope,
        wall: OffsetDateTime,
        change: ClockChange,
    ) -> StoreResult<ClockPlan> {
        self.read(|c| control::plan_clock_change(c, scope, wall, change))
    }

    async fn scenario(&self, partner: PartnerId) -> StoreResult<Option<serde_json::Value>> {
        self.read(|c| control::scenario_document(c, partner))
    }

    async fn set_scenario(
        &self,
        partner: PartnerId,
        scenario: Option<(Scenario, serde_json::Value)>,
    ) -> StoreResult<()> {
        self.writer
            .write(move |conn| {
                apply(conn, &[Effect::SetScenario { partner, scenario }])?;
                Ok(())
            })
            .await
    }

    async fn apply_fixture(
        &self,
        mode: FixtureMode,
        fixture: &Fixture,
        wall: OffsetDateTime,
        policy: &VettingPolicy,
    ) -> StoreResult<FixtureOutcome> {
        let (fixture, policy) = (fixture.clone(), policy.clone());
        self.writer
            .write(move |conn| control::apply_fixture(conn, &mode, &fixture, wall, &policy))
            .await
    }

    async fn snapshot(&self, scope: Scope) -> StoreResult<Fixture> {
        self.read(|c| control::snapshot(c, scope))
    }

    async fn seed_applied(&self, sha256: &str) -> StoreResult<bool> {
        self.read(|c| control::seed_applied(c, sha256))
    }

    async fn current_seed(&self) -> StoreResult<Option<String>> {
        self.read(control::current_seed)
    }

    async fn count_reads(
        &self,
        customer: CustomerId,
        wall: OffsetDateTime,
        policy: &VettingPolicy,
        only: Option<i64>,
    ) -> StoreResult<Option<CountedRead>> {
        let policy = policy.clone();
        self.writer
            .write(move |conn| control::count_reads(conn, customer, wall, &policy, only))
            .await
    }

    async fn run_vetting_job(
        &self,
        job: &Job,
        owner: &str,
        now: OffsetDateTime,
        policy: &VettingPolicy,
    ) -> StoreResult<JobFinish> {
        let (job, owner, policy) = (job.clone(), owner.to_owned(), policy.clone());
        self.writer
            .write(move |conn| {
                if !holds(conn, job.id, &owner)? {
                    return Ok(JobFinish::LeaseLost);
                }
                // Read inside the transaction: a reviewer may have decided meanwhile.
                let qualification = job
                    .qualification_id
                    .map(|id| qualification_by_id(conn, id))
                    .transpose()?
                    .flatten();
                let company = match &qualification {
                    Some(q) => company_of(conn, q.customer_id)?,
                    None => None,
                };
                let snapshot = VettingSnapshot {
                    qualification,
                    company,
                };
                let plan = plan_vetting(&job, &snapshot, &policy, now)?;
                apply(conn, &plan.effects)?;
                mark_done(conn, job.id, now, &plan.finish.label())?;
                Ok(plan.finish)
            })
            .await
    }

    async fn complete_job(
        &self,
        job: &Job,
        owner: &str,
        now: OffsetDateTime,
        finish: &JobFinish,
    ) -> StoreResult<bool> {
        let (id, owner, label) = (job.id, owner.to_owned(), finish.label());
        self.writer
            .write(move |conn| {
                let held = holds(conn, id, &owner)?;
                if held {
                    mark_done(conn, id, now, &label)?;
                }
                Ok(held)
            })
            .await
    }

    async fn fail_job(
        &self,
        job: &Job,
        owner: &str,
        now: OffsetDateTime,
        error: &str,
        after: AfterFailure,
    ) -> StoreResult<bool> {
        let (id, owner, error) = (job.id, owner.to_owned(), error.to_owned());
        self.writer
            .write(move |conn| {
                if !holds(conn, id, &owner)? {
                    return Ok(false);
                }
                match after {
                    AfterFailure::RetryAt(at) => run(
                        conn,
                        "UPDATE jobs SET last_error = ?, run_at = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?",
                        params![error, to_millis(at), id],
                    )?,
                    AfterFailure::Dead => run(
                        conn,
                        "UPDATE jobs SET last_error = ?, done_at = ?, outcome = 'dead', lease_owner = NULL, \
                         lease_until = NULL WHERE id = ?",
                        params![error, to_millis(now), id],
                    )?,
                };
                Ok(true)
            })
            .await
    }

    async fn release_job(&self, job: &Job, owner: &str) -> StoreResult<bool> {
        let (id, owner) = (job.id, owner.to_owned());
        self.writer
            .write(move |conn| {
                Ok(run(
                    conn,
                    "UPDATE jobs SET lease_owner = NULL, lease_until = NULL, attempts = MAX(attempts - 1, 0) \
                     WHERE id = ? AND lease_owner = ? AND done_at IS NULL",
                    params![id, owner],
                )? == 1)
            })
            .await
    }

    async fn release_jobs(&self, owner: &str) -> StoreResult<u64> {
        let owner = owner.to_owned();
        self.writer
            .write(move |conn| {
                run(
                    conn,
                    "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ? AND done_at IS NULL",
                    [owner],
                )
                .map(|n| n as u64)
            })
            .await
    }

    async fn queue_stats(&self, kind: &str, wall: OffsetDateTime) -> StoreResult<QueueStats> {
        let (pending, oldest): (i64, Option<i64>) = self.read(|c| {
            let (gfrozen, goffset) =
                own_clock(c, Scope::All)?.map_or((None, None), rows::clock_columns);
            // A job's age: its partner's domain time now minus its due time (due when >= 0).
            Ok(c.prepare_cached(
                "SELECT COUNT(*), MAX(CASE WHEN c.frozen_at IS NOT NULL THEN c.frozen_at \
                      WHEN c.offset_ms IS NOT NULL THEN :wall + c.offset_ms \
                      WHEN :gfrozen IS NOT NULL THEN :gfrozen \
                      ELSE :wall + COALESCE(:goffset, 0) END - j.run_at) \
                 FROM jobs j LEFT JOIN clocks c ON c.scope = j.partner_id \
                 WHERE j.done_at IS NULL AND j.kind = :kind",
            )?
            .query_row(
                rusqlite::named_params! {
                    ":wall": to_millis(wall),
                    ":gfrozen": gfrozen,
                    ":goffset": goffset,
                    ":kind": kind,
                },
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })?;
        Ok(QueueStats::of(pending, oldest))
    }

    async fn next_job_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        let at: Option<i64> = self.read(|c| {
            let (gfrozen, goffset) =
                own_clock(c, Scope::All)?.map_or((None, None), rows::clock_columns);
            Ok(c.prepare_cached(concat!(
                "SELECT MIN(MAX(",
                job_due_wall!(),
                ", COALESCE(j.lease_until, 0))) FROM jobs j LEFT JOIN clocks c ON c.scope = j.partner_id \
                 WHERE j.done_at IS NULL"
            ))?
            .query_row(
                rusqlite::named_params! {":gfrozen": gfrozen, ":goffset": goffset},
                |r| r.get(0),
            )?)
        })?;
        Ok(at.map(from_millis))
    }

    async fn purge_idempotency(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let before = to_millis(before);
        self.writer
            .write(move |conn| {
                run(
                    conn,
                    "DELETE FROM idempotency_records WHERE created_at < ?",
                    [before],
                )
                .map(|n| n as u64)
            })
            .await
    }

    async fn add_fault(
        &self,
        id: &str,
        spec: &FaultSpec,
        now: OffsetDateTime,
    ) -> StoreResult<Fault> {
        let (id, spec_json) = (id.to_owned(), rows::json(spec)?);
        let partner = spec.matches.partner.map(|p| p.to_string());
        let spec = spec.clone();
        self.writer
            .write(move |conn| {
                let seq: i64 = conn
                    .prepare_cached(
                        "INSERT INTO faults (id, partner_id, spec, created_at) VALUES (?, ?, ?, ?) RETURNING seq",
                    )?
                    .query_row(params![id, partner, spec_json, to_millis(now)], |r| r.get(0))?;
                Ok(Fault {
                    id,
                    seq,
                    spec,
                    hits: 0,
                    fired: 0,
                })
            })
            .await
    }

    async fn faults(&self, partner: Option<PartnerId>) -> StoreResult<Vec<Fault>> {
        let partner = partner.map(|p| p.to_string());
        self.read(|c| match partner {
            Some(p) => all(
                c,
                "SELECT id, seq, spec, hits, fired FROM faults WHERE partner_id = ? ORDER BY seq",
                [p],
                |r| rows::fault(r),
            ),
            None => all(
                c,
                "SELECT id, seq, spec, hits, fired FROM faults ORDER BY seq",
                [],
                |r| rows::fault(r),
            ),
        })
    }

    async fn remove_fault(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        self.writer
            .write(move |conn| Ok(run(conn, "DELETE FROM faults WHERE id = ?", [id])? == 1))
            .await
    }

    async fn clear_faults(&self, partner: Option<PartnerId>) -> StoreResult<u64> {
        let partner = partner.map(|p| p.to_string());
        self.writer
            .write(move |conn| {
                let n = match partner {
                    Some(p) => run(conn, "DELETE FROM faults WHERE partner_id = ?", [p])?,
                    None => run(conn, "DELETE FROM faults", [])?,
                };
                Ok(n as u64)
            })
            .await
    }

    async fn hit_faults(&self, ids: &[String]) -> StoreResult<Option<FaultHit>> {
        let ids = ids.to_vec();
        // One writer: the hits of concurrent requests are counted one after the other.
        self.writer
            .write(move |conn| {
                for id in &ids {
                    let Some(mut fault) = one(
                        conn,
                        "SELECT id, seq, spec, hits, fired FROM faults WHERE id = ?",
                        [id],
                        |r| rows::fault(r),
                    )?
                    else {
                        continue;
                    };
                    let position = fault.hits + 1;
                    let fires = fault.spec.fires(position, fault.fired);
                    fault.hits = position;
                    fault.fired += u64::from(fires);
                    let removed = fires && fault.spec.times.is_some_and(|t| fault.fired >= t);
                    if removed {
                        run(conn, "DELETE FROM faults WHERE id = ?", [id])?;
                    } else {
                        run(
                            conn,
                            "UPDATE faults SET hits = ?, fired = ? WHERE id = ?",
                            params![fault.hits as i64, fault.fired as i64, id],
                        )?;
                    }
                    if fires {
                        return Ok(Some(FaultHit { fault, removed }));
                    }
                }
                Ok(None)
            })
            .await
    }

    async fn webhook_registration(&self, partner: PartnerId) -> StoreResult<Option<Registration>> {
        self.read(|c| webhooks::registration(c, partner))
    }

    async fn put_webhook_registration(
        &self,
        registration: &Registration,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let r = registration.clone();
        self.writer
            .write(move |conn| webhooks::put_registration(conn, &r, now))
            .await
    }

    async fn delete_webhook_registration(
        &self,
        partner: PartnerId,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        self.writer
            .write(move |conn| webhooks::delete_registration(conn, partner, now))
            .await
    }

    async fn signing_key(&self, key: Option<SigningKey>) -> StoreResult<Option<SigningKey>> {
        let now = OffsetDateTime::now_utc();
        match key {
            None => self.read(|c| webhooks::signing_key(c, None, now)),
            Some(k) => {
                self.writer
                    .write(move |conn| webhooks::signing_key(conn, Some(&k), now))
                    .await
            }
        }
    }

    async fn deliveries(
        &self,
        partner: PartnerId,
        status: Option<DeliveryStatus>,
    ) -> StoreResult<Vec<Delivery>> {
        self.read(|c| webhooks::deliveries(c, partner, status))
    }

    async fn delivery(&self, find: DeliveryRef<'_>) -> StoreResult<Option<Delivery>> {
        self.read(|c| webhooks::delivery(c, find))
    }

    async fn finish_attempt(
        &self,
        job: &Job,
        owner: &str,
        attempt: &Attempt,
        verdict: Verdict,
    ) -> StoreResult<bool> {
        let (job, owner, attempt) = (job.clone(), owner.to_owned(), attempt.clone());
        self.writer
            .write(move |conn| webhooks::finish_attempt(conn, &job, &owner, &attempt, verdict))
            .await
    }

    async fn redeliver(&self, id: i64, now: OffsetDateTime) -> StoreResult<Option<Delivery>> {
        self.writer
            .write(move |conn| webhooks::redeliver(conn, id, now))
            .await
    }
}
