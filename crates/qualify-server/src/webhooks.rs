//! Sending webhooks (events.md 2): the delivery job's handler, the body, both signatures, and
//! the one outbound HTTP client (no redirects, no proxies, bounded connections, a timeout, and
//! the SSRF rule checked after DNS resolution, on the addresses it then connects to). What an
//! answer means is [`qualify_core::webhooks::judge`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures::future::BoxFuture;
use hmac::{Hmac, Mac};
use qualify_core::jobs::{Job, JobFinish};
use qualify_core::time_fmt;
use qualify_core::webhooks::{
    Answer, Event, EventName, Registration, Verdict, forbidden_address, judge,
};
use qualify_store::{Attempt, SigningKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::{OnceCell, Semaphore};

use crate::AppState;
use crate::worker::{JobError, JobHandler};

/// The certificate's path (served without a token).
pub const CERTIFICATE_PATH: &str = "/webhooks/v1/certificate";
/// Deliveries in flight at once, per instance.
const MAX_IN_FLIGHT: usize = 32;

// ---- targets --------------------------------------------------------------------------------

/// Resolves host names for deliveries (the system resolver; tests inject their own).
pub trait Resolver: Send + Sync + 'static {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>>;
}

pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// Why a target URL is refused: not an absolute http(s) URL, or (unless private targets are
/// allowed) a host that is or resolves to a forbidden address.
pub async fn check_target(
    url: &str,
    allow_private: bool,
    resolver: &dyn Resolver,
) -> Result<(), String> {
    let parsed = parse_url(url)?;
    if allow_private {
        return Ok(());
    }
    match parsed.host() {
        Some(url::Host::Domain(name)) => {
            let found = resolver
                .lookup(name.to_owned())
                .await
                .map_err(|e| format!("the host {name} does not resolve: {e}"))?;
            judge_addresses(&found).map_err(|e| format!("the host {name} {e}"))
        }
        _ => check_literal(&parsed),
    }
}

/// The SSRF rule for a URL whose host is an IP literal (which the client connects to without
/// asking its resolver); names are judged by [`Guarded`] on the addresses it connects to.
fn check_literal(url: &url::Url) -> Result<(), String> {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => judge_addresses(&[IpAddr::V4(ip)]),
        Some(url::Host::Ipv6(ip)) => judge_addresses(&[IpAddr::V6(ip)]),
        Some(url::Host::Domain(_)) => Ok(()),
        None => Err("the URL has no host".into()),
    }
}

/// A refusal by the SSRF rule inside the client's resolver, found again in its error chain.
#[derive(Debug)]
struct Refusal(String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

/// An absolute http(s) URL with a host.
pub fn parse_url(url: &str) -> Result<url::Url, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not an absolute URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "the scheme must be http or https, not {}",
            parsed.scheme()
        ));
    }
    if parsed.host().is_none() {
        return Err("the URL has no host".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("the URL must not carry credentials".into());
    }
    Ok(parsed)
}

fn judge_addresses(found: &[IpAddr]) -> Result<(), String> {
    if found.is_empty() {
        return Err("resolves to no address".into());
    }
    for ip in found {
        if let Some(why) = forbidden_address(*ip) {
            return Err(format!("is {why} ({ip}); webhooks may not target it"));
        }
    }
    Ok(())
}

/// The HTTP client's resolver: the injected one, with the SSRF rule applied to what it returns
/// (so the connection goes only to addresses that were checked).
struct Guarded {
    inner: Arc<dyn Resolver>,
    allow_private: bool,
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lookup = self.inner.lookup(name.as_str().to_owned());
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = lookup.await?;
            if !allow_private && let Err(e) = judge_addresses(&found) {
                let refusal: Box<dyn std::error::Error + Send + Sync> =
                    Box::new(Refusal(format!("the host {host} {e}")));
                return Err(refusal);
            }
            let addrs: reqwest::dns::Addrs =
                Box::new(found.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

// ---- signing --------------------------------------------------------------------------------

/// The key that signs every delivery (Partner Center's `Authorization: Signature`), loaded from
/// the store or generated once and stored there, so every instance signs alike.
/// Signing runs on `ring` (the private-key operation is the costliest part of a delivery; `rsa`
/// only generates the key and builds the certificate, once).
pub struct Signer {
    key: ring::rsa::KeyPair,
    rng: ring::rand::SystemRandom,
    pub certificate: String,
}

impl Signer {
    pub fn sign(&self, body: &[u8]) -> String {
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &self.rng,
                body,
                &mut signature,
            )
            .expect("signing with a valid RSA key");
        B64.encode(signature)
    }

    fn from_stored(k: &SigningKey) -> Result<Self, String> {
        let unreadable = |e: &dyn std::fmt::Display| {
            format!("the stored webhook signing key is unreadable: {e}")
        };
        let der = rsa::RsaPrivateKey::from_pkcs8_pem(&k.private_key)
            .and_then(|key| key.to_pkcs8_der())
            .map_err(|e| unreadable(&e))?;
        let key = ring::rsa::KeyPair::from_pkcs8(der.as_bytes()).map_err(|e| unreadable(&e))?;
        Ok(Self {
            key,
            rng: ring::rand::SystemRandom::new(),
            certificate: k.certificate.clone(),
        })
    }
}

/// A new RSA-2048 key and its self-signed certificate (valid 20 years).
pub fn generate_key() -> Result<SigningKey, String> {
    use std::str::FromStr;
    use x509_cert::builder::{Builder, CertificateBuilder, Profile};
    use x509_cert::der::EncodePem;
    use x509_cert::name::Name;
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::spki::SubjectPublicKeyInfoOwned;
    use x509_cert::time::Validity;

    let fail = |e: &dyn std::fmt::Display| format!("generating the webhook signing key: {e}");
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).map_err(|e| fail(&e))?;
    let signing = rsa::pkcs1v15::SigningKey::<Sha256>::new(key.clone());
    let spki = SubjectPublicKeyInfoOwned::from_key(key.to_public_key()).map_err(|e| fail(&e))?;
    let subject = Name::from_str("CN=qualify webhook signing,O=qualify").map_err(|e| fail(&e))?;
    let serial: [u8; 16] = rand::random();
    let mut serial = serial;
    serial[0] &= 0x7f;
    let validity =
        Validity::from_now(Duration::from_secs(20 * 365 * 86400)).map_err(|e| fail(&e))?;
    let builder = CertificateBuilder::new(
        Profile::Root,
        SerialNumber::new(&serial).map_err(|e| fail(&e))?,
        validity,
        subject,
        spki,
        &signing,
    )
    .map_err(|e| fail(&e))?;
    let cert = builder
        .build::<rsa::pkcs1v15::Signature>()
        .map_err(|e| fail(&e))?;
    Ok(SigningKey {
        private_key: key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| fail(&e))?
            .to_string(),
        certificate: cert.to_pem(LineEnding::LF).map_err(|e| fail(&e))?,
    })
}

/// A new `SigningSecret`: `whsec_` and the base64 of 32 random bytes.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", B64.encode(bytes))
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` under `secret`'s key.
pub fn hmac_signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|k| B64.decode(k).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

// ---- the body -------------------------------------------------------------------------------

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Body<'a> {
    event_name: &'a str,
    resource_uri: String,
    resource_name: &'a str,
    audit_uri: Option<String>,
    resource_change_utc_date: String,
}

/// The bytes an event is delivered as, for the public base URL `base`.
pub fn body(event: &Event, base: &str) -> Vec<u8> {
    let base = base.trim_end_matches('/');
    let body = match (event.event_name, event.customer_id, event.qualification) {
        (EventName::QualificationCreated | EventName::QualificationUpdated, Some(c), Some(q)) => {
            Body {
                event_name: event.event_name.name(),
                resource_uri: format!("{base}/v1/customers/{c}/qualifications"),
                resource_name: "CustomerQualification",
                audit_uri: Some(format!(
                    "{base}/admin/v1/customers/{c}/qualifications/{}/history",
                    q.name()
                )),
                resource_change_utc_date: time_fmt::wire_millis(event.changed_at),
            }
        }
        _ => Body {
            event_name: event.event_name.name(),
            resource_uri: format!(
                "{base}/webhooks/v1/registration/validationEvents/{}",
                event.event_id
            ),
            resource_name: "test",
            audit_uri: None,
            resource_change_utc_date: time_fmt::wire_millis(event.changed_at),
        },
    };
    serde_json::to_vec(&body).expect("the event body serialises")
}

// ---- delivering -----------------------------------------------------------------------------

/// What sending needs: the client, the key, the public base URL.
pub struct Webhooks {
    client: reqwest::Client,
    resolver: Arc<dyn Resolver>,
    allow_private: bool,
    signer: OnceCell<Signer>,
    in_flight: Semaphore,
    base_url: std::sync::OnceLock<String>,
}

impl Webhooks {
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
    async fn send(
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
                None => Answer::Failed(error_chain(&e)),
            },
        }
    }
}

/// The SSRF refusal that made a request fail, if one did.
fn refusal_in(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(r) = c.downcast_ref::<Refusal>() {
            return Some(r.0.clone());
        }
        cause = c.source();
    }
    None
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The delivery job (kind [`qualify_core::webhooks::DELIVERY_JOB`]): one attempt per run, to
/// the registration's URL at the time of the attempt; the verdict and the attempt are stored in
/// one transaction.
pub struct Delivery;

#[async_trait]
impl JobHandler for Delivery {
    fn ordered(&self) -> bool {
        true
    }

    async fn run(
        &self,
        state: &AppState,
        job: &Job,
        owner: &str,
        now: time::OffsetDateTime,
    ) -> Result<JobFinish, JobError> {
        let event: Event = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError(format!("unreadable webhook event: {e}")))?;
        let registration = match state.store.webhook_registration(job.partner).await? {
            None => return cancel(state, job, owner, now, "no registration").await,
            Some(r) if r.disabled.is_some() => {
                return cancel(state, job, owner, now, "registration disabled").await;
            }
            Some(r) if !r.wants(event.event_name) => {
                return cancel(state, job, owner, now, "event not registered").await;
            }
            Some(r) => r,
        };
        let started = Instant::now();
        let answer = state
            .webhooks
            .send(
                state.store.as_ref(),
                &registration,
                &event,
                state.time.wall(),
            )
            .await;
        let attempt = Attempt {
            at: now,
            response_code: answer.code(),
            error: answer.error(),
            duration_ms: started.elapsed().as_millis() as u64,
        };
        let verdict = judge(job.attempts, now, &answer);
        tracing::info!(
            job = job.id,
            partner = %job.partner,
            event = %event.event_name,
            attempt = job.attempts,
            code = ?attempt.response_code,
            error = attempt.error.as_deref().unwrap_or(""),
            "webhook attempt"
        );
        if !state
            .store
            .finish_attempt(job, owner, &attempt, verdict)
            .await?
        {
            return Ok(JobFinish::LeaseLost);
        }
        record_attempt(&answer, verdict);
        Ok(verdict.finish())
    }
}

/// Ends a delivery that has nowhere to go any more: outcome `cancelled` (the reason is logged).
async fn cancel(
    state: &AppState,
    job: &Job,
    owner: &str,
    now: time::OffsetDateTime,
    why: &str,
) -> Result<JobFinish, JobError> {
    let finish = JobFinish::Ended(qualify_core::jobs::JobOutcome::Cancelled);
    if !state.store.complete_job(job, owner, now, &finish).await? {
        return Ok(JobFinish::LeaseLost);
    }
    tracing::info!(job = job.id, partner = %job.partner, reason = why, "webhook delivery cancelled");
    Ok(finish)
}

/// An attempt and, when it ended the delivery `dead`, that too, in the metrics.
fn record_attempt(answer: &Answer, verdict: Verdict) {
    use crate::metrics::{WebhookResult, webhook_attempt, webhook_dead};
    webhook_attempt(match (answer, verdict) {
        (_, Verdict::Succeeded) => WebhookResult::Succeeded,
        (_, Verdict::Disable) => WebhookResult::Disabled,
        (Answer::Timeout, _) => WebhookResult::Timeout,
        (Answer::Refused(_), _) => WebhookResult::Refused,
        _ => WebhookResult::Failed,
    });
    if matches!(verdict, Verdict::Dead | Verdict::Disable) {
        webhook_dead();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hmac_signature_matches_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            hmac_signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_whsec_and_32_random_bytes() {
        let s = new_secret();
        let key = B64.decode(s.strip_prefix("whsec_").unwrap()).unwrap();
        assert_eq!(key.len(), 32);
        assert_ne!(s, new_secret());
    }

    #[test]
    fn urls_must_be_absolute_http_without_credentials() {
        assert!(parse_url("https://example.com/hook").is_ok());
        assert!(parse_url("http://127.0.0.1:8080/").is_ok());
        for bad in [
            "/hook",
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "example.com",
            "",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    struct Fixed(Vec<IpAddr>);
    impl Resolver for Fixed {
        fn lookup(&self, _: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
            let found = self.0.clone();
            Box::pin(async move { Ok(found) })
        }
    }

    #[tokio::test]
    async fn targets_are_checked_after_resolution() {
        let loopback = Fixed(vec!["127.0.0.1".parse().unwrap()]);
        let public = Fixed(vec!["93.184.215.14".parse().unwrap()]);
        let e = check_target("https://hooks.example.com/x", false, &loopback)
            .await
            .unwrap_err();
        assert!(e.contains("loopback"), "{e}");
        assert!(
            check_target("https://hooks.example.com/x", false, &public)
                .await
                .is_ok()
        );
        assert!(
            check_target("https://hooks.example.com/x", true, &loopback)
                .await
                .is_ok()
        );
        for literal in [
            "http://[::ffff:127.0.0.1]/",
            "http://169.254.169.254/latest",
            "http://10.0.0.1/",
        ] {
            assert!(
                check_target(literal, false, &public).await.is_err(),
                "{literal}"
            );
        }
    }
}
