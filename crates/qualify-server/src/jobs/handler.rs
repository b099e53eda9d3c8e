//! What runs a job: the handler of its kind, given the context every job gets.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use qualify_core::jobs::{Job, JobFinish, JobKind};
use qualify_store::{Store, StoreError};

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
        Self(crate::chain::Chain(&e).to_string())
    }
}

/// Runs the jobs of one kind, at the partner's domain time `now` (the virtual time of a step of
/// a clock advance, or the partner's clock). A handler finishes the job it was given (marks it
/// done, in the transaction that applies its effects where it has any) and says how it ended;
/// an `Err` means this attempt failed and the worker schedules the next one.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// Whether the jobs of this kind run one after the other per partner, in due order (webhook
    /// deliveries); other kinds run all together.
    fn ordered(&self) -> bool {
        false
    }

    async fn run(
        &self,
        ctx: &JobContext,
        job: &Job,
        owner: &str,
        now: time::OffsetDateTime,
    ) -> Result<JobFinish, JobError>;
}

/// The job handlers by kind: the standard ones (vetting, webhook delivery), which a state
/// binds to its services when it is built, and any a caller adds (a test's own kinds).
#[derive(Clone, Default)]
pub struct Handlers {
    standard: bool,
    kinds: HashMap<String, Arc<dyn JobHandler>>,
}

impl Handlers {
    /// Every kind `serve` runs.
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

    /// `handler` runs the jobs of `kind` (instead of a standard one of that kind).
    pub fn with(mut self, kind: &str, handler: impl JobHandler) -> Self {
        self.kinds.insert(kind.to_owned(), Arc::new(handler));
        self
    }

    /// The standard handler of `kind`, unless there is one already or the standard ones are
    /// not wanted.
    pub fn bind_standard(mut self, kind: &str, handler: impl JobHandler) -> Self {
        if self.standard && !self.kinds.contains_key(kind) {
            self.kinds.insert(kind.to_owned(), Arc::new(handler));
        }
        self
    }

    pub fn get(&self, kind: &JobKind) -> Option<&Arc<dyn JobHandler>> {
        self.kinds.get(kind.as_str())
    }
}
