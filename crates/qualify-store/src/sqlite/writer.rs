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
//!
//! After a batch commits, the writer tells the store's subscribers what its operations' effects
//! call for (`Effect::signals`): a transition, due work, a changed fault list.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use qualify_core::effects::Signals;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::signals::StoreSignals;
use crate::{StoreError, StoreResult};

/// Called with the batch's commit result.
type Finish = Box<dyn FnOnce(&Result<(), StoreError>) + Send>;
type Job = Box<dyn FnOnce(&mut Connection) -> (Finish, Signals) + Send>;

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
    /// `signals` hears what each committed batch calls for.
    pub(super) fn start(
        conn: Connection,
        durability: Durability,
        signals: Arc<StoreSignals>,
    ) -> StoreResult<Self> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map(drop)
                .map_err(|e| {
                    StoreError::Backend(crate::Cause::of(format!("cannot start {name}"), e))
                })
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
        spawn(
            "qualify-writer",
            Box::new(move || run(conn, queue, ticks, &signals)),
        )?;
        Ok(Self { jobs })
    }

    /// Runs `op` in the next batch, in a savepoint of its own; answers once the batch is
    /// committed. The signals `op` returns are sent after the commit, when it succeeded.
    pub(super) async fn write<T, F>(&self, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> (StoreResult<T>, Signals) + Send + 'static,
    {
        self.write_or_settle(op, |_, _| Ok(())).await
    }

    /// Like `write`; when `op` fails, `settle` runs after its savepoint rolled back, in the same
    /// batch (a rejection remembered under the request's idempotency key commits with it).
    pub(super) async fn write_or_settle<T, F, S>(&self, op: F, settle: S) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> (StoreResult<T>, Signals) + Send + 'static,
        S: FnOnce(&mut Connection, &StoreError) -> StoreResult<()> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<StoreResult<T>>();
        // Set when the caller stops waiting (its request timed out, its client went away,
        // shutdown): an operation that has not finished then stops and rolls back, so that a
        // write nobody waits for any more commits nothing and holds the writer no longer.
        let abandoned = Arc::new(AtomicBool::new(false));
        let guard = Abandon(Some(abandoned.clone()));
        let job: Job = Box::new(move |conn| {
            let (mut result, signals) = if abandoned.load(Ordering::Relaxed) {
                (Err(abandoned_error()), Signals::NONE)
            } else {
                // A handler that cannot be set only means that this write, once started, runs
                // to its end.
                let flag = abandoned.clone();
                let _ = conn
                    .progress_handler(PROGRESS_STEPS, Some(move || flag.load(Ordering::Relaxed)));
                let ran = in_savepoint(conn, op);
                let _ = conn.progress_handler(0, None::<fn() -> bool>);
                ran
            };
            if let Err(e) = &result
                && !abandoned.load(Ordering::Relaxed)
                && let Err(not_settled) = settle(conn, e)
            {
                result = Err(not_settled);
            }
            let finish: Finish = Box::new(move |committed| {
                let answer = match (result, committed) {
                    (Ok(_), Err(e)) => Err(e.clone()),
                    (r, _) => r,
                };
                let _ = reply.send(answer);
            });
            (finish, signals)
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::unavailable("the database writer has stopped"))?;
        let answer = answer
            .await
            .map_err(|_| StoreError::unavailable("the database writer failed before committing"))?;
        guard.disarm();
        answer
    }
}

/// How many SQLite virtual-machine steps pass between two looks at whether the caller of a
/// running operation stopped waiting.
const PROGRESS_STEPS: std::ffi::c_int = 10_000;

/// Marks an operation abandoned when the future that waits for it is dropped before its answer.
struct Abandon(Option<Arc<AtomicBool>>);

impl Abandon {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for Abandon {
    fn drop(&mut self) {
        if let Some(flag) = &self.0 {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

fn abandoned_error() -> StoreError {
    StoreError::unavailable("the write was abandoned by its caller before it ran")
}

fn exec(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Runs `op` in a savepoint: rolled back when it fails (and its signals dropped), kept when it
/// succeeds.
fn in_savepoint<T>(
    conn: &mut Connection,
    op: impl FnOnce(&mut Connection) -> (StoreResult<T>, Signals),
) -> (StoreResult<T>, Signals) {
    if let Err(e) = exec(conn, "SAVEPOINT op") {
        return (Err(e), Signals::NONE);
    }
    // A panicking operation must not leave its savepoint open inside the batch.
    let (result, signals) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| op(conn)))
        .unwrap_or_else(|_| {
            (
                Err(StoreError::backend("a database operation panicked")),
                Signals::NONE,
            )
        });
    let end = if result.is_ok() {
        exec(conn, "RELEASE op")
    } else {
        exec(conn, "ROLLBACK TO op").and_then(|()| exec(conn, "RELEASE op"))
    };
    match (end, result) {
        (Ok(()), Ok(v)) => (Ok(v), signals),
        (Ok(()), Err(e)) | (Err(e), _) => (Err(e), Signals::NONE),
    }
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

fn run(
    mut conn: Connection,
    mut queue: mpsc::Receiver<Job>,
    ticks: Option<std::sync::mpsc::SyncSender<()>>,
    signals: &StoreSignals,
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
        let mut sent = Signals::NONE;
        let finishes: Vec<Finish> = batch
            .drain(..)
            .map(|job| {
                let (finish, signals) = job(&mut conn);
                sent |= signals;
                finish
            })
            .collect();
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
        // Subscribers hear of the commit before its callers get their answers: whatever a
        // caller does next sees the signal already sent.
        if committed.is_ok() {
            signals.notify(sent);
        }
        for finish in finishes {
            finish(&committed);
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
    fn insert(
        v: i64,
    ) -> impl FnOnce(&mut Connection) -> (StoreResult<()>, Signals) + Send + 'static {
        move |c| {
            let r = c
                .execute("INSERT INTO t (v, pad) VALUES (?, zeroblob(8000))", [v])
                .map(drop)
                .map_err(StoreError::from);
            (r, Signals::NONE)
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
