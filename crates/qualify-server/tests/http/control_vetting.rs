//! control.md 3: per-partner vetting scenarios and the test values.

use std::time::Duration;

use axum::http::Method;
use qualify_core::policy::VettingMode;
use qualify_server::ServerConfig;
use serde_json::{Value, json};

use crate::support::*;

async fn set_scenario(app: &TestApp, p: &Partner, rules: Value) -> Value {
    app.admin(
        Method::PUT,
        &format!("/admin/v1/partners/{}/vetting", p.id),
        Some(json!({ "rules": rules })),
        200,
    )
    .await
}

async fn advance(app: &TestApp, p: &Partner, by: &str) -> Value {
    app.admin(
        Method::POST,
        &format!("/admin/v1/partners/{}/clock/advance", p.id),
        Some(json!({ "by": by })),
        200,
    )
    .await
}

#[tokio::test]
async fn a_scenario_is_stored_shown_and_removed() {
    let app = TestApp::new().await;
    let p = app.partner();
    let path = format!("/admin/v1/partners/{}/vetting", p.id);
    assert_eq!(
        app.admin(Method::GET, &path, None, 200).await,
        json!({"rules": []})
    );
    let rules = json!([
        {"match": {"qualification": "Education", "website": "*.edu"}, "outcome": "Approved", "after": "2s"},
        {"match": {"qualification": "Education"}, "outcome": "Denied", "reason": "Not an Education Customer", "afterReads": 2},
        {"match": {"qualification": "StateOwnedEntity"}, "outcome": "Manual"},
        {"match": {}, "outcome": "Auto"}
    ]);
    let stored = set_scenario(&app, &p, rules.clone()).await;
    assert_eq!(stored, json!({ "rules": rules }));
    assert_eq!(app.admin(Method::GET, &path, None, 200).await, stored);
    // Values are kept in their canonical spelling: GET shows what the scenario does.
    let loose = json!([{"match": {"qualification": " education ", "website": "*.EDU"},
        "outcome": " approved ", "after": " 2s "}]);
    assert_eq!(
        set_scenario(&app, &p, loose).await,
        json!({"rules": [{"match": {"qualification": "Education", "website": "*.edu"},
            "outcome": "Approved", "after": "2s"}]})
    );
    assert_eq!(
        app.admin(Method::GET, &path, None, 200).await["rules"][0]["outcome"],
        "Approved"
    );
    set_scenario(&app, &p, rules.clone()).await;
    // Another partner's scenario is its own.
    let other = app.partner();
    assert_eq!(
        app.admin(
            Method::GET,
            &format!("/admin/v1/partners/{}/vetting", other.id),
            None,
            200
        )
        .await,
        json!({"rules": []})
    );
    let r = app.delete(&path).token(&app.admin_token()).send().await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        app.admin(Method::GET, &path, None, 200).await,
        json!({"rules": []})
    );
}

#[tokio::test]
async fn bad_scenarios_are_refused_naming_the_field_and_change_nothing() {
    let app = TestApp::new().await;
    let p = app.partner();
    let path = format!("/admin/v1/partners/{}/vetting", p.id);
    let good = set_scenario(&app, &p, json!([{"outcome": "Manual"}])).await;
    for (body, field) in [
        (
            json!({"rules": [{"outcome": "Approved"}, {"outcome": "Approved"}, {"outcome": "Approved", "after": "soon"}]}),
            "rules[2].after",
        ),
        (json!({"rules": [{"outcome": "Denied"}]}), "rules[0].reason"),
        (
            json!({"rules": [{"outcome": "Approved", "after": "1s", "afterReads": 1}]}),
            "rules[0].afterReads",
        ),
        (
            json!({"rules": [{"outcome": "Approved", "afterRead": 2}]}),
            "rules[0].afterRead",
        ),
        (json!({"rules": [{"outcome": "Maybe"}]}), "rules[0].outcome"),
        (
            json!({"rules": [{"match": {"qualification": "None"}, "outcome": "Auto"}]}),
            "rules[0].match.qualification",
        ),
        (
            json!({"rules": [{"match": {"site": "x"}, "outcome": "Auto"}]}),
            "rules[0].match.site",
        ),
        (json!({"rules": "all"}), "rules"),
    ] {
        let r = app
            .put(&path)
            .token(&app.admin_token())
            .json(body.clone())
            .send()
            .await;
        r.assert_error(400, 800002);
        let d = r.body["description"].as_str().unwrap();
        assert!(d.starts_with(&format!("{field}:")), "{body}: {d}");
    }
    assert_eq!(app.admin(Method::GET, &path, None, 200).await, good);
}

#[tokio::test]
async fn each_outcome_and_trigger_and_the_rule_is_named_in_the_audit_event() {
    let app = TestApp::new().await;
    let p = app.partner();
    set_scenario(
        &app,
        &p,
        json!([
            {"match": {"website": "*.edu"}, "outcome": "Approved", "after": "2s"},
            {"match": {"qualification": "Education", "educationSegment": "K12"}, "outcome": "Denied", "reason": "Not an eligible Library"},
            {"match": {"qualification": "StateOwnedEntity"}, "outcome": "Manual"},
            {"match": {"domain": "*.example"}, "outcome": "Auto"}
        ]),
    )
    .await;
    let edu = app.create_customer(&p).await;
    assert_created(
        &create(
            &app,
            &p,
            &edu,
            education_at(Some("https://www.contoso.edu/x")),
        )
        .await,
        "Education",
    );
    let k12 = app.create_customer(&p).await;
    assert_created(
        &create(&app, &p, &k12, json!({"qualification": "Education", "educationSegment": "K12", "website": "contoso.com"})).await,
        "Education",
    );
    let soe = app.create_customer(&p).await;
    assert_created(
        &create(&app, &p, &soe, state_owned()).await,
        "StateOwnedEntity",
    );
    let auto = app
        .create_customer_with_domain(&p, "fabrikam.example")
        .await;
    assert_created(
        &create(&app, &p, &auto, education_at(Some("fabrikam.com"))).await,
        "Education",
    );
    // The server runs manual vetting: only the rules decide.
    app.run_pending_jobs().await;
    assert_eq!(only(&app, &p, &k12).await["vettingStatus"], "Denied");
    assert_eq!(
        only(&app, &p, &k12).await["vettingReason"],
        "Not an eligible Library"
    );
    assert_eq!(
        only(&app, &p, &auto).await["vettingReason"],
        "Not an Academic Domain",
        "Auto: the built-in policy"
    );
    assert_eq!(
        only(&app, &p, &edu).await["vettingStatus"],
        "InReview",
        "after 2s, not yet"
    );
    let applied = advance(&app, &p, "2s").await;
    assert_eq!(
        applied["applied"],
        json!([{"customerId": edu, "qualification": "Education", "from": "InReview", "to": "Approved", "at": "2026-01-05T12:00:02Z"}])
    );
    assert_eq!(only(&app, &p, &edu).await["vettingStatus"], "Approved");
    advance(&app, &p, "72h").await;
    assert_eq!(
        only(&app, &p, &soe).await["vettingStatus"],
        "InReview",
        "Manual waits for a reviewer"
    );
    let h = app.history(&edu, "Education").await;
    assert_eq!(h[0]["reason"], "scenario rule 1", "{h}");
    assert_eq!(h[1]["actor"], "qualify:scenario", "{h}");
    assert_eq!(
        app.history(&soe, "StateOwnedEntity").await[0]["reason"],
        "scenario rule 3"
    );
    assert_eq!(
        app.history(&auto, "Education").await[1]["actor"],
        "vetting-policy"
    );
}

#[tokio::test]
async fn after_reads_shows_the_decision_on_exactly_the_nth_read() {
    let app = TestApp::new().await;
    let p = app.partner();
    set_scenario(
        &app,
        &p,
        json!([{"match": {"qualification": "Education"}, "outcome": "Denied", "reason": "Not an Education Customer", "afterReads": 3}]),
    )
    .await;
    let c = app.create_customer(&p).await;
    assert_created(&create(&app, &p, &c, education()).await, "Education");
    app.advance(Duration::from_secs(86_400));
    app.run_pending_jobs().await;
    for read in 1..=2 {
        assert_eq!(
            only(&app, &p, &c).await["vettingStatus"],
            "InReview",
            "read {read}"
        );
    }
    // The legacy single-value read counts too (it includes the request).
    let legacy = app
        .get(&format!("/v1/customers/{c}/qualification"))
        .token(&p.app_only)
        .send()
        .await;
    assert_eq!(
        legacy.body,
        json!("none"),
        "the third read shows the denial: {}",
        legacy.text
    );
    let q = only(&app, &p, &c).await;
    assert_eq!(
        (q["vettingStatus"].clone(), q["vettingReason"].clone()),
        (json!("Denied"), json!("Not an Education Customer"))
    );
    let h = app.history(&c, "Education").await;
    assert_eq!(h.as_array().unwrap().len(), 2, "one decision: {h}");
    // An operator's reads are not the partner's.
    let c2 = app.create_customer(&p).await;
    assert_created(&create(&app, &p, &c2, education()).await, "Education");
    app.history(&c2, "Education").await;
    app.reviews().await;
    assert_eq!(only(&app, &p, &c2).await["vettingStatus"], "InReview");
}

#[tokio::test]
async fn the_rule_is_chosen_when_the_request_is_recorded() {
    let app = TestApp::new().await;
    let p = app.partner();
    set_scenario(&app, &p, json!([{"outcome": "Approved", "after": "1h"}])).await;
    let c = app.create_customer(&p).await;
    assert_created(
        &create(&app, &p, &c, state_owned()).await,
        "StateOwnedEntity",
    );
    set_scenario(
        &app,
        &p,
        json!([{"outcome": "Denied", "reason": "Changed", "after": "0s"}]),
    )
    .await;
    advance(&app, &p, "1h").await;
    assert_eq!(only(&app, &p, &c).await["vettingStatus"], "Approved");
    // Without a scenario (or a matching rule) the server's --vetting mode decides.
    let r = app
        .delete(&format!("/admin/v1/partners/{}/vetting", p.id))
        .token(&app.admin_token())
        .send()
        .await;
    assert_eq!(r.status, 204);
    let c2 = app.create_customer(&p).await;
    assert_created(
        &create(&app, &p, &c2, state_owned()).await,
        "StateOwnedEntity",
    );
    advance(&app, &p, "72h").await;
    assert_eq!(only(&app, &p, &c2).await["vettingStatus"], "InReview");
}

#[tokio::test]
async fn test_values_decide_with_dev_auth_and_win_over_rules() {
    let app = TestApp::with_config(|c: &mut ServerConfig| c.policy.mode = VettingMode::Auto).await;
    let p = app.partner();
    set_scenario(&app, &p, json!([{"outcome": "Manual"}])).await;
    let approved = app.create_customer(&p).await;
    assert_created(
        &create(
            &app,
            &p,
            &approved,
            education_at(Some("https://sub.approved.test/apply")),
        )
        .await,
        "Education",
    );
    let denied = app.create_customer_with_domain(&p, "denied.test").await;
    assert_created(
        &create(&app, &p, &denied, state_owned()).await,
        "StateOwnedEntity",
    );
    let review = app.create_customer(&p).await;
    assert_created(
        &create(&app, &p, &review, education_at(Some("review.test"))).await,
        "Education",
    );
    app.run_pending_jobs().await;
    assert_eq!(only(&app, &p, &approved).await["vettingStatus"], "Approved");
    let d = only(&app, &p, &denied).await;
    assert_eq!(
        (d["vettingStatus"].clone(), d["vettingReason"].clone()),
        (json!("Denied"), json!("Not an Education Customer"))
    );
    assert_eq!(only(&app, &p, &review).await["vettingStatus"], "InReview");
    assert_eq!(
        app.history(&approved, "Education").await[0]["reason"],
        "test value approved.test"
    );
}

#[tokio::test]
async fn test_values_are_off_when_the_operator_turns_them_off() {
    let app = TestApp::with_config(|c: &mut ServerConfig| {
        c.policy.mode = VettingMode::Auto;
        c.policy.test_values = false;
    })
    .await;
    let p = app.partner();
    let c = app.create_customer(&p).await;
    assert_created(
        &create(&app, &p, &c, education_at(Some("approved.test"))).await,
        "Education",
    );
    app.run_pending_jobs().await;
    let q = only(&app, &p, &c).await;
    assert_eq!(
        q["vettingStatus"], "Denied",
        "the built-in policy decided: {q}"
    );
    assert_eq!(q["vettingReason"], "Not an Academic Domain");
}
