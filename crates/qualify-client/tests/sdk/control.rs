//! The SDK's control surface (faults, journal, checks) against a real server, and the SDK's own
//! retries against injected faults: a lost answer and a dropped connection are retried with the
//! same MS-RequestId, so the create happens once.

use qualify_client::{FaultAnswer, FaultMatch, JournalPattern, NewFault, QualificationRequest};

use crate::support::*;
use crate::surface::new_customer;

#[tokio::test]
async fn the_sdk_survives_a_lost_answer_and_a_dropped_connection_with_one_create_each() {
    let s = TestServer::start().await;
    let admin = s.admin();
    let p = s.partner();
    let faults = admin.admin().faults();
    for (answer, phase) in [
        (FaultAnswer::status(503), "after"),
        (FaultAnswer::Drop, "after"),
    ] {
        let c = p
            .client
            .customers()
            .create(&new_customer("contoso.edu"))
            .await
            .unwrap();
        let fault = faults
            .add(&NewFault {
                matches: FaultMatch {
                    method: Some("POST".into()),
                    path: Some("/v1/customers/*/qualifications".into()),
                    partner: Some(p.id.clone()),
                    ..FaultMatch::default()
                },
                phase: Some(phase.into()),
                response: Some(answer),
                times: Some(1),
                ..NewFault::default()
            })
            .await
            .unwrap();
        assert_eq!(fault.remaining, Some(1));
        assert_eq!(faults.list_for_partner(&p.id).await.unwrap().len(), 1);
        let q = p.client.customers().by_id(&c.id).qualifications();
        let created = q
            .create(&QualificationRequest::state_owned_entity())
            .await
            .unwrap();
        assert_eq!(created.vetting_status.as_str(), "InReview");
        assert_eq!(
            q.list().await.unwrap().len(),
            1,
            "one create despite the retry"
        );
        assert!(
            faults.list().await.unwrap().is_empty(),
            "fired once, removed"
        );
        let found = admin
            .admin()
            .journal()
            .find(&JournalPattern {
                partner: Some(p.id.clone()),
                method: Some("POST".into()),
                customer_id: Some(c.id.clone()),
                ..JournalPattern::default()
            })
            .await
            .unwrap();
        let attempts = &found.entries;
        assert_eq!(attempts.len(), 2, "{attempts:?}");
        assert_eq!(attempts[0].fault_id.as_deref(), Some(fault.id.as_str()));
        assert_eq!(attempts[0].request_id, attempts[1].request_id);
        assert!(attempts[1].replayed);
        assert!(found.complete);
    }
    let report = admin.admin().partner(&p.id).checks().get().await.unwrap();
    let fired: Vec<&str> = report.violations.iter().map(|v| v.check.as_str()).collect();
    assert!(
        !fired.contains(&"write-retried-without-request-id"),
        "the SDK keeps its MS-RequestId: {fired:?}"
    );
    let xml = admin.admin().partner(&p.id).checks().junit().await.unwrap();
    assert_eq!(xml.matches("<testcase").count(), 5);
    let count = admin
        .admin()
        .journal()
        .count(&JournalPattern {
            partner: Some(p.id.clone()),
            ..JournalPattern::default()
        })
        .await
        .unwrap();
    assert_eq!(count.count, report.requests);
    let page = admin
        .admin()
        .journal()
        .list(Some(&p.id), 0, 2)
        .await
        .unwrap();
    assert_eq!(page.entries.len(), 2);
    admin.admin().journal().clear(Some(&p.id)).await.unwrap();
    assert!(
        admin
            .admin()
            .journal()
            .list(Some(&p.id), 0, 10)
            .await
            .unwrap()
            .entries
            .is_empty()
    );
    let f = faults
        .add_json(&serde_json::json!({"latency": "1ms"}))
        .await
        .unwrap();
    faults.remove(&f.id).await.unwrap();
    faults
        .add_json(&serde_json::json!({"latency": "1ms"}))
        .await
        .unwrap();
    faults.clear(None).await.unwrap();
    assert!(faults.list().await.unwrap().is_empty());
    let bad = faults
        .add_json(&serde_json::json!({"nth": [0]}))
        .await
        .unwrap_err();
    assert_eq!(bad.status(), Some(400));
    assert!(
        bad.description().starts_with("nth[0]"),
        "{}",
        bad.description()
    );
}
