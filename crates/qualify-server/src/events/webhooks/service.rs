//! The webhooks' service (events.md 1-2): a partner's registration, its validation events, the
//! signing certificate, and the operator's view of deliveries. Deliveries themselves are jobs
//! ([`super::delivery`]).

use std::sync::Arc;

use qualify_core::jobs::NewJob;
use qualify_core::webhooks::{Event, EventName, ROTATION_OVERLAP, Registration, WebhookDelivery};
use qualify_core::{DomainError, ErrorKind, PartnerId};
use qualify_store::{Delivery, DeliveryRef, DeliveryStatus, Store};

use super::message::new_secret;
use super::sender::Sender;
use super::signing::Signer;
use super::targets::check_target;
use super::wire::RegistrationIn;
use crate::clock::Time;
use crate::http::error::{ApiError, ApiResult};
use crate::http::params::no_delivery;
use crate::http::throttle::Throttle;

#[derive(Clone)]
pub struct Webhooks(Arc<Inner>);

struct Inner {
    store: Arc<dyn Store>,
    time: Time,
    sender: Arc<Sender>,
    /// `test-created` events: 2 per minute per partner, as in Partner Center.
    test_events: Throttle,
}

fn no_registration() -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        "The partner has no webhook registration.",
    )
}

impl Webhooks {
    pub fn new(store: Arc<dyn Store>, time: Time, sender: Arc<Sender>) -> Self {
        Self(Arc::new(Inner {
            store,
            time,
            sender,
            test_events: Throttle::per_minute(2),
        }))
    }

    fn store(&self) -> &dyn Store {
        self.0.store.as_ref()
    }

    /// The registration a POST or PUT asks for, after the URL passed the SSRF rule.
    async fn requested(&self, body: &RegistrationIn) -> ApiResult<(String, Vec<EventName>)> {
        let (url, events) = body.validate()?;
        let sender = &self.0.sender;
        check_target(&url, sender.allow_private(), sender.resolver())
            .await
            .map_err(|e| DomainError::invalid(format!("WebhookUrl is refused: {e}.")))?;
        Ok((url, events))
    }

    /// Creates the partner's registration, or replaces the one there is: a new subscriber id
    /// and secret.
    pub async fn register(
        &self,
        partner: PartnerId,
        body: &RegistrationIn,
    ) -> ApiResult<Registration> {
        let (url, events) = self.requested(body).await?;
        let registration = Registration {
            partner_id: partner,
            subscriber_id: uuid::Uuid::new_v4().to_string(),
            url,
            events,
            secret: new_secret(),
            previous_secret: None,
            disabled: None,
        };
        self.store()
            .put_webhook_registration(&registration, self.0.time.wall())
            .await?;
        tracing::info!(%partner, subscriber = %registration.subscriber_id, "webhook registered");
        Ok(registration)
    }

    /// Changes the URL or events (pending deliveries go to the new URL), rotating the secret
    /// when asked; a disabled registration is enabled again.
    pub async fn update(
        &self,
        partner: PartnerId,
        body: &RegistrationIn,
    ) -> ApiResult<Registration> {
        let (url, events) = self.requested(body).await?;
        let current = self.registration(partner).await?;
        let wall = self.0.time.wall();
        let rotate = body.rotatesecret == Some(true);
        let (secret, previous_secret) = if rotate {
            (
                new_secret(),
                Some((current.secret.clone(), wall + ROTATION_OVERLAP)),
            )
        } else {
            (current.secret.clone(), current.previous_secret.clone())
        };
        let registration = Registration {
            url,
            events,
            secret,
            previous_secret,
            disabled: None,
            ..current
        };
        self.store()
            .put_webhook_registration(&registration, wall)
            .await?;
        tracing::info!(%partner, rotated = rotate, "webhook registration updated");
        Ok(registration)
    }

    /// The partner's registration (404 when it has none).
    pub async fn registration(&self, partner: PartnerId) -> ApiResult<Registration> {
        self.store()
            .webhook_registration(partner)
            .await?
            .ok_or_else(no_registration)
    }

    /// Removes the registration; pending deliveries are cancelled.
    pub async fn delete(&self, partner: PartnerId) -> ApiResult<()> {
        let now = self.0.time.domain_now(self.store(), partner).await?;
        let removed = self
            .store()
            .delete_webhook_registration(partner, now)
            .await?;
        tracing::info!(%partner, removed, "webhook registration deleted");
        Ok(())
    }

    /// Sends a `test-created` event (2 per minute per partner); returns its correlation id.
    pub async fn create_validation_event(&self, partner: PartnerId) -> ApiResult<String> {
        self.registration(partner).await?;
        self.0.test_events.check(partner)?;
        let now = self.0.time.domain_now(self.store(), partner).await?;
        let event = Event::test(partner, now);
        self.store()
            .enqueue_job(NewJob::of::<WebhookDelivery>(partner, &event, now), None)
            .await?;
        Ok(event.event_id)
    }

    /// A validation event's delivery and the registration's URL.
    pub async fn validation_event(
        &self,
        partner: PartnerId,
        correlation_id: &str,
    ) -> ApiResult<(Delivery, String)> {
        let delivery = self
            .store()
            .delivery(DeliveryRef::Event(partner, correlation_id))
            .await?
            .filter(|d| d.event.event_name == EventName::TestCreated)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorKind::NotFound,
                    "No validation event has this correlation id.",
                )
            })?;
        let callback = self
            .store()
            .webhook_registration(partner)
            .await?
            .map(|r| r.url)
            .unwrap_or_default();
        Ok((delivery, callback))
    }

    /// The signing key (generated and stored once).
    pub async fn signer(&self) -> ApiResult<&Signer> {
        self.0
            .sender
            .signer(self.store())
            .await
            .map_err(|e| ApiError::new(ErrorKind::Unavailable, e))
    }

    pub async fn deliveries(
        &self,
        partner: PartnerId,
        status: Option<DeliveryStatus>,
    ) -> ApiResult<Vec<Delivery>> {
        Ok(self.store().deliveries(partner, status).await?)
    }

    /// Makes a delivery pending again, due now by its partner's clock (same `webhook-id`).
    pub async fn redeliver(&self, id: i64) -> ApiResult<Delivery> {
        let found = self
            .store()
            .delivery(DeliveryRef::Id(id))
            .await?
            .ok_or_else(|| no_delivery(id))?;
        let now = self
            .0
            .time
            .domain_now(self.store(), found.event.partner_id)
            .await?;
        let again = self
            .store()
            .redeliver(id, now)
            .await?
            .ok_or_else(|| no_delivery(id))?;
        Ok(again)
    }
}
