//! The reads of every area on SQLite: reader connections, never the writer (in WAL mode a
//! reader does not wait for it).

use async_trait::async_trait;
use qualify_core::clock::{ClockSetting, PartnerClocks};
use qualify_core::commands::control::ClockState;
use qualify_core::customer::Customer;
use qualify_core::engine::Scope;
use qualify_core::faults::Fault;
use qualify_core::jobs::JobType;
use qualify_core::qualification::{QualificationRecord, SettableQualification, VettingStatus};
use qualify_core::time_fmt::to_millis;
use qualify_core::validation::{ValidationCode, ValidationStatus};
use qualify_core::webhooks::{DeliveryStatus, Registration, WebhookDelivery};
use qualify_core::{CustomerId, PartnerId};
use rusqlite::{Connection, params};
use time::OffsetDateTime;

use super::sql::{
    all, customer_columns, exists, joined_qualification_columns, one, qualification_columns, run,
};
use super::{SqliteStore, queries};
use crate::StoreResult;
use crate::model::{
    AppliedTransition, AuditEvent, CustomerPage, Delivery, DeliveryRef, ReviewPage, ReviewQuery,
    ScopeState, TransitionPage,
};
use crate::rows;
use crate::traits::{
    ControlReads, CustomerReads, EventStore, FaultReads, ReviewReads, WebhookReads,
};

#[async_trait]
impl CustomerReads for SqliteStore {
    async fn customer(&self, id: CustomerId) -> StoreResult<Option<Customer>> {
        self.read(|c| queries::customer(c, id))
    }

    async fn customer_partner(&self, id: CustomerId) -> StoreResult<Option<PartnerId>> {
        self.read(|c| queries::owner_of(c, id))
    }

    async fn list_customers(
        &self,
        partner: PartnerId,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<CustomerPage> {
        let page = self.read(|c| {
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
        Ok(CustomerPage::of(page, limit))
    }

    async fn qualifications(&self, customer: CustomerId) -> StoreResult<Vec<QualificationRecord>> {
        self.read(|c| queries::qualifications_of(c, customer))
    }

    async fn owned_qualifications(
        &self,
        customer: CustomerId,
    ) -> StoreResult<Option<(PartnerId, Vec<QualificationRecord>)>> {
        let found = self.read(|c| {
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
        Ok(rows::fold_owned_qualifications(found))
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

    async fn gdap_grant(
        &self,
        partner: PartnerId,
        customer: CustomerId,
    ) -> StoreResult<Option<qualify_core::validation::GdapGrant>> {
        self.read(|c| queries::gdap(c, partner, customer))
    }
}

#[async_trait]
impl ReviewReads for SqliteStore {
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
        let found = self.read(|c| {
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
        Ok(ReviewPage::of(found, query.limit))
    }
}

/// A condition selecting the rows (jobs, audit events) of a scope's partners — one partner, or
/// every partner that follows the global clock — on parameter `?n`, and that parameter.
pub(super) fn scope_filter(scope: Scope, n: u8) -> (String, String) {
    match scope {
        Scope::All => (
            format!(
                "partner_id NOT IN (SELECT scope FROM clocks WHERE scope <> 'global') AND ?{n} = ?{n}"
            ),
            String::new(),
        ),
        Scope::Partner(p) => (format!("partner_id = ?{n}"), p.to_string()),
    }
}

#[async_trait]
impl EventStore for SqliteStore {
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
            let top = queries::last_audit_seq(c)?;
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
            Ok(TransitionPage::of(items, after, top, limit))
        })
    }

    async fn transition_horizon(&self) -> StoreResult<i64> {
        self.read(queries::last_audit_seq)
    }

    async fn transitions_after(
        &self,
        seq: i64,
        scope: Scope,
        to: OffsetDateTime,
    ) -> StoreResult<Vec<AppliedTransition>> {
        let (filter, param) = scope_filter(scope, 3);
        self.read(|c| {
            all(
                c,
                &format!(
                    "SELECT id, customer_id, qualification, from_status, to_status, reason, at FROM audit_events \
                     WHERE id > ?1 AND from_status IS NOT NULL AND at <= ?2 AND {filter} ORDER BY at, id"
                ),
                params![seq, to_millis(to), param],
                |r| rows::applied_transition(r),
            )
        })
    }

    async fn last_audit_seq(&self) -> StoreResult<i64> {
        self.read(queries::last_audit_seq)
    }
}

#[async_trait]
impl ControlReads for SqliteStore {
    async fn partner_clocks(&self, partner: PartnerId) -> StoreResult<PartnerClocks> {
        self.read(|c| queries::clocks_of(c, partner))
    }

    async fn clock(&self, scope: Scope) -> StoreResult<Option<ClockSetting>> {
        self.read(|c| queries::own_clock(c, scope))
    }

    async fn clock_state(&self, scope: Scope) -> StoreResult<ClockState> {
        self.read(|c| queries::clock_state(c, scope))
    }

    async fn scenario(&self, partner: PartnerId) -> StoreResult<Option<serde_json::Value>> {
        Ok(self
            .read(|c| queries::scenario_of(c, partner))?
            .map(|(_, document)| document))
    }

    async fn scope_state(&self, scope: Scope) -> StoreResult<ScopeState> {
        let (filter, param) = match scope {
            Scope::All => ("?1 = ?1", String::new()),
            Scope::Partner(p) => ("partner_id = ?1", p.to_string()),
        };
        let clock_filter = match scope {
            Scope::All => "scope <> 'global' AND ?1 = ?1",
            Scope::Partner(_) => "scope = ?1",
        };
        self.read(|c| {
            let mut rows = queries::customer_rows(c, filter, &param)?;
            rows.codes = all(
                c,
                &format!("SELECT * FROM validation_codes WHERE {filter}"),
                [&param],
                |r| rows::validation_code(r),
            )?;
            let scenarios = all(
                c,
                &format!("SELECT partner_id, rules, document FROM scenarios WHERE {filter}"),
                [&param],
                |r| {
                    Ok((
                        rows::partner(&r.get::<_, String>(0)?)?,
                        (
                            rows::from_json("scenario", &r.get::<_, String>(1)?)?,
                            rows::from_json("scenario document", &r.get::<_, String>(2)?)?,
                        ),
                    ))
                },
            )?;
            let clocks = all(
                c,
                &format!("SELECT scope, frozen_at, offset_ms FROM clocks WHERE {clock_filter}"),
                [&param],
                |r| {
                    Ok((
                        rows::partner(&r.get::<_, String>(0)?)?,
                        rows::clock_setting(r.get(1)?, r.get(2)?),
                    ))
                },
            )?;
            Ok(ScopeState {
                rows,
                scenarios,
                clocks,
            })
        })
    }

    async fn seed_applied(&self, sha256: &str) -> StoreResult<bool> {
        self.read(|c| exists(c, "SELECT 1 FROM seeds WHERE sha256 = ?", [sha256]))
    }

    async fn current_seed(&self) -> StoreResult<Option<String>> {
        self.read(|c| {
            one(
                c,
                "SELECT document FROM seeds ORDER BY applied_at DESC, rowid DESC LIMIT 1",
                [],
                |r| Ok(r.get::<_, String>(0)?),
            )
        })
    }

    async fn purge_idempotency(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let before = to_millis(before);
        self.writer
            .write(move |conn| {
                let purged = run(
                    conn,
                    "DELETE FROM idempotency_records WHERE created_at < ?",
                    [before],
                )
                .map(|n| n as u64);
                (purged, qualify_core::effects::Signals::NONE)
            })
            .await
    }
}

#[async_trait]
impl FaultReads for SqliteStore {
    async fn faults(&self, partner: Option<PartnerId>) -> StoreResult<Vec<Fault>> {
        let partner = partner.map(|p| p.to_string());
        self.read(|c| {
            all(
                c,
                "SELECT id, seq, spec, hits, fired FROM faults WHERE ?1 IS NULL OR partner_id = ?1 ORDER BY seq",
                [partner],
                |r| rows::fault(r),
            )
        })
    }
}

const DELIVERY_COLUMNS: &str = "id, payload, run_at, outcome";

fn attempts_of(
    conn: &Connection,
    where_: &str,
    param: &str,
) -> StoreResult<Vec<(i64, qualify_core::webhooks::Attempt)>> {
    all(
        conn,
        &format!(
            "SELECT job_id, at, response_code, error, duration_ms FROM webhook_attempts WHERE {where_} ORDER BY id"
        ),
        [param],
        |r| rows::attempt(r),
    )
}

#[async_trait]
impl WebhookReads for SqliteStore {
    async fn webhook_registration(&self, partner: PartnerId) -> StoreResult<Option<Registration>> {
        self.read(|c| {
            one(
                c,
                "SELECT partner_id, subscriber_id, url, events, secret, previous_secret, previous_until, disabled \
                 FROM webhook_registrations WHERE partner_id = ?",
                [partner.to_string()],
                |r| rows::registration(r),
            )
        })
    }

    async fn deliveries(
        &self,
        partner: PartnerId,
        status: Option<DeliveryStatus>,
    ) -> StoreResult<Vec<Delivery>> {
        let p = partner.to_string();
        let filter = status.map_or_else(|| "1 = 1".to_owned(), rows::delivery_condition);
        self.read(|c| {
            let found = all(
                c,
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM jobs WHERE kind = ?1 AND partner_id = ?2 AND {filter} ORDER BY id"
                ),
                params![WebhookDelivery::KIND, p],
                |r| rows::delivery(r),
            )?;
            Ok(rows::with_attempts(found, attempts_of(c, "partner_id = ?", &p)?))
        })
    }

    async fn delivery(&self, find: DeliveryRef<'_>) -> StoreResult<Option<Delivery>> {
        self.read(|c| {
            let found = match find {
                DeliveryRef::Id(id) => one(
                    c,
                    &format!("SELECT {DELIVERY_COLUMNS} FROM jobs WHERE kind = ?1 AND id = ?2"),
                    params![WebhookDelivery::KIND, id],
                    |r| rows::delivery(r),
                )?,
                DeliveryRef::Event(partner, event_id) => one(
                    c,
                    &format!(
                        "SELECT {DELIVERY_COLUMNS} FROM jobs WHERE kind = ?1 AND partner_id = ?2 \
                         AND json_extract(payload, '$.eventId') = ?3 ORDER BY id LIMIT 1"
                    ),
                    params![WebhookDelivery::KIND, partner.to_string(), event_id],
                    |r| rows::delivery(r),
                )?,
            };
            let Some(d) = found else { return Ok(None) };
            let attempts = attempts_of(c, "job_id = ?", &d.id.to_string())?;
            Ok(rows::with_attempts(vec![d], attempts).pop())
        })
    }
}
