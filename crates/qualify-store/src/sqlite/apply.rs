//! A plan's effects as SQLite statements, applied in order in the write's savepoint. Nothing
//! here decides: each effect is one or a few statements.

use qualify_core::CustomerId;
use qualify_core::effects::{Counts, Effect, Scope};
use qualify_core::jobs::{JobOutcome, JobType};
use qualify_core::qualification::{EducationSegment, VettingStatus};
use qualify_core::time_fmt::to_millis;
use qualify_core::webhooks::WebhookDelivery;
use rusqlite::{Connection, params};

use super::sql::run;
use crate::StoreResult;
use crate::pipeline::Written;
use crate::rows;

/// Writes one effect; `inserted` is the id of the row the plan inserted last.
pub(super) fn write(
    conn: &Connection,
    effect: &Effect,
    inserted: Option<i64>,
) -> StoreResult<Written> {
    let rows = match effect {
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
            return Ok(Written::id(id));
        }
        Effect::CountRead { id, reads } => run(
            conn,
            "UPDATE qualifications SET reads = ? WHERE id = ?",
            params![reads, id],
        )?,
        Effect::SpendValidationCode {
            validation_id,
            etag,
        } => run(
            conn,
            "UPDATE validation_codes SET remaining_creates = remaining_creates - 1, etag = ? \
                 WHERE validation_id = ? AND remaining_creates > 0",
            params![etag, validation_id],
        )?,
        Effect::DecideQualification {
            id,
            to,
            reason,
            etag,
            at,
        } => run(
            conn,
            "UPDATE qualifications SET vetting_status = ?, vetting_reason = ?, etag = ?, decided_at = ? \
                 WHERE id = ? AND vetting_status = 'InReview'",
            params![to.name(), reason.as_deref(), etag, to_millis(*at), id],
        )?,
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
            )?
        }
        Effect::Audit(a) => run(
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
        )?,
        Effect::Emit { event, subject } => run(
            conn,
            "INSERT INTO jobs (kind, partner_id, qualification_id, payload, run_at) \
                 SELECT ?1, r.partner_id, ?2, ?3, ?4 FROM webhook_registrations r \
                 WHERE r.partner_id = ?5 AND r.disabled IS NULL \
                 AND EXISTS (SELECT 1 FROM json_each(r.events) WHERE value = ?6)",
            params![
                WebhookDelivery::KIND,
                rows::resolve(*subject, inserted)?,
                rows::json(event)?,
                to_millis(event.changed_at),
                event.partner_id.to_string(),
                event.event_name.name(),
            ],
        )?,
        Effect::ClearScope(scope) => {
            return Ok(Written {
                removed: Some(clear_scope(conn, *scope)?),
                ..Written::default()
            });
        }
        Effect::DeleteCustomer(id) => {
            delete_customer(conn, *id)?;
            0
        }
        Effect::InsertCustomer(c) => run(
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
        )?,
        Effect::UpdateBillingProfile {
            customer,
            profile,
            etag,
        } => run(
            conn,
            "UPDATE customers SET billing_profile = ?, billing_etag = ? WHERE id = ?",
            params![rows::json(profile)?, etag, customer.to_string()],
        )?,
        Effect::SetGdap(g) => run(
            conn,
            "INSERT INTO gdap_grants (partner_id, customer_id, roles, updated_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (partner_id, customer_id) DO UPDATE SET roles = excluded.roles, updated_at = excluded.updated_at",
            params![
                g.partner_id.to_string(),
                g.customer_id.to_string(),
                rows::gdap_roles_json(&g.roles)?,
                to_millis(g.updated_at)
            ],
        )?,
        Effect::SetValidationStatus(v) => run(
            conn,
            "INSERT INTO validation_statuses (customer_id, status, last_update) VALUES (?, ?, ?) \
                 ON CONFLICT (customer_id) DO UPDATE SET status = excluded.status, last_update = excluded.last_update",
            params![
                v.customer_id.to_string(),
                v.status.name(),
                to_millis(v.last_update)
            ],
        )?,
        Effect::InsertValidationCode { code, at } => run(
            conn,
            "INSERT INTO validation_codes (validation_id, partner_id, organization_name, max_creates, \
                 remaining_creates, etag, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (validation_id) DO NOTHING",
            params![
                code.validation_id,
                code.partner_id.to_string(),
                code.organization_name,
                code.max_creates,
                code.remaining_creates,
                code.etag,
                to_millis(*at)
            ],
        )?,
        Effect::UpsertValidationCode { code, at } => run(
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
        )?,
        Effect::SetScenario { partner, scenario } => match scenario {
            Some((rules, document)) => run(
                conn,
                "INSERT INTO scenarios (partner_id, rules, document, updated_at) VALUES (?, ?, ?, 0) \
                     ON CONFLICT (partner_id) DO UPDATE SET rules = excluded.rules, document = excluded.document",
                params![
                    partner.to_string(),
                    rows::json(rules)?,
                    rows::json(document)?
                ],
            )?,
            None => run(
                conn,
                "DELETE FROM scenarios WHERE partner_id = ?",
                [partner.to_string()],
            )?,
        },
        Effect::SetClock { scope, setting } => match setting {
            Some(setting) => {
                let (frozen_at, offset_ms) = rows::clock_columns(*setting);
                run(
                    conn,
                    "INSERT INTO clocks (scope, frozen_at, offset_ms) VALUES (?, ?, ?) \
                     ON CONFLICT (scope) DO UPDATE SET frozen_at = excluded.frozen_at, offset_ms = excluded.offset_ms",
                    params![rows::clock_scope(*scope), frozen_at, offset_ms],
                )?
            }
            None => run(
                conn,
                "DELETE FROM clocks WHERE scope = ?",
                [rows::clock_scope(*scope)],
            )?,
        },
        Effect::RecordSeed {
            sha256,
            document,
            at,
        } => run(
            conn,
            "INSERT INTO seeds (sha256, document, applied_at) VALUES (?, ?, ?) \
                 ON CONFLICT (sha256) DO UPDATE SET applied_at = excluded.applied_at",
            params![sha256, document, to_millis(*at)],
        )?,
        Effect::JobError { id, error } => run(
            conn,
            "UPDATE jobs SET last_error = ? WHERE id = ?",
            params![error, id],
        )?,
        Effect::FinishJob { id, outcome, at } => run(
            conn,
            "UPDATE jobs SET done_at = ?, outcome = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?",
            params![to_millis(*at), outcome.as_str(), id],
        )?,
        Effect::RetryJob { id, run_at } => run(
            conn,
            "UPDATE jobs SET run_at = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?",
            params![to_millis(*run_at), id],
        )?,
        Effect::AddFault { fault, at } => {
            let seq: i64 = conn
                .prepare_cached(
                    "INSERT INTO faults (id, partner_id, spec, created_at) VALUES (?, ?, ?, ?) RETURNING seq",
                )?
                .query_row(
                    params![
                        fault.id,
                        fault.spec.matches.partner.map(|p| p.to_string()),
                        rows::json(&fault.spec)?,
                        to_millis(*at)
                    ],
                    |r| r.get(0),
                )?;
            return Ok(Written::id(seq));
        }
        Effect::RemoveFault(id) => run(conn, "DELETE FROM faults WHERE id = ?", [id])?,
        Effect::ClearFaults(partner) => match partner {
            Some(p) => run(
                conn,
                "DELETE FROM faults WHERE partner_id = ?",
                [p.to_string()],
            )?,
            None => run(conn, "DELETE FROM faults", [])?,
        },
        Effect::CountFaultHit { id, hits, fired } => run(
            conn,
            "UPDATE faults SET hits = ?, fired = ? WHERE id = ?",
            params![*hits as i64, *fired as i64, id],
        )?,
        Effect::PutRegistration {
            registration: r,
            at,
        } => {
            let (previous, until) = match &r.previous_secret {
                Some((s, until)) => (Some(s.as_str()), Some(to_millis(*until))),
                None => (None, None),
            };
            run(
                conn,
                "INSERT INTO webhook_registrations (partner_id, subscriber_id, url, events, secret, previous_secret, \
                 previous_until, disabled, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (partner_id) DO UPDATE SET subscriber_id = excluded.subscriber_id, url = excluded.url, \
                 events = excluded.events, secret = excluded.secret, previous_secret = excluded.previous_secret, \
                 previous_until = excluded.previous_until, disabled = excluded.disabled, updated_at = excluded.updated_at",
                params![
                    r.partner_id.to_string(),
                    r.subscriber_id,
                    r.url,
                    rows::json(&r.events)?,
                    r.secret,
                    previous,
                    until,
                    r.disabled,
                    to_millis(*at)
                ],
            )?
        }
        Effect::DeleteRegistration(partner) => run(
            conn,
            "DELETE FROM webhook_registrations WHERE partner_id = ?",
            [partner.to_string()],
        )?,
        Effect::CancelDeliveries { partner, at } => run(
            conn,
            "UPDATE jobs SET done_at = ?1, outcome = ?2, lease_owner = NULL, lease_until = NULL \
                 WHERE kind = ?3 AND partner_id = ?4 AND done_at IS NULL",
            params![
                to_millis(*at),
                JobOutcome::Cancelled.as_str(),
                WebhookDelivery::KIND,
                partner.to_string()
            ],
        )?,
        Effect::DisableRegistration { partner, reason } => run(
            conn,
            "UPDATE webhook_registrations SET disabled = ? WHERE partner_id = ?",
            params![reason, partner.to_string()],
        )?,
        Effect::RecordAttempt {
            job,
            partner,
            attempt,
        } => run(
            conn,
            "INSERT INTO webhook_attempts (job_id, partner_id, at, response_code, error, duration_ms) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            params![
                job,
                partner.to_string(),
                to_millis(attempt.at),
                attempt.response_code,
                attempt.error,
                attempt.duration_ms as i64
            ],
        )?,
        Effect::Redeliver { id, at } => run(
            conn,
            "UPDATE jobs SET done_at = NULL, outcome = NULL, attempts = 0, run_at = ?1 WHERE id = ?2 AND kind = ?3",
            params![to_millis(*at), id, WebhookDelivery::KIND],
        )?,
        Effect::KeepSigningKey { key, at } => run(
            conn,
            "INSERT INTO signing_keys (id, private_key, certificate, created_at) VALUES (1, ?, ?, ?) \
                 ON CONFLICT (id) DO NOTHING",
            params![key.private_key, key.certificate, to_millis(*at)],
        )?,
    };
    Ok(Written::rows(rows as u64))
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
