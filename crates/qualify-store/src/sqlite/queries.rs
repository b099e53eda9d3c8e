//! The SQLite reads that both the read paths and the write pipeline's loads use.

use qualify_core::clock::{ClockSetting, PartnerClocks};
use qualify_core::customer::{CompanyProfile, Customer};
use qualify_core::engine::Scope;
use qualify_core::qualification::{QualificationRecord, SettableQualification};
use qualify_core::scenario::Scenario;
use qualify_core::validation::{GdapGrant, ValidationCode};
use qualify_core::{CustomerId, PartnerId};
use rusqlite::{Connection, params};

use super::sql::{all, customer_columns, exists, one, qualification_columns};
use crate::StoreResult;
use crate::rows;
use qualify_core::commands::control::ClockState;
use qualify_core::snapshot::Rows;
use qualify_core::webhooks::SigningKey;

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
pub(super) fn own_clock(conn: &Connection, scope: Scope) -> StoreResult<Option<ClockSetting>> {
    Ok(one(
        conn,
        "SELECT frozen_at, offset_ms FROM clocks WHERE scope = ?",
        [rows::clock_scope(scope)],
        |r| Ok(rows::clock_setting(r.get(0)?, r.get(1)?)),
    )?
    .flatten())
}

pub(super) fn qualifications_of(
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

/// A partner's scenario rules and document.
pub(super) fn scenario_of(
    conn: &Connection,
    partner: PartnerId,
) -> StoreResult<Option<(Scenario, serde_json::Value)>> {
    one(
        conn,
        "SELECT rules, document FROM scenarios WHERE partner_id = ?",
        [partner.to_string()],
        |r| {
            Ok((
                rows::from_json("scenario", &r.get::<_, String>(0)?)?,
                rows::from_json("scenario document", &r.get::<_, String>(1)?)?,
            ))
        },
    )
}

pub(super) fn owner_of(conn: &Connection, id: CustomerId) -> StoreResult<Option<PartnerId>> {
    one(
        conn,
        "SELECT partner_id FROM customers WHERE id = ?",
        [id.to_string()],
        |r| rows::partner(&r.get::<_, String>(0)?),
    )
}

pub(super) fn customer(conn: &Connection, id: CustomerId) -> StoreResult<Option<Customer>> {
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

pub(super) fn qualification(
    conn: &Connection,
    id: i64,
) -> StoreResult<Option<QualificationRecord>> {
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

pub(super) fn gdap(
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

pub(super) fn code(conn: &Connection, validation_id: &str) -> StoreResult<Option<ValidationCode>> {
    one(
        conn,
        "SELECT * FROM validation_codes WHERE validation_id = ?",
        [validation_id],
        |r| rows::validation_code(r),
    )
}

pub(super) fn company_of(
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

pub(super) fn latest_qualification(
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

/// Whether `owner` still holds the lease of an unfinished job.
pub(super) fn holds(conn: &Connection, job: i64, owner: &str) -> StoreResult<bool> {
    exists(
        conn,
        "SELECT id FROM jobs WHERE id = ? AND lease_owner = ? AND done_at IS NULL",
        params![job, owner],
    )
}

pub(super) fn last_audit_seq(conn: &Connection) -> StoreResult<i64> {
    Ok(conn
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM audit_events")?
        .query_row([], |r| r.get(0))?)
}

/// The rows of the customers that `filter` (on `?1`) selects, with everything under them.
pub(super) fn customer_rows(conn: &Connection, filter: &str, param: &str) -> StoreResult<Rows> {
    let within = format!("customer_id IN (SELECT id FROM customers WHERE {filter})");
    Ok(Rows {
        customers: all(
            conn,
            &format!(
                "SELECT {} FROM customers WHERE {filter} ORDER BY seq",
                customer_columns!()
            ),
            [param],
            |r| rows::customer(r),
        )?,
        gdap: all(
            conn,
            &format!(
                "SELECT partner_id, customer_id, roles, updated_at FROM gdap_grants WHERE {within}"
            ),
            [param],
            |r| rows::gdap(r),
        )?,
        statuses: all(
            conn,
            &format!(
                "SELECT customer_id, status, last_update FROM validation_statuses WHERE {within}"
            ),
            [param],
            |r| rows::status_row(r),
        )?,
        qualifications: all(
            conn,
            &format!(
                "SELECT {} FROM qualifications WHERE {within} ORDER BY id",
                qualification_columns!()
            ),
            [param],
            |r| rows::qualification(r),
        )?,
        codes: vec![],
    })
}

pub(super) fn signing_key(conn: &Connection) -> StoreResult<Option<SigningKey>> {
    one(
        conn,
        "SELECT private_key, certificate FROM signing_keys WHERE id = 1",
        [],
        |r| {
            Ok(SigningKey {
                private_key: r.get(0)?,
                certificate: r.get(1)?,
            })
        },
    )
}

/// A scope's own clock and the global clock.
pub(super) fn clock_state(conn: &Connection, scope: Scope) -> StoreResult<ClockState> {
    Ok(ClockState {
        own: own_clock(conn, scope)?,
        global: match scope {
            Scope::All => None,
            Scope::Partner(_) => own_clock(conn, Scope::All)?,
        },
    })
}
