//! The event stream of every transition (`GET /admin/v1/events`, Server-Sent Events), with
//! resume: a stream that [`follows`](Events::follow) reconnects after a broken connection or a
//! server restart with `Last-Event-ID` set to the last seq it received, so nothing is skipped.

use std::time::Duration;

use reqwest::Url;

use crate::Client;
use crate::error::{Error, ErrorCategory, Result};
use crate::http::Call;
use crate::models::TransitionEvent;

/// `client.admin().events()`.
#[derive(Debug, Clone)]
pub struct Events<'a> {
    client: &'a Client,
    partner: Option<String>,
    after: Option<i64>,
}

/// What a stream yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    Transition(TransitionEvent),
    /// Every transition missed (after the `Last-Event-ID` sent) has been sent; live ones follow.
    CaughtUp,
}

impl<'a> Events<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self {
            client,
            partner: None,
            after: None,
        }
    }

    /// Only this partner's transitions.
    pub fn partner(mut self, partner_id: impl std::fmt::Display) -> Self {
        self.partner = Some(partner_id.to_string());
        self
    }

    /// Start with every transition after this seq (`Last-Event-ID`; 0 for all); without it the
    /// stream starts with the live ones.
    pub fn after(mut self, seq: i64) -> Self {
        self.after = Some(seq);
        self
    }

    /// One connection: the stream ends when the server ends it.
    pub async fn open(&self) -> Result<EventStream> {
        self.stream(false).await
    }

    /// A stream that reconnects (with the last seq received) whenever the connection ends.
    pub async fn follow(&self) -> Result<EventStream> {
        self.stream(true).await
    }

    async fn stream(&self, reconnect: bool) -> Result<EventStream> {
        let mut call = Call::get(&["admin", "v1", "events"]);
        if let Some(p) = &self.partner {
            call = call.query("partner", p.clone());
        }
        let url = self.client.url(&call)?;
        let mut stream = EventStream {
            client: self.client.clone(),
            url,
            last_event_id: self.after,
            response: None,
            buffer: String::new(),
            reconnect,
            failures: 0,
        };
        stream.connect().await?;
        Ok(stream)
    }
}

/// An open event stream; [`EventStream::next`] yields what arrives.
pub struct EventStream {
    client: Client,
    url: Url,
    last_event_id: Option<i64>,
    response: Option<reqwest::Response>,
    buffer: String,
    reconnect: bool,
    failures: u32,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("url", &self.url.as_str())
            .field("last_event_id", &self.last_event_id)
            .finish()
    }
}

impl EventStream {
    /// The seq of the last transition received (what a reconnect sends as `Last-Event-ID`).
    pub fn last_event_id(&self) -> Option<i64> {
        self.last_event_id
    }

    async fn connect(&mut self) -> Result<()> {
        let inner = &*self.client.inner;
        let token = inner.token.token().await.map_err(|e| {
            Error::new(
                ErrorCategory::Credentials,
                format!("the token provider failed: {e}"),
            )
        })?;
        // No overall timeout: the stream stays open (the connect timeout still applies).
        let mut req = inner
            .http
            .get(self.url.clone())
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .header("MS-SdkVersion", crate::SDK_VERSION);
        if let Some(id) = self.last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let resp = req.send().await.map_err(|e| {
            Error::new(
                ErrorCategory::Transport,
                format!(
                    "opening the event stream at {}: {e}",
                    self.url.origin().ascii_serialization()
                ),
            )
            .with_source(e)
        })?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let body = resp.text().await.unwrap_or_default();
            return Err(Error::from_response(status, &body));
        }
        self.buffer.clear();
        self.response = Some(resp);
        Ok(())
    }

    /// The next transition or marker; `None` when the stream ended (only without `follow`). An
    /// error of a following stream is returned once it gave up reconnecting (the API refused,
    /// e.g. a revoked token).
    pub async fn next(&mut self) -> Option<Result<StreamItem>> {
        loop {
            if let Some(item) = self.take_block() {
                match item {
                    Some(item) => return Some(Ok(item)),
                    None => continue,
                }
            }
            let chunk = match self.response.as_mut() {
                Some(r) => r.chunk().await,
                None => Ok(None),
            };
            match chunk {
                Ok(Some(bytes)) => {
                    self.failures = 0;
                    self.buffer.push_str(&String::from_utf8_lossy(&bytes));
                }
                // The server ended the stream, or the connection broke.
                Ok(None) | Err(_) => {
                    self.response = None;
                    if !self.reconnect {
                        return None;
                    }
                    loop {
                        let wait = Duration::from_millis(250 * 2u64.pow(self.failures.min(5)));
                        tokio::time::sleep(wait).await;
                        match self.connect().await {
                            Ok(()) => break,
                            Err(e)
                                if e.category() == ErrorCategory::Transport
                                    || e.status().is_some_and(|s| s >= 500) =>
                            {
                                self.failures += 1;
                            }
                            Err(e) => return Some(Err(e)),
                        }
                    }
                }
            }
        }
    }

    /// The next complete block from the buffer: `Some(Some(item))` an item, `Some(None)` a block
    /// that yields nothing (keep-alive comments, unknown events), `None` no complete block yet.
    fn take_block(&mut self) -> Option<Option<StreamItem>> {
        let normalized = self.buffer.replace("\r\n", "\n");
        if normalized.len() != self.buffer.len() {
            self.buffer = normalized;
        }
        let at = self.buffer.find("\n\n")?;
        let block: String = self.buffer.drain(..at + 2).collect();
        let (mut id, mut event, mut data, mut comment) = (None, None, String::new(), None);
        for line in block.lines() {
            if let Some(c) = line.strip_prefix(':') {
                comment = Some(c.trim().to_owned());
                continue;
            }
            let (key, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match key {
                "id" => id = value.parse::<i64>().ok(),
                "event" => event = Some(value.to_owned()),
                "data" => {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(value);
                }
                _ => {}
            }
        }
        if comment.as_deref() == Some("live") && event.is_none() && data.is_empty() {
            return Some(Some(StreamItem::CaughtUp));
        }
        if let Some(id) = id {
            self.last_event_id = Some(id);
        }
        if event.as_deref() != Some("qualification") {
            return Some(None);
        }
        Some(
            serde_json::from_str::<TransitionEvent>(&data)
                .ok()
                .map(StreamItem::Transition),
        )
    }
}
