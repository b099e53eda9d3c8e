//! The HTTP/1.1 transport under the router: how many connections are served at once, how long a
//! client may take to send its headers and its body, how large a request head may be, how many
//! requests run at once, and graceful shutdown. `axum::serve` has no setting for any of these,
//! so connections are served with hyper's own builder here.
//!
//! Only HTTP/1.1 is spoken: every Partner Center client uses it, and hyper's automatic
//! HTTP/1-or-2 detection reads the first bytes of a connection without any time limit (a
//! client that connects and sends nothing would hold its connection forever). TLS and HTTP/2
//! belong to the reverse proxy in front (docs/deployment.md).
//!
//! Held sockets never lock clients out: when `max_connections` are open, a new connection
//! closes the oldest one that is not in a request (one that said nothing yet, is still sending
//! its head, or waits between keep-alive requests) instead of waiting behind it. A connection is
//! in a request from the moment its head has arrived until its answer has been sent (an event
//! stream's until it ends); those are bounded by `max_in_flight` and the feed's own bound on
//! streams, so a free or closable connection slot is always there for `/healthz` and partners.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tokio::task::AbortHandle;
use tower::ServiceBuilder;
use tower_http::timeout::RequestBodyDeadlineLayer;

use crate::http::context::id_header;
use crate::http::error::ApiError;
use crate::http::headers::{MS_CORRELATION_ID, MS_REQUEST_ID};
use crate::http::path::App;

/// hyper refuses a smaller read buffer.
const MIN_HEADER_BYTES: usize = 8 * 1024;

/// hyper's read buffer is this much larger than `max_header_bytes`: whether hyper's own limit
/// trips depends on how the bytes arrive (the buffer holds what one read brought), so it only
/// backs up [`head_within`], which counts a head's bytes exactly.
const HEAD_SLACK: usize = 16 * 1024;

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
        .max_buf_size(config.max_header_bytes.max(MIN_HEADER_BYTES) + HEAD_SLACK)
        .keep_alive(true);
    let in_flight = Arc::new(Semaphore::new(config.max_in_flight.max(1)));
    let app = ServiceBuilder::new()
        .layer(middleware::from_fn_with_state(
            config.max_header_bytes,
            head_within,
        ))
        .layer(middleware::from_fn_with_state(in_flight, limit_in_flight))
        .service(app);
    let connections = Connections::new(config.max_connections.max(1));
    let graceful = GracefulShutdown::new();
    let body_deadline = config.body_read_timeout;
    tokio::pin!(shutdown);
    loop {
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
        // Served at once while there is room, or once the oldest connection not in a request
        // is closed for it; else when a connection ends.
        tokio::select! {
            () = connections.room() => {}
            () = &mut shutdown => break,
        }
        let _ = stream.set_nodelay(true);
        let slot = connections.open();
        let busy = slot.busy.clone();
        let service = ServiceBuilder::new()
            .layer(RequestBodyDeadlineLayer::new(body_deadline))
            .map_request(move |req: axum::http::Request<_>| {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ConnectInfo(remote));
                req
            })
            .map_result(drop_on_request)
            .service(app.clone());
        let service = InRequest {
            inner: service,
            busy,
        };
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        let task = tokio::spawn(async move {
            // Dropped when the connection ends or is closed for another: its slot is free.
            let _slot = slot;
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %remote, "connection closed with an error");
            }
        });
        connections.started(task.abort_handle());
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

/// The open connections: each one's slot, whether it is in a request, and how to close it.
#[derive(Clone)]
struct Connections(Arc<ConnectionsInner>);

struct ConnectionsInner {
    max: usize,
    open: Mutex<Open>,
    /// A connection ended: room for one waiting in the backlog.
    ended: Notify,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    /// By id, so the first is the oldest.
    slots: BTreeMap<u64, OpenSlot>,
}

struct OpenSlot {
    busy: Arc<AtomicUsize>,
    /// Set once the connection's task is spawned.
    abort: Option<AbortHandle>,
}

/// A connection's place among the open ones, given up when it is dropped.
struct Slot {
    id: u64,
    busy: Arc<AtomicUsize>,
    connections: Connections,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.connections.lock().slots.remove(&self.id);
        self.connections.0.ended.notify_one();
    }
}

impl Connections {
    fn new(max: usize) -> Self {
        Self(Arc::new(ConnectionsInner {
            max,
            open: Mutex::new(Open::default()),
            ended: Notify::new(),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.0.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Returns once one more connection can be served: there is room, or the oldest connection
    /// not in a request has been closed to make it, or one has ended.
    async fn room(&self) {
        loop {
            let ended = self.0.ended.notified();
            {
                let mut open = self.lock();
                if open.slots.len() < self.0.max {
                    return;
                }
                let idle = open
                    .slots
                    .iter()
                    .find(|(_, s)| s.abort.is_some() && s.busy.load(Ordering::Acquire) == 0)
                    .map(|(id, _)| *id);
                if let Some(id) = idle
                    && let Some(slot) = open.slots.remove(&id)
                {
                    // Its task ends without a word; its Slot finds itself already removed.
                    if let Some(abort) = slot.abort {
                        abort.abort();
                    }
                    tracing::debug!("connection closed to make room for a new one");
                    return;
                }
            }
            // Every connection is in a request: wait for one to end.
            ended.await;
        }
    }

    /// The slot of a connection just accepted.
    fn open(&self) -> Slot {
        let busy = Arc::new(AtomicUsize::new(0));
        let mut open = self.lock();
        let id = open.next_id;
        open.next_id += 1;
        open.slots.insert(
            id,
            OpenSlot {
                busy: busy.clone(),
                abort: None,
            },
        );
        Slot {
            id,
            busy,
            connections: self.clone(),
        }
    }

    /// The newest connection's task: it can be closed for another from now on.
    fn started(&self, abort: AbortHandle) {
        let mut open = self.lock();
        if let Some((_, slot)) = open.slots.iter_mut().next_back() {
            slot.abort = Some(abort);
        }
    }
}

/// Marks its connection as in a request from the call until the answer's body is dropped (sent,
/// or the connection gone): a connection in a request is never closed for another.
#[derive(Clone)]
struct InRequest<S> {
    inner: S,
    busy: Arc<AtomicUsize>,
}

/// Leaves its connection's request when dropped.
struct Busy(Arc<AtomicUsize>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<S, B> tower::Service<axum::http::Request<B>> for InRequest<S>
where
    S: tower::Service<axum::http::Request<B>, Response = Response> + Send,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: axum::http::Request<B>) -> Self::Future {
        self.busy.fetch_add(1, Ordering::AcqRel);
        let busy = Busy(self.busy.clone());
        let call = self.inner.call(req);
        Box::pin(async move {
            let response = call.await?;
            // The request lasts as long as its answer's body: until sent, or an event stream's
            // end.
            Ok(response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _in_request = &busy;
                    frame
                }))
            }))
        })
    }
}

/// The bytes of a request's head as HTTP/1.1 spells it: the request line, each header line and
/// the blank line. Whitespace around a header's value (which HTTP ignores) is not counted, so the
/// figure is the same however the client spaced or split its head.
fn head_bytes(req: &Request) -> usize {
    const CRLF: usize = 2;
    let target = req.uri().path_and_query().map_or(1, |p| p.as_str().len());
    let line = req.method().as_str().len() + 1 + target + 1 + "HTTP/1.1".len() + CRLF;
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + ": ".len() + value.len() + CRLF)
        .sum();
    line + headers + CRLF
}

/// A head over `max_header_bytes` is refused with 431 and the connection closed, whatever way
/// its bytes arrived (hyper's own bound, a little above, catches what is larger still).
async fn head_within(State(max): State<usize>, req: Request, next: Next) -> Response {
    if head_bytes(&req) > max {
        let mut refused = axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE.into_response();
        refused.headers_mut().insert(
            axum::http::header::CONNECTION,
            HeaderValue::from_static("close"),
        );
        return refused;
    }
    next.run(req).await
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
