//! The durable job queue, as the domain sees it: a job has a kind, a JSON payload, the partner
//! it works for, a due time, attempts, the last error and a lease. Jobs are enqueued by the
//! transaction that causes them (an [`Effect::Enqueue`](crate::engine::Effect)); the server
//! keeps a handler per kind. A failing job is retried with backoff and never stops the others.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::PartnerId;
use crate::qualification::{SettableQualification, VettingStatus};

/// The kind of a job: which handler runs it. Stored as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobKind(pub String);

impl JobKind {
    /// Vetting a qualification request (its qualification is the job's subject).
    pub const VETTING: &'static str = "vetting";

    pub fn vetting() -> Self {
        Self(Self::VETTING.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A job that a transaction enqueues. `qualification` names the job's subject when it has one
/// (set by the store when the qualification is inserted in the same transaction).
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub kind: JobKind,
    pub partner: PartnerId,
    pub payload: serde_json::Value,
    /// When it is due, in the partner's domain time.
    pub run_at: OffsetDateTime,
}

/// A job a worker has claimed (holds the lease of).
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub partner: PartnerId,
    /// The qualification the job is about, when it is about one.
    pub qualification_id: Option<i64>,
    pub payload: serde_json::Value,
    pub run_at: OffsetDateTime,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// How a job ended, as its handler reports it; `label` is stored as the job's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobFinish {
    /// The request for this qualification moved to this status.
    Decided(SettableQualification, VettingStatus),
    /// The request waits for a reviewer.
    LeftForReviewer,
    /// Already decided (by a reviewer, or an earlier run of the job): nothing changed.
    NoChange(VettingStatus),
    /// The job's subject no longer exists (a reset removed it): nothing to do.
    SubjectGone,
    /// The lease passed to another worker before this one finished: nothing changed.
    LeaseLost,
    /// Done, with a handler-specific label (e.g. a delivery's result).
    Done(String),
}

impl JobFinish {
    /// What is stored in the job's `outcome` column.
    pub fn label(&self) -> String {
        match self {
            JobFinish::Decided(_, s) => s.name().to_owned(),
            JobFinish::LeftForReviewer => "awaiting-reviewer".to_owned(),
            JobFinish::NoChange(s) => format!("already-{s}"),
            JobFinish::SubjectGone => "subject-gone".to_owned(),
            JobFinish::LeaseLost => "lease-lost".to_owned(),
            JobFinish::Done(label) => label.clone(),
        }
    }
}

impl fmt::Display for JobFinish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// How often a failing job is tried before it is given up (`dead`).
pub const MAX_ATTEMPTS: i64 = 10;

/// When a job that failed on attempt `attempts` (1-based) is tried again: 1 s, 2 s, 4 s, ...
/// doubling up to 5 minutes.
pub fn retry_delay(attempts: i64) -> Duration {
    let exponent = attempts.clamp(1, 20) - 1;
    Duration::from_secs(1u64 << exponent).min(Duration::from_secs(300))
}

/// What becomes of a job whose handler failed on its `attempts`-th try at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(OffsetDateTime),
    /// No attempt left: the job is done with outcome `dead`.
    Dead,
}

pub fn after_failure(attempts: i64, now: OffsetDateTime) -> AfterFailure {
    if attempts >= MAX_ATTEMPTS {
        AfterFailure::Dead
    } else {
        AfterFailure::RetryAt(now + retry_delay(attempts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_end() {
        assert_eq!(retry_delay(1), Duration::from_secs(1));
        assert_eq!(retry_delay(2), Duration::from_secs(2));
        assert_eq!(retry_delay(4), Duration::from_secs(8));
        assert_eq!(retry_delay(9), Duration::from_secs(256));
        assert_eq!(retry_delay(30), Duration::from_secs(300));
        let t = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(
            after_failure(3, t),
            AfterFailure::RetryAt(t + Duration::from_secs(4))
        );
        assert_eq!(after_failure(MAX_ATTEMPTS, t), AfterFailure::Dead);
    }

    #[test]
    fn labels_read_well() {
        assert_eq!(
            JobFinish::Decided(SettableQualification::Education, VettingStatus::Approved).label(),
            "Approved"
        );
        assert_eq!(
            JobFinish::NoChange(VettingStatus::Denied).label(),
            "already-Denied"
        );
        assert_eq!(JobFinish::LeftForReviewer.label(), "awaiting-reviewer");
    }
}
