//! Webhooks (events.md 1-2): a partner's registration (Partner Center's API), the validation
//! event and its status, the signing certificate, and the operator's deliveries.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use qualify_core::jobs::{JobKind, NewJob};
use qualify_core::webhooks::{DELIVERY_JOB, Event, EventName, ROTATION_OVERLAP, Registration};
use qualify_core::{DomainError, ErrorKind, PartnerId};
use qualify_store::{DeliveryRef, DeliveryStatus};

use super::query_map;
use crate::AppState;
use crate::auth::{AnyPartner, Operator};
use crate::body::{Json, JsonBody, ok};
use crate::control::invalid_at;
use crate::dto::webhooks::{DeliveryOut, RegistrationIn, RegistrationOut, ValidationOut};
use crate::error::{ApiError, ApiResult};
use crate::openapi::{
    BadRequest, Forbidden, NotFound, PayloadTooLarge, RequestTimeout, ServiceUnavailable,
    TooManyRequests, Unauthorized, UnsupportedMediaType,
};
use crate::webhooks::{check_target, new_secret};

fn no_registration() -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        "The partner has no webhook registration.",
    )
}

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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn events(_: AnyPartner) -> Response {
    ok(EventName::ALL.map(EventName::name)).into_response()
}

/// The registration a POST or PUT asks for, after the URL passed the SSRF rule.
async fn requested(state: &AppState, body: &RegistrationIn) -> ApiResult<(String, Vec<EventName>)> {
    let (url, events) = body.validate()?;
    check_target(
        &url,
        state.webhooks.allow_private(),
        state.webhooks.resolver(),
    )
    .await
    .map_err(|e| DomainError::invalid(format!("WebhookUrl is refused: {e}.")))?;
    Ok((url, events))
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn register(
    State(state): State<AppState>,
    AnyPartner(caller): AnyPartner,
    body: JsonBody<RegistrationIn>,
) -> ApiResult<Response> {
    let (url, events) = requested(&state, &body.value).await?;
    let registration = Registration {
        partner_id: caller.partner,
        subscriber_id: uuid::Uuid::new_v4().to_string(),
        url,
        events,
        secret: new_secret(),
        previous_secret: None,
        disabled: None,
    };
    state
        .store
        .put_webhook_registration(&registration, state.time.wall())
        .await?;
    tracing::info!(partner = %caller.partner, subscriber = %registration.subscriber_id, "webhook registered");
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    AnyPartner(caller): AnyPartner,
    body: JsonBody<RegistrationIn>,
) -> ApiResult<Response> {
    let (url, events) = requested(&state, &body.value).await?;
    let current = state
        .store
        .webhook_registration(caller.partner)
        .await?
        .ok_or_else(no_registration)?;
    let wall = state.time.wall();
    let (secret, previous_secret) = if body.value.rotatesecret == Some(true) {
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
    state
        .store
        .put_webhook_registration(&registration, wall)
        .await?;
    tracing::info!(partner = %caller.partner, rotated = body.value.rotatesecret == Some(true), "webhook registration updated");
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    AnyPartner(caller): AnyPartner,
) -> ApiResult<Response> {
    let r = state
        .store
        .webhook_registration(caller.partner)
        .await?
        .ok_or_else(no_registration)?;
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    AnyPartner(caller): AnyPartner,
) -> ApiResult<Response> {
    let now = state.domain_now(caller.partner).await?;
    let removed = state
        .store
        .delete_webhook_registration(caller.partner, now)
        .await?;
    tracing::info!(partner = %caller.partner, removed, "webhook registration deleted");
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn create_validation_event(
    State(state): State<AppState>,
    AnyPartner(caller): AnyPartner,
) -> ApiResult<Response> {
    state
        .store
        .webhook_registration(caller.partner)
        .await?
        .ok_or_else(no_registration)?;
    state.test_events.check(caller.partner)?;
    let now = state.domain_now(caller.partner).await?;
    let event = Event::test(caller.partner, now);
    let payload = serde_json::to_value(&event)
        .map_err(|e| ApiError::new(ErrorKind::Internal, e.to_string()))?;
    state
        .store
        .enqueue_job(
            NewJob {
                kind: JobKind(DELIVERY_JOB.to_owned()),
                partner: caller.partner,
                payload,
                run_at: now,
            },
            None,
        )
        .await?;
    state.wake_worker();
    Ok(ok(event.event_id).into_response())
}

/// `GET /webhooks/v1/registration/validationEvents/{correlationId}`.
#[utoipa::path(
    get,
    path = "/webhooks/v1/registration/validationEvents/{correlation_id}",
    tag = "webhooks",
    operation_id = "getWebhookValidationEvent",
    summary = "The status of a test-created event",
    params(("correlation_id" = String, Path, description = "As `POST .../validationEvents` answered it.")),
    responses(
        (status = 200, description = "Its status and attempts.", body = ValidationOut),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn validation_event(
    State(state): State<AppState>,
    AnyPartner(caller): AnyPartner,
    Path(correlation_id): Path<String>,
) -> ApiResult<Response> {
    let not_found = || {
        ApiError::new(
            ErrorKind::NotFound,
            "No validation event has this correlation id.",
        )
    };
    let delivery = state
        .store
        .delivery(DeliveryRef::Event(caller.partner, &correlation_id))
        .await?
        .filter(|d| d.event.event_name == EventName::TestCreated)
        .ok_or_else(not_found)?;
    let callback = state
        .store
        .webhook_registration(caller.partner)
        .await?
        .map(|r| r.url)
        .unwrap_or_default();
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
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn certificate(State(state): State<AppState>) -> ApiResult<Response> {
    let signer = state
        .webhooks
        .signer(state.store.as_ref())
        .await
        .map_err(|e| ApiError::new(ErrorKind::Unavailable, e))?;
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
        ("partner_id" = String, Path, format = Uuid),
        ("status" = Option<String>, Query, description = "pending, succeeded, dead or cancelled."),
    ),
    responses(
        (status = 200, description = "A bare array, oldest first.", body = Vec<DeliveryOut>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn deliveries(
    State(state): State<AppState>,
    _: Operator,
    Path(partner): Path<String>,
    uri: Uri,
) -> ApiResult<Response> {
    let partner: PartnerId = partner
        .parse()
        .map_err(|_| ApiError::invalid(format!("The partner id {partner:?} is not a GUID.")))?;
    let status = status_query(&uri)?;
    let found = state.store.deliveries(partner, status).await?;
    Ok(ok(found.iter().map(DeliveryOut::from).collect::<Vec<_>>()).into_response())
}

/// `POST /admin/v1/deliveries/{id}/redeliver`: 202, a new attempt now (same `webhook-id`).
#[utoipa::path(
    post,
    path = "/admin/v1/deliveries/{delivery_id}/redeliver",
    tag = "operator",
    operation_id = "redeliver",
    summary = "Deliver an event again now, with a fresh retry schedule and the same webhook-id",
    params(("delivery_id" = String, Path)),
    responses(
        (status = 202, description = "Pending again, due now.", body = DeliveryOut),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn redeliver(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let not_found = || {
        ApiError::new(
            ErrorKind::NotFound,
            format!("No delivery has the id {id:?}."),
        )
    };
    let number: i64 = id.parse().map_err(|_| not_found())?;
    let found = state
        .store
        .delivery(DeliveryRef::Id(number))
        .await?
        .ok_or_else(not_found)?;
    let now = state.domain_now(found.event.partner_id).await?;
    let again = state
        .store
        .redeliver(number, now)
        .await?
        .ok_or_else(not_found)?;
    state.wake_worker();
    tracing::info!(delivery = number, actor = %caller.actor(), "webhook redelivery requested");
    Ok(Json(StatusCode::ACCEPTED, DeliveryOut::from(&again)).into_response())
}
