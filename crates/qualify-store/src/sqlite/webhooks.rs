//! Webhook registrations, deliveries and their attempts on SQLite (events.md 1-2). What a
//! delivery's answer means is `qualify_core::webhooks::judge`; this module only stores it.

use qualify_core::PartnerId;
use qualify_core::jobs::Job;
use qualify_core::time_fmt::to_millis;
use qualify_core::webhooks::{DELIVERY_JOB, Registration, Verdict};
use rusqlite::{Connection, params};
use time::OffsetDateTime;

use super::{all, holds, mark_done, one, run};
use crate::{Attempt, Delivery, DeliveryRef, DeliveryStatus, SigningKey, StoreResult, rows};

const REGISTRATION_COLUMNS: &str = "partner_id, subscriber_id, url, events, secret, previous_secret, \
     previous_until, disabled";

pub(super) fn registration(
    conn: &Connection,
    partner: PartnerId,
) -> StoreResult<Option<Registration>> {
    one(
        conn,
        &format!("SELECT {REGISTRATION_COLUMNS} FROM webhook_registrations WHERE partner_id = ?"),
        [partner.to_string()],
        |r| rows::registration(r),
    )
}

pub(super) fn put_registration(
    conn: &Connection,
    r: &Registration,
    now: OffsetDateTime,
) -> StoreResult<()> {
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
            to_millis(now)
        ],
    )?;
    Ok(())
}

pub(super) fn delete_registration(
    conn: &Connection,
    partner: PartnerId,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let p = partner.to_string();
    run(
        conn,
        "UPDATE jobs SET done_at = ?1, outcome = 'cancelled', lease_owner = NULL, lease_until = NULL \
         WHERE kind = ?2 AND partner_id = ?3 AND done_at IS NULL",
        params![to_millis(now), DELIVERY_JOB, p],
    )?;
    Ok(run(
        conn,
        "DELETE FROM webhook_registrations WHERE partner_id = ?",
        [p],
    )? > 0)
}

pub(super) fn signing_key(
    conn: &Connection,
    key: Option<&SigningKey>,
    now: OffsetDateTime,
) -> StoreResult<Option<SigningKey>> {
    if let Some(k) = key {
        run(
            conn,
            "INSERT INTO signing_keys (id, private_key, certificate, created_at) VALUES (1, ?, ?, ?) \
             ON CONFLICT (id) DO NOTHING",
            params![k.private_key, k.certificate, to_millis(now)],
        )?;
    }
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

const DELIVERY_COLUMNS: &str = "id, payload, run_at, outcome";

fn attempts_of(conn: &Connection, where_: &str, param: &str) -> StoreResult<Vec<(i64, Attempt)>> {
    all(
        conn,
        &format!(
            "SELECT job_id, at, response_code, error, duration_ms FROM webhook_attempts WHERE {where_} ORDER BY id"
        ),
        [param],
        |r| rows::attempt(r),
    )
}

pub(super) fn deliveries(
    conn: &Connection,
    partner: PartnerId,
    status: Option<DeliveryStatus>,
) -> StoreResult<Vec<Delivery>> {
    let p = partner.to_string();
    let filter = status.map_or("1 = 1", DeliveryStatus::condition);
    let found = all(
        conn,
        &format!(
            "SELECT {DELIVERY_COLUMNS} FROM jobs WHERE kind = ?1 AND partner_id = ?2 AND {filter} ORDER BY id"
        ),
        params![DELIVERY_JOB, p],
        |r| rows::delivery(r),
    )?;
    Ok(rows::with_attempts(
        found,
        attempts_of(conn, "partner_id = ?", &p)?,
    ))
}

pub(super) fn delivery(conn: &Connection, find: DeliveryRef<'_>) -> StoreResult<Option<Delivery>> {
    let found = match find {
        DeliveryRef::Id(id) => one(
            conn,
            &format!("SELECT {DELIVERY_COLUMNS} FROM jobs WHERE kind = ?1 AND id = ?2"),
            params![DELIVERY_JOB, id],
            |r| rows::delivery(r),
        )?,
        DeliveryRef::Event(partner, event_id) => one(
            conn,
            &format!(
                "SELECT {DELIVERY_COLUMNS} FROM jobs WHERE kind = ?1 AND partner_id = ?2 \
                 AND json_extract(payload, '$.eventId') = ?3 ORDER BY id LIMIT 1"
            ),
            params![DELIVERY_JOB, partner.to_string(), event_id],
            |r| rows::delivery(r),
        )?,
    };
    let Some(d) = found else { return Ok(None) };
    let attempts = attempts_of(conn, "job_id = ?", &d.id.to_string())?;
    Ok(rows::with_attempts(vec![d], attempts).pop())
}

pub(super) fn finish_attempt(
    conn: &Connection,
    job: &Job,
    owner: &str,
    attempt: &Attempt,
    verdict: Verdict,
) -> StoreResult<bool> {
    if !holds(conn, job.id, owner)? {
        return Ok(false);
    }
    run(
        conn,
        "INSERT INTO webhook_attempts (job_id, partner_id, at, response_code, error, duration_ms) \
         VALUES (?, ?, ?, ?, ?, ?)",
        params![
            job.id,
            job.partner.to_string(),
            to_millis(attempt.at),
            attempt.response_code,
            attempt.error,
            attempt.duration_ms as i64
        ],
    )?;
    run(
        conn,
        "UPDATE jobs SET last_error = ? WHERE id = ?",
        params![attempt.error, job.id],
    )?;
    match verdict {
        Verdict::RetryAt(at) => {
            run(
                conn,
                "UPDATE jobs SET run_at = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?",
                params![to_millis(at), job.id],
            )?;
        }
        Verdict::Succeeded | Verdict::Dead | Verdict::Disable => {
            let outcome = verdict.outcome().unwrap_or("dead");
            mark_done(conn, job.id, attempt.at, outcome)?;
            if verdict == Verdict::Disable {
                run(
                    conn,
                    "UPDATE webhook_registrations SET disabled = ? WHERE partner_id = ?",
                    params![attempt.error, job.partner.to_string()],
                )?;
            }
        }
    }
    Ok(true)
}

pub(super) fn redeliver(
    conn: &Connection,
    id: i64,
    now: OffsetDateTime,
) -> StoreResult<Option<Delivery>> {
    let changed = run(
        conn,
        "UPDATE jobs SET done_at = NULL, outcome = NULL, attempts = 0, run_at = ?1 WHERE id = ?2 AND kind = ?3",
        params![to_millis(now), id, DELIVERY_JOB],
    )?;
    if changed == 0 {
        return Ok(None);
    }
    delivery(conn, DeliveryRef::Id(id))
}
