//! The models read what servers send and write what they expect.

use super::*;
use serde_json::json;

#[test]
fn unknown_enum_values_are_kept_not_rejected() {
    let q: CustomerQualification = serde_json::from_value(json!({
        "qualification": "SomethingNew",
        "vettingStatus": "Escalated",
        "vettingCreateDate": "2020-12-04T20:54:24Z",
        "brandNewField": 1
    }))
    .unwrap();
    assert_eq!(q.vetting_status, VettingStatus::Other("Escalated".into()));
    assert_eq!(q.qualification, Qualification::Other("SomethingNew".into()));
    assert!(!q.vetting_status.is_terminal());
    let back = serde_json::to_value(&q).unwrap();
    assert_eq!(back["vettingStatus"], "Escalated");
    assert_eq!(back["vettingCreateDate"], "2020-12-04T20:54:24Z");
}

#[test]
fn known_values_match_case_insensitively_and_keep_their_wire_spelling() {
    assert_eq!(VettingStatus::parse("approved"), VettingStatus::Approved);
    assert_eq!(AccountStatus::parse("NotReady"), AccountStatus::NotReady);
    assert_eq!(AccountStatus::NotReady.as_str(), "Not Ready");
    assert_eq!(
        serde_json::to_value(GdapRole::DirectoryReader).unwrap(),
        json!("Directory Reader")
    );
    assert_eq!(
        LegacyQualification::parse("GovernmentCommunityCloud"),
        LegacyQualification::GovernmentCommunityCloud
    );
}

#[test]
fn dates_without_a_zone_are_read_as_utc() {
    let s: ValidationStatus = serde_json::from_value(json!({
        "type": "account", "status": "Allowed", "lastUpdateDateTime": "2021-07-14T18:02:00"
    }))
    .unwrap();
    assert_eq!(
        s.last_update_date_time.unwrap().unix_timestamp(),
        1_626_285_720
    );
    assert!(
        serde_json::from_value::<ValidationStatus>(json!({
            "type": "account", "status": "Allowed", "lastUpdateDateTime": "yesterday"
        }))
        .is_err()
    );
}

#[test]
fn requests_omit_absent_fields() {
    let body = serde_json::to_value(QualificationRequest::education(
        EducationSegment::HigherEducation,
        None,
    ))
    .unwrap();
    assert_eq!(
        body,
        json!({"qualification": "Education", "educationSegment": "HigherEducation"})
    );
}

#[test]
fn webhook_models_read_the_wire_shapes() {
    let r: WebhookRegistration = serde_json::from_value(json!({
        "SubscriberId": "e1a9c8f0-0000-4000-8000-000000000001",
        "WebhookUrl": "https://receiver.example/hook",
        "WebhookEvents": ["customer-qualification-updated", "something-new"],
        "SigningSecret": "whsec_c2VjcmV0",
        "Disabled": true,
        "DisabledReason": "the receiver answered 410 Gone",
        "Later": true
    }))
    .unwrap();
    assert_eq!(
        r.webhook_events,
        [
            WebhookEvent::CustomerQualificationUpdated,
            WebhookEvent::Other("something-new".into())
        ]
    );
    assert!(r.disabled && r.disabled_reason.is_some());
    assert!(
        !format!("{r:?}").contains("c2VjcmV0"),
        "Debug hides the secret"
    );
    let body = serde_json::to_value(NewWebhookRegistration::new(
        "https://receiver.example/hook",
        vec![WebhookEvent::CustomerQualificationCreated],
    ))
    .unwrap();
    assert_eq!(
        body,
        json!({"WebhookUrl": "https://receiver.example/hook",
               "WebhookEvents": ["customer-qualification-created"]})
    );

    let v: WebhookValidation = serde_json::from_value(json!({
        "correlationId": "c", "partnerId": "p", "status": "completed", "callbackUrl": "u",
        "results": [{"responseCode": "Gone", "responseMessage": "", "systemError": false,
                     "dateTimeUtc": "2026-12-01T10:00:00.000Z"},
                    {"responseCode": 502, "responseMessage": "", "systemError": false}]
    }))
    .unwrap();
    assert_eq!(v.status, WebhookValidationState::Completed);
    assert_eq!(v.results[0].status_code(), Some(410));
    assert_eq!(v.results[1].status_code(), Some(502));

    let d: Delivery = serde_json::from_value(json!({
        "id": 7, "eventId": "3f0c", "eventName": "customer-qualification-created",
        "customerId": null, "qualification": null, "status": "dead",
        "attempts": [{"at": "2030-01-01T00:00:00Z", "responseCode": null,
                      "error": "timed out", "durationMs": 10000}],
        "nextAttemptAt": null
    }))
    .unwrap();
    assert_eq!((d.id.as_str(), d.status), ("7", DeliveryStatus::Dead));
    assert_eq!(d.attempts[0].response_code, None);
}

#[test]
fn the_continuation_comes_from_links_next() {
    let page: ResourceCollection<Customer> = serde_json::from_value(json!({
        "totalCount": 0, "items": [],
        "links": {"self": {"uri": "/customers?size=1", "method": "GET", "headers": []},
                  "next": {"uri": "/customers?size=1&seekOperation=Next", "method": "GET",
                           "headers": [{"key": "MS-ContinuationToken", "value": "abc"}]}},
        "attributes": {"objectType": "Collection"}
    }))
    .unwrap();
    assert_eq!(page.continuation(), Some("abc"));
}
