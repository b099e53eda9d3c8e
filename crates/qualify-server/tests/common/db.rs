//! Direct reads of a test server's database (its SQLite file or its PostgreSQL database), for
//! what the API does not show: jobs, audit rows of every qualification, raw counters. Every
//! column is read as text (`CAST(.. AS TEXT)` means the same on both backends), so one query
//! serves both.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::str::FromStr;

use sqlx::{AssertSqlSafe, Row};

pub enum Db {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

/// One row, every column as text (`None` for NULL).
pub type TextRow = Vec<Option<String>>;

impl Db {
    /// Opens the database of `url` (a `sqlite://` URL of a test server, or `postgres://`).
    pub async fn open(url: &str) -> Db {
        if url.starts_with("postgres") {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .connect(url)
                .await
                .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
            Db::Pg(pool)
        } else {
            // Not read-only: after a SIGKILL the first connection may have to recover the WAL.
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                .expect("a sqlite URL")
                .busy_timeout(std::time::Duration::from_secs(10));
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .unwrap_or_else(|e| panic!("opening {url}: {e}"));
            Db::Sqlite(pool)
        }
    }

    pub async fn close(self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Pg(p) => p.close().await,
        }
    }

    /// The rows of `sql`, whose columns must all be text (cast them).
    pub async fn rows(&self, sql: &str) -> Vec<TextRow> {
        match self {
            Db::Sqlite(p) => sqlx::query(AssertSqlSafe(sql.to_owned()))
                .fetch_all(p)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| r.try_get::<Option<String>, _>(i).expect("a text column"))
                        .collect()
                })
                .collect(),
            Db::Pg(p) => sqlx::query(AssertSqlSafe(sql.to_owned()))
                .fetch_all(p)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| r.try_get::<Option<String>, _>(i).expect("a text column"))
                        .collect()
                })
                .collect(),
        }
    }

    /// A single number (`SELECT CAST(count(*) AS TEXT) ...`).
    pub async fn number(&self, sql: &str) -> i64 {
        let rows = self.rows(sql).await;
        rows.first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{sql} gave no number: {rows:?}"))
    }

    /// The column names of `table`, in order.
    pub async fn columns(&self, table: &str) -> Vec<String> {
        let sql = match self {
            Db::Sqlite(_) => {
                format!("SELECT CAST(name AS TEXT) FROM pragma_table_info('{table}') ORDER BY cid")
            }
            Db::Pg(_) => format!(
                "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = '{table}' ORDER BY ordinal_position"
            ),
        };
        self.rows(&sql)
            .await
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect()
    }

    /// Everything stored, table by table, as sorted text rows: equal snapshots mean nothing
    /// changed. Left out: idempotency records (a rejected request with an `MS-RequestId` stores
    /// its answer there, by design) and the bookkeeping columns of jobs that the worker updates
    /// on its own (leases, attempts, completion).
    pub async fn snapshot(&self) -> BTreeMap<&'static str, Vec<TextRow>> {
        let mut out = BTreeMap::new();
        for table in [
            "customers",
            "qualifications",
            "validation_codes",
            "validation_statuses",
            "gdap_grants",
            "audit_events",
            "jobs",
            "faults",
            "webhook_registrations",
        ] {
            let columns: Vec<String> = if table == "jobs" {
                vec!["id".into(), "kind".into(), "qualification_id".into()]
            } else {
                self.columns(table).await
            };
            let select = columns
                .iter()
                .map(|c| format!("CAST({c} AS TEXT)"))
                .collect::<Vec<_>>()
                .join(", ");
            let mut rows = self.rows(&format!("SELECT {select} FROM {table}")).await;
            rows.sort();
            out.insert(table, rows);
        }
        out
    }
}
