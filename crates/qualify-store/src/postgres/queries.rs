//! The PostgreSQL reads that both the read paths and the write pipeline's loads use, and the
//! locks of the write pipeline.

use qualify_core::clock::{ClockSetting, PartnerClocks};
use qualify_core::customer::CompanyProfile;
use qualify_core::engine::Scope;
use qualify_core::qualification::QualificationRecord;
use qualify_core::scenario::Scenario;
use qualify_core::validation::{GdapGrant, ValidationCode};
use qualify_core::{CustomerId, PartnerId};
use sqlx::{PgConnection, Row};

use super::sql::{code_columns, customer_columns, gdap_columns, qualification_columns};
use crate::StoreResult;
use crate::rows;
use qualify_core::commands::control::ClockState;
use qualify_core::snapshot::Rows;
use qualify_core::webhooks::SigningKey;

/// Advisory lock keys: every write of a partner holds both shared; a reset (restore, seed) of
/// a partner holds the partner's exclusively, a global one the global key exclusively. So a
/// reset waits for the partner's writes in flight, and the writes after it wait for the reset:
/// each write happened entirely before it or entirely after it (control.md 1).
const LOCK_CLASS_ALL: i32 = 7170;
const LOCK_CLASS_PARTNER: i32 = 7171;
/// The lock that orders instances storing the signing key.
const LOCK_SIGNING_KEY: i32 = 7172;

/// Takes the partner's write locks (shared) and reads the clocks that decide its domain time
/// (control.md 4), in one round trip.
pub(super) async fn clocks_of(
    conn: &mut PgConnection,
    partner: PartnerId,
) -> StoreResult<PartnerClocks> {
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

/// Takes the exclusive lock of a scope (a reset, restore, seed or clock change of it).
pub(super) async fn lock_scope(conn: &mut PgConnection, scope: Scope) -> StoreResult<()> {
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

/// Takes the lock that instances storing the signing key take.
pub(super) async fn lock_signing_key(conn: &mut PgConnection) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, 0)::text")
        .bind(LOCK_SIGNING_KEY)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A scope's own clock (`Scope::All`: the global clock).
pub(super) async fn own_clock(
    conn: &mut PgConnection,
    scope: Scope,
) -> StoreResult<Option<ClockSetting>> {
    let row = sqlx::query("SELECT frozen_at, offset_ms FROM clocks WHERE scope = $1")
        .bind(rows::clock_scope(scope))
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row
        .map(|r| -> StoreResult<_> {
            Ok(rows::clock_setting(
                r.try_get("frozen_at")?,
                r.try_get("offset_ms")?,
            ))
        })
        .transpose()?
        .flatten())
}

pub(super) async fn qualifications_of(
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

/// A partner's scenario rules and document.
pub(super) async fn scenario_of(
    conn: &mut PgConnection,
    partner: PartnerId,
) -> StoreResult<Option<(Scenario, serde_json::Value)>> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT rules, document FROM scenarios WHERE partner_id = $1::uuid")
            .bind(partner.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|(rules, document)| {
        Ok((
            rows::from_json("scenario", &rules)?,
            rows::from_json("scenario document", &document)?,
        ))
    })
    .transpose()
}

pub(super) async fn owner_of(
    conn: &mut PgConnection,
    id: CustomerId,
) -> StoreResult<Option<PartnerId>> {
    let partner: Option<String> =
        sqlx::query_scalar("SELECT partner_id::text FROM customers WHERE id = $1::uuid")
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    partner.as_deref().map(rows::partner).transpose()
}

pub(super) async fn company_of(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> StoreResult<Option<(CompanyProfile, String)>> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT company_profile::text, company_etag FROM customers WHERE id = $1::uuid",
    )
    .bind(customer.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|(profile, etag)| Ok((rows::from_json("company profile", &profile)?, etag)))
        .transpose()
}

pub(super) async fn qualification_for_update(
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

pub(super) async fn gdap(
    conn: &mut PgConnection,
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
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(rows::gdap).transpose()
}

/// A validation code; `for_update` locks it (it may be spent).
pub(super) async fn code(
    conn: &mut PgConnection,
    validation_id: &str,
    for_update: bool,
) -> StoreResult<Option<ValidationCode>> {
    let sql = if for_update {
        concat!(
            "SELECT ",
            code_columns!(),
            " FROM validation_codes WHERE validation_id = $1 FOR UPDATE"
        )
    } else {
        concat!(
            "SELECT ",
            code_columns!(),
            " FROM validation_codes WHERE validation_id = $1"
        )
    };
    let row = sqlx::query(sql)
        .bind(validation_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(rows::validation_code).transpose()
}

/// Locks an unfinished job if `owner` still holds its lease.
pub(super) async fn holds(conn: &mut PgConnection, job: i64, owner: &str) -> StoreResult<bool> {
    let held: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM jobs WHERE id = $1 AND lease_owner = $2 AND done_at IS NULL FOR UPDATE",
    )
    .bind(job)
    .bind(owner)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(held.is_some())
}

/// A condition selecting the rows (jobs, audit events) of a scope's partners — one partner, or
/// every partner that follows the global clock — on parameter `$n`, and that parameter.
pub(super) fn scope_filter(scope: Scope, n: u8) -> (String, Option<String>) {
    match scope {
        Scope::All => (
            format!(
                "partner_id::text NOT IN (SELECT scope FROM clocks WHERE scope <> 'global') AND ${n}::text IS NULL"
            ),
            None,
        ),
        Scope::Partner(p) => (format!("partner_id = ${n}::uuid"), Some(p.to_string())),
    }
}

/// The rows of the customers that `filter` (on `$1`) selects, with everything under them.
pub(super) async fn customer_rows(
    conn: &mut PgConnection,
    filter: &str,
    param: Option<String>,
) -> StoreResult<Rows> {
    let within = format!("customer_id IN (SELECT id FROM customers WHERE {filter})");
    let mut select = async |sql: String| {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(param.clone())
            .fetch_all(&mut *conn)
            .await
    };
    let customers = select(format!(
        "SELECT {} FROM customers WHERE {filter} ORDER BY seq",
        customer_columns!()
    ))
    .await?;
    let gdap = select(format!(
        "SELECT {} FROM gdap_grants WHERE {within}",
        gdap_columns!()
    ))
    .await?;
    let statuses = select(format!(
        "SELECT customer_id::text AS customer_id, status, last_update FROM validation_statuses WHERE {within}"
    ))
    .await?;
    let qualifications = select(format!(
        "SELECT {} FROM qualifications WHERE {within} ORDER BY id",
        qualification_columns!()
    ))
    .await?;
    Ok(Rows {
        customers: customers
            .iter()
            .map(rows::customer)
            .collect::<StoreResult<_>>()?,
        gdap: gdap.iter().map(rows::gdap).collect::<StoreResult<_>>()?,
        statuses: statuses
            .iter()
            .map(rows::status_row)
            .collect::<StoreResult<_>>()?,
        qualifications: qualifications
            .iter()
            .map(rows::qualification)
            .collect::<StoreResult<_>>()?,
        codes: vec![],
    })
}

pub(super) async fn signing_key(conn: &mut PgConnection) -> StoreResult<Option<SigningKey>> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT private_key, certificate FROM signing_keys WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(private_key, certificate)| SigningKey {
        private_key,
        certificate,
    }))
}

/// A scope's own clock and the global clock.
pub(super) async fn clock_state(conn: &mut PgConnection, scope: Scope) -> StoreResult<ClockState> {
    Ok(ClockState {
        own: own_clock(conn, scope).await?,
        global: match scope {
            Scope::All => None,
            Scope::Partner(_) => own_clock(conn, Scope::All).await?,
        },
    })
}
