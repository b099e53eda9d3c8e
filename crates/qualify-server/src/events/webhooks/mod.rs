//! Webhooks (events.md 1-2): a partner's registration (Partner Center's API), the validation
//! event and its status, the signing certificate, and the operator's deliveries; sending them
//! is [`delivery`]'s (a job), through the one outbound client ([`sender`]).

pub mod delivery;
pub mod message;
pub mod sender;
pub mod service;
pub mod signing;
pub mod targets;
pub mod wire;

use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use qualify_core::webhooks::EventName;
use qualify_store::DeliveryStatus;

pub use self::message::{body, hmac_signature, new_secret};
pub use self::sender::CERTIFICATE_PATH;
use self::service::Webhooks;
pub use self::targets::{Resolver, SystemResolver, check_target, parse_url};
use self::wire::{DeliveryOut, RegistrationIn, RegistrationOut, ValidationOut};
use crate::http::auth::{AnyPartner, Operator};
use crate::http::body::{Json, JsonBody, ok};
use crate::http::error::ApiResult;
use crate::http::params::{CorrelationPath, DeliveryPath, PartnerPath};
use crate::http::query::query_map;
use crate::http::responses::{Forbidden, NotFound};
use crate::http::strict::invalid_at;

/// `GET /webhooks/v1/registration/events`.
#[utoipa::path(
    get,
    path = "/webhooks/v1/registration/events",
    tag = "webhooks",
    operation_id = "getWebhookEvents",
    summary = "The event names qualify can send",
    responses(
        (status = 200, description = "A bare array of event names.", body = Vec<String>,
            example = json!(["test-created", "customer-qualification-created", "customer-qualification-updated"])),
        (status = 403, response = Forbidden),
    ),
)]
pub async fn events(_: AnyPartner) -> Response {
    ok(EventName::ALL.map(EventName::name)).into_response()
}

/// `POST /webhooks/v1/registration`: creates the registration, or replaces the one there is.
#[utoipa::path(
    post,
    path = "/webhooks/v1/registration",
    tag = "webhooks",
    operation_id = "registerWebhook",
    summary = "Register (or replace) the partner's webhook",
    description = "One registration per partner tenant. A new registration gets a new \
        `SubscriberId` and `SigningSecret`. With `--auth oidc`, URLs whose host is or resolves to \
        a loopback, private, link-local or metadata address are refused (unless \
        `--webhook-allow-private true`).",
    request_body(content = RegistrationIn, example = json!({
        "WebhookUrl": "https://partner.example.com/hooks/qualify",
        "WebhookEvents": ["customer-qualification-updated"]
    })),
    responses(
        (status = 200, description = "The registration.", body = RegistrationOut),
        (status = 403, response = Forbidden),
    ),
)]
pub async fn register(
    State(webhooks): State<Webhooks>,
    AnyPartner(caller): AnyPartner,
    body: JsonBody<RegistrationIn>,
) -> ApiResult<Response> {
    let registration = webhooks.register(caller.partner, &body.value).await?;
    Ok(ok(RegistrationOut::from(&registration)).into_response())
}

/// `PUT /webhooks/v1/registration`: changes the URL or events (pending deliveries go to the new
/// URL), optionally rotating the secret.
#[utoipa::path(
    put,
    path = "/webhooks/v1/registration",
    tag = "webhooks",
    operation_id = "updateWebhookRegistration",
    summary = "Update the partner's webhook registration",
    description = "The `SigningSecret` stays unless `RotateSecret` is true; after a rotation \
        deliveries carry signatures by both secrets for 24 hours. A disabled registration (the \
        receiver answered 410) is enabled again.",
    request_body(content = RegistrationIn, example = json!({
        "WebhookUrl": "https://partner.example.com/hooks/qualify",
        "WebhookEvents": ["customer-qualification-created", "customer-qualification-updated"],
        "RotateSecret": true
    })),
    responses(
        (status = 200, description = "The registration.", body = RegistrationOut),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub async fn update(
    State(webhooks): State<Webhooks>,
    AnyPartner(caller): AnyPartner,
    body: JsonBody<RegistrationIn>,
) -> ApiResult<Response> {
    let registration = webhooks.update(caller.partner, &body.value).await?;
    Ok(ok(RegistrationOut::from(&registration)).into_response())
}

/// `GET /webhooks/v1/registration`.
#[utoipa::path(
    get,
    path = "/webhooks/v1/registration",
    tag = "webhooks",
    operation_id = "getWebhookRegistration",
    summary = "The partner's webhook registration",
    responses(
        (status = 200, description = "The registration.", body = RegistrationOut),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub async fn get(
    State(webhooks): State<Webhooks>,
    AnyPartner(caller): AnyPartner,
) -> ApiResult<Response> {
    let r = webhooks.registration(caller.partner).await?;
    Ok(ok(RegistrationOut::from(&r)).into_response())
}

/// `DELETE /webhooks/v1/registration`: 204; pending deliveries are cancelled.
#[utoipa::path(
    delete,
    path = "/webhooks/v1/registration",
    tag = "webhooks",
    operation_id = "deleteWebhookRegistration",
    summary = "Remove the partner's webhook registration (pending deliveries are cancelled)",
    responses(
        (status = 204, description = "Removed (or there was none)."),
        (status = 403, response = Forbidden),
    ),
)]
pub async fn delete(
    State(webhooks): State<Webhooks>,
    AnyPartner(caller): AnyPartner,
) -> ApiResult<Response> {
    webhooks.delete(caller.partner).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /webhooks/v1/registration/validationEvents`: sends a `test-created` event.
#[utoipa::path(
    post,
    path = "/webhooks/v1/registration/validationEvents",
    tag = "webhooks",
    operation_id = "createWebhookValidationEvent",
    summary = "Send a test-created event to the registration",
    description = "Answers the correlation id (a JSON string) to poll its status with. At most 2 \
        per minute per partner, as in Partner Center (429 with `Retry-After`).",
    responses(
        (status = 200, description = "The correlation id.", body = String,
            example = json!("0c7b4d8e-3f4a-4c1e-9a55-7f0f2b8f2c11")),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub async fn create_validation_event(
    State(webhooks): State<Webhooks>,
    AnyPartner(caller): AnyPartner,
) -> ApiResult<Response> {
    let correlation_id = webhooks.create_validation_event(caller.partner).await?;
    Ok(ok(correlation_id).into_response())
}

/// `GET /webhooks/v1/registration/validationEvents/{correlationId}`.
#[utoipa::path(
    get,
    path = "/webhooks/v1/registration/validationEvents/{correlation_id}",
    tag = "webhooks",
    operation_id = "getWebhookValidationEvent",
    summary = "The status of a test-created event",
    params(CorrelationPath),
    responses(
        (status = 200, description = "Its status and attempts.", body = ValidationOut),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub async fn validation_event(
    State(webhooks): State<Webhooks>,
    AnyPartner(caller): AnyPartner,
    CorrelationPath { correlation_id }: CorrelationPath,
) -> ApiResult<Response> {
    let (delivery, callback) = webhooks
        .validation_event(caller.partner, &correlation_id)
        .await?;
    Ok(ok(ValidationOut::new(&delivery, callback)).into_response())
}

/// `GET /webhooks/v1/certificate`: the X.509 certificate (PEM) whose key signs deliveries.
#[utoipa::path(
    get,
    path = "/webhooks/v1/certificate",
    tag = "webhooks",
    operation_id = "getWebhookCertificate",
    summary = "The certificate of the key that signs every delivery (no token needed)",
    description = "Deliveries carry `Authorization: Signature <base64 RSASSA-PKCS1-v1_5 SHA-256>` \
        over the body bytes and `X-MS-Certificate-Url` pointing here.",
    responses(
        (status = 200, description = "The PEM certificate.", content_type = "application/x-pem-file", body = String),
    ),
)]
pub async fn certificate(State(webhooks): State<Webhooks>) -> ApiResult<Response> {
    let signer = webhooks.signer().await?;
    Ok((
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        signer.certificate.clone(),
    )
        .into_response())
}

/// `?status=pending|succeeded|dead|cancelled`, when given.
fn status_query(uri: &Uri) -> ApiResult<Option<DeliveryStatus>> {
    match query_map(uri)?.get("status") {
        None => Ok(None),
        Some(s) => DeliveryStatus::parse(s).map(Some).ok_or_else(|| {
            invalid_at(
                "status",
                format!("{s:?} is not one of pending, succeeded, dead, cancelled"),
            )
        }),
    }
}

/// `GET /admin/v1/partners/{p}/deliveries[?status=S]`: oldest first.
#[utoipa::path(
    get,
    path = "/admin/v1/partners/{partner_id}/deliveries",
    tag = "operator",
    operation_id = "listDeliveries",
    summary = "A partner's webhook deliveries with their attempts, oldest first",
    params(
        PartnerPath,
        ("status" = Option<String>, Query, description = "pending, succeeded, dead or cancelled."),
    ),
    responses(
        (status = 200, description = "A bare array, oldest first.", body = Vec<DeliveryOut>),
        (status = 403, response = Forbidden),
    ),
)]
pub async fn deliveries(
    State(webhooks): State<Webhooks>,
    _: Operator,
    PartnerPath { partner_id }: PartnerPath,
    uri: Uri,
) -> ApiResult<Response> {
    let status = status_query(&uri)?;
    let found = webhooks.deliveries(partner_id, status).await?;
    Ok(ok(found.iter().map(DeliveryOut::from).collect::<Vec<_>>()).into_response())
}

/// `POST /admin/v1/deliveries/{id}/redeliver`: 202, a new attempt now (same `webhook-id`).
#[utoipa::path(
    post,
    path = "/admin/v1/deliveries/{delivery_id}/redeliver",
    tag = "operator",
    operation_id = "redeliver",
    summary = "Deliver an event again now, with a fresh retry schedule and the same webhook-id",
    params(DeliveryPath),
    responses(
        (status = 202, description = "Pending again, due now.", body = DeliveryOut),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub async fn redeliver(
    State(webhooks): State<Webhooks>,
    Operator(caller): Operator,
    DeliveryPath { delivery_id }: DeliveryPath,
) -> ApiResult<Response> {
    let again = webhooks.redeliver(delivery_id).await?;
    tracing::info!(delivery = delivery_id, actor = %caller.actor(), "webhook redelivery requested");
    Ok(Json(StatusCode::ACCEPTED, DeliveryOut::from(&again)).into_response())
}
