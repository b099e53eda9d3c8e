//! The vetting worker inside `serve`: claims due jobs with a lease, asks the policy, and
//! finishes each job in one store transaction. It sleeps until the next job is due, an enqueue
//! wakes it, or a poll interval passes (jobs may also come from other instances).

use std::sync::atomic::Ordering;
use std::time::Duration;

use qualify_core::policy::PolicyOutcome;
use qualify_store::{JobOutcome, Store};
use tokio::sync::watch;

use crate::AppState;

const BATCH: u32 = 64;
const POLL: Duration = Duration::from_millis(500);
const BACKOFF_ON_ERROR: Duration = Duration::from_secs(1);

/// Fault injection for failover tests: hold claimed jobs this long (milliseconds) before
/// finishing them, so a test can kill the process while it holds a lease. Never set in production.
const FAULT_HOLD_VAR: &str = "QUALIFY_FAULT_HOLD_CLAIMED_JOBS";

fn fault_hold() -> Option<Duration> {
    std::env::var(FAULT_HOLD_VAR)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
}

/// Runs one pass: claims and finishes every due job. Returns how many jobs it finished.
pub async fn drain(state: &AppState, owner: &str) -> Result<usize, qualify_store::StoreError> {
    let mut finished = 0;
    loop {
        let now = state.clock.now();
        let jobs = state
            .store
            .claim_jobs(owner, now, state.config.job_lease, BATCH)
            .await?;
        let claimed = jobs.len();
        if let (Some(hold), true) = (fault_hold(), claimed > 0) {
            tracing::warn!(
                claimed,
                ?hold,
                "{FAULT_HOLD_VAR} is set: holding claimed jobs"
            );
            tokio::time::sleep(hold).await;
        }
        // Finish the claimed jobs together: their writes share commits (group commit on
        // SQLite, concurrent transactions on PostgreSQL).
        let finishes = jobs.iter().map(|job| async move {
            let outcome = match state
                .config
                .policy
                .evaluate(&job.qualification, &job.company)
            {
                PolicyOutcome::Decide(d) => JobOutcome::Decide(d),
                PolicyOutcome::AwaitReviewer => JobOutcome::AwaitReviewer,
            };
            let result = state
                .store
                .finish_job(job, owner, state.clock.now(), &outcome)
                .await;
            (job, outcome, result)
        });
        for (job, outcome, result) in futures::future::join_all(finishes).await {
            let result = result?;
            tracing::info!(
                job = job.id,
                customer_id = %job.qualification.customer_id,
                qualification = %job.qualification.qualification,
                attempts = job.attempts,
                ?outcome,
                ?result,
                "vetting job finished"
            );
            finished += 1;
        }
        if claimed < BATCH as usize {
            return Ok(finished);
        }
    }
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
    tracing::info!(%owner, mode = ?state.config.policy.mode, delay = ?state.config.policy.delay, "vetting worker started");
    // Enqueues by other instances (PostgreSQL NOTIFY); without it, polling covers them.
    let remote = state
        .store
        .jobs_signal()
        .unwrap_or_else(|| std::sync::Arc::new(tokio::sync::Notify::new()));
    loop {
        if *stop.borrow() {
            break;
        }
        let wait = match drain(&state, &owner).await {
            Ok(_) => time_to_next_job(state.store.as_ref(), state.clock.now()).await,
            Err(e) => {
                tracing::warn!(error = %e, "vetting worker pass failed; retrying");
                BACKOFF_ON_ERROR
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = state.jobs_enqueued.notified() => {}
            _ = remote.notified() => {}
            _ = stop.changed() => {}
        }
    }
    match state.store.release_jobs(&owner).await {
        Ok(n) => tracing::info!(released = n, "vetting worker stopped"),
        Err(e) => tracing::warn!(error = %e, "releasing claimed jobs failed"),
    }
}
