//! What a commit signals, on every backend: the event stream hears of a transition from the
//! commit that wrote it — an `afterReads` decision taken by a read included — without waiting
//! for its poll; the worker hears of a job enqueued; every instance's fault list hears of a
//! change.

use qualify_core::PartnerId;
use qualify_core::jobs::{NewJob, Vetting, VettingPayload};
use qualify_core::qualification::VettingStatus;
use qualify_core::scenario::{Outcome, RuleMatch, Scenario, ScenarioRule, When};
use qualify_store::Store;

use crate::{at, ctx, customer, edu, manual};

crate::backends!(
    a_decision_by_reads_signals_the_event_stream_from_its_commit,
    enqueues_and_fault_changes_signal_their_subscribers,
);

async fn a_decision_by_reads_signals_the_event_stream_from_its_commit(store: &dyn Store) {
    store.ping().await.unwrap();
    let p = PartnerId::new_random();
    let c = customer(store, p).await;
    let rules = Scenario {
        rules: vec![ScenarioRule {
            matches: RuleMatch::default(),
            outcome: Outcome::Approved,
            when: When::AfterReads(2),
        }],
    };
    store
        .set_scenario(p, Some((rules, serde_json::json!({}))))
        .await
        .unwrap();
    let q = store
        .create_qualification(&ctx(at(1)), p, c, edu(), &manual())
        .await
        .unwrap()
        .value;
    let transitions = store.signals().transitions();
    assert!(!transitions.has_changed().unwrap());
    // The first read counts and decides nothing: no transition, no signal.
    let first = store
        .count_reads(c, at(2), &manual(), None)
        .await
        .unwrap()
        .unwrap();
    assert!(first.decided.is_empty());
    assert_eq!(first.records[0].vetting_status, VettingStatus::InReview);
    assert!(
        !transitions.has_changed().unwrap(),
        "a counted read alone signals nothing"
    );
    // The second decides, and its commit tells the stream at once.
    let second = store
        .count_reads(c, at(3), &manual(), Some(q.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((second.owner, second.decided.as_slice()), (p, &[q.id][..]));
    assert_eq!(second.records[0].vetting_status, VettingStatus::Approved);
    assert!(
        transitions.has_changed().unwrap(),
        "the decision's commit signalled the event stream"
    );
    let page = store.transitions(0, Some(p), 10).await.unwrap();
    assert_eq!(
        page.items.last().map(|t| (t.from, t.to)),
        Some((Some(VettingStatus::InReview), VettingStatus::Approved))
    );
    assert!(
        store
            .count_reads(
                qualify_core::CustomerId::new_random(),
                at(4),
                &manual(),
                None
            )
            .await
            .unwrap()
            .is_none(),
        "a customer that does not exist"
    );
}

async fn enqueues_and_fault_changes_signal_their_subscribers(store: &dyn Store) {
    let p = PartnerId::new_random();
    let mut jobs = store.signals().jobs();
    let mut faults = store.signals().faults();
    store
        .enqueue_job(NewJob::of::<Vetting>(p, &VettingPayload {}, at(0)), None)
        .await
        .unwrap();
    jobs.changed().await.unwrap();
    assert!(!faults.has_changed().unwrap());
    let spec = crate::fault_spec(Some(p), None, None);
    store.add_fault("f-signal", &spec, at(0)).await.unwrap();
    // PostgreSQL's LISTEN may deliver the change a moment after the commit's own signal: either
    // one wakes the subscriber, both within the wait.
    tokio::time::timeout(std::time::Duration::from_secs(5), faults.changed())
        .await
        .expect("the fault list's change was signalled")
        .unwrap();
    assert!(store.clear_faults(Some(p)).await.unwrap() == 1);
}
