//! Retries: which failures are retried, how long the SDK waits, that attempts are bounded, and
//! that a retried write keeps its `MS-RequestId` so the server applies it once.

use std::time::{Duration, Instant};

use qualify_client::{
    EducationSegment, ErrorCategory, NewValidationCode, QualificationRequest, RetryPolicy,
};
use serde_json::json;

use crate::support::*;
use crate::surface::new_customer;

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let stub = Stub::start(vec![
        Canned::error(429, 900429).header("Retry-After", "1"),
        Canned::json(200, json!([])),
    ])
    .await;
    let started = Instant::now();
    let codes = client(&stub.base, "t")
        .validation_codes()
        .list()
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(codes.is_empty());
    assert_eq!(stub.count(), 2);
    // The backoff alone would be ~10 ms: the second attempt waited for Retry-After.
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
    let seen = stub.seen();
    assert_eq!(
        seen[0].header("ms-requestid"),
        seen[1].header("ms-requestid")
    );
}

#[tokio::test]
async fn a_503_and_a_dropped_connection_are_retried_until_success() {
    let stub = Stub::start(vec![
        Canned::error(503, 900503),
        Canned::error(502, 900503),
        Canned::json(200, json!([])),
    ])
    .await;
    client(&stub.base, "t")
        .validation_codes()
        .list()
        .await
        .unwrap();
    assert_eq!(stub.count(), 3);

    let upstream = Stub::start(vec![Canned::json(200, json!([]))]).await;
    let proxy =
        FaultyProxy::start(&upstream.base, vec![Fault::DropRequest, Fault::DropRequest]).await;
    client(&proxy.base, "t")
        .validation_codes()
        .list()
        .await
        .unwrap();
    assert_eq!(
        proxy.connections(),
        3,
        "two broken connections, then one that works"
    );
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn attempts_stop_at_the_bound() {
    let stub = Stub::start(vec![Canned::error(503, 900503)]).await;
    let started = Instant::now();
    let e = fast(&stub.base, "t")
        .max_attempts(3)
        .build()
        .unwrap()
        .validation_codes()
        .list()
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::ServerBusy);
    assert_eq!(e.attempts(), 3);
    assert_eq!(stub.count(), 3);
    assert!(started.elapsed() < Duration::from_secs(5));

    // Dropped connections are bounded the same way.
    let upstream = Stub::start(vec![Canned::json(200, json!([]))]).await;
    let proxy = FaultyProxy::start(&upstream.base, vec![Fault::DropRequest; 5]).await;
    let e = fast(&proxy.base, "t")
        .max_attempts(2)
        .build()
        .unwrap()
        .validation_codes()
        .list()
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Transport);
    assert_eq!(e.attempts(), 2);
    assert_eq!(proxy.connections(), 2);
    assert_eq!(upstream.count(), 0);

    // 1 attempt means no retry at all.
    let stub = Stub::start(vec![Canned::error(503, 900503)]).await;
    fast(&stub.base, "t")
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
        .validation_codes()
        .list()
        .await
        .unwrap_err();
    assert_eq!(stub.count(), 1);
}

#[tokio::test]
async fn other_4xx_are_never_retried() {
    for (status, code, category) in [
        (400, 800002, ErrorCategory::BadInput),
        (401, 1002, ErrorCategory::Unauthorized),
        (403, 900150, ErrorCategory::Forbidden),
        (404, 1000, ErrorCategory::NotFound),
        (409, 900306, ErrorCategory::Conflict),
        (412, 900312, ErrorCategory::PreconditionFailed),
        (428, 900428, ErrorCategory::PreconditionFailed),
    ] {
        let stub = Stub::start(vec![Canned::error(status, code)]).await;
        let e = client(&stub.base, "t")
            .validation_codes()
            .list()
            .await
            .unwrap_err();
        assert_eq!(e.category(), category, "{status}");
        assert_eq!(e.code(), Some(code as i64));
        assert_eq!(stub.count(), 1, "{status} was retried");
    }
}

#[tokio::test]
async fn a_retry_after_past_the_cap_is_returned_not_slept_on() {
    let stub = Stub::start(vec![
        Canned::error(429, 900429).header("Retry-After", "3600"),
    ])
    .await;
    let started = Instant::now();
    let e = client(&stub.base, "t")
        .validation_codes()
        .list()
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Throttled);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(stub.count(), 1);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_write_keeps_its_request_id_across_retries_and_calls_get_new_ones() {
    let created = json!({"qualification": "Education", "vettingStatus": "InReview", "vettingCreateDate": "2020-12-04T20:54:24Z"});
    let stub = Stub::start(vec![
        Canned::error(503, 900503),
        Canned::error(429, 900429).header("Retry-After", "0"),
        Canned::json(201, created),
    ])
    .await;
    let c = client(&stub.base, "t");
    let request = QualificationRequest::education(EducationSegment::K12, Some("contoso.edu"));
    let customer = uuid::Uuid::new_v4();
    c.customers()
        .by_id(customer)
        .qualifications()
        .create(&request)
        .await
        .unwrap();
    let seen = stub.seen();
    assert_eq!(seen.len(), 3);
    let ids: Vec<_> = seen.iter().map(|s| s.header("ms-requestid")).collect();
    assert!(ids[0].is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()));
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let correlations: Vec<_> = seen.iter().map(|s| s.header("ms-correlationid")).collect();
    assert!(
        correlations
            .iter()
            .all(|id| id.is_some() && *id == correlations[0])
    );
    for s in &seen {
        assert_eq!(s.method, "POST");
        assert_eq!(
            s.uri.path(),
            format!("/v1/customers/{customer}/qualifications")
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&s.body).unwrap(),
            json!({"qualification": "Education", "educationSegment": "K12", "website": "contoso.edu"})
        );
        assert!(
            s.header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
        assert_eq!(s.header("authorization"), Some("Bearer t"));
    }

    // The next logical call has its own id.
    c.customers()
        .by_id(customer)
        .qualifications()
        .create(&request)
        .await
        .unwrap();
    let seen = stub.seen();
    assert_ne!(seen[3].header("ms-requestid"), ids[0]);

    // ... unless the caller pins one for a write it keeps track of itself.
    let pinned = c.with_request_id("6f1c9a52-4a5e-4a4c-8d7e-2b1c0e9f4d33");
    pinned
        .customers()
        .by_id(customer)
        .qualifications()
        .create(&request)
        .await
        .unwrap();
    assert_eq!(
        stub.seen()[4].header("ms-requestid"),
        Some("6f1c9a52-4a5e-4a4c-8d7e-2b1c0e9f4d33")
    );
}

#[tokio::test]
async fn a_create_retried_after_a_lost_answer_makes_exactly_one_qualification() {
    let s = TestServer::start().await;
    let p = s.partner();
    let admin = s.admin();
    let customer = p
        .client
        .customers()
        .create(&new_customer("contosogov.onmicrosoft.com"))
        .await
        .unwrap();
    let code = admin
        .admin()
        .partner(&p.id)
        .validation_codes()
        .issue(&NewValidationCode {
            organization_name: "Contoso Gov".into(),
            max_creates: 5,
        })
        .await
        .unwrap();

    // The proxy forwards the first create, lets the server answer, and drops that answer.
    let proxy = FaultyProxy::start(&s.base, vec![Fault::DropResponse]).await;
    let through_proxy = client(&proxy.base, &p.token);
    let created = through_proxy
        .customers()
        .by_id(&customer.id)
        .qualifications()
        .create(&QualificationRequest::government_community_cloud(
            &code.validation_id,
        ))
        .await
        .expect("the retry gets the stored answer");
    assert_eq!(proxy.connections(), 2);
    assert_eq!(
        created.qualification,
        qualify_client::Qualification::GovernmentCommunityCloud
    );

    let all = p
        .client
        .customers()
        .by_id(&customer.id)
        .qualifications()
        .list()
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0], created);
    // ... and the GCC code was spent once.
    let codes = p.client.validation_codes().list().await.unwrap();
    assert_eq!(codes[0].remaining_creates, 4);
}

#[tokio::test]
async fn a_customer_create_retried_after_a_lost_answer_makes_one_customer() {
    let s = TestServer::start().await;
    let p = s.partner();
    let proxy = FaultyProxy::start(&s.base, vec![Fault::DropResponse]).await;
    let created = client(&proxy.base, &p.token)
        .customers()
        .create(&new_customer("contoso.onmicrosoft.com"))
        .await
        .unwrap();
    let all = p.client.customers().list_all().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, created.id);
}
