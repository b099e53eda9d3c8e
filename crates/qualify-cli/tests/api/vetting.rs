//! Asynchronous vetting: operator decisions (manual), the auto policy, the audit history, the
//! delay, and durability across kill -9 and graceful shutdown (product.md, api.md 6).

use std::time::Duration;

use serde_json::{Value, json};

use crate::customers::{assert_no_nulls, is_wire_date};
use crate::helpers::*;
use crate::qualifications::{assert_created, create, decide, education, gcc, state_owned};

fn decision_path(customer: &str, qualification: &str) -> String {
    format!("/admin/v1/customers/{customer}/qualifications/{qualification}/decision")
}

fn auto() -> Options {
    Options {
        vetting: "auto",
        ..Default::default()
    }
}

fn education_at(website: Option<&str>) -> Value {
    let mut b = json!({"qualification": "Education", "educationSegment": "HigherEducation"});
    if let Some(w) = website {
        b["website"] = json!(w);
    }
    b
}

async fn only(s: &Server, p: &Partner, c: &str) -> Value {
    let list = s.qualifications(p, c).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    list[0].clone()
}

/// Waits for the customer's only qualification to be decided.
async fn decided(s: &Server, p: &Partner, c: &str) -> Value {
    s.wait_terminal(p, c, Duration::from_secs(15)).await
}

#[tokio::test]
async fn manual_mode_waits_for_the_operator() {
    let s = Server::start().await;
    let p = s.partner();
    let c = s.create_customer_with_domain(&p, "contoso.edu").await;
    let created = create(&s, &p, &c, education()).await;
    assert_created(&created, "Education");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(only(&s, &p, &c).await["vettingStatus"], "InReview");

    let queue = s.reviews().await;
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

    let d = decide(&s, &c, "Education", "Approved", None).await;
    assert_no_nulls(&d);
    assert_eq!(d["qualification"], "Education");
    assert_eq!(d["vettingStatus"], "Approved");
    assert_eq!(d["vettingCreateDate"], created.body["vettingCreateDate"]);
    assert!(d.get("vettingReason").is_none(), "{d}");
    let q = only(&s, &p, &c).await;
    assert_eq!(q, d);
    assert!(
        !s.reviews()
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
    let s = Server::start().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    assert_created(&create(&s, &p, &c, education()).await, "Education");
    let etag = s.review_etag(&c, "Education").await;
    let path = decision_path(&c, "Education");
    let admin = s.admin_token();
    let approve = json!({"vettingStatus": "Approved"});
    let before = s.qualifications(&p, &c).await;

    s.post(&path)
        .token(&admin)
        .json(approve.clone())
        .send()
        .await
        .assert_error(428, 900428);
    s.post(&path)
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
        s.post(&path)
            .token(&admin)
            .header("If-Match", &etag)
            .json(bad)
            .send()
            .await
            .assert_error(400, 800002);
    }
    for q in ["Charity", "Nonprofit", "None"] {
        s.post(&decision_path(&c, q))
            .token(&admin)
            .header("If-Match", &etag)
            .json(approve.clone())
            .send()
            .await
            .assert_error(400, 800002);
    }
    s.post(&decision_path(&new_id(), "Education"))
        .token(&admin)
        .header("If-Match", &etag)
        .json(approve.clone())
        .send()
        .await
        .assert_error(404, 1000);
    s.post(&decision_path("not-a-guid", "Education"))
        .token(&admin)
        .header("If-Match", &etag)
        .json(approve.clone())
        .send()
        .await
        .assert_error(400, 900118);
    // A qualification the customer never requested.
    s.post(&decision_path(&c, "StateOwnedEntity"))
        .token(&admin)
        .header("If-Match", &etag)
        .json(approve.clone())
        .send()
        .await
        .assert_error(404, 1000);
    // Partners are not operators.
    s.post(&path)
        .token(&p.app_user)
        .header("If-Match", &etag)
        .json(approve.clone())
        .send()
        .await
        .assert_error(403, 900150);
    assert_eq!(
        s.qualifications(&p, &c).await,
        before,
        "a rejected decision changed the qualification"
    );
    assert_eq!(s.review_etag(&c, "Education").await, etag);

    // The path's qualification is matched case-insensitively; the quoted etag form works.
    let ok = s
        .post(&decision_path(&c, "education"))
        .token(&admin)
        .header("If-Match", &format!("\"{etag}\""))
        .json(approve.clone())
        .send()
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let after = s.qualifications(&p, &c).await;
    assert_eq!(after[0]["vettingStatus"], "Approved");

    // Decided: a second decision is 409 with the old etag and with the current one.
    let again = s
        .post(&path)
        .token(&admin)
        .header("If-Match", &etag)
        .json(json!({"vettingStatus": "Denied"}))
        .send()
        .await;
    again.assert_error(409, 900309);
    let approved = s
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
        let again = s
            .post(&path)
            .token(&admin)
            .header("If-Match", &current)
            .json(json!({"vettingStatus": status}))
            .send()
            .await;
        again.assert_error(409, 900309);
    }
    assert_eq!(
        s.qualifications(&p, &c).await,
        after,
        "a terminal state changed"
    );
}

#[tokio::test]
async fn denied_with_a_reason_and_terminal_states_never_change() {
    let s = Server::start().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    assert_created(&create(&s, &p, &c, education()).await, "Education");
    let etag = s.review_etag(&c, "Education").await;
    let d = s
        .post(&decision_path(&c, "Education"))
        .token(&s.admin_token())
        .header("If-Match", &etag)
        .json(json!({"vettingStatus": "denied", "vettingReason": "Not an Education Customer"}))
        .send()
        .await;
    assert_eq!(d.status, 200, "{}", d.text);
    assert_eq!(d.body["vettingStatus"], "Denied");
    assert_eq!(d.body["vettingReason"], "Not an Education Customer");
    let q = only(&s, &p, &c).await;
    assert_eq!(q["vettingStatus"], "Denied");
    assert_eq!(q["vettingReason"], "Not an Education Customer");

    let list = s.qualifications(&p, &c).await;
    let history = s.history(&c, "Education").await;
    for status in ["Approved", "Denied"] {
        let again = s
            .post(&decision_path(&c, "Education"))
            .token(&s.admin_token())
            .header("If-Match", &etag)
            .json(json!({"vettingStatus": status, "vettingReason": "changed my mind"}))
            .send()
            .await;
        again.assert_error(409, 900309);
    }
    assert_eq!(s.qualifications(&p, &c).await, list);
    assert_eq!(s.history(&c, "Education").await, history);
}

#[tokio::test]
async fn auto_mode_decides_by_academic_domain_and_code() {
    let s = Server::start_with(auto()).await;
    let p = s.partner();
    let code = s.issue_code(&p, 1).await;

    let mut approved = vec![];
    for website in ["contoso.edu", "https://www.ox.ac.uk/admissions"] {
        let c = s.create_customer(&p).await;
        assert_created(
            &create(&s, &p, &c, education_at(Some(website))).await,
            "Education",
        );
        approved.push((c, website.to_owned()));
    }
    let c = s.create_customer_with_domain(&p, "uni.edu.au").await;
    assert_created(&create(&s, &p, &c, education_at(None)).await, "Education");
    approved.push((c, "company domain uni.edu.au".to_owned()));
    let c = s.create_customer(&p).await;
    assert_created(
        &create(&s, &p, &c, gcc(&code)).await,
        "GovernmentCommunityCloud",
    );
    approved.push((c, "GCC with a valid code".to_owned()));

    let denied = s.create_customer(&p).await;
    assert_created(
        &create(&s, &p, &denied, education_at(Some("contoso.com"))).await,
        "Education",
    );
    let soe = s.create_customer(&p).await;
    assert_created(
        &create(&s, &p, &soe, state_owned()).await,
        "StateOwnedEntity",
    );

    for (c, what) in &approved {
        let q = decided(&s, &p, c).await;
        assert_eq!(q["vettingStatus"], "Approved", "{what}: {q}");
        assert!(q.get("vettingReason").is_none(), "{what}: {q}");
    }
    let q = decided(&s, &p, &denied).await;
    assert_eq!(q["vettingStatus"], "Denied", "{q}");
    assert_eq!(q["vettingReason"], "Not an Academic Domain", "{q}");

    // StateOwnedEntity waits for an operator, even in auto mode.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(only(&s, &p, &soe).await["vettingStatus"], "InReview");
    let d = decide(&s, &soe, "StateOwnedEntity", "Approved", None).await;
    assert_eq!(d["vettingStatus"], "Approved");
    assert_eq!(only(&s, &p, &soe).await["vettingStatus"], "Approved");
}

#[tokio::test]
async fn history_records_each_transition_once_with_the_request_ids() {
    let s = Server::start().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let (rid, cid) = (new_id(), new_id());
    let r = s
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .request_id(&rid)
        .header("MS-CorrelationId", &cid)
        .json(education())
        .send()
        .await;
    assert_created(&r, "Education");
    assert_eq!(r.header("MS-CorrelationId"), Some(cid.as_str()));

    let h = s.history(&c, "Education").await;
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

    let etag = s.review_etag(&c, "Education").await;
    let (drid, dcid) = (new_id(), new_id());
    let d = s
        .post(&decision_path(&c, "Education"))
        .token(&s.admin_token())
        .request_id(&drid)
        .header("MS-CorrelationId", &dcid)
        .header("If-Match", &etag)
        .json(json!({"vettingStatus": "Approved"}))
        .send()
        .await;
    assert_eq!(d.status, 200, "{}", d.text);
    // A repeated decision is refused and adds nothing.
    let again = s
        .post(&decision_path(&c, "Education"))
        .token(&s.admin_token())
        .header("If-Match", &etag)
        .json(json!({"vettingStatus": "Approved"}))
        .send()
        .await;
    again.assert_error(409, 900309);

    let h = s.history(&c, "Education").await;
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
    assert!(second["at"].as_str().is_some_and(is_wire_date), "{h}");
    assert!(
        second["actor"].as_str().is_some_and(|a| !a.is_empty()),
        "{h}"
    );
    assert!(second["at"].as_str() >= first["at"].as_str(), "{h}");
    // Path name matched case-insensitively; other qualifications have no history.
    assert_eq!(s.history(&c, "EDUCATION").await, h);
    assert_eq!(s.history(&c, "StateOwnedEntity").await, json!([]));
}

#[tokio::test]
async fn auto_decisions_appear_once_in_the_history() {
    let s = Server::start_with(auto()).await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let (rid, cid) = (new_id(), new_id());
    let r = s
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .request_id(&rid)
        .header("MS-CorrelationId", &cid)
        .json(education_at(Some("contoso.com")))
        .send()
        .await;
    assert_created(&r, "Education");
    let q = decided(&s, &p, &c).await;
    assert_eq!(q["vettingStatus"], "Denied");
    // Give a duplicate decision the time to show up, if there were one.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let h = s.history(&c, "Education").await;
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
}

#[tokio::test]
async fn a_delayed_decision_comes_later() {
    let s = Server::start_with(Options {
        vetting: "auto",
        delay: "2s",
        ..Default::default()
    })
    .await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    assert_created(
        &create(&s, &p, &c, education_at(Some("contoso.edu"))).await,
        "Education",
    );
    assert_eq!(
        only(&s, &p, &c).await["vettingStatus"],
        "InReview",
        "decided before the delay"
    );
    let q = decided(&s, &p, &c).await;
    assert_eq!(q["vettingStatus"], "Approved", "{q}");
}

#[tokio::test]
async fn a_pending_vetting_job_survives_kill_9() {
    let mut s = Server::start_with(Options {
        vetting: "auto",
        delay: "3s",
        ..Default::default()
    })
    .await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let created = create(&s, &p, &c, education_at(Some("contoso.edu"))).await;
    assert_created(&created, "Education");
    s.kill9();
    s.restart().await;
    let q = decided(&s, &p, &c).await;
    assert_eq!(q["vettingStatus"], "Approved", "{q}");
    assert_eq!(q["vettingCreateDate"], created.body["vettingCreateDate"]);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let h = s.history(&c, "Education").await;
    let decisions = h
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["to"] != "InReview")
        .count();
    assert_eq!(decisions, 1, "{h}");
    assert_eq!(h.as_array().unwrap().len(), 2, "{h}");
    assert_eq!(only(&s, &p, &c).await["vettingStatus"], "Approved");
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly_and_keeps_the_data() {
    let mut s = Server::start().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    assert_created(&create(&s, &p, &c, education()).await, "Education");
    let status = s.terminate();
    assert!(
        status.success(),
        "qualify serve exited with {status:?}\n{}",
        s.logs()
    );
    s.restart().await;
    let q = only(&s, &p, &c).await;
    assert_eq!(
        (q["qualification"].clone(), q["vettingStatus"].clone()),
        (json!("Education"), json!("InReview"))
    );
    decide(&s, &c, "Education", "Approved", None).await;
    assert_eq!(only(&s, &p, &c).await["vettingStatus"], "Approved");
}
