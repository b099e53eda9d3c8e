//! Qualification requests: the create (api.md 4.1), a reviewer's decision (api.md 6), and a
//! partner's read that counts for `afterReads` requests (control.md 3).

use crate::command::{Applied, Command, Owner, Planned};
use crate::customer::CompanyProfile;
use crate::effects::Stamp;
use crate::engine::{CreateSnapshot, DecideSnapshot, plan_create, plan_decide, plan_read};
use crate::error::DomainError;
use crate::ids::{CustomerId, PartnerId};
use crate::policy::VettingPolicy;
use crate::qualification::{QualificationRecord, SettableQualification, VettingDecision};
use crate::rules::QualificationRequest;

/// Records a qualification request by [`plan_create`]: the stateful rules, the qualification,
/// the GCC code use, the vetting job, the audit event and its webhook event.
#[derive(Debug, Clone)]
pub struct CreateQualification {
    pub partner: PartnerId,
    pub customer: CustomerId,
    pub request: QualificationRequest,
    pub policy: VettingPolicy,
}

impl Command for CreateQualification {
    /// The customer's company profile etag and domain, its requests, the partner's scenario,
    /// and what the request names (GDAP grant, validation code: locked).
    type Snapshot = CreateSnapshot;
    type Answer = QualificationRecord;

    fn owner(&self) -> Owner {
        Owner::Partner(self.partner)
    }

    fn plan(
        &self,
        snapshot: CreateSnapshot,
        stamp: Stamp<'_>,
    ) -> Result<Planned<QualificationRecord>, DomainError> {
        let plan = plan_create(
            self.partner,
            self.customer,
            &self.request,
            &snapshot,
            stamp,
            &self.policy,
        )?;
        Ok(Planned::new(
            plan.effects,
            plan.qualification.into_record(0),
        ))
    }

    fn complete(
        &self,
        answer: QualificationRecord,
        applied: Applied,
    ) -> Result<QualificationRecord, String> {
        let id = applied
            .inserted
            .ok_or("the create's qualification was not inserted")?;
        Ok(QualificationRecord { id, ..answer })
    }
}

/// A reviewer decides the customer's latest request for `qualification` by [`plan_decide`].
#[derive(Debug, Clone)]
pub struct Decide {
    pub customer: CustomerId,
    pub qualification: SettableQualification,
    pub if_match: String,
    pub decision: VettingDecision,
}

impl Command for Decide {
    /// The latest request (locked) and the company profile's etag.
    type Snapshot = DecideSnapshot;
    type Answer = QualificationRecord;

    fn owner(&self) -> Owner {
        Owner::OwnerOf(self.customer)
    }

    fn plan(
        &self,
        snapshot: DecideSnapshot,
        stamp: Stamp<'_>,
    ) -> Result<Planned<QualificationRecord>, DomainError> {
        let plan = plan_decide(
            self.qualification,
            &self.if_match,
            &self.decision,
            &snapshot,
            stamp,
        )?;
        Ok(Planned::new(plan.effects, plan.updated))
    }
}

/// A read that counted `afterReads` ([`CountReads`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CountedRead {
    pub owner: PartnerId,
    /// The customer's requests as the read shows them, oldest first.
    pub records: Vec<QualificationRecord>,
    /// The ids of the requests this read decided.
    pub decided: Vec<i64>,
}

/// What a counted read loads: the customer's owner, its requests and its company profile.
#[derive(Debug, Clone, Default)]
pub struct ReadSnapshot {
    pub owner: Option<PartnerId>,
    pub records: Vec<QualificationRecord>,
    pub company: Option<(CompanyProfile, String)>,
}

/// A read by the customer's partner that counts for its `afterReads` requests — all of them,
/// or only the request `only` (the legacy read shows one) — by [`plan_read`]: the read that
/// completes a rule's count applies its outcome and is the first to show it.
#[derive(Debug, Clone)]
pub struct CountReads {
    pub customer: CustomerId,
    pub policy: VettingPolicy,
    pub only: Option<i64>,
}

impl Command for CountReads {
    type Snapshot = ReadSnapshot;
    /// `None` when the customer does not exist.
    type Answer = Option<CountedRead>;

    fn owner(&self) -> Owner {
        Owner::OwnerOf(self.customer)
    }

    fn plan(
        &self,
        snapshot: ReadSnapshot,
        stamp: Stamp<'_>,
    ) -> Result<Planned<Option<CountedRead>>, DomainError> {
        let Some(owner) = snapshot.owner else {
            return Ok(Planned::answer(None));
        };
        let (counted, others): (Vec<_>, Vec<_>) = snapshot
            .records
            .into_iter()
            .partition(|q| self.only.is_none_or(|id| id == q.id));
        let waiting: Vec<i64> = counted
            .iter()
            .filter(|q| !q.vetting_status.is_terminal())
            .map(|q| q.id)
            .collect();
        let (shown, effects) =
            plan_read(counted, snapshot.company.as_ref(), &self.policy, stamp.at)?;
        let mut records: Vec<QualificationRecord> = shown.into_iter().chain(others).collect();
        records.sort_by_key(|q| q.id);
        let decided = records
            .iter()
            .filter(|q| waiting.contains(&q.id) && q.vetting_status.is_terminal())
            .map(|q| q.id)
            .collect();
        Ok(Planned::new(
            effects,
            Some(CountedRead {
                owner,
                records,
                decided,
            }),
        ))
    }
}
