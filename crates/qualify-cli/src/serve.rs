//! `qualify serve`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use qualify_server::{AppState, AuthConfig};
use qualify_store::{PgSettings, PgStore, SqliteStore, Store};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::logsink::{FlushOnDrop, StderrSink};

use crate::config::{DatabaseUrl, Resolved};

/// Logs to stderr through the log thread; what is queued is written out when the guard drops.
fn init_logging(json: bool) -> FlushOnDrop {
    let filter =
        EnvFilter::try_from_env("QUALIFY_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let (sink, flush) = StderrSink::start();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        builder.json().with_current_span(true).init();
    } else {
        builder.init();
    }
    flush
}

/// Opens the store named by a database URL.
pub async fn open_store(url: &DatabaseUrl, pg: &PgSettings) -> anyhow::Result<Arc<dyn Store>> {
    let opening = || format!("opening the database {}", url.redacted());
    Ok(match url {
        DatabaseUrl::Postgres(u) => Arc::new(PgStore::open(u, pg).await.with_context(opening)?),
        DatabaseUrl::Sqlite(u) => Arc::new(SqliteStore::open(u).await.with_context(opening)?),
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received"),
        _ = term => tracing::info!("SIGTERM received"),
    }
}

/// Serves with the resolved settings (`config::resolve` has refused bad ones already).
pub async fn run(config: Resolved) -> anyhow::Result<ExitCode> {
    let _flush_log = init_logging(config.json_logs);
    let addr = config.listen;
    if let AuthConfig::Dev { .. } = &config.server.auth {
        tracing::warn!(
            "AUTH MODE dev: tokens signed with the development secret are accepted. Never expose this server."
        );
    }
    let store = open_store(&config.database, &config.postgres).await?;
    let state = AppState::new(store, config.server.clone())
        .await
        .map_err(anyhow::Error::msg)?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{local}")?;
        out.flush()?;
    }
    tracing::info!(
        %local,
        database = %config.database.redacted(),
        vetting = ?config.server.policy.mode,
        delay = ?config.server.policy.delay,
        rate_limit_per_minute = config.server.rate_limit_per_minute,
        "qualify serving"
    );
    qualify_server::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
