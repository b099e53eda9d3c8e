//! The PostgreSQL backend: the scale-out engine. Several qualify instances share one database
//! and keep no state of their own that correctness depends on:
//!
//! - stateful rules are checked under row locks (`SELECT ... FOR UPDATE` on the customer, the
//!   validation code, the qualification), so concurrent requests on any instances serialise;
//! - an idempotency key is claimed by inserting its record first in the transaction: a second
//!   request with the same key blocks on the unique index until the first commits, then replays;
//! - jobs are claimed with `FOR UPDATE SKIP LOCKED` and a lease; `LISTEN/NOTIFY` wakes the
//!   workers of every instance when a job is enqueued, and reloads every instance's fault list;
//! - migrations run under sqlx's advisory lock: one instance applies them, the others wait.
//!
//! Writes run through the store's one pipeline (`crate::pipeline`): this backend gives it its
//! SQL (`tx`, `loads`, `apply`).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use qualify_core::command::Command;
use qualify_core::effects::Signals;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgPool, Row};

use crate::model::Idempotent;
use crate::pipeline::{self, Backend, Executes, Load, Run};
use crate::signals::StoreSignals;
use crate::traits::Store;
use crate::{StoreError, StoreResult};
use apply::FAULTS_CHANNEL;
use tx::PgTx;

mod apply;
mod loads;
mod queries;
mod queue;
mod reads;
mod sql;
mod tx;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Notified by a trigger whenever a job is inserted.
const JOBS_CHANNEL: &str = "qualify_jobs";

/// Connection settings of the PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgSettings {
    pub max_connections: u32,
    /// Server-side bound on one statement (`statement_timeout`).
    pub statement_timeout: Duration,
}

impl Default for PgSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            statement_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// What commits signal: this process's, and other instances' by LISTEN/NOTIFY.
    signals: Arc<StoreSignals>,
    /// How far the audit trail is known to be final (see `EventStore::transitions`).
    horizon: Arc<tokio::sync::Mutex<Horizon>>,
}

/// How many audit event ids one walk of the horizon reads.
const HORIZON_WALK: i64 = 10_000;

/// How far the audit trail is final. Ids are taken from a sequence when a transaction inserts
/// its audit event, but transactions commit in any order: a reader may see id 11 before id 10
/// commits, or id 10 may never come (its transaction rolled back). Ids up to `stable` are final:
/// each is visible or never will be. Above it, a hole waits until every transaction of this
/// database that was running when the hole was seen has ended (each of them has its
/// transaction id before it takes an audit event id: migration 0004), after which every id up
/// to the top seen then is final too.
#[derive(Debug, Default)]
struct Horizon {
    stable: i64,
    /// A hole seen above `stable`: the highest id visible then, and the transactions running then.
    pending: Option<(i64, Vec<String>)>,
}

impl PgStore {
    /// Connects, applies the migrations (under an advisory lock) and starts listening for job
    /// notifications.
    pub async fn open(url: &str, settings: &PgSettings) -> StoreResult<Self> {
        let timeout_ms = settings.statement_timeout.as_millis().to_string();
        let options =
            PgConnectOptions::from_str(url)?.options([("statement_timeout", timeout_ms.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(2))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(crate::Cause::of("migrations failed", e)))?;
        let signals = Arc::new(StoreSignals::default());
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen_all([JOBS_CHANNEL, FAULTS_CHANNEL]).await?;
        let heard = Arc::downgrade(&signals);
        tokio::spawn(async move {
            loop {
                // `recv` reconnects by itself after a lost connection; a notification may be
                // missed then, which the worker's polling (and the fault list's periodic
                // re-read) covers.
                let received = listener.recv().await;
                let Some(signals) = heard.upgrade() else {
                    return;
                };
                match received {
                    Ok(n) if n.channel() == FAULTS_CHANNEL => signals.notify(Signals::FAULTS),
                    Ok(_) => signals.notify(Signals::JOBS),
                    Err(e) => {
                        tracing::warn!(error = %e, "notification listener failed; retrying");
                        signals.notify(Signals::FAULTS);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(Self {
            pool,
            signals,
            horizon: Arc::new(tokio::sync::Mutex::new(Horizon::default())),
        })
    }

    /// The transaction ids (as text) of this database's other sessions that are running a
    /// transaction that has one.
    async fn running_transactions(&self) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT backend_xid::text FROM pg_stat_activity WHERE datname = current_database() \
             AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Moves the horizon as far as it can now; returns it.
    async fn advance_horizon(&self) -> StoreResult<i64> {
        let mut h = self.horizon.lock().await;
        for _ in 0..8 {
            if let Some((top, running)) = &h.pending {
                let now = self.running_transactions().await?;
                if running.iter().any(|x| now.contains(x)) {
                    return Ok(h.stable);
                }
                h.stable = h.stable.max(*top);
                h.pending = None;
            }
            let ids: Vec<i64> = sqlx::query_scalar(
                "SELECT id FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2",
            )
            .bind(h.stable)
            .bind(HORIZON_WALK)
            .fetch_all(&self.pool)
            .await?;
            let mut next = h.stable;
            for id in &ids {
                if *id != next + 1 {
                    break;
                }
                next = *id;
            }
            h.stable = next;
            if ids.iter().any(|id| *id > next) {
                // A hole with visible ids above it. One statement: the top is read in its
                // snapshot, the running transactions after it, so a transaction that holds an
                // id below the top is among them.
                let row = sqlx::query(
                    "SELECT (SELECT COALESCE(MAX(id), 0) FROM audit_events) AS top, \
                     ARRAY(SELECT backend_xid::text FROM pg_stat_activity WHERE datname = current_database() \
                     AND backend_xid IS NOT NULL AND pid <> pg_backend_pid())::text[] AS running",
                )
                .fetch_one(&self.pool)
                .await?;
                let top: i64 = row.try_get("top")?;
                let running: Vec<String> = row.try_get("running")?;
                h.pending = Some((top, running));
                continue;
            }
            if (ids.len() as i64) < HORIZON_WALK {
                break;
            }
        }
        Ok(h.stable)
    }

    /// The horizon once a hole seen now has settled: a hole waits for the transactions
    /// running now (milliseconds); bounded.
    async fn settled_horizon(&self) -> StoreResult<i64> {
        let mut stable = self.advance_horizon().await?;
        for _ in 0..100 {
            if self.horizon.lock().await.pending.is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            stable = self.advance_horizon().await?;
        }
        Ok(stable)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl Backend for PgStore {
    type Tx<'t> = PgTx;
}

impl PgStore {
    /// Commits and tells this process's subscribers what the commit signals.
    async fn commit(&self, tx: PgTx) -> StoreResult<()> {
        let signals = tx.commit().await?;
        self.signals.notify(signals);
        Ok(())
    }
}

impl Executes for PgStore {
    async fn execute<C>(&self, run: Run, command: C) -> StoreResult<C::Answer>
    where
        Self: Load<C>,
        C: Command + 'static,
        C::Answer: 'static,
    {
        let mut tx = PgTx::begin(&self.pool).await?;
        let answer = pipeline::run::<Self, C>(&mut tx, &run, &command).await?;
        self.commit(tx).await?;
        Ok(answer)
    }

    async fn execute_idempotent<C>(
        &self,
        run: Run,
        command: C,
    ) -> StoreResult<Idempotent<C::Answer>>
    where
        Self: Load<C>,
        C: Command + 'static,
        C::Answer: Serialize + DeserializeOwned + 'static,
    {
        let result = async {
            let mut tx = PgTx::begin(&self.pool).await?;
            let answer = pipeline::run_idempotent::<Self, C>(&mut tx, &run, &command).await?;
            self.commit(tx).await?;
            Ok(answer)
        }
        .await;
        if let Err(e) = &result
            && pipeline::needs_settling(&run, e)
        {
            // The write rolled back: its rejection is remembered in a transaction of its own,
            // so that a retry with the same key gets the same answer.
            let mut tx = PgTx::begin(&self.pool).await?;
            pipeline::settle(&mut tx, &run, e).await?;
            self.commit(tx).await?;
        }
        result
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn signals(&self) -> &StoreSignals {
        &self.signals
    }
}
