//! What the traffic layer works with: the fault list, this instance's journal, the clock.

use std::sync::Arc;

use qualify_core::PartnerId;
use qualify_store::StoreResult;

use super::faults::service::Faults;
use super::journal::Journal;
use crate::clock::Time;

#[derive(Clone)]
pub struct Traffic {
    pub faults: Faults,
    pub journal: Arc<Journal>,
    pub time: Time,
}

impl Traffic {
    /// Forgets a partner's (or everyone's) traffic state: its faults (stored: every instance)
    /// and this instance's journal entries. For the resets of control.md section 1; returns
    /// how many faults were removed.
    pub async fn clear(&self, partner: Option<PartnerId>) -> StoreResult<u64> {
        let removed = self.faults.clear(partner).await?;
        self.journal.clear(partner);
        Ok(removed)
    }
}
