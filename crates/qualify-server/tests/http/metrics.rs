//! events.md 4: `GET /metrics`. The recorder is one per process and the tests of this binary
//! run at once, so counters are compared by how much they moved (at least what a test did);
//! the gauges are read from the scraping app's own store, so they are exact.

use std::time::Duration;

use axum::http::Method;
use qualify_server::metrics::{self, FAMILIES, Type};
use serde_json::json;

use crate::support::*;

async fn scrape(app: &TestApp) -> String {
    let r = app.get("/metrics").send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("text/plain; version=0.0.4"));
    r.text
}

/// The sum of the series of `name` whose labels include every pair of `labels`.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, v) = l.rsplit_once(' ')?;
            let rest = series.strip_prefix(name)?;
            (rest.is_empty() || rest.starts_with('{')).then_some(())?;
            labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
                .then(|| v.parse::<f64>().ok())?
        })
        .sum()
}

#[tokio::test]
async fn metrics_answer_prometheus_text_without_a_token_with_every_family() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/healthz").send().await.status, 200);
    let text = scrape(&app).await;
    for (name, kind) in FAMILIES {
        let kind = match kind {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
            Type::Histogram => "histogram",
        };
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "no {kind} {name} in:\n{text}"
        );
    }
    assert!(text.contains(&format!("# HELP {} ", metrics::VETTING_DECISIONS)));
    // Buckets a Prometheus parser accepts, ending with +Inf.
    assert!(text.contains(&format!(
        "{}_bucket{{route=\"/healthz\",method=\"GET\",le=\"+Inf\"}}",
        metrics::HTTP_DURATION
    )));
    assert!(value(&text, metrics::PROCESS_RESIDENT_MEMORY, &[]) > 0.0);
    assert!(value(&text, metrics::PROCESS_START_TIME, &[]) > 1.7e9);
}

#[tokio::test]
async fn creates_decisions_commits_and_faults_move_their_series() {
    let app = TestApp::new().await;
    let (p, reviewed) = (app.partner(), app.partner());
    app.admin(
        Method::PUT,
        &format!("/admin/v1/partners/{}/vetting", p.id),
        Some(json!({"rules": [
            {"match": {"qualification": "StateOwnedEntity"}, "outcome": "Approved", "after": "1h"},
            {"match": {"qualification": "Education", "website": "*.edu"}, "outcome": "Denied",
                "reason": "Not an Education Customer", "afterReads": 1},
            {"match": {"qualification": "Education"}, "outcome": "Approved"}
        ]})),
        200,
    )
    .await;
    let before = scrape(&app).await;
    let decisions = |text: &str, q: &str, outcome: &str, actor: &str| {
        value(
            text,
            metrics::VETTING_DECISIONS,
            &[
                ("qualification", q),
                ("outcome", outcome),
                ("actor_kind", actor),
            ],
        )
    };
    // A create (its replay is not a create), decided by the worker.
    let (by_worker, by_read, by_clock) = (
        app.create_customer(&p).await,
        app.create_customer(&p).await,
        app.create_customer(&p).await,
    );
    let rid = new_id();
    for _ in 0..2 {
        let r = app
            .post(&qualifications_path(&by_worker))
            .token(&p.app_user)
            .request_id(&rid)
            .json(education_at(Some("fabrikam.com")))
            .send()
            .await;
        assert_created(&r, "Education");
    }
    assert_created(
        &create(&app, &p, &by_read, education_at(Some("contoso.edu"))).await,
        "Education",
    );
    assert_created(
        &create(&app, &p, &by_clock, state_owned()).await,
        "StateOwnedEntity",
    );
    // Pending: two vetting jobs (reads decide the third request), one due for 7 s.
    app.clock.advance(Duration::from_secs(7));
    let text = scrape(&app).await;
    assert_eq!(value(&text, metrics::VETTING_QUEUE_DEPTH, &[]), 2.0);
    assert_eq!(value(&text, metrics::VETTING_OLDEST_DUE, &[]), 7.0);
    app.run_pending_jobs().await;
    assert_eq!(only(&app, &p, &by_read).await["vettingStatus"], "Denied");
    app.admin(
        Method::POST,
        &format!("/admin/v1/partners/{}/clock/advance", p.id),
        Some(json!({"by": "2h"})),
        200,
    )
    .await;
    // A reviewer's decision.
    let c = app.create_customer(&reviewed).await;
    assert_created(
        &create(&app, &reviewed, &c, state_owned()).await,
        "StateOwnedEntity",
    );
    app.run_pending_jobs().await;
    app.decide(&c, "StateOwnedEntity", "Denied", Some("No"))
        .await;
    // A fault that fires.
    app.admin(
        Method::POST,
        "/admin/v1/faults",
        Some(json!({
            "match": {"method": "GET", "path": "/v1/customers/*/qualifications", "partner": p.id.to_string()},
            "phase": "before",
            "response": {"status": 503, "description": "Service unavailable"},
            "times": 1
        })),
        201,
    )
    .await;
    let r = app
        .get(&qualifications_path(&by_clock))
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(r.status, 503, "{}", r.text);

    let after = scrape(&app).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let edu = [("qualification", "Education")];
    assert!(moved(metrics::QUALIFICATIONS_CREATED, &edu) >= 2.0);
    assert!(
        decisions(&after, "Education", "Approved", "worker")
            > decisions(&before, "Education", "Approved", "worker")
    );
    assert!(
        decisions(&after, "Education", "Denied", "scenario")
            > decisions(&before, "Education", "Denied", "scenario")
    );
    assert!(
        decisions(&after, "StateOwnedEntity", "Approved", "clock")
            > decisions(&before, "StateOwnedEntity", "Approved", "clock")
    );
    assert!(
        decisions(&after, "StateOwnedEntity", "Denied", "reviewer")
            > decisions(&before, "StateOwnedEntity", "Denied", "reviewer")
    );
    assert!(moved(metrics::FAULTS_FIRED, &[]) >= 1.0);
    assert!(moved(&format!("{}_count", metrics::STORE_COMMIT_BATCH), &[]) >= 1.0);
    assert!(moved(&format!("{}_count", metrics::STORE_COMMIT_SECONDS), &[]) >= 1.0);
    let created = [
        ("route", "/v1/customers/{customer_id}/qualifications"),
        ("method", "POST"),
        ("status", "201"),
    ];
    assert!(moved(metrics::HTTP_REQUESTS, &created) >= 5.0);
    assert!(moved(metrics::HTTP_REQUESTS, &[("status", "503")]) >= 1.0);
    // Every vetting job done: the gauges say so.
    assert_eq!(value(&after, metrics::VETTING_QUEUE_DEPTH, &[]), 0.0);
    assert_eq!(value(&after, metrics::VETTING_OLDEST_DUE, &[]), 0.0);
}

#[tokio::test]
async fn labels_are_route_templates_never_ids() {
    let app = TestApp::new().await;
    let p = app.partner();
    let c = app.create_customer(&p).await;
    assert_created(&create(&app, &p, &c, education()).await, "Education");
    assert_eq!(
        app.get(&format!("/v1/customers/{c}"))
            .token(&p.app_user)
            .send()
            .await
            .status,
        200
    );
    let stray = new_id();
    let r = app.get(&format!("/no/such/route/{stray}")).send().await;
    assert_eq!(r.status, 404, "{}", r.text);
    let text = scrape(&app).await;
    for id in [c.as_str(), stray.as_str(), &p.id.to_string()] {
        assert!(!text.contains(id), "{id} appears in:\n{text}");
    }
    assert!(
        value(
            &text,
            metrics::HTTP_REQUESTS,
            &[("route", "/v1/customers/{customer_id}"), ("status", "200")]
        ) >= 1.0
    );
    assert!(
        value(
            &text,
            metrics::HTTP_REQUESTS,
            &[("route", metrics::UNMATCHED_ROUTE), ("status", "404")]
        ) >= 1.0
    );
}

#[tokio::test]
async fn metrics_off_answer_404_with_the_error_body() {
    let app = TestApp::with_config(|c| c.metrics = false).await;
    app.get("/metrics").send().await.assert_error(404, 1000);
}

#[tokio::test]
async fn webhook_attempts_count_by_result_and_a_410_is_dead() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A receiver that answers 500, then 410.
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let receiver = axum::Router::new().fallback(move || {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        async move { axum::http::StatusCode::from_u16(if n == 0 { 500 } else { 410 }).unwrap() }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let app = TestApp::new().await;
    let p = app.partner();
    let r = app
        .post("/webhooks/v1/registration")
        .token(&p.app_user)
        .json(json!({"WebhookUrl": url, "WebhookEvents": ["customer-qualification-created"]}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let before = scrape(&app).await;
    let c = app.create_customer(&p).await;
    assert_created(
        &create(&app, &p, &c, state_owned()).await,
        "StateOwnedEntity",
    );
    app.run_pending_jobs().await;
    app.advance(Duration::from_secs(5));
    app.run_pending_jobs().await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let after = scrape(&app).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert!(moved(metrics::WEBHOOK_DELIVERIES, &[("result", "failed")]) >= 1.0);
    assert!(moved(metrics::WEBHOOK_DELIVERIES, &[("result", "disabled")]) >= 1.0);
    assert!(moved(metrics::WEBHOOK_DEAD, &[]) >= 1.0);
}
