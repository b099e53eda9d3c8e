//! The job queue's leases and selections on PostgreSQL: claims with `FOR UPDATE SKIP LOCKED`
//! and a lease, so that several instances never claim one job at once.

use std::time::Duration;

use async_trait::async_trait;
use qualify_core::effects::Scope;
use qualify_core::jobs::Job;
use qualify_core::time_fmt::{from_millis, to_millis};
use sqlx::PgConnection;
use time::OffsetDateTime;

use super::PgStore;
use super::queries::{own_clock, scope_filter};
use super::sql::{job_columns, job_due_wall};
use crate::StoreResult;
use crate::model::QueueStats;
use crate::rows;
use crate::traits::QueueReads;

/// The global clock as the claim queries' `$5` / `$6`.
async fn global_clock(conn: &mut PgConnection) -> StoreResult<(Option<i64>, Option<i64>)> {
    Ok(own_clock(conn, Scope::All)
        .await?
        .map_or((None, None), rows::clock_columns))
}

#[async_trait]
impl QueueReads for PgStore {
    async fn claim_jobs(
        &self,
        owner: &str,
        wall: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let (wall_ms, until) = rows::lease(wall, lease);
        let mut conn = self.pool.acquire().await?;
        let (gfrozen, goffset) = global_clock(&mut conn).await?;
        let claimed = sqlx::query(concat!(
            "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 WHERE id IN \
             (SELECT j.id FROM jobs j LEFT JOIN clocks c ON c.scope = j.partner_id::text \
              WHERE j.done_at IS NULL AND (j.lease_until IS NULL OR j.lease_until < $3) AND (",
            job_due_wall!(),
            ") <= $3 ORDER BY j.run_at, j.id LIMIT $4 FOR UPDATE OF j SKIP LOCKED) RETURNING ",
            job_columns!()
        ))
        .bind(owner)
        .bind(until)
        .bind(wall_ms)
        .bind(i64::from(limit))
        .bind(gfrozen)
        .bind(goffset)
        .fetch_all(&mut *conn)
        .await?;
        claimed.iter().map(rows::job).collect()
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
        let (filter, param) = scope_filter(scope, 3);
        let claimed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET lease_owner = $5, lease_until = $6, attempts = attempts + 1 WHERE id IN \
             (SELECT id FROM jobs WHERE done_at IS NULL AND (lease_until IS NULL OR lease_until < $1) \
              AND run_at <= $2 AND {filter} ORDER BY run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING {}",
            job_columns!()
        )))
        .bind(wall_ms)
        .bind(to_millis(due_by))
        .bind(param)
        .bind(i64::from(limit))
        .bind(owner)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        claimed.iter().map(rows::job).collect()
    }

    async fn release_job(&self, job: &Job, owner: &str) -> StoreResult<bool> {
        let released = sqlx::query(
            "UPDATE jobs SET lease_owner = NULL, lease_until = NULL, attempts = GREATEST(attempts - 1, 0) \
             WHERE id = $1 AND lease_owner = $2 AND done_at IS NULL",
        )
        .bind(job.id)
        .bind(owner)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(released == 1)
    }

    async fn release_jobs(&self, owner: &str) -> StoreResult<u64> {
        let r = sqlx::query(
            "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1 AND done_at IS NULL",
        )
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    async fn queue_stats(&self, kind: &str, wall: OffsetDateTime) -> StoreResult<QueueStats> {
        let mut conn = self.pool.acquire().await?;
        let (gfrozen, goffset) = global_clock(&mut conn).await?;
        // A job's age: its partner's domain time now minus its due time (due when >= 0).
        let (pending, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MAX(CASE WHEN c.frozen_at IS NOT NULL THEN c.frozen_at \
                  WHEN c.offset_ms IS NOT NULL THEN $1 + c.offset_ms \
                  WHEN $3::bigint IS NOT NULL THEN $3::bigint \
                  ELSE $1 + COALESCE($4::bigint, 0) END - j.run_at) \
             FROM jobs j LEFT JOIN clocks c ON c.scope = j.partner_id::text \
             WHERE j.done_at IS NULL AND j.kind = $2",
        )
        .bind(to_millis(wall))
        .bind(kind)
        .bind(gfrozen)
        .bind(goffset)
        .fetch_one(&mut *conn)
        .await?;
        Ok(QueueStats::of(pending, oldest))
    }

    async fn next_job_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        let mut conn = self.pool.acquire().await?;
        let (gfrozen, goffset) = global_clock(&mut conn).await?;
        // $1..$4 of the claim are unused here; $5, $6 are the global clock.
        let at: Option<i64> = sqlx::query_scalar(concat!(
            "SELECT MIN(CASE WHEN due IS NULL THEN NULL ELSE GREATEST(due, COALESCE(lease_until, 0)) END) FROM \
             (SELECT (",
            job_due_wall!(),
            ") AS due, j.lease_until FROM jobs j LEFT JOIN clocks c ON c.scope = j.partner_id::text \
              WHERE j.done_at IS NULL AND $1::bigint IS NULL AND $2::bigint IS NULL AND $3::bigint IS NULL \
              AND $4::bigint IS NULL) d"
        ))
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(gfrozen)
        .bind(goffset)
        .fetch_one(&mut *conn)
        .await?;
        Ok(at.map(from_millis))
    }

    async fn unfinished_due_by(&self, scope: Scope, due_by: OffsetDateTime) -> StoreResult<u64> {
        let (filter, param) = scope_filter(scope, 2);
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM jobs WHERE done_at IS NULL AND run_at <= $1 AND {filter}"
        )))
        .bind(to_millis(due_by))
        .bind(param)
        .fetch_one(&self.pool)
        .await?;
        Ok(n as u64)
    }
}
