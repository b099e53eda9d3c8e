//! Request bodies and assertions the behaviour tests share.

#![allow(dead_code)]

pub use qualify_server::testing::{Partner, Resp, TestApp, customer_body, new_id};
use serde_json::{Value, json};

pub fn education() -> Value {
    json!({"qualification": "Education", "educationSegment": "HigherEducation", "website": "contoso.edu"})
}

pub fn education_at(website: Option<&str>) -> Value {
    let mut b = json!({"qualification": "Education", "educationSegment": "HigherEducation"});
    if let Some(w) = website {
        b["website"] = json!(w);
    }
    b
}

pub fn gcc(code: &str) -> Value {
    json!({"qualification": "GovernmentCommunityCloud", "validationCode": code})
}

pub fn state_owned() -> Value {
    json!({"qualification": "StateOwnedEntity"})
}

pub fn qualifications_path(customer: &str) -> String {
    format!("/v1/customers/{customer}/qualifications")
}

pub fn decision_path(customer: &str, qualification: &str) -> String {
    format!("/admin/v1/customers/{customer}/qualifications/{qualification}/decision")
}

pub async fn create(app: &TestApp, p: &Partner, customer: &str, body: Value) -> Resp {
    app.post(&qualifications_path(customer))
        .token(&p.app_user)
        .json(body)
        .send()
        .await
}

#[track_caller]
pub fn assert_created(r: &Resp, qualification: &str) {
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["qualification"], qualification, "{}", r.text);
    assert_eq!(r.body["vettingStatus"], "InReview", "{}", r.text);
}

/// The customer's only qualification request.
pub async fn only(app: &TestApp, p: &Partner, c: &str) -> Value {
    let list = app.qualifications(p, c).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    list[0].clone()
}

/// Asserts that no property anywhere in `v` is null (nulls are omitted on the wire).
#[track_caller]
pub fn assert_no_nulls(v: &Value) {
    fn walk(v: &Value, path: &str, found: &mut Vec<String>) {
        match v {
            Value::Null => found.push(path.to_owned()),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, x)| walk(x, &format!("{path}[{i}]"), found)),
            Value::Object(m) => m
                .iter()
                .for_each(|(k, x)| walk(x, &format!("{path}.{k}"), found)),
            _ => {}
        }
    }
    let mut found = vec![];
    walk(v, "$", &mut found);
    assert!(found.is_empty(), "nulls at {found:?} in {v}");
}

/// `2020-12-04T20:54:24Z`: UTC, whole seconds, `Z`.
pub fn is_wire_date(s: &str) -> bool {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
        && s.len() == 20
        && s.ends_with('Z')
}
