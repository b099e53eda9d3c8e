//! Contract test bodies that run twice: in process by default (`crates/qualify-server/tests/http`)
//! and against the `qualify` process over a real socket (`crates/qualify-cli/tests/api/wire.rs`),
//! because what they check is what the transport hands a client: the ids and the JSON content
//! type on every answer, a body over the limit arriving in pieces, one request's whole life.
//! Each takes the test interface (`&Api`), so the same body runs on either.

#![allow(dead_code)]

use axum::http::Method;
use qualify_server::testing::*;
use serde_json::{Value, json};

pub const JSON_UTF8: &str = "application/json; charset=utf-8";

#[track_caller]
pub fn assert_ids(r: &Resp, what: &str) {
    for h in ["ms-requestid", "ms-correlationid"] {
        let v = r
            .header(h)
            .unwrap_or_else(|| panic!("{what}: no {h} on {} {:?}", r.status, r.headers));
        assert!(!v.is_empty(), "{what}: empty {h}");
    }
}

#[track_caller]
pub fn assert_generated_ids(r: &Resp, what: &str) {
    assert_ids(r, what);
    for h in ["ms-requestid", "ms-correlationid"] {
        let v = r.header(h).unwrap();
        assert!(
            uuid::Uuid::parse_str(v).is_ok(),
            "{what}: generated {h} {v:?} is not a GUID"
        );
    }
}

#[track_caller]
pub fn assert_json_utf8(r: &Resp, what: &str) {
    assert_eq!(
        r.header("content-type"),
        Some(JSON_UTF8),
        "{what}: {} {:?}",
        r.status,
        r.headers
    );
    assert!(
        serde_json::from_str::<Value>(&r.text).is_ok(),
        "{what}: body is not JSON: {:?}",
        r.text
    );
}

/// The JSON error body of api.md section 3, whatever the code.
#[track_caller]
pub fn assert_error_body(r: &Resp, what: &str) {
    assert!(
        r.status >= 400 && r.status < 500,
        "{what}: {} {}",
        r.status,
        r.text
    );
    assert_json_utf8(r, what);
    assert!(r.body.is_object(), "{what}: {}", r.text);
    assert!(
        r.body["code"].is_u64(),
        "{what}: code is not a number: {}",
        r.text
    );
    assert!(
        r.body["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty() && d.len() <= 1024),
        "{what}: {}",
        r.text
    );
    assert!(r.body["data"].is_array(), "{what}: {}", r.text);
    assert_ids(r, what);
}

/// (what, method, path, token, JSON body, expected status).
type Case<'a> = (&'a str, Method, String, Option<&'a str>, Option<Value>, u16);

pub async fn every_response_echoes_the_callers_ids_and_is_json_utf8(s: &Api) {
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let q = format!("/v1/customers/{c}/qualifications");
    let cases: Vec<Case> = vec![
        (
            "list customers",
            Method::GET,
            "/v1/customers".into(),
            Some(&p.app_user),
            None,
            200,
        ),
        (
            "get customer",
            Method::GET,
            format!("/v1/customers/{c}"),
            Some(&p.app_user),
            None,
            200,
        ),
        (
            "list qualifications",
            Method::GET,
            q.clone(),
            Some(&p.app_user),
            None,
            200,
        ),
        (
            "legacy get",
            Method::GET,
            format!("/v1/customers/{c}/qualification"),
            Some(&p.app_user),
            None,
            200,
        ),
        (
            "codes",
            Method::GET,
            "/v1/customers/all/validations".into(),
            Some(&p.app_user),
            None,
            200,
        ),
        (
            "create",
            Method::POST,
            q.clone(),
            Some(&p.app_user),
            Some(json!({"qualification": "StateOwnedEntity"})),
            201,
        ),
        (
            "create customer",
            Method::POST,
            "/v1/customers".into(),
            Some(&p.app_user),
            Some(customer_body("contoso.com")),
            201,
        ),
        ("no token", Method::GET, q.clone(), None, None, 401),
        (
            "bad token",
            Method::GET,
            q.clone(),
            Some("garbage"),
            None,
            401,
        ),
        (
            "app-only",
            Method::POST,
            q.clone(),
            Some(&p.app_only),
            Some(json!({"qualification": "StateOwnedEntity"})),
            403,
        ),
        (
            "bad input",
            Method::POST,
            q.clone(),
            Some(&p.app_user),
            Some(json!({"qualification": "Gold"})),
            400,
        ),
        (
            "conflict",
            Method::POST,
            q.clone(),
            Some(&p.app_user),
            Some(json!({"qualification": "StateOwnedEntity"})),
            409,
        ),
        (
            "bad id",
            Method::GET,
            "/v1/customers/nope/qualifications".into(),
            Some(&p.app_user),
            None,
            400,
        ),
        (
            "unknown customer",
            Method::GET,
            format!("/v1/customers/{}", new_id()),
            Some(&p.app_user),
            None,
            404,
        ),
        (
            "unknown route",
            Method::GET,
            "/v1/nothing/here".into(),
            Some(&p.app_user),
            None,
            404,
        ),
        (
            "wrong method",
            Method::DELETE,
            q.clone(),
            Some(&p.app_user),
            None,
            405,
        ),
        (
            "admin with partner token",
            Method::GET,
            "/admin/v1/reviews".into(),
            Some(&p.app_user),
            None,
            403,
        ),
        (
            "no validation status",
            Method::GET,
            format!("/v1/customers/{c}/validationStatus?type=account"),
            Some(&p.app_user),
            None,
            404,
        ),
    ];
    for (what, method, path, token, body, status) in cases {
        let build = |ids: Option<(&str, &str)>| {
            let mut r = s.req(method.clone(), &path);
            if let Some(t) = token {
                r = r.token(t);
            }
            if let Some(b) = &body {
                r = r.json(b.clone());
            }
            if let Some((rid, cid)) = ids {
                r = r.request_id(rid).header("MS-CorrelationId", cid);
            }
            r
        };
        // The caller's ids are echoed. (A fresh MS-RequestId each time: it is an idempotency key.)
        let (rid, cid) = (new_id(), new_id());
        let r = build(Some((&rid, &cid))).send().await;
        assert_eq!(r.status, status, "{what}: {}", r.text);
        assert_eq!(
            r.header("ms-requestid"),
            Some(rid.as_str()),
            "{what}: {:?}",
            r.headers
        );
        assert_eq!(
            r.header("ms-correlationid"),
            Some(cid.as_str()),
            "{what}: {:?}",
            r.headers
        );
        assert_json_utf8(&r, what);
        if status >= 400 {
            assert_error_body(&r, what);
        }
        // Without ids, generated GUIDs, different on each response.
        if status != 201 {
            let r1 = build(None).send().await;
            let r2 = build(None).send().await;
            assert_eq!(
                (r1.status, r2.status),
                (status, status),
                "{what}: {} / {}",
                r1.text,
                r2.text
            );
            assert_generated_ids(&r1, what);
            assert_generated_ids(&r2, what);
            assert_ne!(
                r1.header("ms-requestid"),
                r2.header("ms-requestid"),
                "{what}"
            );
            assert_ne!(
                r1.header("ms-correlationid"),
                r2.header("ms-correlationid"),
                "{what}"
            );
            assert_json_utf8(&r1, what);
        }
    }
    // A created resource without ids: generated ids too.
    let r = s
        .post("/v1/customers")
        .token(&p.app_user)
        .json(customer_body("fabrikam.com"))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_generated_ids(&r, "create customer without ids");
    // Only one of the two given: that one echoed, the other generated.
    let cid = new_id();
    let r = s
        .get("/v1/customers")
        .token(&p.app_user)
        .header("MS-CorrelationId", &cid)
        .send()
        .await;
    assert_eq!(r.header("ms-correlationid"), Some(cid.as_str()));
    assert!(
        r.header("ms-requestid")
            .is_some_and(|v| uuid::Uuid::parse_str(v).is_ok() && v != cid),
        "{:?}",
        r.headers
    );
}

pub async fn a_body_over_one_mib_is_413_json(s: &Api) {
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let big = json!({"qualification": "Education", "educationSegment": "K12", "website": "a".repeat(1024 * 1024 + 10)});
    let r = s
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .json(big.clone())
        .send()
        .await;
    r.assert_error(413, 900413);
    assert_json_utf8(&r, "413");
    let r = s
        .post("/v1/customers")
        .token(&p.app_user)
        .json(json!({"companyProfile": big}))
        .send()
        .await;
    r.assert_error(413, 900413);
    // Just under the limit is not a 413 (it is judged on its content).
    let under =
        json!({"qualification": "StateOwnedEntity", "padding": "a".repeat(1024 * 1024 - 100)});
    let r = s
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .json(under)
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", &r.text[..r.text.len().min(300)]);
    let list = s.qualifications(&p, &c).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["qualification"], "StateOwnedEntity");
}

/// One request's life: created InReview, decided by an operator, seen by the partner.
pub async fn education_request_is_in_review_then_decided_by_an_operator(s: &Api) {
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let r = s
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .json(json!({"qualification": "Education", "educationSegment": "HigherEducation", "website": "contoso.edu"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["vettingStatus"], "InReview");
    let etag = s.review_etag(&c, "Education").await;
    let d = s
        .post(&format!(
            "/admin/v1/customers/{c}/qualifications/Education/decision"
        ))
        .token(&s.admin_token())
        .header("If-Match", &etag)
        .json(json!({"vettingStatus": "Approved"}))
        .send()
        .await;
    assert_eq!(d.status, 200, "{}", d.text);
    assert_eq!(
        s.qualifications(&p, &c).await[0]["vettingStatus"],
        "Approved"
    );
}
