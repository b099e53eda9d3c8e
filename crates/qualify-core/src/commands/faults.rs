//! The fault list (control.md 5): adding, removing and clearing faults, and a request reaching
//! the faults that match it. The store is authoritative: hits are counted in its transaction
//! under each fault's row lock, so every instance on one PostgreSQL takes the same decisions.

use crate::command::{Applied, Command, Owner, Planned};
use crate::effects::{Effect, Stamp};
use crate::error::DomainError;
use crate::faults::{Fault, FaultHit, FaultSpec};
use crate::ids::PartnerId;

/// Stores a new fault, last in evaluation order.
#[derive(Debug, Clone)]
pub struct AddFault {
    pub id: String,
    pub spec: FaultSpec,
}

impl Command for AddFault {
    type Snapshot = ();
    type Answer = Fault;

    fn owner(&self) -> Owner {
        Owner::Nobody
    }

    fn plan(&self, (): (), stamp: Stamp<'_>) -> Result<Planned<Fault>, DomainError> {
        let fault = Fault {
            id: self.id.clone(),
            seq: 0,
            spec: self.spec.clone(),
            hits: 0,
            fired: 0,
        };
        let effect = Effect::AddFault {
            fault: Box::new(fault.clone()),
            at: stamp.at,
        };
        Ok(Planned::new(vec![effect], fault))
    }

    fn complete(&self, fault: Fault, applied: Applied) -> Result<Fault, String> {
        let seq = applied.inserted.ok_or("the fault was not inserted")?;
        Ok(Fault { seq, ..fault })
    }
}

/// Removes one fault; answers whether there was one.
#[derive(Debug, Clone)]
pub struct RemoveFault {
    pub id: String,
}

impl Command for RemoveFault {
    /// Whether the fault exists.
    type Snapshot = bool;
    type Answer = bool;

    fn owner(&self) -> Owner {
        Owner::Nobody
    }

    fn plan(&self, exists: bool, _: Stamp<'_>) -> Result<Planned<bool>, DomainError> {
        let effects = if exists {
            vec![Effect::RemoveFault(self.id.clone())]
        } else {
            vec![]
        };
        Ok(Planned::new(effects, exists))
    }
}

/// Removes every fault, or those of one partner (its reset); answers how many.
#[derive(Debug, Clone, Copy)]
pub struct ClearFaults {
    pub partner: Option<PartnerId>,
}

impl Command for ClearFaults {
    /// How many there are.
    type Snapshot = u64;
    type Answer = u64;

    fn owner(&self) -> Owner {
        Owner::Nobody
    }

    fn plan(&self, count: u64, _: Stamp<'_>) -> Result<Planned<u64>, DomainError> {
        let effects = if count > 0 {
            vec![Effect::ClearFaults(self.partner)]
        } else {
            vec![]
        };
        Ok(Planned::new(effects, count))
    }
}

/// A request reached the faults `ids` (in evaluation order) and matched each: counts a hit on
/// each in turn until one fires, counts that firing, and removes a fault once it has fired its
/// `times`. Faults that no longer exist are passed over.
#[derive(Debug, Clone)]
pub struct HitFaults {
    pub ids: Vec<String>,
}

impl Command for HitFaults {
    /// The faults of `ids` that still exist, in evaluation order (locked).
    type Snapshot = Vec<Fault>;
    /// The fault that fired, if one did.
    type Answer = Option<FaultHit>;

    fn owner(&self) -> Owner {
        Owner::Nobody
    }

    fn plan(
        &self,
        faults: Vec<Fault>,
        _: Stamp<'_>,
    ) -> Result<Planned<Option<FaultHit>>, DomainError> {
        let mut effects = Vec::with_capacity(faults.len());
        for mut fault in faults {
            let (fires, removed) = fault.hit();
            effects.push(if removed {
                Effect::RemoveFault(fault.id.clone())
            } else {
                Effect::CountFaultHit {
                    id: fault.id.clone(),
                    hits: fault.hits,
                    fired: fault.fired,
                }
            });
            if fires {
                return Ok(Planned::new(effects, Some(FaultHit { fault, removed })));
            }
        }
        Ok(Planned::new(effects, None))
    }
}
