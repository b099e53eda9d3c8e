//! The job worker inside `serve`: claims due jobs of every kind with a lease and runs each with
//! the handler registered for its kind. A job whose handler fails is retried with backoff
//! ([`qualify_core::jobs::after_failure`]) and never holds back the others; after its last
//! attempt it is `dead`. The worker sleeps until the next job is due, an enqueue or a clock
//! change wakes it, or a poll interval passes (jobs may also come from other instances).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::FromRef;
use qualify_core::jobs::{AfterFailure, Job, JobFinish, after_failure};
use qualify_core::policy::VettingPolicy;
use qualify_store::StoreError;
use tokio::sync::{Notify, watch};

use super::handler::{Handlers, JobContext, JobError};
use crate::chain::Chain;
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

/// The queue's runner: what claims and runs jobs, for the background worker and for a clock
/// advance alike. Cheap to clone.
#[derive(Clone)]
pub struct Worker(Arc<Inner>);

struct Inner {
    ctx: JobContext,
    handlers: Handlers,
    lease: Duration,
    /// Logged when the worker starts.
    policy: VettingPolicy,
    /// Wakes the background worker when the wall clock moved outside the store (a test's
    /// manual clock); enqueues and clock changes wake it through the store's signal.
    wake: Notify,
    running: AtomicBool,
}

impl Worker {
    pub fn new(
        ctx: JobContext,
        handlers: Handlers,
        lease: Duration,
        policy: VettingPolicy,
    ) -> Self {
        Self(Arc::new(Inner {
            ctx,
            handlers,
            lease,
            policy,
            wake: Notify::new(),
            running: AtomicBool::new(false),
        }))
    }

    pub fn context(&self) -> &JobContext {
        &self.0.ctx
    }

    /// How long a claim holds a job.
    pub fn lease(&self) -> Duration {
        self.0.lease
    }

    /// Wakes the background worker: the wall clock moved (a test's manual clock). Writes that
    /// cause work need not: the store signals them (`StoreSignals::jobs`).
    pub fn wake(&self) {
        self.0.wake.notify_one();
    }

    /// Whether the background worker runs (readiness).
    pub fn is_running(&self) -> bool {
        self.0.running.load(Ordering::SeqCst)
    }

    /// Marks the background worker as running or not (`serve`; a test harness that drains the
    /// queue itself).
    pub fn set_running(&self, running: bool) {
        self.0.running.store(running, Ordering::SeqCst);
    }

    /// Runs one claimed job with its handler at the partner's time `now`; a failure is recorded
    /// on the job (retry or dead), at that time too. `by` is who runs it (the worker or an
    /// advance).
    async fn run_one(
        &self,
        job: &Job,
        owner: &str,
        now: time::OffsetDateTime,
        by: ActorKind,
    ) -> Result<(), StoreError> {
        let ctx = &self.0.ctx;
        let result = match self.0.handlers.get(&job.kind) {
            Some(handler) => handler.run(ctx, job, owner, now).await,
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
                ctx.store.fail_job(job, owner, now, &error.0, after).await?;
                tracing::warn!(
                    job = job.id,
                    kind = %job.kind,
                    partner = %job.partner,
                    attempt = job.attempts,
                    %error,
                    next = %match after {
                        AfterFailure::RetryAt(at) => qualify_core::time_fmt::wire(at),
                        AfterFailure::Dead => "never (dead)".to_owned(),
                    },
                    "job attempt failed"
                );
            }
        }
        Ok(())
    }

    /// Runs one pass: claims and runs every due job. Returns how many jobs it ran.
    pub async fn drain(&self, owner: &str) -> Result<usize, StoreError> {
        let ctx = &self.0.ctx;
        let mut ran = 0;
        loop {
            let jobs = ctx
                .store
                .claim_jobs(owner, ctx.time.wall(), self.0.lease, BATCH)
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
            ran += self
                .run_claimed(&jobs, owner, ActorKind::Worker, |job| {
                    let partner = job.partner;
                    async move { ctx.time.domain_now(ctx.store.as_ref(), partner).await }
                })
                .await?;
            if claimed < BATCH as usize {
                return Ok(ran);
            }
        }
    }

    /// Runs claimed jobs together — their writes share commits (group commit on SQLite,
    /// concurrent transactions on PostgreSQL) — except that the jobs of an `ordered` kind run
    /// one after the other per partner, in claim (due) order. Each job runs at the time `at`
    /// gives it. One failing job does not stop the others. `by` is who runs them (the worker or
    /// a clock advance). Returns how many ran.
    pub async fn run_claimed<F, Fut>(
        &self,
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
            if self.0.handlers.get(&job.kind).is_some_and(|h| h.ordered()) {
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
        // A chain runs one job after the other; past a third of the lease, it hands the rest
        // back (claimed again, in order, by the next pass) rather than let their leases run out.
        let budget = self.0.lease / 3;
        let started = std::time::Instant::now();
        let runs = chains.into_iter().map(|chain| async move {
            let mut ran = 0;
            for (i, job) in chain.iter().enumerate() {
                if i > 0 && started.elapsed() > budget {
                    self.0.ctx.store.release_job(job, owner).await?;
                    continue;
                }
                let now = at(job).await?;
                self.run_one(job, owner, now, by).await?;
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

    async fn time_to_next_job(&self) -> Duration {
        let ctx = &self.0.ctx;
        let now = ctx.time.wall();
        match ctx.store.next_job_due().await {
            Ok(Some(at)) if at > now => Duration::try_from(at - now).unwrap_or(POLL).min(POLL),
            Ok(Some(_)) => Duration::from_millis(20),
            _ => POLL,
        }
    }

    /// The background worker, until `stop`; releases its claimed jobs when it stops.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let owner = format!("worker-{}", uuid::Uuid::new_v4());
        self.set_running(true);
        let policy = &self.0.policy;
        tracing::info!(
            %owner,
            vetting = %policy.mode,
            vetting_delay = %humantime::format_duration(policy.delay),
            "job worker started"
        );
        let store = self.0.ctx.store.clone();
        // Enqueues, jobs due again and clock moves of this process, and (PostgreSQL NOTIFY)
        // of other instances.
        let mut signalled = store.signals().jobs();
        loop {
            if *stop.borrow() {
                break;
            }
            let wait = match self.drain(&owner).await {
                Ok(_) => self.time_to_next_job().await,
                Err(e) => {
                    tracing::warn!(error = %Chain(&e), "job worker pass failed; retrying");
                    BACKOFF_ON_ERROR
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.0.wake.notified() => {}
                _ = signalled.changed() => {}
                _ = stop.changed() => {}
            }
        }
        match store.release_jobs(&owner).await {
            Ok(n) => tracing::info!(released = n, "job worker stopped"),
            Err(e) => tracing::warn!(error = %Chain(&e), "releasing claimed jobs failed"),
        }
        self.set_running(false);
    }
}

/// Runs every due job of `state`'s queue once, as the worker would (a test harness's drain).
pub async fn drain<S>(state: &S, owner: &str) -> Result<usize, StoreError>
where
    Worker: FromRef<S>,
{
    Worker::from_ref(state).drain(owner).await
}
