//! Creating and reading qualifications (api.md 4.1 - 4.3, 4.5) and idempotency (api.md 1): every
//! rule, and nothing stored changes when a request is rejected.

use std::collections::HashSet;
use std::future::Future;

use futures::future::join_all;
use serde_json::{Value, json};

use crate::support::*;

pub fn legacy_path(customer: &str) -> String {
    format!("/v1/customers/{customer}/qualification")
}

/// What a rejected request must leave alone: the customer's qualifications and the partner's codes.
pub async fn snapshot(s: &Api, p: &Partner, customer: &str) -> (Value, Value) {
    (s.qualifications(p, customer).await, s.codes(p).await)
}

/// Sends `req`, expects the error, and checks that nothing stored changed.
pub async fn assert_rejected(
    s: &Api,
    p: &Partner,
    customer: &str,
    what: &str,
    req: Req<'_>,
    status: u16,
    code: u64,
) {
    let before = snapshot(s, p, customer).await;
    let r = req.send().await;
    assert_eq!(
        (r.status, r.body["code"].as_u64()),
        (status, Some(code)),
        "{what}: {}",
        r.text
    );
    r.assert_error(status, code);
    assert_eq!(
        snapshot(s, p, customer).await,
        before,
        "{what}: a rejected request changed stored state"
    );
}

fn code_entry<'a>(codes: &'a Value, id: &str) -> &'a Value {
    codes
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["validationId"] == id)
        .unwrap_or_else(|| panic!("code {id} not in {codes}"))
}

async fn remaining(s: &Api, p: &Partner, code: &str) -> i64 {
    code_entry(&s.codes(p).await, code)["remainingCreates"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn create_returns_201_in_review() {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let r = create(&s, &p, &c, education()).await;
    assert_created(&r, "Education");
    assert_no_nulls(&r.body);
    let keys: HashSet<&str> = r
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        HashSet::from(["qualification", "vettingStatus", "vettingCreateDate"]),
        "{}",
        r.text
    );
    assert!(r.body.get("vettingReason").is_none());
    assert!(
        r.body["vettingCreateDate"]
            .as_str()
            .is_some_and(is_wire_date),
        "{}",
        r.text
    );
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("application/json")
    );
    assert!(r.header("Idempotent-Replayed").is_none());

    let list = s.qualifications(&p, &c).await;
    assert_eq!(list, json!([r.body]));

    // Keys and enum values are matched case-insensitively.
    let c2 = s.create_customer(&p).await;
    let r = create(
        &s,
        &p,
        &c2,
        json!({"Qualification": "education", "EducationSegment": "k12"}),
    )
    .await;
    assert_created(&r, "Education");
    let r = create(
        &s,
        &p,
        &c2,
        json!({"QUALIFICATION": "stateownedentity", "unknown": {"x": 1}}),
    )
    .await;
    assert_created(&r, "StateOwnedEntity");
}

#[tokio::test]
async fn invalid_requests_are_400_and_change_nothing() {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    s.issue_code(&p, 3).await;
    let q = qualifications_path(&c);
    let cases: Vec<(&str, Value, u64)> = vec![
        ("None", json!({"qualification": "None"}), 900301),
        ("Nonprofit", json!({"qualification": "Nonprofit"}), 900301),
        (
            "nonprofit lower case",
            json!({"qualification": "nonprofit"}),
            900301,
        ),
        ("unknown value", json!({"qualification": "Charity"}), 800002),
        (
            "no qualification",
            json!({"educationSegment": "K12"}),
            800002,
        ),
        (
            "qualification not a string",
            json!({"qualification": 1}),
            800002,
        ),
        (
            "Education without segment",
            json!({"qualification": "Education", "website": "contoso.edu"}),
            900302,
        ),
        (
            "Education with a bad segment",
            json!({"qualification": "Education", "educationSegment": "University"}),
            800002,
        ),
        (
            "GCC without code",
            json!({"qualification": "GovernmentCommunityCloud"}),
            900303,
        ),
        (
            "GCC with a blank code",
            json!({"qualification": "GovernmentCommunityCloud", "validationCode": "  "}),
            900303,
        ),
        ("GCC with unknown code", gcc("000000000"), 900304),
    ];
    for (what, body, code) in cases {
        assert_rejected(
            &s,
            &p,
            &c,
            what,
            s.post(&q).token(&p.app_user).json(body),
            400,
            code,
        )
        .await;
    }
    assert_rejected(
        &s,
        &p,
        &c,
        "bad JSON",
        s.post(&q)
            .token(&p.app_user)
            .raw("application/json", "{\"qualification\":"),
        400,
        800002,
    )
    .await;
    assert_rejected(
        &s,
        &p,
        &c,
        "bare string body",
        s.post(&q).token(&p.app_user).json(json!("Education")),
        400,
        800002,
    )
    .await;
    assert_rejected(
        &s,
        &p,
        &c,
        "app-only token",
        s.post(&q).token(&p.app_only).json(education()),
        403,
        900150,
    )
    .await;
    assert_rejected(
        &s,
        &p,
        &c,
        "no token",
        s.post(&q).json(education()),
        401,
        800001,
    )
    .await;
    let other = s.partner();
    assert_rejected(
        &s,
        &p,
        &c,
        "another partner's customer",
        s.post(&q).token(&other.app_user).json(education()),
        403,
        20002,
    )
    .await;
    assert_eq!(s.qualifications(&p, &c).await, json!([]));

    s.post(&qualifications_path(&new_id()))
        .token(&p.app_user)
        .json(education())
        .send()
        .await
        .assert_error(404, 1000);
    s.post(&qualifications_path("nope"))
        .token(&p.app_user)
        .json(education())
        .send()
        .await
        .assert_error(400, 900118);
}

#[tokio::test]
async fn gcc_codes_must_be_the_partners_and_have_creates_left() {
    let s = TestApp::new().await;
    let p = s.partner();
    let other = s.partner();
    let mine = s.issue_code(&p, 1).await;
    let theirs = s.issue_code(&other, 5).await;
    let c1 = s.create_customer(&p).await;
    let c2 = s.create_customer(&p).await;

    // Another partner's code is reported like an unknown one, and is not spent.
    let others_before = s.codes(&other).await;
    assert_rejected(
        &s,
        &p,
        &c1,
        "another partner's code",
        s.post(&qualifications_path(&c1))
            .token(&p.app_user)
            .json(gcc(&theirs)),
        400,
        900304,
    )
    .await;
    assert_rejected(
        &s,
        &p,
        &c1,
        "unknown code",
        s.post(&qualifications_path(&c1))
            .token(&p.app_user)
            .json(gcc("no-such-code")),
        400,
        900304,
    )
    .await;
    assert_eq!(s.codes(&other).await, others_before);

    // Without a GDAP role over the customer: 403, and the code is not spent.
    let g = s
        .put(&format!("/admin/v1/customers/{c1}/gdap"))
        .token(&s.admin_token())
        .json(json!({"roles": []}))
        .send()
        .await;
    assert_eq!(g.status, 200, "{}", g.text);
    assert_rejected(
        &s,
        &p,
        &c1,
        "GCC without a GDAP role",
        s.post(&qualifications_path(&c1))
            .token(&p.app_user)
            .json(gcc(&mine)),
        403,
        900150,
    )
    .await;
    let g = s
        .put(&format!("/admin/v1/customers/{c1}/gdap"))
        .token(&s.admin_token())
        .json(json!({"roles": ["User Administrator"]}))
        .send()
        .await;
    assert_eq!(g.status, 200, "{}", g.text);

    // A successful create spends exactly one use.
    assert_eq!(remaining(&s, &p, &mine).await, 1);
    assert_created(
        &create(&s, &p, &c1, gcc(&mine)).await,
        "GovernmentCommunityCloud",
    );
    assert_eq!(remaining(&s, &p, &mine).await, 0);

    // Exhausted: 400, nothing stored, never negative.
    assert_rejected(
        &s,
        &p,
        &c2,
        "exhausted code",
        s.post(&qualifications_path(&c2))
            .token(&p.app_user)
            .json(gcc(&mine)),
        400,
        900305,
    )
    .await;
    assert_eq!(remaining(&s, &p, &mine).await, 0);
    assert_eq!(s.qualifications(&p, &c2).await, json!([]));
}

#[tokio::test]
async fn gcc_code_from_body_or_legacy_query_and_body_wins() {
    let s = TestApp::new().await;
    let p = s.partner();
    let a = s.issue_code(&p, 5).await;
    let b = s.issue_code(&p, 5).await;

    // Body.
    let c = s.create_customer(&p).await;
    assert_created(
        &create(&s, &p, &c, gcc(&a)).await,
        "GovernmentCommunityCloud",
    );
    assert_eq!(
        (remaining(&s, &p, &a).await, remaining(&s, &p, &b).await),
        (4, 5)
    );

    // Legacy query.
    let c = s.create_customer(&p).await;
    let r = s
        .post(&format!("{}?code={b}", qualifications_path(&c)))
        .token(&p.app_user)
        .json(json!({"qualification": "GovernmentCommunityCloud"}))
        .send()
        .await;
    assert_created(&r, "GovernmentCommunityCloud");
    assert_eq!(
        (remaining(&s, &p, &a).await, remaining(&s, &p, &b).await),
        (4, 4)
    );

    // Both: the body wins, so a wrong query code does not matter ...
    let c = s.create_customer(&p).await;
    let r = s
        .post(&format!("{}?code=wrong-code", qualifications_path(&c)))
        .token(&p.app_user)
        .json(gcc(&a))
        .send()
        .await;
    assert_created(&r, "GovernmentCommunityCloud");
    assert_eq!(
        (remaining(&s, &p, &a).await, remaining(&s, &p, &b).await),
        (3, 4)
    );

    // ... and a right query code does not rescue a wrong body code.
    let c = s.create_customer(&p).await;
    let req = s
        .post(&format!("{}?code={b}", qualifications_path(&c)))
        .token(&p.app_user)
        .json(gcc("wrong-code"));
    assert_rejected(
        &s,
        &p,
        &c,
        "wrong body code, right query code",
        req,
        400,
        900304,
    )
    .await;
    assert_eq!(
        (remaining(&s, &p, &a).await, remaining(&s, &p, &b).await),
        (3, 4)
    );
}

#[tokio::test]
async fn in_review_or_approved_qualification_conflicts() {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    assert_created(&create(&s, &p, &c, state_owned()).await, "StateOwnedEntity");
    let req = s
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .json(state_owned());
    assert_rejected(
        &s,
        &p,
        &c,
        "StateOwnedEntity again while InReview",
        req,
        409,
        900306,
    )
    .await;

    s.decide(&c, "StateOwnedEntity", "Approved", None).await;
    let req = s
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .json(state_owned());
    assert_rejected(
        &s,
        &p,
        &c,
        "StateOwnedEntity again once Approved",
        req,
        409,
        900306,
    )
    .await;

    // Education, InReview then Approved.
    assert_created(&create(&s, &p, &c, education()).await, "Education");
    let req = s
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .json(education());
    assert_rejected(
        &s,
        &p,
        &c,
        "Education again while InReview",
        req,
        409,
        900306,
    )
    .await;
    s.decide(&c, "Education", "Approved", None).await;
    let req = s
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .json(education());
    assert_rejected(
        &s,
        &p,
        &c,
        "Education again once Approved",
        req,
        409,
        900306,
    )
    .await;

    let list = s.qualifications(&p, &c).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|q| q["vettingStatus"] == "Approved"),
        "{list}"
    );
}

#[tokio::test]
async fn education_and_gcc_never_combine() {
    let s = TestApp::new().await;
    let p = s.partner();
    let code = s.issue_code(&p, 10).await;

    // Education first (InReview, then Approved), GCC refused.
    let c = s.create_customer(&p).await;
    assert_created(&create(&s, &p, &c, education()).await, "Education");
    let req = s
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .json(gcc(&code));
    assert_rejected(
        &s,
        &p,
        &c,
        "GCC next to InReview Education",
        req,
        409,
        900307,
    )
    .await;
    s.decide(&c, "Education", "Approved", None).await;
    let req = s
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .json(gcc(&code));
    assert_rejected(
        &s,
        &p,
        &c,
        "GCC next to Approved Education",
        req,
        409,
        900307,
    )
    .await;

    // GCC first, Education refused.
    let c = s.create_customer(&p).await;
    assert_created(
        &create(&s, &p, &c, gcc(&code)).await,
        "GovernmentCommunityCloud",
    );
    let req = s
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .json(education());
    assert_rejected(
        &s,
        &p,
        &c,
        "Education next to InReview GCC",
        req,
        409,
        900307,
    )
    .await;
    s.decide(&c, "GovernmentCommunityCloud", "Approved", None)
        .await;
    let req = s
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .json(education());
    assert_rejected(
        &s,
        &p,
        &c,
        "Education next to Approved GCC",
        req,
        409,
        900307,
    )
    .await;
    assert_eq!(remaining(&s, &p, &code).await, 9);

    // StateOwnedEntity combines with either.
    assert_created(&create(&s, &p, &c, state_owned()).await, "StateOwnedEntity");
}

#[tokio::test]
async fn denied_education_may_be_requested_three_times_in_all() {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    for i in 1..=3 {
        assert_created(&create(&s, &p, &c, education()).await, "Education");
        let d = s
            .decide(&c, "Education", "Denied", Some("Not an Education Customer"))
            .await;
        assert_eq!(d["vettingStatus"], "Denied", "request {i}");
    }
    let req = s
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .json(education());
    assert_rejected(&s, &p, &c, "a fourth Education request", req, 409, 900308).await;
    let req = s
        .put(&legacy_path(&c))
        .token(&p.app_user)
        .json(json!("education"));
    assert_rejected(
        &s,
        &p,
        &c,
        "a fourth Education request (legacy)",
        req,
        409,
        900308,
    )
    .await;
    let list = s.qualifications(&p, &c).await;
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    assert!(list.as_array().unwrap().iter().all(
        |q| q["vettingStatus"] == "Denied" && q["vettingReason"] == "Not an Education Customer"
    ));
}

#[tokio::test]
async fn qualification_list_is_a_bare_array() {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let r = s
        .get(&qualifications_path(&c))
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!([]));
    assert_eq!(r.text.trim(), "[]");
    let r = s
        .get(&qualifications_path(&c))
        .token(&p.app_only)
        .send()
        .await;
    assert_eq!((r.status, r.body.clone()), (200, json!([])), "{}", r.text);

    let created = create(&s, &p, &c, education()).await;
    assert_created(&created, "Education");
    let r = s
        .get(&qualifications_path(&c))
        .token(&p.app_only)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!([created.body]));
    assert_no_nulls(&r.body);

    let other = s.partner();
    s.get(&qualifications_path(&c))
        .token(&other.app_user)
        .send()
        .await
        .assert_error(403, 20002);
    s.get(&qualifications_path(&new_id()))
        .token(&p.app_user)
        .send()
        .await
        .assert_error(404, 1000);
}

#[tokio::test]
async fn validation_codes_list_is_a_bare_array_of_the_partners_codes() {
    let s = TestApp::new().await;
    let p = s.partner();
    let other = s.partner();
    let r = s
        .get("/v1/customers/all/validations")
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!((r.status, r.body.clone()), (200, json!([])), "{}", r.text);

    let a = s.issue_code(&p, 5).await;
    let b = s.issue_code(&p, 1).await;
    let theirs = s.issue_code(&other, 2).await;
    for token in [&p.app_user, &p.app_only] {
        let r = s
            .get("/v1/customers/all/validations")
            .token(token)
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_no_nulls(&r.body);
        let codes = r.body.as_array().expect("a bare array");
        assert_eq!(codes.len(), 2, "{}", r.text);
        let ids: HashSet<&str> = codes
            .iter()
            .map(|c| {
                c["validationId"]
                    .as_str()
                    .expect("validationId is a string")
            })
            .collect();
        assert_eq!(ids, HashSet::from([a.as_str(), b.as_str()]));
        assert!(!ids.contains(theirs.as_str()));
        for c in codes {
            assert_eq!(c["partnerId"], p.id.to_string(), "{c}");
            assert_eq!(c["organizationName"], "Contoso Gov", "{c}");
            assert!(c["eTag"].as_str().is_some_and(|e| !e.is_empty()), "{c}");
            // Both spellings, for the .NET SDK and the Java SDK.
            assert_eq!(c["etag"], c["eTag"], "{c}");
            let max = if c["validationId"] == a.as_str() {
                5
            } else {
                1
            };
            assert_eq!(c["maxCreates"], max, "{c}");
            assert_eq!(c["remainingCreates"], max, "{c}");
        }
    }
    // The etag changes when the code is used.
    let before = code_entry(&s.codes(&p).await, &a)["eTag"].clone();
    let c = s.create_customer(&p).await;
    assert_created(
        &create(&s, &p, &c, gcc(&a)).await,
        "GovernmentCommunityCloud",
    );
    let after = s.codes(&p).await;
    assert_eq!(code_entry(&after, &a)["remainingCreates"], 4);
    assert_ne!(code_entry(&after, &a)["eTag"], before);
}

#[tokio::test]
async fn legacy_get_is_a_bare_snake_case_string() {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let get = || s.get(&legacy_path(&c)).token(&p.app_only).send();
    let r = get().await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text.trim(), "\"none\"");
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("application/json")
    );

    assert_created(&create(&s, &p, &c, education()).await, "Education");
    assert_eq!(get().await.body, json!("education"));
    s.decide(&c, "Education", "Denied", Some("Not an Academic Domain"))
        .await;
    assert_eq!(get().await.body, json!("none"));
    assert_created(&create(&s, &p, &c, education()).await, "Education");
    s.decide(&c, "Education", "Approved", None).await;
    assert_eq!(get().await.body, json!("education"));
    // The most recent active one.
    assert_created(&create(&s, &p, &c, state_owned()).await, "StateOwnedEntity");
    assert_eq!(get().await.body, json!("state_owned_entity"));
    s.decide(&c, "StateOwnedEntity", "Denied", None).await;
    assert_eq!(get().await.body, json!("education"));
}

#[tokio::test]
async fn legacy_put_applies_the_rules_without_education_segment() {
    let s = TestApp::new().await;
    let p = s.partner();
    let put = |c: &str, body: Value| s.put(&legacy_path(c)).token(&p.app_user).json(body).send();

    // Bare snake-case string.
    let c = s.create_customer(&p).await;
    let r = put(&c, json!("state_owned_entity")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!("state_owned_entity"));
    let list = s.qualifications(&p, &c).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        (
            list[0]["qualification"].clone(),
            list[0]["vettingStatus"].clone()
        ),
        (json!("StateOwnedEntity"), json!("InReview"))
    );
    assert_eq!(
        s.get(&legacy_path(&c)).token(&p.app_user).send().await.body,
        json!("state_owned_entity")
    );
    // The same again is a conflict.
    let req = s
        .put(&legacy_path(&c))
        .token(&p.app_user)
        .json(json!("state_owned_entity"));
    assert_rejected(
        &s,
        &p,
        &c,
        "legacy PUT of an InReview qualification",
        req,
        409,
        900306,
    )
    .await;

    // PascalCase.
    let c = s.create_customer(&p).await;
    let r = put(&c, json!("StateOwnedEntity")).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!("state_owned_entity")),
        "{}",
        r.text
    );

    // An object with extra attributes; Education needs no segment here.
    let c = s.create_customer(&p).await;
    let r = put(
        &c,
        json!({"qualification": "education", "attributes": {"objectType": "x"}}),
    )
    .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!("education")),
        "{}",
        r.text
    );
    assert_eq!(
        s.qualifications(&p, &c).await[0]["qualification"],
        "Education"
    );

    // GCC with the code in the query.
    let code = s.issue_code(&p, 2).await;
    let c = s.create_customer(&p).await;
    let req = s
        .put(&legacy_path(&c))
        .token(&p.app_user)
        .json(json!("government_community_cloud"));
    assert_rejected(&s, &p, &c, "legacy GCC without code", req, 400, 900303).await;
    let r = s
        .put(&format!("{}?code={code}", legacy_path(&c)))
        .token(&p.app_user)
        .json(json!("government_community_cloud"))
        .send()
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!("government_community_cloud")),
        "{}",
        r.text
    );
    assert_eq!(remaining(&s, &p, &code).await, 1);
    assert_eq!(
        s.qualifications(&p, &c).await[0]["qualification"],
        "GovernmentCommunityCloud"
    );

    // Rejections.
    let c = s.create_customer(&p).await;
    for (what, body, code) in [
        ("nonprofit", json!("nonprofit"), 900301),
        ("none", json!("none"), 900301),
        ("unknown", json!("charity"), 800002),
        ("number", json!(5), 800002),
    ] {
        assert_rejected(
            &s,
            &p,
            &c,
            what,
            s.put(&legacy_path(&c)).token(&p.app_user).json(body),
            400,
            code,
        )
        .await;
    }
    let req = s
        .put(&legacy_path(&c))
        .token(&p.app_only)
        .json(json!("education"));
    assert_rejected(
        &s,
        &p,
        &c,
        "legacy PUT with an app-only token",
        req,
        403,
        900150,
    )
    .await;
}

#[tokio::test]
async fn a_retry_with_the_same_request_id_is_replayed() {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let key = new_id();
    let send = || {
        s.post(&qualifications_path(&c))
            .token(&p.app_user)
            .request_id(&key)
            .json(education())
            .send()
    };
    let first = send().await;
    assert_created(&first, "Education");
    assert!(
        first.header("Idempotent-Replayed").is_none(),
        "{:?}",
        first.headers
    );
    assert_eq!(first.header("MS-RequestId"), Some(key.as_str()));
    let again = send().await;
    assert_eq!(again.status, first.status, "{}", again.text);
    assert_eq!(again.body, first.body);
    assert_eq!(
        again.header("Idempotent-Replayed"),
        Some("true"),
        "{:?}",
        again.headers
    );
    assert_eq!(s.qualifications(&p, &c).await.as_array().unwrap().len(), 1);
    // Key order and key case do not make another request.
    let r = s
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .request_id(&key)
        .json(json!({"Website": "contoso.edu", "EDUCATIONSEGMENT": "HigherEducation", "qualification": "Education"}))
        .send()
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (201, first.body.clone()),
        "{}",
        r.text
    );
    assert_eq!(s.qualifications(&p, &c).await.as_array().unwrap().len(), 1);

    // GCC: one code use, whatever the retries.
    let code = s.issue_code(&p, 5).await;
    let c = s.create_customer(&p).await;
    let key = new_id();
    let send = || {
        s.post(&qualifications_path(&c))
            .token(&p.app_user)
            .request_id(&key)
            .json(gcc(&code))
            .send()
    };
    let first = send().await;
    assert_created(&first, "GovernmentCommunityCloud");
    for _ in 0..2 {
        let again = send().await;
        assert_eq!(
            (again.status, again.body.clone()),
            (201, first.body.clone()),
            "{}",
            again.text
        );
        assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
    }
    assert_eq!(remaining(&s, &p, &code).await, 4);
    assert_eq!(s.qualifications(&p, &c).await.as_array().unwrap().len(), 1);

    // Legacy PUT too.
    let c = s.create_customer(&p).await;
    let key = new_id();
    let send = || {
        s.put(&legacy_path(&c))
            .token(&p.app_user)
            .request_id(&key)
            .json(json!("state_owned_entity"))
            .send()
    };
    let first = send().await;
    assert_eq!(
        (first.status, first.body.clone()),
        (200, json!("state_owned_entity")),
        "{}",
        first.text
    );
    let again = send().await;
    assert_eq!(
        (again.status, again.body.clone()),
        (200, json!("state_owned_entity")),
        "{}",
        again.text
    );
    assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(s.qualifications(&p, &c).await.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_reused_request_id_with_another_body_or_path_is_409() {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let c2 = s.create_customer(&p).await;
    let key = new_id();
    assert_created(
        &s.post(&qualifications_path(&c))
            .token(&p.app_user)
            .request_id(&key)
            .json(education())
            .send()
            .await,
        "Education",
    );

    let req = s
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .request_id(&key)
        .json(state_owned());
    assert_rejected(&s, &p, &c, "same key, other body", req, 409, 900310).await;
    let other_website = json!({"qualification": "Education", "educationSegment": "HigherEducation", "website": "other.edu"});
    let req = s
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .request_id(&key)
        .json(other_website);
    assert_rejected(&s, &p, &c, "same key, other website", req, 409, 900310).await;

    let req = s
        .post(&qualifications_path(&c2))
        .token(&p.app_user)
        .request_id(&key)
        .json(education());
    assert_rejected(
        &s,
        &p,
        &c2,
        "same key, other customer's path",
        req,
        409,
        900310,
    )
    .await;
    assert_eq!(s.qualifications(&p, &c2).await, json!([]));
    let req = s
        .post(&format!("{}?code=1", qualifications_path(&c)))
        .token(&p.app_user)
        .request_id(&key)
        .json(education());
    assert_rejected(&s, &p, &c, "same key, other query", req, 409, 900310).await;

    // The key is the partner's: another partner may use the same id.
    let other = s.partner();
    let oc = s.create_customer(&other).await;
    assert_created(
        &s.post(&qualifications_path(&oc))
            .token(&other.app_user)
            .request_id(&key)
            .json(education())
            .send()
            .await,
        "Education",
    );
}

/// Sends each request on a task of its own (the runtime's threads run them in parallel).
async fn in_parallel<F>(requests: impl IntoIterator<Item = F>) -> Vec<Resp>
where
    F: Future<Output = Resp> + Send + 'static,
{
    let tasks: Vec<_> = requests.into_iter().map(tokio::spawn).collect();
    join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("a request task"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_identical_requests_execute_once() {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let key = new_id();
    let responses = in_parallel((0..8).map(|_| {
        let (api, p, c, key) = (Api::clone(&s), p.clone(), c.clone(), key.clone());
        async move {
            api.post(&qualifications_path(&c))
                .token(&p.app_user)
                .request_id(&key)
                .json(education())
                .send()
                .await
        }
    }))
    .await;
    for r in &responses {
        assert_created(r, "Education");
        assert_eq!(r.body, responses[0].body);
    }
    let replayed = responses
        .iter()
        .filter(|r| r.header("Idempotent-Replayed") == Some("true"))
        .count();
    assert_eq!(replayed, 7, "exactly one of the eight executes");
    let list = s.qualifications(&p, &c).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0], responses[0].body);
    assert_eq!(
        s.history(&c, "Education").await.as_array().unwrap().len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_customers_race_for_a_three_use_code() {
    let s = TestApp::new().await;
    let p = s.partner();
    let code = s.issue_code(&p, 3).await;
    let mut customers = vec![];
    for _ in 0..10 {
        customers.push(s.create_customer(&p).await);
    }
    let responses = in_parallel(customers.iter().map(|c| {
        let (api, p, c, code) = (Api::clone(&s), p.clone(), c.clone(), code.clone());
        async move { create(&api, &p, &c, gcc(&code)).await }
    }))
    .await;
    let created = responses.iter().filter(|r| r.status == 201).count();
    let exhausted = responses
        .iter()
        .filter(|r| r.status == 400 && r.body["code"] == 900305)
        .count();
    let statuses: Vec<_> = responses
        .iter()
        .map(|r| (r.status, r.body["code"].clone()))
        .collect();
    assert_eq!((created, exhausted), (3, 7), "{statuses:?}");
    for r in responses.iter().filter(|r| r.status != 201) {
        r.assert_error(400, 900305);
    }
    assert_eq!(remaining(&s, &p, &code).await, 0);
    let mut stored = 0;
    for (c, r) in customers.iter().zip(&responses) {
        let list = s.qualifications(&p, c).await;
        let n = list.as_array().unwrap().len();
        assert_eq!(n, usize::from(r.status == 201), "{c}: {list}");
        stored += n;
    }
    assert_eq!(stored, 3);
}

#[tokio::test]

async fn an_error_response_is_replayed_too() {
    // api.md 1: "the first completed response (status and body)" is what a retry gets; a 409
    // must not turn into a 201 (a second effect) because the state changed in between.
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    assert_created(&create(&s, &p, &c, education()).await, "Education");
    let key = new_id();
    let send = || {
        s.post(&qualifications_path(&c))
            .token(&p.app_user)
            .request_id(&key)
            .json(education())
            .send()
    };
    let first = send().await;
    first.assert_error(409, 900306);
    s.decide(&c, "Education", "Denied", None).await;
    let before = s.qualifications(&p, &c).await;
    let again = send().await;
    assert_eq!(
        (again.status, again.body.clone()),
        (first.status, first.body.clone()),
        "{}",
        again.text
    );
    assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(s.qualifications(&p, &c).await, before);
    // And the key stays bound to that request.
    let req = s
        .post(&qualifications_path(&c))
        .token(&p.app_user)
        .request_id(&key)
        .json(state_owned());
    assert_rejected(
        &s,
        &p,
        &c,
        "same key, other body, after an error",
        req,
        409,
        900310,
    )
    .await;
}
