//! Webhook registrations, deliveries and their attempts on PostgreSQL (events.md 1-2). What a
//! delivery's answer means is `qualify_core::webhooks::judge`; this module only stores it.

use qualify_core::PartnerId;
use qualify_core::jobs::Job;
use qualify_core::time_fmt::to_millis;
use qualify_core::webhooks::{DELIVERY_JOB, Registration, Verdict};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use super::{commit, holds, mark_done};
use crate::{Attempt, Delivery, DeliveryRef, DeliveryStatus, SigningKey, StoreResult, rows};

const REGISTRATION_COLUMNS: &str = "partner_id::text AS partner_id, subscriber_id, url, events::text AS events, \
     secret, previous_secret, previous_until, disabled";
const DELIVERY_COLUMNS: &str = "id, payload::text AS payload, run_at, outcome";
const ATTEMPT_COLUMNS: &str =
    "job_id, at, response_code::bigint AS response_code, error, duration_ms";

pub(super) async fn registration(
    pool: &PgPool,
    partner: PartnerId,
) -> StoreResult<Option<Registration>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {REGISTRATION_COLUMNS} FROM webhook_registrations WHERE partner_id = $1::uuid"
    )))
    .bind(partner.to_string())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(rows::registration).transpose()
}

pub(super) async fn put_registration(
    pool: &PgPool,
    r: &Registration,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let (previous, until) = match &r.previous_secret {
        Some((s, until)) => (Some(s.as_str()), Some(to_millis(*until))),
        None => (None, None),
    };
    sqlx::query(
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
    .bind(to_millis(now))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn delete_registration(
    pool: &PgPool,
    partner: PartnerId,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE jobs SET done_at = $1, outcome = 'cancelled', lease_owner = NULL, lease_until = NULL \
         WHERE kind = $2 AND partner_id = $3::uuid AND done_at IS NULL",
    )
    .bind(to_millis(now))
    .bind(DELIVERY_JOB)
    .bind(partner.to_string())
    .execute(&mut *tx)
    .await?;
    let removed = sqlx::query("DELETE FROM webhook_registrations WHERE partner_id = $1::uuid")
        .bind(partner.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    commit(tx).await?;
    Ok(removed > 0)
}

pub(super) async fn signing_key(
    pool: &PgPool,
    key: Option<SigningKey>,
) -> StoreResult<Option<SigningKey>> {
    if let Some(k) = key {
        sqlx::query(
            "INSERT INTO signing_keys (id, private_key, certificate, created_at) VALUES (1, $1, $2, $3) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&k.private_key)
        .bind(&k.certificate)
        .bind(to_millis(OffsetDateTime::now_utc()))
        .execute(pool)
        .await?;
    }
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT private_key, certificate FROM signing_keys WHERE id = 1")
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(private_key, certificate)| SigningKey {
        private_key,
        certificate,
    }))
}

async fn attempts_of(
    pool: &PgPool,
    filter: &str,
    param: String,
    is_uuid: bool,
) -> StoreResult<Vec<(i64, Attempt)>> {
    let sql = if is_uuid {
        format!(
            "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE {filter} = $1::uuid ORDER BY id"
        )
    } else {
        format!(
            "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE {filter} = $1::bigint ORDER BY id"
        )
    };
    let found = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(param)
        .fetch_all(pool)
        .await?;
    found.iter().map(rows::attempt).collect()
}

pub(super) async fn deliveries(
    pool: &PgPool,
    partner: PartnerId,
    status: Option<DeliveryStatus>,
) -> StoreResult<Vec<Delivery>> {
    let filter = status.map_or("TRUE", DeliveryStatus::condition);
    let found = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM jobs WHERE kind = $1 AND partner_id = $2::uuid AND {filter} ORDER BY id"
    )))
    .bind(DELIVERY_JOB)
    .bind(partner.to_string())
    .fetch_all(pool)
    .await?;
    let found = found
        .iter()
        .map(rows::delivery)
        .collect::<StoreResult<Vec<_>>>()?;
    let attempts = attempts_of(pool, "partner_id", partner.to_string(), true).await?;
    Ok(rows::with_attempts(found, attempts))
}

pub(super) async fn delivery(
    pool: &PgPool,
    find: DeliveryRef<'_>,
) -> StoreResult<Option<Delivery>> {
    let row = match find {
        DeliveryRef::Id(id) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {DELIVERY_COLUMNS} FROM jobs WHERE kind = $1 AND id = $2"
            )))
            .bind(DELIVERY_JOB)
            .bind(id)
            .fetch_optional(pool)
            .await?
        }
        DeliveryRef::Event(partner, event_id) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {DELIVERY_COLUMNS} FROM jobs WHERE kind = $1 AND partner_id = $2::uuid \
                 AND payload->>'eventId' = $3 ORDER BY id LIMIT 1"
            )))
            .bind(DELIVERY_JOB)
            .bind(partner.to_string())
            .bind(event_id)
            .fetch_optional(pool)
            .await?
        }
    };
    let Some(d) = row.as_ref().map(rows::delivery).transpose()? else {
        return Ok(None);
    };
    let attempts = attempts_of(pool, "job_id", d.id.to_string(), false).await?;
    Ok(rows::with_attempts(vec![d], attempts).pop())
}

pub(super) async fn finish_attempt(
    conn: &mut PgConnection,
    job: &Job,
    owner: &str,
    attempt: &Attempt,
    verdict: Verdict,
) -> StoreResult<bool> {
    if !holds(conn, job.id, owner).await? {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO webhook_attempts (job_id, partner_id, at, response_code, error, duration_ms) \
         VALUES ($1, $2::uuid, $3, $4, $5, $6)",
    )
    .bind(job.id)
    .bind(job.partner.to_string())
    .bind(to_millis(attempt.at))
    .bind(attempt.response_code.map(i32::from))
    .bind(attempt.error.as_deref())
    .bind(attempt.duration_ms as i64)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE jobs SET last_error = $1 WHERE id = $2")
        .bind(attempt.error.as_deref())
        .bind(job.id)
        .execute(&mut *conn)
        .await?;
    match verdict {
        Verdict::RetryAt(at) => {
            sqlx::query(
                "UPDATE jobs SET run_at = $1, lease_owner = NULL, lease_until = NULL WHERE id = $2",
            )
            .bind(to_millis(at))
            .bind(job.id)
            .execute(&mut *conn)
            .await?;
        }
        Verdict::Succeeded | Verdict::Dead | Verdict::Disable => {
            mark_done(
                conn,
                job.id,
                attempt.at,
                verdict.outcome().unwrap_or("dead"),
            )
            .await?;
            if verdict == Verdict::Disable {
                sqlx::query(
                    "UPDATE webhook_registrations SET disabled = $1 WHERE partner_id = $2::uuid",
                )
                .bind(attempt.error.as_deref())
                .bind(job.partner.to_string())
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    Ok(true)
}

pub(super) async fn redeliver(
    pool: &PgPool,
    id: i64,
    now: OffsetDateTime,
) -> StoreResult<Option<Delivery>> {
    let changed = sqlx::query(
        "UPDATE jobs SET done_at = NULL, outcome = NULL, attempts = 0, run_at = $1 WHERE id = $2 AND kind = $3",
    )
    .bind(to_millis(now))
    .bind(id)
    .bind(DELIVERY_JOB)
    .execute(pool)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(None);
    }
    delivery(pool, DeliveryRef::Id(id)).await
}
