//! The job queue's leases and selections on SQLite: each one statement on the writer (claims,
//! releases) or a reader (counts). The due time of a job is its partner's clock's business, so
//! claims join `clocks`.

use std::time::Duration;

use async_trait::async_trait;
use qualify_core::effects::{Scope, Signals};
use qualify_core::jobs::Job;
use qualify_core::time_fmt::{from_millis, to_millis};
use rusqlite::{Connection, params};
use time::OffsetDateTime;

use super::SqliteStore;
use super::queries::own_clock;
use super::reads::scope_filter;
use super::sql::{all, job_columns, job_due_wall, run};
use crate::StoreResult;
use crate::model::QueueStats;
use crate::rows;
use crate::traits::QueueReads;

/// The global clock as the claim queries' `:gfrozen` / `:goffset`.
fn global_clock(conn: &Connection) -> StoreResult<(Option<i64>, Option<i64>)> {
    Ok(own_clock(conn, Scope::All)?.map_or((None, None), rows::clock_columns))
}

#[async_trait]
impl QueueReads for SqliteStore {
    async fn claim_jobs(
        &self,
        owner: &str,
        wall: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let (wall_ms, until) = rows::lease(wall, lease);
        let owner = owner.to_owned();
        self.writer
            .write(move |conn| {
                let claimed = global_clock(conn).and_then(|(gfrozen, goffset)| {
                    all(
                        conn,
                        concat!(
                            "UPDATE jobs SET lease_owner = :owner, lease_until = :until, attempts = attempts + 1 WHERE id IN \
                             (SELECT j.id FROM jobs j LEFT JOIN clocks c ON c.scope = j.partner_id \
                              WHERE j.done_at IS NULL AND (j.lease_until IS NULL OR j.lease_until < :wall) \
                              AND (",
                            job_due_wall!(),
                            ") <= :wall ORDER BY j.run_at, j.id LIMIT :limit) RETURNING ",
                            job_columns!()
                        ),
                        rusqlite::named_params! {
                            ":owner": owner,
                            ":until": until,
                            ":wall": wall_ms,
                            ":gfrozen": gfrozen,
                            ":goffset": goffset,
                            ":limit": i64::from(limit),
                        },
                        |r| rows::job(r),
                    )
                });
                (claimed, Signals::NONE)
            })
            .await
    }

    async fn claim_jobs_due_by(
        &self,
        owner: &str,
        wall: OffsetDateTime,
        lease: Duration,
        limit: u32,
        scope: Scope,
        due_by: OffsetDateTime,
    ) -> StoreResult<Vec<Job>> {
        let (wall_ms, until) = rows::lease(wall, lease);
        let owner = owner.to_owned();
        let (filter, param) = scope_filter(scope, 3);
        let sql = format!(
            "UPDATE jobs SET lease_owner = ?5, lease_until = ?6, attempts = attempts + 1 WHERE id IN \
             (SELECT id FROM jobs WHERE done_at IS NULL AND (lease_until IS NULL OR lease_until < ?1) \
              AND run_at <= ?2 AND {filter} ORDER BY run_at, id LIMIT ?4) RETURNING {}",
            job_columns!()
        );
        self.writer
            .write(move |conn| {
                let claimed = all(
                    conn,
                    &sql,
                    params![
                        wall_ms,
                        to_millis(due_by),
                        param,
                        i64::from(limit),
                        owner,
                        until
                    ],
                    |r| rows::job(r),
                );
                (claimed, Signals::NONE)
            })
            .await
    }

    async fn release_job(&self, job: &Job, owner: &str) -> StoreResult<bool> {
        let (id, owner) = (job.id, owner.to_owned());
        self.writer
            .write(move |conn| {
                let released = run(
                    conn,
                    "UPDATE jobs SET lease_owner = NULL, lease_until = NULL, attempts = MAX(attempts - 1, 0) \
                     WHERE id = ? AND lease_owner = ? AND done_at IS NULL",
                    params![id, owner],
                );
                (released.map(|n| n == 1), Signals::JOBS)
            })
            .await
    }

    async fn release_jobs(&self, owner: &str) -> StoreResult<u64> {
        let owner = owner.to_owned();
        self.writer
            .write(move |conn| {
                let released = run(
                    conn,
                    "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ? AND done_at IS NULL",
                    [owner],
                );
                (released.map(|n| n as u64), Signals::JOBS)
            })
            .await
    }

    async fn queue_stats(&self, kind: &str, wall: OffsetDateTime) -> StoreResult<QueueStats> {
        let (pending, oldest): (i64, Option<i64>) = self.read(|c| {
            let (gfrozen, goffset) = global_clock(c)?;
            // A job's age: its partner's domain time now minus its due time (due when >= 0).
            Ok(c.prepare_cached(
                "SELECT COUNT(*), MAX(CASE WHEN c.frozen_at IS NOT NULL THEN c.frozen_at \
                      WHEN c.offset_ms IS NOT NULL THEN :wall + c.offset_ms \
                      WHEN :gfrozen IS NOT NULL THEN :gfrozen \
                      ELSE :wall + COALESCE(:goffset, 0) END - j.run_at) \
                 FROM jobs j LEFT JOIN clocks c ON c.scope = j.partner_id \
                 WHERE j.done_at IS NULL AND j.kind = :kind",
            )?
            .query_row(
                rusqlite::named_params! {
                    ":wall": to_millis(wall),
                    ":gfrozen": gfrozen,
                    ":goffset": goffset,
                    ":kind": kind,
                },
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })?;
        Ok(QueueStats::of(pending, oldest))
    }

    async fn next_job_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        let at: Option<i64> = self.read(|c| {
            let (gfrozen, goffset) = global_clock(c)?;
            Ok(c.prepare_cached(concat!(
                "SELECT MIN(MAX(",
                job_due_wall!(),
                ", COALESCE(j.lease_until, 0))) FROM jobs j LEFT JOIN clocks c ON c.scope = j.partner_id \
                 WHERE j.done_at IS NULL"
            ))?
            .query_row(
                rusqlite::named_params! {":gfrozen": gfrozen, ":goffset": goffset},
                |r| r.get(0),
            )?)
        })?;
        Ok(at.map(from_millis))
    }

    async fn unfinished_due_by(&self, scope: Scope, due_by: OffsetDateTime) -> StoreResult<u64> {
        let (filter, param) = scope_filter(scope, 2);
        let n: i64 = self.read(|c| {
            Ok(c.prepare_cached(&format!(
                "SELECT count(*) FROM jobs WHERE done_at IS NULL AND run_at <= ?1 AND {filter}"
            ))?
            .query_row(params![to_millis(due_by), param], |r| r.get(0))?)
        })?;
        Ok(n as u64)
    }
}
