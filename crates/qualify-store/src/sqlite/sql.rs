//! Statement helpers and column lists shared by the SQLite modules. Statements are prepared
//! once per connection and cached.

use rusqlite::{Connection, Params, Row};

use crate::StoreResult;
use crate::rows;

macro_rules! qualification_columns {
    () => {
        "id, customer_id, partner_id, qualification, vetting_status, vetting_reason, vetting_create_date, \
         education_segment, website, validation_code, etag, choice, reads"
    };
}
pub(super) use qualification_columns;

/// `qualification_columns!` of the table aliased `q` (in a join with `customers c`).
macro_rules! joined_qualification_columns {
    () => {
        "q.id, q.customer_id, q.partner_id, q.qualification, q.vetting_status, q.vetting_reason, \
         q.vetting_create_date, q.education_segment, q.website, q.validation_code, q.etag, q.choice, q.reads"
    };
}
pub(super) use joined_qualification_columns;

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
pub(super) use job_due_wall;

macro_rules! job_columns {
    () => {
        "id, kind, partner_id, qualification_id, payload, run_at, attempts, last_error"
    };
}
pub(super) use job_columns;

macro_rules! customer_columns {
    () => {
        "seq, id, partner_id, company_profile, company_etag, billing_profile, billing_etag, created_at"
    };
}
pub(super) use customer_columns;

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
pub(super) fn one<T>(
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
pub(super) fn all<T>(
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
pub(super) fn run(conn: &Connection, sql: &str, params: impl Params) -> StoreResult<usize> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

/// Whether `sql` finds a row.
pub(super) fn exists(conn: &Connection, sql: &str, params: impl Params) -> StoreResult<bool> {
    Ok(one(conn, sql, params, |_| Ok(()))?.is_some())
}
