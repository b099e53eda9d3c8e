//! control.md 4: the virtual clock (global and per partner).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::http::Method;
use qualify_core::jobs::{Job, JobFinish, JobType, NewJob};
use qualify_core::policy::VettingMode;
use qualify_server::ServerConfig;
use qualify_server::worker::{Handlers, JobContext, JobError, JobHandler};
use serde_json::{Value, json};

use crate::support::*;

fn clock_path(p: &Partner) -> String {
    format!("/admin/v1/partners/{}/clock", p.id)
}

async fn freeze(app: &TestApp, path: &str, at: &str) -> Value {
    app.admin(Method::PUT, path, Some(json!({"frozenAt": at})), 200)
        .await
}

#[tokio::test]
async fn clocks_follow_real_time_until_set_and_partners_follow_the_global_one() {
    let app = TestApp::new().await;
    let p = app.partner();
    assert_eq!(
        app.admin(Method::GET, "/admin/v1/clock", None, 200).await,
        json!({"now": "2026-01-05T12:00:00Z", "mode": "system", "scope": "global"}),
        "the server's wall clock (a manual one in this harness)"
    );
    freeze(&app, "/admin/v1/clock", "2030-01-01T00:00:00Z").await;
    assert_eq!(
        app.admin(Method::GET, &clock_path(&p), None, 200).await,
        json!({"now": "2030-01-01T00:00:00Z", "mode": "frozen", "scope": "global"})
    );
    let c = app.create_customer(&p).await;
    let r = create(&app, &p, &c, state_owned()).await;
    assert_eq!(r.body["vettingCreateDate"], "2030-01-01T00:00:00Z");
    // A partner clock of its own: independent of the global one and of other partners.
    let other = app.partner();
    freeze(&app, &clock_path(&p), "2031-06-01T00:00:00Z").await;
    assert_eq!(
        app.admin(Method::GET, &clock_path(&p), None, 200).await,
        json!({"now": "2031-06-01T00:00:00Z", "mode": "frozen", "scope": "partner"})
    );
    assert_eq!(
        app.admin(Method::GET, &clock_path(&other), None, 200).await["now"],
        "2030-01-01T00:00:00Z"
    );
    let c2 = app.create_customer(&other).await;
    assert_eq!(
        create(&app, &other, &c2, state_owned()).await.body["vettingCreateDate"],
        "2030-01-01T00:00:00Z"
    );
    // DELETE: the partner follows the global clock again; the global one real time.
    let r = app
        .delete(&clock_path(&p))
        .token(&app.admin_token())
        .send()
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        app.admin(Method::GET, &clock_path(&p), None, 200).await["scope"],
        "global"
    );
    let r = app
        .delete("/admin/v1/clock")
        .token(&app.admin_token())
        .send()
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        app.admin(Method::GET, &clock_path(&p), None, 200).await,
        json!({"now": "2026-01-05T12:00:00Z", "mode": "system", "scope": "global"})
    );
}

#[tokio::test]
async fn time_never_goes_back_once_a_scope_has_a_clock() {
    let app = TestApp::new().await;
    let p = app.partner();
    // Without a clock of its own a scope may be frozen anywhere, the past included.
    freeze(&app, &clock_path(&p), "2020-01-01T00:00:00Z").await;
    for (method, path, body) in [
        (
            Method::PUT,
            clock_path(&p),
            json!({"frozenAt": "2019-12-31T23:59:59Z"}),
        ),
        (
            Method::POST,
            format!("{}/advance", clock_path(&p)),
            json!({"to": "2019-01-01T00:00:00Z"}),
        ),
    ] {
        app.req(method, &path)
            .token(&app.admin_token())
            .json(body)
            .send()
            .await
            .assert_error(409, 900313);
    }
    assert_eq!(
        app.admin(Method::GET, &clock_path(&p), None, 200).await["now"],
        "2020-01-01T00:00:00Z"
    );
    for (body, field) in [
        (json!({"by": "soon"}), "by"),
        (json!({"to": "tomorrow"}), "to"),
        (json!({}), "by"),
        (json!({"by": "1s", "to": "2030-01-01T00:00:00Z"}), "to"),
        (json!({"by": "1s", "extra": 1}), "extra"),
        // Beyond what qualify keeps: refused, never an overflow (a 500) or a wrap (a no-op).
        (json!({"by": "99999999999h"}), "by"),
        (json!({"by": "PT4294967296H"}), "by"),
        (json!({"by": "36501d"}), "by"),
        (json!({"to": "9999-12-31T23:59:59Z"}), "to"),
    ] {
        let r = app
            .post(&format!("{}/advance", clock_path(&p)))
            .token(&app.admin_token())
            .json(body.clone())
            .send()
            .await;
        r.assert_error(400, 800002);
        assert!(
            r.body["description"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}:")),
            "{body}: {}",
            r.text
        );
    }
    for at in ["not a time", "9999-12-31T23:59:59Z", "1969-12-31T23:59:59Z"] {
        app.put(&clock_path(&p))
            .token(&app.admin_token())
            .json(json!({ "frozenAt": at }))
            .send()
            .await
            .assert_error(400, 800002);
    }
    assert_eq!(
        app.admin(Method::GET, &clock_path(&p), None, 200).await["now"],
        "2020-01-01T00:00:00Z",
        "nothing refused moved the clock"
    );
    // At the latest instant, the longest scenario delay still has a date.
    freeze(&app, &clock_path(&p), "9000-01-01T00:00:00Z").await;
    app.admin(
        Method::PUT,
        &format!("/admin/v1/partners/{}/vetting", p.id),
        Some(json!({"rules": [{"outcome": "Approved", "after": "36500d"}]})),
        200,
    )
    .await;
    let c = app.create_customer(&p).await;
    let r = create(&app, &p, &c, state_owned()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    app.post(&format!("{}/advance", clock_path(&p)))
        .token(&app.admin_token())
        .json(json!({"by": "1s"}))
        .send()
        .await
        .assert_error(400, 800002);
}

#[tokio::test]
async fn advance_runs_the_due_work_each_at_its_own_time_and_lists_it() {
    let app = TestApp::with_config(|c: &mut ServerConfig| {
        c.policy.mode = VettingMode::Auto;
        c.policy.delay = Duration::from_secs(3600);
    })
    .await;
    let p = app.partner();
    freeze(&app, &clock_path(&p), "2026-03-01T00:00:00Z").await;
    let first = app.create_customer(&p).await;
    assert_created(
        &create(&app, &p, &first, education_at(Some("contoso.edu"))).await,
        "Education",
    );
    app.admin(
        Method::POST,
        &format!("{}/advance", clock_path(&p)),
        Some(json!({"by": "30m"})),
        200,
    )
    .await;
    let second = app.create_customer(&p).await;
    assert_created(
        &create(&app, &p, &second, education_at(Some("contoso.com"))).await,
        "Education",
    );
    let advanced = app
        .admin(
            Method::POST,
            &format!("{}/advance", clock_path(&p)),
            Some(json!({"by": "PT2H"})),
            200,
        )
        .await;
    assert_eq!(
        advanced,
        json!({"now": "2026-03-01T02:30:00Z", "applied": [
            {"customerId": first, "qualification": "Education", "from": "InReview", "to": "Approved", "at": "2026-03-01T01:00:00Z"},
            {"customerId": second, "qualification": "Education", "from": "InReview", "to": "Denied", "reason": "Not an Academic Domain", "at": "2026-03-01T01:30:00Z"}
        ]})
    );
    assert_eq!(only(&app, &p, &second).await["vettingStatus"], "Denied");
    // Another partner's work is not run by this partner's advance.
    let other = app.partner();
    let c = app.create_customer(&other).await;
    assert_created(
        &create(&app, &other, &c, education_at(Some("contoso.edu"))).await,
        "Education",
    );
    let again = app
        .admin(
            Method::POST,
            &format!("{}/advance", clock_path(&p)),
            Some(json!({"by": "72h"})),
            200,
        )
        .await;
    assert_eq!(again["applied"], json!([]));
    assert_eq!(only(&app, &other, &c).await["vettingStatus"], "InReview");
    // A global advance runs the work of the partners that follow the global clock.
    let global = app
        .admin(
            Method::POST,
            "/admin/v1/clock/advance",
            Some(json!({"by": "1h"})),
            200,
        )
        .await;
    assert_eq!(global["applied"][0]["customerId"], c.as_str());
    assert_eq!(global["now"], "2026-01-05T13:00:00Z");
    assert_eq!(
        app.admin(Method::GET, "/admin/v1/clock", None, 200).await["mode"],
        "frozen",
        "advance on a scope without a clock freezes it first"
    );
}

/// A job type whose handler fails its first attempt, to show retries stepped through inside an
/// advance.
struct Flaky;

impl JobType for Flaky {
    const KIND: &'static str = "flaky";
    type Payload = Value;
}

struct FlakyOnce(Arc<std::sync::atomic::AtomicUsize>);

#[async_trait]
impl JobHandler<Flaky> for FlakyOnce {
    async fn run(
        &self,
        ctx: &JobContext,
        job: &Job,
        _: Value,
        owner: &str,
        now: time::OffsetDateTime,
    ) -> Result<JobFinish, JobError> {
        if self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            return Err(JobError("the first attempt fails".into()));
        }
        ctx.store
            .complete_job(
                job,
                owner,
                now,
                &JobFinish::Ended(qualify_core::jobs::JobOutcome::Succeeded),
            )
            .await
            .map_err(JobError::from)?;
        Ok(JobFinish::Ended(qualify_core::jobs::JobOutcome::Succeeded))
    }
}

#[tokio::test]
async fn work_that_becomes_due_inside_the_span_runs_too() {
    let attempts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = TestApp::on_with(
        qualify_server::testing::test_store().await,
        ServerConfig {
            rate_limit_per_minute: 0,
            ..ServerConfig::default()
        },
        Handlers::standard().register::<Flaky>(FlakyOnce(attempts.clone())),
    )
    .await;
    let p = app.partner();
    freeze(&app, &clock_path(&p), "2026-03-01T00:00:00Z").await;
    app.state
        .store()
        .enqueue_job(
            NewJob::of::<Flaky>(
                p.id,
                &json!({}),
                qualify_server::control::instant("", "2026-03-01T00:00:05Z").unwrap(),
            ),
            None,
        )
        .await
        .unwrap();
    app.admin(
        Method::POST,
        &format!("{}/advance", clock_path(&p)),
        Some(json!({"by": "10s"})),
        200,
    )
    .await;
    assert_eq!(
        attempts.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "the retry scheduled 1 s after the failed attempt ran within the advance"
    );
    assert_eq!(
        app.state
            .store()
            .unfinished_due_by(
                qualify_core::engine::Scope::Partner(p.id),
                qualify_server::control::instant("", "2030-01-01T00:00:00Z").unwrap()
            )
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn resume_lets_time_run_on_from_the_frozen_instant() {
    let app = TestApp::new().await;
    let p = app.partner();
    freeze(&app, &clock_path(&p), "2030-01-01T00:00:00Z").await;
    let running = app
        .admin(
            Method::POST,
            &format!("{}/resume", clock_path(&p)),
            None,
            200,
        )
        .await;
    assert_eq!(
        running,
        json!({"now": "2030-01-01T00:00:00Z", "mode": "running", "scope": "partner"})
    );
    app.advance(Duration::from_secs(90));
    assert_eq!(
        app.admin(Method::GET, &clock_path(&p), None, 200).await["now"],
        "2030-01-01T00:01:30Z"
    );
    // Advancing a running clock moves its offset; it keeps running.
    let a = app
        .admin(
            Method::POST,
            &format!("{}/advance", clock_path(&p)),
            Some(json!({"by": "1h"})),
            200,
        )
        .await;
    assert_eq!(a["now"], "2030-01-01T01:01:30Z");
    assert_eq!(
        app.admin(Method::GET, &clock_path(&p), None, 200).await["mode"],
        "running"
    );
}

#[tokio::test]
async fn the_idempotency_window_follows_the_partners_clock() {
    let app = TestApp::new().await;
    let p = app.partner();
    freeze(&app, &clock_path(&p), "2030-01-01T00:00:00Z").await;
    let rid = new_id();
    let send = || {
        app.post("/v1/customers")
            .token(&p.app_user)
            .request_id(&rid)
            .json(customer_body("contoso.com"))
            .send()
    };
    let first = send().await;
    assert_eq!(first.status, 201);
    app.admin(
        Method::POST,
        &format!("{}/advance", clock_path(&p)),
        Some(json!({"by": "23h"})),
        200,
    )
    .await;
    let replay = send().await;
    assert_eq!(replay.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(replay.body["id"], first.body["id"]);
    app.admin(
        Method::POST,
        &format!("{}/advance", clock_path(&p)),
        Some(json!({"by": "2h"})),
        200,
    )
    .await;
    let fresh = send().await;
    assert_eq!(fresh.status, 201);
    assert_eq!(
        fresh.header("Idempotent-Replayed"),
        None,
        "after 25 virtual hours the key starts anew"
    );
    assert_ne!(fresh.body["id"], first.body["id"]);
}

#[tokio::test]
async fn validation_status_and_audit_times_follow_the_clock() {
    let app = TestApp::new().await;
    let p = app.partner();
    freeze(&app, &clock_path(&p), "2029-05-05T05:05:05Z").await;
    let c = app.create_customer(&p).await;
    app.admin(
        Method::PUT,
        &format!("/admin/v1/customers/{c}/validationStatus"),
        Some(json!({"status": "Allowed"})),
        200,
    )
    .await;
    let s = app
        .get(&format!("/v1/customers/{c}/validationStatus?type=account"))
        .token(&p.app_user)
        .send()
        .await;
    assert!(
        s.body["lastUpdateDateTime"]
            .as_str()
            .unwrap()
            .starts_with("2029-05-05T05:05:05"),
        "{}",
        s.text
    );
    assert_created(
        &create(&app, &p, &c, state_owned()).await,
        "StateOwnedEntity",
    );
    let d = app.decide(&c, "StateOwnedEntity", "Approved", None).await;
    assert_eq!(d["vettingCreateDate"], "2029-05-05T05:05:05Z");
    let h = app.history(&c, "StateOwnedEntity").await;
    assert_eq!(
        (h[0]["at"].clone(), h[1]["at"].clone()),
        (json!("2029-05-05T05:05:05Z"), json!("2029-05-05T05:05:05Z"))
    );
}

#[tokio::test]
async fn an_advance_that_runs_out_of_time_answers_503_with_what_it_applied() {
    let app = TestApp::with_config(|c: &mut ServerConfig| c.advance_timeout = Duration::ZERO).await;
    let p = app.partner();
    let r = app
        .post(&format!("{}/advance", clock_path(&p)))
        .token(&app.admin_token())
        .json(json!({"by": "1h"}))
        .send()
        .await;
    r.assert_error(503, 900503);
    assert_eq!(r.body["data"], json!([]));
    assert!(r.header("Retry-After").is_some());
}
