//! Rules decide, stores apply. Each stateful operation on qualification requests is a pure
//! function here, over a snapshot of the state it reads, that returns the effects to write
//! (insert a qualification, spend a GCC code use, decide a qualification, enqueue a job, an
//! audit event). A store loads and locks the snapshot inside its transaction, calls the plan,
//! and applies the effects in the same transaction; it never decides anything itself, so each
//! rule and each message exists once. The commands that run these plans are in
//! [`crate::commands`]; the effects and shared types in [`crate::effects`].

use time::OffsetDateTime;

use crate::customer::CompanyProfile;
use crate::error::{DomainError, ErrorKind};
use crate::ids::{CustomerId, PartnerId};
use crate::jobs::{Job, JobFinish, NewJob, Vetting, VettingPayload};
use crate::policy::{PolicyOutcome, VettingPolicy};
use crate::qualification::{
    DecisionStatus, QualificationRecord, SettableQualification, Transition, VettingDecision,
    VettingStatus, transition,
};
use crate::rules::{QualificationRequest, check_against_existing, check_validation_code};
use crate::scenario::{Outcome, RequestFacts, Scenario, VettingChoice, choose};
use crate::validation::{GdapGrant, ValidationCode};
use crate::webhooks::Event;

pub use crate::effects::{
    AuditEntry, Counts, Effect, NewQualification, POLICY_ACTOR, QualificationRef, SCENARIO_ACTOR,
    Scope, Signals, Stamp, new_etag,
};

// ---- create ---------------------------------------------------------------------------------

/// What a create has to read, beyond the customer and its qualifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateReads<'a> {
    /// The GDAP grant of (partner, customer).
    pub gdap: bool,
    /// The validation code with this id (locked: it may be spent).
    pub code: Option<&'a str>,
}

impl<'a> CreateReads<'a> {
    pub fn of(request: &'a QualificationRequest) -> Self {
        Self {
            gdap: request.qualification == SettableQualification::GovernmentCommunityCloud,
            code: request.validation_code.as_deref(),
        }
    }
}

/// What a create reads, loaded (and locked) by the store inside its transaction.
#[derive(Debug, Clone, Default)]
pub struct CreateSnapshot {
    /// The etag of the customer's company profile; `None` when the customer does not exist.
    pub company_etag: Option<String>,
    /// The company profile's domain (scenario rules and test values read it).
    pub company_domain: Option<String>,
    pub gdap: Option<GdapGrant>,
    /// The customer's qualification requests, oldest first.
    pub existing: Vec<QualificationRecord>,
    pub code: Option<ValidationCode>,
    /// The partner's vetting scenario.
    pub scenario: Option<Scenario>,
}

#[derive(Debug, Clone)]
pub struct CreatePlan {
    /// The request as it will be stored (the id comes from the insert).
    pub qualification: NewQualification,
    pub effects: Vec<Effect>,
}

fn gcc_forbidden() -> DomainError {
    DomainError::new(
        ErrorKind::Forbidden,
        "GovernmentCommunityCloud requires one of the GDAP roles Directory Reader, Directory Writer, \
         License Administrator or User Administrator over this customer.",
    )
}

/// Records a qualification request (api.md 4.1): the customer must exist, GCC needs a GDAP
/// role and one of the partner's codes with creates left, and the customer's existing requests
/// must allow it. Its outcome is chosen now (test values, then the partner's scenario, else the
/// server's policy; control.md 3). Effects: the qualification, the code use, the vetting job
/// (due after the chosen delay; none for an `afterReads` choice: reads decide), the audit event
/// (naming the rule).
pub fn plan_create(
    partner: PartnerId,
    customer: CustomerId,
    request: &QualificationRequest,
    snapshot: &CreateSnapshot,
    stamp: Stamp<'_>,
    policy: &VettingPolicy,
) -> Result<CreatePlan, DomainError> {
    let profile_etag = snapshot
        .company_etag
        .clone()
        .ok_or_else(|| DomainError::new(ErrorKind::NotFound, "The customer was not found."))?;
    if request.qualification == SettableQualification::GovernmentCommunityCloud
        && !snapshot.gdap.as_ref().is_some_and(GdapGrant::allows_gcc)
    {
        return Err(gcc_forbidden());
    }
    check_against_existing(request, &snapshot.existing)?;
    let mut effects = Vec::with_capacity(4);
    if let Some(code) = &request.validation_code {
        check_validation_code(partner, snapshot.code.as_ref())?;
        effects.push(Effect::SpendValidationCode {
            validation_id: code.clone(),
            etag: new_etag(),
        });
    }
    let choice = choose(
        snapshot.scenario.as_ref(),
        policy.test_values,
        &RequestFacts {
            customer_id: customer,
            qualification: request.qualification,
            education_segment: request.education_segment,
            website: request.website.as_deref(),
            domain: snapshot.company_domain.as_deref(),
        },
    );
    let qualification = NewQualification {
        customer_id: customer,
        partner_id: partner,
        qualification: request.qualification,
        vetting_status: VettingStatus::InReview,
        vetting_reason: None,
        vetting_create_date: stamp.at,
        education_segment: request.education_segment,
        website: request.website.clone(),
        validation_code: request.validation_code.clone(),
        etag: new_etag(),
        choice,
    };
    effects.insert(0, Effect::InsertQualification(qualification.clone()));
    effects.extend(recorded_effects(
        &qualification,
        QualificationRef::Inserted,
        stamp,
        policy,
        Some(profile_etag),
    ));
    emit_transitions(&mut effects);
    Ok(CreatePlan {
        qualification,
        effects,
    })
}

/// What follows the recording of an InReview request: its vetting job (unless reads decide) and
/// its audit event, which names the rule or test value that chose its outcome.
pub(crate) fn recorded_effects(
    q: &NewQualification,
    target: QualificationRef,
    stamp: Stamp<'_>,
    policy: &VettingPolicy,
    profile_etag: Option<String>,
) -> Vec<Effect> {
    let delay = match &q.choice {
        Some(choice) => choice.delay(),
        None => Some(policy.delay),
    };
    let mut effects = Vec::with_capacity(2);
    if let (Some(delay), VettingStatus::InReview) = (delay, q.vetting_status) {
        effects.push(Effect::Enqueue {
            job: NewJob::of::<Vetting>(
                q.partner_id,
                &VettingPayload {},
                q.vetting_create_date + delay,
            ),
            subject: Some(target),
        });
    }
    effects.push(Effect::Audit(AuditEntry {
        qualification: target,
        customer_id: q.customer_id,
        partner_id: q.partner_id,
        kind: q.qualification,
        at: stamp.at,
        actor: stamp.actor.to_owned(),
        from: None,
        to: q.vetting_status,
        reason: q
            .choice
            .as_ref()
            .map(VettingChoice::label)
            .or_else(|| q.vetting_reason.clone()),
        request_id: stamp.ids.map(|i| i.0.to_owned()),
        correlation_id: stamp.ids.map(|i| i.1.to_owned()),
        profile_etag,
    }));
    effects
}

/// The webhook event of a transition's audit event.
fn transition_event(a: &AuditEntry) -> Event {
    Event::transition(a.partner_id, a.customer_id, a.kind, a.from.is_none(), a.at)
}

/// Adds the webhook event of every transition among `effects` (its audit event), right after
/// it: a create and a decision emit exactly one each; seeds and restores do not call this.
fn emit_transitions(effects: &mut Vec<Effect>) {
    let events: Vec<(usize, (Event, QualificationRef))> = effects
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Effect::Audit(a) => Some((i, (transition_event(a), a.qualification))),
            _ => None,
        })
        .collect();
    for (i, (event, subject)) in events.into_iter().rev() {
        effects.insert(i + 1, Effect::Emit { event, subject });
    }
}

// ---- decisions ------------------------------------------------------------------------------

/// The effects of deciding `q` (InReview) and the record as it will be. `None` when the same
/// decision was applied already.
fn decision_effects(
    q: &QualificationRecord,
    decision: &VettingDecision,
    stamp: Stamp<'_>,
    profile_etag: Option<&str>,
) -> Result<Option<(QualificationRecord, Vec<Effect>)>, DomainError> {
    let Transition::Decide { from, to } = transition(q.vetting_status, decision)? else {
        return Ok(None);
    };
    let etag = new_etag();
    let audit = AuditEntry {
        qualification: QualificationRef::Existing(q.id),
        customer_id: q.customer_id,
        partner_id: q.partner_id,
        kind: q.qualification,
        at: stamp.at,
        actor: stamp.actor.to_owned(),
        from: Some(from),
        to,
        reason: decision.reason.clone(),
        request_id: stamp.ids.map(|i| i.0.to_owned()),
        correlation_id: stamp.ids.map(|i| i.1.to_owned()),
        profile_etag: profile_etag.map(str::to_owned),
    };
    let updated = QualificationRecord {
        vetting_status: to,
        vetting_reason: decision.reason.clone(),
        etag: etag.clone(),
        ..q.clone()
    };
    let mut effects = vec![Effect::DecideQualification {
        id: q.id,
        to,
        reason: decision.reason.clone(),
        etag,
        at: stamp.at,
    }];
    effects.push(Effect::Emit {
        event: transition_event(&audit),
        subject: audit.qualification,
    });
    effects.insert(1, Effect::Audit(audit));
    Ok(Some((updated, effects)))
}

/// What a reviewer's decision reads: the customer's latest request for the qualification
/// (locked) and the etag of its company profile.
#[derive(Debug, Clone, Default)]
pub struct DecideSnapshot {
    pub latest: Option<QualificationRecord>,
    pub company_etag: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DecidePlan {
    pub updated: QualificationRecord,
    pub effects: Vec<Effect>,
}

/// A reviewer decides the customer's latest request for `qualification`: 404 when there is
/// none, 409 when it is no longer InReview, 412 when `if_match` is not its etag.
pub fn plan_decide(
    qualification: SettableQualification,
    if_match: &str,
    decision: &VettingDecision,
    snapshot: &DecideSnapshot,
    stamp: Stamp<'_>,
) -> Result<DecidePlan, DomainError> {
    let current = snapshot.latest.as_ref().ok_or_else(|| {
        DomainError::new(
            ErrorKind::NotFound,
            format!("The customer has no {qualification} qualification request."),
        )
    })?;
    if current.vetting_status.is_terminal() {
        return Err(DomainError::new(
            ErrorKind::AlreadyDecided,
            format!(
                "The {qualification} qualification is already {}; terminal states never change.",
                current.vetting_status
            ),
        ));
    }
    if current.etag != if_match {
        return Err(ErrorKind::PreconditionFailed.into());
    }
    let (updated, effects) =
        decision_effects(current, decision, stamp, snapshot.company_etag.as_deref())?
            .ok_or_else(|| DomainError::of(ErrorKind::AlreadyDecided))?;
    Ok(DecidePlan { updated, effects })
}

// ---- the vetting job ------------------------------------------------------------------------

/// What a vetting job reads when it runs: its qualification as it is now (locked; `None` when a
/// reset removed it) and the customer's company profile.
#[derive(Debug, Clone, Default)]
pub struct VettingSnapshot {
    pub qualification: Option<QualificationRecord>,
    pub company: Option<(CompanyProfile, String)>,
}

#[derive(Debug, Clone)]
pub struct VettingPlan {
    pub effects: Vec<Effect>,
    pub finish: JobFinish,
}

/// What decides an InReview request now: the outcome chosen when it was recorded, else the
/// server's `--vetting` mode. `None`: it waits for a reviewer.
fn decision_now(
    q: &QualificationRecord,
    company: &CompanyProfile,
    policy: &VettingPolicy,
) -> Option<(VettingDecision, &'static str)> {
    let decided = |status, reason: Option<&String>| {
        Some((
            VettingDecision {
                status,
                reason: reason.cloned(),
            },
            SCENARIO_ACTOR,
        ))
    };
    let by_policy = |o| match o {
        PolicyOutcome::Decide(d) => Some((d, POLICY_ACTOR)),
        PolicyOutcome::AwaitReviewer => None,
    };
    match q.choice.as_ref().map(|c| &c.outcome) {
        None => by_policy(policy.evaluate(q, company)),
        Some(Outcome::Approved) => decided(DecisionStatus::Approved, None),
        Some(Outcome::Denied { reason }) => decided(DecisionStatus::Denied, Some(reason)),
        Some(Outcome::Auto) => by_policy(policy.built_in_rules(q, company)),
        Some(Outcome::Manual) => None,
    }
}

/// Runs a due vetting job at the partner's time `now`: the chosen outcome or the policy
/// decides, unless a reviewer (or an earlier run of the same job) decided already. Running it
/// twice has the effect of running it once.
pub fn plan_vetting(
    _job: &Job,
    snapshot: &VettingSnapshot,
    policy: &VettingPolicy,
    now: OffsetDateTime,
) -> Result<VettingPlan, DomainError> {
    let done = |finish| {
        Ok(VettingPlan {
            effects: vec![],
            finish,
        })
    };
    let (Some(q), Some((company, company_etag))) = (&snapshot.qualification, &snapshot.company)
    else {
        return done(JobFinish::SubjectGone);
    };
    if q.vetting_status.is_terminal() {
        return done(JobFinish::NoChange(q.vetting_status));
    }
    let Some((decision, actor)) = decision_now(q, company, policy) else {
        return done(JobFinish::LeftForReviewer);
    };
    let stamp = Stamp {
        at: now,
        actor,
        ids: None,
    };
    match decision_effects(q, &decision, stamp, Some(company_etag))? {
        Some((updated, effects)) => Ok(VettingPlan {
            effects,
            finish: JobFinish::Decided(updated.qualification, updated.vetting_status),
        }),
        None => done(JobFinish::NoChange(q.vetting_status)),
    }
}

// ---- reads that decide (afterReads) ---------------------------------------------------------

/// Whether a read of these requests has to be counted (one of them waits for `afterReads`).
pub fn reads_count(records: &[QualificationRecord]) -> bool {
    records.iter().any(waits_for_reads)
}

fn waits_for_reads(q: &QualificationRecord) -> bool {
    q.vetting_status == VettingStatus::InReview
        && q.choice.as_ref().is_some_and(|c| c.after_reads.is_some())
}

/// What a read by the partner of `records` (the requests the read includes) does: each
/// InReview request chosen with `afterReads: N` counts the read, and the N-th read applies its
/// outcome, so that this read is the first to show the decision. Returns the records as the
/// read shows them, and the effects.
pub fn plan_read(
    records: Vec<QualificationRecord>,
    company: Option<&(CompanyProfile, String)>,
    policy: &VettingPolicy,
    now: OffsetDateTime,
) -> Result<(Vec<QualificationRecord>, Vec<Effect>), DomainError> {
    let mut effects = vec![];
    let mut shown = Vec::with_capacity(records.len());
    for mut q in records {
        let Some(needed) = q
            .choice
            .as_ref()
            .and_then(|c| c.after_reads)
            .filter(|_| waits_for_reads(&q))
        else {
            shown.push(q);
            continue;
        };
        q.reads += 1;
        effects.push(Effect::CountRead {
            id: q.id,
            reads: q.reads,
        });
        if q.reads >= needed
            && let Some((company, etag)) = company
            && let Some((decision, actor)) = decision_now(&q, company, policy)
        {
            let stamp = Stamp {
                at: now,
                actor,
                ids: None,
            };
            if let Some((updated, decided)) = decision_effects(&q, &decision, stamp, Some(etag))? {
                effects.extend(decided);
                q = updated;
            }
        }
        shown.push(q);
    }
    Ok((shown, effects))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::VettingMode;
    use crate::qualification::{DecisionStatus, EducationSegment};
    use crate::rules::Contract;
    use crate::time_fmt::from_millis;
    use crate::validation::GdapRole;

    const P: PartnerId = PartnerId(uuid::Uuid::from_u128(1));
    const C: CustomerId = CustomerId(uuid::Uuid::from_u128(2));

    fn stamp() -> Stamp<'static> {
        Stamp {
            at: from_millis(1_000),
            actor: "tester",
            ids: Some(("req", "corr")),
        }
    }

    fn request(q: SettableQualification, code: Option<&str>) -> QualificationRequest {
        QualificationRequest::new(
            q,
            Some(EducationSegment::K12),
            Some("contoso.edu".into()),
            code.map(str::to_owned),
            Contract::Current,
        )
        .unwrap()
    }

    fn delayed(ms: u64) -> VettingPolicy {
        VettingPolicy {
            delay: std::time::Duration::from_millis(ms),
            ..Default::default()
        }
    }

    fn snapshot() -> CreateSnapshot {
        CreateSnapshot {
            company_etag: Some("profile-1".into()),
            ..Default::default()
        }
    }

    fn record(id: i64, q: SettableQualification, s: VettingStatus) -> QualificationRecord {
        NewQualification {
            customer_id: C,
            partner_id: P,
            qualification: q,
            vetting_status: s,
            vetting_reason: None,
            vetting_create_date: from_millis(0),
            education_segment: None,
            website: None,
            validation_code: None,
            etag: format!("etag-{id}"),
            choice: None,
        }
        .into_record(id)
    }

    fn code(remaining: i64) -> ValidationCode {
        ValidationCode {
            partner_id: P,
            organization_name: "Gov".into(),
            validation_id: "123".into(),
            max_creates: 3,
            remaining_creates: remaining,
            etag: "e".into(),
        }
    }

    #[test]
    fn a_create_inserts_enqueues_and_audits_in_that_order() {
        let r = request(SettableQualification::Education, None);
        let plan = plan_create(P, C, &r, &snapshot(), stamp(), &delayed(5_000)).unwrap();
        assert_eq!(plan.qualification.vetting_create_date, from_millis(1_000));
        assert!(matches!(plan.effects[0], Effect::InsertQualification(_)));
        let Effect::Enqueue { job, subject } = &plan.effects[1] else {
            panic!("{:?}", plan.effects)
        };
        assert_eq!(
            (job.kind.as_str(), job.run_at, *subject),
            (
                "vetting",
                from_millis(6_000),
                Some(QualificationRef::Inserted)
            ),
            "due at vettingCreateDate + --vetting-delay"
        );
        let Effect::Audit(audit) = &plan.effects[2] else {
            panic!()
        };
        assert_eq!(
            (audit.from, audit.to, audit.profile_etag.as_deref()),
            (None, VettingStatus::InReview, Some("profile-1"))
        );
        assert_eq!(audit.request_id.as_deref(), Some("req"));
        // Exactly one webhook event, in the same plan (events.md 2).
        let Effect::Emit { event, subject } = &plan.effects[3] else {
            panic!("{:?}", plan.effects)
        };
        assert_eq!(
            (
                event.event_name,
                event.customer_id,
                *subject,
                event.changed_at
            ),
            (
                crate::webhooks::EventName::QualificationCreated,
                Some(C),
                QualificationRef::Inserted,
                audit.at
            )
        );
        assert_eq!(plan.effects.len(), 4);
    }

    #[test]
    fn gcc_needs_a_role_and_a_code_with_creates_left_and_spends_one() {
        let r = request(SettableQualification::GovernmentCommunityCloud, Some("123"));
        let err = |s: &CreateSnapshot| {
            plan_create(P, C, &r, s, stamp(), &delayed(0))
                .unwrap_err()
                .kind
        };
        assert_eq!(err(&snapshot()), ErrorKind::Forbidden);
        let grant = GdapGrant {
            partner_id: P,
            customer_id: C,
            roles: vec![GdapRole::DirectoryReader],
            updated_at: from_millis(0),
        };
        let with_role = CreateSnapshot {
            gdap: Some(grant),
            ..snapshot()
        };
        assert_eq!(err(&with_role), ErrorKind::ValidationCodeInvalid);
        let exhausted = CreateSnapshot {
            code: Some(code(0)),
            ..with_role.clone()
        };
        assert_eq!(err(&exhausted), ErrorKind::ValidationCodeExhausted);
        let ok = CreateSnapshot {
            code: Some(code(1)),
            ..with_role
        };
        let plan = plan_create(P, C, &r, &ok, stamp(), &delayed(0)).unwrap();
        assert!(plan.effects.iter().any(|e| matches!(
            e,
            Effect::SpendValidationCode { validation_id, .. } if validation_id == "123"
        )));
        assert_eq!(
            CreateReads::of(&r),
            CreateReads {
                gdap: true,
                code: Some("123")
            }
        );
    }

    #[test]
    fn a_create_for_a_missing_customer_or_against_existing_requests_is_refused() {
        let r = request(SettableQualification::Education, None);
        let missing = CreateSnapshot::default();
        assert_eq!(
            plan_create(P, C, &r, &missing, stamp(), &delayed(0))
                .unwrap_err()
                .kind,
            ErrorKind::NotFound
        );
        let taken = CreateSnapshot {
            existing: vec![record(
                1,
                SettableQualification::Education,
                VettingStatus::InReview,
            )],
            ..snapshot()
        };
        assert_eq!(
            plan_create(P, C, &r, &taken, stamp(), &delayed(0))
                .unwrap_err()
                .kind,
            ErrorKind::QualificationExists
        );
    }

    fn deny() -> VettingDecision {
        VettingDecision {
            status: DecisionStatus::Denied,
            reason: Some("Not an Education Customer".into()),
        }
    }

    #[test]
    fn a_decision_checks_existence_state_then_etag() {
        let q = SettableQualification::Education;
        let plan = |s: &DecideSnapshot, etag: &str| plan_decide(q, etag, &deny(), s, stamp());
        assert_eq!(
            plan(&DecideSnapshot::default(), "x").unwrap_err().kind,
            ErrorKind::NotFound
        );
        let decided = DecideSnapshot {
            latest: Some(record(1, q, VettingStatus::Approved)),
            company_etag: Some("p".into()),
        };
        assert_eq!(
            plan(&decided, "etag-1").unwrap_err().kind,
            ErrorKind::AlreadyDecided
        );
        let open = DecideSnapshot {
            latest: Some(record(1, q, VettingStatus::InReview)),
            company_etag: Some("p".into()),
        };
        assert_eq!(
            plan(&open, "stale").unwrap_err().kind,
            ErrorKind::PreconditionFailed
        );
        let ok = plan(&open, "etag-1").unwrap();
        assert_eq!(ok.updated.vetting_status, VettingStatus::Denied);
        assert_ne!(ok.updated.etag, "etag-1");
        assert!(matches!(
            &ok.effects[1],
            Effect::Audit(AuditEntry { actor, from: Some(VettingStatus::InReview), to: VettingStatus::Denied, .. }) if actor == "tester"
        ));
    }

    fn job() -> Job {
        Job {
            id: 7,
            kind: crate::jobs::JobKind::of::<Vetting>(),
            partner: P,
            qualification_id: Some(1),
            payload: serde_json::json!({}),
            run_at: from_millis(0),
            attempts: 1,
            last_error: None,
        }
    }

    fn company(domain: &str) -> (CompanyProfile, String) {
        (
            CompanyProfile {
                domain: Some(domain.into()),
                company_name: None,
                email: None,
                address: None,
                organization_registration_number: None,
            },
            "profile-9".into(),
        )
    }

    #[test]
    fn a_vetting_job_decides_once_and_leaves_decided_or_removed_requests_alone() {
        let auto = VettingPolicy {
            mode: VettingMode::Auto,
            ..Default::default()
        };
        let edu = SettableQualification::Education;
        let open = VettingSnapshot {
            qualification: Some(record(1, edu, VettingStatus::InReview)),
            company: Some(company("contoso.com")),
        };
        let plan = plan_vetting(&job(), &open, &auto, from_millis(9)).unwrap();
        assert_eq!(plan.finish, JobFinish::Decided(edu, VettingStatus::Denied));
        let Effect::Audit(a) = &plan.effects[1] else {
            panic!()
        };
        assert!(
            matches!(&plan.effects[2], Effect::Emit { event, .. }
                if event.event_name == crate::webhooks::EventName::QualificationUpdated),
            "a decision emits its event: {:?}",
            plan.effects
        );
        assert_eq!(plan.effects.len(), 3);
        assert_eq!(
            (a.actor.as_str(), a.profile_etag.as_deref(), a.at),
            (POLICY_ACTOR, Some("profile-9"), from_millis(9))
        );
        let manual = VettingPolicy::default();
        assert_eq!(
            plan_vetting(&job(), &open, &manual, from_millis(9))
                .unwrap()
                .finish,
            JobFinish::LeftForReviewer
        );
        let decided = VettingSnapshot {
            qualification: Some(record(1, edu, VettingStatus::Approved)),
            ..open.clone()
        };
        let plan = plan_vetting(&job(), &decided, &auto, from_millis(9)).unwrap();
        assert_eq!(
            (plan.finish, plan.effects.len()),
            (JobFinish::NoChange(VettingStatus::Approved), 0)
        );
        let gone = VettingSnapshot::default();
        assert_eq!(
            plan_vetting(&job(), &gone, &auto, from_millis(9))
                .unwrap()
                .finish,
            JobFinish::SubjectGone
        );
    }
}
