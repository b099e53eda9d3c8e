//! `POST .../clock/advance` (control.md 4): moves a scope's clock and, before it answers, runs
//! every job of the scope that is due by the new time — each at its own virtual time, the jobs
//! that become due during the span (a retry scheduled by an attempt made meanwhile) included —
//! wherever they are claimed: a job another worker or instance holds is waited for, never run
//! twice (leases).

use std::time::Duration;

use qualify_core::ErrorKind;
use qualify_core::clock::{ClockChange, ClockSetting};
use qualify_core::engine::Scope;
use qualify_store::AppliedTransition;
use time::OffsetDateTime;

use super::service::{Control, scope_name};
use super::wire::AppliedOut;
use crate::http::error::{ApiError, ApiResult};
use crate::metrics::ActorKind;

/// How many due jobs an advance claims at once (they run together: their writes share commits).
const BATCH: u32 = 512;
/// How often an advance looks again at due jobs that another worker holds.
const WAIT_FOR_OTHERS: Duration = Duration::from_millis(10);

/// What an advance did.
#[derive(Debug, Clone)]
pub struct Advanced {
    pub now: OffsetDateTime,
    pub applied: Vec<AppliedTransition>,
}

impl Control {
    /// Advances the scope's clock by `change` (`AdvanceBy` or `AdvanceTo`).
    pub async fn advance(&self, scope: Scope, change: ClockChange) -> ApiResult<Advanced> {
        let (store, time, worker) = (&self.0.store, &self.0.time, &self.0.worker);
        let timeout = self.0.advance_timeout;
        let start = store.last_audit_seq().await?;
        // Checked first: a clock that would go back is a 409 and nothing runs.
        let plan = store.plan_clock_change(scope, time.wall(), change).await?;
        let owner = format!("advance-{}", uuid::Uuid::new_v4());
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if tokio::time::Instant::now() >= deadline {
                let applied = store.transitions_after(start, scope, plan.to).await?;
                let mut e = ApiError::unavailable(
                    format!(
                        "The advance did not finish within {}; {} transitions were applied (in data). \
                     Advance again to run the rest.",
                        humantime::format_duration(timeout),
                        applied.len()
                    ),
                    1,
                );
                e.data = applied
                    .iter()
                    .map(|t| serde_json::to_value(AppliedOut::from(t)).unwrap_or_default())
                    .collect();
                return Err(e);
            }
            let jobs = store
                .claim_jobs_due_by(&owner, time.wall(), worker.lease(), BATCH, scope, plan.to)
                .await?;
            if jobs.is_empty() {
                if store.unfinished_due_by(scope, plan.to).await? == 0 {
                    break;
                }
                // Due jobs another worker holds: it finishes them (or its lease runs out).
                tokio::time::sleep(WAIT_FOR_OTHERS).await;
                continue;
            }
            let from = plan.from;
            worker
                .run_claimed(&jobs, &owner, ActorKind::Clock, |job| {
                    let at = job.run_at.max(from);
                    async move { Ok(at) }
                })
                .await?;
        }
        // The clock moves once the work is done: meanwhile the scope's other requests (and the
        // background worker) keep its old time.
        let last = match plan.setting {
            Some(ClockSetting::Running { .. }) => {
                ClockChange::AdvanceBy(Duration::try_from(plan.to - plan.from).unwrap_or_default())
            }
            _ => ClockChange::AdvanceTo(plan.to),
        };
        match store.change_clock(scope, time.wall(), last).await {
            Ok(_) => {}
            // Another advance moved it further meanwhile: time has not gone back.
            Err(qualify_store::StoreError::Domain(e)) if e.kind == ErrorKind::ClockWentBack => {}
            Err(e) => return Err(e.into()),
        }
        let applied = store.transitions_after(start, scope, plan.to).await?;
        tracing::info!(
            scope = %scope_name(scope),
            from = %qualify_core::time_fmt::wire(plan.from),
            to = %qualify_core::time_fmt::wire(plan.to),
            applied = applied.len(),
            "clock advanced"
        );
        Ok(Advanced {
            now: plan.to,
            applied,
        })
    }
}
