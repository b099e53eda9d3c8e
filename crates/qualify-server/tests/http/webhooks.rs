//! events.md 1-2: registration, one signed event per transition, the retry schedule on the
//! partner's clock, 410, Retry-After, redelivery, validation events, the SSRF rule, reset.
//! The receiver is a real HTTP server on loopback; the server under test runs in process.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures::future::BoxFuture;
use qualify_server::webhooks::{Resolver, hmac_signature};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use serde_json::{Value, json};
use sha2::Sha256;
use x509_cert::der::{Decode, DecodePem, Encode};

use crate::support::*;

/// What the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
    }
}

#[derive(Default)]
struct Script {
    /// Answers to give, in order; then `fallback`.
    answers: VecDeque<(u16, Option<&'static str>)>,
    fallback: Option<u16>,
    got: Vec<Received>,
}

#[derive(Clone)]
struct Receiver {
    url: String,
    script: Arc<Mutex<Script>>,
}

impl Receiver {
    async fn start() -> Self {
        let script = Arc::new(Mutex::new(Script::default()));
        let shared = script.clone();
        let app =
            axum::Router::new().fallback(move |headers: HeaderMap, body: axum::body::Bytes| {
                let script = shared.clone();
                async move {
                    let mut s = script.lock().unwrap();
                    s.got.push(Received {
                        headers,
                        body: body.to_vec(),
                    });
                    let (code, retry_after) = s
                        .answers
                        .pop_front()
                        .unwrap_or((s.fallback.unwrap_or(204), None));
                    let mut response = StatusCode::from_u16(code).unwrap().into_response();
                    if let Some(r) = retry_after {
                        response
                            .headers_mut()
                            .insert("retry-after", r.parse().unwrap());
                    }
                    response
                }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, script }
    }

    fn answer(&self, code: u16, retry_after: Option<&'static str>) {
        self.script
            .lock()
            .unwrap()
            .answers
            .push_back((code, retry_after));
    }

    fn always(&self, code: u16) {
        self.script.lock().unwrap().fallback = Some(code);
    }

    fn got(&self) -> Vec<Received> {
        self.script.lock().unwrap().got.clone()
    }
}

async fn register(app: &TestApp, p: &Partner, url: &str, events: &[&str]) -> Value {
    let r = app
        .post("/webhooks/v1/registration")
        .token(&p.app_user)
        .json(json!({"WebhookUrl": url, "WebhookEvents": events}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

const BOTH: &[&str] = &[
    "customer-qualification-created",
    "customer-qualification-updated",
];

async fn deliveries(app: &TestApp, p: &Partner, status: Option<&str>) -> Vec<Value> {
    let path = match status {
        Some(s) => format!("/admin/v1/partners/{}/deliveries?status={s}", p.id),
        None => format!("/admin/v1/partners/{}/deliveries", p.id),
    };
    app.admin(Method::GET, &path, None, 200)
        .await
        .as_array()
        .unwrap()
        .clone()
}

/// Verifies Partner Center's signature of `got` with the certificate the server serves.
async fn verify_rsa(app: &TestApp, got: &Received) {
    let r = app.get("/webhooks/v1/certificate").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-pem-file"));
    let cert = x509_cert::Certificate::from_pem(r.text.as_bytes()).expect("a PEM certificate");
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    let key = <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(&spki)
        .expect("an RSA key");
    let sig = got
        .header("authorization")
        .strip_prefix("Signature ")
        .expect("Authorization: Signature ...");
    let sig = Signature::try_from(B64.decode(sig).unwrap().as_slice()).unwrap();
    VerifyingKey::<Sha256>::new(key)
        .verify(&got.body, &sig)
        .expect("the RSA signature verifies");
    assert_eq!(got.header("x-ms-signature-algorithm"), "rsa-sha256");
    assert!(
        got.header("x-ms-certificate-url")
            .ends_with("/webhooks/v1/certificate")
    );
    let _ = x509_cert::Certificate::from_der(&cert.to_der().unwrap()).unwrap();
}

fn verify_hmac(secret: &str, got: &Received) {
    let id = got.header("webhook-id");
    let ts: i64 = got.header("webhook-timestamp").parse().unwrap();
    let expected = hmac_signature(secret, id, ts, &got.body);
    let sent = got.header("webhook-signature");
    assert!(
        sent.split(' ').any(|s| s == expected),
        "{sent} does not carry {expected}"
    );
}

#[tokio::test]
async fn registration_has_partner_centers_shapes_and_checks_its_body() {
    let app = TestApp::new().await;
    let p = app.partner();
    let r = app
        .get("/webhooks/v1/registration/events")
        .token(&p.app_only)
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!([
            "test-created",
            "customer-qualification-created",
            "customer-qualification-updated"
        ])
    );
    app.get("/webhooks/v1/registration")
        .token(&p.app_user)
        .send()
        .await
        .assert_error(404, 1000);
    app.get("/webhooks/v1/registration")
        .send()
        .await
        .assert_error(401, 800001);
    for bad in [
        json!({"WebhookUrl": "/relative", "WebhookEvents": ["test-created"]}),
        json!({"WebhookUrl": "ftp://example.com/x", "WebhookEvents": ["test-created"]}),
        json!({"WebhookEvents": ["test-created"]}),
        json!({"WebhookUrl": "https://example.com/x", "WebhookEvents": ["customer-created"]}),
        json!({"WebhookUrl": "https://example.com/x", "WebhookEvents": []}),
        json!({"WebhookUrl": 7, "WebhookEvents": ["test-created"]}),
    ] {
        let r = app
            .post("/webhooks/v1/registration")
            .token(&p.app_user)
            .json(bad.clone())
            .send()
            .await;
        r.assert_error(400, 800002);
        assert!(
            r.body["description"].as_str().unwrap().contains("Webhook") || r.status == 400,
            "{bad}: {}",
            r.text
        );
    }
    // Nothing was stored by the refused bodies.
    app.get("/webhooks/v1/registration")
        .token(&p.app_user)
        .send()
        .await
        .assert_error(404, 1000);

    let created = register(
        &app,
        &p,
        "https://partner.example.com/hooks",
        &["customer-qualification-updated"],
    )
    .await;
    assert_eq!(created["WebhookUrl"], "https://partner.example.com/hooks");
    assert_eq!(
        created["WebhookEvents"],
        json!(["customer-qualification-updated"])
    );
    assert!(uuid::Uuid::parse_str(created["SubscriberId"].as_str().unwrap()).is_ok());
    let secret = created["SigningSecret"].as_str().unwrap();
    let key = B64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    assert_eq!(key.len(), 32);
    assert_eq!(created["Disabled"], false);
    let got = app
        .get("/webhooks/v1/registration")
        .token(&p.app_only)
        .send()
        .await;
    assert_eq!(got.body, created);

    // PUT keeps the secret unless asked to rotate; keys are case-insensitive.
    let r = app
        .put("/webhooks/v1/registration")
        .token(&p.app_user)
        .json(json!({"webhookUrl": "https://partner.example.com/v2", "webhookEvents": BOTH}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["SigningSecret"], created["SigningSecret"]);
    assert_eq!(r.body["SubscriberId"], created["SubscriberId"]);
    assert_eq!(r.body["WebhookUrl"], "https://partner.example.com/v2");
    let rotated = app
        .put("/webhooks/v1/registration")
        .token(&p.app_user)
        .json(json!({"WebhookUrl": "https://partner.example.com/v2", "WebhookEvents": BOTH, "RotateSecret": true}))
        .send()
        .await;
    assert_ne!(rotated.body["SigningSecret"], created["SigningSecret"]);

    // Another partner sees nothing of it.
    let other = app.partner();
    app.get("/webhooks/v1/registration")
        .token(&other.app_user)
        .send()
        .await
        .assert_error(404, 1000);
    let r = app
        .delete("/webhooks/v1/registration")
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(r.status, 204);
    app.get("/webhooks/v1/registration")
        .token(&p.app_user)
        .send()
        .await
        .assert_error(404, 1000);
}

#[tokio::test]
async fn every_transition_sends_one_event_signed_both_ways_in_order() {
    let app = TestApp::new().await;
    let receiver = Receiver::start().await;
    let p = app.partner();
    let secret = register(&app, &p, &receiver.url, BOTH).await["SigningSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    let c = app.create_customer(&p).await;
    assert_created(
        &create(&app, &p, &c, state_owned()).await,
        "StateOwnedEntity",
    );
    app.run_pending_jobs().await;
    app.decide(&c, "StateOwnedEntity", "Approved", None).await;
    app.run_pending_jobs().await;

    let got = receiver.got();
    assert_eq!(got.len(), 2, "one event per transition");
    let names: Vec<Value> = got.iter().map(|g| g.json()["EventName"].clone()).collect();
    assert_eq!(
        names,
        [
            json!("customer-qualification-created"),
            json!("customer-qualification-updated")
        ]
    );
    let body = got[1].json();
    assert_eq!(
        body,
        json!({
            "EventName": "customer-qualification-updated",
            "ResourceUri": format!("http://localhost/v1/customers/{c}/qualifications"),
            "ResourceName": "CustomerQualification",
            "AuditUri": format!("http://localhost/admin/v1/customers/{c}/qualifications/StateOwnedEntity/history"),
            "ResourceChangeUtcDate": "2026-01-05T12:00:00.000Z",
        })
    );
    for g in &got {
        verify_rsa(&app, g).await;
        verify_hmac(&secret, g);
        assert_eq!(g.header("content-type"), "application/json");
    }
    assert_ne!(got[0].header("webhook-id"), got[1].header("webhook-id"));

    let listed = deliveries(&app, &p, Some("succeeded")).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["eventName"], "customer-qualification-created");
    assert_eq!(listed[0]["customerId"], c);
    assert_eq!(listed[0]["qualification"], "StateOwnedEntity");
    assert_eq!(listed[0]["eventId"], got[0].header("webhook-id"));
    assert_eq!(listed[0]["attempts"][0]["responseCode"], 204);
    assert_eq!(listed[0]["nextAttemptAt"], Value::Null);
    assert!(deliveries(&app, &p, Some("pending")).await.is_empty());
    // Only the registered events: a partner registered for updates gets no created event.
    let q = app.partner();
    register(&app, &q, &receiver.url, &["customer-qualification-updated"]).await;
    let c2 = app.create_customer(&q).await;
    create(&app, &q, &c2, state_owned()).await;
    app.run_pending_jobs().await;
    assert_eq!(receiver.got().len(), 2);
    assert!(deliveries(&app, &q, None).await.is_empty());
}

#[tokio::test]
async fn a_failing_receiver_walks_the_schedule_in_one_advance_then_a_redelivery_succeeds() {
    let app = TestApp::new().await;
    let receiver = Receiver::start().await;
    receiver.always(500);
    let p = app.partner();
    let clock = format!("/admin/v1/partners/{}/clock", p.id);
    app.admin(
        Method::PUT,
        &clock,
        Some(json!({"frozenAt": "2030-01-01T00:00:00Z"})),
        200,
    )
    .await;
    register(&app, &p, &receiver.url, &["customer-qualification-created"]).await;
    let c = app.create_customer(&p).await;
    create(&app, &p, &c, state_owned()).await;
    app.run_pending_jobs().await;
    let pending = deliveries(&app, &p, Some("pending")).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(pending[0]["attempts"][0]["responseCode"], 500);
    assert_eq!(pending[0]["nextAttemptAt"], "2030-01-01T00:00:05Z");

    // One advance walks the rest of the schedule: ten attempts in all, then dead.
    app.admin(
        Method::POST,
        &format!("{clock}/advance"),
        Some(json!({"by": "P4D"})),
        200,
    )
    .await;
    let dead = deliveries(&app, &p, Some("dead")).await;
    assert_eq!(dead.len(), 1, "{:?}", deliveries(&app, &p, None).await);
    let attempts = dead[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 10);
    let at: Vec<&str> = attempts.iter().map(|a| a["at"].as_str().unwrap()).collect();
    assert_eq!(
        at,
        [
            "2030-01-01T00:00:00Z",
            "2030-01-01T00:00:05Z",
            "2030-01-01T00:05:05Z",
            "2030-01-01T00:35:05Z",
            "2030-01-01T02:35:05Z",
            "2030-01-01T07:35:05Z",
            "2030-01-01T17:35:05Z",
            "2030-01-02T07:35:05Z",
            "2030-01-03T03:35:05Z",
            "2030-01-04T03:35:05Z",
        ]
    );
    let got = receiver.got();
    assert_eq!(got.len(), 10);
    let id = got[0].header("webhook-id").to_owned();
    assert!(
        got.iter().all(|g| g.header("webhook-id") == id),
        "the same webhook-id on every retry"
    );
    assert!(
        got.iter().all(|g| g.body == got[0].body),
        "the same body on every retry"
    );

    // Redelivery: a new attempt now, same webhook-id; it succeeds.
    receiver.always(200);
    let d = app
        .admin(
            Method::POST,
            &format!(
                "/admin/v1/deliveries/{}/redeliver",
                dead[0]["id"].as_str().unwrap()
            ),
            None,
            202,
        )
        .await;
    assert_eq!(d["status"], "pending");
    app.run_pending_jobs().await;
    let got = receiver.got();
    assert_eq!(got.len(), 11);
    assert_eq!(got[10].header("webhook-id"), id);
    let done = deliveries(&app, &p, Some("succeeded")).await;
    assert_eq!(done[0]["attempts"].as_array().unwrap().len(), 11);
    app.admin(
        Method::POST,
        "/admin/v1/deliveries/999999/redeliver",
        None,
        404,
    )
    .await;
    app.admin(
        Method::POST,
        "/admin/v1/deliveries/nope/redeliver",
        None,
        404,
    )
    .await;
    app.admin(
        Method::GET,
        &format!("/admin/v1/partners/{}/deliveries?status=lost", p.id),
        None,
        400,
    )
    .await;
}

#[tokio::test]
async fn a_410_disables_the_registration_and_retry_after_is_respected() {
    let app = TestApp::new().await;
    let receiver = Receiver::start().await;
    let p = app.partner();
    register(&app, &p, &receiver.url, BOTH).await;
    let c = app.create_customer(&p).await;

    receiver.answer(429, Some("120"));
    create(&app, &p, &c, state_owned()).await;
    app.run_pending_jobs().await;
    let pending = deliveries(&app, &p, Some("pending")).await;
    assert_eq!(
        pending[0]["nextAttemptAt"], "2026-01-05T12:02:00Z",
        "Retry-After: 120"
    );

    receiver.answer(410, None);
    app.advance(std::time::Duration::from_secs(120));
    app.run_pending_jobs().await;
    let dead = deliveries(&app, &p, Some("dead")).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["attempts"][1]["responseCode"], 410);
    let r = app
        .get("/webhooks/v1/registration")
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(r.body["Disabled"], true, "{}", r.text);
    // Disabled: later transitions send nothing.
    app.decide(&c, "StateOwnedEntity", "Approved", None).await;
    app.run_pending_jobs().await;
    assert_eq!(receiver.got().len(), 2);
    assert_eq!(deliveries(&app, &p, None).await.len(), 1);
    // A PUT enables it again.
    let r = app
        .put("/webhooks/v1/registration")
        .token(&p.app_user)
        .json(json!({"WebhookUrl": receiver.url, "WebhookEvents": BOTH}))
        .send()
        .await;
    assert_eq!(r.body["Disabled"], false);
}

#[tokio::test]
async fn pending_deliveries_follow_the_registration_and_a_delete_cancels_them() {
    let app = TestApp::new().await;
    let first = Receiver::start().await;
    let second = Receiver::start().await;
    first.always(503);
    let p = app.partner();
    register(&app, &p, &first.url, BOTH).await;
    let c = app.create_customer(&p).await;
    create(&app, &p, &c, state_owned()).await;
    app.run_pending_jobs().await;
    assert_eq!(first.got().len(), 1);
    // The next attempt goes to the URL of the registration at that time.
    app.put("/webhooks/v1/registration")
        .token(&p.app_user)
        .json(json!({"WebhookUrl": second.url, "WebhookEvents": BOTH}))
        .send()
        .await;
    app.advance(std::time::Duration::from_secs(5));
    app.run_pending_jobs().await;
    assert_eq!(second.got().len(), 1);
    assert_eq!(
        first.got()[0].header("webhook-id"),
        second.got()[0].header("webhook-id")
    );

    second.always(500);
    let c2 = app.create_customer(&p).await;
    create(&app, &p, &c2, state_owned()).await;
    app.run_pending_jobs().await;
    assert_eq!(deliveries(&app, &p, Some("pending")).await.len(), 1);
    app.delete("/webhooks/v1/registration")
        .token(&p.app_user)
        .send()
        .await;
    assert!(deliveries(&app, &p, Some("pending")).await.is_empty());
    assert_eq!(deliveries(&app, &p, Some("cancelled")).await.len(), 1);
    app.advance(std::time::Duration::from_secs(3600));
    app.run_pending_jobs().await;
    assert_eq!(second.got().len(), 2);
}

#[tokio::test]
async fn validation_events_are_sent_tracked_and_throttled() {
    let app = TestApp::new().await;
    let receiver = Receiver::start().await;
    let p = app.partner();
    app.post("/webhooks/v1/registration/validationEvents")
        .token(&p.app_user)
        .send()
        .await
        .assert_error(404, 1000);
    register(&app, &p, &receiver.url, &["customer-qualification-updated"]).await;
    let r = app
        .post("/webhooks/v1/registration/validationEvents")
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r
        .body
        .as_str()
        .expect("the correlation id, a JSON string")
        .to_owned();
    let status = format!("/webhooks/v1/registration/validationEvents/{id}");
    let before = app.get(&status).token(&p.app_user).send().await;
    assert_eq!(before.body["status"], "pending");
    app.run_pending_jobs().await;
    let got = receiver.got();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].json(),
        json!({
            "EventName": "test-created",
            "ResourceUri": format!("http://localhost/webhooks/v1/registration/validationEvents/{id}"),
            "ResourceName": "test",
            "AuditUri": null,
            "ResourceChangeUtcDate": "2026-01-05T12:00:00.000Z",
        })
    );
    assert_eq!(got[0].header("webhook-id"), id);
    let after = app.get(&status).token(&p.app_user).send().await;
    assert_eq!(after.body["correlationId"], id);
    assert_eq!(after.body["partnerId"], p.id.to_string());
    assert_eq!(after.body["status"], "completed");
    assert_eq!(after.body["callbackUrl"], receiver.url);
    assert_eq!(after.body["results"][0]["responseCode"], "NoContent");
    assert_eq!(after.body["results"][0]["systemError"], false);
    // Another partner cannot read it.
    let other = app.partner();
    app.get(&status)
        .token(&other.app_user)
        .send()
        .await
        .assert_error(404, 1000);
    // Two per minute.
    let second = app
        .post("/webhooks/v1/registration/validationEvents")
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(second.status, 200);
    let third = app
        .post("/webhooks/v1/registration/validationEvents")
        .token(&p.app_user)
        .send()
        .await;
    third.assert_error(429, 900429);
    assert!(third.header("retry-after").is_some());
}

/// Names resolve as the test says (a rebinding attack changes the answer between checks).
#[derive(Default)]
struct Names(Mutex<HashMap<String, IpAddr>>);

impl Names {
    fn set(&self, name: &str, ip: &str) {
        self.0
            .lock()
            .unwrap()
            .insert(name.into(), ip.parse().unwrap());
    }
}

impl Resolver for Names {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        let found = self.0.lock().unwrap().get(&host).copied();
        Box::pin(async move {
            found
                .map(|ip| vec![ip])
                .ok_or_else(|| std::io::Error::other("no such host"))
        })
    }
}

#[tokio::test]
async fn private_targets_are_refused_at_registration_and_at_each_delivery() {
    let names = Arc::new(Names::default());
    names.set("hooks.example.com", "93.184.215.14");
    names.set("sneaky.example.com", "127.0.0.1");
    names.set("localhost", "127.0.0.1");
    let app = TestApp::with_resolver(|c| c.webhook_allow_private = false, names.clone()).await;
    let p = app.partner();
    for url in [
        "http://127.0.0.1:9/hooks",
        "http://localhost:9/hooks",
        "http://sneaky.example.com/hooks",
        "http://10.0.0.7/hooks",
        "http://192.168.1.1/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://[::ffff:a9fe:a9fe]/hooks",
        "http://[fe80::1]/hooks",
        "http://unknown.example.com/hooks",
    ] {
        let r = app
            .post("/webhooks/v1/registration")
            .token(&p.app_user)
            .json(json!({"WebhookUrl": url, "WebhookEvents": BOTH}))
            .send()
            .await;
        r.assert_error(400, 800002);
        assert!(r.text.contains("refused"), "{url}: {}", r.text);
    }
    app.get("/webhooks/v1/registration")
        .token(&p.app_user)
        .send()
        .await
        .assert_error(404, 1000);

    // A public name at registration that resolves to loopback at delivery: refused then too,
    // and nothing is sent.
    let receiver = Receiver::start().await;
    let port = receiver
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    register(
        &app,
        &p,
        &format!("http://hooks.example.com:{port}/hooks"),
        BOTH,
    )
    .await;
    names.set("hooks.example.com", "127.0.0.1");
    let c = app.create_customer(&p).await;
    create(&app, &p, &c, state_owned()).await;
    app.run_pending_jobs().await;
    assert!(receiver.got().is_empty());
    let pending = deliveries(&app, &p, Some("pending")).await;
    let error = pending[0]["attempts"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("refused") && error.contains("loopback"),
        "{error}"
    );
    assert_eq!(pending[0]["attempts"][0]["responseCode"], Value::Null);
}

#[tokio::test]
async fn a_reset_removes_the_registration_and_deliveries_and_a_seed_emits_nothing() {
    let app = TestApp::new().await;
    let receiver = Receiver::start().await;
    let p = app.partner();
    register(&app, &p, &receiver.url, BOTH).await;
    let c = app.create_customer(&p).await;
    create(&app, &p, &c, state_owned()).await;
    app.run_pending_jobs().await;
    assert_eq!(deliveries(&app, &p, None).await.len(), 1);
    app.admin(
        Method::POST,
        &format!("/admin/v1/partners/{}/reset", p.id),
        None,
        200,
    )
    .await;
    assert!(deliveries(&app, &p, None).await.is_empty());
    app.get("/webhooks/v1/registration")
        .token(&p.app_user)
        .send()
        .await
        .assert_error(404, 1000);
    // Seeded state is not a transition.
    register(&app, &p, &receiver.url, BOTH).await;
    let seed = json!({"version": 1, "partners": [{"id": p.id.to_string(), "customers": [{
        "id": new_id(),
        "companyProfile": {"companyName": "Seeded", "domain": "seeded.example"},
        "qualifications": [{"qualification": "StateOwnedEntity", "vettingStatus": "Approved"}]
    }]}]});
    let r = app
        .post("/admin/v1/seed")
        .token(&app.admin_token())
        .json(seed)
        .send()
        .await;
    assert!(r.status < 300, "{}", r.text);
    app.run_pending_jobs().await;
    assert!(deliveries(&app, &p, None).await.is_empty());
    assert_eq!(receiver.got().len(), 1);
}
