//! The job queue's writes that carry a rule: running a vetting job, finishing or failing a
//! claimed job. Each happens only while the worker still holds the job's lease (a job whose
//! lease ran out belongs to whoever claimed it next). Claims and releases are selections the
//! store makes in one indexed statement; they decide nothing.

use crate::command::{Command, Owner, Planned};
use crate::effects::{Effect, QualificationRef, Stamp};
use crate::engine::{VettingSnapshot, plan_vetting};
use crate::error::DomainError;
use crate::jobs::{AfterFailure, Job, JobFinish, JobOutcome, NewJob};
use crate::policy::VettingPolicy;

/// Enqueues a job on its own (jobs that a transition causes are enqueued by its plan).
#[derive(Debug, Clone)]
pub struct EnqueueJob {
    pub job: NewJob,
    /// The qualification the job is about.
    pub subject: Option<i64>,
}

impl Command for EnqueueJob {
    type Snapshot = ();
    type Answer = ();

    fn owner(&self) -> Owner {
        Owner::Nobody
    }

    fn plan(&self, (): (), _: Stamp<'_>) -> Result<Planned<()>, DomainError> {
        let effect = Effect::Enqueue {
            job: self.job.clone(),
            subject: self.subject.map(QualificationRef::Existing),
        };
        Ok(Planned::new(vec![effect], ()))
    }
}

/// The effects that end a job with `finish` at `at` (none while it is not over).
fn finished(id: i64, finish: &JobFinish, at: time::OffsetDateTime) -> Vec<Effect> {
    finish
        .outcome()
        .map(|outcome| Effect::FinishJob { id, outcome, at })
        .into_iter()
        .collect()
}

/// Runs a claimed vetting job by [`plan_vetting`] and finishes it, in one transaction.
#[derive(Debug, Clone)]
pub struct RunVettingJob {
    pub job: Job,
    /// The worker that claimed it.
    pub owner: String,
    pub policy: VettingPolicy,
}

impl Command for RunVettingJob {
    /// `None` when the worker no longer holds the lease; else the request (locked) and its
    /// customer's company profile.
    type Snapshot = Option<VettingSnapshot>;
    type Answer = JobFinish;

    fn owner(&self) -> Owner {
        Owner::Partner(self.job.partner)
    }

    fn plan(
        &self,
        snapshot: Option<VettingSnapshot>,
        stamp: Stamp<'_>,
    ) -> Result<Planned<JobFinish>, DomainError> {
        let Some(snapshot) = snapshot else {
            return Ok(Planned::answer(JobFinish::LeaseLost));
        };
        let plan = plan_vetting(&self.job, &snapshot, &self.policy, stamp.at)?;
        let mut effects = plan.effects;
        effects.extend(finished(self.job.id, &plan.finish, stamp.at));
        Ok(Planned::new(effects, plan.finish))
    }
}

/// Ends a claimed job whose work lay outside the database; `false` when the worker no longer
/// holds its lease.
#[derive(Debug, Clone)]
pub struct CompleteJob {
    pub job: i64,
    pub owner: String,
    pub finish: JobFinish,
}

impl Command for CompleteJob {
    /// Whether the worker still holds the lease.
    type Snapshot = bool;
    type Answer = bool;

    fn owner(&self) -> Owner {
        Owner::Nobody
    }

    fn plan(&self, held: bool, stamp: Stamp<'_>) -> Result<Planned<bool>, DomainError> {
        if !held {
            return Ok(Planned::answer(false));
        }
        Ok(Planned::new(
            finished(self.job, &self.finish, stamp.at),
            true,
        ))
    }
}

/// A claimed job's attempt failed with `error`: due again when `after` says, or dead.
#[derive(Debug, Clone)]
pub struct FailJob {
    pub job: i64,
    pub owner: String,
    pub error: String,
    pub after: AfterFailure,
}

impl Command for FailJob {
    /// Whether the worker still holds the lease.
    type Snapshot = bool;
    type Answer = bool;

    fn owner(&self) -> Owner {
        Owner::Nobody
    }

    fn plan(&self, held: bool, stamp: Stamp<'_>) -> Result<Planned<bool>, DomainError> {
        if !held {
            return Ok(Planned::answer(false));
        }
        let error = Effect::JobError {
            id: self.job,
            error: Some(self.error.clone()),
        };
        let next = match self.after {
            AfterFailure::RetryAt(run_at) => Effect::RetryJob {
                id: self.job,
                run_at,
            },
            AfterFailure::Dead => Effect::FinishJob {
                id: self.job,
                outcome: JobOutcome::Dead,
                at: stamp.at,
            },
        };
        Ok(Planned::new(vec![error, next], true))
    }
}
