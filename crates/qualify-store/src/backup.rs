//! Online backup and restore, while `serve` keeps running.
//!
//! SQLite: `VACUUM INTO` on a reader connection. In WAL mode a reader does not block the writer,
//! and the copy is one read transaction, so it is a consistent snapshot: every write committed
//! before the backup began is in it. SQLite does not fsync the copy, so it is written next to the
//! target, synced, and renamed into place: a file at the target path is always complete.
//!
//! PostgreSQL: `pg_dump --format=custom` (one repeatable-read snapshot) and `pg_restore` into an
//! empty database; both must be on the PATH, in a version at least the server's.
//!
//! A restore never writes into a database that already holds anything.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};

/// What a backup or restore did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub backend: &'static str,
    /// The backup file.
    pub file: PathBuf,
    pub bytes: u64,
    /// Rows per table in the copy (SQLite; PostgreSQL after a restore).
    pub rows: Vec<(String, i64)>,
    pub millis: u128,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Refused(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Tool(String),
}

fn io(context: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> BackupError {
    move |e| BackupError::Io(format!("{context}: {e}"))
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The tables whose rows a report counts, in the order they are listed.
const TABLES: &[&str] = &[
    "customers",
    "qualifications",
    "audit_events",
    "jobs",
    "validation_codes",
    "validation_statuses",
    "gdap_grants",
    "idempotency_records",
];

/// Writes a consistent copy of the database at `database` to `to`, which must not exist.
pub async fn backup(database: &str, to: &Path) -> Result<Report, BackupError> {
    if to.exists() {
        return Err(BackupError::Refused(format!(
            "{} exists already; a backup never overwrites a file",
            to.display()
        )));
    }
    let started = std::time::Instant::now();
    let partial = partial_path(to);
    let _ = std::fs::remove_file(&partial);
    let (backend, rows) = if is_postgres(database) {
        pg_tool(
            "pg_dump",
            database,
            &["--format=custom", "--no-owner"],
            &partial,
        )
        .await?;
        ("postgres", vec![])
    } else {
        let mut conn = sqlite_options(database)?
            .create_if_missing(false)
            .read_only(true)
            .connect()
            .await?;
        sqlx::query("VACUUM INTO ?")
            .bind(partial.to_string_lossy().into_owned())
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        ("sqlite", check_sqlite_copy(&partial).await?)
    };
    publish(&partial, to)?;
    Ok(Report {
        backend,
        bytes: std::fs::metadata(to).map_err(io(to.display()))?.len(),
        file: to.to_owned(),
        rows,
        millis: started.elapsed().as_millis(),
    })
}

/// Restores the backup `from` into the new database `database`: for SQLite a file that must not
/// exist yet, for PostgreSQL an existing, empty database. `serve` on it then applies any newer
/// migrations as usual.
pub async fn restore(from: &Path, database: &str) -> Result<Report, BackupError> {
    if !from.is_file() {
        return Err(BackupError::Refused(format!(
            "the backup {} does not exist",
            from.display()
        )));
    }
    let started = std::time::Instant::now();
    let (backend, rows) = if is_postgres(database) {
        let mut conn = sqlx::PgConnection::connect(database).await?;
        let tables: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
        )
        .fetch_one(&mut conn)
        .await?;
        if tables > 0 {
            return Err(BackupError::Refused(format!(
                "the target database has {tables} tables already; restore only into a new, empty database"
            )));
        }
        pg_tool(
            "pg_restore",
            database,
            &[
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
            ],
            from,
        )
        .await?;
        sqlx::query(RELEASE_LEASES).execute(&mut conn).await?;
        let mut rows = vec![];
        for t in TABLES {
            let n: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {t}")))
                    .fetch_one(&mut conn)
                    .await?;
            rows.push((t.to_string(), n));
        }
        conn.close().await?;
        ("postgres", rows)
    } else {
        let target = sqlite_options(database)?.get_filename().to_owned();
        if target.as_os_str().is_empty() || target.to_string_lossy().contains(":memory:") {
            return Err(BackupError::Refused(
                "restore needs a database file, not an in-memory database".into(),
            ));
        }
        if target.exists() {
            return Err(BackupError::Refused(format!(
                "{} exists already; restore only into a new database",
                target.display()
            )));
        }
        let rows = check_sqlite_copy(from).await?;
        let partial = partial_path(&target);
        let _ = std::fs::remove_file(&partial);
        let mut conn = SqliteConnectOptions::new()
            .filename(from)
            .read_only(true)
            .connect()
            .await?;
        sqlx::query("VACUUM INTO ?")
            .bind(partial.to_string_lossy().into_owned())
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        // A rollback journal, so that nothing is left beside the file when it is renamed.
        let mut copy = SqliteConnectOptions::new()
            .filename(&partial)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Delete)
            .connect()
            .await?;
        sqlx::query(RELEASE_LEASES).execute(&mut copy).await?;
        copy.close().await?;
        publish(&partial, &target)?;
        ("sqlite", rows)
    };
    Ok(Report {
        backend,
        bytes: std::fs::metadata(from).map_err(io(from.display()))?.len(),
        file: from.to_owned(),
        rows,
        millis: started.elapsed().as_millis(),
    })
}

/// `url` as the store reads it: `sqlite:PATH`, `sqlite://PATH` or a bare path.
fn sqlite_options(url: &str) -> Result<SqliteConnectOptions, BackupError> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(BackupError::Refused(
            "an in-memory database has nothing to back up or restore into".into(),
        ));
    }
    Ok(if url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url)?
    } else {
        SqliteConnectOptions::new().filename(url)
    })
}

/// Checks a SQLite copy (integrity, migrations present) and counts its rows.
async fn check_sqlite_copy(path: &Path) -> Result<Vec<(String, i64)>, BackupError> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await?;
    if integrity != "ok" {
        return Err(BackupError::Refused(format!(
            "{} fails SQLite's integrity check: {integrity}",
            path.display()
        )));
    }
    let migrated = sqlx::query("SELECT count(*) AS n FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut conn)
        .await
        .ok()
        .and_then(|r| r.try_get::<i64, _>("n").ok())
        .unwrap_or(0);
    if migrated == 0 {
        return Err(BackupError::Refused(format!(
            "{} is not a qualify database (no applied migrations)",
            path.display()
        )));
    }
    let mut rows = vec![];
    for t in TABLES {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {t}")))
            .fetch_one(&mut conn)
            .await?;
        rows.push((t.to_string(), n));
    }
    conn.close().await?;
    Ok(rows)
}

/// The workers that held job leases when the backup was taken do not exist for the copy: their
/// jobs are released so that a server on the restored database runs them at once.
const RELEASE_LEASES: &str =
    "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE done_at IS NULL";

fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    target.with_file_name(name)
}

/// Syncs `partial` to disk and renames it to `target` (then syncs the directory), so that
/// `target` only ever names a complete file.
fn publish(partial: &Path, target: &Path) -> Result<(), BackupError> {
    std::fs::File::open(partial)
        .and_then(|f| f.sync_all())
        .map_err(io(partial.display()))?;
    if target.exists() {
        let _ = std::fs::remove_file(partial);
        return Err(BackupError::Refused(format!(
            "{} appeared while the copy was made; not overwritten",
            target.display()
        )));
    }
    std::fs::rename(partial, target).map_err(io(target.display()))?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

const LIBPQ_PARAMETERS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "options",
    "application_name",
    "connect_timeout",
    "sslmode",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "sslcrl",
    "sslpassword",
    "sslnegotiation",
    "channel_binding",
    "gssencmode",
    "target_session_attrs",
];

/// Runs `pg_dump` or `pg_restore` on `database` and `file`. The password travels in
/// `PGPASSWORD`, not on the command line, where every local user could read it.
async fn pg_tool(
    tool: &str,
    database: &str,
    args: &[&str],
    file: &Path,
) -> Result<(), BackupError> {
    let mut url = url::Url::parse(database)
        .map_err(|e| BackupError::Refused(format!("the database URL is not valid: {e}")))?;
    let password = url.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    let _ = url.set_password(None);
    // Only the parameters libpq knows (sqlx adds its own, which pg_dump refuses).
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| LIBPQ_PARAMETERS.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.set_query(None);
    if !kept.is_empty() {
        url.query_pairs_mut().extend_pairs(kept);
    }
    let mut command = tokio::process::Command::new(tool);
    command.args(args).arg(format!("--dbname={url}"));
    if tool == "pg_dump" {
        command.arg(format!("--file={}", file.display()));
    } else {
        command.arg(file);
    }
    if let Some(p) = password {
        command.env("PGPASSWORD", p);
    }
    let out = command.output().await.map_err(|e| {
        BackupError::Tool(format!(
            "running {tool} failed ({e}); PostgreSQL backups need the PostgreSQL client tools on the PATH"
        ))
    })?;
    if !out.status.success() {
        return Err(BackupError::Tool(format!(
            "{tool} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}
