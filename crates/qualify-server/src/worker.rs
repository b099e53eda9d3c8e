//! The job worker inside `serve`: claims due jobs of every kind with a lease and runs each with
//! the handler registered for its kind. A job whose handler fails is retried with backoff
//! ([`qualify_core::jobs::after_failure`]) and never holds back the others; after its last
//! attempt it is `dead`. The worker sleeps until the next job is due, an enqueue or a clock
//! change wakes it, or a poll interval passes (jobs may also come from other instances).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use qualify_core::jobs::{Job, JobFinish, JobKind, after_failure};
use qualify_store::{Store, StoreError};
use tokio::sync::watch;

use crate::AppState;
use crate::metrics::ActorKind;

const BATCH: u32 = 64;
const POLL: Duration = Duration::from_millis(500);
const BACKOFF_ON_ERROR: Duration = Duration::from_secs(1);

/// Fault injection for failover tests: hold claimed jobs this long (milliseconds) before
/// running them, so a test can kill the process while it holds a lease. Never set in production.
const FAULT_HOLD_VAR: &str = "QUALIFY_FAULT_HOLD_CLAIMED_JOBS";

fn fault_hold() -> Option<Duration> {
    std::env::var(FAULT_HOLD_VAR)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
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
        Self(e.to_string())
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
        state: &AppState,
        job: &Job,
        owner: &str,
        now: time::OffsetDateTime,
    ) -> Result<JobFinish, JobError>;
}

/// The handlers by job kind.
#[derive(Clone, Default)]
pub struct Handlers(HashMap<String, Arc<dyn JobHandler>>);

impl Handlers {
    /// Every kind `serve` runs: vetting and webhook delivery.
    pub fn standard() -> Self {
        Self::default()
            .with(
                <qualify_core::jobs::Vetting as qualify_core::jobs::JobType>::KIND,
                Vetting,
            )
            .with(
                qualify_core::webhooks::DELIVERY_JOB,
                crate::webhooks::Delivery,
            )
    }

    pub fn with(mut self, kind: &str, handler: impl JobHandler) -> Self {
        self.0.insert(kind.to_owned(), Arc::new(handler));
        self
    }

    fn get(&self, kind: &JobKind) -> Option<&Arc<dyn JobHandler>> {
        self.0.get(kind.as_str())
    }
}

/// The vetting job: the policy decides, in the store's transaction
/// ([`qualify_core::engine::plan_vetting`]).
pub struct Vetting;

#[async_trait]
impl JobHandler for Vetting {
    async fn run(
        &self,
        state: &AppState,
        job: &Job,
        owner: &str,
        now: time::OffsetDateTime,
    ) -> Result<JobFinish, JobError> {
        Ok(state
            .store
            .run_vetting_job(job, owner, now, &state.config.policy)
            .await?)
    }
}

/// Runs one claimed job with its handler at the partner's time `now`; a failure is recorded on
/// the job (retry or dead), at that time too. `by` is who runs it (the worker or an advance).
pub async fn run_one(
    state: &AppState,
    job: &Job,
    owner: &str,
    now: time::OffsetDateTime,
    by: ActorKind,
) -> Result<(), StoreError> {
    let result = match state.jobs.get(&job.kind) {
        Some(handler) => handler.run(state, job, owner, now).await,
        None => Err(JobError(format!(
            "no handler for jobs of kind {}",
            job.kind
        ))),
    };
    match result {
        Ok(finish) => {
            if let JobFinish::Decided(qualification, status) = finish {
                crate::metrics::vetting_decision(qualification, status, by);
            }
            tracing::info!(
                job = job.id,
                kind = %job.kind,
                partner = %job.partner,
                attempt = job.attempts,
                outcome = %finish,
                "job finished"
            );
        }
        Err(error) => {
            let after = after_failure(job.attempts, now);
            state
                .store
                .fail_job(job, owner, now, &error.0, after)
                .await?;
            tracing::warn!(
                job = job.id,
                kind = %job.kind,
                partner = %job.partner,
                attempt = job.attempts,
                %error,
                next = %match after {
                    qualify_core::jobs::AfterFailure::RetryAt(at) => qualify_core::time_fmt::wire(at),
                    qualify_core::jobs::AfterFailure::Dead => "never (dead)".to_owned(),
                },
                "job attempt failed"
            );
        }
    }
    Ok(())
}

/// Runs one pass: claims and runs every due job. Returns how many jobs it ran.
pub async fn drain(state: &AppState, owner: &str) -> Result<usize, StoreError> {
    let mut ran = 0;
    loop {
        let jobs = state
            .store
            .claim_jobs(owner, state.time.wall(), state.config.job_lease, BATCH)
            .await?;
        let claimed = jobs.len();
        if let (Some(hold), true) = (fault_hold(), claimed > 0) {
            tracing::warn!(
                claimed,
                hold_ms = hold.as_millis() as u64,
                "{FAULT_HOLD_VAR} is set: holding claimed jobs"
            );
            tokio::time::sleep(hold).await;
        }
        ran += run_claimed(state, &jobs, owner, ActorKind::Worker, |job| {
            let partner = job.partner;
            async move { state.domain_now(partner).await }
        })
        .await?;
        if claimed < BATCH as usize {
            return Ok(ran);
        }
    }
}

/// Runs claimed jobs together — their writes share commits (group commit on SQLite, concurrent
/// transactions on PostgreSQL) — except that the jobs of an `ordered` kind run one after the
/// other per partner, in claim (due) order. Each job runs at the time `at` gives it. One failing
/// job does not stop the others. `by` is who runs them (the worker or a clock advance). Returns
/// how many ran.
pub async fn run_claimed<F, Fut>(
    state: &AppState,
    jobs: &[Job],
    owner: &str,
    by: ActorKind,
    at: F,
) -> Result<usize, StoreError>
where
    F: Fn(&Job) -> Fut,
    Fut: std::future::Future<Output = Result<time::OffsetDateTime, StoreError>>,
{
    let mut chains: Vec<Vec<&Job>> = Vec::new();
    let mut ordered: HashMap<(qualify_core::PartnerId, &str), usize> = HashMap::new();
    for job in jobs {
        if state.jobs.get(&job.kind).is_some_and(|h| h.ordered()) {
            let key = (job.partner, job.kind.as_str());
            match ordered.get(&key) {
                Some(&i) => chains[i].push(job),
                None => {
                    ordered.insert(key, chains.len());
                    chains.push(vec![job]);
                }
            }
        } else {
            chains.push(vec![job]);
        }
    }
    let at = &at;
    // A chain runs one job after the other; past a third of the lease, it hands the rest back
    // (claimed again, in order, by the next pass) rather than let their leases run out.
    let budget = state.config.job_lease / 3;
    let started = std::time::Instant::now();
    let runs = chains.into_iter().map(|chain| async move {
        let mut ran = 0;
        for (i, job) in chain.iter().enumerate() {
            if i > 0 && started.elapsed() > budget {
                state.store.release_job(job, owner).await?;
                continue;
            }
            let now = at(job).await?;
            run_one(state, job, owner, now, by).await?;
            ran += 1;
        }
        Ok::<usize, StoreError>(ran)
    });
    let mut ran = 0;
    for result in futures::future::join_all(runs).await {
        ran += result?;
    }
    Ok(ran)
}

async fn time_to_next_job(store: &dyn Store, now: time::OffsetDateTime) -> Duration {
    match store.next_job_due().await {
        Ok(Some(at)) if at > now => Duration::try_from(at - now).unwrap_or(POLL).min(POLL),
        Ok(Some(_)) => Duration::from_millis(20),
        _ => POLL,
    }
}

pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let owner = format!("worker-{}", uuid::Uuid::new_v4());
    state.worker_running.store(true, Ordering::SeqCst);
    tracing::info!(
        %owner,
        vetting = %state.config.policy.mode,
        vetting_delay = %humantime::format_duration(state.config.policy.delay),
        "job worker started"
    );
    // Enqueues of this process and (PostgreSQL NOTIFY) of other instances.
    let mut enqueued = state.store.signals().jobs();
    loop {
        if *stop.borrow() {
            break;
        }
        let wait = match drain(&state, &owner).await {
            Ok(_) => time_to_next_job(state.store.as_ref(), state.time.wall()).await,
            Err(e) => {
                tracing::warn!(error = %e, "job worker pass failed; retrying");
                BACKOFF_ON_ERROR
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = state.jobs_enqueued.notified() => {}
            _ = enqueued.changed() => {}
            _ = stop.changed() => {}
        }
    }
    match state.store.release_jobs(&owner).await {
        Ok(n) => tracing::info!(released = n, "job worker stopped"),
        Err(e) => tracing::warn!(error = %e, "releasing claimed jobs failed"),
    }
}
