//! Fault injection, the request journal and client checks (control.md 5-7), in process. The
//! dropped connection, several instances and the CLI are in `crates/qualify-cli/tests/api/traffic.rs`.

use axum::http::Method;
use serde_json::{Value, json};

use crate::support::*;

async fn add_fault(app: &TestApp, body: Value) -> Value {
    let r = app
        .post("/admin/v1/faults")
        .token(&app.admin_token())
        .json(body)
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body["id"].is_string(), "{}", r.text);
    r.body
}

async fn faults(app: &TestApp, query: &str) -> Value {
    let r = app
        .get(&format!("/admin/v1/faults{query}"))
        .token(&app.admin_token())
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

async fn journal(app: &TestApp, query: &str) -> Value {
    let r = app
        .get(&format!("/admin/v1/journal{query}"))
        .token(&app.admin_token())
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn create_fault(partner: &Partner, phase: &str) -> Value {
    json!({
        "match": {"method": "POST", "path": "/v1/customers/*/qualifications", "partner": partner.id.to_string()},
        "phase": phase,
        "response": {"status": 503, "description": "Service unavailable", "retryAfter": 2},
        "times": 1
    })
}

#[tokio::test]
async fn a_before_fault_changes_nothing_and_an_after_fault_loses_the_answer_of_a_committed_write() {
    let app = TestApp::new().await;
    let p = app.partner();
    let c = app.create_customer(&p).await;
    let code = app.issue_code(&p, 1).await;
    let fault = add_fault(&app, create_fault(&p, "before")).await;
    assert_eq!(fault["remaining"], 1);
    let id = new_id();
    let r = app
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .request_id(&id)
        .json(gcc(&code))
        .send()
        .await;
    r.assert_error(503, 900503);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(r.header("qualify-fault"), fault["id"].as_str());
    assert_eq!(r.header("ms-requestid"), Some(id.as_str()));
    assert_eq!(
        app.qualifications(&p, &c).await,
        json!([]),
        "nothing executed"
    );
    let codes = app
        .get("/v1/customers/all/validations")
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(
        codes.body[0]["remainingCreates"], 1,
        "the code was not spent"
    );
    assert_eq!(faults(&app, "").await, json!([]), "times: 1, then removed");

    // After: the write commits, the answer is lost; the retry replays the stored answer.
    let fault = add_fault(&app, create_fault(&p, "after")).await;
    let lost = app
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .request_id(&id)
        .json(gcc(&code))
        .send()
        .await;
    lost.assert_error(503, 900503);
    assert_eq!(lost.header("qualify-fault"), fault["id"].as_str());
    let list = app.qualifications(&p, &c).await;
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "the write is there: {list}"
    );
    let retry = app
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .request_id(&id)
        .json(gcc(&code))
        .send()
        .await;
    assert_created(&retry, "GovernmentCommunityCloud");
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.header("qualify-fault"), None);
    assert_eq!(retry.body, list[0]);
    let codes = app
        .get("/v1/customers/all/validations")
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(
        codes.body[0]["remainingCreates"], 0,
        "the GCC code was spent once"
    );
    assert_eq!(
        app.qualifications(&p, &c).await.as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn raw_bytes_are_answered_exactly() {
    let app = TestApp::new().await;
    let p = app.partner();
    let c = app.create_customer(&p).await;
    add_fault(
        &app,
        json!({"match": {"path": "/v1/customers/**"}, "response": {"status": 403, "rawBody": "Customer tagging denied.", "contentType": "text/plain"}}),
    )
    .await;
    let r = app
        .get(&qualifications_path(&c))
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.text, "Customer tagging denied.");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert!(r.header("qualify-fault").is_some() && r.header("ms-correlationid").is_some());
}

#[tokio::test]
async fn a_merge_patch_changes_every_element_of_an_array_answer() {
    let app = TestApp::new().await;
    let p = app.partner();
    let c = app.create_customer(&p).await;
    assert_created(&create(&app, &p, &c, education()).await, "Education");
    app.decide(&c, "Education", "Denied", Some("Not an Education Customer"))
        .await;
    assert_created(&create(&app, &p, &c, education()).await, "Education");
    add_fault(
        &app,
        json!({"match": {"method": "GET", "customerId": c}, "response": {"patch": {"vettingStatus": "PendingDocuments", "vettingReason": null}}}),
    )
    .await;
    let r = app
        .get(&qualifications_path(&c))
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let items = r.body.as_array().unwrap();
    assert_eq!(items.len(), 2);
    for item in items {
        assert_eq!(item["vettingStatus"], "PendingDocuments");
        assert!(item.get("vettingReason").is_none(), "null removes: {item}");
        assert_eq!(item["qualification"], "Education");
    }
    assert!(r.header("qualify-fault").is_some());
}

#[tokio::test]
async fn nth_fires_at_exactly_its_positions_and_hits_count_the_requests_that_reached_it() {
    let app = TestApp::new().await;
    let p = app.partner();
    let fault = add_fault(
        &app,
        json!({"match": {"method": "GET", "path": "/v1/customers"}, "nth": [2, 4], "response": {"status": 429}}),
    )
    .await;
    let mut statuses = vec![];
    for _ in 0..5 {
        let r = app.get("/v1/customers").token(&p.app_user).send().await;
        if r.status == 429 {
            assert_eq!(
                r.header("retry-after"),
                Some("1"),
                "429 always has Retry-After"
            );
            assert_eq!(r.body["code"], 900429);
        }
        statuses.push(r.status);
    }
    assert_eq!(statuses, [200, 429, 200, 429, 200]);
    let listed = faults(&app, "").await;
    assert_eq!(listed[0]["id"], fault["id"]);
    assert_eq!(listed[0]["hits"], 5);
    assert_eq!(listed[0]["remaining"], Value::Null);
    // Requests that do not match never count.
    app.post("/v1/customers")
        .token(&p.app_user)
        .json(customer_body())
        .send()
        .await;
    assert_eq!(faults(&app, "").await[0]["hits"], 5);
}

fn customer_body() -> Value {
    qualify_server::testing::customer_body("contoso.onmicrosoft.com")
}

#[tokio::test]
async fn faults_are_tried_in_order_and_a_taken_request_reaches_no_later_fault() {
    let app = TestApp::new().await;
    let p = app.partner();
    let first = add_fault(
        &app,
        json!({"match": {"path": "/v1/**"}, "nth": [1], "response": {"status": 500}}),
    )
    .await;
    let second = add_fault(
        &app,
        json!({"match": {"path": "/v1/**"}, "response": {"status": 502}}),
    )
    .await;
    let a = app.get("/v1/customers").token(&p.app_user).send().await;
    assert_eq!(
        (a.status, a.header("qualify-fault")),
        (500, first["id"].as_str())
    );
    let b = app.get("/v1/customers").token(&p.app_user).send().await;
    assert_eq!(
        (b.status, b.header("qualify-fault")),
        (502, second["id"].as_str())
    );
    let listed = faults(&app, "").await;
    assert_eq!(listed[0]["hits"], 2);
    assert_eq!(listed[1]["hits"], 1, "the first request never reached it");
    // Faults never touch the operator API.
    assert_eq!(faults(&app, "").await.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_partners_faults_and_journal_never_touch_another_partner() {
    let app = TestApp::new().await;
    let (p, q) = (app.partner(), app.partner());
    let fp = add_fault(
        &app,
        json!({"match": {"partner": p.id.to_string()}, "response": {"status": 503}}),
    )
    .await;
    let fq = add_fault(&app, json!({"match": {"partner": q.id.to_string(), "method": "DELETE"}, "response": {"status": 500}})).await;
    app.get("/v1/customers")
        .token(&p.app_user)
        .send()
        .await
        .assert_error(503, 900503);
    let ok = app.get("/v1/customers").token(&q.app_user).send().await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let only_p = faults(&app, &format!("?partner={}", p.id)).await;
    assert_eq!(only_p.as_array().unwrap().len(), 1);
    assert_eq!(only_p[0]["id"], fp["id"]);
    let fresh = faults(&app, &format!("?partner={}", uuid::Uuid::new_v4())).await;
    assert_eq!(fresh, json!([]), "an unseen partner is empty, never a 404");

    let jp = journal(&app, &format!("?partner={}", p.id)).await;
    let jq = journal(&app, &format!("?partner={}", q.id)).await;
    assert_eq!(jp["entries"].as_array().unwrap().len(), 1);
    assert_eq!(jp["entries"][0]["faultId"], fp["id"]);
    assert_eq!(jp["entries"][0]["status"], 503);
    assert_eq!(jq["entries"].as_array().unwrap().len(), 1);
    assert_eq!(jq["entries"][0]["partner"], q.id.to_string());

    // Clearing one partner's leaves the other's.
    let admin = app.admin_token();
    let r = app
        .delete(&format!("/admin/v1/faults?partner={}", p.id))
        .token(&admin)
        .send()
        .await;
    assert_eq!(r.status, 204);
    let r = app
        .delete(&format!("/admin/v1/journal?partner={}", p.id))
        .token(&admin)
        .send()
        .await;
    assert_eq!(r.status, 204);
    let left = faults(&app, "").await;
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["id"], fq["id"]);
    assert_eq!(
        journal(&app, &format!("?partner={}", p.id)).await["entries"],
        json!([])
    );
    assert_eq!(
        journal(&app, &format!("?partner={}", q.id)).await["entries"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = app
        .delete(&format!("/admin/v1/faults/{}", fq["id"].as_str().unwrap()))
        .token(&admin)
        .send()
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(faults(&app, "").await, json!([]));
    let again = app
        .delete(&format!("/admin/v1/faults/{}", fq["id"].as_str().unwrap()))
        .token(&admin)
        .send()
        .await;
    assert_eq!(again.status, 204, "already gone");
}

#[tokio::test]
async fn latency_alone_answers_the_real_answer_late() {
    let app = TestApp::new().await;
    let p = app.partner();
    let f = add_fault(
        &app,
        json!({"match": {"path": "/v1/customers"}, "latency": "PT0.05S"}),
    )
    .await;
    assert_eq!(f["latency"], "50ms");
    let started = std::time::Instant::now();
    let r = app.get("/v1/customers").token(&p.app_user).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(started.elapsed() >= std::time::Duration::from_millis(50));
    assert_eq!(r.header("qualify-fault"), f["id"].as_str());
}

#[tokio::test]
async fn the_journal_records_what_was_sent_and_never_a_token() {
    let app = TestApp::new().await;
    let p = app.partner();
    let c = app.create_customer(&p).await;
    let id = new_id();
    let secret_body =
        json!({"qualification": "StateOwnedEntity", "note": p.app_only, "password": "hunter2"});
    let r = app
        .post(&format!(
            "{}?access_token={}",
            qualifications_path(&c),
            p.app_only
        ))
        .token(&p.app_user)
        .request_id(&id)
        .header("MS-PartnerCenter-Client", "pytest")
        .header("MS-Contract-Version", "v1")
        .header("X-Api-Key", &p.app_user)
        .header("User-Agent", &format!("Bearer {}", p.app_user))
        .json(secret_body)
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    app.get("/v1/customers")
        .header("Authorization", "Bearer not-a-token")
        .send()
        .await
        .assert_error(401, 1002);
    let page = journal(&app, "").await;
    let text = page.to_string();
    for token in [&p.app_user, &p.app_only, &app.admin_token()] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(
            !text.contains(token.as_str()) && !text.contains(signature),
            "a token in the journal: {text}"
        );
    }
    assert!(
        !text.contains("hunter2") && !text.contains("not-a-token"),
        "{text}"
    );
    let entries = page["entries"].as_array().unwrap();
    let create = entries
        .iter()
        .find(|e| e["method"] == "POST" && e["path"] == qualifications_path(&c))
        .expect("the create");
    assert_eq!(create["requestId"], id);
    assert_eq!(create["status"], 201);
    assert_eq!(create["code"], Value::Null);
    assert_eq!(create["replayed"], false);
    assert_eq!(create["partner"], p.id.to_string());
    assert_eq!(
        create["auth"],
        json!({"tid": p.id.to_string(), "appOnly": false, "admin": false})
    );
    assert_eq!(create["headers"]["MS-PartnerCenter-Client"], "pytest");
    assert_eq!(create["headers"]["MS-Contract-Version"], "v1");
    assert_eq!(create["headers"]["MS-RequestId"], id);
    assert!(create["headers"].get("Authorization").is_none());
    assert!(create["headers"].get("X-Api-Key").is_none());
    assert!(
        create["body"]
            .as_str()
            .unwrap()
            .contains("StateOwnedEntity")
    );
    assert_eq!(create["bodyTruncated"], false);
    assert!(create["durationMs"].as_f64().unwrap() >= 0.0);
    let rejected = entries.last().unwrap();
    assert_eq!(
        (rejected["status"].clone(), rejected["code"].clone()),
        (json!(401), json!(1002))
    );
    assert_eq!(rejected["auth"], Value::Null);
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let after = journal(&app, &format!("?after={}&limit=1", seqs[0])).await;
    assert_eq!(after["entries"][0]["seq"], seqs[1]);
    assert_eq!(after["entries"].as_array().unwrap().len(), 1);
    // Operator requests are not /v1 requests.
    assert!(
        entries
            .iter()
            .all(|e| e["path"].as_str().unwrap().starts_with("/v1"))
    );
}

#[tokio::test]
async fn long_bodies_are_cut_and_evictions_make_counts_incomplete() {
    let app = TestApp::with_config(|c| c.journal_size = 3).await;
    let p = app.partner();
    let long = json!({"companyProfile": {"domain": "x".repeat(20_000)}});
    app.post("/v1/customers")
        .token(&p.app_user)
        .json(long)
        .send()
        .await;
    let page = journal(&app, "").await;
    let body = page["entries"][0]["body"].as_str().unwrap();
    assert_eq!(body.len(), 16 * 1024);
    assert_eq!(page["entries"][0]["bodyTruncated"], true);
    let admin = app.admin_token();
    let count = |pattern: Value| {
        let admin = admin.clone();
        let app = &app;
        async move {
            let r = app
                .post("/admin/v1/journal/count")
                .token(&admin)
                .json(pattern)
                .send()
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.body
        }
    };
    let pattern = json!({"partner": p.id.to_string(), "method": "GET"});
    assert_eq!(
        count(pattern.clone()).await,
        json!({"count": 0, "complete": true})
    );
    for _ in 0..4 {
        app.get("/v1/customers").token(&p.app_user).send().await;
    }
    assert_eq!(
        count(pattern.clone()).await,
        json!({"count": 3, "complete": false})
    );
    assert_eq!(journal(&app, "").await["evicted"], 2);
    let r = app.delete("/admin/v1/journal").token(&admin).send().await;
    assert_eq!(r.status, 204);
    assert_eq!(count(pattern).await, json!({"count": 0, "complete": true}));
}

#[tokio::test]
async fn find_returns_matches_or_near_misses() {
    let app = TestApp::new().await;
    let p = app.partner();
    let c = app.create_customer(&p).await;
    let id = new_id();
    let created = app
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .request_id(&id)
        .json(state_owned())
        .send()
        .await;
    assert_eq!(created.status, 201);
    let admin = app.admin_token();
    let find = |pattern: Value| {
        let admin = admin.clone();
        let app = &app;
        async move {
            let r = app
                .post("/admin/v1/journal/find")
                .token(&admin)
                .json(pattern)
                .send()
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.body
        }
    };
    let hit = find(json!({"method": "POST", "path": "/v1/customers/*/qualifications", "partner": p.id.to_string(),
        "customerId": c, "status": 201, "requestId": id, "bodyContains": "StateOwned"}))
    .await;
    assert_eq!(hit["entries"].as_array().unwrap().len(), 1);
    assert_eq!(hit["nearMisses"], json!([]));
    let miss = find(json!({"method": "POST", "path": "/v1/customers/*/qualifications", "partner": p.id.to_string(), "status": 503})).await;
    assert_eq!(miss["entries"], json!([]));
    let near = miss["nearMisses"].as_array().unwrap();
    assert!(!near.is_empty() && near.len() <= 3, "{miss}");
    assert_eq!(near[0]["differences"], json!(["status"]));
    assert_eq!(near[0]["entry"]["requestId"], id);
    // Another partner's pattern never sees p's entries.
    let other = find(json!({"partner": uuid::Uuid::new_v4().to_string()})).await;
    assert_eq!(
        other,
        json!({"entries": [], "nearMisses": [], "complete": true})
    );
}

#[tokio::test]
async fn checks_fire_on_a_careless_client_and_stay_silent_on_a_careful_one() {
    let app = TestApp::new().await;
    let careless = app.partner();
    let c = app.create_customer(&careless).await;
    // One 503 with Retry-After: 2, retried at once with a new MS-RequestId; then polls and
    // the legacy contract.
    add_fault(&app, json!({"match": {"partner": careless.id.to_string(), "method": "POST", "path": "/v1/customers/*/qualifications"},
        "response": {"status": 503, "retryAfter": 2}, "times": 1})).await;
    for _ in 0..2 {
        app.post(&qualifications_path(&c))
            .token(&careless.app_user)
            .request_id(&new_id())
            .json(state_owned())
            .send()
            .await;
        // (The journal's times come from the injected clock.)
        app.advance(std::time::Duration::from_millis(100));
    }
    for _ in 0..6 {
        app.qualifications(&careless, &c).await;
    }
    app.get(&format!("/v1/customers/{c}/qualification"))
        .token(&careless.app_user)
        .send()
        .await;
    let admin = app.admin_token();
    let r = app
        .get(&format!("/admin/v1/partners/{}/checks", careless.id))
        .token(&admin)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let fired: std::collections::BTreeSet<&str> = r.body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        fired.into_iter().collect::<Vec<_>>(),
        [
            "legacy-endpoint",
            "retry-after-ignored",
            "tight-polling",
            "write-retried-without-request-id",
            "write-without-request-id",
        ],
        "{}",
        r.text
    );
    assert_eq!(r.body["requests"], 10);
    let junit = app
        .get(&format!(
            "/admin/v1/partners/{}/checks?format=junit",
            careless.id
        ))
        .token(&admin)
        .send()
        .await;
    assert_eq!(junit.status, 200);
    assert!(
        junit
            .header("content-type")
            .unwrap()
            .starts_with("application/xml")
    );
    assert_eq!(junit.text.matches("<testcase").count(), 5);
    assert_eq!(junit.text.matches("<failure").count(), 5);

    let careful = app.partner();
    let d = app
        .post("/v1/customers")
        .token(&careful.app_user)
        .request_id(&new_id())
        .json(customer_body())
        .send()
        .await;
    let d = d.body["id"].as_str().unwrap().to_owned();
    app.post(&qualifications_path(&d))
        .token(&careful.app_user)
        .request_id(&new_id())
        .json(state_owned())
        .send()
        .await;
    app.qualifications(&careful, &d).await;
    let r = app
        .get(&format!("/admin/v1/partners/{}/checks", careful.id))
        .token(&admin)
        .send()
        .await;
    assert_eq!(r.body["requests"], 3);
    let checks: Vec<&str> = r.body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["check"].as_str().unwrap())
        .collect();
    assert_eq!(checks, Vec::<&str>::new(), "{}", r.text);
    let unseen = app
        .get(&format!(
            "/admin/v1/partners/{}/checks?format=junit",
            uuid::Uuid::new_v4()
        ))
        .token(&admin)
        .send()
        .await;
    assert_eq!(unseen.status, 200);
    assert_eq!(unseen.text.matches("<failure").count(), 0);
}

#[tokio::test]
async fn bad_control_bodies_name_the_field_and_change_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin_token();
    for (body, field) in [
        (
            json!({"match": {"afterRead": 1}, "latency": "1s"}),
            "match.afterRead",
        ),
        (json!({"latency": "1s", "nth": [0]}), "nth[0]"),
        (
            json!({"response": {"status": 503, "retryAfter": "soon"}}),
            "response.retryAfter",
        ),
        (json!({"response": {"drop": true}, "times": -1}), "times"),
    ] {
        let r = app
            .post("/admin/v1/faults")
            .token(&admin)
            .json(body.clone())
            .send()
            .await;
        r.assert_error(400, 800002);
        assert!(
            r.body["description"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}: ")),
            "{body}: {}",
            r.text
        );
    }
    let r = app
        .post("/admin/v1/journal/find")
        .token(&admin)
        .json(json!({"stauts": 201}))
        .send()
        .await;
    r.assert_error(400, 800002);
    assert!(
        r.body["description"]
            .as_str()
            .unwrap()
            .starts_with("stauts: "),
        "{}",
        r.text
    );
    for path in [
        "/admin/v1/faults?partner=nope",
        "/admin/v1/journal?after=x",
        "/admin/v1/journal?limit=0",
    ] {
        app.get(path)
            .token(&admin)
            .send()
            .await
            .assert_error(400, 800002);
    }
    app.get(&format!(
        "/admin/v1/partners/{}/checks?format=xml",
        uuid::Uuid::new_v4()
    ))
    .token(&admin)
    .send()
    .await
    .assert_error(400, 800002);
    assert_eq!(faults(&app, "").await, json!([]), "nothing stored");
    // Only operators.
    let p = app.partner();
    for (method, path) in [
        ("GET", "/admin/v1/faults"),
        ("POST", "/admin/v1/faults"),
        ("DELETE", "/admin/v1/faults"),
        ("DELETE", "/admin/v1/faults/x"),
        ("GET", "/admin/v1/journal"),
        ("DELETE", "/admin/v1/journal"),
        ("POST", "/admin/v1/journal/find"),
        ("POST", "/admin/v1/journal/count"),
    ] {
        let r = app
            .req(method.parse().unwrap(), path)
            .token(&p.app_user)
            .json(json!({}))
            .send()
            .await;
        r.assert_error(403, 900150);
    }
    app.get(&format!("/admin/v1/partners/{}/checks", p.id))
        .token(&p.app_user)
        .send()
        .await
        .assert_error(403, 900150);
}

#[tokio::test]
async fn with_the_journal_off_nothing_is_recorded() {
    let app = TestApp::with_config(|c| c.journal_size = 0).await;
    let p = app.partner();
    app.get("/v1/customers").token(&p.app_user).send().await;
    assert_eq!(
        journal(&app, "").await,
        json!({"entries": [], "evicted": 0})
    );
}

#[tokio::test]
async fn a_partners_reset_clears_its_faults_and_journal_and_leaves_the_others() {
    let app = TestApp::new().await;
    let (p, q) = (app.partner(), app.partner());
    for partner in [&p, &q] {
        add_fault(&app, json!({"match": {"partner": partner.id.to_string(), "method": "DELETE"}, "response": {"status": 500}})).await;
        app.get("/v1/customers")
            .token(&partner.app_user)
            .send()
            .await;
    }
    // A global fault (no match.partner) is nobody's: a partner's reset leaves it.
    add_fault(
        &app,
        json!({"match": {"method": "PATCH"}, "response": {"status": 500}}),
    )
    .await;
    app.admin(
        Method::POST,
        &format!("/admin/v1/partners/{}/reset", p.id),
        None,
        200,
    )
    .await;
    assert_eq!(faults(&app, &format!("?partner={}", p.id)).await, json!([]));
    assert_eq!(faults(&app, "").await.as_array().unwrap().len(), 2);
    assert_eq!(
        faults(&app, &format!("?partner={}", q.id))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        journal(&app, &format!("?partner={}", p.id)).await["entries"],
        json!([])
    );
    assert_eq!(
        journal(&app, &format!("?partner={}", q.id)).await["entries"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A restore is a reset then a seed: the partner's traffic state goes too.
    app.admin(
        Method::POST,
        &format!("/admin/v1/partners/{}/restore", q.id),
        Some(json!({"version": 1, "partners": []})),
        200,
    )
    .await;
    assert_eq!(faults(&app, &format!("?partner={}", q.id)).await, json!([]));
    assert_eq!(
        journal(&app, &format!("?partner={}", q.id)).await["entries"],
        json!([])
    );
    // A global reset: every fault, every entry.
    app.get("/v1/customers").token(&p.app_user).send().await;
    app.admin(Method::POST, "/admin/v1/reset", None, 200).await;
    assert_eq!(faults(&app, "").await, json!([]));
    assert_eq!(journal(&app, "").await["entries"], json!([]));
}

/// Hardening (issue 23): the journal is a ring per partner, unattributed requests in a small one
/// of their own. A flood of unauthenticated and refused requests, far beyond `--journal-size`,
/// leaves a partner's entries and the verdict of its checks as they were; a partner that fills
/// its own ring gets checks that say they are incomplete.
#[tokio::test]
async fn an_unauthenticated_flood_leaves_a_partners_journal_and_checks_intact() {
    let app = TestApp::with_config(|c| c.journal_size = 50).await;
    let admin = app.admin_token();
    let checks = async |p: &Partner| {
        let r = app
            .get(&format!("/admin/v1/partners/{}/checks", p.id))
            .token(&admin)
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    };
    let j = app.partner();
    // A write without MS-RequestId: one violation to judge.
    let r = app
        .post("/v1/customers")
        .token(&j.app_user)
        .json(customer_body())
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let before = checks(&j).await;
    assert_eq!(before["violations"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        (&before["requests"], &before["complete"]),
        (&json!(1), &json!(true))
    );

    for i in 0..300 {
        let req = app.post("/v1/customers").json(customer_body());
        let req = if i % 2 == 0 {
            req.token("not-a-token")
        } else {
            req
        };
        let r = req.send().await;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    assert_eq!(
        checks(&j).await,
        before,
        "the flood changed the partner's checks"
    );
    let mine = journal(&app, &format!("?partner={}", j.id)).await;
    assert_eq!(
        (mine["entries"].as_array().map(Vec::len), &mine["evicted"]),
        (Some(1), &json!(0))
    );

    // The partner's own traffic beyond the journal's size: its checks are incomplete.
    for _ in 0..60 {
        app.get("/v1/customers").token(&j.app_user).send().await;
    }
    let after = checks(&j).await;
    assert_eq!(after["complete"], false, "{after}");
    assert!(after["evicted"].as_u64() > Some(0), "{after}");
    let junit = app
        .get(&format!("/admin/v1/partners/{}/checks?format=junit", j.id))
        .token(&admin)
        .send()
        .await;
    assert!(
        junit
            .text
            .contains(r#"<property name="complete" value="false"/>"#),
        "{}",
        junit.text
    );
}
