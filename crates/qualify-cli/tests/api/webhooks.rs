//! events.md 2 against the real binary: the SSRF rule by auth mode, and durability — SIGKILL
//! with deliveries pending and in flight, again and again: after the restarts every transition's
//! event arrives at least once, and no event arrives without its transition (checked customer by
//! customer against the audit trail).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use qualify_core::PartnerId;
use serde_json::{Value, json};

use crate::figures;
use crate::helpers::*;
use crate::oidc::{claims, oidc_server_with, rsa, sign};

const BOTH: [&str; 2] = [
    "customer-qualification-created",
    "customer-qualification-updated",
];

/// A receiver on loopback: records `(webhook-id, body)` and answers 200 after up to `slow`
/// milliseconds (a slow receiver keeps deliveries in flight; the test may make it prompt).
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<(String, Value)>>>,
    slow: Arc<AtomicU64>,
}

async fn receiver(max_delay_ms: u64) -> Receiver {
    let got = Arc::new(Mutex::new(Vec::new()));
    let slow = Arc::new(AtomicU64::new(max_delay_ms));
    let (shared, delay) = (got.clone(), slow.clone());
    let app = axum::Router::new().fallback(
        move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let (got, max_delay_ms) = (shared.clone(), delay.load(Ordering::SeqCst));
            async move {
                if max_delay_ms > 0 {
                    // The receiver's own slowness (the scenario), not a wait of the test.
                    let wait = rand::random_range(0..max_delay_ms);
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                got.lock().unwrap().push((id, body));
                axum::http::StatusCode::OK
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { url, got, slow }
}

async fn register(s: &Server, token: &str, url: &str) -> Resp {
    s.post("/webhooks/v1/registration")
        .token(token)
        .json(json!({"WebhookUrl": url, "WebhookEvents": BOTH}))
        .send()
        .await
}

#[tokio::test]
async fn with_oidc_private_targets_are_refused_and_with_dev_auth_loopback_is_allowed() {
    let s = oidc_server_with(&[]).await;
    let token = sign(
        Algorithm::RS256,
        Some("rsa-1"),
        &claims(PartnerId::new_random()),
        &rsa(),
    );
    for url in [
        "http://127.0.0.1:9/hooks",
        "http://localhost:9/hooks",
        "http://10.1.2.3/hooks",
        "http://172.16.0.1/hooks",
        "http://192.168.0.1/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://[::ffff:169.254.169.254]/hooks",
        "http://[fe80::1]/hooks",
        "http://0.0.0.0/hooks",
    ] {
        let r = register(&s, &token, url).await;
        assert_eq!(r.status, 400, "{url}: {}", r.text);
        assert_eq!(r.body["code"], 800002, "{url}: {}", r.text);
    }
    let r = s
        .get("/webhooks/v1/registration")
        .token(&token)
        .send()
        .await;
    assert_eq!(r.status, 404, "nothing was stored: {}", r.text);

    // The operator may allow them.
    let open = oidc_server_with(&["--webhook-allow-private", "true"]).await;
    let r = register(&open, &token, "http://127.0.0.1:9/hooks").await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Dev auth: a test suite's receiver on loopback gets the events.
    let dev = Server::start().await;
    let rx = receiver(0).await;
    let p = dev.partner();
    assert_eq!(register(&dev, &p.app_user, &rx.url).await.status, 200);
    let c = dev.create_customer(&p).await;
    let r = dev
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .json(json!({"qualification": "StateOwnedEntity"}))
        .send()
        .await;
    assert_eq!(r.status, 201);
    let (_, body) = poll_until("an event", Duration::from_secs(20), async || {
        rx.got.lock().unwrap().first().cloned()
    })
    .await;
    assert_eq!(body["EventName"], "customer-qualification-created");
    assert_eq!(
        body["ResourceUri"],
        format!("{}/v1/customers/{c}/qualifications", dev.base),
        "{{base}} defaults to the listening address"
    );
}

/// Creates per writer and round at most.
const PER_ROUND: usize = 40;

fn kills() -> usize {
    std::env::var("QUALIFY_WEBHOOK_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

/// The customer a received event is about.
fn customer_of(body: &Value) -> String {
    body["ResourceUri"]
        .as_str()
        .and_then(|u| u.split("/v1/customers/").nth(1))
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_deliveries_pending_and_in_flight_loses_no_event() {
    let kills = kills();
    let started = Instant::now();
    let rx = receiver(20).await;
    let mut s = Server::start_with(Options {
        vetting: "auto",
        delay: "200ms",
        extra: vec!["--job-lease".into(), "1s".into()],
        ..Default::default()
    })
    .await;
    let p = s.partner();
    assert_eq!(register(&s, &p.app_user, &rx.url).await.status, 200);
    let customers: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    // Qualification requests acknowledged so far.
    let created = Arc::new(AtomicUsize::new(0));
    for round in 0..kills {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let (base, p, stop, customers, created) = (
                    s.base.clone(),
                    p.clone(),
                    stop.clone(),
                    customers.clone(),
                    created.clone(),
                );
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    // Bounded, so that the drain at the end (one partner's deliveries are
                    // sequential) stays short.
                    for _ in 0..PER_ROUND {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        // Test values decide: approved.test is Approved once its job runs.
                        let Ok(r) = http
                            .post(format!("{base}/v1/customers"))
                            .bearer_auth(&p.app_user)
                            .json(&customer_body("x.approved.test"))
                            .send()
                            .await
                        else {
                            return;
                        };
                        let Ok(c) = r.json::<Value>().await else {
                            return;
                        };
                        let Some(id) = c["id"].as_str().map(str::to_owned) else {
                            return;
                        };
                        customers.lock().unwrap().insert(id.clone());
                        let r = http
                            .post(format!("{base}/v1/customers/{id}/qualifications"))
                            .bearer_auth(&p.app_user)
                            .json(&json!({"qualification": "StateOwnedEntity"}))
                            .send()
                            .await;
                        if r.is_ok_and(|r| r.status() == 201) {
                            created.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        // A random moment of the load (deliveries of the earlier creates pending or in
        // flight): after a random number of this round's creates.
        let kill_after = created.load(Ordering::SeqCst) + rand::random_range(30..2 * PER_ROUND);
        poll_until("the round's creates", Duration::from_secs(30), async || {
            let done = tasks.iter().all(|t| t.is_finished());
            (done || created.load(Ordering::SeqCst) >= kill_after).then_some(())
        })
        .await;
        stop.store(true, Ordering::SeqCst);
        s.kill9();
        for t in tasks {
            t.await.unwrap();
        }
        s.restart().await;
        eprintln!(
            "round {round}: {} customers",
            customers.lock().unwrap().len()
        );
    }
    // Drain: every request decided, every delivery done (one partner's deliveries go one after
    // the other: the receiver answers at once now that no kill is coming).
    rx.slow.store(0, Ordering::SeqCst);
    let admin = s.admin_token();
    s.eventually(
        "every request decided and every delivery done",
        Duration::from_secs(180),
        async || {
            let pending = s
                .get(&format!(
                    "/admin/v1/partners/{}/deliveries?status=pending",
                    p.id
                ))
                .token(&admin)
                .send()
                .await;
            let queue = s.reviews().await;
            let in_review = queue.as_array().map_or(0, Vec::len);
            (pending.body.as_array().is_some_and(Vec::is_empty) && in_review == 0).then_some(())
        },
    )
    .await;
    // Row by row: the audit trail of each customer against what the receiver got.
    let got = rx.got.lock().unwrap().clone();
    let mut received: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, body) in &got {
        received
            .entry(customer_of(body))
            .or_default()
            .insert(body["EventName"].as_str().unwrap_or_default().to_owned());
    }
    let customers = customers.lock().unwrap().clone();
    let (mut transitions, mut missing, mut orphans) = (0, vec![], vec![]);
    for c in &customers {
        let history = s.history(c, "StateOwnedEntity").await;
        let mut expected = BTreeSet::new();
        for e in history.as_array().cloned().unwrap_or_default() {
            transitions += 1;
            expected.insert(if e.get("from").is_none_or(Value::is_null) {
                "customer-qualification-created".to_owned()
            } else {
                "customer-qualification-updated".to_owned()
            });
        }
        let got = received.remove(c).unwrap_or_default();
        missing.extend(expected.difference(&got).map(|e| format!("{c}: {e}")));
        orphans.extend(got.difference(&expected).map(|e| format!("{c}: {e}")));
    }
    orphans.extend(
        received
            .keys()
            .map(|c| format!("{c}: an event for an unknown customer")),
    );
    assert!(
        missing.is_empty(),
        "transitions without their event: {missing:?}"
    );
    assert!(
        orphans.is_empty(),
        "events without their transition: {orphans:?}"
    );
    assert!(transitions > 0, "the workload made no transitions");
    let duplicates = got.len()
        - got
            .iter()
            .map(|(id, _)| id.clone())
            .collect::<BTreeSet<_>>()
            .len();
    figures::record(&format!(
        "webhook durability: {kills} SIGKILLs, {} customers, {transitions} transitions, {} \
         deliveries received ({duplicates} repeated after a crash), none missing, none without \
         its transition ({} s)",
        customers.len(),
        got.len(),
        started.elapsed().as_secs()
    ));
}
