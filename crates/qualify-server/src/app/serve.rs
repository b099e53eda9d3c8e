//! `serve`: the transport, the job worker, the event feed and periodic upkeep, until shutdown.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::routes;
use super::state::AppState;
use crate::chain::Chain;
use crate::http::transport;

/// Runs the server and its job worker on `listener` until `shutdown` resolves; then
/// finishes in-flight requests (bounded by `shutdown_grace`) and releases claimed jobs.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = tokio::spawn(state.worker().run(stop_rx.clone()));
    let housekeeping = tokio::spawn(housekeeping(state.clone(), stop_rx.clone()));
    let feed = tokio::spawn(state.feed().run(stop_rx.clone()));
    let app = routes::app(state.clone());
    // Open event streams never finish by themselves: they end as soon as shutdown begins, so
    // that graceful shutdown waits only for real in-flight requests.
    let closing = state.clone();
    let shutdown = async move {
        shutdown.await;
        closing.close_streams();
    };
    let result = transport::run(listener, app, &state.config().limits(), shutdown).await;
    let _ = stop_tx.send(true);
    let _ = worker.await;
    let _ = housekeeping.await;
    let _ = feed.await;
    result
}

/// Periodic upkeep: forget idle throttle buckets, purge idempotency records older than 48h.
async fn housekeeping(state: AppState, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(300)) => {}
            _ = stop.changed() => return,
        }
        state.throttle().0.housekeep();
        let before = state.time().wall() - time::Duration::hours(48);
        match state.store().purge_idempotency(before).await {
            Ok(n) if n > 0 => tracing::info!(purged = n, "purged old idempotency records"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %Chain(&e), "purging idempotency records failed"),
        }
    }
}
