//! `qualify serve`.

use std::io::Write;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;
use qualify_server::{AppState, AuthConfig};
use qualify_store::{PgSettings, PgStore, SqliteStore, Store};
use tokio::net::TcpListener;
use tracing_appender::non_blocking::{NonBlocking, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::{DatabaseUrl, Resolved};

/// Log lines that may wait for the log thread; past that, loggers wait for it (no line is
/// dropped).
const LOG_QUEUE: usize = 16 * 1024;
/// The log thread's buffer on stderr: the lines waiting are written with one `write(2)`.
const LOG_BUFFER: usize = 64 * 1024;

/// The log's writer: every request logs a line, and writing each with its own `write(2)` from
/// the request's thread cost more than building it, so lines go to one thread
/// (`tracing-appender`'s non-blocking writer) that writes whatever is waiting at once. The
/// formatter hands over each event whole, so lines of different threads never interleave; the
/// writer is not lossy; the guard writes out what is queued when dropped (it waits 1 s at
/// most). A log that cannot be written (stderr gone) does not stop the service.
///
/// (Measured in issue 10 against the hand-written sink this replaced: 6 to 11% fewer requests
/// per second at 64 connections on 2 cores; issue 18 chose the maintained crate.)
pub fn log_writer<W: Write + Send + 'static>(out: W) -> (NonBlocking, WorkerGuard) {
    tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(LOG_QUEUE)
        .thread_name("qualify-log")
        .finish(std::io::BufWriter::with_capacity(LOG_BUFFER, out))
}

/// Logs to stderr through the log thread; what is queued is written out when the guard drops.
fn init_logging(json: bool) -> WorkerGuard {
    let filter =
        EnvFilter::try_from_env("QUALIFY_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let (writer, guard) = log_writer(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        builder.json().with_current_span(true).init();
    } else {
        builder.init();
    }
    guard
}

/// Opens the store named by a database URL.
pub async fn open_store(url: &DatabaseUrl, pg: &PgSettings) -> anyhow::Result<Arc<dyn Store>> {
    let opening = || format!("opening the database {}", url.redacted());
    Ok(match url {
        DatabaseUrl::Postgres(u) => match PgStore::open(u, pg).await {
            Ok(store) => Arc::new(store),
            Err(e) => {
                return Err(match postgres_refusal(u).await {
                    Some(why) => anyhow::anyhow!(why),
                    None => anyhow::Error::new(e),
                })
                .with_context(opening);
            }
        },
        DatabaseUrl::Sqlite(u) => Arc::new(SqliteStore::open(u).await.with_context(opening)?),
    })
}

/// Why PostgreSQL refuses a connection to `url`, in words (the driver's message ends in the
/// line of PostgreSQL's source that raised it, `... at line 948`); asked on one connection after
/// opening the store failed. `None` when it accepts one, or did not answer: the store's error
/// says more then.
async fn postgres_refusal(url: &str) -> Option<String> {
    use sqlx::ConnectOptions;
    let options = sqlx::postgres::PgConnectOptions::from_str(url).ok()?;
    let sqlx::Error::Database(refusal) = options.connect().await.err()? else {
        return None;
    };
    let (host, port, user) = (
        options.get_host(),
        options.get_port(),
        options.get_username(),
    );
    let server = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{host}:{port}"),
    };
    // SQLSTATE 3D000, invalid_catalog_name: no database of that name.
    if refusal.code().as_deref() == Some("3D000") {
        // Without a database in the URL, PostgreSQL takes the user's name.
        let name = options.get_database().unwrap_or(user);
        return Some(format!(
            "database `{name}` does not exist on {server} (create it: \
             `createdb -h {host} -p {port} -U {user} {name}`)"
        ));
    }
    let code = refusal
        .code()
        .map(|c| format!(" (SQLSTATE {c})"))
        .unwrap_or_default();
    Some(format!(
        "PostgreSQL on {server} refused the connection: {}{code}",
        refusal.message()
    ))
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
    let Some(at) = state.config().start_clock else {
        return Ok(());
    };
    match state
        .store()
        .change_clock(Scope::All, state.time().wall(), ClockChange::Freeze(at))
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
        match state.seed_at_start(&bytes).await.map_err(|e| {
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
    state.set_default_base(format!("http://{local}"));
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// More lines than the queue holds, from four threads at once, each handed over whole as the
    /// formatter hands over an event: none lost, none torn, each thread's in its order.
    #[test]
    fn log_lines_from_many_threads_arrive_whole_and_the_guard_writes_them_out() {
        let out = Shared::default();
        let (writer, guard) = log_writer(out.clone());
        let per_thread = LOG_QUEUE / 2;
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..per_thread {
                        let line = format!("thread {t} line {i}\n");
                        writer.make_writer().write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4 * per_thread, "every line, none lost");
        for t in 0..4 {
            let prefix = format!("thread {t} ");
            let mine: Vec<&str> = lines
                .iter()
                .copied()
                .filter(|l| l.starts_with(&prefix))
                .collect();
            let expected: Vec<String> = (0..per_thread)
                .map(|i| format!("thread {t} line {i}"))
                .collect();
            assert_eq!(mine, expected, "whole lines, in each thread's order");
        }
    }
}
