//! Webhooks on every backend: a registration, the deliveries a transition enqueues, their
//! attempts and verdicts, redelivery, cancellation, and the one signing key.

use qualify_core::PartnerId;
use qualify_core::jobs::JobType;
use qualify_core::webhooks::{
    Attempt, DeliveryStatus, EventName, Registration, SigningKey, Verdict, WebhookDelivery,
};
use qualify_store::{DeliveryRef, Store};

use crate::{at, ctx, customer, edu, manual};

crate::backends!(
    deliveries_follow_their_attempts_verdicts_and_registration,
    one_signing_key_is_kept,
);

fn registration(p: PartnerId) -> Registration {
    Registration {
        partner_id: p,
        subscriber_id: "sub".into(),
        url: "https://receiver.example/hook".into(),
        events: vec![EventName::QualificationCreated],
        secret: "whsec_test".into(),
        previous_secret: None,
        disabled: None,
    }
}

async fn deliveries_follow_their_attempts_verdicts_and_registration(store: &dyn Store) {
    let p = PartnerId::new_random();
    assert_eq!(store.webhook_registration(p).await.unwrap(), None);
    store
        .put_webhook_registration(&registration(p), at(0))
        .await
        .unwrap();
    assert_eq!(
        store.webhook_registration(p).await.unwrap(),
        Some(registration(p))
    );
    let c = customer(store, p).await;
    store
        .create_qualification(&ctx(at(1)), p, c, edu(), &manual())
        .await
        .unwrap();
    let pending = store
        .deliveries(p, Some(DeliveryStatus::Pending))
        .await
        .unwrap();
    assert_eq!(
        pending.len(),
        1,
        "the create's event, and nothing for the vetting job"
    );
    let d = &pending[0];
    assert_eq!(d.event.event_name, EventName::QualificationCreated);

    // A failed attempt: recorded, due again.
    let claimed = store
        .claim_jobs("w", at(10), std::time::Duration::from_secs(30), 10)
        .await
        .unwrap();
    let job = claimed
        .iter()
        .find(|j| j.kind.as_str() == WebhookDelivery::KIND)
        .expect("the delivery is claimed")
        .clone();
    let failed = Attempt {
        at: at(10),
        response_code: Some(500),
        error: Some("HTTP 500".into()),
        duration_ms: 3,
    };
    assert!(
        store
            .finish_attempt(&job, "w", &failed, Verdict::RetryAt(at(5_010)))
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_attempt(&job, "someone-else", &failed, Verdict::Succeeded)
            .await
            .unwrap(),
        "a worker that does not hold the lease records nothing"
    );
    let after = store
        .delivery(DeliveryRef::Id(d.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, DeliveryStatus::Pending);
    assert_eq!(
        (after.attempts.len(), after.next_attempt_at),
        (1, Some(at(5_010)))
    );
    let by_event = store
        .delivery(DeliveryRef::Event(p, &d.event.event_id))
        .await
        .unwrap();
    assert_eq!(by_event.map(|x| x.id), Some(d.id));

    // A 410: dead, and the registration disabled.
    let job = store
        .claim_jobs("w", at(6_000), std::time::Duration::from_secs(30), 10)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.id == job.id)
        .expect("due again");
    let gone = Attempt {
        at: at(6_000),
        response_code: Some(410),
        error: Some("HTTP 410".into()),
        duration_ms: 2,
    };
    assert!(
        store
            .finish_attempt(&job, "w", &gone, Verdict::Disable)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .deliveries(p, Some(DeliveryStatus::Dead))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .webhook_registration(p)
            .await
            .unwrap()
            .unwrap()
            .disabled
            .as_deref(),
        Some("HTTP 410")
    );

    // Redelivered: pending again, with a fresh schedule; then cancelled with the registration.
    let again = store.redeliver(d.id, at(7_000)).await.unwrap().unwrap();
    assert_eq!(
        (again.status, again.next_attempt_at),
        (DeliveryStatus::Pending, Some(at(7_000)))
    );
    assert_eq!(store.redeliver(-1, at(7_000)).await.unwrap(), None);
    assert!(
        store
            .delete_webhook_registration(p, at(8_000))
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_webhook_registration(p, at(8_000))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .deliveries(p, Some(DeliveryStatus::Cancelled))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .deliveries(p, Some(DeliveryStatus::Pending))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn one_signing_key_is_kept(store: &dyn Store) {
    assert_eq!(store.signing_key(None).await.unwrap(), None);
    let first = SigningKey {
        private_key: "first".into(),
        certificate: "cert-1".into(),
    };
    let second = SigningKey {
        private_key: "second".into(),
        certificate: "cert-2".into(),
    };
    assert_eq!(
        store.signing_key(Some(first.clone())).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.signing_key(Some(second)).await.unwrap(),
        Some(first.clone()),
        "a second instance gets the key the first stored"
    );
    assert_eq!(store.signing_key(None).await.unwrap(), Some(first));
}
