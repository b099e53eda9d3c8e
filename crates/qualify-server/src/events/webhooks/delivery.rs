//! The delivery job ([`WebhookDelivery`], its payload the event): one attempt per run, to
//! the registration's URL at the time of the attempt; the verdict and the attempt are stored in
//! one transaction.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use qualify_core::jobs::{Job, JobFinish, JobOutcome};
use qualify_core::webhooks::{Answer, Event, Verdict, WebhookDelivery, judge};
use qualify_store::Attempt;

use super::sender::Sender;
use crate::jobs::{JobContext, JobError, JobHandler};

/// The delivery job's handler, with the outbound client it sends with.
pub struct Delivery {
    pub sender: Arc<Sender>,
}

#[async_trait]
impl JobHandler<WebhookDelivery> for Delivery {
    async fn run(
        &self,
        ctx: &JobContext,
        job: &Job,
        event: Event,
        owner: &str,
        now: time::OffsetDateTime,
    ) -> Result<JobFinish, JobError> {
        let registration = match ctx.store.webhook_registration(job.partner).await? {
            None => return cancel(ctx, job, owner, now, "no registration").await,
            Some(r) if r.disabled.is_some() => {
                return cancel(ctx, job, owner, now, "registration disabled").await;
            }
            Some(r) if !r.wants(event.event_name) => {
                return cancel(ctx, job, owner, now, "event not registered").await;
            }
            Some(r) => r,
        };
        let started = Instant::now();
        let answer = self
            .sender
            .send(ctx.store.as_ref(), &registration, &event, ctx.time.wall())
            .await;
        let attempt = Attempt {
            at: now,
            response_code: answer.code(),
            error: answer.error(),
            duration_ms: started.elapsed().as_millis() as u64,
        };
        let verdict = judge(job.attempts, now, &answer);
        tracing::info!(
            job = job.id,
            partner = %job.partner,
            event = %event.event_name,
            attempt = job.attempts,
            code = ?attempt.response_code,
            error = attempt.error.as_deref().unwrap_or(""),
            "webhook attempt"
        );
        if !ctx
            .store
            .finish_attempt(job, owner, &attempt, verdict)
            .await?
        {
            return Ok(JobFinish::LeaseLost);
        }
        record_attempt(&answer, verdict);
        Ok(verdict.finish())
    }
}

/// Ends a delivery that has nowhere to go any more: outcome `cancelled` (the reason is logged).
async fn cancel(
    ctx: &JobContext,
    job: &Job,
    owner: &str,
    now: time::OffsetDateTime,
    why: &str,
) -> Result<JobFinish, JobError> {
    let finish = JobFinish::Ended(JobOutcome::Cancelled);
    if !ctx.store.complete_job(job, owner, now, &finish).await? {
        return Ok(JobFinish::LeaseLost);
    }
    tracing::info!(job = job.id, partner = %job.partner, reason = why, "webhook delivery cancelled");
    Ok(finish)
}

/// An attempt and, when it ended the delivery `dead`, that too, in the metrics.
fn record_attempt(answer: &Answer, verdict: Verdict) {
    use crate::metrics::{WebhookResult, webhook_attempt, webhook_dead};
    webhook_attempt(match (answer, verdict) {
        (_, Verdict::Succeeded) => WebhookResult::Succeeded,
        (_, Verdict::Disable) => WebhookResult::Disabled,
        (Answer::Timeout, _) => WebhookResult::Timeout,
        (Answer::Refused(_), _) => WebhookResult::Refused,
        _ => WebhookResult::Failed,
    });
    if matches!(verdict, Verdict::Dead | Verdict::Disable) {
        webhook_dead();
    }
}
