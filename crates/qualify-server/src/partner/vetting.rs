//! The vetting job of a qualification request: the policy decides, in the store's transaction
//! ([`qualify_core::engine::plan_vetting`]).

use async_trait::async_trait;
use qualify_core::jobs::{Job, JobFinish, Vetting, VettingPayload};
use qualify_core::policy::VettingPolicy;

use crate::jobs::{JobContext, JobError, JobHandler};

/// The handler of vetting jobs, with the policy that decides.
pub struct Vetter {
    pub policy: VettingPolicy,
}

#[async_trait]
impl JobHandler<Vetting> for Vetter {
    async fn run(
        &self,
        ctx: &JobContext,
        job: &Job,
        _: VettingPayload,
        owner: &str,
        now: time::OffsetDateTime,
    ) -> Result<JobFinish, JobError> {
        Ok(ctx
            .store
            .run_vetting_job(job, owner, now, &self.policy)
            .await?)
    }
}
