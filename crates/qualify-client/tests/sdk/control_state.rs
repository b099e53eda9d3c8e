//! The state part of the test control plane (control.md 1-4) through the SDK, against a real
//! server: reset, fixtures, scenarios, the clock; and which control writes the SDK retries.

use std::time::Duration;

use qualify_client::{
    AppliedTransition, ClockMode, ClockScope, ErrorCategory, Fixture, Qualification,
    QualificationRequest, RuleMatch, Scenario, ScenarioOutcome, ScenarioRule, VettingStatus,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::support::*;
use crate::surface::new_customer;

const P: &str = "9daaeb1c-4195-4db5-9f1d-509eb70c8c2d";
const C: &str = "2b3f6a7e-1f1e-4c55-9b0a-3c2d1e0f9a8b";
const B: &str = "5e0c2f4a-8d1b-4f7e-a3c9-0b6d2e4f8a1c";

/// The example fixture document (docs/fixtures.example.json), and a second partner that uses every other field of the
/// document (a running clock, every match key, every address field, a GCC request with its code).
fn document() -> Value {
    let address = json!({
        "country": "US", "region": "West", "city": "Redmond", "state": "WA", "district": "King",
        "addressLine1": "1 Microsoft Way", "addressLine2": "Building 92", "addressLine3": "Floor 2",
        "postalCode": "98052", "firstName": "Ada", "middleName": "B", "lastName": "Lovelace",
        "emailAddress": "ada@fabrikam.com", "phoneNumber": "+1 425 555 0100"
    });
    let mut doc: Value =
        serde_json::from_str(include_str!("../../../../docs/fixtures.example.json"))
            .expect("docs/fixtures.example.json is JSON");
    let second = json!({
        "id": B,
        "validationCodes": [{"validationId": "777", "organizationName": "Fabrikam Gov", "maxCreates": 2, "remainingCreates": 1}],
        "customers": [{
          "id": "7d3e9b2c-5a4f-4e1d-8c6b-2f0a9e8d7c6b",
          "companyProfile": {"domain": "fabrikam.onmicrosoft.com", "companyName": "Fabrikam", "email": "it@fabrikam.com",
                             "address": address, "organizationRegistrationNumber": "FAB-42"},
          "billingProfile": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@fabrikam.com", "culture": "en-GB",
                             "language": "en", "companyName": "Fabrikam Ltd", "defaultAddress": address},
          "gdapRoles": ["Directory Reader", "Directory Writer"],
          "validationStatus": {"status": "Not Ready", "lastUpdateDateTime": "2026-02-01T08:30:00.250Z"},
          "qualifications": [
            {"qualification": "GovernmentCommunityCloud", "validationCode": "777", "vettingStatus": "Approved",
             "vettingCreateDate": "2026-02-01T09:00:00Z"}
          ]
        }],
        "vetting": {"rules": [
          {"match": {"qualification": "Education", "educationSegment": "K12", "customerId": "7d3e9b2c-5a4f-4e1d-8c6b-2f0a9e8d7c6b",
                     "website": "*.k12.wa.us", "domain": "*.onmicrosoft.com"}, "outcome": "Approved", "after": "PT72H"},
          {"match": {"qualification": "Education"}, "outcome": "Denied", "reason": "Not an Education Customer", "afterReads": 2},
          {"match": {}, "outcome": "Manual"}
        ]},
        "clock": {"mode": "running", "offsetSeconds": 86400.5}
    });
    doc["partners"]
        .as_array_mut()
        .expect("partners")
        .push(second);
    doc
}

/// Every key of the document is in the typed model: reading it and writing it back gives the
/// same JSON.
#[test]
fn the_typed_document_keeps_every_field() {
    let typed: Fixture = serde_json::from_value(document()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), document());
    let b = &typed.partners[1];
    assert_eq!(b.clock.as_ref().unwrap().mode, ClockMode::Running);
    let rules = &b.vetting.as_ref().unwrap().rules;
    assert_eq!(rules[0].after.as_deref(), Some("PT72H"));
    assert_eq!(rules[1].outcome, ScenarioOutcome::Denied);
    assert!(typed.partners.iter().all(|p| p.extra.is_empty()));
    // Keys this SDK does not know (a newer server's) are kept, not dropped.
    let mut newer = document();
    newer["partners"][0]["webhook"] = json!({"url": "https://example.com/hook"});
    newer["partners"][0]["customers"][0]["qualifications"][0]["evidence"] = json!(["a.pdf"]);
    let typed: Fixture = serde_json::from_value(newer.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), newer);
}

#[test]
fn rules_built_in_code_are_the_documented_json() {
    let s = Scenario::new(vec![
        ScenarioRule::approved()
            .qualification(Qualification::Education)
            .website("*.edu")
            .after(Duration::from_secs(2)),
        ScenarioRule::denied("Not an Education Customer")
            .qualification(Qualification::Education)
            .after_reads(2),
        ScenarioRule::manual().qualification(Qualification::StateOwnedEntity),
        ScenarioRule::auto().after(Duration::from_millis(1500)),
    ]);
    assert_eq!(
        serde_json::to_value(&s).unwrap(),
        json!({"rules": [
          {"match": {"qualification": "Education", "website": "*.edu"}, "outcome": "Approved", "after": "2s"},
          {"match": {"qualification": "Education"}, "outcome": "Denied", "reason": "Not an Education Customer", "afterReads": 2},
          {"match": {"qualification": "StateOwnedEntity"}, "outcome": "Manual"},
          {"match": {}, "outcome": "Auto", "after": "1500ms"}
        ]})
    );
}

#[tokio::test]
async fn seed_snapshot_restore_and_reset_through_the_typed_document() {
    let s = TestServer::start().await;
    let admin = s.admin();
    let doc: Fixture = serde_json::from_value(document()).unwrap();
    let applied = admin.admin().seed(&doc).await.unwrap();
    assert_eq!(
        (
            applied.customers,
            applied.qualifications,
            applied.validation_codes
        ),
        (2, 3, 2)
    );
    // Seeding the same document again changes nothing.
    let before = admin.admin().snapshot_json().await.unwrap();
    admin.admin().seed(&doc).await.unwrap();
    assert_eq!(admin.admin().snapshot_json().await.unwrap(), before);

    // snapshot (typed) -> restore -> snapshot: the same document.
    let typed = admin.admin().snapshot().await.unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), before);
    let restored = admin.admin().restore(&typed).await.unwrap();
    assert_eq!(restored.customers, 2);
    assert_eq!(admin.admin().snapshot_json().await.unwrap(), before);
    let a = typed.partner(P).expect("the first partner");
    assert_eq!(a.customers[0].qualifications.len(), 2);
    assert_eq!(
        a.customers[0].qualifications[1].vetting_status,
        Some(VettingStatus::InReview)
    );

    // One partner: its snapshot restores it, and its reset leaves the other untouched.
    let b_id = B;
    let b_before = admin.admin().partner(b_id).snapshot_json().await.unwrap();
    let mine = admin.admin().partner(P).snapshot().await.unwrap();
    assert_eq!(mine.partners.len(), 1);
    admin.admin().partner(P).restore(&mine).await.unwrap();
    let removed = admin.admin().partner(P).reset().await.unwrap();
    assert_eq!(
        (
            removed.customers,
            removed.qualifications,
            removed.validation_codes
        ),
        (1, 2, 1)
    );
    let empty = admin.admin().partner(P).snapshot().await.unwrap();
    assert!(empty.partners[0].customers.is_empty());
    assert!(empty.partners[0].clock.is_none() && empty.partners[0].vetting.is_none());
    assert_eq!(
        admin.admin().partner(b_id).snapshot_json().await.unwrap(),
        b_before
    );
    // A global reset removes everything; a partner never seen resets to nothing.
    let removed = admin.admin().reset().await.unwrap();
    assert_eq!(removed.customers, 1);
    assert_eq!(
        admin.admin().snapshot_json().await.unwrap(),
        json!({"version": 1, "partners": []})
    );
    let nobody = admin
        .admin()
        .partner(uuid::Uuid::new_v4())
        .reset()
        .await
        .unwrap();
    assert_eq!(nobody.customers, 0);

    // The schema is served; an untyped document (a JSON value) is taken as well.
    let schema = admin.admin().fixture_schema().await.unwrap();
    assert!(schema["properties"]["partners"].is_object(), "{schema}");
    admin.admin().seed(&document()).await.unwrap();
}

#[tokio::test]
async fn bad_and_conflicting_documents_are_errors_that_name_the_field() {
    let s = TestServer::start().await;
    let admin = s.admin();
    let p = s.partner();
    let taken = p
        .client
        .customers()
        .create(&new_customer("contoso.com"))
        .await
        .unwrap();
    let mut doc = document();
    doc["partners"][0]["customers"][0]["id"] = json!(taken.id);
    let e = admin.admin().seed(&doc).await.unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Conflict, "{e}");
    assert_eq!(e.code(), Some(900314));
    assert!(
        e.description().starts_with("partners[0].customers[0].id"),
        "{e}"
    );
    let mut doc = document();
    doc["partners"][0]["customers"][0]["qualifications"][0]["vettingStatus"] = json!("Pending");
    let typed: Fixture = serde_json::from_value(doc).unwrap();
    let e = admin.admin().restore(&typed).await.unwrap_err();
    assert_eq!(e.category(), ErrorCategory::BadInput, "{e}");
    assert!(
        e.description()
            .starts_with("partners[0].customers[0].qualifications[0].vettingStatus:"),
        "{e}"
    );
    assert_eq!(
        admin.admin().snapshot_json().await.unwrap()["partners"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing was applied (the partner of the customer created above)"
    );
    // The operator role is needed.
    let e = p.app_only.admin().reset().await.unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Forbidden);
    assert_eq!(e.code(), Some(900150));
}

#[tokio::test]
async fn a_scenario_is_set_read_and_cleared() {
    let s = TestServer::start().await;
    let admin = s.admin();
    let p = s.partner();
    let scenario = admin.admin().partner(&p.id).scenario();
    assert_eq!(scenario.get().await.unwrap(), Scenario::default());
    let rules = Scenario::new(vec![
        ScenarioRule::approved()
            .qualification(Qualification::Education)
            .website("*.edu")
            .after(Duration::from_secs(2)),
        ScenarioRule::denied("Not an Education Customer").after_reads(2),
        ScenarioRule {
            matches: RuleMatch {
                domain: Some("*.gov".into()),
                ..RuleMatch::default()
            },
            ..ScenarioRule::manual()
        },
    ]);
    let stored = scenario.set(&rules).await.unwrap();
    assert_eq!(stored, rules);
    assert_eq!(scenario.get().await.unwrap(), rules);
    // Another partner has none.
    let other = s.partner();
    assert!(
        admin
            .admin()
            .partner(&other.id)
            .scenario()
            .get()
            .await
            .unwrap()
            .rules
            .is_empty()
    );
    // A typo is a BadInput naming it, and changes nothing.
    let e = scenario
        .set(&json!({"rules": [{"outcome": "Approved", "afterRead": 2}]}))
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::BadInput);
    assert!(e.description().starts_with("rules[0].afterRead"), "{e}");
    assert_eq!(scenario.get().await.unwrap(), rules);
    scenario.clear().await.unwrap();
    assert!(scenario.get().await.unwrap().rules.is_empty());
    scenario.clear().await.unwrap();
}

/// The README's "in a test suite" walk, in Rust: a scenario, a request, an advance, the decision.
#[tokio::test]
async fn a_scenario_decides_when_the_clock_is_advanced() {
    let s = TestServer::start().await;
    let admin = s.admin();
    let p = s.partner();
    let me = admin.admin().partner(&p.id);
    let t0 = datetime!(2030-01-01 00:00:00 UTC);
    let frozen = me.clock().freeze(t0).await.unwrap();
    assert_eq!(
        (frozen.now, frozen.mode, frozen.scope),
        (t0, ClockMode::Frozen, ClockScope::Partner)
    );
    me.scenario()
        .set(&Scenario::new(vec![
            ScenarioRule::approved()
                .qualification(Qualification::Education)
                .after(Duration::from_secs(2)),
        ]))
        .await
        .unwrap();
    let customer = p
        .client
        .customers()
        .create(&new_customer("contoso.com"))
        .await
        .unwrap();
    let q = p.client.customers().by_id(&customer.id).qualifications();
    let created = q
        .create(&QualificationRequest::education(
            qualify_client::EducationSegment::HigherEducation,
            Some("contoso.com"),
        ))
        .await
        .unwrap();
    assert_eq!(created.vetting_create_date, Some(t0));
    let early = me.clock().advance_by(Duration::from_secs(1)).await.unwrap();
    assert_eq!(early.now, t0 + Duration::from_secs(1));
    assert!(early.applied.is_empty(), "{early:?}");
    let decided = me
        .clock()
        .advance_by(Duration::from_millis(1500))
        .await
        .unwrap();
    assert_eq!(decided.now, t0 + Duration::from_millis(2500));
    assert_eq!(
        decided.applied,
        vec![AppliedTransition {
            customer_id: customer.id.clone(),
            qualification: Qualification::Education,
            from: VettingStatus::InReview,
            to: VettingStatus::Approved,
            reason: None,
            at: t0 + Duration::from_secs(2),
        }]
    );
    assert_eq!(
        q.latest(&Qualification::Education)
            .await
            .unwrap()
            .unwrap()
            .vetting_status,
        VettingStatus::Approved
    );
    // Time never goes back: a Conflict, and the clock stays.
    let e = me.clock().advance_to(t0).await.unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Conflict, "{e}");
    assert_eq!(e.code(), Some(900313));
    let e = me.clock().freeze(t0).await.unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Conflict, "{e}");
    let to = me
        .clock()
        .advance_to(t0 + Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(to.now, t0 + Duration::from_secs(3600));
    let running = me.clock().resume().await.unwrap();
    assert_eq!(running.mode, ClockMode::Running);
    assert!(running.now >= t0 + Duration::from_secs(3600));
    me.clock().clear().await.unwrap();
    let back = me.clock().get().await.unwrap();
    assert_eq!(
        (back.mode, back.scope),
        (ClockMode::System, ClockScope::Global)
    );
}

#[tokio::test]
async fn the_global_clock_and_the_partners_that_follow_it() {
    let s = TestServer::start().await;
    let admin = s.admin();
    let p = s.partner();
    let t = datetime!(2031-06-01 12:00:00 UTC);
    let global = admin.admin().clock();
    assert_eq!(global.get().await.unwrap().mode, ClockMode::System);
    global.freeze(t).await.unwrap();
    let followed = admin.admin().partner(&p.id).clock().get().await.unwrap();
    assert_eq!(
        (followed.now, followed.mode, followed.scope),
        (t, ClockMode::Frozen, ClockScope::Global)
    );
    // The test values decide at once (dev auth): an advance by nothing runs what is due.
    let customer = p
        .client
        .customers()
        .create(&new_customer("contoso.com"))
        .await
        .unwrap();
    p.client
        .customers()
        .by_id(&customer.id)
        .qualifications()
        .create(&QualificationRequest::education(
            qualify_client::EducationSegment::K12,
            Some("https://www.denied.test/apply"),
        ))
        .await
        .unwrap();
    let a = global.advance_by(Duration::ZERO).await.unwrap();
    assert_eq!(a.now, t);
    let decided = p
        .client
        .customers()
        .by_id(&customer.id)
        .qualifications()
        .latest(&Qualification::Education)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(decided.vetting_status, VettingStatus::Denied);
    assert_eq!(
        decided.vetting_reason.as_deref(),
        Some("Not an Education Customer")
    );
    global.clear().await.unwrap();
    let now = OffsetDateTime::now_utc();
    let real = global.get().await.unwrap();
    assert_eq!(real.mode, ClockMode::System);
    assert!((real.now - now).abs() < time::Duration::minutes(5));
}

/// Control writes that set a state are retried like reads; an advance is not, after it may
/// have reached the server.
#[tokio::test]
async fn an_advance_is_never_sent_twice_but_a_reset_is_retried() {
    let counts = json!({"customers": 1, "qualifications": 0, "validationCodes": 0});
    let stub = Stub::start(vec![
        Canned::error(503, 900503).header("Retry-After", "0"),
        Canned::json(200, counts),
    ])
    .await;
    let c = client(&stub.base, "t");
    assert_eq!(c.admin().partner(P).reset().await.unwrap().customers, 1);
    assert_eq!(stub.count(), 2, "the reset was retried after the 503");
    assert_eq!(
        stub.seen()[0].uri.path(),
        format!("/admin/v1/partners/{P}/reset")
    );

    // The server's --advance-timeout ran out: 503 with what it applied in `data`.
    let partial = json!({"code": 900503, "description": "The advance did not finish", "data": [
        {"customerId": C, "qualification": "Education", "from": "InReview", "to": "Approved", "at": "2030-01-01T00:00:02Z"}
    ]});
    let stub = Stub::start(vec![
        Canned::json(503, partial).header("Retry-After", "0"),
        Canned::json(200, json!({"now": "2030-01-01T01:00:00Z", "applied": []})),
    ])
    .await;
    let c = client(&stub.base, "t");
    let e = c
        .admin()
        .partner(P)
        .clock()
        .advance_by(Duration::from_secs(3600))
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::ServerBusy);
    assert_eq!(stub.count(), 1, "an advance is not retried after a 503");
    let seen = &stub.seen()[0];
    assert_eq!(
        seen.uri.path(),
        format!("/admin/v1/partners/{P}/clock/advance")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&seen.body).unwrap(),
        json!({"by": "3600s"})
    );
    let so_far = AppliedTransition::applied_so_far(&e);
    assert_eq!(so_far.len(), 1);
    assert_eq!(so_far[0].to, VettingStatus::Approved);
    let e = c
        .admin()
        .clock()
        .advance_to(datetime!(2030-01-02 00:00:00 UTC))
        .await
        .unwrap();
    assert_eq!(e.now, datetime!(2030-01-01 01:00:00 UTC));
    assert_eq!(
        serde_json::from_str::<Value>(&stub.seen()[1].body).unwrap(),
        json!({"to": "2030-01-02T00:00:00Z"})
    );
}

/// The lost answer: the advance ran, the connection broke before the answer. The SDK does not
/// send it again, so time moved once.
#[tokio::test]
async fn an_advance_whose_answer_was_lost_moved_time_once() {
    let s = TestServer::start().await;
    let p = s.partner();
    let t0 = datetime!(2030-01-01 00:00:00 UTC);
    let admin = s.admin();
    admin
        .admin()
        .partner(&p.id)
        .clock()
        .freeze(t0)
        .await
        .unwrap();
    let proxy = FaultyProxy::start(&s.base, vec![Fault::DropResponse]).await;
    let through = client(&proxy.base, &token_of_admin());
    let e = through
        .admin()
        .partner(&p.id)
        .clock()
        .advance_by(Duration::from_secs(3600))
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Transport, "{e}");
    assert_eq!(proxy.connections(), 1, "not sent again");
    let now = admin.admin().partner(&p.id).clock().get().await.unwrap();
    assert_eq!(now.now, t0 + Duration::from_secs(3600));
    // A freeze (it sets a state) is retried through the same kind of failure.
    let proxy = FaultyProxy::start(&s.base, vec![Fault::DropResponse]).await;
    let through = client(&proxy.base, &token_of_admin());
    let t1 = t0 + Duration::from_secs(7200);
    let frozen = through
        .admin()
        .partner(&p.id)
        .clock()
        .freeze(t1)
        .await
        .unwrap();
    assert_eq!(frozen.now, t1);
    assert_eq!(proxy.connections(), 2);
}

fn token_of_admin() -> String {
    token(qualify_core::PartnerId::new_random(), true, true)
}
