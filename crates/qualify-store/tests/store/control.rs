//! The test control plane's state on every backend: clocks, scenarios, fixtures (seed, snapshot,
//! restore), and what a clock advance reads and claims.

use qualify_core::clock::{ClockChange, ClockSetting};
use qualify_core::commands::control::FixtureMode;
use qualify_core::engine::Scope;
use qualify_core::fixture::{CodeFixture, CustomerFixture, Fixture, PartnerFixture};
use qualify_core::qualification::VettingStatus;
use qualify_core::scenario::{Outcome, RuleMatch, Scenario, ScenarioRule, When};
use qualify_core::{ErrorKind, PartnerId};
use qualify_store::{SeedRecord, Store};

use crate::{at, ctx, customer, delayed, edu, kind, manual};

crate::backends!(
    clocks_are_planned_changed_and_stamp_a_partners_writes,
    scenarios_are_set_read_and_removed,
    fixtures_are_seeded_snapshotted_and_restored,
    an_advance_claims_the_due_jobs_of_its_scope_and_reports_their_transitions,
    a_write_whose_caller_stops_waiting_commits_nothing,
);

async fn clocks_are_planned_changed_and_stamp_a_partners_writes(store: &dyn Store) {
    let p = PartnerId::new_random();
    let scope = Scope::Partner(p);
    let frozen = at(3_600_000);
    let plan = store
        .plan_clock_change(scope, at(0), ClockChange::Freeze(frozen))
        .await
        .unwrap();
    assert_eq!((plan.from, plan.to), (at(0), frozen));
    assert_eq!(
        store.clock(scope).await.unwrap(),
        None,
        "a plan changes nothing"
    );
    store
        .change_clock(scope, at(0), ClockChange::Freeze(frozen))
        .await
        .unwrap();
    assert_eq!(
        store.clock(scope).await.unwrap(),
        Some(ClockSetting::Frozen(frozen))
    );
    let state = store.clock_state(scope).await.unwrap();
    assert_eq!(
        (state.own, state.global),
        (Some(ClockSetting::Frozen(frozen)), None)
    );
    assert_eq!(store.partner_clocks(p).await.unwrap().now(at(5)), frozen);
    // A write of the partner is stamped with its time, not wall time.
    let c = customer(store, p).await;
    let q = store
        .create_qualification(&ctx(at(7)), p, c, edu(), &manual())
        .await
        .unwrap()
        .value;
    assert_eq!(q.vetting_create_date, frozen);
    assert_eq!(
        kind(
            store
                .change_clock(scope, at(0), ClockChange::Freeze(at(1)))
                .await
                .unwrap_err()
        ),
        ErrorKind::ClockWentBack
    );
    store
        .change_clock(scope, at(0), ClockChange::Remove)
        .await
        .unwrap();
    assert_eq!(store.clock(scope).await.unwrap(), None);
}

fn rule(outcome: Outcome, when: When) -> Scenario {
    Scenario {
        rules: vec![ScenarioRule {
            matches: RuleMatch::default(),
            outcome,
            when,
        }],
    }
}

async fn scenarios_are_set_read_and_removed(store: &dyn Store) {
    let p = PartnerId::new_random();
    assert_eq!(store.scenario(p).await.unwrap(), None);
    let document = serde_json::json!({"rules": [{"outcome": "Approved"}]});
    store
        .set_scenario(
            p,
            Some((
                rule(Outcome::Approved, When::After(Default::default())),
                document.clone(),
            )),
        )
        .await
        .unwrap();
    assert_eq!(store.scenario(p).await.unwrap(), Some(document));
    store.set_scenario(p, None).await.unwrap();
    assert_eq!(store.scenario(p).await.unwrap(), None);
}

fn document(p: PartnerId, customer: CustomerFixture, code: &str) -> Fixture {
    Fixture {
        partners: vec![PartnerFixture {
            id: p,
            validation_codes: vec![CodeFixture {
                validation_id: code.into(),
                organization_name: "Gov".into(),
                max_creates: 3,
                remaining_creates: 2,
            }],
            customers: vec![customer],
            vetting: None,
            clock: None,
        }],
    }
}

async fn fixtures_are_seeded_snapshotted_and_restored(store: &dyn Store) {
    let p = PartnerId::new_random();
    let c = customer(store, p).await;
    store
        .create_qualification(&ctx(at(1)), p, c, edu(), &manual())
        .await
        .unwrap();
    // What a snapshot of the partner says is what a restore puts back.
    let before = store.snapshot(Scope::Partner(p)).await.unwrap();
    assert_eq!(before.partners.len(), 1);
    assert_eq!(before.partners[0].customers[0].qualifications.len(), 1);
    let state = store.scope_state(Scope::Partner(p)).await.unwrap();
    assert_eq!(
        (state.rows.customers.len(), state.rows.qualifications.len()),
        (1, 1)
    );
    assert!(
        store
            .snapshot(Scope::All)
            .await
            .unwrap()
            .partners
            .iter()
            .any(|x| x.id == p),
        "the whole server's snapshot holds the partner"
    );

    let code = format!("{}", 100_000_000 + (p.0.as_u128() % 800_000_000) as u64);
    let seeded_customer = CustomerFixture {
        qualifications: vec![],
        ..before.partners[0].customers[0].clone()
    };
    let seed = document(p, seeded_customer, &code);
    let record = SeedRecord {
        sha256: format!("sha-{p}"),
        document: "{}".into(),
    };
    assert!(!store.seed_applied(&record.sha256).await.unwrap());
    let outcome = store
        .apply_fixture(
            FixtureMode::Seed {
                record: Some(record.clone()),
            },
            &seed,
            at(2),
            &manual(),
        )
        .await
        .unwrap();
    assert_eq!(
        (outcome.applied.customers, outcome.applied.validation_codes),
        (1, 1)
    );
    assert!(store.seed_applied(&record.sha256).await.unwrap());
    assert_eq!(store.current_seed().await.unwrap().as_deref(), Some("{}"));
    let seeded = store.snapshot(Scope::Partner(p)).await.unwrap();
    assert_eq!(seeded.partners[0].validation_codes[0].remaining_creates, 2);
    assert!(
        seeded.partners[0].customers[0].qualifications.is_empty(),
        "a seeded customer replaces the stored one as a whole"
    );

    let restored = store
        .apply_fixture(
            FixtureMode::Restore(Scope::Partner(p)),
            &before,
            at(3),
            &manual(),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            restored.removed.customers,
            restored.removed.validation_codes
        ),
        (1, 1)
    );
    let after = store.snapshot(Scope::Partner(p)).await.unwrap();
    assert_eq!(after, before, "a restore puts back what the snapshot said");
}

async fn an_advance_claims_the_due_jobs_of_its_scope_and_reports_their_transitions(
    store: &dyn Store,
) {
    let (p, other) = (PartnerId::new_random(), PartnerId::new_random());
    let scope = Scope::Partner(p);
    for partner in [p, other] {
        store
            .change_clock(Scope::Partner(partner), at(0), ClockChange::Freeze(at(0)))
            .await
            .unwrap();
    }
    let c = customer(store, p).await;
    let d = customer(store, other).await;
    let start = store.last_audit_seq().await.unwrap();
    let q = store
        .create_qualification(&ctx(at(0)), p, c, edu(), &crate::auto_after(60_000))
        .await
        .unwrap()
        .value;
    store
        .create_qualification(&ctx(at(0)), other, d, edu(), &delayed(60_000))
        .await
        .unwrap();
    assert!(store.last_audit_seq().await.unwrap() > start);
    assert_eq!(store.unfinished_due_by(scope, at(59_000)).await.unwrap(), 0);
    assert_eq!(store.unfinished_due_by(scope, at(60_000)).await.unwrap(), 1);
    let claimed = store
        .claim_jobs_due_by(
            "advance",
            at(0),
            std::time::Duration::from_secs(30),
            10,
            scope,
            at(60_000),
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "only the scope's due job: {claimed:?}");
    assert_eq!(claimed[0].qualification_id, Some(q.id));
    // Handed back untouched, claimed again, then run at its due time.
    assert!(store.release_job(&claimed[0], "advance").await.unwrap());
    assert!(
        !store.release_job(&claimed[0], "advance").await.unwrap(),
        "released once"
    );
    let again = store
        .claim_jobs_due_by(
            "advance",
            at(0),
            std::time::Duration::from_secs(30),
            10,
            scope,
            at(60_000),
        )
        .await
        .unwrap();
    assert_eq!(
        again[0].attempts, 1,
        "a release does not count as an attempt"
    );
    store
        .run_vetting_job(&again[0], "advance", at(60_000), &crate::auto())
        .await
        .unwrap();
    let applied = store
        .transitions_after(start, scope, at(60_000))
        .await
        .unwrap();
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert_eq!(
        (
            applied[0].customer_id,
            applied[0].from,
            applied[0].to,
            applied[0].at
        ),
        (
            c,
            VettingStatus::InReview,
            VettingStatus::Approved,
            at(60_000)
        )
    );
    assert_eq!(store.unfinished_due_by(scope, at(60_000)).await.unwrap(), 0);
}

/// A seed whose caller gives up (its request timed out) stops and rolls back instead of
/// committing later, and another partner's write then goes through.
async fn a_write_whose_caller_stops_waiting_commits_nothing(store: &dyn Store) {
    use qualify_core::fixture::QualificationFixture;
    use qualify_core::qualification::{EducationSegment, SettableQualification};
    let (p, other) = (PartnerId::new_random(), PartnerId::new_random());
    let customers = (0..4_000)
        .map(|_| CustomerFixture {
            id: qualify_core::CustomerId::new_random(),
            company: Default::default(),
            billing: Default::default(),
            gdap_roles: vec![],
            validation_status: None,
            qualifications: vec![QualificationFixture {
                qualification: SettableQualification::Education,
                education_segment: Some(EducationSegment::K12),
                website: None,
                validation_code: None,
                vetting_status: VettingStatus::InReview,
                vetting_reason: None,
                vetting_create_date: None,
            }],
        })
        .collect();
    let big = Fixture {
        partners: vec![PartnerFixture {
            id: p,
            validation_codes: vec![],
            customers,
            vetting: None,
            clock: None,
        }],
    };
    let policy = manual();
    let seed = store.apply_fixture(FixtureMode::Seed { record: None }, &big, at(0), &policy);
    let gave_up = tokio::time::timeout(std::time::Duration::from_millis(20), seed).await;
    assert!(gave_up.is_err(), "4,000 customers are not seeded in 20 ms");
    customer(store, other).await;
    assert!(
        store.snapshot(Scope::Partner(p)).await.unwrap().partners[0]
            .customers
            .is_empty(),
        "nothing of the abandoned seed was stored"
    );
}
