//! The wire types of webhooks (events.md 1-2): Partner Center's registration shapes, the
//! validation event's status, and the operator's view of deliveries.

use qualify_core::DomainError;
use qualify_core::time_fmt::wire;
use qualify_core::webhooks::{EventName, Registration};
use qualify_store::{Attempt, Delivery, DeliveryStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::targets::parse_url;

/// `POST` and `PUT /webhooks/v1/registration` (keys case-insensitive).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = WebhookRegistrationRequest)]
pub struct RegistrationIn {
    /// An absolute http(s) URL.
    #[schema(rename = "WebhookUrl", required = true, nullable = false)]
    pub webhookurl: Option<String>,
    /// Event names from `GET /webhooks/v1/registration/events` (at least one).
    #[schema(rename = "WebhookEvents", required = true, nullable = false)]
    pub webhookevents: Option<Vec<String>>,
    /// `PUT` only: a new `SigningSecret`; the old one keeps signing for 24 hours.
    #[schema(rename = "RotateSecret", nullable = false)]
    pub rotatesecret: Option<bool>,
}

impl RegistrationIn {
    /// The URL (not yet checked against the SSRF rule) and the events, deduplicated.
    pub fn validate(&self) -> Result<(String, Vec<EventName>), DomainError> {
        let url = self
            .webhookurl
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| DomainError::invalid("WebhookUrl is required."))?;
        if url.len() > 2048 {
            return Err(DomainError::invalid(
                "WebhookUrl is longer than 2048 characters.",
            ));
        }
        parse_url(url)
            .map_err(|e| DomainError::invalid(format!("WebhookUrl is not valid: {e}.")))?;
        let names = self
            .webhookevents
            .as_deref()
            .filter(|e| !e.is_empty())
            .ok_or_else(|| DomainError::invalid("WebhookEvents must name at least one event."))?;
        let mut events = Vec::new();
        for name in names {
            let event = EventName::parse(name).ok_or_else(|| {
                DomainError::invalid(format!(
                    "WebhookEvents: {name:?} is not an event qualify sends; see GET /webhooks/v1/registration/events."
                ))
            })?;
            if !events.contains(&event) {
                events.push(event);
            }
        }
        Ok((url.to_owned(), events))
    }
}

/// A partner's registration, as Partner Center shapes it, with qualify's `SigningSecret`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
#[schema(as = WebhookRegistration)]
pub struct RegistrationOut {
    pub subscriber_id: String,
    pub webhook_url: String,
    pub webhook_events: Vec<&'static str>,
    /// `whsec_` and the base64 of the 32-byte HMAC key of the `webhook-signature` header.
    pub signing_secret: String,
    /// Deliveries stopped because the receiver answered 410; a POST or PUT enables them again.
    pub disabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub disabled_reason: Option<String>,
}

impl From<&Registration> for RegistrationOut {
    fn from(r: &Registration) -> Self {
        Self {
            subscriber_id: r.subscriber_id.clone(),
            webhook_url: r.url.clone(),
            webhook_events: r.events.iter().map(|e| e.name()).collect(),
            signing_secret: r.secret.clone(),
            disabled: r.disabled.is_some(),
            disabled_reason: r.disabled.clone(),
        }
    }
}

/// One attempt of a validation event, as Partner Center reports it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookValidationResult)]
pub struct ValidationResultOut {
    /// The HTTP status name (`OK`, `InternalServerError`, ...; the number when it has no
    /// name); `None` when no answer came.
    pub response_code: String,
    pub response_message: String,
    /// No HTTP answer (timeout, connection failure, refused target).
    pub system_error: bool,
    pub date_time_utc: String,
}

/// `GET /webhooks/v1/registration/validationEvents/{correlationId}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookValidationStatus)]
pub struct ValidationOut {
    pub correlation_id: String,
    pub partner_id: String,
    /// `pending`, `completed` (delivered) or `failed` (given up).
    pub status: &'static str,
    pub callback_url: String,
    pub results: Vec<ValidationResultOut>,
}

impl ValidationOut {
    pub fn new(d: &Delivery, callback_url: String) -> Self {
        Self {
            correlation_id: d.event.event_id.clone(),
            partner_id: d.event.partner_id.to_string(),
            status: match d.status {
                DeliveryStatus::Pending => "pending",
                DeliveryStatus::Succeeded => "completed",
                DeliveryStatus::Dead | DeliveryStatus::Cancelled => "failed",
            },
            callback_url,
            results: d
                .attempts
                .iter()
                .map(|a| ValidationResultOut {
                    response_code: a.response_code.map_or("None".into(), status_name),
                    response_message: a.error.clone().unwrap_or_default(),
                    system_error: a.response_code.is_none(),
                    date_time_utc: wire(a.at),
                })
                .collect(),
        }
    }
}

/// .NET's `HttpStatusCode` name of a status, as Partner Center reports `responseCode`.
fn status_name(code: u16) -> String {
    let name = match code {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "NoContent",
        301 => "MovedPermanently",
        302 => "Found",
        307 => "TemporaryRedirect",
        308 => "PermanentRedirect",
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        408 => "RequestTimeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        501 => "NotImplemented",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => return code.to_string(),
    };
    name.to_owned()
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookAttempt)]
pub struct AttemptOut {
    /// The partner's time of the attempt.
    pub at: String,
    pub response_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

impl From<&Attempt> for AttemptOut {
    fn from(a: &Attempt) -> Self {
        Self {
            at: wire(a.at),
            response_code: a.response_code,
            error: a.error.clone(),
            duration_ms: a.duration_ms,
        }
    }
}

/// `GET /admin/v1/partners/{p}/deliveries`: one event's delivery.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookDelivery)]
pub struct DeliveryOut {
    pub id: String,
    /// The `webhook-id` of every attempt.
    pub event_id: String,
    pub event_name: &'static str,
    pub customer_id: Option<String>,
    pub qualification: Option<&'static str>,
    /// `pending`, `succeeded`, `dead` or `cancelled`.
    pub status: &'static str,
    pub attempts: Vec<AttemptOut>,
    pub next_attempt_at: Option<String>,
}

impl From<&Delivery> for DeliveryOut {
    fn from(d: &Delivery) -> Self {
        Self {
            id: d.id.to_string(),
            event_id: d.event.event_id.clone(),
            event_name: d.event.event_name.name(),
            customer_id: d.event.customer_id.map(|c| c.to_string()),
            qualification: d.event.qualification.map(|q| q.name()),
            status: d.status.name(),
            attempts: d.attempts.iter().map(AttemptOut::from).collect(),
            next_attempt_at: d.next_attempt_at.map(wire),
        }
    }
}
