//! The one outbound HTTP client of webhook deliveries: no redirects, no proxies, bounded
//! connections, a timeout, and the SSRF rule checked after DNS resolution, on the addresses it
//! then connects to ([`super::targets`]). One attempt is [`Sender::send`]; what an answer means
//! is [`qualify_core::webhooks::judge`].

use std::sync::Arc;
use std::time::Duration;

use qualify_core::webhooks::{Answer, Event, Registration};
use tokio::sync::{OnceCell, Semaphore};

use super::message::{body, hmac_signature};
use super::signing::{Signer, generate_key};
use super::targets::{Guarded, Resolver, check_target, refusal_in};
use crate::chain::Chain;

/// The certificate's path (served without a token).
pub const CERTIFICATE_PATH: &str = "/webhooks/v1/certificate";
/// Deliveries in flight at once, per instance.
const MAX_IN_FLIGHT: usize = 32;

/// What sending needs: the client, the key, the public base URL.
pub struct Sender {
    client: reqwest::Client,
    resolver: Arc<dyn Resolver>,
    allow_private: bool,
    signer: OnceCell<Signer>,
    in_flight: Semaphore,
    base_url: std::sync::OnceLock<String>,
}

impl Sender {
    pub fn new(
        resolver: Arc<dyn Resolver>,
        allow_private: bool,
        timeout: Duration,
        public_url: Option<String>,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(MAX_IN_FLIGHT)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("qualify-webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(Guarded {
                inner: resolver.clone(),
                allow_private,
            }))
            .build()
            .map_err(|e| format!("building the webhook HTTP client: {e}"))?;
        let base_url = std::sync::OnceLock::new();
        if let Some(url) = public_url {
            let _ = base_url.set(url.trim_end_matches('/').to_owned());
        }
        Ok(Self {
            client,
            resolver,
            allow_private,
            signer: OnceCell::new(),
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
            base_url,
        })
    }

    /// Whether targets on private networks are allowed (dev auth, or the operator's flag).
    pub fn allow_private(&self) -> bool {
        self.allow_private
    }

    pub fn resolver(&self) -> &dyn Resolver {
        self.resolver.as_ref()
    }

    /// Sets `{base}` from the listening address when `--public-url` did not (the first call
    /// wins).
    pub fn set_default_base(&self, base: String) {
        let _ = self.base_url.set(base);
    }

    pub fn base_url(&self) -> &str {
        self.base_url
            .get()
            .map_or("http://localhost", String::as_str)
    }

    /// The signing key: loaded once, generated and stored if the database has none.
    pub async fn signer(&self, store: &dyn qualify_store::Store) -> Result<&Signer, String> {
        self.signer
            .get_or_try_init(|| async {
                let stored = match store.signing_key(None).await.map_err(|e| e.to_string())? {
                    Some(k) => k,
                    None => {
                        let fresh = tokio::task::spawn_blocking(generate_key)
                            .await
                            .map_err(|e| e.to_string())??;
                        store
                            .signing_key(Some(fresh))
                            .await
                            .map_err(|e| e.to_string())?
                            .ok_or("the signing key was not stored")?
                    }
                };
                Signer::from_stored(&stored)
            })
            .await
    }

    /// One attempt: POST the signed body to the registration's URL.
    pub async fn send(
        &self,
        store: &dyn qualify_store::Store,
        registration: &Registration,
        event: &Event,
        wall: time::OffsetDateTime,
    ) -> Answer {
        if let Err(e) = check_target(&registration.url, self.allow_private, self.resolver()).await {
            return Answer::Refused(e);
        }
        let signer = match self.signer(store).await {
            Ok(s) => s,
            Err(e) => return Answer::Failed(e),
        };
        let _permit = self.in_flight.acquire().await;
        let body = body(event, self.base_url());
        let timestamp = wall.unix_timestamp();
        let hmac = registration
            .signing_secrets(wall)
            .into_iter()
            .map(|s| hmac_signature(s, &event.event_id, timestamp, &body))
            .collect::<Vec<_>>()
            .join(" ");
        let request = self
            .client
            .post(&registration.url)
            .header("content-type", "application/json")
            .header("authorization", format!("Signature {}", signer.sign(&body)))
            .header(
                "x-ms-certificate-url",
                format!("{}{CERTIFICATE_PATH}", self.base_url()),
            )
            .header("x-ms-signature-algorithm", "rsa-sha256")
            .header("webhook-id", &event.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", hmac)
            .body(body);
        match request.send().await {
            Ok(response) => Answer::Status {
                code: response.status().as_u16(),
                retry_after: response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs),
            },
            Err(e) if e.is_timeout() => Answer::Timeout,
            Err(e) => match refusal_in(&e) {
                Some(refusal) => Answer::Refused(refusal),
                None => Answer::Failed(Chain(&e).to_string()),
            },
        }
    }
}
