//! Partner Center's webhook registration (`/webhooks/v1`, events.md 1) with a partner token, and
//! the operator's view of deliveries (`/admin/v1/.../deliveries`, events.md 2).
//!
//! Verifying what arrives at the webhook is [`crate::webhook`].

use reqwest::Method;

use crate::Client;
use crate::error::Result;
use crate::http::{Call, Replay};
use crate::models::{
    Delivery, DeliveryStatus, NewWebhookRegistration, WebhookEvent, WebhookRegistration,
    WebhookValidation,
};
use crate::ops::admin::{Admin, AdminPartner};

const REGISTRATION: [&str; 3] = ["webhooks", "v1", "registration"];

/// `client.webhooks()`: the calling partner's registration.
#[derive(Debug, Clone, Copy)]
pub struct Webhooks<'a> {
    client: &'a Client,
}

impl<'a> Webhooks<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    fn segments<'s>(rest: &[&'s str]) -> Vec<&'s str> {
        let mut segments = REGISTRATION.to_vec();
        segments.extend_from_slice(rest);
        segments
    }

    /// `GET /webhooks/v1/registration/events`: the events a registration can ask for.
    pub async fn events(&self) -> Result<Vec<WebhookEvent>> {
        self.client
            .send(Call::get(&Self::segments(&["events"])))
            .await
    }

    /// `POST /webhooks/v1/registration`: registers the webhook, replacing the partner's
    /// registration if there is one (with a new `SubscriberId` and `SigningSecret`). An unknown
    /// event or a URL that is not absolute http(s) is a
    /// [`BadInput`](crate::ErrorCategory::BadInput) error.
    ///
    /// Retried like a read: a second attempt leaves one registration, the one answered.
    pub async fn register(
        &self,
        registration: &NewWebhookRegistration,
    ) -> Result<WebhookRegistration> {
        let call = Call::new(Method::POST, &REGISTRATION).json(registration)?;
        self.client.send(call).await
    }

    /// `GET /webhooks/v1/registration`, with its `SigningSecret`; a
    /// [`NotFound`](crate::ErrorCategory::NotFound) error (code 1000) when there is none.
    pub async fn get(&self) -> Result<WebhookRegistration> {
        self.client.send(Call::get(&REGISTRATION)).await
    }

    /// `PUT /webhooks/v1/registration`: changes the URL or the events (pending deliveries go to
    /// the new URL). With `rotate_secret` the answer carries a new `SigningSecret`, and for 24
    /// hours deliveries are signed with both (so receivers can switch without losing one).
    ///
    /// A rotation is not retried after it may have reached the server: a second one would
    /// replace the secret your receiver still uses.
    pub async fn update(
        &self,
        registration: &NewWebhookRegistration,
        rotate_secret: bool,
    ) -> Result<WebhookRegistration> {
        let mut body = serde_json::to_value(registration).unwrap_or_default();
        let mut call = Call::new(Method::PUT, &REGISTRATION);
        if rotate_secret {
            body["RotateSecret"] = true.into();
            call = call.replay(Replay::OnlyUnprocessed);
        }
        self.client.send(call.json(&body)?).await
    }

    /// `DELETE /webhooks/v1/registration`: no more deliveries; pending ones are cancelled.
    pub async fn delete(&self) -> Result<()> {
        let call = Call::new(Method::DELETE, &REGISTRATION);
        self.client.send_empty(call).await
    }

    /// `POST /webhooks/v1/registration/validationEvents`: sends a `test-created` event to the
    /// webhook; returns its correlation id, for [`validation_status`](Self::validation_status).
    /// At most 2 a minute per partner: a [`Throttled`](crate::ErrorCategory::Throttled) error
    /// after that (the SDK waits out a `Retry-After` up to its policy's `max_retry_after`).
    ///
    /// Not retried after it may have reached the server (it would send a second event).
    pub async fn send_test_event(&self) -> Result<String> {
        let call = Call::new(Method::POST, &Self::segments(&["validationEvents"]))
            .replay(Replay::OnlyUnprocessed);
        self.client.send(call).await
    }

    /// `GET /webhooks/v1/registration/validationEvents/{correlationId}`: what became of a test
    /// event (pending until its delivery succeeded or gave up).
    pub async fn validation_status(&self, correlation_id: &str) -> Result<WebhookValidation> {
        let call = Call::get(&Self::segments(&["validationEvents", correlation_id]));
        self.client.send(call).await
    }

    /// `GET /webhooks/v1/certificate`: the X.509 certificate (PEM) whose RSA key signs
    /// deliveries (`Authorization: Signature ...`), for
    /// [`verify_webhook_rsa`](crate::verify_webhook_rsa). Needs no token.
    pub async fn certificate(&self) -> Result<String> {
        let call = Call::get(&["webhooks", "v1", "certificate"])
            .header("Accept", "application/x-pem-file, text/plain");
        self.client.send_text(call).await
    }
}

impl AdminPartner<'_> {
    /// `GET /admin/v1/partners/{p}/deliveries[?status=]`: the partner's deliveries, oldest
    /// first; all of them, or those in `status` (`pending`, `succeeded` or `dead`).
    pub async fn deliveries(&self, status: Option<DeliveryStatus>) -> Result<Vec<Delivery>> {
        let mut call = Call::get(&["admin", "v1", "partners", self.id(), "deliveries"]);
        if let Some(status) = status {
            call = call.query("status", status.as_str());
        }
        self.client().send(call).await
    }
}

impl Admin<'_> {
    /// `POST /admin/v1/deliveries/{id}/redeliver`: one more attempt of a delivery, now, with the
    /// same `webhook-id`; answers the delivery (a [`NotFound`](crate::ErrorCategory::NotFound)
    /// error for an unknown id).
    ///
    /// Not retried after it may have reached the server (it would attempt twice).
    pub async fn redeliver(&self, delivery_id: &str) -> Result<Delivery> {
        let call = Call::new(
            Method::POST,
            &["admin", "v1", "deliveries", delivery_id, "redeliver"],
        )
        .replay(Replay::OnlyUnprocessed);
        self.client().send(call).await
    }
}
