//! Typed errors: one category per kind of failure, with the status, the Partner Center code and
//! the ids of the call.

use std::time::Duration;

use qualify_client::{
    Client, EducationSegment, ErrorCategory, NewValidationCode, Qualification,
    QualificationRequest, TokenError, TokenFn,
};

use crate::support::*;
use crate::surface::new_customer;

#[tokio::test]
async fn bad_input_carries_status_code_description_and_ids() {
    let s = TestServer::start().await;
    let p = s.partner();
    let c = p
        .client
        .customers()
        .create(&new_customer("contoso.onmicrosoft.com"))
        .await
        .unwrap();
    let correlation = "3b3f1c4e-9d7a-4f43-a0a5-0f6c1f3c8a11";
    let traced = p.client.with_correlation_id(correlation);
    let e = traced
        .customers()
        .by_id(&c.id)
        .qualifications()
        .create(&QualificationRequest::new(Qualification::Nonprofit))
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::BadInput);
    assert_eq!(e.status(), Some(400));
    assert_eq!(e.code(), Some(900301));
    assert!(!e.description().is_empty());
    assert_eq!(e.correlation_id(), Some(correlation));
    assert!(
        e.request_id()
            .is_some_and(|r| uuid::Uuid::parse_str(r).is_ok())
    );
    assert_eq!(e.attempts(), 1, "a 400 is never retried");
    assert!(e.is_api_error());
    let shown = e.to_string();
    assert!(
        shown.contains("900301") && shown.contains(correlation),
        "{shown}"
    );

    let e = p
        .client
        .customers()
        .by_id("not-a-guid")
        .get()
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::BadInput);
    assert_eq!(e.code(), Some(900118));

    // A customer id with URL syntax in it stays one path segment.
    let e = p
        .client
        .customers()
        .by_id("../all/validations")
        .get()
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::BadInput, "{e}");
    assert_eq!(e.code(), Some(900118));
}

#[tokio::test]
async fn unauthorized_for_a_bad_token() {
    let s = TestServer::start().await;
    let e = client(&s.base, "not.a.jwt")
        .validation_codes()
        .list()
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Unauthorized);
    assert_eq!(e.status(), Some(401));
    assert_eq!(e.code(), Some(1002));
}

#[tokio::test]
async fn forbidden_for_app_only_writes_and_other_partners_customers() {
    let s = TestServer::start().await;
    let p = s.partner();
    let c = p
        .client
        .customers()
        .create(&new_customer("contoso.onmicrosoft.com"))
        .await
        .unwrap();
    let e = p
        .app_only
        .customers()
        .by_id(&c.id)
        .qualifications()
        .create(&QualificationRequest::state_owned_entity())
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Forbidden);
    assert_eq!(e.code(), Some(900150));

    let other = s.partner();
    let e = other
        .client
        .customers()
        .by_id(&c.id)
        .get()
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Forbidden);
    assert_eq!(e.code(), Some(20002));

    // The operator API refuses a partner token.
    let e = p.client.admin().reviews().list().await.unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Forbidden);
}

#[tokio::test]
async fn not_found_for_an_unknown_customer() {
    let s = TestServer::start().await;
    let p = s.partner();
    let e = p
        .client
        .customers()
        .by_id(uuid::Uuid::new_v4())
        .qualifications()
        .list()
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::NotFound);
    assert_eq!(e.status(), Some(404));
    assert_eq!(e.code(), Some(1000));
}

#[tokio::test]
async fn conflict_for_a_second_request_in_review() {
    let s = TestServer::start().await;
    let p = s.partner();
    let c = p
        .client
        .customers()
        .create(&new_customer("contoso.onmicrosoft.com"))
        .await
        .unwrap();
    let q = p.client.customers().by_id(&c.id).qualifications();
    let request = QualificationRequest::education(EducationSegment::K12, None);
    q.create(&request).await.unwrap();
    let e = q.create(&request).await.unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Conflict);
    assert_eq!(e.status(), Some(409));
    assert_eq!(e.code(), Some(900306));
    assert_eq!(q.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn precondition_failed_for_a_stale_decision_etag() {
    let s = TestServer::start().await;
    let p = s.partner();
    let c = p
        .client
        .customers()
        .create(&new_customer("contoso.onmicrosoft.com"))
        .await
        .unwrap();
    p.client
        .customers()
        .by_id(&c.id)
        .qualifications()
        .create(&QualificationRequest::state_owned_entity())
        .await
        .unwrap();
    let e = s
        .admin()
        .admin()
        .customer(&c.id)
        .qualification(Qualification::StateOwnedEntity)
        .decide(&qualify_client::VettingDecision::approve(), "stale-etag")
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::PreconditionFailed);
    assert_eq!(e.status(), Some(412));
}

#[tokio::test]
async fn throttled_with_retry_after_when_retries_are_used_up() {
    let s = TestServer::start_with(Settings {
        rate_limit_per_minute: 1,
        ..Settings::default()
    })
    .await;
    let token = partner_token();
    let once = fast(&s.base, &token).max_attempts(1).build().unwrap();
    once.validation_codes().list().await.unwrap();
    let e = once.validation_codes().list().await.unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Throttled);
    assert_eq!(e.status(), Some(429));
    let wait = e.retry_after().expect("429 carries Retry-After");
    assert!(wait >= Duration::from_secs(1), "{wait:?}");
    assert_eq!(e.attempts(), 1);
}

#[tokio::test]
async fn server_busy_and_server_error_after_the_retries() {
    let busy = Stub::start(vec![Canned::error(503, 900503)]).await;
    let e = fast(&busy.base, "t")
        .max_attempts(2)
        .build()
        .unwrap()
        .validation_codes()
        .list()
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::ServerBusy);
    assert_eq!(e.code(), Some(900503));
    assert_eq!(e.attempts(), 2);

    let broken = Stub::start(vec![Canned::error(500, 900500)]).await;
    let e = fast(&broken.base, "t")
        .max_attempts(2)
        .build()
        .unwrap()
        .validation_codes()
        .list()
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::ServerError);
    assert_eq!(broken.count(), 2);
}

#[tokio::test]
async fn transport_when_nothing_listens() {
    let base = closed_port().await;
    let e = fast(&base, "t")
        .max_attempts(2)
        .build()
        .unwrap()
        .validation_codes()
        .list()
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Transport);
    assert_eq!(e.status(), None);
    assert_eq!(e.attempts(), 2);
    assert!(e.request_id().is_some());
    assert!(!e.is_api_error());
}

#[tokio::test]
async fn transport_timeout_per_attempt() {
    let slow = Stub::start(vec![
        Canned::json(200, serde_json::json!([])).after(Duration::from_secs(5)),
    ])
    .await;
    let started = std::time::Instant::now();
    let e = fast(&slow.base, "t")
        .timeout(Duration::from_millis(200))
        .max_attempts(2)
        .build()
        .unwrap()
        .validation_codes()
        .list()
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Transport);
    assert!(e.is_timeout(), "{e}");
    assert_eq!(e.attempts(), 2);
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn invalid_response_for_an_unreadable_success_body() {
    let stub = Stub::start(vec![Canned {
        status: 200,
        headers: vec![],
        body: "<html>surprise</html>".into(),
        delay: Duration::ZERO,
    }])
    .await;
    let e = client(&stub.base, "t")
        .validation_codes()
        .list()
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::InvalidResponse);
}

#[tokio::test]
async fn credentials_when_the_token_provider_fails_and_configuration_for_a_bad_url() {
    let stub = Stub::start(vec![Canned::json(200, serde_json::json!([]))]).await;
    let c = Client::builder()
        .base_url(&stub.base)
        .token_provider(TokenFn::new(|| async {
            Err::<String, TokenError>("the token cache is empty".into())
        }))
        .build()
        .unwrap();
    let e = c.validation_codes().list().await.unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Credentials);
    assert!(e.description().contains("token cache is empty"));
    assert_eq!(stub.count(), 0, "nothing is sent without a token");

    let e = Client::builder()
        .base_url("not a url")
        .token("t")
        .build()
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Configuration);
    let e = Client::builder()
        .base_url("ftp://example.invalid")
        .token("t")
        .build()
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Configuration);
    let e = Client::builder().base_url(&stub.base).build().unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Configuration);
}

#[tokio::test]
async fn a_closure_token_provider_is_asked_on_every_attempt() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let stub = Stub::start(vec![
        Canned::error(503, 900503),
        Canned::json(200, serde_json::json!([])),
    ])
    .await;
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let c = Client::builder()
        .base_url(&stub.base)
        .backoff(Duration::from_millis(5), Duration::from_millis(5))
        .token_provider(TokenFn::new(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, TokenError>(format!("token-{n}")) }
        }))
        .build()
        .unwrap();
    c.validation_codes().list().await.unwrap();
    assert_eq!(asked.load(Ordering::SeqCst), 2);
    let seen = stub.seen();
    assert_eq!(seen[0].header("authorization"), Some("Bearer token-0"));
    assert_eq!(seen[1].header("authorization"), Some("Bearer token-1"));
}

#[tokio::test]
async fn the_operator_issue_is_not_retried_after_an_ambiguous_failure() {
    let stub = Stub::start(vec![Canned::error(503, 900503)]).await;
    let e = client(&stub.base, "t")
        .admin()
        .partner(uuid::Uuid::new_v4())
        .validation_codes()
        .issue(&NewValidationCode {
            organization_name: "Contoso".into(),
            max_creates: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::ServerBusy);
    assert_eq!(
        stub.count(),
        1,
        "issuing codes is not deduplicated by the server"
    );

    // A 429 is refused before any processing: retried even there.
    let stub = Stub::start(vec![
        Canned::error(429, 900429).header("Retry-After", "0"),
        Canned::json(
            201,
            serde_json::json!({"partnerId": "p", "organizationName": "Contoso", "validationId": "42", "maxCreates": 1, "remainingCreates": 1}),
        ),
    ])
    .await;
    let code = client(&stub.base, "t")
        .admin()
        .partner(uuid::Uuid::new_v4())
        .validation_codes()
        .issue(&NewValidationCode {
            organization_name: "Contoso".into(),
            max_creates: 1,
        })
        .await
        .unwrap();
    assert_eq!(code.validation_id, "42");
    assert_eq!(stub.count(), 2);
}
