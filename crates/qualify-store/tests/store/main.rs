//! The store conformance suite: every backend must pass the same tests. Each test is an async
//! function over `&dyn Store`; `backends!` instantiates it once per backend. Between them the
//! tests call every method of every store trait (`every_store_method_is_exercised` checks that
//! against the traits' source).

use std::sync::Arc;
use std::time::Duration;

use qualify_core::customer::{BillingProfile, CompanyProfile, NewCustomer};
use qualify_core::faults::{FaultMatch, FaultResponse, FaultSpec, Phase};
use qualify_core::jobs::{AfterFailure, JobFinish, JobKind, NewJob};
use qualify_core::policy::{VettingMode, VettingPolicy};
use qualify_core::qualification::{
    DecisionStatus, EducationSegment, SettableQualification, VettingDecision, VettingStatus,
};
use qualify_core::rules::{Contract, QualificationRequest};
use qualify_core::time_fmt::from_millis;
use qualify_core::validation::{AccountStatus, GdapRole};
use qualify_core::{CustomerId, ErrorKind, PartnerId};
use qualify_store::prelude::*;
use qualify_store::testing::fresh_postgres_database;
use qualify_store::{
    IdempotencyKey, PgSettings, PgStore, SqliteStore, Store, StoreError, WriteContext,
};
use time::OffsetDateTime;

mod control;
mod signals;
mod webhooks;

const T0: i64 = 1_800_000_000_000;

pub(crate) fn at(ms_after_t0: i64) -> OffsetDateTime {
    from_millis(T0 + ms_after_t0)
}

pub(crate) fn ctx(now: OffsetDateTime) -> WriteContext {
    WriteContext {
        wall: now,
        actor: "test".into(),
        request_id: "r".into(),
        correlation_id: "c".into(),
        idempotency: None,
    }
}

fn keyed(now: OffsetDateTime, partner: PartnerId, key: &str, fingerprint: &str) -> WriteContext {
    WriteContext {
        idempotency: Some(IdempotencyKey {
            partner,
            request_id: key.into(),
            fingerprint: fingerprint.into(),
        }),
        ..ctx(now)
    }
}

pub(crate) fn new_customer(domain: &str) -> NewCustomer {
    NewCustomer {
        company_profile: CompanyProfile {
            domain: Some(domain.into()),
            company_name: Some("Contoso".into()),
            email: None,
            address: None,
            organization_registration_number: None,
        },
        billing_profile: BillingProfile {
            first_name: None,
            last_name: None,
            email: None,
            culture: None,
            language: None,
            company_name: None,
            default_address: None,
        },
    }
}

pub(crate) fn edu() -> QualificationRequest {
    QualificationRequest::new(
        SettableQualification::Education,
        Some(EducationSegment::K12),
        Some("contoso.edu".into()),
        None,
        Contract::Current,
    )
    .unwrap()
}

fn gcc(code: &str) -> QualificationRequest {
    QualificationRequest::new(
        SettableQualification::GovernmentCommunityCloud,
        None,
        None,
        Some(code.into()),
        Contract::Current,
    )
    .unwrap()
}

/// The built-in rules: `edu()` (website contoso.edu) is Approved.
pub(crate) fn auto() -> VettingPolicy {
    VettingPolicy {
        mode: VettingMode::Auto,
        ..Default::default()
    }
}

/// The built-in rules decide `ms` after the request.
pub(crate) fn auto_after(ms: u64) -> VettingPolicy {
    VettingPolicy {
        delay: Duration::from_millis(ms),
        ..auto()
    }
}

/// Every request waits for a reviewer.
pub(crate) fn manual() -> VettingPolicy {
    VettingPolicy::default()
}

/// Manual vetting, the job due `ms` after the request.
pub(crate) fn delayed(ms: u64) -> VettingPolicy {
    VettingPolicy {
        delay: Duration::from_millis(ms),
        ..Default::default()
    }
}

pub(crate) fn kind(e: StoreError) -> ErrorKind {
    match e {
        StoreError::Domain(d) => d.kind,
        other => panic!("expected a domain error, got {other}"),
    }
}

pub(crate) async fn customer(store: &dyn Store, partner: PartnerId) -> CustomerId {
    store
        .create_customer(
            &ctx(at(0)),
            partner,
            new_customer("contoso.onmicrosoft.com"),
            &[GdapRole::DirectoryReader],
        )
        .await
        .unwrap()
        .value
        .id
}

pub(crate) async fn sqlite() -> Arc<dyn Store> {
    Arc::new(SqliteStore::open("sqlite::memory:").await.unwrap())
}

pub(crate) async fn postgres() -> Option<Arc<dyn Store>> {
    let url = fresh_postgres_database().await?;
    Some(Arc::new(
        PgStore::open(&url, &PgSettings::default()).await.unwrap(),
    ))
}

#[macro_export]
macro_rules! backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test]
                async fn $name() {
                    let store = $crate::sqlite().await;
                    super::$name(store.as_ref()).await;
                }
            )*
        }
        mod postgres_backend {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(store) = $crate::postgres().await else { return };
                    super::$name(store.as_ref()).await;
                }
            )*
        }
    };
}

backends!(
    customers_are_created_listed_and_replayed,
    billing_profile_updates_need_the_current_etag,
    a_create_writes_qualification_job_and_audit_event_together,
    rejected_creates_change_nothing,
    gcc_codes_are_decremented_once_and_never_below_zero,
    idempotent_creates_replay_and_refuse_other_bodies,
    decisions_check_state_then_etag,
    jobs_are_leased_finished_once_and_reclaimed_after_a_crash,
    released_jobs_are_claimable_at_once,
    delayed_jobs_wait_for_their_time,
    validation_status_and_gdap_round_trip,
    old_idempotency_records_are_purged,
    rejections_are_replayed_to_retries,
    concurrent_writes_fail_and_succeed_independently,
    owner_and_qualifications_are_read_together,
    jobs_of_any_kind_fail_with_backoff_without_holding_back_others,
    a_vetting_job_whose_qualification_is_gone_finishes_nothing,
    the_review_queue_filters_pages_and_names_the_company,
    transitions_are_read_in_order_after_a_seq,
    concurrent_transitions_are_never_skipped_by_a_reader,
    faults_count_hits_fire_at_their_positions_and_expire,
    concurrent_fault_hits_fire_exactly_times,
    queue_stats_count_pending_jobs_and_age_the_oldest_due_by_its_clock,
);

async fn queue_stats_count_pending_jobs_and_age_the_oldest_due_by_its_clock(store: &dyn Store) {
    use qualify_core::clock::ClockChange;
    use qualify_core::engine::Scope;
    use qualify_store::QueueStats;
    let stats = |wall| store.queue_stats("vetting", wall);
    assert_eq!(stats(at(0)).await.unwrap(), QueueStats::default());
    let (p, frozen) = (PartnerId::new_random(), PartnerId::new_random());
    for (partner, delay) in [(p, 5_000), (p, 60_000), (frozen, 1_000)] {
        let c = customer(store, partner).await;
        store
            .create_qualification(&ctx(at(0)), partner, c, edu(), &delayed(delay))
            .await
            .unwrap();
    }
    // Another kind is not counted.
    let other = NewJob {
        kind: JobKind("test-kind".into()),
        partner: p,
        payload: serde_json::json!({}),
        run_at: at(0),
    };
    store.enqueue_job(other, None).await.unwrap();
    // `frozen`'s clock stands before its job's due time: only wall time moves the others.
    store
        .change_clock(Scope::Partner(frozen), at(0), ClockChange::Freeze(at(500)))
        .await
        .unwrap();
    let secs = Duration::from_secs;
    assert_eq!(
        stats(at(1_000)).await.unwrap(),
        QueueStats {
            pending: 3,
            oldest_due: secs(0),
        }
    );
    assert_eq!(stats(at(7_000)).await.unwrap().oldest_due, secs(2));
    // Done jobs leave the queue; the oldest due one is now 60 s's, not due yet at 59 s.
    let jobs = store
        .claim_jobs("w", at(7_000), secs(30), 10)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    for job in jobs.iter().filter(|j| j.kind.as_str() == "vetting") {
        store
            .run_vetting_job(job, "w", at(7_000), &auto())
            .await
            .unwrap();
    }
    assert_eq!(
        stats(at(59_000)).await.unwrap(),
        QueueStats {
            pending: 2,
            oldest_due: secs(0),
        }
    );
    // The frozen clock moved past its job's due time: due for 4 s by that clock.
    store
        .change_clock(
            Scope::Partner(frozen),
            at(0),
            ClockChange::Freeze(at(5_000)),
        )
        .await
        .unwrap();
    assert_eq!(stats(at(59_000)).await.unwrap().oldest_due, secs(4));
    // Two due: the older one counts.
    assert_eq!(stats(at(63_500)).await.unwrap().oldest_due, secs(4));
}

async fn the_review_queue_filters_pages_and_names_the_company(store: &dyn Store) {
    use qualify_store::{ReviewCursor, ReviewQuery};
    let (p, other) = (PartnerId::new_random(), PartnerId::new_random());
    let query = |partner, qualification, after, limit| ReviewQuery {
        status: VettingStatus::InReview,
        qualification,
        partner,
        after,
        limit,
    };
    let mut mine = vec![];
    for i in 0..5 {
        let c = customer(store, p).await;
        let request = if i % 2 == 0 {
            edu()
        } else {
            QualificationRequest::new(
                SettableQualification::StateOwnedEntity,
                None,
                None,
                None,
                Contract::Current,
            )
            .unwrap()
        };
        // Created out of id order: the queue is ordered by vettingCreateDate first.
        let when = at(100 - i * 10);
        mine.push(
            store
                .create_qualification(&ctx(when), p, c, request, &manual())
                .await
                .unwrap()
                .value,
        );
    }
    let theirs = customer(store, other).await;
    store
        .create_qualification(&ctx(at(1)), other, theirs, edu(), &manual())
        .await
        .unwrap();

    let all = store
        .review_page(&query(None, None, None, 100))
        .await
        .unwrap();
    let dates: Vec<_> = all
        .items
        .iter()
        .map(|r| r.qualification.vetting_create_date)
        .collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted, "oldest first");
    assert_eq!(all.items.len(), 6);
    assert_eq!(all.next, None);
    assert_eq!(all.items[0].company_name.as_deref(), Some("Contoso"));
    assert_eq!(
        all.items[0].domain.as_deref(),
        Some("contoso.onmicrosoft.com")
    );

    // Paged, two at a time, one partner: every request once, in order.
    let mut seen = vec![];
    let mut after: Option<ReviewCursor> = None;
    loop {
        let page = store
            .review_page(&query(Some(p), None, after, 2))
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|r| r.qualification.id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let mut expected: Vec<_> = mine.iter().rev().map(|q| q.id).collect();
    assert_eq!(seen, expected, "one partner's, oldest first, each once");

    let edu_only = store
        .review_page(&query(
            Some(p),
            Some(SettableQualification::Education),
            None,
            10,
        ))
        .await
        .unwrap();
    assert_eq!(edu_only.items.len(), 3);
    assert!(
        edu_only
            .items
            .iter()
            .all(|r| r.qualification.qualification == SettableQualification::Education)
    );
    let soe_everyone = store
        .review_page(&query(
            None,
            Some(SettableQualification::StateOwnedEntity),
            None,
            10,
        ))
        .await
        .unwrap();
    assert_eq!(soe_everyone.items.len(), 2);

    // A decided request leaves the InReview queue and joins the Denied one.
    let decided = &mine[0];
    store
        .decide(
            &ctx(at(200)),
            decided.customer_id,
            decided.qualification,
            &decided.etag,
            &VettingDecision {
                status: DecisionStatus::Denied,
                reason: Some("no".into()),
            },
        )
        .await
        .unwrap();
    let in_review = store
        .review_page(&query(Some(p), None, None, 10))
        .await
        .unwrap();
    expected.retain(|id| *id != decided.id);
    assert_eq!(
        in_review
            .items
            .iter()
            .map(|r| r.qualification.id)
            .collect::<Vec<_>>(),
        expected
    );
    let denied = store
        .review_page(&ReviewQuery {
            status: VettingStatus::Denied,
            ..query(Some(p), None, None, 10)
        })
        .await
        .unwrap();
    assert_eq!(denied.items.len(), 1);
    assert_eq!(denied.items[0].qualification.id, decided.id);
}

async fn transitions_are_read_in_order_after_a_seq(store: &dyn Store) {
    let start = store.transition_horizon().await.unwrap();
    let (p, other) = (PartnerId::new_random(), PartnerId::new_random());
    let c = customer(store, p).await;
    let o = customer(store, other).await;
    let q = store
        .create_qualification(&ctx(at(1)), p, c, edu(), &manual())
        .await
        .unwrap()
        .value;
    store
        .create_qualification(&ctx(at(2)), other, o, edu(), &manual())
        .await
        .unwrap();
    store
        .decide(
            &ctx(at(3)),
            c,
            q.qualification,
            &q.etag,
            &VettingDecision {
                status: DecisionStatus::Denied,
                reason: Some("Not an Education Customer".into()),
            },
        )
        .await
        .unwrap();
    let page = store.transitions(start, None, 100).await.unwrap();
    assert_eq!(page.items.len(), 3);
    let seqs: Vec<i64> = page.items.iter().map(|t| t.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(page.last_seq, seqs[2]);
    assert_eq!(store.transition_horizon().await.unwrap(), seqs[2]);
    let first = &page.items[0];
    assert_eq!(
        (first.partner_id, first.customer_id, first.qualification),
        (p, c, SettableQualification::Education)
    );
    assert_eq!((first.from, first.to), (None, VettingStatus::InReview));
    assert_eq!(first.at, at(1));
    let denied = &page.items[2];
    assert_eq!(
        (denied.from, denied.to),
        (Some(VettingStatus::InReview), VettingStatus::Denied)
    );
    assert_eq!(denied.reason.as_deref(), Some("Not an Education Customer"));
    assert_eq!(denied.actor, "test");

    // One partner's; a limit; after a seq.
    let mine = store.transitions(start, Some(p), 100).await.unwrap();
    assert_eq!(
        mine.items.iter().map(|t| t.seq).collect::<Vec<_>>(),
        vec![seqs[0], seqs[2]]
    );
    assert_eq!(mine.last_seq, seqs[2], "the other partner's was read past");
    let one = store.transitions(start, None, 1).await.unwrap();
    assert_eq!(one.items.len(), 1);
    assert_eq!(one.last_seq, seqs[0]);
    let rest = store.transitions(one.last_seq, None, 100).await.unwrap();
    assert_eq!(
        rest.items.iter().map(|t| t.seq).collect::<Vec<_>>(),
        seqs[1..]
    );
    let none = store.transitions(seqs[2], None, 100).await.unwrap();
    assert!(none.items.is_empty());
    assert_eq!(none.last_seq, seqs[2]);
}

/// A reader that keeps reading after `last_seq` while transitions commit concurrently (on
/// PostgreSQL: out of id order) ends with every transition exactly once, in seq order.
async fn concurrent_transitions_are_never_skipped_by_a_reader(store: &dyn Store) {
    let start = store.transition_horizon().await.unwrap();
    let p = PartnerId::new_random();
    let mut customers = vec![];
    for _ in 0..60 {
        customers.push(customer(store, p).await);
    }
    let write = ctx(at(5));
    let policy = manual();
    let writes = async {
        for chunk in customers.chunks(20) {
            let creates = chunk
                .iter()
                .map(|c| store.create_qualification(&write, p, *c, edu(), &policy));
            for r in futures::future::join_all(creates).await {
                r.unwrap();
            }
        }
    };
    let read = async {
        let mut seen = vec![];
        let mut after = start;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while seen.len() < customers.len() {
            assert!(std::time::Instant::now() < deadline, "saw {}", seen.len());
            let page = store.transitions(after, None, 7).await.unwrap();
            assert!(page.last_seq >= after);
            seen.extend(page.items.iter().map(|t| t.seq));
            after = page.last_seq;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        seen
    };
    let ((), seen) = tokio::join!(writes, read);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order, each once");
    let all = store.transitions(start, None, 1000).await.unwrap();
    assert_eq!(
        seen,
        all.items.iter().map(|t| t.seq).collect::<Vec<_>>(),
        "nothing skipped"
    );
}

pub(crate) fn fault_spec(
    partner: Option<PartnerId>,
    nth: Option<Vec<u64>>,
    times: Option<u64>,
) -> FaultSpec {
    FaultSpec {
        matches: FaultMatch {
            partner,
            ..FaultMatch::default()
        },
        phase: Phase::Before,
        response: FaultResponse::Drop,
        latency_ms: None,
        nth,
        times,
        probability: 1.0,
        seed: 1,
        seed_given: false,
    }
}

async fn faults_count_hits_fire_at_their_positions_and_expire(store: &dyn Store) {
    let (p, q) = (PartnerId::new_random(), PartnerId::new_random());
    let a = store
        .add_fault("a", &fault_spec(Some(p), Some(vec![2, 3]), Some(2)), at(0))
        .await
        .unwrap();
    let b = store
        .add_fault("b", &fault_spec(Some(q), None, None), at(0))
        .await
        .unwrap();
    assert!(a.seq < b.seq, "evaluation order");
    let ids = vec!["a".to_owned(), "b".to_owned()];
    // Position 1 of `a` does not fire: the request reaches `b`, which fires.
    let hit = store.hit_faults(&ids).await.unwrap().unwrap();
    assert_eq!(
        (hit.fault.id.as_str(), hit.fault.hits, hit.removed),
        ("b", 1, false)
    );
    let hit = store.hit_faults(&ids).await.unwrap().unwrap();
    assert_eq!(
        (hit.fault.id.as_str(), hit.fault.hits, hit.fault.fired),
        ("a", 2, 1)
    );
    assert_eq!(hit.fault.remaining(), Some(1));
    let hit = store.hit_faults(&ids).await.unwrap().unwrap();
    assert_eq!(
        (hit.fault.id.as_str(), hit.removed),
        ("a", true),
        "times reached"
    );
    let listed = store.faults(None).await.unwrap();
    assert_eq!(
        listed.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        ["b"]
    );
    assert_eq!(listed[0].hits, 1, "requests taken by `a` never reached `b`");
    assert_eq!(store.faults(Some(p)).await.unwrap(), vec![]);
    assert_eq!(store.faults(Some(q)).await.unwrap().len(), 1);
    // Gone faults are passed over.
    assert!(store.hit_faults(&["a".to_owned()]).await.unwrap().is_none());
    assert_eq!(store.clear_faults(Some(p)).await.unwrap(), 0);
    assert!(store.remove_fault("b").await.unwrap());
    assert!(!store.remove_fault("b").await.unwrap());
    store
        .add_fault("c", &fault_spec(Some(p), None, None), at(0))
        .await
        .unwrap();
    store
        .add_fault("d", &fault_spec(None, None, None), at(0))
        .await
        .unwrap();
    assert_eq!(store.clear_faults(Some(p)).await.unwrap(), 1);
    assert_eq!(store.clear_faults(None).await.unwrap(), 1);
    assert!(store.faults(None).await.unwrap().is_empty());
}

async fn concurrent_fault_hits_fire_exactly_times(store: &dyn Store) {
    store
        .add_fault("t", &fault_spec(None, None, Some(5)), at(0))
        .await
        .unwrap();
    let ids = vec!["t".to_owned()];
    let hits = futures::future::join_all((0..40).map(|_| store.hit_faults(&ids))).await;
    let fired = hits
        .into_iter()
        .filter(|h| h.as_ref().unwrap().is_some())
        .count();
    assert_eq!(fired, 5);
    assert!(store.faults(None).await.unwrap().is_empty());
}

async fn owner_and_qualifications_are_read_together(store: &dyn Store) {
    let p = PartnerId::new_random();
    assert_eq!(
        store
            .owned_qualifications(CustomerId::new_random())
            .await
            .unwrap(),
        None,
        "an unknown customer"
    );
    let empty = customer(store, p).await;
    assert_eq!(
        store.owned_qualifications(empty).await.unwrap(),
        Some((p, vec![])),
        "a customer without qualifications still has its owner"
    );
    let c = customer(store, p).await;
    let other = customer(store, PartnerId::new_random()).await;
    store
        .create_qualification(&ctx(at(1)), p, c, edu(), &manual())
        .await
        .unwrap();
    store
        .create_qualification(&ctx(at(2)), p, other, edu(), &manual())
        .await
        .unwrap();
    let decision = VettingDecision {
        status: DecisionStatus::Denied,
        reason: Some("not a school".into()),
    };
    let q = &store.qualifications(c).await.unwrap()[0];
    store
        .decide(&ctx(at(3)), c, q.qualification, &q.etag, &decision)
        .await
        .unwrap();
    store
        .create_qualification(&ctx(at(4)), p, c, edu(), &manual())
        .await
        .unwrap();
    let (owner, list) = store.owned_qualifications(c).await.unwrap().unwrap();
    assert_eq!(owner, p);
    assert_eq!(list, store.qualifications(c).await.unwrap());
    assert_eq!(list.len(), 2, "only this customer's, both of them");
    assert_eq!(list[0].vetting_status, VettingStatus::Denied);
    assert_eq!(list[0].vetting_reason.as_deref(), Some("not a school"));
    assert_eq!(list[1].vetting_status, VettingStatus::InReview);
    assert!(list[0].id < list[1].id, "oldest first");
}

async fn customers_are_created_listed_and_replayed(store: &dyn Store) {
    let p = PartnerId::new_random();
    let other = PartnerId::new_random();
    let mut ids = vec![];
    for i in 0..5 {
        ids.push(
            store
                .create_customer(&ctx(at(i)), p, new_customer("a.com"), &[])
                .await
                .unwrap()
                .value
                .id,
        );
    }
    customer(store, other).await;
    let first = store.list_customers(p, None, 3).await.unwrap();
    assert_eq!(
        first.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        ids[..3]
    );
    let second = store.list_customers(p, first.next, 3).await.unwrap();
    assert_eq!(
        second.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        ids[3..]
    );
    assert_eq!(second.next, None);

    let c1 = keyed(at(9), p, "k1", "f1");
    let a = store
        .create_customer(&c1, p, new_customer("b.com"), &[])
        .await
        .unwrap();
    let b = store
        .create_customer(&c1, p, new_customer("b.com"), &[])
        .await
        .unwrap();
    assert!(!a.replayed && b.replayed);
    assert_eq!(a.value, b.value);
    assert_eq!(
        store
            .list_customers(p, None, 100)
            .await
            .unwrap()
            .items
            .len(),
        6
    );
    assert_eq!(store.customer(a.value.id).await.unwrap().unwrap(), a.value);
    assert_eq!(store.customer_partner(a.value.id).await.unwrap(), Some(p));
    assert_eq!(
        store
            .customer_partner(CustomerId::new_random())
            .await
            .unwrap(),
        None
    );
}

async fn billing_profile_updates_need_the_current_etag(store: &dyn Store) {
    let p = PartnerId::new_random();
    let c = store
        .create_customer(&ctx(at(0)), p, new_customer("a.com"), &[])
        .await
        .unwrap()
        .value;
    let mut profile = c.billing_profile.clone();
    profile.first_name = Some("Ada".into());
    let e = store
        .update_billing_profile(&ctx(at(1)), c.id, "stale", profile.clone())
        .await
        .unwrap_err();
    assert_eq!(kind(e), ErrorKind::PreconditionFailed);
    assert_eq!(store.customer(c.id).await.unwrap().unwrap(), c);
    let updated = store
        .update_billing_profile(&ctx(at(1)), c.id, &c.billing_etag, profile)
        .await
        .unwrap()
        .value;
    assert_ne!(updated.billing_etag, c.billing_etag);
    assert_eq!(updated.billing_profile.first_name.as_deref(), Some("Ada"));
}

async fn a_create_writes_qualification_job_and_audit_event_together(store: &dyn Store) {
    let p = PartnerId::new_random();
    let c = customer(store, p).await;
    let q = store
        .create_qualification(&ctx(at(5)), p, c, edu(), &manual())
        .await
        .unwrap()
        .value;
    assert_eq!(q.vetting_status, VettingStatus::InReview);
    assert_eq!(store.qualifications(c).await.unwrap(), vec![q.clone()]);
    let history = store
        .history(c, SettableQualification::Education)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].from, history[0].to),
        (None, VettingStatus::InReview)
    );
    assert!(history[0].profile_etag.is_some());
    let jobs = store
        .claim_jobs("w", at(5), Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (
            jobs[0].kind.as_str(),
            jobs[0].partner,
            jobs[0].qualification_id,
            jobs[0].attempts
        ),
        ("vetting", p, Some(q.id), 1)
    );
    assert_eq!(jobs[0].run_at, at(5));
}

async fn rejected_creates_change_nothing(store: &dyn Store) {
    let p = PartnerId::new_random();
    let c = customer(store, p).await;
    store
        .create_qualification(&ctx(at(1)), p, c, edu(), &manual())
        .await
        .unwrap();
    let code = store
        .issue_validation_code(&ctx(at(1)), p, "Gov", 2)
        .await
        .unwrap();
    let before = (
        store.qualifications(c).await.unwrap(),
        store.validation_codes(p).await.unwrap(),
    );
    // Already in review; Education and GCC combined; unknown code; another partner's code.
    assert_eq!(
        kind(
            store
                .create_qualification(&ctx(at(2)), p, c, edu(), &manual())
                .await
                .unwrap_err()
        ),
        ErrorKind::QualificationExists
    );
    assert_eq!(
        kind(
            store
                .create_qualification(&ctx(at(2)), p, c, gcc(&code.validation_id), &manual())
                .await
                .unwrap_err()
        ),
        ErrorKind::EducationGccCombined
    );
    let c2 = customer(store, p).await;
    assert_eq!(
        kind(
            store
                .create_qualification(&ctx(at(2)), p, c2, gcc("000"), &manual())
                .await
                .unwrap_err()
        ),
        ErrorKind::ValidationCodeInvalid
    );
    let q = PartnerId::new_random();
    let theirs = customer(store, q).await;
    assert_eq!(
        kind(
            store
                .create_qualification(&ctx(at(2)), q, theirs, gcc(&code.validation_id), &manual())
                .await
                .unwrap_err()
        ),
        ErrorKind::ValidationCodeInvalid
    );
    // No GDAP role.
    store.set_gdap_grant(&ctx(at(2)), p, c2, &[]).await.unwrap();
    assert_eq!(
        kind(
            store
                .create_qualification(&ctx(at(2)), p, c2, gcc(&code.validation_id), &manual())
                .await
                .unwrap_err()
        ),
        ErrorKind::Forbidden
    );
    assert_eq!(
        (
            store.qualifications(c).await.unwrap(),
            store.validation_codes(p).await.unwrap()
        ),
        before
    );
    assert!(store.qualifications(c2).await.unwrap().is_empty());
    assert_eq!(
        store
            .claim_jobs("w", at(10), Duration::from_secs(1), 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn gcc_codes_are_decremented_once_and_never_below_zero(store: &dyn Store) {
    let p = PartnerId::new_random();
    let code = store
        .issue_validation_code(&ctx(at(0)), p, "Gov", 2)
        .await
        .unwrap();
    assert_eq!((code.max_creates, code.remaining_creates), (2, 2));
    let mut results = vec![];
    for i in 0..4 {
        let c = customer(store, p).await;
        results.push(
            store
                .create_qualification(&ctx(at(i)), p, c, gcc(&code.validation_id), &manual())
                .await,
        );
    }
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 2);
    for r in results.into_iter().skip(2) {
        assert_eq!(kind(r.unwrap_err()), ErrorKind::ValidationCodeExhausted);
    }
    let codes = store.validation_codes(p).await.unwrap();
    assert_eq!(codes[0].remaining_creates, 0);
    assert_ne!(codes[0].etag, code.etag);
}

async fn idempotent_creates_replay_and_refuse_other_bodies(store: &dyn Store) {
    let p = PartnerId::new_random();
    let c = customer(store, p).await;
    let code = store
        .issue_validation_code(&ctx(at(0)), p, "Gov", 5)
        .await
        .unwrap();
    let k = keyed(at(1), p, "key", "fp");
    let a = store
        .create_qualification(&k, p, c, gcc(&code.validation_id), &manual())
        .await
        .unwrap();
    let b = store
        .create_qualification(
            &keyed(at(2), p, "key", "fp"),
            p,
            c,
            gcc(&code.validation_id),
            &manual(),
        )
        .await
        .unwrap();
    assert!(b.replayed);
    assert_eq!(a.value, b.value);
    let e = store
        .create_qualification(
            &keyed(at(3), p, "key", "other"),
            p,
            c,
            gcc(&code.validation_id),
            &manual(),
        )
        .await
        .unwrap_err();
    assert_eq!(kind(e), ErrorKind::IdempotencyKeyReused);
    assert_eq!(store.qualifications(c).await.unwrap().len(), 1);
    assert_eq!(
        store.validation_codes(p).await.unwrap()[0].remaining_creates,
        4
    );
    // Keys are per partner: another partner's same key is a new request.
    let q = PartnerId::new_random();
    let theirs = customer(store, q).await;
    assert!(
        !store
            .create_qualification(&keyed(at(4), q, "key", "fp"), q, theirs, edu(), &manual())
            .await
            .unwrap()
            .replayed
    );
}

async fn decisions_check_state_then_etag(store: &dyn Store) {
    let p = PartnerId::new_random();
    let c = customer(store, p).await;
    let approve = VettingDecision {
        status: DecisionStatus::Approved,
        reason: None,
    };
    let e = store
        .decide(
            &ctx(at(1)),
            c,
            SettableQualification::Education,
            "x",
            &approve,
        )
        .await
        .unwrap_err();
    assert_eq!(kind(e), ErrorKind::NotFound);
    let q = store
        .create_qualification(&ctx(at(1)), p, c, edu(), &manual())
        .await
        .unwrap()
        .value;
    let e = store
        .decide(
            &ctx(at(2)),
            c,
            SettableQualification::Education,
            "stale",
            &approve,
        )
        .await
        .unwrap_err();
    assert_eq!(kind(e), ErrorKind::PreconditionFailed);
    let deny = VettingDecision {
        status: DecisionStatus::Denied,
        reason: Some("Not an Education Customer".into()),
    };
    let d = store
        .decide(
            &ctx(at(3)),
            c,
            SettableQualification::Education,
            &q.etag,
            &deny,
        )
        .await
        .unwrap();
    assert_eq!(
        (d.vetting_status, d.vetting_reason.as_deref()),
        (VettingStatus::Denied, Some("Not an Education Customer"))
    );
    let e = store
        .decide(
            &ctx(at(4)),
            c,
            SettableQualification::Education,
            &d.etag,
            &approve,
        )
        .await
        .unwrap_err();
    assert_eq!(kind(e), ErrorKind::AlreadyDecided);
    let history = store
        .history(c, SettableQualification::Education)
        .await
        .unwrap();
    assert_eq!(
        history.iter().map(|h| h.to).collect::<Vec<_>>(),
        [VettingStatus::InReview, VettingStatus::Denied]
    );
    assert!(
        store
            .reviews(VettingStatus::InReview, 10)
            .await
            .unwrap()
            .iter()
            .all(|r| r.customer_id != c)
    );
}

async fn jobs_are_leased_finished_once_and_reclaimed_after_a_crash(store: &dyn Store) {
    let p = PartnerId::new_random();
    let c = customer(store, p).await;
    store
        .create_qualification(&ctx(at(0)), p, c, edu(), &manual())
        .await
        .unwrap();
    let lease = Duration::from_secs(30);
    let a = store.claim_jobs("a", at(1), lease, 10).await.unwrap();
    assert_eq!(a.len(), 1);
    // Leased: nobody else gets it until the lease has run out.
    assert!(
        store
            .claim_jobs("b", at(2), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // "a" dies; "b" takes the job after the lease.
    let b = store.claim_jobs("b", at(31_002), lease, 10).await.unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].attempts, 2);
    // The old holder's late finish changes nothing.
    assert_eq!(
        store
            .run_vetting_job(&a[0], "a", at(31_003), &auto())
            .await
            .unwrap(),
        JobFinish::LeaseLost
    );
    assert_eq!(
        store
            .run_vetting_job(&b[0], "b", at(31_004), &auto())
            .await
            .unwrap(),
        JobFinish::Decided(SettableQualification::Education, VettingStatus::Approved)
    );
    assert_eq!(
        store
            .run_vetting_job(&b[0], "b", at(31_005), &auto())
            .await
            .unwrap(),
        JobFinish::LeaseLost
    );
    assert_eq!(
        store.qualifications(c).await.unwrap()[0].vetting_status,
        VettingStatus::Approved
    );
    let decisions = store
        .history(c, SettableQualification::Education)
        .await
        .unwrap()
        .into_iter()
        .filter(|h| h.from.is_some())
        .count();
    assert_eq!(decisions, 1);
    assert!(
        store
            .claim_jobs("c", at(100_000), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_job_due().await.unwrap(), None);
}

async fn released_jobs_are_claimable_at_once(store: &dyn Store) {
    let p = PartnerId::new_random();
    let c = customer(store, p).await;
    store
        .create_qualification(&ctx(at(0)), p, c, edu(), &manual())
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_jobs("a", at(1), Duration::from_secs(30), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.release_jobs("a").await.unwrap(), 1);
    let b = store
        .claim_jobs("b", at(2), Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(b.len(), 1);
    // A reviewer decides before the worker finishes: the worker changes nothing.
    let q = store.qualifications(c).await.unwrap().remove(0);
    store
        .decide(
            &ctx(at(3)),
            c,
            SettableQualification::Education,
            &q.etag,
            &VettingDecision {
                status: DecisionStatus::Denied,
                reason: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .run_vetting_job(&b[0], "b", at(4), &auto())
            .await
            .unwrap(),
        JobFinish::NoChange(VettingStatus::Denied)
    );
    assert_eq!(
        store.qualifications(c).await.unwrap()[0].vetting_status,
        VettingStatus::Denied
    );
}

async fn delayed_jobs_wait_for_their_time(store: &dyn Store) {
    let p = PartnerId::new_random();
    let c = customer(store, p).await;
    store
        .create_qualification(&ctx(at(0)), p, c, edu(), &delayed(5_000))
        .await
        .unwrap();
    assert_eq!(store.next_job_due().await.unwrap(), Some(at(5_000)));
    assert!(
        store
            .claim_jobs("w", at(4_999), Duration::from_secs(30), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let jobs = store
        .claim_jobs("w", at(5_000), Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        store
            .run_vetting_job(&jobs[0], "w", at(5_001), &manual())
            .await
            .unwrap(),
        JobFinish::LeftForReviewer
    );
    assert_eq!(
        store.qualifications(c).await.unwrap()[0].vetting_status,
        VettingStatus::InReview
    );
    assert_eq!(
        store
            .reviews(VettingStatus::InReview, 100)
            .await
            .unwrap()
            .iter()
            .filter(|r| r.customer_id == c)
            .count(),
        1
    );
}

async fn validation_status_and_gdap_round_trip(store: &dyn Store) {
    let p = PartnerId::new_random();
    let c = customer(store, p).await;
    assert_eq!(store.validation_status(c).await.unwrap(), None);
    store
        .set_validation_status(&ctx(at(1)), c, AccountStatus::UnderReview)
        .await
        .unwrap();
    let s = store
        .set_validation_status(&ctx(at(2)), c, AccountStatus::NotReady)
        .await
        .unwrap();
    assert_eq!(store.validation_status(c).await.unwrap(), Some(s));
    assert_eq!(
        store.gdap_grant(p, c).await.unwrap().unwrap().roles,
        vec![GdapRole::DirectoryReader]
    );
    let g = store
        .set_gdap_grant(
            &ctx(at(3)),
            p,
            c,
            &[
                GdapRole::UserAdministrator,
                GdapRole::DirectoryWriter,
                GdapRole::UserAdministrator,
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        g.roles,
        vec![GdapRole::DirectoryWriter, GdapRole::UserAdministrator]
    );
    assert_eq!(store.gdap_grant(p, c).await.unwrap(), Some(g));
}

async fn old_idempotency_records_are_purged(store: &dyn Store) {
    let p = PartnerId::new_random();
    store
        .create_customer(&keyed(at(0), p, "old", "f"), p, new_customer("a.com"), &[])
        .await
        .unwrap();
    store
        .create_customer(
            &keyed(at(10_000), p, "new", "f"),
            p,
            new_customer("a.com"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(store.purge_idempotency(at(5_000)).await.unwrap(), 1);
    // The purged key is free again: the same request creates a second customer.
    assert!(
        !store
            .create_customer(
                &keyed(at(20_000), p, "old", "f"),
                p,
                new_customer("a.com"),
                &[]
            )
            .await
            .unwrap()
            .replayed
    );
    assert!(
        store
            .create_customer(
                &keyed(at(20_000), p, "new", "f"),
                p,
                new_customer("a.com"),
                &[]
            )
            .await
            .unwrap()
            .replayed
    );
}

async fn rejections_are_replayed_to_retries(store: &dyn Store) {
    let p = PartnerId::new_random();
    let c = customer(store, p).await;
    store
        .create_qualification(&ctx(at(0)), p, c, edu(), &manual())
        .await
        .unwrap();
    // Rejected: Education is already in review.
    let first = store
        .create_qualification(&keyed(at(1), p, "k", "fp"), p, c, edu(), &manual())
        .await
        .unwrap_err();
    assert_eq!(kind(first), ErrorKind::QualificationExists);
    // The state changes so that the request would now succeed...
    let q = &store.qualifications(c).await.unwrap()[0];
    let deny = VettingDecision {
        status: DecisionStatus::Denied,
        reason: None,
    };
    store
        .decide(
            &ctx(at(2)),
            c,
            SettableQualification::Education,
            &q.etag,
            &deny,
        )
        .await
        .unwrap();
    // ...but the retry gets the first answer, marked as replayed, and creates nothing.
    match store
        .create_qualification(&keyed(at(3), p, "k", "fp"), p, c, edu(), &manual())
        .await
    {
        Err(StoreError::Replayed(d)) => assert_eq!(d.kind, ErrorKind::QualificationExists),
        other => panic!("expected the replayed rejection, got {other:?}"),
    }
    assert_eq!(store.qualifications(c).await.unwrap().len(), 1);
    // The key stays bound to that request.
    let e = store
        .create_qualification(&keyed(at(4), p, "k", "other"), p, c, edu(), &manual())
        .await
        .unwrap_err();
    assert_eq!(kind(e), ErrorKind::IdempotencyKeyReused);
}

/// Concurrent writes share transactions (group commit on SQLite): a rejected one must neither
/// fail nor change the others.
async fn concurrent_writes_fail_and_succeed_independently(store: &dyn Store) {
    let p = PartnerId::new_random();
    let mut customers = vec![];
    for _ in 0..40 {
        customers.push(customer(store, p).await);
    }
    // Every even customer already has Education in review: its second request is rejected.
    for c in customers.iter().step_by(2) {
        store
            .create_qualification(&ctx(at(0)), p, *c, edu(), &manual())
            .await
            .unwrap();
    }
    let code = store
        .issue_validation_code(&ctx(at(0)), p, "Gov", 10)
        .await
        .unwrap();
    let write = ctx(at(1));
    let policy = manual();
    let writes = customers.iter().enumerate().map(|(i, c)| {
        let request = if i % 4 == 1 {
            gcc(&code.validation_id)
        } else {
            edu()
        };
        store.create_qualification(&write, p, *c, request, &policy)
    });
    let results = futures::future::join_all(writes).await;
    for (i, (c, r)) in customers.iter().zip(results).enumerate() {
        let stored = store.qualifications(*c).await.unwrap();
        if i % 2 == 0 {
            assert_eq!(kind(r.unwrap_err()), ErrorKind::QualificationExists);
            assert_eq!(stored.len(), 1, "customer {i} changed by a rejected write");
        } else {
            let q = r.unwrap().value;
            assert_eq!(stored, vec![q], "customer {i}");
        }
    }
    assert_eq!(
        store.validation_codes(p).await.unwrap()[0].remaining_creates,
        0
    );
}

async fn jobs_of_any_kind_fail_with_backoff_without_holding_back_others(store: &dyn Store) {
    let p = PartnerId::new_random();
    let c = customer(store, p).await;
    let q = store
        .create_qualification(&ctx(at(0)), p, c, edu(), &manual())
        .await
        .unwrap()
        .value;
    let other = NewJob {
        kind: JobKind("test-kind".into()),
        partner: p,
        payload: serde_json::json!({"n": 1}),
        run_at: at(0),
    };
    store.enqueue_job(other, Some(q.id)).await.unwrap();
    let lease = Duration::from_secs(30);
    let jobs = store.claim_jobs("w", at(1), lease, 10).await.unwrap();
    assert_eq!(jobs.len(), 2);
    let (vetting, odd): (Vec<_>, Vec<_>) =
        jobs.into_iter().partition(|j| j.kind.as_str() == "vetting");
    let odd = &odd[0];
    assert_eq!(
        (&odd.payload, odd.qualification_id),
        (&serde_json::json!({"n": 1}), Some(q.id))
    );
    // The odd job fails; the vetting job finishes all the same.
    assert!(
        store
            .fail_job(odd, "w", at(2), "boom", AfterFailure::RetryAt(at(1_002)))
            .await
            .unwrap()
    );
    assert!(
        !store
            .fail_job(odd, "someone-else", at(2), "x", AfterFailure::Dead)
            .await
            .unwrap(),
        "only the lease holder records a failure"
    );
    assert_eq!(
        store
            .run_vetting_job(&vetting[0], "w", at(3), &auto())
            .await
            .unwrap(),
        JobFinish::Decided(SettableQualification::Education, VettingStatus::Approved)
    );
    // Not before its retry time; then again, with its last error, one more attempt.
    assert_eq!(store.next_job_due().await.unwrap(), Some(at(1_002)));
    assert!(
        store
            .claim_jobs("w", at(1_001), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store.claim_jobs("w", at(1_002), lease, 10).await.unwrap();
    assert_eq!(
        (again[0].attempts, again[0].last_error.as_deref()),
        (2, Some("boom"))
    );
    // Given up: never claimed again.
    assert!(
        store
            .fail_job(&again[0], "w", at(1_003), "boom again", AfterFailure::Dead)
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_jobs("w", at(999_999), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_job_due().await.unwrap(), None);
}

async fn a_vetting_job_whose_qualification_is_gone_finishes_nothing(store: &dyn Store) {
    let p = PartnerId::new_random();
    let job = NewJob {
        kind: JobKind::of::<qualify_core::jobs::Vetting>(),
        partner: p,
        payload: serde_json::json!({}),
        run_at: at(0),
    };
    store.enqueue_job(job, None).await.unwrap();
    let jobs = store
        .claim_jobs("w", at(1), Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(
        store
            .run_vetting_job(&jobs[0], "w", at(2), &auto())
            .await
            .unwrap(),
        JobFinish::SubjectGone
    );
    assert!(
        !store
            .complete_job(
                &jobs[0],
                "w",
                at(3),
                &JobFinish::Ended(qualify_core::jobs::JobOutcome::Succeeded)
            )
            .await
            .unwrap(),
        "a finished job is not finished twice"
    );
    assert_eq!(store.next_job_due().await.unwrap(), None);
}

// ---- upgrades -----------------------------------------------------------------------------------

/// A database written by the previous release (0.1, commit 0d61996: `qualify serve --vetting
/// auto --vetting-delay 1000h`, three customers, three qualification requests whose vetting jobs
/// are pending, one of them decided by an operator since) is upgraded when it is opened, and
/// its pending jobs are run by the general queue.
#[tokio::test]
async fn pending_jobs_of_the_previous_release_are_finished_after_an_upgrade_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upgraded.db");
    std::fs::copy("tests/fixtures/release-0.1-pending-jobs.db", &path).unwrap();
    let store = SqliteStore::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    finish_pending_jobs_of_the_previous_release(&store).await;
}

/// The same on PostgreSQL: the previous release's migration, rows as it wrote them, then the
/// store of this release opens the database.
#[tokio::test]
async fn pending_jobs_of_the_previous_release_are_finished_after_an_upgrade_postgres() {
    let Some(url) = fresh_postgres_database().await else {
        return;
    };
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let mut previous = sqlx::migrate!("./migrations/postgres");
    previous.migrations = std::borrow::Cow::Owned(previous.migrations[..1].to_vec());
    previous.run(&pool).await.unwrap();
    let due = T0 + 3_600_000_000;
    // What 0.1 wrote for three requests (see the SQLite fixture): customers, qualifications,
    // audit events and 'vet' jobs; the third already decided by an operator.
    for (i, (domain, q, status, website)) in [
        ("contoso.edu", "Education", "InReview", Some("contoso.edu")),
        (
            "fabrikam.com",
            "Education",
            "InReview",
            Some("fabrikam.com"),
        ),
        ("state.example", "StateOwnedEntity", "Approved", None),
    ]
    .into_iter()
    .enumerate()
    {
        let customer = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO customers (id, partner_id, company_profile, company_etag, billing_profile, billing_etag, created_at)              VALUES ($1::uuid, '9daaeb1c-4195-4db5-9f1d-509eb70c8c2d', $2::jsonb, 'pe', '{}'::jsonb, 'be', $3)",
        )
        .bind(&customer)
        .bind(serde_json::json!({"domain": domain}).to_string())
        .bind(T0)
        .execute(&pool)
        .await
        .unwrap();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO qualifications (customer_id, partner_id, qualification, vetting_status, vetting_create_date,              education_segment, website, etag) VALUES ($1::uuid, '9daaeb1c-4195-4db5-9f1d-509eb70c8c2d', $2, $3, $4, $5, $6, 'e') RETURNING id",
        )
        .bind(&customer)
        .bind(q)
        .bind(status)
        .bind(T0)
        .bind((q == "Education").then_some("K12"))
        .bind(website)
        .fetch_one(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO jobs (kind, qualification_id, partner_id, run_at) VALUES ('vet', $1, '9daaeb1c-4195-4db5-9f1d-509eb70c8c2d', $2)",
        )
        .bind(id)
        .bind(due + i as i64)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
    let store = PgStore::open(&url, &PgSettings::default()).await.unwrap();
    finish_pending_jobs_of_the_previous_release(&store).await;
}

async fn finish_pending_jobs_of_the_previous_release(store: &dyn Store) {
    let due = store
        .next_job_due()
        .await
        .unwrap()
        .expect("three jobs pending");
    let jobs = store
        .claim_jobs(
            "w",
            due + Duration::from_secs(60),
            Duration::from_secs(30),
            10,
        )
        .await
        .unwrap();
    assert_eq!(jobs.len(), 3, "{jobs:?}");
    let mut finishes = vec![];
    for job in &jobs {
        assert_eq!(job.kind.as_str(), "vetting");
        assert!(job.qualification_id.is_some());
        finishes.push(store.run_vetting_job(job, "w", due, &auto()).await.unwrap());
    }
    assert_eq!(
        finishes,
        vec![
            JobFinish::Decided(SettableQualification::Education, VettingStatus::Approved),
            JobFinish::Decided(SettableQualification::Education, VettingStatus::Denied),
            JobFinish::NoChange(VettingStatus::Approved),
        ]
    );
    assert_eq!(store.next_job_due().await.unwrap(), None);
}

// ---- SQLite files ------------------------------------------------------------------------------

fn sqlite_url(dir: &tempfile::TempDir, name: &str) -> String {
    format!("sqlite://{}?mode=rwc", dir.path().join(name).display())
}

/// `_sqlx_migrations` is kept in sqlx's layout: a database migrated by sqlx's migrator (what
/// earlier versions of qualify ran) opens unchanged, sqlx accepts ours as up to date, and a
/// migration changed after it was applied stops the store from opening.
#[tokio::test]
async fn sqlite_migrations_interoperate_with_sqlx() {
    let dir = tempfile::tempdir().unwrap();
    let sqlx_first = sqlite_url(&dir, "sqlx-first.db");
    let pool = sqlx::SqlitePool::connect(&sqlx_first).await.unwrap();
    sqlx::migrate!("./migrations/sqlite")
        .run(&pool)
        .await
        .unwrap();
    pool.close().await;
    let store = SqliteStore::open(&sqlx_first).await.unwrap();
    let c = customer(&store, PartnerId::new_random()).await;
    assert!(store.customer(c).await.unwrap().is_some());

    let ours_first = sqlite_url(&dir, "ours-first.db");
    drop(SqliteStore::open(&ours_first).await.unwrap());
    let pool = sqlx::SqlitePool::connect(&ours_first).await.unwrap();
    sqlx::migrate!("./migrations/sqlite")
        .run(&pool)
        .await
        .expect("sqlx sees our bookkeeping as its own");
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await
        .unwrap();
    let known = sqlx::migrate!("./migrations/sqlite").iter().count() as i64;
    assert_eq!(applied, known, "nothing applied twice");
    sqlx::query("UPDATE _sqlx_migrations SET checksum = x'00'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let refused = SqliteStore::open(&ours_first).await.err().expect("refused");
    assert!(refused.to_string().contains("changed"), "{refused}");
}

/// A file database keeps what was committed when the store is dropped and opened again, and a
/// path that cannot be a database fails at open, not on the first request.
#[tokio::test]
async fn sqlite_files_keep_committed_writes_and_bad_paths_fail_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir, "kept.db");
    let p = PartnerId::new_random();
    let (c, q) = {
        let store = SqliteStore::open(&url).await.unwrap();
        let c = customer(&store, p).await;
        let q = store
            .create_qualification(&ctx(at(1)), p, c, edu(), &manual())
            .await
            .unwrap()
            .value;
        (c, q)
    };
    let store = SqliteStore::open(&url).await.unwrap();
    assert_eq!(
        store.owned_qualifications(c).await.unwrap(),
        Some((p, vec![q]))
    );
    let not_a_file = format!("sqlite://{}", dir.path().display());
    assert!(SqliteStore::open(&not_a_file).await.is_err());
    assert!(
        SqliteStore::open("sqlite://x.db?journal=off")
            .await
            .is_err(),
        "unknown URL parameters are refused, not ignored"
    );
}

/// Every method of every store trait is called by a test of this suite (a test of the suite's
/// own completeness: a method added to a trait without a conformance test fails here).
#[test]
fn every_store_method_is_exercised() {
    let traits = include_str!("../../src/traits.rs");
    let tests = [
        include_str!("main.rs"),
        include_str!("control.rs"),
        include_str!("signals.rs"),
        include_str!("webhooks.rs"),
    ]
    .concat();
    let methods: Vec<&str> = traits
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let rest = l
                .strip_prefix("async fn ")
                .or_else(|| l.strip_prefix("fn "))?;
            rest.split(['(', '<']).next()
        })
        .collect();
    assert!(methods.len() > 50, "read the traits: {methods:?}");
    let untested: Vec<&&str> = methods
        .iter()
        .filter(|m| !tests.contains(&format!(".{m}(")))
        .collect();
    assert!(
        untested.is_empty(),
        "store methods no test calls: {untested:?}"
    );
}
