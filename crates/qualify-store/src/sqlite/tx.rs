//! The write pipeline's SQL steps on SQLite: a transaction is a savepoint of the writer's
//! batch (one writer: what a snapshot read cannot change before its effects are applied).
//! These functions are `async` for the pipeline's sake but never wait: the writer thread runs
//! them to completion in one poll.

use qualify_core::clock::PartnerClocks;
use qualify_core::effects::{Effect, Signals};
use qualify_core::jobs::JobType;
use qualify_core::time_fmt::{from_millis, to_millis};
use qualify_core::{CustomerId, PartnerId};
use rusqlite::{Connection, params};
use time::OffsetDateTime;

use super::queries;
use super::sql::{one, run};
use crate::StoreResult;
use crate::model::IdempotencyKey;
use crate::pipeline::{Probe, Record, Tx, Written};

/// A write in progress on the writer's connection, and what its commit must signal.
pub(crate) struct SqliteTx<'c> {
    pub(super) conn: &'c mut Connection,
    pub(super) signals: Signals,
}

impl<'c> SqliteTx<'c> {
    pub(super) fn new(conn: &'c mut Connection) -> Self {
        Self {
            conn,
            signals: Signals::NONE,
        }
    }
}

impl Tx for SqliteTx<'_> {
    async fn owner_of(&mut self, customer: CustomerId) -> StoreResult<Option<PartnerId>> {
        queries::owner_of(self.conn, customer)
    }

    async fn clocks(&mut self, partner: PartnerId) -> StoreResult<PartnerClocks> {
        queries::clocks_of(self.conn, partner)
    }

    async fn claim(
        &mut self,
        key: &IdempotencyKey,
        _wall: OffsetDateTime,
        _now: OffsetDateTime,
    ) -> StoreResult<Option<Record>> {
        // One writer: no request with the same key runs meanwhile, nothing to claim.
        one(
            self.conn,
            "SELECT fingerprint, response, COALESCE(domain_at, created_at) FROM idempotency_records \
             WHERE partner_id = ? AND request_id = ?",
            params![key.partner.to_string(), key.request_id],
            |r| {
                Ok(Record {
                    fingerprint: r.get(0)?,
                    response: r.get(1)?,
                    recorded: from_millis(r.get(2)?),
                })
            },
        )
    }

    async fn reclaim(
        &mut self,
        key: &IdempotencyKey,
        _wall: OffsetDateTime,
        _now: OffsetDateTime,
    ) -> StoreResult<()> {
        run(
            self.conn,
            "DELETE FROM idempotency_records WHERE partner_id = ? AND request_id = ?",
            params![key.partner.to_string(), key.request_id],
        )?;
        Ok(())
    }

    async fn remember(
        &mut self,
        key: &IdempotencyKey,
        wall: OffsetDateTime,
        now: OffsetDateTime,
        response: String,
    ) -> StoreResult<()> {
        run(
            self.conn,
            "INSERT INTO idempotency_records (partner_id, request_id, fingerprint, response, created_at, domain_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
            params![
                key.partner.to_string(),
                key.request_id,
                key.fingerprint,
                response,
                to_millis(wall),
                to_millis(now)
            ],
        )?;
        Ok(())
    }

    async fn remember_rejection(
        &mut self,
        key: &IdempotencyKey,
        wall: OffsetDateTime,
        now: OffsetDateTime,
        response: String,
    ) -> StoreResult<()> {
        run(
            self.conn,
            "INSERT INTO idempotency_records (partner_id, request_id, fingerprint, response, created_at, domain_at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (partner_id, request_id) DO NOTHING",
            params![
                key.partner.to_string(),
                key.request_id,
                key.fingerprint,
                response,
                to_millis(wall),
                to_millis(now)
            ],
        )?;
        Ok(())
    }

    async fn count(&mut self, probe: Probe<'_>) -> StoreResult<u64> {
        let conn = &*self.conn;
        let count = |sql: &str, param: rusqlite::types::Value| -> StoreResult<u64> {
            let n: i64 = conn.prepare_cached(sql)?.query_row([param], |r| r.get(0))?;
            Ok(n as u64)
        };
        use rusqlite::types::Value::{Integer, Null, Text};
        match probe {
            Probe::Lease { job, owner } => Ok(u64::from(queries::holds(conn, job, owner)?)),
            Probe::Fault(id) => count("SELECT count(*) FROM faults WHERE id = ?", Text(id.into())),
            Probe::Faults(partner) => count(
                "SELECT count(*) FROM faults WHERE ?1 IS NULL OR partner_id = ?1",
                partner.map_or(Null, |p| Text(p.to_string())),
            ),
            Probe::Registration(p) => count(
                "SELECT count(*) FROM webhook_registrations WHERE partner_id = ?",
                Text(p.to_string()),
            ),
            Probe::Delivery(id) => count(
                &format!(
                    "SELECT count(*) FROM jobs WHERE id = ? AND kind = '{}'",
                    qualify_core::webhooks::WebhookDelivery::KIND
                ),
                Integer(id),
            ),
        }
    }

    async fn write(&mut self, effect: &Effect, inserted: Option<i64>) -> StoreResult<Written> {
        super::apply::write(self.conn, effect, inserted)
    }

    fn signal(&mut self, signals: Signals) {
        self.signals |= signals;
    }
}
