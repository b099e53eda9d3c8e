//! The process's one reader of the audit trail behind the event stream (events.md 3).
//!
//! [`Feed::run`] reads the audit trail after the last seq it published
//! ([`Store::transitions`](qualify_store::Store::transitions): a stable prefix, so nothing is
//! skipped even when transactions commit out of order) and broadcasts each transition to the
//! open streams. It reads when the store signals a transition (its own commits, and on
//! PostgreSQL other instances' by `LISTEN/NOTIFY`) and otherwise polls.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::FromRef;
use qualify_store::{Store, StoreError, Transition};
use tokio::sync::{broadcast, watch};

use crate::chain::Chain;

/// Transitions read from the store at once.
pub const PAGE: u32 = 500;
/// How often the feed reads the audit trail while streams are open (transitions of other
/// instances arrive within this, plus the time their transactions take).
const POLL_SUBSCRIBED: Duration = Duration::from_millis(250);
/// How often it reads while no stream is open (so that a new stream starts from now).
const POLL_IDLE: Duration = Duration::from_secs(1);
/// Transitions a slow stream may fall behind the broadcast before it reads from the store.
const BROADCAST: usize = 1024;

/// The feed: what streams subscribe to, and the store they catch up from. Cheap to clone.
#[derive(Clone)]
pub struct Feed(Arc<Inner>);

struct Inner {
    store: Arc<dyn Store>,
    sender: broadcast::Sender<Arc<Transition>>,
    /// The last seq published: every transition up to it went to the streams subscribed then.
    /// Publishing and subscribing both hold this lock, so a subscriber misses nothing after it.
    published: Mutex<i64>,
    /// Set when graceful shutdown begins: open streams end.
    closing: watch::Sender<bool>,
    /// One permit per open event stream (`--max-streams`).
    streams: Arc<tokio::sync::Semaphore>,
    max_streams: usize,
}

impl Feed {
    /// A feed of `store` whose live stream starts after what is committed now, serving at most
    /// `max_streams` event streams at once.
    pub async fn start(store: Arc<dyn Store>, max_streams: usize) -> Result<Self, StoreError> {
        let horizon = store.transition_horizon().await?;
        Ok(Self(Arc::new(Inner {
            store,
            sender: broadcast::channel(BROADCAST).0,
            published: Mutex::new(horizon),
            closing: watch::channel(false).0,
            streams: Arc::new(tokio::sync::Semaphore::new(max_streams)),
            max_streams,
        })))
    }

    /// A place for one more event stream, held as long as the stream is open; `None` when
    /// `max_streams` are open.
    pub fn stream_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.0.streams.clone().try_acquire_owned().ok()
    }

    /// The most event streams served at once.
    pub fn max_streams(&self) -> usize {
        self.0.max_streams
    }

    pub fn store(&self) -> &dyn Store {
        self.0.store.as_ref()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, i64> {
        self.0.published.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A receiver of every transition after the returned seq.
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<Transition>>, i64) {
        let published = self.lock();
        (self.0.sender.subscribe(), *published)
    }

    /// The last seq published.
    pub fn published(&self) -> i64 {
        *self.lock()
    }

    /// Told when graceful shutdown begins.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.0.closing.subscribe()
    }

    /// Graceful shutdown begins: open streams end (they never finish by themselves, and must
    /// not hold the shutdown up).
    pub fn close(&self) {
        let _ = self.0.closing.send(true);
    }

    /// Reads the next page from the store and publishes it; `true` when a full page came (read
    /// again at once).
    pub async fn read_once(&self) -> Result<bool, StoreError> {
        let after = self.published();
        let page = self.0.store.transitions(after, None, PAGE).await?;
        let mut published = self.lock();
        // Only the running feed publishes; `published` cannot have moved meanwhile.
        for t in page.items.iter() {
            let _ = self.0.sender.send(Arc::new(t.clone()));
        }
        *published = (*published).max(page.last_seq);
        Ok(page.items.len() >= PAGE as usize)
    }

    /// Runs the feed until `stop`: reads on every local commit of a transition (while streams
    /// are open) and at the poll interval.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut signal = self.0.store.signals().transitions();
        loop {
            let more = match self.read_once().await {
                Ok(more) => more,
                Err(e) => {
                    tracing::warn!(error = %Chain(&e), "reading transitions for the event stream failed");
                    false
                }
            };
            if more {
                continue;
            }
            let subscribed = self.0.sender.receiver_count() > 0;
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
}

/// Runs `state`'s feed until `stop` (as `serve` does; a test harness runs it too).
pub async fn run_feed<S>(state: S, stop: watch::Receiver<bool>)
where
    Feed: FromRef<S>,
{
    Feed::from_ref(&state).run(stop).await
}
