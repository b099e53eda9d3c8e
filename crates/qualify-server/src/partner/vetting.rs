//! The vetting job of a qualification request: the policy decides, in the store's transaction
//! ([`qualify_core::engine::plan_vetting`]).

use async_trait::async_trait;
use qualify_core::jobs::{Job, JobFinish};
use qualify_core::policy::VettingPolicy;

use crate::jobs::{JobContext, JobError, JobHandler};

pub struct Vetting {
    pub policy: VettingPolicy,
}

#[async_trait]
impl JobHandler for Vetting {
    async fn run(
        &self,
        ctx: &JobContext,
        job: &Job,
        owner: &str,
        now: time::OffsetDateTime,
    ) -> Result<JobFinish, JobError> {
        Ok(ctx
            .store
            .run_vetting_job(job, owner, now, &self.policy)
            .await?)
    }
}
