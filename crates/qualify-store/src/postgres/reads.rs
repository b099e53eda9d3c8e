//! The reads of every area on PostgreSQL, on the pool (no transaction of their own).

use async_trait::async_trait;
use qualify_core::clock::{ClockSetting, PartnerClocks};
use qualify_core::commands::control::ClockState;
use qualify_core::customer::Customer;
use qualify_core::engine::Scope;
use qualify_core::faults::Fault;
use qualify_core::jobs::JobType;
use qualify_core::qualification::{QualificationRecord, SettableQualification, VettingStatus};
use qualify_core::time_fmt::to_millis;
use qualify_core::validation::{GdapGrant, ValidationCode, ValidationStatus};
use qualify_core::webhooks::{Attempt, DeliveryStatus, Registration, WebhookDelivery};
use qualify_core::{CustomerId, PartnerId};
use sqlx::Row;
use time::OffsetDateTime;

use super::sql::{
    code_columns, customer_columns, joined_qualification_columns, qualification_columns,
    transition_columns,
};
use super::{PgStore, queries};
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
impl CustomerReads for PgStore {
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

    async fn customer_partner(&self, id: CustomerId) -> StoreResult<Option<PartnerId>> {
        queries::owner_of(&mut *self.pool.acquire().await?, id).await
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
        let page = found
            .iter()
            .map(|r| Ok((r.try_get::<i64, _>("seq")?, rows::customer(r)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(CustomerPage::of(page, limit))
    }

    async fn qualifications(&self, customer: CustomerId) -> StoreResult<Vec<QualificationRecord>> {
        queries::qualifications_of(&mut *self.pool.acquire().await?, customer).await
    }

    async fn owned_qualifications(
        &self,
        customer: CustomerId,
    ) -> StoreResult<Option<(PartnerId, Vec<QualificationRecord>)>> {
        let found = sqlx::query(concat!(
            "SELECT c.partner_id::text AS owner, ",
            joined_qualification_columns!(),
            " FROM customers c LEFT JOIN qualifications q ON q.customer_id = c.id WHERE c.id = $1::uuid ORDER BY q.id"
        ))
        .bind(customer.to_string())
        .fetch_all(&self.pool)
        .await?;
        let found = found
            .iter()
            .map(rows::owner_and_qualification)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(rows::fold_owned_qualifications(found))
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

    async fn gdap_grant(
        &self,
        partner: PartnerId,
        customer: CustomerId,
    ) -> StoreResult<Option<GdapGrant>> {
        queries::gdap(&mut *self.pool.acquire().await?, partner, customer).await
    }
}

#[async_trait]
impl ReviewReads for PgStore {
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

    async fn history(
        &self,
        customer: CustomerId,
        qualification: SettableQualification,
    ) -> StoreResult<Vec<AuditEvent>> {
        let found = sqlx::query(
            "SELECT at, actor, from_status, to_status, reason, request_id, correlation_id, profile_etag \
             FROM audit_events WHERE customer_id = $1::uuid AND qualification = $2 ORDER BY id",
        )
        .bind(customer.to_string())
        .bind(qualification.name())
        .fetch_all(&self.pool)
        .await?;
        found.iter().map(rows::audit_event).collect()
    }

    async fn review_page(&self, query: &ReviewQuery) -> StoreResult<ReviewPage> {
        // One statement per combination of filters, so that each is planned on its index.
        let mut sql = String::from(concat!(
            "SELECT ",
            joined_qualification_columns!(),
            ", c.company_profile->>'company_name' AS company_name, c.company_profile->>'domain' AS domain \
             FROM qualifications q JOIN customers c ON c.id = q.customer_id WHERE q.vetting_status = $1"
        ));
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
}

#[async_trait]
impl EventStore for PgStore {
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
        let found = sqlx::query(concat!(
            transition_columns!(),
            " WHERE ($4::uuid IS NULL OR partner_id = $4::uuid) AND id > $1 AND id <= $2 ORDER BY id LIMIT $3"
        ))
        .bind(after)
        .bind(stable)
        .bind(i64::from(limit))
        .bind(partner.map(|p| p.to_string()))
        .fetch_all(&self.pool)
        .await?;
        let items = found
            .iter()
            .map(rows::transition)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(TransitionPage::of(items, after, stable, limit))
    }

    async fn transition_horizon(&self) -> StoreResult<i64> {
        self.settled_horizon().await
    }

    async fn transitions_after(
        &self,
        seq: i64,
        scope: Scope,
        to: OffsetDateTime,
    ) -> StoreResult<Vec<AppliedTransition>> {
        let (filter, param) = queries::scope_filter(scope, 3);
        let found = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, customer_id::text AS customer_id, qualification, from_status, to_status, reason, at \
             FROM audit_events WHERE id > $1 AND from_status IS NOT NULL AND at <= $2 AND {filter} ORDER BY at, id"
        )))
        .bind(seq)
        .bind(to_millis(to))
        .bind(param)
        .fetch_all(&self.pool)
        .await?;
        found.iter().map(rows::applied_transition).collect()
    }

    async fn last_audit_seq(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0)::bigint FROM audit_events")
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

#[async_trait]
impl ControlReads for PgStore {
    async fn partner_clocks(&self, partner: PartnerId) -> StoreResult<PartnerClocks> {
        queries::clocks_of(&mut *self.pool.acquire().await?, partner).await
    }

    async fn clock(&self, scope: Scope) -> StoreResult<Option<ClockSetting>> {
        queries::own_clock(&mut *self.pool.acquire().await?, scope).await
    }

    async fn clock_state(&self, scope: Scope) -> StoreResult<ClockState> {
        queries::clock_state(&mut *self.pool.acquire().await?, scope).await
    }

    async fn scenario(&self, partner: PartnerId) -> StoreResult<Option<serde_json::Value>> {
        Ok(
            queries::scenario_of(&mut *self.pool.acquire().await?, partner)
                .await?
                .map(|(_, document)| document),
        )
    }

    async fn scope_state(&self, scope: Scope) -> StoreResult<ScopeState> {
        let (filter, param) = match scope {
            Scope::All => ("$1::text IS NULL", None),
            Scope::Partner(p) => ("partner_id = $1::uuid", Some(p.to_string())),
        };
        let clock_filter = match scope {
            Scope::All => "scope <> 'global' AND $1::text IS NULL",
            Scope::Partner(_) => "scope = $1::text",
        };
        let mut conn = self.pool.acquire().await?;
        let mut rows = queries::customer_rows(&mut conn, filter, param.clone()).await?;
        let codes = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM validation_codes WHERE {filter}",
            code_columns!()
        )))
        .bind(param.clone())
        .fetch_all(&mut *conn)
        .await?;
        rows.codes = codes
            .iter()
            .map(rows::validation_code)
            .collect::<StoreResult<_>>()?;
        let scenarios = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT partner_id::text AS partner_id, rules, document FROM scenarios WHERE {filter}"
        )))
        .bind(param.clone())
        .fetch_all(&mut *conn)
        .await?;
        let clocks = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT scope, frozen_at, offset_ms FROM clocks WHERE {clock_filter}"
        )))
        .bind(param)
        .fetch_all(&mut *conn)
        .await?;
        Ok(ScopeState {
            rows,
            scenarios: scenarios
                .iter()
                .map(|r| {
                    Ok((
                        rows::partner(&r.try_get::<String, _>("partner_id")?)?,
                        (
                            rows::from_json("scenario", &r.try_get::<String, _>("rules")?)?,
                            rows::from_json(
                                "scenario document",
                                &r.try_get::<String, _>("document")?,
                            )?,
                        ),
                    ))
                })
                .collect::<StoreResult<_>>()?,
            clocks: clocks
                .iter()
                .map(|r| {
                    Ok((
                        rows::partner(&r.try_get::<String, _>("scope")?)?,
                        rows::clock_setting(r.try_get("frozen_at")?, r.try_get("offset_ms")?),
                    ))
                })
                .collect::<StoreResult<_>>()?,
        })
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

    async fn purge_idempotency(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM idempotency_records WHERE created_at < $1")
            .bind(to_millis(before))
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }
}

#[async_trait]
impl FaultReads for PgStore {
    async fn faults(&self, partner: Option<PartnerId>) -> StoreResult<Vec<Fault>> {
        let found = sqlx::query(
            "SELECT id, seq, spec, hits, fired FROM faults \
             WHERE $1::uuid IS NULL OR partner_id = $1::uuid ORDER BY seq",
        )
        .bind(partner.map(|p| p.to_string()))
        .fetch_all(&self.pool)
        .await?;
        found.iter().map(rows::fault).collect()
    }
}

const DELIVERY_COLUMNS: &str = "id, payload::text AS payload, run_at, outcome";
const ATTEMPT_COLUMNS: &str =
    "job_id, at, response_code::bigint AS response_code, error, duration_ms";

#[async_trait]
impl WebhookReads for PgStore {
    async fn webhook_registration(&self, partner: PartnerId) -> StoreResult<Option<Registration>> {
        let row = sqlx::query(
            "SELECT partner_id::text AS partner_id, subscriber_id, url, events::text AS events, secret, \
             previous_secret, previous_until, disabled FROM webhook_registrations WHERE partner_id = $1::uuid",
        )
        .bind(partner.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::registration).transpose()
    }

    async fn deliveries(
        &self,
        partner: PartnerId,
        status: Option<DeliveryStatus>,
    ) -> StoreResult<Vec<Delivery>> {
        let filter = status.map_or_else(|| "TRUE".to_owned(), rows::delivery_condition);
        let found = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM jobs WHERE kind = $1 AND partner_id = $2::uuid AND {filter} ORDER BY id"
        )))
        .bind(WebhookDelivery::KIND)
        .bind(partner.to_string())
        .fetch_all(&self.pool)
        .await?;
        let found = found
            .iter()
            .map(rows::delivery)
            .collect::<StoreResult<Vec<_>>>()?;
        let attempts = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE partner_id = $1::uuid ORDER BY id"
        )))
        .bind(partner.to_string())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows::with_attempts(found, attempts_of(&attempts)?))
    }

    async fn delivery(&self, find: DeliveryRef<'_>) -> StoreResult<Option<Delivery>> {
        let row =
            match find {
                DeliveryRef::Id(id) => {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {DELIVERY_COLUMNS} FROM jobs WHERE kind = $1 AND id = $2"
                    )))
                    .bind(WebhookDelivery::KIND)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                }
                DeliveryRef::Event(partner, event_id) => sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {DELIVERY_COLUMNS} FROM jobs WHERE kind = $1 AND partner_id = $2::uuid \
                     AND payload->>'eventId' = $3 ORDER BY id LIMIT 1"
                )))
                .bind(WebhookDelivery::KIND)
                .bind(partner.to_string())
                .bind(event_id)
                .fetch_optional(&self.pool)
                .await?,
            };
        let Some(d) = row.as_ref().map(rows::delivery).transpose()? else {
            return Ok(None);
        };
        let attempts = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE job_id = $1 ORDER BY id"
        )))
        .bind(d.id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows::with_attempts(vec![d], attempts_of(&attempts)?).pop())
    }
}

fn attempts_of(found: &[sqlx::postgres::PgRow]) -> StoreResult<Vec<(i64, Attempt)>> {
    found.iter().map(rows::attempt).collect()
}
