//! Webhooks (events.md 1 and 2): registrations, deliveries, test events.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::enums::*;
use super::open_enum::open_enum;
use super::resources::string_or_number;

// ---- Webhooks (events.md 1 and 2) ---------------------------------------------------------------

open_enum! {
    /// An event a webhook registration can ask for (`GET /webhooks/v1/registration/events`).
    WebhookEvent {
        /// Sent by [`Webhooks::send_test_event`](crate::Webhooks::send_test_event).
        TestCreated = "test-created",
        /// A qualification request was recorded (InReview).
        CustomerQualificationCreated = "customer-qualification-created",
        /// A qualification request was decided (Approved or Denied).
        CustomerQualificationUpdated = "customer-qualification-updated",
    }
}

/// The body of a registration (`POST` and `PUT /webhooks/v1/registration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NewWebhookRegistration {
    /// An absolute http(s) URL; deliveries are `POST`ed to it.
    pub webhook_url: String,
    pub webhook_events: Vec<WebhookEvent>,
}

impl NewWebhookRegistration {
    pub fn new(webhook_url: impl Into<String>, webhook_events: Vec<WebhookEvent>) -> Self {
        Self {
            webhook_url: webhook_url.into(),
            webhook_events,
        }
    }
}

/// The partner's webhook registration (one per partner tenant).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebhookRegistration {
    #[serde(default, alias = "subscriberId")]
    pub subscriber_id: String,
    #[serde(default, alias = "webhookUrl")]
    pub webhook_url: String,
    #[serde(default, alias = "webhookEvents")]
    pub webhook_events: Vec<WebhookEvent>,
    /// qualify's addition: the Standard Webhooks secret (`whsec_...`) that signs deliveries;
    /// give it to [`WebhookVerifier::new`](crate::WebhookVerifier::new).
    #[serde(
        default,
        alias = "signingSecret",
        skip_serializing_if = "Option::is_none"
    )]
    pub signing_secret: Option<String>,
    /// qualify's addition: true once the receiver answered 410 Gone; nothing is delivered
    /// until the partner registers again.
    #[serde(
        default,
        alias = "disabled",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub disabled: bool,
    /// Why it was disabled.
    #[serde(
        default,
        alias = "disabledReason",
        skip_serializing_if = "Option::is_none"
    )]
    pub disabled_reason: Option<String>,
}

impl fmt::Debug for WebhookRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookRegistration")
            .field("subscriber_id", &self.subscriber_id)
            .field("webhook_url", &self.webhook_url)
            .field("webhook_events", &self.webhook_events)
            .field(
                "signing_secret",
                &self.signing_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("disabled", &self.disabled)
            .field("disabled_reason", &self.disabled_reason)
            .finish()
    }
}

/// The body of a delivery: what changed, never more than Partner Center's events carry; read
/// `resource_uri` for the current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebhookPayload {
    pub event_name: WebhookEvent,
    #[serde(default)]
    pub resource_uri: String,
    #[serde(default)]
    pub resource_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_uri: Option<String>,
    /// When the change happened, on the partner's (virtual) clock.
    #[serde(default, with = "date", skip_serializing_if = "Option::is_none")]
    pub resource_change_utc_date: Option<OffsetDateTime>,
}

open_enum! {
    /// Where a test event (`validationEvents`) stands.
    WebhookValidationState {
        Pending = "pending",
        Completed = "completed",
        Failed = "failed",
    }
}

/// `GET /webhooks/v1/registration/validationEvents/{correlationId}`: what became of a test event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookValidation {
    #[serde(default)]
    pub correlation_id: String,
    #[serde(default)]
    pub partner_id: String,
    pub status: WebhookValidationState,
    #[serde(default)]
    pub callback_url: String,
    #[serde(default)]
    pub results: Vec<WebhookValidationResult>,
}

/// One attempt at delivering a test event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookValidationResult {
    /// As the REST reference types it: the name of a .NET `HttpStatusCode` (`OK`, `Gone`,
    /// `InternalServerError`) or the number as text; see [`Self::status_code`].
    #[serde(default, deserialize_with = "string_or_number")]
    pub response_code: String,
    #[serde(default)]
    pub response_message: String,
    /// True when the attempt failed on the sender's side (no answer: refused, timed out).
    #[serde(default)]
    pub system_error: bool,
    #[serde(default, with = "date", skip_serializing_if = "Option::is_none")]
    pub date_time_utc: Option<OffsetDateTime>,
}

impl WebhookValidationResult {
    /// The HTTP status of [`response_code`](Self::response_code), when it is a number or a
    /// `HttpStatusCode` name this SDK knows.
    pub fn status_code(&self) -> Option<u16> {
        let code = self.response_code.trim();
        code.parse().ok().or_else(|| {
            HTTP_STATUS_NAMES
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(code))
                .map(|(_, status)| *status)
        })
    }
}

/// .NET's `HttpStatusCode` names of the statuses a receiver answers most.
const HTTP_STATUS_NAMES: &[(&str, u16)] = &[
    ("OK", 200),
    ("Created", 201),
    ("Accepted", 202),
    ("NoContent", 204),
    ("MovedPermanently", 301),
    ("Redirect", 302),
    ("Found", 302),
    ("TemporaryRedirect", 307),
    ("PermanentRedirect", 308),
    ("BadRequest", 400),
    ("Unauthorized", 401),
    ("Forbidden", 403),
    ("NotFound", 404),
    ("MethodNotAllowed", 405),
    ("RequestTimeout", 408),
    ("Conflict", 409),
    ("Gone", 410),
    ("TooManyRequests", 429),
    ("InternalServerError", 500),
    ("NotImplemented", 501),
    ("BadGateway", 502),
    ("ServiceUnavailable", 503),
    ("GatewayTimeout", 504),
];

open_enum! {
    /// Where a webhook delivery stands (operator API).
    DeliveryStatus {
        Pending = "pending",
        Succeeded = "succeeded",
        Dead = "dead",
        /// The registration was deleted or disabled before it succeeded.
        Cancelled = "cancelled",
    }
}

/// One event's delivery to a partner's webhook (`GET /admin/v1/partners/{p}/deliveries`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    /// Sent as `webhook-id`, the same on every attempt.
    #[serde(default, deserialize_with = "string_or_number")]
    pub event_id: String,
    pub event_name: WebhookEvent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualification: Option<Qualification>,
    pub status: DeliveryStatus,
    /// Oldest first.
    #[serde(default)]
    pub attempts: Vec<DeliveryAttempt>,
    /// When the next attempt is due, on the partner's clock (none once it is over).
    #[serde(default, with = "date", skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    #[serde(default, with = "date", skip_serializing_if = "Option::is_none")]
    pub at: Option<OffsetDateTime>,
    /// The receiver's HTTP status; none when there was no answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_code: Option<u16>,
    /// Why there was no answer (refused, timed out, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub duration_ms: u64,
}
