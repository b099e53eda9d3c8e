//! The event stream (events.md section 3): `GET /admin/v1/events`, Server-Sent Events of every
//! transition, read from the durable audit trail through the process's [`Feed`].
//!
//! A stream that reconnects with `Last-Event-ID` subscribes to the feed, reads what it missed
//! from the store, then follows the feed (skipping by seq what it already sent); a stream that
//! falls behind the broadcast reads from the store again. Open streams end when graceful
//! shutdown begins.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use qualify_core::PartnerId;
use qualify_core::time_fmt::wire;
use qualify_store::Transition;
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, watch};
use utoipa::ToSchema;

use super::feed::{Feed, PAGE};
use crate::chain::Chain;
use crate::http::auth::Operator;
use crate::http::error::{ApiError, ApiResult};
use crate::http::query::{partner_query, query_map};
use crate::http::schemas::{QualificationSchema, VettingStatusSchema};

/// Idle streams get a comment line this often.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

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
        reconnect with the last id. At most `--max-streams` streams are served at once (256 by \
        default); past it the answer is 503 with `Retry-After` and the connection is closed.",
    params(
        ("partner" = Option<String>, Query, format = Uuid, description = "Only this partner's transitions."),
        ("Last-Event-ID" = Option<String>, Header, pattern = "^[0-9]{1,18}$", description = "The last seq the client received."),
    ),
    responses(
        (status = 200, description = "The stream (`text/event-stream`); each `data:` is a TransitionEvent.",
            content_type = "text/event-stream", body = TransitionOut),
    ),
)]
pub async fn stream(
    State(feed): State<Feed>,
    _: Operator,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult<Response> {
    let partner = partner_query(&query_map(&uri)?)?;
    let Some(permit) = feed.stream_permit() else {
        // Past the bound: refused at once, and the connection closed with it, so that a client
        // opening streams in a loop holds no connection either.
        let mut refused = ApiError::unavailable(
            format!(
                "The server is serving as many event streams as it may ({}); retry shortly.",
                feed.max_streams()
            ),
            1,
        )
        .into_response();
        refused.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        return Ok(refused);
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
    let closing = feed.closing();
    // Subscribed before the answer leaves: whatever commits after the client sees the 200 is
    // sent.
    let subscription = feed.subscribe();
    tokio::spawn(pump(
        feed,
        partner,
        last_event_id,
        subscription,
        tx,
        closing,
    ));
    let sse =
        Sse::new(receiver_stream(rx, permit)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    let mut response = sse.into_response();
    // Proxies must not buffer the stream.
    response.headers_mut().insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    Ok(response)
}

/// The stream's events; `permit` (its place among the open streams) is given back when the
/// answer's body is dropped: the client went away, or the stream ended.
fn receiver_stream(
    mut rx: mpsc::Receiver<Event>,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    futures::stream::poll_fn(move |cx| {
        let _open = &permit;
        rx.poll_recv(cx).map(|e| e.map(Ok))
    })
}

/// Feeds one stream: what it missed from the store, then the live transitions, until the
/// client goes away or the server shuts down.
async fn pump(
    feed: Feed,
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
    if last_event_id.is_some() && catch_up(&feed, partner, &mut sent, &tx).await.is_err() {
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
                rx = feed.subscribe().0;
                if catch_up(&feed, partner, &mut sent, &tx).await.is_err() {
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
    feed: &Feed,
    partner: Option<PartnerId>,
    sent: &mut i64,
    tx: &mpsc::Sender<Event>,
) -> Result<(), ()> {
    loop {
        let page = match feed.store().transitions(*sent, partner, PAGE).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %Chain(&e), "reading missed transitions failed; the stream ends");
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
