//! What runs a job: the handler registered for its type, given the context every job gets.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use qualify_core::jobs::{Job, JobFinish, JobKind, JobType};
use qualify_store::{Store, StoreError};

use crate::chain::Chain;
use crate::clock::Time;

/// What every job handler gets: the store and the clock. What a kind needs besides (the
/// vetting policy, the outbound webhook client) its handler holds.
#[derive(Clone)]
pub struct JobContext {
    pub store: Arc<dyn Store>,
    pub time: Time,
}

/// Why an attempt at a job failed; stored as the job's `last_error`.
#[derive(Debug, Clone)]
pub struct JobError(pub String);

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        Self(Chain(&e).to_string())
    }
}

/// Runs the jobs of type `J`, each with its payload, at the partner's domain time `now` (the
/// virtual time of a step of a clock advance, or the partner's clock). A handler finishes the
/// job it was given (marks it done, in the transaction that applies its effects where it has
/// any) and says how it ended; an `Err` means this attempt failed and the worker schedules the
/// next one.
#[async_trait]
pub trait JobHandler<J: JobType>: Send + Sync + 'static {
    async fn run(
        &self,
        ctx: &JobContext,
        job: &Job,
        payload: J::Payload,
        owner: &str,
        now: time::OffsetDateTime,
    ) -> Result<JobFinish, JobError>;
}

/// A handler whatever its job type: what the worker finds by a job's stored kind.
#[async_trait]
pub(super) trait RunsJobs: Send + Sync + 'static {
    /// Whether one partner's jobs of this kind run one after the other, in due order.
    fn ordered(&self) -> bool;

    async fn run(
        &self,
        ctx: &JobContext,
        job: &Job,
        owner: &str,
        now: time::OffsetDateTime,
    ) -> Result<JobFinish, JobError>;
}

/// The handler `H` of job type `J`: reads a job's payload as `J`'s, then runs it.
struct Typed<J, H>(H, PhantomData<fn() -> J>);

#[async_trait]
impl<J: JobType, H: JobHandler<J>> RunsJobs for Typed<J, H> {
    fn ordered(&self) -> bool {
        J::ORDERED
    }

    async fn run(
        &self,
        ctx: &JobContext,
        job: &Job,
        owner: &str,
        now: time::OffsetDateTime,
    ) -> Result<JobFinish, JobError> {
        let payload = job.payload_as::<J>().map_err(JobError)?;
        self.0.run(ctx, job, payload, owner, now).await
    }
}

/// The job handlers by type: the standard ones (vetting, webhook delivery), which a state binds
/// to its services when it is built, and any a caller registers (a test's own job types).
#[derive(Clone, Default)]
pub struct Handlers {
    standard: bool,
    kinds: HashMap<&'static str, Arc<dyn RunsJobs>>,
}

impl Handlers {
    /// Every job type `serve` runs.
    pub fn standard() -> Self {
        Self {
            standard: true,
            kinds: HashMap::new(),
        }
    }

    /// No handler at all (a state whose jobs nothing runs).
    pub fn none() -> Self {
        Self::default()
    }

    /// `handler` runs the jobs of type `J` (instead of a standard one of that type).
    pub fn register<J: JobType>(mut self, handler: impl JobHandler<J>) -> Self {
        self.kinds
            .insert(J::KIND, Arc::new(Typed(handler, PhantomData)));
        self
    }

    /// The standard handler of job type `J`, unless there is one already or the standard ones
    /// are not wanted.
    pub fn bind_standard<J: JobType>(self, handler: impl JobHandler<J>) -> Self {
        if self.standard && !self.kinds.contains_key(J::KIND) {
            self.register::<J>(handler)
        } else {
            self
        }
    }

    pub(super) fn get(&self, kind: &JobKind) -> Option<&Arc<dyn RunsJobs>> {
        self.kinds.get(kind.as_str())
    }
}
