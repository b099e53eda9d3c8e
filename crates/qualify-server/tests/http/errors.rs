//! Headers, the error body and bad input (api.md sections 1, 3 and 5): every response carries the
//! request ids, every error is the JSON body with a numeric code, every bad input is a 4xx that
//! changes nothing, and throttling answers 429 with `Retry-After`.

use axum::http::Method;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

use crate::support::*;
use crate::wire::{self, JSON_UTF8, assert_error_body, assert_json_utf8};

#[tokio::test]
async fn every_response_echoes_the_callers_ids_and_is_json_utf8() {
    let app = TestApp::new().await;
    wire::every_response_echoes_the_callers_ids_and_is_json_utf8(&app).await;
}

#[tokio::test]
async fn a_malformed_request_id_is_400_and_still_gets_ids() {
    let s = TestApp::new().await;
    let p = s.partner();
    for bad in ["x".repeat(200), "has spaces in it".into()] {
        let r = s
            .get("/v1/customers")
            .token(&p.app_user)
            .request_id(&bad)
            .send()
            .await;
        r.assert_error(400, 800002);
        let rid = r.header("ms-requestid").unwrap();
        assert_ne!(rid, bad);
        assert!(uuid::Uuid::parse_str(rid).is_ok(), "{rid}");
    }
}

#[tokio::test]
async fn unknown_routes_are_404_1000_and_wrong_methods_405_json() {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    for path in [
        "/v1/nothing".to_owned(),
        format!("/v1/customers/{c}/nothing"),
        format!("/v1/customers/{c}/qualifications/Education/more"),
        "/v2/customers".into(),
        "/nothing".into(),
        "/admin/v1/nothing".into(),
    ] {
        let r = s.get(&path).token(&p.app_user).send().await;
        assert_eq!(r.status, 404, "{path}: {}", r.text);
        r.assert_error(404, 1000);
        assert_json_utf8(&r, &path);
        let r = s
            .post(&path)
            .token(&p.app_user)
            .json(json!({}))
            .send()
            .await;
        r.assert_error(404, 1000);
    }
    for (method, path) in [
        (Method::DELETE, format!("/v1/customers/{c}/qualifications")),
        (Method::PATCH, format!("/v1/customers/{c}/qualifications")),
        (Method::PUT, format!("/v1/customers/{c}/qualifications")),
        (Method::POST, format!("/v1/customers/{c}")),
        (Method::DELETE, format!("/v1/customers/{c}")),
        (Method::PATCH, "/v1/customers".into()),
        (Method::POST, "/v1/customers/all/validations".into()),
        (Method::POST, format!("/v1/customers/{c}/profiles/company")),
        (Method::POST, format!("/v1/customers/{c}/validationStatus")),
        (Method::DELETE, "/admin/v1/reviews".into()),
    ] {
        let r = s
            .req(method.clone(), &path)
            .token(&p.app_user)
            .json(json!({"qualification": "StateOwnedEntity"}))
            .send()
            .await;
        assert_eq!(r.status, 405, "{method} {path}: {}", r.text);
        r.assert_error(405, 900406);
        assert_json_utf8(&r, &path);
    }
    // Nothing was created by the POST/PUT attempts on wrong routes.
    assert_eq!(s.qualifications(&p, &c).await, json!([]));
}

/// A content type and raw body, or no body at all.
type RawBody = Option<(&'static str, Vec<u8>)>;

/// The requests of the bad-input tests, on the seed endpoint of `c`: (what, content type and raw
/// body or nothing, expected status, expected code).
fn bad_bodies() -> Vec<(&'static str, RawBody, u16, u64)> {
    const J: &str = "application/json";
    let j = |s: &str| Some((J, s.as_bytes().to_vec()));
    vec![
        ("malformed JSON", j(r#"{"qualification":"#), 400, 800002),
        (
            "malformed JSON, single quotes",
            j("{'qualification': 'Education'}"),
            400,
            800002,
        ),
        (
            "trailing garbage",
            j(r#"{"qualification": "StateOwnedEntity"} x"#),
            400,
            800002,
        ),
        ("empty body", j(""), 400, 800002),
        ("whitespace body", j("  \n "), 400, 800002),
        ("no body, no content type", None, 400, 800002),
        (
            "invalid UTF-8",
            Some((J, vec![b'{', b'"', 0xff, 0xfe, b'"', b'}'])),
            400,
            800002,
        ),
        ("null", j("null"), 400, 800002),
        ("a number", j("5"), 400, 800002),
        ("a bare string", j(r#""StateOwnedEntity""#), 400, 800002),
        (
            "an array of the object",
            j(r#"[{"qualification": "Education", "educationSegment": "K12"}]"#),
            400,
            800002,
        ),
        (
            "an array of the fields",
            j(r#"["StateOwnedEntity", null, null, null]"#),
            400,
            800002,
        ),
        (
            "an array of the fields, education",
            j(r#"["Education", "HigherEducation", "contoso.edu", null]"#),
            400,
            800002,
        ),
        ("an empty array", j("[]"), 400, 800002),
        ("an empty object", j("{}"), 400, 800002),
        (
            "qualification null",
            j(r#"{"qualification": null}"#),
            400,
            800002,
        ),
        (
            "qualification a number",
            j(r#"{"qualification": 5}"#),
            400,
            800002,
        ),
        (
            "qualification a bool",
            j(r#"{"qualification": true}"#),
            400,
            800002,
        ),
        (
            "qualification an array",
            j(r#"{"qualification": ["Education"]}"#),
            400,
            800002,
        ),
        (
            "qualification an object",
            j(r#"{"qualification": {"name": "StateOwnedEntity"}}"#),
            400,
            800002,
        ),
        (
            "qualification empty",
            j(r#"{"qualification": ""}"#),
            400,
            800002,
        ),
        (
            "qualification Gold",
            j(r#"{"qualification": "Gold"}"#),
            400,
            800002,
        ),
        (
            "qualification with a space",
            j(r#"{"qualification": "State Owned Entity"}"#),
            400,
            800002,
        ),
        (
            "qualification legacy snake case",
            j(r#"{"qualification": "state_owned_entity"}"#),
            400,
            800002,
        ),
        (
            "educationSegment Kindergarten",
            j(r#"{"qualification": "Education", "educationSegment": "Kindergarten"}"#),
            400,
            800002,
        ),
        (
            "educationSegment a number",
            j(r#"{"qualification": "Education", "educationSegment": 12}"#),
            400,
            800002,
        ),
        (
            "website a number",
            j(r#"{"qualification": "Education", "educationSegment": "K12", "website": 5}"#),
            400,
            800002,
        ),
        (
            "validationCode a bool",
            j(r#"{"qualification": "GovernmentCommunityCloud", "validationCode": true}"#),
            400,
            800002,
        ),
        (
            "validationCode an object",
            j(r#"{"qualification": "GovernmentCommunityCloud", "validationCode": {}}"#),
            400,
            800002,
        ),
        ("None", j(r#"{"qualification": "None"}"#), 400, 900301),
        ("none", j(r#"{"qualification": "none"}"#), 400, 900301),
        (
            "Nonprofit",
            j(r#"{"qualification": "Nonprofit"}"#),
            400,
            900301,
        ),
        (
            "NONPROFIT",
            j(r#"{"qualification": "NONPROFIT"}"#),
            400,
            900301,
        ),
        (
            "Education without a segment",
            j(r#"{"qualification": "Education", "website": "contoso.edu"}"#),
            400,
            900302,
        ),
        (
            "GCC without a code",
            j(r#"{"qualification": "GovernmentCommunityCloud"}"#),
            400,
            900303,
        ),
        (
            "GCC with an unknown code",
            j(r#"{"qualification": "GovernmentCommunityCloud", "validationCode": "no-such-code"}"#),
            400,
            900304,
        ),
        (
            "text/plain",
            Some((
                "text/plain",
                br#"{"qualification": "StateOwnedEntity"}"#.to_vec(),
            )),
            415,
            900415,
        ),
        (
            "form",
            Some((
                "application/x-www-form-urlencoded",
                b"qualification=StateOwnedEntity".to_vec(),
            )),
            415,
            900415,
        ),
        (
            "xml",
            Some((
                "application/xml",
                b"<qualification>StateOwnedEntity</qualification>".to_vec(),
            )),
            415,
            900415,
        ),
    ]
}

async fn send_bad(
    s: &Api,
    token: &str,
    path: &str,
    body: &Option<(&'static str, Vec<u8>)>,
) -> Resp {
    let r = s.post(path).token(token);
    match body {
        Some((ct, b)) => r.raw(ct, b.clone()).send().await,
        None => r.send().await,
    }
}

#[tokio::test]
async fn bad_input_is_400_with_the_catalogue_code() {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let path = format!("/v1/customers/{c}/qualifications");
    for (what, body, status, code) in bad_bodies() {
        let r = send_bad(&s, &p.app_user, &path, &body).await;
        assert_eq!(
            (r.status, r.body["code"].as_u64()),
            (status, Some(code)),
            "{what}: {}",
            r.text
        );
        r.assert_error(status, code);
        assert_json_utf8(&r, what);
    }
    // The legacy contract: bad values are 400 800002, None / Nonprofit 400 900301.
    let legacy = format!("/v1/customers/{c}/qualification");
    for (body, code) in [
        (json!("gold"), 800002),
        (json!(""), 800002),
        (json!(5), 800002),
        (json!(null), 800002),
        (json!(["education"]), 800002),
        (json!({}), 800002),
        (json!({"qualification": 5}), 800002),
        (json!("none"), 900301),
        (json!("None"), 900301),
        (json!("nonprofit"), 900301),
        (json!({"qualification": "Nonprofit"}), 900301),
        (json!("government_community_cloud"), 900303),
    ] {
        let r = s
            .put(&legacy)
            .token(&p.app_user)
            .json(body.clone())
            .send()
            .await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        r.assert_error(400, code);
    }
    s.put(&legacy)
        .token(&p.app_user)
        .raw("text/plain", "education")
        .send()
        .await
        .assert_error(415, 900415);
    // Long values never make a description longer than 1024 characters.
    let long = "G".repeat(5000);
    s.post(&path)
        .token(&p.app_user)
        .json(json!({"qualification": long}))
        .send()
        .await
        .assert_error(400, 800002);
    s.put(&legacy)
        .token(&p.app_user)
        .json(json!(long))
        .send()
        .await
        .assert_error(400, 800002);
    s.get(&format!("/v1/customers/{long}/qualifications"))
        .token(&p.app_user)
        .send()
        .await
        .assert_error(400, 900118);
    // A repeated query parameter and a bad validationStatus type.
    s.post(&format!("{path}?code=1&code=2"))
        .token(&p.app_user)
        .json(json!({"qualification": "StateOwnedEntity"}))
        .send()
        .await
        .assert_error(400, 800002);
    for q in ["", "?type=billing", "?type="] {
        let r = s
            .get(&format!("/v1/customers/{c}/validationStatus{q}"))
            .token(&p.app_user)
            .send()
            .await;
        r.assert_error(400, 800002);
    }
    assert_eq!(s.qualifications(&p, &c).await, json!([]));
}

#[tokio::test]
async fn a_body_over_one_mib_is_413_json() {
    let app = TestApp::new().await;
    wire::a_body_over_one_mib_is_413_json(&app).await;
}

#[tokio::test]
async fn property_names_and_enum_values_match_case_insensitively_and_unknown_properties_are_ignored()
 {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let r = s
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .json(json!({"QUALIFICATION": "education", "EDUCATIONSEGMENT": "k12"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["qualification"], "Education");
    assert_eq!(r.body["vettingStatus"], "InReview");
    let review = s.reviews().await;
    let item = review
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["customerId"] == c.as_str())
        .expect("in review");
    assert_eq!(item["educationSegment"], "K12", "{review}");

    let c2 = s.create_customer(&p).await;
    let r = s
        .post(&format!("/v1/customers/{c2}/qualifications"))
        .token(&p.app_user)
        .header("MS-Contract-Version", "v1")
        .header("X-Locale", "fr-FR")
        .header("MS-PartnerCenter-Application", "qualify tests")
        .header("MS-PartnerCenter-Client", "Partner Center .NET SDK")
        .header("MS-SdkVersion", "3.4.0")
        .json(json!({
            "Qualification": "stateOwnedEntity",
            "somethingNew": {"nested": [1, 2, 3]},
            "attributes": {"objectType": "CustomerQualification"},
            "vettingStatus": "Approved",
        }))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["qualification"], "StateOwnedEntity");
    // A client cannot approve itself by sending vettingStatus.
    assert_eq!(r.body["vettingStatus"], "InReview");

    let code = s.issue_code(&p, 2).await;
    let c3 = s.create_customer(&p).await;
    let r = s
        .post(&format!("/v1/customers/{c3}/qualifications"))
        .token(&p.app_user)
        .header("X-Locale", "en-US")
        .json(json!({"qualification": "GOVERNMENTCOMMUNITYCLOUD", "VALIDATIONCODE": code, "Website": null}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["qualification"], "GovernmentCommunityCloud");
    assert_eq!(s.codes(&p).await[0]["remainingCreates"], 1);

    // Reads accept the informational headers too.
    for h in [
        ("MS-Contract-Version", "v1"),
        ("X-Locale", "en-US"),
        ("X-Locale", "de-DE"),
    ] {
        let r = s
            .get(&format!("/v1/customers/{c}/qualifications"))
            .token(&p.app_user)
            .header(h.0, h.1)
            .send()
            .await;
        assert_eq!(r.status, 200, "{h:?}: {}", r.text);
    }
}

/// Everything a partner can see of its stored state, and the operator's review queue.
async fn snapshot(s: &Api, p: &Partner, customers: &[&str]) -> Value {
    let mut out = serde_json::Map::new();
    for c in customers {
        out.insert(format!("{c}/qualifications"), s.qualifications(p, c).await);
        let r = s
            .get(&format!("/v1/customers/{c}/qualification"))
            .token(&p.app_user)
            .send()
            .await;
        out.insert(format!("{c}/qualification"), r.body);
        let r = s
            .get(&format!("/v1/customers/{c}"))
            .token(&p.app_user)
            .send()
            .await;
        out.insert(c.to_string(), r.body);
        let r = s
            .get(&format!("/v1/customers/{c}/profiles/billing"))
            .token(&p.app_user)
            .send()
            .await;
        out.insert(format!("{c}/billing"), r.body);
    }
    out.insert("codes".into(), s.codes(p).await);
    out.insert("reviews".into(), s.reviews().await);
    let r = s.get("/v1/customers").token(&p.app_user).send().await;
    out.insert("customers".into(), r.body["totalCount"].clone());
    Value::Object(out)
}

#[tokio::test]
async fn a_rejected_request_changes_nothing() {
    let s = TestApp::new().await;
    let p = s.partner();
    let empty = s.create_customer(&p).await;
    let edu = s.create_customer(&p).await;
    let spent = s.create_customer(&p).await;
    let live_code = s.issue_code(&p, 3).await;
    let spent_code = s.issue_code(&p, 1).await;
    let r = s
        .post(&format!("/v1/customers/{spent}/qualifications"))
        .token(&p.app_user)
        .json(json!({"qualification": "GovernmentCommunityCloud", "validationCode": spent_code}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = s
        .post(&format!("/v1/customers/{edu}/qualifications"))
        .token(&p.app_user)
        .json(json!({"qualification": "Education", "educationSegment": "K12"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let customers = [empty.as_str(), edu.as_str(), spent.as_str()];
    let before = snapshot(&s, &p, &customers).await;

    // Bad bodies on each customer.
    for c in customers {
        let path = format!("/v1/customers/{c}/qualifications");
        for (what, body, status, _) in bad_bodies() {
            let r = send_bad(&s, &p.app_user, &path, &body).await;
            // An unknown GCC code on a customer that already has Education or GCC may be
            // refused for that conflict first; everything else is refused the same everywhere.
            if c == empty || what != "GCC with an unknown code" {
                assert_eq!(r.status, status, "{what} on {c}: {}", r.text);
            }
            assert_error_body(&r, what);
        }
    }
    let post = |c: &str, body: Value| {
        s.post(&format!("/v1/customers/{c}/qualifications"))
            .token(&p.app_user)
            .json(body)
    };
    let gcc =
        |code: &str| json!({"qualification": "GovernmentCommunityCloud", "validationCode": code});
    // Stateful rejections.
    post(&empty, gcc(&spent_code))
        .send()
        .await
        .assert_error(400, 900305);
    post(&edu, gcc(&live_code))
        .send()
        .await
        .assert_error(409, 900307);
    post(
        &spent,
        json!({"qualification": "Education", "educationSegment": "K12"}),
    )
    .send()
    .await
    .assert_error(409, 900307);
    post(
        &edu,
        json!({"qualification": "Education", "educationSegment": "HigherEducation"}),
    )
    .send()
    .await
    .assert_error(409, 900306);
    post(&spent, gcc(&live_code))
        .send()
        .await
        .assert_error(409, 900306);
    s.put(&format!("/v1/customers/{edu}/qualification"))
        .token(&p.app_user)
        .json(json!("education"))
        .send()
        .await
        .assert_error(409, 900306);
    s.put(&format!(
        "/v1/customers/{edu}/qualification?code={live_code}"
    ))
    .token(&p.app_user)
    .json(json!("government_community_cloud"))
    .send()
    .await
    .assert_error(409, 900307);
    // Credential and ownership rejections.
    s.post(&format!("/v1/customers/{empty}/qualifications"))
        .token(&p.app_only)
        .json(gcc(&live_code))
        .send()
        .await
        .assert_error(403, 900150);
    let other = s.partner();
    post(&empty, gcc(&live_code))
        .token(&other.app_user)
        .send()
        .await
        .assert_error(403, 20002);
    // Oversized and wrongly typed bodies.
    post(
        &empty,
        json!({"qualification": "StateOwnedEntity", "website": "a".repeat(1024 * 1024 + 1)}),
    )
    .send()
    .await
    .assert_error(413, 900413);
    // Bad billing profile updates: no If-Match, a stale one, invalid values.
    let billing = format!("/v1/customers/{empty}/profiles/billing");
    let good_billing =
        json!({"firstName": "Grace", "lastName": "Hopper", "email": "grace@contoso.com"});
    s.put(&billing)
        .token(&p.app_user)
        .json(good_billing.clone())
        .send()
        .await
        .assert_error(428, 900428);
    s.put(&billing)
        .token(&p.app_user)
        .header("If-Match", "\"stale\"")
        .json(good_billing.clone())
        .send()
        .await
        .assert_error(412, 900312);
    let etag = before[format!("{empty}/billing")]["attributes"]["etag"]
        .as_str()
        .unwrap()
        .to_owned();
    for bad in [
        json!({"firstName": 5}),
        json!({"email": "not an email"}),
        json!({"firstName": "x".repeat(51)}),
        json!({"defaultAddress": {"country": "US"}}),
        json!({"defaultAddress": {"country": "Narnia", "addressLine1": "1 Lamp Post"}}),
        // An address given as an array of its fields, in declaration order.
        json!({"defaultAddress": ["US", null, "Redmond", "WA", null, "1 Microsoft Way", null, null, "98052", null, null, null, null, null]}),
        json!({"firstName": "Grace", "attributes": [etag]}),
        json!([billing_array()]),
    ] {
        let r = s
            .put(&billing)
            .token(&p.app_user)
            .header("If-Match", &etag)
            .json(bad.clone())
            .send()
            .await;
        r.assert_error(400, 800002);
    }
    // Bad customers are not created.
    for bad in [
        json!([]),
        json!([{"domain": "array.example.com", "companyName": "Array"}, null]),
        json!({"companyProfile": ["array.example.com", "Array", null, null, null]}),
        json!({"companyProfile": {"domain": "array.example.com"}, "billingProfile": billing_array()}),
        json!({"companyProfile": {"domain": 5}}),
        json!({"companyProfile": "array.example.com"}),
        json!({"billingProfile": {"email": "nope"}}),
    ] {
        let r = s
            .post("/v1/customers")
            .token(&p.app_user)
            .json(bad.clone())
            .send()
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        r.assert_error(400, 800002);
    }

    let after = snapshot(&s, &p, &customers).await;
    assert_eq!(before, after);
}

/// A billing profile as an array of its fields, in declaration order.
fn billing_array() -> Value {
    json!([
        "Ada",
        "Lovelace",
        "ada@contoso.com",
        "en-US",
        "en",
        "Contoso",
        null,
        null
    ])
}

#[tokio::test]
async fn the_sixth_request_in_a_minute_is_429_with_retry_after() {
    let s = TestApp::with_config(|c| c.rate_limit_per_minute = 5).await;
    let a = s.partner();
    let b = s.partner();
    let c = s.create_customer(&a).await; // 1
    for i in 2..=5 {
        let r = s.get("/v1/customers").token(&a.app_user).send().await;
        assert_eq!(r.status, 200, "request {i}: {}", r.text);
    }
    // The sixth: a create that must not happen.
    let rid = new_id();
    let r = s
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&a.app_user)
        .request_id(&rid)
        .json(json!({"qualification": "StateOwnedEntity"}))
        .send()
        .await;
    r.assert_error(429, 900429);
    assert_eq!(r.header("ms-requestid"), Some(rid.as_str()));
    let retry = r.header("retry-after").expect("429 without Retry-After");
    let secs: u64 = retry
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After {retry:?} is not integer seconds"));
    assert!((1..=60).contains(&secs), "Retry-After {secs}");
    assert_json_utf8(&r, "429");
    // App-only tokens of the same partner share the budget.
    let r = s
        .get(&format!("/v1/customers/{c}/qualifications"))
        .token(&a.app_only)
        .send()
        .await;
    r.assert_error(429, 900429);
    assert!(
        r.header("retry-after")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|v| v >= 1),
        "{:?}",
        r.headers
    );

    // Another partner is not throttled meanwhile, up to its own limit.
    for i in 1..=5 {
        let r = s.get("/v1/customers").token(&b.app_user).send().await;
        assert_eq!(r.status, 200, "partner B request {i}: {}", r.text);
    }
    s.get("/v1/customers")
        .token(&b.app_user)
        .send()
        .await
        .assert_error(429, 900429);
    // The throttled create had no effect (the operator API is not throttled).
    assert_eq!(s.reviews().await, json!([]));
}

/// Arbitrary JSON, weighted towards the names and values the endpoint knows.
fn json_value() -> impl Strategy<Value = Value> {
    let word = prop_oneof![
        Just("Education".to_owned()),
        Just("GovernmentCommunityCloud".to_owned()),
        Just("StateOwnedEntity".to_owned()),
        Just("None".to_owned()),
        Just("Nonprofit".to_owned()),
        Just("K12".to_owned()),
        Just("HigherEducation".to_owned()),
        Just("education".to_owned()),
        Just("contoso.edu".to_owned()),
        Just("123456".to_owned()),
        ".*",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        word.clone().prop_map(Value::String),
    ];
    let key = prop_oneof![
        Just("qualification".to_owned()),
        Just("Qualification".to_owned()),
        Just("educationSegment".to_owned()),
        Just("website".to_owned()),
        Just("validationCode".to_owned()),
        Just("attributes".to_owned()),
        "[a-zA-Z]{0,12}",
        ".{0,8}",
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A raw request body: JSON values, their text mangled, arbitrary strings and bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        2 => (json_value(), any::<prop::sample::Index>()).prop_map(|(v, cut)| {
            let text = serde_json::to_vec(&v).unwrap();
            let at = cut.index(text.len() + 1);
            text[..at].to_vec()
        }),
        1 => ".*".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

#[test]
fn arbitrary_bodies_never_cause_a_5xx() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let s = rt.block_on(TestApp::new());
    let p = s.partner();
    let customers: Vec<String> = rt.block_on(async {
        let mut v = vec![];
        for _ in 0..4 {
            v.push(s.create_customer(&p).await);
        }
        v
    });
    let _ = rt.block_on(s.issue_code(&p, 100));
    let content_types = [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/merge-patch+json",
    ];
    let query = prop_oneof![
        Just(String::new()),
        "[a-zA-Z0-9%&=]{0,12}".prop_map(|q| format!("?code={q}")),
        ".{0,10}".prop_map(|q| format!("?{}", form_escape(&q)))
    ];

    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &(
                body(),
                0..customers.len(),
                0..content_types.len(),
                query,
                any::<bool>(),
            ),
            |(body, c, ct, q, legacy)| {
                let path = if legacy {
                    format!("/v1/customers/{}/qualification{q}", customers[c])
                } else {
                    format!("/v1/customers/{}/qualifications{q}", customers[c])
                };
                let req = if legacy { s.put(&path) } else { s.post(&path) };
                let r = rt.block_on(
                    req.token(&p.app_user)
                        .raw(content_types[ct], body.clone())
                        .send(),
                );
                let shown = String::from_utf8_lossy(&body).into_owned();
                prop_assert!(
                    r.status < 500,
                    "{} for {path} {shown:?}: {}",
                    r.status,
                    r.text
                );
                prop_assert!(
                    r.header("ms-requestid").is_some() && r.header("ms-correlationid").is_some()
                );
                prop_assert_eq!(r.header("content-type"), Some(JSON_UTF8), "{:?}", shown);
                if r.status >= 400 {
                    prop_assert!(
                        r.body["code"].is_u64(),
                        "{} for {shown:?}: {}",
                        r.status,
                        r.text
                    );
                    prop_assert!(
                        r.body["description"]
                            .as_str()
                            .is_some_and(|d| !d.is_empty() && d.len() <= 1024),
                        "{}",
                        r.text
                    );
                    prop_assert!(r.body["data"].is_array(), "{}", r.text);
                } else if legacy {
                    prop_assert!(
                        r.status == 200 && r.body.is_string(),
                        "{} for {shown:?}: {}",
                        r.status,
                        r.text
                    );
                } else {
                    prop_assert!(
                        r.status == 201 && r.body["vettingStatus"] == "InReview",
                        "{} for {shown:?}: {}",
                        r.status,
                        r.text
                    );
                }
                Ok::<(), TestCaseError>(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
}

fn form_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"=&-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
