//! A plan's effects as PostgreSQL statements, applied in order in the write's transaction.
//! Nothing here decides: each effect is one or a few statements.

use qualify_core::effects::{Counts, Effect, Scope};
use qualify_core::jobs::{JobOutcome, JobType};
use qualify_core::qualification::{EducationSegment, VettingStatus};
use qualify_core::time_fmt::to_millis;
use qualify_core::webhooks::WebhookDelivery;
use sqlx::PgConnection;

use crate::StoreResult;
use crate::pipeline::Written;
use crate::rows;

/// Notified (in the changing transaction) whenever the fault list changes.
pub(super) const FAULTS_CHANNEL: &str = "qualify_faults";

/// Runs one statement of an effect; returns the rows it changed.
async fn exec<'q>(
    conn: &mut PgConnection,
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> StoreResult<u64> {
    Ok(query.execute(&mut *conn).await?.rows_affected())
}

/// Writes one effect; `inserted` is the id of the row the plan inserted last.
pub(super) async fn write(
    conn: &mut PgConnection,
    effect: &Effect,
    inserted: Option<i64>,
) -> StoreResult<Written> {
    use sqlx::query;
    let rows = match effect {
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
            return Ok(Written::id(id));
        }
        Effect::CountRead { id, reads } => {
            exec(
                conn,
                query("UPDATE qualifications SET reads = $1 WHERE id = $2")
                    .bind(i64::from(*reads))
                    .bind(id),
            )
            .await?
        }
        Effect::SpendValidationCode {
            validation_id,
            etag,
        } => {
            exec(
                conn,
                query(
                    "UPDATE validation_codes SET remaining_creates = remaining_creates - 1, etag = $1 \
                     WHERE validation_id = $2 AND remaining_creates > 0",
                )
                .bind(etag)
                .bind(validation_id),
            )
            .await?
        }
        Effect::DecideQualification {
            id,
            to,
            reason,
            etag,
            at,
        } => {
            exec(
                conn,
                query(
                    "UPDATE qualifications SET vetting_status = $1, vetting_reason = $2, etag = $3, decided_at = $4 \
                     WHERE id = $5 AND vetting_status = 'InReview'",
                )
                .bind(to.name())
                .bind(reason.as_deref())
                .bind(etag)
                .bind(to_millis(*at))
                .bind(id),
            )
            .await?
        }
        Effect::Enqueue { job, subject } => {
            let qualification = subject.map(|s| rows::resolve(s, inserted)).transpose()?;
            exec(
                conn,
                query(
                    "INSERT INTO jobs (kind, partner_id, qualification_id, payload, run_at) \
                     VALUES ($1, $2::uuid, $3, $4::jsonb, $5)",
                )
                .bind(job.kind.as_str())
                .bind(job.partner.to_string())
                .bind(qualification)
                .bind(rows::json(&job.payload)?)
                .bind(to_millis(job.run_at)),
            )
            .await?
        }
        Effect::Audit(a) => {
            exec(
                conn,
                query(
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
                .bind(a.profile_etag.as_deref()),
            )
            .await?
        }
        Effect::Emit { event, subject } => {
            exec(
                conn,
                query(
                    "INSERT INTO jobs (kind, partner_id, qualification_id, payload, run_at) \
                     SELECT $1, r.partner_id, $2, $3::jsonb, $4 FROM webhook_registrations r \
                     WHERE r.partner_id = $5::uuid AND r.disabled IS NULL AND r.events ? $6",
                )
                .bind(WebhookDelivery::KIND)
                .bind(rows::resolve(*subject, inserted)?)
                .bind(rows::json(event)?)
                .bind(to_millis(event.changed_at))
                .bind(event.partner_id.to_string())
                .bind(event.event_name.name()),
            )
            .await?
        }
        Effect::ClearScope(scope) => {
            return Ok(Written {
                removed: Some(clear_scope(conn, *scope).await?),
                ..Written::default()
            });
        }
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
                exec(conn, query(sql).bind(id.to_string())).await?;
            }
            0
        }
        Effect::InsertCustomer(c) => {
            exec(
                conn,
                query(
                    "INSERT INTO customers (id, partner_id, company_profile, company_etag, billing_profile, \
                     billing_etag, created_at) VALUES ($1::uuid, $2::uuid, $3::jsonb, $4, $5::jsonb, $6, $7)",
                )
                .bind(c.id.to_string())
                .bind(c.partner_id.to_string())
                .bind(rows::json(&c.company_profile)?)
                .bind(&c.company_etag)
                .bind(rows::json(&c.billing_profile)?)
                .bind(&c.billing_etag)
                .bind(to_millis(c.created_at)),
            )
            .await?
        }
        Effect::UpdateBillingProfile {
            customer,
            profile,
            etag,
        } => {
            exec(
                conn,
                query("UPDATE customers SET billing_profile = $1::jsonb, billing_etag = $2 WHERE id = $3::uuid")
                    .bind(rows::json(profile)?)
                    .bind(etag)
                    .bind(customer.to_string()),
            )
            .await?
        }
        Effect::SetGdap(g) => {
            exec(
                conn,
                query(
                    "INSERT INTO gdap_grants (partner_id, customer_id, roles, updated_at) \
                     VALUES ($1::uuid, $2::uuid, $3::jsonb, $4) ON CONFLICT (partner_id, customer_id) \
                     DO UPDATE SET roles = excluded.roles, updated_at = excluded.updated_at",
                )
                .bind(g.partner_id.to_string())
                .bind(g.customer_id.to_string())
                .bind(rows::gdap_roles_json(&g.roles)?)
                .bind(to_millis(g.updated_at)),
            )
            .await?
        }
        Effect::SetValidationStatus(v) => {
            exec(
                conn,
                query(
                    "INSERT INTO validation_statuses (customer_id, status, last_update) VALUES ($1::uuid, $2, $3) \
                     ON CONFLICT (customer_id) DO UPDATE SET status = excluded.status, last_update = excluded.last_update",
                )
                .bind(v.customer_id.to_string())
                .bind(v.status.name())
                .bind(to_millis(v.last_update)),
            )
            .await?
        }
        Effect::InsertValidationCode { code, at } | Effect::UpsertValidationCode { code, at } => {
            let on_conflict = match effect {
                Effect::InsertValidationCode { .. } => "DO NOTHING",
                _ => {
                    "DO UPDATE SET organization_name = excluded.organization_name, \
                     max_creates = excluded.max_creates, remaining_creates = excluded.remaining_creates, \
                     etag = excluded.etag"
                }
            };
            exec(
                conn,
                query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO validation_codes (validation_id, partner_id, organization_name, max_creates, \
                     remaining_creates, etag, created_at) VALUES ($1, $2::uuid, $3, $4, $5, $6, $7) \
                     ON CONFLICT (validation_id) {on_conflict}"
                )))
                .bind(&code.validation_id)
                .bind(code.partner_id.to_string())
                .bind(&code.organization_name)
                .bind(code.max_creates)
                .bind(code.remaining_creates)
                .bind(&code.etag)
                .bind(to_millis(*at)),
            )
            .await?
        }
        Effect::SetScenario { partner, scenario } => match scenario {
            Some((rules, document)) => {
                exec(
                    conn,
                    query(
                        "INSERT INTO scenarios (partner_id, rules, document, updated_at) VALUES ($1::uuid, $2, $3, 0) \
                         ON CONFLICT (partner_id) DO UPDATE SET rules = excluded.rules, document = excluded.document",
                    )
                    .bind(partner.to_string())
                    .bind(rows::json(rules)?)
                    .bind(rows::json(document)?),
                )
                .await?
            }
            None => {
                exec(
                    conn,
                    query("DELETE FROM scenarios WHERE partner_id = $1::uuid").bind(partner.to_string()),
                )
                .await?
            }
        },
        Effect::SetClock { scope, setting } => match setting {
            Some(setting) => {
                let (frozen_at, offset_ms) = rows::clock_columns(*setting);
                exec(
                    conn,
                    query(
                        "INSERT INTO clocks (scope, frozen_at, offset_ms) VALUES ($1, $2, $3) \
                         ON CONFLICT (scope) DO UPDATE SET frozen_at = excluded.frozen_at, offset_ms = excluded.offset_ms",
                    )
                    .bind(rows::clock_scope(*scope))
                    .bind(frozen_at)
                    .bind(offset_ms),
                )
                .await?
            }
            None => {
                exec(
                    conn,
                    query("DELETE FROM clocks WHERE scope = $1").bind(rows::clock_scope(*scope)),
                )
                .await?
            }
        },
        Effect::RecordSeed {
            sha256,
            document,
            at,
        } => {
            exec(
                conn,
                query(
                    "INSERT INTO seeds (sha256, document, applied_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (sha256) DO UPDATE SET applied_at = excluded.applied_at",
                )
                .bind(sha256)
                .bind(document)
                .bind(to_millis(*at)),
            )
            .await?
        }
        Effect::JobError { id, error } => {
            exec(
                conn,
                query("UPDATE jobs SET last_error = $1 WHERE id = $2")
                    .bind(error.as_deref())
                    .bind(id),
            )
            .await?
        }
        Effect::FinishJob { id, outcome, at } => {
            exec(
                conn,
                query(
                    "UPDATE jobs SET done_at = $1, outcome = $2, lease_owner = NULL, lease_until = NULL WHERE id = $3",
                )
                .bind(to_millis(*at))
                .bind(outcome.as_str())
                .bind(id),
            )
            .await?
        }
        Effect::RetryJob { id, run_at } => {
            exec(
                conn,
                query("UPDATE jobs SET run_at = $1, lease_owner = NULL, lease_until = NULL WHERE id = $2")
                    .bind(to_millis(*run_at))
                    .bind(id),
            )
            .await?
        }
        Effect::AddFault { fault, at } => {
            let seq: i64 = sqlx::query_scalar(
                "INSERT INTO faults (id, partner_id, spec, created_at) VALUES ($1, $2::uuid, $3, $4) RETURNING seq",
            )
            .bind(&fault.id)
            .bind(fault.spec.matches.partner.map(|p| p.to_string()))
            .bind(rows::json(&fault.spec)?)
            .bind(to_millis(*at))
            .fetch_one(&mut *conn)
            .await?;
            notify_faults(conn).await?;
            return Ok(Written::id(seq));
        }
        Effect::RemoveFault(id) => {
            let removed = exec(conn, query("DELETE FROM faults WHERE id = $1").bind(id)).await?;
            notify_faults(conn).await?;
            removed
        }
        Effect::ClearFaults(partner) => {
            exec(
                conn,
                query("DELETE FROM faults WHERE $1::uuid IS NULL OR partner_id = $1::uuid")
                    .bind(partner.map(|p| p.to_string())),
            )
            .await?;
            notify_faults(conn).await?;
            0
        }
        Effect::CountFaultHit { id, hits, fired } => {
            exec(
                conn,
                query("UPDATE faults SET hits = $2, fired = $3 WHERE id = $1")
                    .bind(id)
                    .bind(*hits as i64)
                    .bind(*fired as i64),
            )
            .await?
        }
        Effect::PutRegistration { registration: r, at } => {
            let (previous, until) = match &r.previous_secret {
                Some((s, until)) => (Some(s.as_str()), Some(to_millis(*until))),
                None => (None, None),
            };
            exec(
                conn,
                query(
                    "INSERT INTO webhook_registrations (partner_id, subscriber_id, url, events, secret, previous_secret, \
                     previous_until, disabled, updated_at) VALUES ($1::uuid, $2, $3, $4::jsonb, $5, $6, $7, $8, $9) \
                     ON CONFLICT (partner_id) DO UPDATE SET subscriber_id = excluded.subscriber_id, url = excluded.url, \
                     events = excluded.events, secret = excluded.secret, previous_secret = excluded.previous_secret, \
                     previous_until = excluded.previous_until, disabled = excluded.disabled, updated_at = excluded.updated_at",
                )
                .bind(r.partner_id.to_string())
                .bind(&r.subscriber_id)
                .bind(&r.url)
                .bind(rows::json(&r.events)?)
                .bind(&r.secret)
                .bind(previous)
                .bind(until)
                .bind(r.disabled.as_deref())
                .bind(to_millis(*at)),
            )
            .await?
        }
        Effect::DeleteRegistration(partner) => {
            exec(
                conn,
                query("DELETE FROM webhook_registrations WHERE partner_id = $1::uuid")
                    .bind(partner.to_string()),
            )
            .await?
        }
        Effect::CancelDeliveries { partner, at } => {
            exec(
                conn,
                query(
                    "UPDATE jobs SET done_at = $1, outcome = $2, lease_owner = NULL, lease_until = NULL \
                     WHERE kind = $3 AND partner_id = $4::uuid AND done_at IS NULL",
                )
                .bind(to_millis(*at))
                .bind(JobOutcome::Cancelled.as_str())
                .bind(WebhookDelivery::KIND)
                .bind(partner.to_string()),
            )
            .await?
        }
        Effect::DisableRegistration { partner, reason } => {
            exec(
                conn,
                query("UPDATE webhook_registrations SET disabled = $1 WHERE partner_id = $2::uuid")
                    .bind(reason.as_deref())
                    .bind(partner.to_string()),
            )
            .await?
        }
        Effect::RecordAttempt {
            job,
            partner,
            attempt,
        } => {
            exec(
                conn,
                query(
                    "INSERT INTO webhook_attempts (job_id, partner_id, at, response_code, error, duration_ms) \
                     VALUES ($1, $2::uuid, $3, $4, $5, $6)",
                )
                .bind(job)
                .bind(partner.to_string())
                .bind(to_millis(attempt.at))
                .bind(attempt.response_code.map(i32::from))
                .bind(attempt.error.as_deref())
                .bind(attempt.duration_ms as i64),
            )
            .await?
        }
        Effect::Redeliver { id, at } => {
            exec(
                conn,
                query(
                    "UPDATE jobs SET done_at = NULL, outcome = NULL, attempts = 0, run_at = $1 WHERE id = $2 AND kind = $3",
                )
                .bind(to_millis(*at))
                .bind(id)
                .bind(WebhookDelivery::KIND),
            )
            .await?
        }
        Effect::KeepSigningKey { key, at } => {
            exec(
                conn,
                query(
                    "INSERT INTO signing_keys (id, private_key, certificate, created_at) VALUES (1, $1, $2, $3) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(&key.private_key)
                .bind(&key.certificate)
                .bind(to_millis(*at)),
            )
            .await?
        }
    };
    Ok(Written::rows(rows))
}

/// Tells every instance (this one too) that the faults changed, when the transaction commits.
async fn notify_faults(conn: &mut PgConnection) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(FAULTS_CHANNEL)
        .execute(&mut *conn)
        .await?;
    Ok(())
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
