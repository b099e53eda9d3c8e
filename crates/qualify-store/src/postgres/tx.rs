//! The write pipeline's SQL steps on PostgreSQL: one transaction per write, row locks on what a
//! plan relies on, an idempotency key claimed by inserting its record first.

use qualify_core::clock::PartnerClocks;
use qualify_core::effects::{Effect, Signals};
use qualify_core::jobs::JobType;
use qualify_core::time_fmt::{from_millis, to_millis};
use qualify_core::webhooks::WebhookDelivery;
use qualify_core::{CustomerId, PartnerId};
use sqlx::{PgPool, Postgres, Row};
use time::OffsetDateTime;

use super::queries;
use crate::StoreResult;
use crate::model::IdempotencyKey;
use crate::observe::CommitTimer;
use crate::pipeline::{Probe, Record, Tx, Written};

/// A write in progress, and what its commit must signal.
pub(crate) struct PgTx {
    pub(super) tx: sqlx::Transaction<'static, Postgres>,
    pub(super) signals: Signals,
}

impl PgTx {
    pub(super) async fn begin(pool: &PgPool) -> StoreResult<Self> {
        Ok(Self {
            tx: pool.begin().await?,
            signals: Signals::NONE,
        })
    }

    /// Commits, timed for the commit observer (a batch of one request); returns what the
    /// commit signals.
    pub(super) async fn commit(self) -> StoreResult<Signals> {
        let timer = CommitTimer::start();
        self.tx.commit().await?;
        timer.committed(1);
        Ok(self.signals)
    }
}

impl Tx for PgTx {
    async fn owner_of(&mut self, customer: CustomerId) -> StoreResult<Option<PartnerId>> {
        queries::owner_of(&mut self.tx, customer).await
    }

    async fn clocks(&mut self, partner: PartnerId) -> StoreResult<PartnerClocks> {
        queries::clocks_of(&mut self.tx, partner).await
    }

    /// A second request with the same key waits here on the unique index until the first one
    /// commits (then it replays) or rolls back (then it claims the key itself).
    async fn claim(
        &mut self,
        key: &IdempotencyKey,
        wall: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Record>> {
        loop {
            let claimed = sqlx::query(
                "INSERT INTO idempotency_records (partner_id, request_id, fingerprint, response, created_at, domain_at) \
                 VALUES ($1::uuid, $2, $3, NULL, $4, $5) ON CONFLICT (partner_id, request_id) DO NOTHING",
            )
            .bind(key.partner.to_string())
            .bind(&key.request_id)
            .bind(&key.fingerprint)
            .bind(to_millis(wall))
            .bind(to_millis(now))
            .execute(&mut *self.tx)
            .await?;
            if claimed.rows_affected() == 1 {
                return Ok(None);
            }
            let row = sqlx::query(
                "SELECT fingerprint, response, COALESCE(domain_at, created_at) AS recorded FROM idempotency_records \
                 WHERE partner_id = $1::uuid AND request_id = $2 FOR UPDATE",
            )
            .bind(key.partner.to_string())
            .bind(&key.request_id)
            .fetch_optional(&mut *self.tx)
            .await?;
            // None: the request that held the key rolled back; this one claims it.
            if let Some(row) = row {
                return Ok(Some(Record {
                    fingerprint: row.try_get("fingerprint")?,
                    response: row.try_get("response")?,
                    recorded: from_millis(row.try_get("recorded")?),
                }));
            }
        }
    }

    async fn reclaim(
        &mut self,
        key: &IdempotencyKey,
        wall: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE idempotency_records SET fingerprint = $3, response = NULL, created_at = $4, domain_at = $5 \
             WHERE partner_id = $1::uuid AND request_id = $2",
        )
        .bind(key.partner.to_string())
        .bind(&key.request_id)
        .bind(&key.fingerprint)
        .bind(to_millis(wall))
        .bind(to_millis(now))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn remember(
        &mut self,
        key: &IdempotencyKey,
        _wall: OffsetDateTime,
        _now: OffsetDateTime,
        response: String,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE idempotency_records SET response = $3 WHERE partner_id = $1::uuid AND request_id = $2",
        )
        .bind(key.partner.to_string())
        .bind(&key.request_id)
        .bind(response)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn remember_rejection(
        &mut self,
        key: &IdempotencyKey,
        wall: OffsetDateTime,
        now: OffsetDateTime,
        response: String,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO idempotency_records (partner_id, request_id, fingerprint, response, created_at, domain_at) \
             VALUES ($1::uuid, $2, $3, $4, $5, $6) ON CONFLICT (partner_id, request_id) DO NOTHING",
        )
        .bind(key.partner.to_string())
        .bind(&key.request_id)
        .bind(&key.fingerprint)
        .bind(response)
        .bind(to_millis(wall))
        .bind(to_millis(now))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn count(&mut self, probe: Probe<'_>) -> StoreResult<u64> {
        let conn = &mut *self.tx;
        let n: i64 =
            match probe {
                Probe::Lease { job, owner } => i64::from(queries::holds(conn, job, owner).await?),
                Probe::Fault(id) => {
                    sqlx::query_scalar("SELECT count(*) FROM faults WHERE id = $1")
                        .bind(id)
                        .fetch_one(conn)
                        .await?
                }
                Probe::Faults(partner) => sqlx::query_scalar(
                    "SELECT count(*) FROM faults WHERE $1::uuid IS NULL OR partner_id = $1::uuid",
                )
                .bind(partner.map(|p| p.to_string()))
                .fetch_one(conn)
                .await?,
                Probe::Registration(p) => {
                    sqlx::query_scalar(
                        "SELECT count(*) FROM webhook_registrations WHERE partner_id = $1::uuid",
                    )
                    .bind(p.to_string())
                    .fetch_one(conn)
                    .await?
                }
                Probe::Delivery(id) => {
                    sqlx::query_scalar("SELECT count(*) FROM jobs WHERE id = $1 AND kind = $2")
                        .bind(id)
                        .bind(WebhookDelivery::KIND)
                        .fetch_one(conn)
                        .await?
                }
            };
        Ok(n.max(0) as u64)
    }

    async fn write(&mut self, effect: &Effect, inserted: Option<i64>) -> StoreResult<Written> {
        super::apply::write(&mut self.tx, effect, inserted).await
    }

    fn signal(&mut self, signals: Signals) {
        self.signals |= signals;
    }
}
