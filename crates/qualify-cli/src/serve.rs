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

/// `--clock frozen:T`: freezes the global clock at T, unless it stands at T or later already
/// (time never goes back: a restart keeps what advances did since).
async fn start_clock(state: &AppState) -> anyhow::Result<()> {
    use qualify_core::clock::ClockChange;
    use qualify_core::engine::Scope;
    let Some(at) = state.config.start_clock else {
        return Ok(());
    };
    match state
        .store
        .change_clock(Scope::All, state.time.wall(), ClockChange::Freeze(at))
        .await
    {
        Ok(_) => {
            tracing::info!(frozen_at = %qualify_core::time_fmt::wire(at), "global clock frozen")
        }
        Err(qualify_store::StoreError::Domain(e))
            if e.kind == qualify_core::ErrorKind::ClockWentBack =>
        {
            tracing::info!("--clock: the global clock is past that instant already; kept")
        }
        Err(e) => return Err(e).context("setting the global clock (--clock)"),
    }
    Ok(())
}

/// Serves with the resolved settings (`config::resolve` has refused bad ones already).
pub async fn run(config: Resolved) -> anyhow::Result<ExitCode> {
    let _flush_log = init_logging(config.json_logs);
    let addr = config.listen;
    if let AuthConfig::Dev { .. } = &config.server.auth {
        tracing::warn!(
            "AUTH MODE dev: tokens signed with the development secret are accepted. Never expose this server."
        );
        // `resolve` let a non-loopback address through only with the explicit allowance (the
        // container image sets it): say so, every start.
        if !addr.ip().is_loopback() {
            tracing::warn!(
                listen = %addr,
                "dev auth on a non-loopback address (--allow-dev-auth-on-network true): anyone who reaches this port gets in with a dev token. Publish it only to a test network."
            );
        }
    }
    // Held until `run` returns (or the process dies): one serve per SQLite file.
    let _instance = crate::instance_lock::acquire(config.database.as_str())?;
    let store = open_store(&config.database, &config.postgres).await?;
    let state = AppState::new(store, config.server.clone())
        .await
        .map_err(anyhow::Error::msg)?;
    start_clock(&state).await?;
    if let Some(path) = &config.seed {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading the --seed document {}", path.display()))?;
        match qualify_server::routes::control::seed_at_start(&state, &bytes)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "the --seed document {} was not applied: {e}",
                    path.display()
                )
            })? {
            Some(applied) => tracing::info!(
                seed = %path.display(),
                customers = applied.customers,
                qualifications = applied.qualifications,
                validation_codes = applied.validation_codes,
                "seed applied"
            ),
            None => {
                tracing::info!(seed = %path.display(), "seed already applied to this database; not applied again")
            }
        }
    }
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    state.webhooks.set_default_base(format!("http://{local}"));
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{local}")?;
        out.flush()?;
    }
    tracing::info!(
        %local,
        database = %config.database.redacted(),
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
