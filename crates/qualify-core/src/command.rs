//! A stateful write as the domain sees it: a **command** names what it reads (its snapshot, which
//! a store loads and locks inside the write's transaction), decides over that snapshot with a
//! pure plan, and returns the effects to write and its answer. Each store has one way to run any
//! command — clocks, idempotency replay, load, plan, apply, remember, commit, signal — so a rule
//! lives here once and a backend only knows SQL. The commands themselves are in
//! [`crate::commands`].

use crate::effects::{Counts, Effect, Stamp};
use crate::error::DomainError;
use crate::ids::{CustomerId, PartnerId};

/// Whose clock gives a write its domain time (control.md 4) and whose idempotency records it
/// keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// A partner tenant.
    Partner(PartnerId),
    /// The partner that owns this customer, read in the write's transaction. When the customer
    /// does not exist the write runs at wall time and its plan decides (mostly: 404).
    OwnerOf(CustomerId),
    /// No partner: wall time (global control state, the fault list, qualify's own records).
    Nobody,
}

/// What a plan decided: the effects to apply, in order, and the command's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned<A> {
    pub effects: Vec<Effect>,
    pub answer: A,
}

impl<A> Planned<A> {
    pub fn new(effects: Vec<Effect>, answer: A) -> Self {
        Self { effects, answer }
    }

    /// An answer that changes nothing.
    pub fn answer(answer: A) -> Self {
        Self {
            effects: vec![],
            answer,
        }
    }
}

/// What applying a plan's effects reported back: what only the database knows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// The id the database gave the last row the plan inserted that has one (a
    /// qualification's id, a fault's `seq`).
    pub inserted: Option<i64>,
    /// What a `ClearScope` removed.
    pub removed: Counts,
}

/// A stateful write. `Snapshot` is what the store loads (and locks) for it; `plan` decides.
pub trait Command: Send + Sync {
    /// What the command reads, loaded by the store in the write's transaction.
    type Snapshot: Send;
    /// What the command answers (stored for an idempotent replay of a request's write).
    type Answer: Send;

    /// How often the plan may run when applying its effects finds a random id taken (the plan
    /// picks another each time).
    const ATTEMPTS: u32 = 1;

    fn owner(&self) -> Owner;

    /// Decides over `snapshot`, at `stamp.at` (the owner's domain time, or the time the caller
    /// gave the write).
    fn plan(
        &self,
        snapshot: Self::Snapshot,
        stamp: Stamp<'_>,
    ) -> Result<Planned<Self::Answer>, DomainError>;

    /// The answer once the effects are applied (e.g. with the id the database gave an inserted
    /// row). An error means the store did not do what the plan asked: a backend fault.
    fn complete(&self, answer: Self::Answer, _applied: Applied) -> Result<Self::Answer, String> {
        Ok(answer)
    }
}
