//! events.md 4: `GET /metrics`, in a test binary of its own. The `metrics` recorder is one per
//! process, so nothing else runs in this binary and its tests take turns ([`one_at_a_time`]):
//! between a test's two scrapes only that test's requests, jobs and commits record, and every
//! counter is asserted by its exact delta (a recording that goes missing fails the test). The
//! gauges are read from the scraping app's own store, so they are exact too.

use std::time::Duration;

use axum::http::Method;
use qualify_server::metrics::{self, FAMILIES, Type};
use qualify_server::testing::*;
use serde_json::json;
use tokio::sync::MutexGuard;

/// Held for a whole test: the tests of this binary share the process's recorder, so they run
/// one after the other (libtest runs them on several threads otherwise).
async fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

/// The customer's only qualification request.
async fn only(app: &Api, p: &Partner, c: &str) -> serde_json::Value {
    let list = app.qualifications(p, c).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    list[0].clone()
}

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
    let _turn = one_at_a_time().await;
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
async fn creates_decisions_and_faults_move_their_series_by_exactly_what_happened() {
    let _turn = one_at_a_time().await;
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
        &app.create_qualification(&p, &by_read, education_at(Some("contoso.edu")))
            .await,
        "Education",
    );
    assert_created(
        &app.create_qualification(&p, &by_clock, state_owned()).await,
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
        &app.create_qualification(&reviewed, &c, state_owned()).await,
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
    // Two Education creates (the replay is none), two StateOwnedEntity ones.
    for (q, n) in [("Education", 2.0), ("StateOwnedEntity", 2.0)] {
        assert_eq!(
            moved(metrics::QUALIFICATIONS_CREATED, &[("qualification", q)]),
            n,
            "{q} creates"
        );
    }
    assert_eq!(moved(metrics::QUALIFICATIONS_CREATED, &[]), 4.0);
    // One decision of each kind, and no other.
    for (q, outcome, actor) in [
        ("Education", "Approved", "worker"),
        ("Education", "Denied", "scenario"),
        ("StateOwnedEntity", "Approved", "clock"),
        ("StateOwnedEntity", "Denied", "reviewer"),
    ] {
        assert_eq!(
            decisions(&after, q, outcome, actor) - decisions(&before, q, outcome, actor),
            1.0,
            "{q} {outcome} by {actor}"
        );
    }
    assert_eq!(moved(metrics::VETTING_DECISIONS, &[]), 4.0);
    assert_eq!(moved(metrics::FAULTS_FIRED, &[]), 1.0);
    // Five creates answered 201 (one of them a replay), one request failed by the fault.
    let created = [
        ("route", "/v1/customers/{customer_id}/qualifications"),
        ("method", "POST"),
        ("status", "201"),
    ];
    assert_eq!(moved(metrics::HTTP_REQUESTS, &created), 5.0);
    assert_eq!(
        moved(&format!("{}_count", metrics::HTTP_DURATION), &created[..2]),
        5.0
    );
    assert_eq!(moved(metrics::HTTP_REQUESTS, &[("status", "503")]), 1.0);
    // Every vetting job done: the gauges say so.
    assert_eq!(value(&after, metrics::VETTING_QUEUE_DEPTH, &[]), 0.0);
    assert_eq!(value(&after, metrics::VETTING_OLDEST_DUE, &[]), 0.0);
}

#[tokio::test]
async fn labels_are_route_templates_never_ids() {
    let _turn = one_at_a_time().await;
    let app = TestApp::new().await;
    let before = scrape(&app).await;
    let p = app.partner();
    let c = app.create_customer(&p).await;
    assert_created(
        &app.create_qualification(&p, &c, education()).await,
        "Education",
    );
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
    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&text, name, labels) - value(&before, name, labels)
    };
    for id in [c.as_str(), stray.as_str(), &p.id.to_string()] {
        assert!(!text.contains(id), "{id} appears in:\n{text}");
    }
    assert_eq!(
        moved(
            metrics::HTTP_REQUESTS,
            &[("route", "/v1/customers/{customer_id}"), ("status", "200")]
        ),
        1.0
    );
    assert_eq!(
        moved(
            metrics::HTTP_REQUESTS,
            &[("route", metrics::UNMATCHED_ROUTE), ("status", "404")]
        ),
        1.0
    );
}

#[tokio::test]
async fn metrics_off_answer_404_with_the_error_body() {
    let _turn = one_at_a_time().await;
    let app = TestApp::with_config(|c| c.metrics = false).await;
    app.get("/metrics").send().await.assert_error(404, 1000);
}

#[tokio::test]
async fn webhook_attempts_count_by_result_and_a_410_is_dead() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let _turn = one_at_a_time().await;
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
        &app.create_qualification(&p, &c, state_owned()).await,
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
    assert_eq!(
        moved(metrics::WEBHOOK_DELIVERIES, &[("result", "failed")]),
        1.0
    );
    assert_eq!(
        moved(metrics::WEBHOOK_DELIVERIES, &[("result", "disabled")]),
        1.0
    );
    assert_eq!(moved(metrics::WEBHOOK_DELIVERIES, &[]), 2.0);
    assert_eq!(moved(metrics::WEBHOOK_DEAD, &[]), 1.0);
}

#[tokio::test]
async fn one_write_is_one_commit_of_one() {
    let _turn = one_at_a_time().await;
    let app = TestApp::new().await;
    let p = app.partner();
    let before = scrape(&app).await;
    app.create_customer(&p).await;
    let after = scrape(&app).await;
    let moved = |name: &str| value(&after, name, &[]) - value(&before, name, &[]);
    let batch = metrics::STORE_COMMIT_BATCH;
    assert_eq!(moved(&format!("{batch}_count")), 1.0, "commits");
    assert_eq!(moved(&format!("{batch}_sum")), 1.0, "writes in them");
    assert_eq!(
        moved(&format!("{}_count", metrics::STORE_COMMIT_SECONDS)),
        1.0,
        "commit times"
    );
}
