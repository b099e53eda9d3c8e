//! Test support: a fresh PostgreSQL database per test, from `QUALIFY_TEST_POSTGRES_URL`.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// The variable that names the PostgreSQL server the tests may use.
pub const POSTGRES_URL_VAR: &str = "QUALIFY_TEST_POSTGRES_URL";

const PREFIX: &str = "qualify_t_";
/// Test databases older than this are dropped by later runs (left over by killed runs).
const STALE_AFTER_SECS: u64 = 3600;

/// Creates an empty database on the server of `QUALIFY_TEST_POSTGRES_URL` and returns its URL.
/// `None` (with a printed reason) when the variable is not set: the caller skips. When the
/// variable is set, a server that does not answer is a failure, not a skip.
pub async fn fresh_postgres_database() -> Option<String> {
    let Ok(url) = std::env::var(POSTGRES_URL_VAR) else {
        eprintln!(
            "skipped: {POSTGRES_URL_VAR} is not set, so the PostgreSQL variant of this test did not run"
        );
        return None;
    };
    let admin = PgConnectOptions::from_str(&url)
        .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR} is not a PostgreSQL URL: {e}"));
    let mut conn = admin.connect().await.unwrap_or_else(|e| {
        panic!("{POSTGRES_URL_VAR} is set but PostgreSQL does not answer: {e}")
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let old: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'qualify\\_t\\_%'")
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
    for name in old {
        let stamp = name
            .trim_start_matches(PREFIX)
            .split('_')
            .next()
            .and_then(|s| s.parse::<u64>().ok());
        if stamp.is_some_and(|t| t + STALE_AFTER_SECS < now) {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await;
        }
    }
    let name = format!("{PREFIX}{now}_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("creating the test database {name}: {e}"));
    let _ = conn.close().await;
    Some(admin.database(&name).to_url_lossy().to_string())
}
