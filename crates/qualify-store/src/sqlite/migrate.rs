//! Applies the embedded migrations (`migrations/sqlite`) on a synchronous connection. The
//! bookkeeping table is sqlx's `_sqlx_migrations`, in sqlx's layout, so databases written by
//! earlier versions (which ran sqlx's migrator) and by this one are interchangeable.

use std::time::Instant;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::{StoreError, StoreResult};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

fn failed(message: String) -> StoreError {
    StoreError::backend(format!("migrations failed: {message}"))
}

/// Brings the database up to the newest migration. Safe to run from several processes at once:
/// each migration is applied in an immediate transaction that re-checks what is applied.
pub(super) fn run(conn: &Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
            version BIGINT PRIMARY KEY,
            description TEXT NOT NULL,
            installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
            success BOOLEAN NOT NULL,
            checksum BLOB NOT NULL,
            execution_time BIGINT NOT NULL
        );",
    )?;
    let known: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
    let newest_applied: Option<i64> = conn.query_row(
        "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
        [],
        |r| r.get(0),
    )?;
    if let Some(v) = newest_applied
        && !known.contains(&v)
    {
        return Err(failed(format!(
            "the database has migration {v}, which this version of qualify does not know (it was \
             written by a newer version)"
        )));
    }
    for migration in MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
    {
        let conn_tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        let applied: Option<(bool, Vec<u8>)> = conn_tx
            .query_row(
                "SELECT success, checksum FROM _sqlx_migrations WHERE version = ?",
                [migration.version],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match applied {
            Some((false, _)) => {
                return Err(failed(format!(
                    "migration {} was left half-applied; restore from a backup",
                    migration.version
                )));
            }
            Some((true, checksum)) if checksum != *migration.checksum => {
                return Err(failed(format!(
                    "migration {} was changed after it was applied",
                    migration.version
                )));
            }
            Some(_) => continue,
            None => {}
        }
        let started = Instant::now();
        conn_tx.execute_batch(migration.sql.as_str())?;
        conn_tx.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (?, ?, TRUE, ?, ?)",
            params![
                migration.version,
                migration.description.as_ref(),
                migration.checksum.as_ref(),
                started.elapsed().as_nanos() as i64
            ],
        )?;
        conn_tx.commit()?;
    }
    Ok(())
}
