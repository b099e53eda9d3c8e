//! The HTTP/1.1 transport under the router: how many connections are served at once, how long a
//! client may take to send its headers and its body, how large a request head may be, how many
//! requests run at once, and graceful shutdown. `axum::serve` has no setting for any of these,
//! so connections are served with hyper's own builder here.
//!
//! Only HTTP/1.1 is spoken: every Partner Center client uses it, and hyper's automatic
//! HTTP/1-or-2 detection reads the first bytes of a connection without any time limit (a
//! client that connects and sends nothing would hold its connection forever). TLS and HTTP/2
//! belong to the reverse proxy in front (docs/deployment.md).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceBuilder;
use tower_http::timeout::RequestBodyDeadlineLayer;

use crate::http::context::id_header;
use crate::http::error::ApiError;
use crate::http::headers::{MS_CORRELATION_ID, MS_REQUEST_ID};
use crate::http::path::App;

/// hyper refuses a smaller read buffer.
const MIN_HEADER_BYTES: usize = 8 * 1024;

/// What the transport bounds (`ServerConfig` has the meaning of each).
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_connections: usize,
    pub max_in_flight: usize,
    pub shutdown_grace: Duration,
}

/// In a response's extensions: close the connection without answering (a fault's
/// `{"drop": true}`). The transport turns it into a service error, on which hyper closes the
/// connection without writing anything.
#[derive(Debug, Clone)]
pub struct DropConnection;

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, lets in-flight
/// requests finish and closes idle connections, waiting at most `shutdown_grace`.
pub async fn run(
    listener: TcpListener,
    app: App,
    config: &Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_buf_size(config.max_header_bytes.max(MIN_HEADER_BYTES))
        .keep_alive(true);
    let in_flight = Arc::new(Semaphore::new(config.max_in_flight.max(1)));
    let app = ServiceBuilder::new()
        .layer(middleware::from_fn_with_state(in_flight, limit_in_flight))
        .service(app);
    let connections = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let body_deadline = config.body_read_timeout;
    tokio::pin!(shutdown);
    loop {
        // A connection is accepted only when it can be served: the others wait in the backlog.
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = ServiceBuilder::new()
            .layer(RequestBodyDeadlineLayer::new(body_deadline))
            .map_request(move |req: axum::http::Request<_>| {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ConnectInfo(remote));
                req
            })
            .map_result(drop_on_request)
            .service(app.clone());
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %remote, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(config.shutdown_grace) => {
            tracing::warn!(grace = %humantime::format_duration(config.shutdown_grace), "in-flight requests did not finish in time; closing");
        }
    }
    Ok(())
}

/// A fault's `{"drop": true}` ([`DropConnection`]): the service fails, and hyper closes the
/// connection without writing an answer.
fn drop_on_request(
    result: Result<Response, std::convert::Infallible>,
) -> Result<Response, DroppedByFault> {
    match result {
        Ok(r) if r.extensions().get::<DropConnection>().is_some() => Err(DroppedByFault),
        Ok(r) => Ok(r),
        Err(never) => match never {},
    }
}

/// The connection was closed on purpose, by a fault.
#[derive(Debug)]
pub struct DroppedByFault;

impl std::fmt::Display for DroppedByFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by a fault")
    }
}

impl std::error::Error for DroppedByFault {}

impl From<std::convert::Infallible> for DroppedByFault {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

/// At most `max_in_flight` requests are handled at once; the next one is answered at once with
/// 503 and `Retry-After` instead of queueing behind them. The answer carries the request's ids
/// like every other (this layer sits outside the router's own).
async fn limit_in_flight(
    State(limit): State<Arc<Semaphore>>,
    req: Request,
    next: Next,
) -> Response {
    let Ok(_permit) = limit.try_acquire_owned() else {
        // Bounded like the lines of rejected requests: an overload is when a line per
        // request would cost the most.
        if let Some(n) = crate::http::context::admit_rejection() {
            let left_out = (n > 0).then_some(n);
            tracing::warn!(
                path = %crate::http::redact::keep_text(req.uri().path(), crate::http::context::LOGGED_PATH),
                left_out,
                "too many requests in flight; answered 503"
            );
        }
        let mut response = ApiError::unavailable(
            "The server is handling as many requests as it may; retry shortly.",
            1,
        )
        .into_response();
        for name in [MS_REQUEST_ID, MS_CORRELATION_ID] {
            let id = id_header(req.headers(), &name)
                .ok()
                .flatten()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            if let Ok(v) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(name, v);
            }
        }
        return response;
    };
    next.run(req).await
}
