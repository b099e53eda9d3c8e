//! Webhooks (events.md 1-2): a partner's registration, the key that signs deliveries, and a
//! delivery's attempts. What an answer means is [`crate::webhooks::judge`]; the commands record
//! its verdict.

use crate::command::{Command, Owner, Planned};
use crate::effects::{Effect, Stamp};
use crate::error::DomainError;
use crate::ids::PartnerId;
use crate::jobs::JobOutcome;
use crate::webhooks::{Attempt, Registration, SigningKey, Verdict};

/// Creates or replaces a partner's registration (enabled again).
#[derive(Debug, Clone)]
pub struct PutRegistration {
    pub registration: Registration,
}

impl Command for PutRegistration {
    type Snapshot = ();
    type Answer = ();

    fn owner(&self) -> Owner {
        Owner::Nobody
    }

    fn plan(&self, (): (), stamp: Stamp<'_>) -> Result<Planned<()>, DomainError> {
        let effect = Effect::PutRegistration {
            registration: self.registration.clone(),
            at: stamp.at,
        };
        Ok(Planned::new(vec![effect], ()))
    }
}

/// Removes a partner's registration and cancels its pending deliveries; answers whether there
/// was one.
#[derive(Debug, Clone, Copy)]
pub struct DeleteRegistration {
    pub partner: PartnerId,
}

impl Command for DeleteRegistration {
    /// Whether the partner has a registration.
    type Snapshot = bool;
    type Answer = bool;

    fn owner(&self) -> Owner {
        Owner::Nobody
    }

    fn plan(&self, exists: bool, stamp: Stamp<'_>) -> Result<Planned<bool>, DomainError> {
        let effects = vec![
            Effect::CancelDeliveries {
                partner: self.partner,
                at: stamp.at,
            },
            Effect::DeleteRegistration(self.partner),
        ];
        Ok(Planned::new(effects, exists))
    }
}

/// The key that signs every delivery: the stored one, else `offered` is stored (so concurrent
/// instances end up with the same key).
#[derive(Debug, Clone)]
pub struct KeepSigningKey {
    pub offered: Option<SigningKey>,
}

impl Command for KeepSigningKey {
    /// The stored key (read under a lock that concurrent instances also take).
    type Snapshot = Option<SigningKey>;
    type Answer = Option<SigningKey>;

    fn owner(&self) -> Owner {
        Owner::Nobody
    }

    fn plan(
        &self,
        stored: Option<SigningKey>,
        stamp: Stamp<'_>,
    ) -> Result<Planned<Option<SigningKey>>, DomainError> {
        match (stored, &self.offered) {
            (Some(stored), _) => Ok(Planned::answer(Some(stored))),
            (None, Some(key)) => Ok(Planned::new(
                vec![Effect::KeepSigningKey {
                    key: key.clone(),
                    at: stamp.at,
                }],
                Some(key.clone()),
            )),
            (None, None) => Ok(Planned::answer(None)),
        }
    }
}

/// Records an attempt of a claimed delivery and its verdict: due again, or over (a 410 also
/// disables the registration). `false` when the worker no longer holds the lease.
#[derive(Debug, Clone)]
pub struct FinishAttempt {
    pub job: i64,
    pub partner: PartnerId,
    pub owner: String,
    pub attempt: Attempt,
    pub verdict: Verdict,
}

impl Command for FinishAttempt {
    /// Whether the worker still holds the lease.
    type Snapshot = bool;
    type Answer = bool;

    fn owner(&self) -> Owner {
        Owner::Nobody
    }

    fn plan(&self, held: bool, _: Stamp<'_>) -> Result<Planned<bool>, DomainError> {
        if !held {
            return Ok(Planned::answer(false));
        }
        let mut effects = vec![
            Effect::RecordAttempt {
                job: self.job,
                partner: self.partner,
                attempt: self.attempt.clone(),
            },
            Effect::JobError {
                id: self.job,
                error: self.attempt.error.clone(),
            },
        ];
        match self.verdict {
            Verdict::RetryAt(run_at) => effects.push(Effect::RetryJob {
                id: self.job,
                run_at,
            }),
            ended => {
                effects.push(Effect::FinishJob {
                    id: self.job,
                    outcome: ended.outcome().unwrap_or(JobOutcome::Dead),
                    at: self.attempt.at,
                });
                if ended == Verdict::Disable {
                    effects.push(Effect::DisableRegistration {
                        partner: self.partner,
                        reason: self.attempt.error.clone(),
                    });
                }
            }
        }
        Ok(Planned::new(effects, true))
    }
}

/// Makes a delivery pending again, due now, with a fresh schedule (same event, same
/// `webhook-id`); answers whether there is such a delivery.
#[derive(Debug, Clone, Copy)]
pub struct Redeliver {
    pub id: i64,
}

impl Command for Redeliver {
    /// Whether a delivery with that id exists.
    type Snapshot = bool;
    type Answer = bool;

    fn owner(&self) -> Owner {
        Owner::Nobody
    }

    fn plan(&self, exists: bool, stamp: Stamp<'_>) -> Result<Planned<bool>, DomainError> {
        let effects = if exists {
            vec![Effect::Redeliver {
                id: self.id,
                at: stamp.at,
            }]
        } else {
            vec![]
        };
        Ok(Planned::new(effects, exists))
    }
}
