//! The embedded SQLite backend: WAL, `synchronous=FULL` (a committed write is on disk), one
//! writer thread with group commit (writes are serialised, so the rules read inside a
//! transaction cannot race) and a small set of reader connections.
//!
//! Statements run synchronously through `rusqlite` with cached prepared statements. Reads run on
//! the calling task: in WAL mode a reader never waits for the writer, and a point read from the
//! page cache takes microseconds, less than handing it to another thread would. Writes run on the
//! writer thread through the store's one pipeline (`crate::pipeline`): this backend gives it its
//! SQL (`tx`, `loads`, `apply`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use qualify_core::command::Command;
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::Idempotent;
use crate::pipeline::{self, Backend, Executes, Load, Run};
use crate::signals::StoreSignals;
use crate::traits::Store;
use crate::{StoreError, StoreResult};
use tx::SqliteTx;
use writer::{Durability, Writer};

mod apply;
mod loads;
mod migrate;
mod queries;
mod queue;
mod reads;
mod sql;
mod tx;
mod writer;

/// How long a statement waits for a lock held by another connection or process.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle reader connections kept open; more are opened under load and closed after.
const IDLE_READERS: usize = 8;
/// Prepared statements cached per connection.
const STATEMENT_CACHE: usize = 64;
/// The writer's page cache, in KiB when negative (SQLite's convention): the pages a batch
/// touches stay in memory instead of being read again.
const WRITER_CACHE_KIB: i64 = -16 * 1024;

/// Where the database lives, parsed from the `--database` URL.
#[derive(Debug, Clone)]
struct Location {
    /// A file path, or a `file:` URI naming a private in-memory database.
    target: String,
    memory: bool,
}

impl Location {
    /// `sqlite:PATH`, `sqlite://PATH`, `sqlite::memory:` or a bare file path; the query may carry
    /// `mode=rwc|rw|memory` and `cache=shared|private` (accepted for compatibility).
    fn parse(url: &str) -> StoreResult<Self> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut memory = path == ":memory:" || path.is_empty();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=').unwrap_or((pair, "")) {
                ("mode", "memory") => memory = true,
                ("mode", "rwc" | "rw") | ("cache", "shared" | "private") => {}
                _ => {
                    return Err(StoreError::backend(format!(
                        "unsupported SQLite URL parameter {pair:?} (known: mode=rwc|rw|memory)"
                    )));
                }
            }
        }
        if memory {
            // A `memdb` database whose name starts with '/' is shared by every connection of this
            // process that opens it, and lives while one of them is open (the writer's).
            let name = uuid::Uuid::new_v4().simple();
            return Ok(Self {
                target: format!("file:/qualify-{name}?vfs=memdb"),
                memory: true,
            });
        }
        let path = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .map_err(|_| StoreError::backend("the SQLite path is not valid UTF-8"))?;
        Ok(Self {
            target: path.into_owned(),
            memory: false,
        })
    }

    fn open(&self, read_only: bool) -> StoreResult<Connection> {
        let mut flags = OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        flags |= if read_only && !self.memory {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
        };
        let conn = Connection::open_with_flags(&self.target, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.pragma_update(None, "foreign_keys", true)?;
        // Savepoint journals and sorts stay in memory instead of temporary files.
        conn.pragma_update(None, "temp_store", "memory")?;
        if !read_only {
            if !self.memory {
                conn.pragma_update(None, "journal_mode", "wal")?;
                // A log that grew under a burst is cut back to this size once it is reused.
                conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
            }
            conn.pragma_update(None, "synchronous", "full")?;
        }
        Ok(conn)
    }
}

/// Reader connections, lent to one read at a time.
struct Readers {
    location: Location,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let lent = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match lent {
            Some(conn) => conn,
            None => self.location.open(true)?,
        };
        let result = f(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

/// The file a `--database` URL names, as [`SqliteStore::open`] reads it; `None` for an
/// in-memory database.
pub fn database_file(url: &str) -> StoreResult<Option<std::path::PathBuf>> {
    let location = Location::parse(url)?;
    Ok((!location.memory).then(|| location.target.into()))
}

#[derive(Clone)]
pub struct SqliteStore {
    writer: Writer,
    readers: Arc<Readers>,
    /// What committed batches signal (the writer sends them).
    signals: Arc<StoreSignals>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` and applies the migrations.
    /// `url` is `sqlite:PATH`, `sqlite://PATH`, `sqlite::memory:` or a bare file path.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let location = Location::parse(url)?;
        let opening = location.clone();
        let conn = tokio::task::spawn_blocking(move || -> StoreResult<Connection> {
            let conn = opening.open(false)?;
            conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)?;
            migrate::run(&conn)?;
            Ok(conn)
        })
        .await
        .map_err(|e| StoreError::Backend(crate::Cause::of("opening the database", e)))??;
        let readers = Arc::new(Readers {
            location,
            idle: Mutex::new(Vec::new()),
        });
        // One reader now: a database that cannot be read fails at start-up, not on a request.
        readers.read(|_| Ok(()))?;
        let durability = if readers.location.memory {
            Durability::Memory
        } else {
            Durability::File {
                checkpoints: Box::new(readers.location.open(false)?),
            }
        };
        let signals = Arc::new(StoreSignals::default());
        Ok(Self {
            writer: Writer::start(conn, durability, signals.clone())?,
            readers,
            signals,
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.readers.read(f)
    }
}

/// Runs a pipeline future that never waits (SQLite's statements are synchronous) on the writer's
/// thread.
fn at_once<T>(future: impl std::future::Future<Output = StoreResult<T>>) -> StoreResult<T> {
    future
        .now_or_never()
        .unwrap_or_else(|| Err(StoreError::backend("an SQLite write waited for something")))
}

impl Backend for SqliteStore {
    type Tx<'t> = SqliteTx<'t>;
}

impl Executes for SqliteStore {
    async fn execute<C>(&self, run: Run, command: C) -> StoreResult<C::Answer>
    where
        Self: Load<C>,
        C: Command + 'static,
        C::Answer: 'static,
    {
        self.writer
            .write(move |conn| {
                let mut tx = SqliteTx::new(conn);
                let result = at_once(pipeline::run::<Self, C>(&mut tx, &run, &command));
                (result, tx.signals)
            })
            .await
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
        let settling = run.clone();
        self.writer
            .write_or_settle(
                move |conn| {
                    let mut tx = SqliteTx::new(conn);
                    let result =
                        at_once(pipeline::run_idempotent::<Self, C>(&mut tx, &run, &command));
                    (result, tx.signals)
                },
                // The write rolled back: its rejection is remembered in the same batch, so that
                // a retry with the same key gets the same answer.
                move |conn, rejection| {
                    at_once(pipeline::settle(
                        &mut SqliteTx::new(conn),
                        &settling,
                        rejection,
                    ))
                },
            )
            .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
    }

    fn signals(&self) -> &StoreSignals {
        &self.signals
    }
}
