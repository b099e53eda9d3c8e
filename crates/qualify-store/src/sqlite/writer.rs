//! Group commit. One thread owns the write connection. Writes queue up as operations; the
//! thread takes every operation that is waiting (up to `MAX_BATCH`), runs each in its own
//! savepoint inside one transaction, commits once (one fsync of the write-ahead log with
//! `synchronous=FULL`) and only then answers each caller. An operation that fails is rolled back
//! to its savepoint and answered with its error; the others in the batch are not affected. When
//! the commit fails, every caller in the batch gets the error: nothing is acknowledged that is
//! not on disk.
//!
//! For a database file a checkpointer thread copies the log into the database file with its own
//! connection, off the writer's thread; the writer only finishes that work when the log has
//! grown to `WRITER_CHECKPOINT_PAGES`, so that the log starts over.
//!
//! The threads are plain OS threads running synchronous SQLite calls: a create runs about eight
//! statements, and a hop to another thread per statement (what an async driver does) cost more
//! than the statements themselves. Callers wait on a oneshot channel, so no async task blocks.

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::rows;
use crate::{IdempotencyKey, StoreError, StoreResult, WriteContext};

/// Called with the batch's commit result.
type Finish = Box<dyn FnOnce(&Result<(), StoreError>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Finish + Send>;

/// The most operations one transaction takes: bounds the time a batch holds the write lock.
const MAX_BATCH: usize = 512;
/// Operations that may wait for the writer before callers are held back.
const QUEUE: usize = 8192;
/// The log size (pages) at which the writer finishes the checkpointer's work itself.
const WRITER_CHECKPOINT_PAGES: i32 = 16384;
/// The least time between two checkpoints.
const CHECKPOINT_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

#[derive(Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on `conn` and, for a database file, the checkpointer thread.
    /// The threads end, closing their connections, when the last `Writer` is dropped and the
    /// queue is drained.
    /// `transitions` is notified after a batch that wrote an audit event (a transition) has
    /// committed.
    pub(super) fn start(
        conn: Connection,
        durability: Durability,
        transitions: std::sync::Arc<tokio::sync::Notify>,
    ) -> StoreResult<Self> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map(drop)
                .map_err(|e| StoreError::Backend(format!("cannot start {name}: {e}")))
        };
        let ticks = match durability {
            Durability::Memory => None,
            Durability::File { checkpoints } => {
                // The checkpointer does the checkpoints (and the writer the last bit, see
                // `finish_log`), not SQLite after every commit.
                conn.pragma_update(None, "wal_autocheckpoint", 0)?;
                // (After the pragma: setting it replaces the hook.)
                conn.wal_hook(Some(count_log_pages));
                let (tick, ticks) = std::sync::mpsc::sync_channel(1);
                spawn(
                    "qualify-checkpt",
                    Box::new(move || checkpoint(*checkpoints, ticks)),
                )?;
                Some(tick)
            }
        };
        let wrote_transition = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = wrote_transition.clone();
        conn.update_hook(Some(
            move |action: rusqlite::hooks::Action, _db: &str, table: &str, _row: i64| {
                if action == rusqlite::hooks::Action::SQLITE_INSERT && table == "audit_events" {
                    flag.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            },
        ))?;
        let committed = Committed {
            wrote_transition,
            transitions,
        };
        spawn(
            "qualify-writer",
            Box::new(move || run(conn, queue, ticks, committed)),
        )?;
        Ok(Self { jobs })
    }

    /// Runs `op` in the next batch; answers once the batch is committed.
    pub(super) async fn write<T, F>(&self, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.submit(op, None).await
    }

    /// Like `write`; a rejection decided by the operation is also recorded under the request's
    /// idempotency key, in the same batch, so that a retry gets the same answer.
    pub(super) async fn write_idempotent<T, F>(&self, ctx: &WriteContext, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let key = ctx.idempotency.clone().map(|k| (k, ctx.wall));
        self.submit(op, key).await
    }

    async fn submit<T, F>(
        &self,
        op: F,
        key: Option<(IdempotencyKey, time::OffsetDateTime)>,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn| {
            let mut result = in_savepoint(conn, op);
            if let (Err(e), Some((key, wall))) = (&result, &key)
                && let Some(rejection) = rows::is_storable(e)
                && let Err(not_recorded) = record_rejection(conn, key, *wall, rejection)
            {
                result = Err(not_recorded);
            }
            Box::new(move |committed| {
                let answer = match (result, committed) {
                    (Ok(_), Err(e)) => Err(e.clone()),
                    (r, _) => r,
                };
                let _ = reply.send(answer);
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

fn exec(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Runs `op` in a savepoint: rolled back when it fails, kept when it succeeds.
fn in_savepoint<T>(
    conn: &Connection,
    op: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    exec(conn, "SAVEPOINT op")?;
    // A panicking operation must not leave its savepoint open inside the batch.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| op(conn)))
        .unwrap_or_else(|_| Err(StoreError::Backend("a database operation panicked".into())));
    let end = if result.is_ok() {
        exec(conn, "RELEASE op")
    } else {
        exec(conn, "ROLLBACK TO op").and_then(|()| exec(conn, "RELEASE op"))
    };
    end.and(result)
}

fn record_rejection(
    conn: &Connection,
    key: &IdempotencyKey,
    wall: time::OffsetDateTime,
    rejection: &qualify_core::DomainError,
) -> StoreResult<()> {
    let domain = super::clocks_of(conn, key.partner)?.now(wall);
    conn.prepare_cached(
        "INSERT INTO idempotency_records (partner_id, request_id, fingerprint, response, created_at, domain_at) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (partner_id, request_id) DO NOTHING",
    )?
    .execute(rusqlite::params![
        key.partner.to_string(),
        key.request_id,
        key.fingerprint,
        rows::stored_err(rejection)?,
        qualify_core::time_fmt::to_millis(wall),
        qualify_core::time_fmt::to_millis(domain)
    ])?;
    Ok(())
}

/// What the writer writes to.
pub(super) enum Durability {
    /// An in-memory database: no log, nothing to checkpoint.
    Memory,
    /// A WAL database file; `checkpoints` is the checkpointer's connection.
    File { checkpoints: Box<Connection> },
}

thread_local! {
    /// Pages in the log after the writer's last commit (the writer thread's own count).
    static LOG_PAGES: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
}

fn count_log_pages(_: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
    LOG_PAGES.set(pages);
    Ok(())
}

/// The writer's own checkpoint, when the log has grown to `WRITER_CHECKPOINT_PAGES`: the
/// checkpointer copies pages while commits go on, so it rarely finishes the log; this one runs
/// between batches, finishes what is left (little), and lets the next transaction start the log
/// over from its beginning.
fn finish_log(conn: &Connection) -> rusqlite::Result<()> {
    LOG_PAGES.set(0);
    passive_checkpoint(conn)
}

/// Copies what it can of the log into the database file without waiting for anyone.
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

/// Copies committed pages from the log into the database file, off the writer's thread. A
/// passive checkpoint never blocks the writer or the readers. Ticks coalesce: after a pause the
/// next checkpoint takes everything committed meanwhile (a page written by many batches is
/// copied once).
fn checkpoint(conn: Connection, ticks: std::sync::mpsc::Receiver<()>) {
    while ticks.recv().is_ok() {
        if let Err(e) = passive_checkpoint(&conn) {
            tracing::warn!(error = %e, "checkpoint failed; the next one retries");
        }
        std::thread::sleep(CHECKPOINT_PAUSE);
    }
}

/// Who hears of committed transitions: the update hook sets the flag when a batch inserts an
/// audit event; after the batch commits, the stream is notified.
struct Committed {
    wrote_transition: std::sync::Arc<std::sync::atomic::AtomicBool>,
    transitions: std::sync::Arc<tokio::sync::Notify>,
}

fn run(
    conn: Connection,
    mut queue: mpsc::Receiver<Job>,
    ticks: Option<std::sync::mpsc::SyncSender<()>>,
    committed_transitions: Committed,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = exec(&conn, "BEGIN IMMEDIATE") {
            // Dropping the jobs answers their callers with "unavailable".
            tracing::error!(error = %e, dropped = batch.len(), "cannot begin a write transaction");
            batch.clear();
            continue;
        }
        let finishes: Vec<Finish> = batch.drain(..).map(|job| job(&conn)).collect();
        let timer = crate::observe::CommitTimer::start();
        let committed = exec(&conn, "COMMIT");
        if committed.is_ok() {
            timer.committed(finishes.len());
        }
        if let Err(e) = &committed {
            tracing::error!(error = %e, batch = finishes.len(), "commit failed; the batch is rolled back");
            let _ = exec(&conn, "ROLLBACK");
        }
        tracing::trace!(
            batch = finishes.len(),
            ok = committed.is_ok(),
            "write batch committed"
        );
        for finish in finishes {
            finish(&committed);
        }
        let wrote = committed_transitions
            .wrote_transition
            .swap(false, std::sync::atomic::Ordering::Relaxed);
        if wrote && committed.is_ok() {
            committed_transitions.transitions.notify_one();
        }
        if let Some(tick) = &ticks {
            // Full means a checkpoint is pending already.
            let _ = tick.try_send(());
            if LOG_PAGES.get() >= WRITER_CHECKPOINT_PAGES
                && let Err(e) = finish_log(&conn)
            {
                tracing::warn!(error = %e, "checkpoint failed; the next one retries");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_db(dir: &tempfile::TempDir) -> (Connection, Connection, std::path::PathBuf) {
        let path = dir.path().join("w.db");
        let open = || {
            let c = Connection::open(&path).unwrap();
            c.pragma_update(None, "journal_mode", "wal").unwrap();
            c
        };
        let conn = open();
        conn.execute_batch("CREATE TABLE t (v INTEGER, pad BLOB)")
            .unwrap();
        let checkpoints = open();
        (conn, checkpoints, path)
    }

    /// Inserts a row of three pages or so (an 8 KB blob overflows the leaf).
    fn insert(v: i64) -> impl FnOnce(&Connection) -> StoreResult<()> + Send + 'static {
        move |c| {
            c.execute("INSERT INTO t (v, pad) VALUES (?, zeroblob(8000))", [v])?;
            Ok(())
        }
    }

    /// The log does not grow without bound under a steady stream of writes: the writer
    /// finishes the checkpointer's work every `WRITER_CHECKPOINT_PAGES` and the log restarts.
    #[tokio::test]
    async fn the_log_stays_bounded_under_steady_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, checkpoints, path) = file_db(&dir);
        let wal = format!("{}-wal", path.display());
        let writer = Writer::start(
            conn,
            Durability::File {
                checkpoints: Box::new(checkpoints),
            },
            Default::default(),
        )
        .unwrap();
        // Each write is its own batch of about three pages: about three restarts' worth.
        let writes = WRITER_CHECKPOINT_PAGES as i64;
        let mut largest = 0;
        for v in 0..writes {
            writer.write(insert(v)).await.unwrap();
            if v % 256 == 0 {
                largest = largest.max(std::fs::metadata(&wal).unwrap().len());
            }
        }
        let bound = 3 * WRITER_CHECKPOINT_PAGES as u64 * 4200 / 2;
        assert!(largest < bound, "the log reached {largest} bytes");
        let count: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, writes);
    }
}
