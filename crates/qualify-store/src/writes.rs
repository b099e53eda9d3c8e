//! Every write of the store, once, for every backend: each is a command of
//! `qualify_core::commands` run through the backend's pipeline (`Executes`), which loads the
//! command's snapshot with the backend's SQL (`Load`). A backend implements its reads, its
//! loads and its effects; nothing here knows SQL.

use async_trait::async_trait;
use qualify_core::clock::{ClockChange, ClockPlan};
use qualify_core::commands::control::{
    ApplyFixture, ChangeClock, FixtureMode, FixtureOutcome, SetScenario,
};
use qualify_core::commands::customers::{
    CreateCustomer, IssueValidationCode, SetGdap, SetValidationStatus, UpdateBillingProfile,
};
use qualify_core::commands::faults::{AddFault, ClearFaults, HitFaults, RemoveFault};
use qualify_core::commands::qualifications::{
    CountReads, CountedRead, CreateQualification, Decide,
};
use qualify_core::commands::queue::{CompleteJob, EnqueueJob, FailJob, RunVettingJob};
use qualify_core::commands::webhooks::{
    DeleteRegistration, FinishAttempt, KeepSigningKey, PutRegistration, Redeliver,
};
use qualify_core::customer::{BillingProfile, Customer, NewCustomer};
use qualify_core::engine::Scope;
use qualify_core::faults::{Fault, FaultHit, FaultSpec};
use qualify_core::fixture::Fixture;
use qualify_core::jobs::{AfterFailure, Job, JobFinish, NewJob};
use qualify_core::policy::VettingPolicy;
use qualify_core::qualification::{QualificationRecord, SettableQualification, VettingDecision};
use qualify_core::rules::QualificationRequest;
use qualify_core::scenario::Scenario;
use qualify_core::validation::{
    AccountStatus, GdapGrant, GdapRole, ValidationCode, ValidationStatus,
};
use qualify_core::webhooks::{Attempt, Registration, SigningKey, Verdict};
use qualify_core::{CustomerId, PartnerId};
use time::OffsetDateTime;

use crate::error::StoreResult;
use crate::model::{Delivery, DeliveryRef, Idempotent, WriteContext};
use crate::pipeline::{Executes, Load, Run};
use crate::traits::{
    ControlReads, ControlStore, CustomerReads, CustomerStore, FaultReads, FaultStore, QueueReads,
    QueueStore, ReviewReads, ReviewStore, WebhookReads, WebhookStore,
};

#[async_trait]
impl<B> CustomerStore for B
where
    B: CustomerReads
        + Executes
        + Load<CreateCustomer>
        + Load<UpdateBillingProfile>
        + Load<CreateQualification>
        + Load<CountReads>
        + Load<IssueValidationCode>
        + Load<SetValidationStatus>
        + Load<SetGdap>,
{
    async fn create_customer(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        new: NewCustomer,
        default_gdap_roles: &[GdapRole],
    ) -> StoreResult<Idempotent<Customer>> {
        let command = CreateCustomer {
            partner,
            new,
            default_gdap_roles: default_gdap_roles.to_vec(),
        };
        self.execute_idempotent(Run::request(ctx), command).await
    }

    async fn update_billing_profile(
        &self,
        ctx: &WriteContext,
        customer: CustomerId,
        if_match: &str,
        profile: BillingProfile,
    ) -> StoreResult<Idempotent<Customer>> {
        let command = UpdateBillingProfile {
            customer,
            if_match: if_match.to_owned(),
            profile,
        };
        self.execute_idempotent(Run::request(ctx), command).await
    }

    async fn create_qualification(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        customer: CustomerId,
        request: QualificationRequest,
        policy: &VettingPolicy,
    ) -> StoreResult<Idempotent<QualificationRecord>> {
        let command = CreateQualification {
            partner,
            customer,
            request,
            policy: policy.clone(),
        };
        self.execute_idempotent(Run::request(ctx), command).await
    }

    async fn count_reads(
        &self,
        customer: CustomerId,
        wall: OffsetDateTime,
        policy: &VettingPolicy,
        only: Option<i64>,
    ) -> StoreResult<Option<CountedRead>> {
        let command = CountReads {
            customer,
            policy: policy.clone(),
            only,
        };
        self.execute(Run::system(wall), command).await
    }

    async fn issue_validation_code(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        organization_name: &str,
        max_creates: i64,
    ) -> StoreResult<ValidationCode> {
        let command = IssueValidationCode {
            partner,
            organization_name: organization_name.to_owned(),
            max_creates,
        };
        self.execute(Run::request(ctx), command).await
    }

    async fn set_validation_status(
        &self,
        ctx: &WriteContext,
        customer: CustomerId,
        status: AccountStatus,
    ) -> StoreResult<ValidationStatus> {
        let command = SetValidationStatus { customer, status };
        self.execute(Run::request(ctx), command).await
    }

    async fn set_gdap_grant(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        customer: CustomerId,
        roles: &[GdapRole],
    ) -> StoreResult<GdapGrant> {
        let command = SetGdap {
            partner,
            customer,
            roles: roles.to_vec(),
        };
        self.execute(Run::request(ctx), command).await
    }
}

#[async_trait]
impl<B> ReviewStore for B
where
    B: ReviewReads + Executes + Load<Decide>,
{
    async fn decide(
        &self,
        ctx: &WriteContext,
        customer: CustomerId,
        qualification: SettableQualification,
        if_match: &str,
        decision: &VettingDecision,
    ) -> StoreResult<QualificationRecord> {
        let command = Decide {
            customer,
            qualification,
            if_match: if_match.to_owned(),
            decision: decision.clone(),
        };
        self.execute(Run::request(ctx), command).await
    }
}

#[async_trait]
impl<B> QueueStore for B
where
    B: QueueReads
        + Executes
        + Load<EnqueueJob>
        + Load<RunVettingJob>
        + Load<CompleteJob>
        + Load<FailJob>,
{
    async fn enqueue_job(&self, job: NewJob, qualification: Option<i64>) -> StoreResult<()> {
        let command = EnqueueJob {
            job,
            subject: qualification,
        };
        self.execute(Run::system(OffsetDateTime::now_utc()), command)
            .await
    }

    async fn run_vetting_job(
        &self,
        job: &Job,
        owner: &str,
        now: OffsetDateTime,
        policy: &VettingPolicy,
    ) -> StoreResult<JobFinish> {
        let command = RunVettingJob {
            job: job.clone(),
            owner: owner.to_owned(),
            policy: policy.clone(),
        };
        self.execute(Run::at(now), command).await
    }

    async fn complete_job(
        &self,
        job: &Job,
        owner: &str,
        now: OffsetDateTime,
        finish: &JobFinish,
    ) -> StoreResult<bool> {
        let command = CompleteJob {
            job: job.id,
            owner: owner.to_owned(),
            finish: finish.clone(),
        };
        self.execute(Run::at(now), command).await
    }

    async fn fail_job(
        &self,
        job: &Job,
        owner: &str,
        now: OffsetDateTime,
        error: &str,
        after: AfterFailure,
    ) -> StoreResult<bool> {
        let command = FailJob {
            job: job.id,
            owner: owner.to_owned(),
            error: error.to_owned(),
            after,
        };
        self.execute(Run::at(now), command).await
    }
}

#[async_trait]
impl<B> ControlStore for B
where
    B: ControlReads + Executes + Load<ChangeClock> + Load<SetScenario> + Load<ApplyFixture>,
{
    async fn change_clock(
        &self,
        scope: Scope,
        wall: OffsetDateTime,
        change: ClockChange,
    ) -> StoreResult<ClockPlan> {
        self.execute(Run::system(wall), ChangeClock { scope, change })
            .await
    }

    async fn plan_clock_change(
        &self,
        scope: Scope,
        wall: OffsetDateTime,
        change: ClockChange,
    ) -> StoreResult<ClockPlan> {
        Ok(self.clock_state(scope).await?.plan(scope, wall, change)?)
    }

    async fn set_scenario(
        &self,
        partner: PartnerId,
        scenario: Option<(Scenario, serde_json::Value)>,
    ) -> StoreResult<()> {
        let command = SetScenario { partner, scenario };
        self.execute(Run::system(OffsetDateTime::now_utc()), command)
            .await
    }

    async fn snapshot(&self, scope: Scope) -> StoreResult<Fixture> {
        let state = self.scope_state(scope).await?;
        Ok(qualify_core::snapshot::document(
            scope,
            &state.rows,
            state.scenarios,
            state.clocks,
        ))
    }

    async fn apply_fixture(
        &self,
        mode: FixtureMode,
        fixture: &Fixture,
        wall: OffsetDateTime,
        policy: &VettingPolicy,
    ) -> StoreResult<FixtureOutcome> {
        let command = ApplyFixture {
            mode,
            fixture: fixture.clone(),
            policy: policy.clone(),
        };
        self.execute(Run::system(wall), command).await
    }
}

#[async_trait]
impl<B> FaultStore for B
where
    B: FaultReads
        + Executes
        + Load<AddFault>
        + Load<RemoveFault>
        + Load<ClearFaults>
        + Load<HitFaults>,
{
    async fn add_fault(
        &self,
        id: &str,
        spec: &FaultSpec,
        now: OffsetDateTime,
    ) -> StoreResult<Fault> {
        let command = AddFault {
            id: id.to_owned(),
            spec: spec.clone(),
        };
        self.execute(Run::system(now), command).await
    }

    async fn remove_fault(&self, id: &str) -> StoreResult<bool> {
        let command = RemoveFault { id: id.to_owned() };
        self.execute(Run::system(OffsetDateTime::now_utc()), command)
            .await
    }

    async fn clear_faults(&self, partner: Option<PartnerId>) -> StoreResult<u64> {
        self.execute(
            Run::system(OffsetDateTime::now_utc()),
            ClearFaults { partner },
        )
        .await
    }

    async fn hit_faults(&self, ids: &[String]) -> StoreResult<Option<FaultHit>> {
        let command = HitFaults { ids: ids.to_vec() };
        self.execute(Run::system(OffsetDateTime::now_utc()), command)
            .await
    }
}

#[async_trait]
impl<B> WebhookStore for B
where
    B: WebhookReads
        + Executes
        + Load<PutRegistration>
        + Load<DeleteRegistration>
        + Load<KeepSigningKey>
        + Load<FinishAttempt>
        + Load<Redeliver>,
{
    async fn put_webhook_registration(
        &self,
        registration: &Registration,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let command = PutRegistration {
            registration: registration.clone(),
        };
        self.execute(Run::system(now), command).await
    }

    async fn delete_webhook_registration(
        &self,
        partner: PartnerId,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        self.execute(Run::system(now), DeleteRegistration { partner })
            .await
    }

    async fn signing_key(&self, key: Option<SigningKey>) -> StoreResult<Option<SigningKey>> {
        let command = KeepSigningKey { offered: key };
        self.execute(Run::system(OffsetDateTime::now_utc()), command)
            .await
    }

    async fn finish_attempt(
        &self,
        job: &Job,
        owner: &str,
        attempt: &Attempt,
        verdict: Verdict,
    ) -> StoreResult<bool> {
        let command = FinishAttempt {
            job: job.id,
            partner: job.partner,
            owner: owner.to_owned(),
            attempt: attempt.clone(),
            verdict,
        };
        self.execute(Run::at(attempt.at), command).await
    }

    async fn redeliver(&self, id: i64, now: OffsetDateTime) -> StoreResult<Option<Delivery>> {
        if !self.execute(Run::at(now), Redeliver { id }).await? {
            return Ok(None);
        }
        self.delivery(DeliveryRef::Id(id)).await
    }
}
