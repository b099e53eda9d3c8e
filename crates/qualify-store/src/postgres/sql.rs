//! Column lists and row access shared by the PostgreSQL modules. Ids and JSON are selected as
//! text so that rows decode like SQLite's (`crate::rows`).

use sqlx::postgres::PgRow;

crate::rows::impl_cells!(PgRow);

macro_rules! qualification_columns {
    () => {
        "id, customer_id::text AS customer_id, partner_id::text AS partner_id, qualification, vetting_status, \
         vetting_reason, vetting_create_date, education_segment, website, validation_code, etag, choice, reads"
    };
}
pub(super) use qualification_columns;

/// `qualification_columns!` of the table aliased `q` (in a join with `customers c`).
macro_rules! joined_qualification_columns {
    () => {
        "q.id, q.customer_id::text AS customer_id, q.partner_id::text AS partner_id, q.qualification, \
         q.vetting_status, q.vetting_reason, q.vetting_create_date, q.education_segment, q.website, \
         q.validation_code, q.etag, q.choice, q.reads"
    };
}
pub(super) use joined_qualification_columns;

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
pub(super) use job_due_wall;

macro_rules! job_columns {
    () => {
        "id, kind, partner_id::text AS partner_id, qualification_id, payload::text AS payload, run_at, attempts, last_error"
    };
}
pub(super) use job_columns;

macro_rules! customer_columns {
    () => {
        "seq, id::text AS id, partner_id::text AS partner_id, company_profile::text AS company_profile, company_etag, \
         billing_profile::text AS billing_profile, billing_etag, created_at"
    };
}
pub(super) use customer_columns;

macro_rules! code_columns {
    () => {
        "validation_id, partner_id::text AS partner_id, organization_name, max_creates, remaining_creates, etag"
    };
}
pub(super) use code_columns;

macro_rules! gdap_columns {
    () => {
        "partner_id::text AS partner_id, customer_id::text AS customer_id, roles::text AS roles, updated_at"
    };
}
pub(super) use gdap_columns;

macro_rules! transition_columns {
    () => {
        "SELECT id, partner_id::text AS partner_id, customer_id::text AS customer_id, qualification, \
         from_status, to_status, reason, at, actor FROM audit_events"
    };
}
pub(super) use transition_columns;
