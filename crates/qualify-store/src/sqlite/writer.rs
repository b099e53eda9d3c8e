//! Group commit. One task owns the write connection. Writes queue up as operations; the task
//! takes every operation that is waiting (up to `MAX_BATCH`), runs each in its own savepoint
//! inside one transaction, commits once (one fsync with `synchronous=FULL`) and only then answers
//! each caller. An operation that fails is rolled back to its savepoint and answered with its
//! error; the others in the batch are not affected. When the commit fails, every caller in the
//! batch gets the error: nothing is acknowledged that is not on disk.

use std::future::Future;

use futures::future::BoxFuture;
use sqlx::Sqlite;
use sqlx::pool::PoolConnection;
use tokio::sync::{mpsc, oneshot};

use crate::rows;
use crate::{IdempotencyKey, StoreError, StoreResult, WriteContext};

/// The write connection, lent to one operation at a time.
pub(super) type Conn = PoolConnection<Sqlite>;

/// Called with the batch's commit result.
type Finish = Box<dyn FnOnce(&Result<(), StoreError>) + Send>;
type Job = Box<dyn FnOnce(Conn) -> BoxFuture<'static, (Conn, Finish)> + Send>;

/// The most operations one transaction takes: bounds the time a batch holds the write lock.
const MAX_BATCH: usize = 512;
/// Operations that may wait for the writer before callers are held back.
const QUEUE: usize = 8192;

#[derive(Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    pub(super) fn start(conn: Conn) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run(conn, queue));
        Self { jobs }
    }

    /// Runs `op` in the next batch; answers once the batch is committed.
    pub(super) async fn write<T, F, Fut>(&self, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Conn) -> Fut + Send + 'static,
        Fut: Future<Output = (Conn, StoreResult<T>)> + Send + 'static,
    {
        self.submit(op, None).await
    }

    /// Like `write`; a rejection decided by the operation is also recorded under the request's
    /// idempotency key, in the same batch, so that a retry gets the same answer.
    pub(super) async fn write_idempotent<T, F, Fut>(
        &self,
        ctx: &WriteContext,
        op: F,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Conn) -> Fut + Send + 'static,
        Fut: Future<Output = (Conn, StoreResult<T>)> + Send + 'static,
    {
        let key = ctx
            .idempotency
            .clone()
            .map(|k| (k, qualify_core::time_fmt::to_millis(ctx.now)));
        self.submit(op, key).await
    }

    async fn submit<T, F, Fut>(&self, op: F, key: Option<(IdempotencyKey, i64)>) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Conn) -> Fut + Send + 'static,
        Fut: Future<Output = (Conn, StoreResult<T>)> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move {
                let (mut conn, mut result) = in_savepoint(conn, op).await;
                if let (Err(e), Some((key, at))) = (&result, &key)
                    && let Some(rejection) = rows::is_storable(e)
                    && let Err(not_recorded) =
                        record_rejection(&mut conn, key, *at, rejection).await
                {
                    result = Err(not_recorded);
                }
                let finish: Finish = Box::new(move |committed| {
                    let answer = match (result, committed) {
                        (Ok(_), Err(e)) => Err(e.clone()),
                        (r, _) => r,
                    };
                    let _ = reply.send(answer);
                });
                (conn, finish)
            })
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))?;
        answer.await.map_err(|_| {
            StoreError::Unavailable("the database writer failed before committing".into())
        })?
    }
}

/// Runs `op` in a savepoint: rolled back when it fails, kept when it succeeds.
async fn in_savepoint<T, F, Fut>(mut conn: Conn, op: F) -> (Conn, StoreResult<T>)
where
    F: FnOnce(Conn) -> Fut,
    Fut: Future<Output = (Conn, StoreResult<T>)>,
{
    if let Err(e) = sqlx::query("SAVEPOINT op").execute(&mut *conn).await {
        return (conn, Err(e.into()));
    }
    let (mut conn, result) = op(conn).await;
    let end = if result.is_ok() {
        "RELEASE op"
    } else {
        "ROLLBACK TO op; RELEASE op"
    };
    match sqlx::raw_sql(end).execute(&mut *conn).await {
        Ok(_) => (conn, result),
        Err(e) => (conn, Err(e.into())),
    }
}

async fn record_rejection(
    conn: &mut Conn,
    key: &IdempotencyKey,
    at: i64,
    rejection: &qualify_core::DomainError,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO idempotency_records (partner_id, request_id, fingerprint, response, created_at) \
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (partner_id, request_id) DO NOTHING",
    )
    .bind(key.partner.to_string())
    .bind(&key.request_id)
    .bind(&key.fingerprint)
    .bind(rows::stored_err(rejection)?)
    .bind(at)
    .execute(&mut **conn)
    .await?;
    Ok(())
}

async fn run(mut conn: Conn, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if let Err(e) = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
            // Dropping the jobs answers their callers with "unavailable".
            tracing::error!(error = %e, dropped = batch.len(), "cannot begin a write transaction");
            batch.clear();
            continue;
        }
        let mut finishes = Vec::with_capacity(batch.len());
        for job in batch.drain(..) {
            let (c, finish) = job(conn).await;
            conn = c;
            finishes.push(finish);
        }
        let committed: Result<(), StoreError> = sqlx::query("COMMIT")
            .execute(&mut *conn)
            .await
            .map(|_| ())
            .map_err(Into::into);
        if let Err(e) = &committed {
            tracing::error!(error = %e, batch = finishes.len(), "commit failed; the batch is rolled back");
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        }
        tracing::trace!(
            batch = finishes.len(),
            ok = committed.is_ok(),
            "write batch committed"
        );
        for finish in finishes {
            finish(&committed);
        }
    }
}
