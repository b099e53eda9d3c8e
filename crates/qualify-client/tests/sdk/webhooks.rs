//! The webhook calls against a real server (events.md 1-2): registration, test events, and
//! deliveries checked with the SDK's own verifier, with a stub server as the receiver.

use std::time::Duration;

use base64::Engine;
use qualify_client::{
    DeliveryStatus, ErrorCategory, NewWebhookRegistration, QualificationRequest, WebhookEvent,
    WebhookPayload, WebhookValidationState, WebhookVerifier,
};

use crate::support::*;
use crate::surface::new_customer;

/// Asks `check` until it gives a value (15 s at most).
async fn until<T>(what: &str, check: impl AsyncFnMut() -> Option<T>) -> T {
    qualify_server::testing::poll_until(what, Duration::from_secs(15), check).await
}

/// An id shaped like `known` (a number or a uuid) that no delivery has.
pub fn unknown_like(known: &str) -> String {
    match known.parse::<u64>() {
        Ok(n) => (n + 1_000_000).to_string(),
        Err(_) => uuid::Uuid::new_v4().to_string(),
    }
}

fn registration(url: &str, events: &[WebhookEvent]) -> NewWebhookRegistration {
    NewWebhookRegistration::new(url, events.to_vec())
}

#[tokio::test]
async fn a_registration_is_created_read_updated_rotated_and_deleted() {
    let s = TestServer::start().await;
    let p = s.partner();
    let hooks = p.client.webhooks();
    assert_eq!(
        hooks.events().await.unwrap(),
        [
            WebhookEvent::TestCreated,
            WebhookEvent::CustomerQualificationCreated,
            WebhookEvent::CustomerQualificationUpdated
        ]
    );
    let none = hooks.get().await.unwrap_err();
    assert_eq!(
        (none.category(), none.code()),
        (ErrorCategory::NotFound, Some(1000))
    );

    let url = "https://receiver.example/hook";
    let created = hooks
        .register(&registration(
            url,
            &[WebhookEvent::CustomerQualificationUpdated],
        ))
        .await
        .unwrap();
    assert!(uuid::Uuid::parse_str(&created.subscriber_id).is_ok());
    assert_eq!(created.webhook_url, url);
    let secret = created.signing_secret.clone().expect("a signing secret");
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .unwrap();
    assert_eq!(key.len(), 32);
    assert_eq!(hooks.get().await.unwrap(), created);

    let both = [
        WebhookEvent::CustomerQualificationCreated,
        WebhookEvent::CustomerQualificationUpdated,
    ];
    let updated = hooks
        .update(&registration(url, &both), false)
        .await
        .unwrap();
    assert_eq!(updated.webhook_events, both);
    assert_eq!(updated.signing_secret.as_deref(), Some(secret.as_str()));
    let rotated = hooks.update(&registration(url, &both), true).await.unwrap();
    assert_ne!(rotated.signing_secret.as_deref(), Some(secret.as_str()));
    assert_eq!(hooks.get().await.unwrap(), rotated);

    for bad in [
        registration(url, &[WebhookEvent::Other("customer-deleted".into())]),
        registration("/relative/hook", &both),
        registration("ftp://receiver.example/hook", &both),
    ] {
        let e = hooks.register(&bad).await.unwrap_err();
        assert_eq!(e.category(), ErrorCategory::BadInput, "{bad:?}: {e}");
    }
    assert_eq!(
        hooks.get().await.unwrap(),
        rotated,
        "a refused POST replaces nothing"
    );

    hooks.delete().await.unwrap();
    assert_eq!(
        hooks.get().await.unwrap_err().category(),
        ErrorCategory::NotFound
    );
}

#[tokio::test]
async fn a_test_event_arrives_signed_both_ways_and_its_status_completes() {
    let s = TestServer::start().await;
    let p = s.partner();
    let receiver = Stub::start(vec![Canned::json(200, serde_json::json!({}))]).await;
    let url = format!("{}/hook", receiver.base);
    // One attempt per call: the third test event of the minute must come back as a 429.
    let client = fast(&s.base, &p.token).max_attempts(1).build().unwrap();
    let hooks = client.webhooks();
    let secret = hooks
        .register(&registration(&url, &[WebhookEvent::TestCreated]))
        .await
        .unwrap()
        .signing_secret
        .unwrap();
    let certificate = hooks.certificate().await.unwrap();
    assert!(
        certificate.starts_with("-----BEGIN CERTIFICATE-----"),
        "{certificate}"
    );
    let verifier = WebhookVerifier::new(&secret)
        .unwrap()
        .with_certificate(&certificate)
        .unwrap();

    let correlation_id = hooks.send_test_event().await.unwrap();
    assert!(uuid::Uuid::parse_str(&correlation_id).is_ok());
    let seen = until("the test event", async || {
        receiver.seen().into_iter().next()
    })
    .await;
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.uri.path(), "/hook");
    verifier
        .verify(&seen.headers, seen.body.as_bytes())
        .expect("both signatures verify");
    assert!(
        seen.header("X-MS-Certificate-Url")
            .is_some_and(|u| u.ends_with("/webhooks/v1/certificate")),
        "{:?}",
        seen.headers
    );
    let payload: WebhookPayload = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(payload.event_name, WebhookEvent::TestCreated);

    let status = until("the test event's status", async || {
        let v = hooks.validation_status(&correlation_id).await.unwrap();
        (v.status != WebhookValidationState::Pending).then_some(v)
    })
    .await;
    assert_eq!(status.status, WebhookValidationState::Completed);
    assert_eq!(status.correlation_id, correlation_id);
    assert!(status.partner_id.eq_ignore_ascii_case(&p.id));
    assert_eq!(status.callback_url, url);
    assert_eq!(status.results.len(), 1, "{status:?}");
    assert_eq!(status.results[0].status_code(), Some(200));
    assert!(!status.results[0].system_error);

    hooks.send_test_event().await.unwrap();
    let throttled = hooks.send_test_event().await.unwrap_err();
    assert_eq!(throttled.category(), ErrorCategory::Throttled);
    assert!(throttled.retry_after().is_some(), "{throttled}");
}

#[tokio::test]
async fn a_failed_delivery_is_listed_and_redelivered_with_the_same_webhook_id() {
    let s = TestServer::start().await;
    let admin = s.admin();
    let p = s.partner();
    let receiver = Stub::start(vec![
        Canned::json(500, serde_json::json!({})),
        Canned::json(200, serde_json::json!({})),
    ])
    .await;
    let secret = p
        .client
        .webhooks()
        .register(&registration(
            &format!("{}/hook", receiver.base),
            &[WebhookEvent::CustomerQualificationCreated],
        ))
        .await
        .unwrap()
        .signing_secret
        .unwrap();
    let c = p
        .client
        .customers()
        .create(&new_customer("contoso.com"))
        .await
        .unwrap();
    p.client
        .customers()
        .by_id(&c.id)
        .qualifications()
        .create(&QualificationRequest::state_owned_entity())
        .await
        .unwrap();

    let partner = admin.admin().partner(&p.id);
    let failed = until("the first attempt", async || {
        let list = partner.deliveries(None).await.unwrap();
        list.into_iter().find(|d| !d.attempts.is_empty())
    })
    .await;
    assert_eq!(
        failed.event_name,
        WebhookEvent::CustomerQualificationCreated
    );
    assert_eq!(failed.customer_id.as_deref(), Some(c.id.as_str()));
    assert_eq!(failed.status, DeliveryStatus::Pending);
    assert_eq!(failed.attempts[0].response_code, Some(500));
    assert!(
        failed.next_attempt_at.is_some(),
        "a retry is due: {failed:?}"
    );
    assert_eq!(
        partner
            .deliveries(Some(DeliveryStatus::Pending))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        partner
            .deliveries(Some(DeliveryStatus::Dead))
            .await
            .unwrap()
            .is_empty()
    );

    let again = admin.admin().redeliver(&failed.id).await.unwrap();
    assert_eq!(again.id, failed.id);
    let succeeded = until("the redelivery", async || {
        let list = partner
            .deliveries(Some(DeliveryStatus::Succeeded))
            .await
            .unwrap();
        list.into_iter().next()
    })
    .await;
    assert_eq!(succeeded.attempts.len(), 2, "{succeeded:?}");
    assert_eq!(succeeded.attempts[1].response_code, Some(200));

    let seen = receiver.seen();
    assert_eq!(seen.len(), 2);
    // webhook-id names the event (or its delivery: one per event and registration).
    let webhook_id = seen[0].header("webhook-id").expect("webhook-id");
    assert!(
        webhook_id == failed.event_id || webhook_id == failed.id,
        "{webhook_id} for {failed:?}"
    );
    assert_eq!(seen[1].header("webhook-id"), Some(webhook_id));
    for attempt in &seen {
        qualify_client::verify_webhook(&attempt.headers, attempt.body.as_bytes(), &secret)
            .expect("every attempt is signed");
    }
    let payload: WebhookPayload = serde_json::from_str(&seen[0].body).unwrap();
    assert!(
        payload
            .resource_uri
            .ends_with(&format!("/v1/customers/{}/qualifications", c.id)),
        "{payload:?}"
    );

    let unknown = admin
        .admin()
        .redeliver(&unknown_like(&failed.id))
        .await
        .unwrap_err();
    assert_eq!(unknown.category(), ErrorCategory::NotFound);
}

/// The wire shapes and retry rules of the calls, against a stub: paths, methods, bodies, and
/// that writes which must not happen twice (a rotation, a test event, a redelivery) are not
/// retried after a 5xx while the others are.
#[tokio::test]
async fn the_calls_send_the_contracts_shapes_and_retry_only_what_is_safe() {
    let answer = serde_json::json!({
        "SubscriberId": "6f1f2c9e-2f4b-4d35-a1a5-0a4ef7b1f2a1", "WebhookUrl": "https://r.example/h",
        "WebhookEvents": ["customer-qualification-updated"], "SigningSecret": "whsec_c2VjcmV0"
    });
    let body = registration(
        "https://r.example/h",
        &[WebhookEvent::CustomerQualificationUpdated],
    );

    let stub = Stub::start(vec![Canned::error(503, 503), Canned::json(200, answer)]).await;
    let sdk = client(&stub.base, &partner_token());
    let hooks = sdk.webhooks();
    hooks.update(&body, false).await.unwrap();
    let seen = stub.seen();
    assert_eq!(seen.len(), 2, "an update without rotation is retried");
    assert_eq!(
        (seen[0].method.as_str(), seen[0].uri.path()),
        ("PUT", "/webhooks/v1/registration")
    );
    let sent: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({"WebhookUrl": "https://r.example/h",
                           "WebhookEvents": ["customer-qualification-updated"]})
    );

    for (what, call) in [("rotation", 0), ("test event", 1), ("redelivery", 2)] {
        let stub = Stub::start(vec![Canned::error(503, 503)]).await;
        let sdk = client(&stub.base, &partner_token());
        let failed = match call {
            0 => sdk.webhooks().update(&body, true).await.map(drop),
            1 => sdk.webhooks().send_test_event().await.map(drop),
            _ => sdk.admin().redeliver("17").await.map(drop),
        };
        assert_eq!(failed.unwrap_err().category(), ErrorCategory::ServerBusy);
        let seen = stub.seen();
        assert_eq!(seen.len(), 1, "a {what} is not sent twice");
        let expected = match call {
            0 => ("PUT", "/webhooks/v1/registration"),
            1 => ("POST", "/webhooks/v1/registration/validationEvents"),
            _ => ("POST", "/admin/v1/deliveries/17/redeliver"),
        };
        assert_eq!((seen[0].method.as_str(), seen[0].uri.path()), expected);
        if call == 0 {
            let sent: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
            assert_eq!(sent["RotateSecret"], true);
        }
    }

    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let stub = Stub::start(vec![Canned {
        status: 200,
        headers: vec![],
        body: pem.into(),
        delay: Duration::ZERO,
    }])
    .await;
    let sdk = client(&stub.base, &partner_token());
    assert_eq!(sdk.webhooks().certificate().await.unwrap(), pem);
    let seen = &stub.seen()[0];
    assert_eq!(seen.uri.path(), "/webhooks/v1/certificate");
    assert_eq!(
        seen.headers.get_all("accept").iter().count(),
        1,
        "one Accept, the PEM's"
    );
    assert!(
        seen.header("accept")
            .unwrap()
            .contains("application/x-pem-file")
    );

    let stub = Stub::start(vec![Canned::json(200, serde_json::json!([]))]).await;
    let sdk = client(&stub.base, &partner_token());
    sdk.admin()
        .partner("p1")
        .deliveries(Some(DeliveryStatus::Dead))
        .await
        .unwrap();
    let seen = &stub.seen()[0];
    assert_eq!(seen.uri.path(), "/admin/v1/partners/p1/deliveries");
    assert_eq!(seen.uri.query(), Some("status=dead"));
}
