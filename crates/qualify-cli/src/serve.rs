//! `qualify serve`.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use qualify_server::{AppState, AuthConfig};
use qualify_store::{PgSettings, PgStore, SqliteStore, Store};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::logsink::{FlushOnDrop, StderrSink};

use crate::cli::ServeArgs;
use crate::config::resolve;

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

/// Opens the store named by a database URL: `postgres://` / `postgresql://` or SQLite.
pub async fn open_store(url: &str, pg: &PgSettings) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PgStore::open(url, pg)
            .await
            .with_context(|| format!("opening the database {}", redact(url)))?;
        return Ok(Arc::new(store));
    }
    let store = SqliteStore::open(url)
        .await
        .with_context(|| format!("opening the database {url}"))?;
    Ok(Arc::new(store))
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

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = resolve(&args)?;
    let _flush_log = init_logging(config.json_logs);
    let addr: SocketAddr = config.listen.parse().with_context(|| {
        format!(
            "--listen {:?} is not an address such as 127.0.0.1:8080",
            config.listen
        )
    })?;
    if let AuthConfig::Dev { .. } = &config.server.auth {
        if !addr.ip().is_loopback() && !config.allow_dev_auth_on_network {
            bail!(
                "dev auth accepts tokens signed with a well-known secret; refusing to listen on the non-loopback address {addr}. \
                 Use --auth oidc, or pass --allow-dev-auth-on-network true if you really mean it"
            );
        }
        tracing::warn!(
            "AUTH MODE dev: tokens signed with the development secret are accepted. Never expose this server."
        );
    }
    // Held until `run` returns (or the process dies): one serve per SQLite file.
    let _instance = crate::instance_lock::acquire(&config.database)?;
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
        database = %redact(&config.database),
        vetting = %config.server.policy.mode,
        delay = %humantime::format_duration(config.server.policy.delay),
        job_lease = %humantime::format_duration(config.server.job_lease),
        rate_limit_per_minute = config.server.rate_limit_per_minute,
        "qualify serving"
    );
    qualify_server::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// A database URL without its password, for the log.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..s + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("sqlite://qualify.db"), "sqlite://qualify.db");
    }
}
