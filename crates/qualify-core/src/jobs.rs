//! The durable job queue, as the domain sees it: a job has a kind, a JSON payload, the partner
//! it works for, a due time, attempts, the last error and a lease. Jobs are enqueued by the
//! transaction that causes them (an [`Effect::Enqueue`](crate::engine::Effect)); the server
//! keeps a handler per kind. A failing job is retried with backoff and never stops the others.

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::PartnerId;
use crate::qualification::{SettableQualification, VettingStatus};

/// A kind of job, as a type: the name it is stored under and the payload it carries. The server
/// registers one handler per job type; a plan enqueues one with [`NewJob::of`].
pub trait JobType: Send + Sync + 'static {
    /// The stored name (the `kind` column).
    const KIND: &'static str;
    /// Whether one partner's jobs of this kind run one after the other, in due order (webhook
    /// deliveries: a receiver sees a partner's events in transition order).
    const ORDERED: bool = false;
    /// What a job of this kind carries (stored as JSON).
    type Payload: Serialize + DeserializeOwned + Send + Sync + 'static;
}

/// Vetting a qualification request (its qualification is the job's subject).
#[derive(Debug, Clone, Copy)]
pub struct Vetting;

/// A vetting job carries nothing: its subject is the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VettingPayload {}

impl JobType for Vetting {
    const KIND: &'static str = "vetting";
    type Payload = VettingPayload;
}

/// The kind of a job as stored: which handler runs it. A stored job may name a kind this build
/// does not know (it is then failed, never lost), so it stays a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobKind(pub String);

impl JobKind {
    pub fn of<J: JobType>() -> Self {
        Self(J::KIND.to_owned())
    }

    pub fn is<J: JobType>(&self) -> bool {
        self.0 == J::KIND
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

impl NewJob {
    /// A job of type `J` for `partner`, due at `run_at` (the partner's time).
    pub fn of<J: JobType>(
        partner: PartnerId,
        payload: &J::Payload,
        run_at: OffsetDateTime,
    ) -> Self {
        Self {
            kind: JobKind::of::<J>(),
            partner,
            payload: to_payload(payload),
            run_at,
        }
    }
}

/// A payload as stored. Job payloads are plain records (string keys, no maps of other keys),
/// which serde_json always serialises.
fn to_payload<T: Serialize>(payload: &T) -> serde_json::Value {
    serde_json::to_value(payload).unwrap_or(serde_json::Value::Null)
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

impl Job {
    /// The payload as job type `J` reads it; an error names what is wrong with it.
    pub fn payload_as<J: JobType>(&self) -> Result<J::Payload, String> {
        if !self.kind.is::<J>() {
            return Err(format!(
                "job {} is a {} job, not {}",
                self.id,
                self.kind,
                J::KIND
            ));
        }
        J::Payload::deserialize(&self.payload)
            .map_err(|e| format!("job {} has an unreadable {} payload: {e}", self.id, J::KIND))
    }
}

/// How a job ended, as stored in its `outcome` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// A vetting job moved its request to this status.
    Decided(VettingStatus),
    /// A vetting job left its request to a reviewer.
    AwaitingReviewer,
    /// Already decided (by a reviewer, or an earlier run of the job): nothing changed.
    Already(VettingStatus),
    /// The job's subject no longer exists (a reset removed it).
    SubjectGone,
    /// A delivery was accepted by its receiver.
    Succeeded,
    /// A delivery's registration was removed (or no longer wants the event) before it succeeded.
    Cancelled,
    /// Given up: the last attempt failed (or a receiver answered 410).
    Dead,
}

impl JobOutcome {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            JobOutcome::Decided(s) => s.name(),
            JobOutcome::AwaitingReviewer => "awaiting-reviewer",
            JobOutcome::Already(VettingStatus::InReview) => "already-InReview",
            JobOutcome::Already(VettingStatus::Approved) => "already-Approved",
            JobOutcome::Already(VettingStatus::Denied) => "already-Denied",
            JobOutcome::SubjectGone => "subject-gone",
            JobOutcome::Succeeded => "succeeded",
            JobOutcome::Cancelled => "cancelled",
            JobOutcome::Dead => "dead",
        }
    }

    /// The outcome a stored text names; `None` for a text this build does not know.
    pub fn parse(s: &str) -> Option<Self> {
        let fixed = [
            JobOutcome::AwaitingReviewer,
            JobOutcome::SubjectGone,
            JobOutcome::Succeeded,
            JobOutcome::Cancelled,
            JobOutcome::Dead,
        ];
        if let Some(o) = fixed.into_iter().find(|o| o.as_str() == s) {
            return Some(o);
        }
        match s.strip_prefix("already-") {
            Some(status) => VettingStatus::parse(status).map(JobOutcome::Already),
            None => VettingStatus::parse(s).map(JobOutcome::Decided),
        }
    }
}

impl fmt::Display for JobOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a handler's run of a job came to.
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
    /// Ended with this outcome (a delivery that succeeded, died or was cancelled).
    Ended(JobOutcome),
    /// Not over: the job is due again at this time (a delivery's retry).
    RetryAt(OffsetDateTime),
}

impl JobFinish {
    /// What is stored as the job's outcome: `None` while it is not over (a retry, or a lease
    /// that passed to another worker).
    pub fn outcome(&self) -> Option<JobOutcome> {
        match self {
            JobFinish::Decided(_, s) => Some(JobOutcome::Decided(*s)),
            JobFinish::LeftForReviewer => Some(JobOutcome::AwaitingReviewer),
            JobFinish::NoChange(s) => Some(JobOutcome::Already(*s)),
            JobFinish::SubjectGone => Some(JobOutcome::SubjectGone),
            JobFinish::Ended(o) => Some(*o),
            JobFinish::LeaseLost | JobFinish::RetryAt(_) => None,
        }
    }
}

impl fmt::Display for JobFinish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.outcome()) {
            (_, Some(o)) => f.write_str(o.as_str()),
            (JobFinish::RetryAt(at), None) => write!(f, "retry at {}", crate::time_fmt::wire(*at)),
            _ => f.write_str("lease-lost"),
        }
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
    fn outcomes_are_stored_as_they_always_were_and_read_back() {
        let cases = [
            (
                JobFinish::Decided(SettableQualification::Education, VettingStatus::Approved),
                "Approved",
            ),
            (JobFinish::NoChange(VettingStatus::Denied), "already-Denied"),
            (JobFinish::LeftForReviewer, "awaiting-reviewer"),
            (JobFinish::SubjectGone, "subject-gone"),
            (JobFinish::Ended(JobOutcome::Succeeded), "succeeded"),
            (JobFinish::Ended(JobOutcome::Cancelled), "cancelled"),
            (JobFinish::Ended(JobOutcome::Dead), "dead"),
        ];
        for (finish, stored) in cases {
            let outcome = finish.outcome().unwrap();
            assert_eq!(outcome.as_str(), stored);
            assert_eq!(JobOutcome::parse(stored), Some(outcome));
            assert_eq!(finish.to_string(), stored);
        }
        assert_eq!(JobFinish::LeaseLost.outcome(), None);
        assert_eq!(JobOutcome::parse("retry at noon"), None);
    }

    #[test]
    fn a_typed_payload_round_trips_and_a_wrong_kind_is_refused() {
        let p = PartnerId(uuid::Uuid::from_u128(1));
        let t = OffsetDateTime::UNIX_EPOCH;
        let new = NewJob::of::<Vetting>(p, &VettingPayload {}, t);
        assert_eq!(
            (new.kind.as_str(), &new.payload),
            ("vetting", &serde_json::json!({}))
        );
        let job = Job {
            id: 1,
            kind: new.kind,
            partner: p,
            qualification_id: None,
            payload: new.payload,
            run_at: t,
            attempts: 1,
            last_error: None,
        };
        assert_eq!(job.payload_as::<Vetting>(), Ok(VettingPayload {}));
        struct Other;
        impl JobType for Other {
            const KIND: &'static str = "other";
            type Payload = u32;
        }
        assert!(job.payload_as::<Other>().unwrap_err().contains("not other"));
    }
}
