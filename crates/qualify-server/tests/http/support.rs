//! Request bodies and assertions the behaviour tests share.

#![allow(dead_code)]

pub use qualify_server::testing::{
    Api, Partner, Req, Resp, TestApp, assert_created, customer_body, education, education_at, gcc,
    new_id, qualifications_path, state_owned, test_database_url,
};
use serde_json::Value;

pub fn decision_path(customer: &str, qualification: &str) -> String {
    format!("/admin/v1/customers/{customer}/qualifications/{qualification}/decision")
}

/// `POST /v1/customers/{customer}/qualifications` as the partner.
pub async fn create(s: &Api, p: &Partner, customer: &str, body: Value) -> Resp {
    s.create_qualification(p, customer, body).await
}

/// The customer's only qualification request.
pub async fn only(app: &Api, p: &Partner, c: &str) -> Value {
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
