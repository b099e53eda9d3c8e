//! Values Microsoft may add tomorrow: kept as `Other(..)`, never a failed call.

use std::time::Duration;

use qualify_client::{
    AccountStatus, ErrorCategory, LegacyQualification, Qualification, ValidationType,
    VettingStatus, WaitOptions,
};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn unknown_vetting_status_and_qualification_are_kept() {
    let stub = Stub::start(vec![Canned::json(
        200,
        json!([
            {"qualification": "Education", "vettingStatus": "Escalated", "vettingCreateDate": "2020-12-04T20:54:24Z"},
            {"qualification": "SovereignCloud", "vettingStatus": "Approved", "vettingReason": "ok",
             "vettingCreateDate": "2021-01-01T00:00:00Z", "someNewField": {"x": 1}}
        ]),
    )])
    .await;
    let list = client(&stub.base, "t")
        .customers()
        .by_id(uuid::Uuid::new_v4())
        .qualifications()
        .list()
        .await
        .unwrap();
    assert_eq!(
        list[0].vetting_status,
        VettingStatus::Other("Escalated".into())
    );
    assert!(!list[0].vetting_status.is_terminal());
    assert_eq!(list[0].vetting_status.to_string(), "Escalated");
    assert_eq!(
        list[1].qualification,
        Qualification::Other("SovereignCloud".into())
    );
    assert_eq!(list[1].vetting_status, VettingStatus::Approved);
    // What was read is written back as it came.
    let back = serde_json::to_value(&list[0]).unwrap();
    assert_eq!(back["vettingStatus"], "Escalated");
}

#[tokio::test]
async fn unknown_account_status_type_and_legacy_value_are_kept() {
    let stub = Stub::start(vec![Canned::json(
        200,
        json!({"type": "tax", "status": "Suspended", "lastUpdateDateTime": "2021-07-14T18:02:00"}),
    )])
    .await;
    let status = client(&stub.base, "t")
        .customers()
        .by_id(uuid::Uuid::new_v4())
        .validation_status(ValidationType::Account)
        .get()
        .await
        .unwrap();
    assert_eq!(status.status, AccountStatus::Other("Suspended".into()));
    assert_eq!(status.kind, ValidationType::Other("tax".into()));
    assert!(status.last_update_date_time.is_some());
    assert_eq!(
        stub.seen()[0].uri.query(),
        Some("type=account"),
        "the SDK asks for the account type"
    );

    let legacy = Stub::start(vec![Canned::json(200, json!("sovereign_cloud"))]).await;
    let value = client(&legacy.base, "t")
        .customers()
        .by_id(uuid::Uuid::new_v4())
        .qualification()
        .get()
        .await
        .unwrap();
    assert_eq!(value, LegacyQualification::Other("sovereign_cloud".into()));
}

#[tokio::test]
async fn waiting_does_not_stop_on_an_unknown_status() {
    let stub = Stub::start(vec![
        Canned::json(200, json!([{"qualification": "Education", "vettingStatus": "Escalated", "vettingCreateDate": "2020-12-04T20:54:24Z"}])),
        Canned::json(200, json!([{"qualification": "Education", "vettingStatus": "Escalated", "vettingCreateDate": "2020-12-04T20:54:24Z"}])),
        Canned::json(200, json!([{"qualification": "Education", "vettingStatus": "Approved", "vettingCreateDate": "2020-12-04T20:54:24Z"}])),
    ])
    .await;
    let decided = client(&stub.base, "t")
        .customers()
        .by_id(uuid::Uuid::new_v4())
        .qualifications()
        .wait(
            &Qualification::Education,
            WaitOptions {
                timeout: Duration::from_secs(10),
                interval: Duration::from_millis(20),
            },
        )
        .await
        .unwrap();
    assert_eq!(decided.vetting_status, VettingStatus::Approved);
    assert_eq!(stub.count(), 3);
}

#[tokio::test]
async fn waiting_pauses_for_retry_after_when_throttled() {
    let stub = Stub::start(vec![
        Canned::json(200, json!([{"qualification": "Education", "vettingStatus": "InReview", "vettingCreateDate": "2020-12-04T20:54:24Z"}])),
        Canned::error(429, 900429).header("Retry-After", "1"),
        Canned::json(200, json!([{"qualification": "Education", "vettingStatus": "Denied", "vettingReason": "Not an Academic Domain", "vettingCreateDate": "2020-12-04T20:54:24Z"}])),
    ])
    .await;
    let once = fast(&stub.base, "t").max_attempts(1).build().unwrap();
    let started = std::time::Instant::now();
    let decided = once
        .customers()
        .by_id(uuid::Uuid::new_v4())
        .qualifications()
        .wait(
            &Qualification::Education,
            WaitOptions {
                timeout: Duration::from_secs(10),
                interval: Duration::from_millis(20),
            },
        )
        .await
        .unwrap();
    assert_eq!(decided.vetting_status, VettingStatus::Denied);
    assert!(started.elapsed() >= Duration::from_secs(1));

    // Any other error ends the wait.
    let stub = Stub::start(vec![Canned::error(403, 20002)]).await;
    let e = client(&stub.base, "t")
        .customers()
        .by_id(uuid::Uuid::new_v4())
        .qualifications()
        .wait(&Qualification::Education, WaitOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Forbidden);
}
