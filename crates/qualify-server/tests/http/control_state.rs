//! control.md 1 and 2: reset, and fixtures (seed, snapshot, restore, the schema).

use std::time::Duration;

use axum::http::Method;
use qualify_core::policy::VettingMode;
use qualify_server::ServerConfig;
use serde_json::{Value, json};

use crate::support::*;

const P: &str = "9daaeb1c-4195-4db5-9f1d-509eb70c8c2d";
const C: &str = "2b3f6a7e-1f1e-4c55-9b0a-3c2d1e0f9a8b";

/// The example fixture document (docs/fixtures.example.json, shown in docs/testing.md).
pub fn example() -> Value {
    serde_json::from_str(EXAMPLE).expect("docs/fixtures.example.json is JSON")
}

const EXAMPLE: &str = include_str!("../../../../docs/fixtures.example.json");

/// docs/testing.md shows the example file as it is.
#[test]
fn the_docs_show_the_example_the_tests_load() {
    let docs = include_str!("../../../../docs/testing.md");
    assert!(
        docs.contains(&format!("```json\n{EXAMPLE}```\n")),
        "the fixture example in docs/testing.md differs from docs/fixtures.example.json"
    );
}

fn example_partner() -> Partner {
    Partner::new(P.parse().unwrap())
}

async fn snapshot(app: &TestApp, partner: Option<&str>) -> Value {
    let path = match partner {
        Some(p) => format!("/admin/v1/partners/{p}/snapshot"),
        None => "/admin/v1/snapshot".into(),
    };
    app.admin(Method::GET, &path, None, 200).await
}

/// Everything a partner can see of itself plus its operator view: what must not change when
/// another partner is reset.
async fn world_of(app: &TestApp, p: &Partner, customers: &[String]) -> Value {
    let mut out = json!({"snapshot": snapshot(app, Some(&p.id.to_string())).await});
    out["codes"] = app
        .get("/v1/customers/all/validations")
        .token(&p.app_user)
        .send()
        .await
        .body;
    for c in customers {
        out[c] = app.qualifications(p, c).await;
        out[format!("{c}-history")] = app.history(c, "Education").await;
    }
    out
}

#[tokio::test]
async fn a_seed_makes_the_documented_state_visible_through_the_api() {
    let app = TestApp::new().await;
    let counts = app
        .admin(Method::POST, "/admin/v1/seed", Some(example()), 200)
        .await;
    assert_eq!(
        counts,
        json!({"customers": 1, "qualifications": 2, "validationCodes": 1})
    );
    let p = example_partner();
    let list = app.qualifications(&p, C).await;
    assert_eq!(
        list,
        json!([
            {"qualification": "Education", "vettingStatus": "Denied", "vettingReason": "Not an Education Customer", "vettingCreateDate": "2026-01-02T09:00:00Z"},
            {"qualification": "StateOwnedEntity", "vettingStatus": "InReview", "vettingCreateDate": "2026-01-03T09:00:00Z"}
        ])
    );
    let codes = app
        .get("/v1/customers/all/validations")
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(codes.body[0]["validationId"], "123456");
    assert_eq!(
        (
            codes.body[0]["maxCreates"].clone(),
            codes.body[0]["remainingCreates"].clone()
        ),
        (json!(5), json!(4))
    );
    let status = app
        .get(&format!("/v1/customers/{C}/validationStatus?type=account"))
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(status.body["status"], "Allowed", "{}", status.text);
    let customer = app
        .get(&format!("/v1/customers/{C}"))
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(
        customer.body["companyProfile"]["domain"],
        "contoso.onmicrosoft.com"
    );
    let clock = app
        .admin(
            Method::GET,
            &format!("/admin/v1/partners/{P}/clock"),
            None,
            200,
        )
        .await;
    assert_eq!(
        clock,
        json!({"now": "2026-01-05T12:00:00Z", "mode": "frozen", "scope": "partner"})
    );
    // The seeded InReview request is in the review queue and can be decided.
    let d = app.decide(C, "StateOwnedEntity", "Approved", None).await;
    assert_eq!(d["vettingStatus"], "Approved");
    // The seeded GDAP role and code let the partner request GCC (the Education request was
    // denied, so the two do not combine); it spends one of the seeded code's creates.
    let r = create(&app, &p, C, gcc("123456")).await;
    assert_created(&r, "GovernmentCommunityCloud");
    let codes = app
        .get("/v1/customers/all/validations")
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(codes.body[0]["remainingCreates"], 3);
}

#[tokio::test]
async fn seeding_twice_is_seeding_once() {
    let app = TestApp::new().await;
    app.admin(Method::POST, "/admin/v1/seed", Some(example()), 200)
        .await;
    let first = snapshot(&app, None).await;
    let etag = app.review_etag(C, "StateOwnedEntity").await;
    let again = app
        .admin(Method::POST, "/admin/v1/seed", Some(example()), 200)
        .await;
    assert_eq!(
        again,
        json!({"customers": 1, "qualifications": 2, "validationCodes": 1})
    );
    assert_eq!(snapshot(&app, None).await, first);
    assert_eq!(
        app.review_etag(C, "StateOwnedEntity").await,
        etag,
        "the customer was not replaced"
    );
    assert_eq!(
        app.history(C, "StateOwnedEntity")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn snapshot_restore_snapshot_is_the_same_document() {
    let app = TestApp::new().await;
    app.admin(Method::POST, "/admin/v1/seed", Some(example()), 200)
        .await;
    // Add state through the API too.
    let p = app.partner();
    let c = app.create_customer_with_domain(&p, "fabrikam.com").await;
    assert_created(&create(&app, &p, &c, education()).await, "Education");
    app.issue_code(&p, 3).await;
    app.admin(
        Method::PUT,
        &format!("/admin/v1/partners/{}/vetting", p.id),
        Some(json!({"rules": [{"match": {"qualification": "Education"}, "outcome": "Denied", "reason": "No", "afterReads": 2}]})),
        200,
    )
    .await;
    let before = snapshot(&app, None).await;
    let restored = app
        .admin(Method::POST, "/admin/v1/restore", Some(before.clone()), 200)
        .await;
    assert_eq!(restored["customers"], 2);
    assert_eq!(snapshot(&app, None).await, before);
    // One partner's snapshot restores that partner the same way.
    let mine = snapshot(&app, Some(&p.id.to_string())).await;
    app.admin(
        Method::POST,
        &format!("/admin/v1/partners/{}/restore", p.id),
        Some(mine.clone()),
        200,
    )
    .await;
    assert_eq!(snapshot(&app, Some(&p.id.to_string())).await, mine);
    // A partner's restore takes only that partner.
    let r = app
        .post(&format!("/admin/v1/partners/{}/restore", p.id))
        .token(&app.admin_token())
        .json(example())
        .send()
        .await;
    r.assert_error(400, 800002);
    assert!(
        r.body["description"]
            .as_str()
            .unwrap()
            .starts_with("partners[0].id"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn a_conflicting_or_malformed_document_changes_nothing_and_names_the_field() {
    let app = TestApp::new().await;
    let other = app.partner();
    let c = app.create_customer(&other).await;
    app.admin(Method::POST, "/admin/v1/seed", Some(example()), 200)
        .await;
    let before = snapshot(&app, None).await;
    // The document's customer id belongs to another partner: 409, nothing applied (the code
    // of the first partner in the same document included).
    let mut taken = example();
    taken["partners"][0]["validationCodes"][0]["validationId"] = json!("999999");
    taken["partners"][0]["customers"][0]["id"] = json!(c);
    let r = app
        .post("/admin/v1/seed")
        .token(&app.admin_token())
        .json(taken)
        .send()
        .await;
    r.assert_error(409, 900314);
    assert!(
        r.body["description"]
            .as_str()
            .unwrap()
            .starts_with("partners[0].customers[0].id"),
        "{}",
        r.text
    );
    for (edit, path) in [
        (json!({"version": 2}), "version"),
        (
            json!({"partners": [{"id": P, "customers": [{"id": C, "qualifications": [{"qualification": "Education", "vettingStatus": "Pending"}]}]}]}),
            "partners[0].customers[0].qualifications[0].vettingStatus",
        ),
        (
            json!({"partners": [{"id": P, "customers": [{"id": C, "qualifications": [
            {"qualification": "Education", "vettingStatus": "InReview"},
            {"qualification": "GovernmentCommunityCloud", "vettingStatus": "Approved"}]}]}]}),
            "partners[0].customers[0].qualifications[1]",
        ),
        (
            json!({"partners": [{"id": P, "customers": [{"id": C, "gdapRole": []}]}]}),
            "partners[0].customers[0].gdapRole",
        ),
        (
            json!({"partners": [{"id": P, "vetting": {"rules": [{"outcome": "Approved", "afterRead": 1}]}}]}),
            "partners[0].vetting.rules[0].afterRead",
        ),
        (
            json!({"partners": [{"id": P, "clock": {"mode": "frozen"}}]}),
            "partners[0].clock.now",
        ),
    ] {
        let mut doc = json!({"version": 1});
        for (k, v) in edit.as_object().unwrap() {
            doc[k] = v.clone();
        }
        let r = app
            .post("/admin/v1/seed")
            .token(&app.admin_token())
            .json(doc.clone())
            .send()
            .await;
        r.assert_error(400, 800002);
        let d = r.body["description"].as_str().unwrap();
        assert!(d.starts_with(&format!("{path}:")), "{doc}: {d}");
    }
    assert_eq!(snapshot(&app, None).await, before, "nothing was applied");
}

#[tokio::test]
async fn a_partner_reset_leaves_every_other_partner_untouched() {
    let app = TestApp::with_config(|c: &mut ServerConfig| c.policy.mode = VettingMode::Auto).await;
    let (a, b) = (app.partner(), app.partner());
    let mut customers = (vec![], vec![]);
    for (p, list) in [(&a, &mut customers.0), (&b, &mut customers.1)] {
        app.issue_code(p, 2).await;
        for domain in ["contoso.edu", "fabrikam.com"] {
            let c = app.create_customer_with_domain(p, domain).await;
            assert_created(&create(&app, p, &c, education()).await, "Education");
            list.push(c);
        }
        app.admin(
            Method::PUT,
            &format!("/admin/v1/partners/{}/clock", p.id),
            Some(json!({"frozenAt": "2027-01-01T00:00:00Z"})),
            200,
        )
        .await;
    }
    app.run_pending_jobs().await;
    let b_before = world_of(&app, &b, &customers.1).await;
    let removed = app
        .admin(
            Method::POST,
            &format!("/admin/v1/partners/{}/reset", a.id),
            None,
            200,
        )
        .await;
    assert_eq!(
        removed,
        json!({"customers": 2, "qualifications": 2, "validationCodes": 1})
    );
    assert_eq!(world_of(&app, &b, &customers.1).await, b_before);
    // A is empty: no customers, codes, scenario or clock of its own.
    let a_snapshot = snapshot(&app, Some(&a.id.to_string())).await;
    assert_eq!(
        a_snapshot,
        json!({"version": 1, "partners": [{"id": a.id.to_string(), "validationCodes": [], "customers": []}]})
    );
    app.get(&format!("/v1/customers/{}", customers.0[0]))
        .token(&a.app_user)
        .send()
        .await
        .assert_error(404, 1000);
    let clock = app
        .admin(
            Method::GET,
            &format!("/admin/v1/partners/{}/clock", a.id),
            None,
            200,
        )
        .await;
    assert_eq!(clock["scope"], "global");
    // A partner id never seen is valid: an empty reset.
    let removed = app
        .admin(
            Method::POST,
            &format!("/admin/v1/partners/{}/reset", new_id()),
            None,
            200,
        )
        .await;
    assert_eq!(
        removed,
        json!({"customers": 0, "qualifications": 0, "validationCodes": 0})
    );
    // A global reset removes everything.
    let removed = app.admin(Method::POST, "/admin/v1/reset", None, 200).await;
    assert_eq!(removed["customers"], 2);
    assert_eq!(
        snapshot(&app, None).await,
        json!({"version": 1, "partners": []})
    );
}

#[tokio::test]
async fn a_reset_forgets_idempotency_records_and_goes_back_to_the_seed() {
    let app = TestApp::new().await;
    let applied = app
        .state
        .seed_at_start(example().to_string().as_bytes())
        .await
        .unwrap();
    assert!(applied.is_some());
    assert_eq!(
        app.state
            .seed_at_start(example().to_string().as_bytes())
            .await
            .unwrap(),
        None,
        "the same --seed document is not applied twice"
    );
    let seeded = snapshot(&app, None).await;
    let p = example_partner();
    let rid = new_id();
    let first = app
        .post("/v1/customers")
        .token(&p.app_user)
        .request_id(&rid)
        .json(customer_body("contoso.com"))
        .send()
        .await;
    assert_eq!(first.status, 201);
    app.decide(C, "StateOwnedEntity", "Denied", Some("No"))
        .await;
    let removed = app
        .admin(
            Method::POST,
            &format!("/admin/v1/partners/{P}/reset"),
            None,
            200,
        )
        .await;
    assert_eq!(removed["customers"], 2);
    assert_eq!(
        snapshot(&app, None).await,
        seeded,
        "back to what --seed loaded"
    );
    // The key's record went with the reset: the same request runs again.
    let again = app
        .post("/v1/customers")
        .token(&p.app_user)
        .request_id(&rid)
        .json(customer_body("contoso.com"))
        .send()
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("Idempotent-Replayed"), None);
    assert_ne!(again.body["id"], first.body["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reset_racing_creates_leaves_each_create_entirely_there_or_entirely_gone() {
    let app = std::sync::Arc::new(TestApp::new().await);
    for round in 0..5 {
        let p = app.partner();
        let code = app.issue_code(&p, 8).await;
        let mut customers = vec![];
        for _ in 0..8 {
            customers.push(app.create_customer(&p).await);
        }
        // Eight GCC requests on existing customers and eight new customers, racing a reset.
        let creates = customers.iter().cloned().map(|c| {
            let (app, p, code) = (app.clone(), p.clone(), code.clone());
            tokio::spawn(async move { create(&app, &p, &c, gcc(&code)).await.status })
        });
        let new_customers = (0..8).map(|_| {
            let (app, p) = (app.clone(), p.clone());
            tokio::spawn(async move {
                let r = app
                    .post("/v1/customers")
                    .token(&p.app_user)
                    .json(customer_body("contoso.onmicrosoft.com"))
                    .send()
                    .await;
                (r.status, r.body["id"].as_str().map(str::to_owned))
            })
        });
        let reset = {
            let app = app.clone();
            let path = format!("/admin/v1/partners/{}/reset", p.id);
            tokio::spawn(async move { app.admin(Method::POST, &path, None, 200).await })
        };
        let statuses: Vec<u16> = futures::future::join_all(creates)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let made: Vec<(u16, Option<String>)> = futures::future::join_all(new_customers)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let removed = reset.await.unwrap();
        // A request on a customer the reset removed found none; one before it was removed
        // whole: no qualification, code or code use is left.
        assert!(
            statuses.iter().all(|s| [201, 404].contains(s)),
            "round {round}: {statuses:?}"
        );
        let snap = snapshot(&app, Some(&p.id.to_string())).await;
        let partner = &snap["partners"][0];
        assert_eq!(partner["validationCodes"], json!([]), "round {round}");
        let left: Vec<&Value> = partner["customers"].as_array().unwrap().iter().collect();
        for c in &left {
            assert_eq!(c["qualifications"], json!([]), "round {round}: {c}");
            // A customer created after the reset is there whole, with its GDAP grant.
            assert_eq!(
                c["gdapRoles"],
                json!(["Directory Reader"]),
                "round {round}: {c}"
            );
            assert!(made.iter().any(|(_, id)| id.as_deref() == c["id"].as_str()));
        }
        let created_before = made.iter().filter(|(s, _)| *s == 201).count() - left.len();
        assert_eq!(
            removed["customers"].as_u64().unwrap() as usize,
            8 + created_before,
            "round {round}: the reset removed the customers that were there"
        );
        assert_eq!(
            removed["qualifications"].as_u64().unwrap() as usize,
            statuses.iter().filter(|s| **s == 201).count(),
            "round {round}: every GCC request that was answered 201 was removed with the reset"
        );
        // No vetting job of a removed request is left to run.
        assert_eq!(
            app.state
                .store()
                .unfinished_due_by(
                    qualify_core::engine::Scope::Partner(p.id),
                    qualify_server::testing::T0 + Duration::from_secs(86_400)
                )
                .await
                .unwrap(),
            0,
            "round {round}"
        );
    }
}

#[tokio::test]
async fn the_schema_is_served_and_documents_validate_against_it() {
    let app = TestApp::new().await;
    let schema = app
        .admin(Method::GET, "/admin/v1/fixtures/schema", None, 200)
        .await;
    let committed: Value =
        serde_json::from_str(include_str!("../../../../docs/fixtures.schema.json")).unwrap();
    assert_eq!(schema, committed);
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(
        validator.is_valid(&example()),
        "{:?}",
        validator
            .iter_errors(&example())
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    );
    // A snapshot validates too, and a typo does not.
    app.admin(Method::POST, "/admin/v1/seed", Some(example()), 200)
        .await;
    let snap = snapshot(&app, None).await;
    assert!(validator.is_valid(&snap));
    let mut typo = example();
    typo["partners"][0]["customers"][0]["gdapRole"] = json!([]);
    assert!(!validator.is_valid(&typo));
}

#[tokio::test]
async fn control_endpoints_need_the_operator_role() {
    let app = TestApp::new().await;
    let p = app.partner();
    for (method, path) in [
        (Method::POST, "/admin/v1/reset".to_owned()),
        (Method::POST, format!("/admin/v1/partners/{}/reset", p.id)),
        (Method::GET, "/admin/v1/snapshot".into()),
        (Method::POST, "/admin/v1/seed".into()),
        (Method::GET, "/admin/v1/fixtures/schema".into()),
        (Method::GET, format!("/admin/v1/partners/{}/vetting", p.id)),
        (Method::GET, "/admin/v1/clock".into()),
        (
            Method::POST,
            format!("/admin/v1/partners/{}/clock/advance", p.id),
        ),
    ] {
        app.req(method.clone(), &path)
            .token(&p.app_user)
            .json(json!({}))
            .send()
            .await
            .assert_error(403, 900150);
        app.req(method, &path)
            .send()
            .await
            .assert_error(401, 800001);
    }
    app.post("/admin/v1/partners/not-a-guid/reset")
        .token(&app.admin_token())
        .send()
        .await
        .assert_error(400, 800002);
}
