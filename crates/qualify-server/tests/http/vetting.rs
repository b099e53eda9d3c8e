//! Asynchronous vetting: operator decisions (manual), the auto policy, the audit history and the
//! delay (product.md, api.md 6), with the clock and the job queue moved by the test. The crash
//! and shutdown cases need a process: `crates/qualify-cli/tests/api/vetting.rs`.

use std::time::Duration;

use qualify_core::policy::VettingMode;
use qualify_server::ServerConfig;
use serde_json::json;

use crate::support::*;

async fn auto() -> TestApp {
    TestApp::with_config(|c: &mut ServerConfig| c.policy.mode = VettingMode::Auto).await
}

#[tokio::test]
async fn manual_mode_waits_for_the_operator() {
    let app = TestApp::new().await;
    let p = app.partner();
    let c = app.create_customer_with_domain(&p, "contoso.edu").await;
    let created = create(&app, &p, &c, education()).await;
    assert_created(&created, "Education");
    assert_eq!(app.run_pending_jobs().await, 1, "the vetting job ran");
    app.advance(Duration::from_secs(3600));
    app.run_pending_jobs().await;
    assert_eq!(only(&app, &p, &c).await["vettingStatus"], "InReview");

    let queue = app.reviews().await;
    let item = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["customerId"] == c.as_str())
        .expect("in the review queue")
        .clone();
    assert_eq!(item["partnerId"], p.id.to_string());
    assert_eq!(item["qualification"], "Education");
    assert_eq!(item["vettingStatus"], "InReview");
    assert_eq!(item["educationSegment"], "HigherEducation");
    assert_eq!(item["website"], "contoso.edu");
    assert_eq!(item["vettingCreateDate"], created.body["vettingCreateDate"]);
    assert_eq!(
        created.body["vettingCreateDate"], "2026-01-05T12:00:00Z",
        "stamped with the injected clock"
    );

    let d = app.decide(&c, "Education", "Approved", None).await;
    assert_no_nulls(&d);
    assert_eq!(d["qualification"], "Education");
    assert_eq!(d["vettingStatus"], "Approved");
    assert_eq!(d["vettingCreateDate"], created.body["vettingCreateDate"]);
    assert!(d.get("vettingReason").is_none(), "{d}");
    assert_eq!(only(&app, &p, &c).await, d);
    assert!(
        !app.reviews()
            .await
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["customerId"] == c.as_str()),
        "decided but still queued"
    );
}

#[tokio::test]
async fn decision_endpoint_errors() {
    let app = TestApp::new().await;
    let p = app.partner();
    let c = app.create_customer(&p).await;
    assert_created(&create(&app, &p, &c, education()).await, "Education");
    let etag = app.review_etag(&c, "Education").await;
    let path = decision_path(&c, "Education");
    let admin = app.admin_token();
    let approve = json!({"vettingStatus": "Approved"});
    let before = app.qualifications(&p, &c).await;

    app.post(&path)
        .token(&admin)
        .json(approve.clone())
        .send()
        .await
        .assert_error(428, 900428);
    app.post(&path)
        .token(&admin)
        .header("If-Match", "stale-etag")
        .json(approve.clone())
        .send()
        .await
        .assert_error(412, 900312);
    for bad in [
        json!({"vettingStatus": "InReview"}),
        json!({"vettingStatus": "Maybe"}),
        json!({}),
        json!({"vettingStatus": 1}),
    ] {
        app.post(&path)
            .token(&admin)
            .header("If-Match", &etag)
            .json(bad)
            .send()
            .await
            .assert_error(400, 800002);
    }
    for q in ["Charity", "Nonprofit", "None"] {
        app.post(&decision_path(&c, q))
            .token(&admin)
            .header("If-Match", &etag)
            .json(approve.clone())
            .send()
            .await
            .assert_error(400, 800002);
    }
    app.post(&decision_path(&new_id(), "Education"))
        .token(&admin)
        .header("If-Match", &etag)
        .json(approve.clone())
        .send()
        .await
        .assert_error(404, 1000);
    app.post(&decision_path("not-a-guid", "Education"))
        .token(&admin)
        .header("If-Match", &etag)
        .json(approve.clone())
        .send()
        .await
        .assert_error(400, 900118);
    // A qualification the customer never requested.
    app.post(&decision_path(&c, "StateOwnedEntity"))
        .token(&admin)
        .header("If-Match", &etag)
        .json(approve.clone())
        .send()
        .await
        .assert_error(404, 1000);
    // Partners are not operators.
    app.post(&path)
        .token(&p.app_user)
        .header("If-Match", &etag)
        .json(approve.clone())
        .send()
        .await
        .assert_error(403, 900150);
    assert_eq!(
        app.qualifications(&p, &c).await,
        before,
        "a rejected decision changed the qualification"
    );
    assert_eq!(app.review_etag(&c, "Education").await, etag);

    // The path's qualification is matched case-insensitively; the quoted etag form works.
    let ok = app
        .post(&decision_path(&c, "education"))
        .token(&admin)
        .header("If-Match", &format!("\"{etag}\""))
        .json(approve.clone())
        .send()
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let after = app.qualifications(&p, &c).await;
    assert_eq!(after[0]["vettingStatus"], "Approved");

    // Decided: a second decision is 409 with the old etag and with the current one.
    app.post(&path)
        .token(&admin)
        .header("If-Match", &etag)
        .json(json!({"vettingStatus": "Denied"}))
        .send()
        .await
        .assert_error(409, 900309);
    let approved = app
        .get("/admin/v1/reviews?status=Approved")
        .token(&admin)
        .send()
        .await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    let current = approved
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["customerId"] == c.as_str())
        .expect("approved item")["etag"]
        .as_str()
        .unwrap()
        .to_owned();
    for status in ["Denied", "Approved"] {
        app.post(&path)
            .token(&admin)
            .header("If-Match", &current)
            .json(json!({"vettingStatus": status}))
            .send()
            .await
            .assert_error(409, 900309);
    }
    assert_eq!(
        app.qualifications(&p, &c).await,
        after,
        "a terminal state changed"
    );
}

#[tokio::test]
async fn denied_with_a_reason_and_terminal_states_never_change() {
    let app = TestApp::new().await;
    let p = app.partner();
    let c = app.create_customer(&p).await;
    assert_created(&create(&app, &p, &c, education()).await, "Education");
    let etag = app.review_etag(&c, "Education").await;
    let d = app
        .post(&decision_path(&c, "Education"))
        .token(&app.admin_token())
        .header("If-Match", &etag)
        .json(json!({"vettingStatus": "denied", "vettingReason": "Not an Education Customer"}))
        .send()
        .await;
    assert_eq!(d.status, 200, "{}", d.text);
    assert_eq!(d.body["vettingStatus"], "Denied");
    assert_eq!(d.body["vettingReason"], "Not an Education Customer");
    let q = only(&app, &p, &c).await;
    assert_eq!(q["vettingStatus"], "Denied");
    assert_eq!(q["vettingReason"], "Not an Education Customer");

    // The vetting job, run after the reviewer's decision, changes nothing.
    app.run_pending_jobs().await;
    let list = app.qualifications(&p, &c).await;
    assert_eq!(list[0], q);
    let history = app.history(&c, "Education").await;
    for status in ["Approved", "Denied"] {
        app.post(&decision_path(&c, "Education"))
            .token(&app.admin_token())
            .header("If-Match", &etag)
            .json(json!({"vettingStatus": status, "vettingReason": "changed my mind"}))
            .send()
            .await
            .assert_error(409, 900309);
    }
    assert_eq!(app.qualifications(&p, &c).await, list);
    assert_eq!(app.history(&c, "Education").await, history);
}

#[tokio::test]
async fn auto_mode_decides_by_academic_domain_and_code() {
    let app = auto().await;
    let p = app.partner();
    let code = app.issue_code(&p, 1).await;

    let mut approved = vec![];
    for website in ["contoso.edu", "https://www.ox.ac.uk/admissions"] {
        let c = app.create_customer(&p).await;
        assert_created(
            &create(&app, &p, &c, education_at(Some(website))).await,
            "Education",
        );
        approved.push((c, website.to_owned()));
    }
    let c = app.create_customer_with_domain(&p, "uni.edu.au").await;
    assert_created(&create(&app, &p, &c, education_at(None)).await, "Education");
    approved.push((c, "company domain uni.edu.au".to_owned()));
    let c = app.create_customer(&p).await;
    assert_created(
        &create(&app, &p, &c, gcc(&code)).await,
        "GovernmentCommunityCloud",
    );
    approved.push((c, "GCC with a valid code".to_owned()));

    let denied = app.create_customer(&p).await;
    assert_created(
        &create(&app, &p, &denied, education_at(Some("contoso.com"))).await,
        "Education",
    );
    let soe = app.create_customer(&p).await;
    assert_created(
        &create(&app, &p, &soe, state_owned()).await,
        "StateOwnedEntity",
    );
    // Nothing is decided before the worker runs: vetting is asynchronous.
    for (c, _) in &approved {
        assert_eq!(only(&app, &p, c).await["vettingStatus"], "InReview");
    }
    assert_eq!(app.run_pending_jobs().await, 6);

    for (c, what) in &approved {
        let q = only(&app, &p, c).await;
        assert_eq!(q["vettingStatus"], "Approved", "{what}: {q}");
        assert!(q.get("vettingReason").is_none(), "{what}: {q}");
    }
    let q = only(&app, &p, &denied).await;
    assert_eq!(q["vettingStatus"], "Denied", "{q}");
    assert_eq!(q["vettingReason"], "Not an Academic Domain", "{q}");

    // StateOwnedEntity waits for an operator, even in auto mode.
    app.advance(Duration::from_secs(86_400));
    assert_eq!(app.run_pending_jobs().await, 0, "nothing left to run");
    assert_eq!(only(&app, &p, &soe).await["vettingStatus"], "InReview");
    let d = app.decide(&soe, "StateOwnedEntity", "Approved", None).await;
    assert_eq!(d["vettingStatus"], "Approved");
    assert_eq!(only(&app, &p, &soe).await["vettingStatus"], "Approved");
}

#[tokio::test]
async fn history_records_each_transition_once_with_the_request_ids() {
    let app = TestApp::new().await;
    let p = app.partner();
    let c = app.create_customer(&p).await;
    let (rid, cid) = (new_id(), new_id());
    let r = app
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .request_id(&rid)
        .header("MS-CorrelationId", &cid)
        .json(education())
        .send()
        .await;
    assert_created(&r, "Education");
    assert_eq!(r.header("MS-CorrelationId"), Some(cid.as_str()));

    let h = app.history(&c, "Education").await;
    assert_no_nulls(&h);
    let events = h.as_array().expect("an array");
    assert_eq!(events.len(), 1, "{h}");
    let first = &events[0];
    assert_eq!(first["to"], "InReview", "{h}");
    assert!(first.get("from").is_none(), "{h}");
    assert_eq!(first["requestId"], rid.as_str(), "{h}");
    assert_eq!(first["correlationId"], cid.as_str(), "{h}");
    assert!(first["at"].as_str().is_some_and(is_wire_date), "{h}");
    assert!(
        first["actor"].as_str().is_some_and(|a| !a.is_empty()),
        "{h}"
    );

    app.advance(Duration::from_secs(90));
    let etag = app.review_etag(&c, "Education").await;
    let (drid, dcid) = (new_id(), new_id());
    let d = app
        .post(&decision_path(&c, "Education"))
        .token(&app.admin_token())
        .request_id(&drid)
        .header("MS-CorrelationId", &dcid)
        .header("If-Match", &etag)
        .json(json!({"vettingStatus": "Approved"}))
        .send()
        .await;
    assert_eq!(d.status, 200, "{}", d.text);
    // A repeated decision is refused and adds nothing.
    app.post(&decision_path(&c, "Education"))
        .token(&app.admin_token())
        .header("If-Match", &etag)
        .json(json!({"vettingStatus": "Approved"}))
        .send()
        .await
        .assert_error(409, 900309);

    let h = app.history(&c, "Education").await;
    assert_no_nulls(&h);
    let events = h.as_array().unwrap();
    assert_eq!(events.len(), 2, "{h}");
    assert_eq!(events[0], *first, "history is append-only");
    let second = &events[1];
    assert_eq!(
        (second["from"].clone(), second["to"].clone()),
        (json!("InReview"), json!("Approved")),
        "{h}"
    );
    assert_eq!(second["requestId"], drid.as_str(), "{h}");
    assert_eq!(second["correlationId"], dcid.as_str(), "{h}");
    assert_eq!(
        (first["at"].as_str(), second["at"].as_str()),
        (Some("2026-01-05T12:00:00Z"), Some("2026-01-05T12:01:30Z")),
        "{h}"
    );
    assert!(
        second["actor"].as_str().is_some_and(|a| !a.is_empty()),
        "{h}"
    );
    // Path name matched case-insensitively; other qualifications have no history.
    assert_eq!(app.history(&c, "EDUCATION").await, h);
    assert_eq!(app.history(&c, "StateOwnedEntity").await, json!([]));
}

#[tokio::test]
async fn auto_decisions_appear_once_in_the_history() {
    let app = auto().await;
    let p = app.partner();
    let c = app.create_customer(&p).await;
    let (rid, cid) = (new_id(), new_id());
    let r = app
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .request_id(&rid)
        .header("MS-CorrelationId", &cid)
        .json(education_at(Some("contoso.com")))
        .send()
        .await;
    assert_created(&r, "Education");
    assert_eq!(app.run_pending_jobs().await, 1);
    assert_eq!(only(&app, &p, &c).await["vettingStatus"], "Denied");
    // Running the queue again, later, adds no second decision.
    app.advance(Duration::from_secs(3600));
    assert_eq!(app.run_pending_jobs().await, 0);
    let h = app.history(&c, "Education").await;
    let events = h.as_array().unwrap();
    assert_eq!(events.len(), 2, "{h}");
    assert_eq!(events[0]["to"], "InReview");
    assert!(events[0].get("from").is_none(), "{h}");
    assert_eq!(events[0]["requestId"], rid.as_str(), "{h}");
    assert_eq!(events[0]["correlationId"], cid.as_str(), "{h}");
    assert_eq!(
        (events[1]["from"].clone(), events[1]["to"].clone()),
        (json!("InReview"), json!("Denied")),
        "{h}"
    );
    assert_eq!(events[1]["reason"], "Not an Academic Domain", "{h}");
    assert_eq!(events[1]["actor"], "vetting-policy", "{h}");
}

#[tokio::test]
async fn a_delayed_decision_comes_when_its_time_has_come() {
    let app = TestApp::with_config(|c: &mut ServerConfig| {
        c.policy.mode = VettingMode::Auto;
        c.policy.delay = Duration::from_secs(2);
    })
    .await;
    let p = app.partner();
    let c = app.create_customer(&p).await;
    assert_created(
        &create(&app, &p, &c, education_at(Some("contoso.edu"))).await,
        "Education",
    );
    assert_eq!(app.run_pending_jobs().await, 0, "not due yet");
    app.advance(Duration::from_millis(1_999));
    assert_eq!(app.run_pending_jobs().await, 0, "not due yet");
    assert_eq!(
        only(&app, &p, &c).await["vettingStatus"],
        "InReview",
        "decided before the delay"
    );
    app.advance(Duration::from_millis(1));
    assert_eq!(app.run_pending_jobs().await, 1);
    let q = only(&app, &p, &c).await;
    assert_eq!(q["vettingStatus"], "Approved", "{q}");
    let h = app.history(&c, "Education").await;
    assert_eq!(h[1]["at"], "2026-01-05T12:00:02Z", "{h}");
}
