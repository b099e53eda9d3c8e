//! The event stream (events.md section 3): `GET /admin/v1/events`, Server-Sent Events of every
//! transition, read from the durable audit trail.
//!
//! One [`Feed`] per process reads the audit trail after the last seq it published
//! ([`Store::transitions`](qualify_store::Store::transitions): a stable prefix, so nothing is
//! skipped even when transactions commit out of order) and broadcasts each transition to the
//! open streams. It reads when a local commit signals a transition and otherwise polls, which
//! finds the transitions of other instances on the same PostgreSQL database. A stream that
//! reconnects with `Last-Event-ID` subscribes to the feed, reads what it missed from the store,
//! then follows the feed (skipping by seq what it already sent); a stream that falls behind the
//! broadcast reads from the store again. Open streams end when graceful shutdown begins.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use qualify_core::PartnerId;
use qualify_core::time_fmt::wire;
use qualify_store::{Store, Transition};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, watch};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Operator;
use crate::error::{ApiError, ApiResult};
use crate::openapi::{
    BadRequest, Forbidden, QualificationSchema, ServiceUnavailable, Unauthorized,
    VettingStatusSchema,
};
use crate::routes::query_map;

/// Transitions read from the store at once.
const PAGE: u32 = 500;
/// How often the feed reads the audit trail while streams are open (transitions of other
/// instances arrive within this, plus the time their transactions take).
const POLL_SUBSCRIBED: Duration = Duration::from_millis(250);
/// How often it reads while no stream is open (so that a new stream starts from now).
const POLL_IDLE: Duration = Duration::from_secs(1);
/// Transitions a slow stream may fall behind the broadcast before it reads from the store.
const BROADCAST: usize = 1024;
/// Idle streams get a comment line this often.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The process's reader of the audit trail, shared by every open stream.
pub struct Feed {
    sender: broadcast::Sender<Arc<Transition>>,
    /// The last seq published: every transition up to it went to the streams subscribed then.
    /// Publishing and subscribing both hold this lock, so a subscriber misses nothing after it.
    published: Mutex<i64>,
}

impl Feed {
    /// A feed whose live stream starts after `horizon`.
    pub fn new(horizon: i64) -> Self {
        Self {
            sender: broadcast::channel(BROADCAST).0,
            published: Mutex::new(horizon),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, i64> {
        self.published.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A receiver of every transition after the returned seq.
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<Transition>>, i64) {
        let published = self.lock();
        (self.sender.subscribe(), *published)
    }

    /// The last seq published.
    pub fn published(&self) -> i64 {
        *self.lock()
    }

    /// Reads the next page from the store and publishes it; `true` when a full page came (read
    /// again at once).
    pub async fn read_once(&self, store: &dyn Store) -> Result<bool, qualify_store::StoreError> {
        let after = self.published();
        let page = store.transitions(after, None, PAGE).await?;
        let mut published = self.lock();
        // Only this task publishes; `published` cannot have moved meanwhile.
        for t in page.items.iter() {
            let _ = self.sender.send(Arc::new(t.clone()));
        }
        *published = (*published).max(page.last_seq);
        Ok(page.items.len() >= PAGE as usize)
    }
}

/// Runs the feed until `stop`: reads on every local commit of a transition (while streams are
/// open) and at the poll interval.
pub async fn run_feed(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut signal = state.store.signals().transitions();
    loop {
        let more = match state.feed.read_once(state.store.as_ref()).await {
            Ok(more) => more,
            Err(e) => {
                tracing::warn!(error = %e, "reading transitions for the event stream failed");
                false
            }
        };
        if more {
            continue;
        }
        let subscribed = state.feed.sender.receiver_count() > 0;
        let poll = if subscribed {
            POLL_SUBSCRIBED
        } else {
            POLL_IDLE
        };
        let woken = async {
            match subscribed {
                true => drop(signal.changed().await),
                false => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(poll) => {}
            () = woken => {}
        }
    }
}

/// `data:` of an event: one transition (null properties omitted, as everywhere in the API).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TransitionEvent)]
pub struct TransitionOut {
    /// The transition's sequence number (also the event's `id:`).
    pub seq: i64,
    #[schema(format = Uuid)]
    pub partner_id: String,
    #[schema(format = Uuid)]
    pub customer_id: String,
    #[schema(value_type = QualificationSchema)]
    pub qualification: &'static str,
    /// Absent on the first event of a request (its creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Option<VettingStatusSchema>)]
    pub from: Option<&'static str>,
    #[schema(value_type = VettingStatusSchema)]
    pub to: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<String>,
    #[schema(format = DateTime)]
    pub at: String,
    pub actor: String,
}

impl From<&Transition> for TransitionOut {
    fn from(t: &Transition) -> Self {
        Self {
            seq: t.seq,
            partner_id: t.partner_id.to_string(),
            customer_id: t.customer_id.to_string(),
            qualification: t.qualification.name(),
            from: t.from.map(|s| s.name()),
            to: t.to.name(),
            reason: t.reason.clone(),
            at: wire(t.at),
            actor: t.actor.clone(),
        }
    }
}

fn event(t: &Transition) -> Event {
    let data = serde_json::to_string(&TransitionOut::from(t)).unwrap_or_else(|_| "{}".into());
    Event::default()
        .id(t.seq.to_string())
        .event("qualification")
        .data(data)
}

/// The comment sent once the stream has caught up with what was missed and follows live
/// transitions (`qualify admin events` without `--follow` stops there).
pub const LIVE_COMMENT: &str = "live";

/// `GET /admin/v1/events[?partner=P]`: Server-Sent Events of every transition.
#[utoipa::path(
    get,
    path = "/admin/v1/events",
    tag = "operator",
    operation_id = "events",
    summary = "Server-Sent Events of every transition, from the audit trail",
    description = "Each event: `id:` the transition's sequence number, `event: qualification`, \
        `data:` a TransitionEvent. With `Last-Event-ID` the stream first sends every transition \
        after it (also across restarts: it reads the durable audit trail), then the live ones; \
        without it, only the live ones. The comment `: live` marks the end of what was missed; \
        idle streams get a comment line every 15 s. Open streams end when the server shuts down: \
        reconnect with the last id.",
    params(
        ("partner" = Option<String>, Query, format = Uuid, description = "Only this partner's transitions."),
        ("Last-Event-ID" = Option<String>, Header, pattern = "^[0-9]{1,18}$", description = "The last seq the client received."),
    ),
    responses(
        (status = 200, description = "The stream (`text/event-stream`); each `data:` is a TransitionEvent.",
            content_type = "text/event-stream", body = TransitionOut),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn stream(
    State(state): State<AppState>,
    _: Operator,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult<Response> {
    let partner = match query_map(&uri)?.get("partner") {
        None => None,
        Some(p) => Some(
            p.parse::<PartnerId>()
                .map_err(|_| ApiError::invalid(format!("partner {p:?} is not a valid GUID.")))?,
        ),
    };
    let last_event_id = match headers.get("last-event-id") {
        None => None,
        Some(v) => {
            let text = v.to_str().unwrap_or("").trim();
            if text.is_empty() {
                None
            } else {
                Some(
                    text.parse::<i64>()
                        .ok()
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| {
                            ApiError::invalid(format!(
                                "Last-Event-ID {text:?} is not a sequence number of this stream."
                            ))
                        })?,
                )
            }
        }
    };
    let (tx, rx) = mpsc::channel::<Event>(256);
    let closing = state.closing.subscribe();
    // Subscribed before the answer leaves: whatever commits after the client sees the 200 is
    // sent.
    let subscription = state.feed.subscribe();
    tokio::spawn(pump(
        state,
        partner,
        last_event_id,
        subscription,
        tx,
        closing,
    ));
    let sse = Sse::new(receiver_stream(rx)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    let mut response = sse.into_response();
    // Proxies must not buffer the stream.
    response.headers_mut().insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    Ok(response)
}

fn receiver_stream(
    mut rx: mpsc::Receiver<Event>,
) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|e| e.map(Ok)))
}

/// Feeds one stream: what it missed from the store, then the live transitions, until the
/// client goes away or the server shuts down.
async fn pump(
    state: AppState,
    partner: Option<PartnerId>,
    last_event_id: Option<i64>,
    subscription: (broadcast::Receiver<Arc<Transition>>, i64),
    tx: mpsc::Sender<Event>,
    mut closing: watch::Receiver<bool>,
) {
    let wanted = |t: &Transition| partner.is_none_or(|p| p == t.partner_id);
    let (mut rx, horizon) = subscription;
    // Without Last-Event-ID: the live ones only.
    let mut sent = last_event_id.unwrap_or(horizon);
    if last_event_id.is_some() && catch_up(&state, partner, &mut sent, &tx).await.is_err() {
        return;
    }
    if tx
        .send(Event::default().comment(LIVE_COMMENT))
        .await
        .is_err()
    {
        return;
    }
    loop {
        let received = tokio::select! {
            _ = closing.changed() => return,
            () = tx.closed() => return,
            r = rx.recv() => r,
        };
        match received {
            Ok(t) => {
                if t.seq <= sent {
                    continue;
                }
                sent = t.seq;
                if wanted(&t) && tx.send(event(&t)).await.is_err() {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                // Fell behind the broadcast: read what was missed from the store again.
                rx = state.feed.subscribe().0;
                if catch_up(&state, partner, &mut sent, &tx).await.is_err() {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Sends the transitions after `sent` from the store, as far as it has them (the stream is
/// subscribed already: whatever the feed publishes later reaches it, and what it sends twice is
/// skipped by seq).
async fn catch_up(
    state: &AppState,
    partner: Option<PartnerId>,
    sent: &mut i64,
    tx: &mpsc::Sender<Event>,
) -> Result<(), ()> {
    loop {
        let page = match state.store.transitions(*sent, partner, PAGE).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, "reading missed transitions failed; the stream ends");
                return Err(());
            }
        };
        for t in &page.items {
            tx.send(event(t)).await.map_err(|_| ())?;
        }
        *sent = (*sent).max(page.last_seq);
        if page.items.len() < PAGE as usize {
            return Ok(());
        }
    }
}

/// Every subscriber is told the server is going away.
pub fn closing_channel() -> watch::Sender<bool> {
    watch::channel(false).0
}
