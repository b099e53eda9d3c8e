//! Time through one seam. **Wall time** (leases, throttling, purges, the `wall` of every write)
//! comes from the injected [`Clock`]; **domain time** — what a partner sees and what its
//! schedules use: `vettingCreateDate`, audit times, due times, the idempotency window — is the
//! partner's virtual clock (control.md 4) over wall time: [`Time::domain_now`], and inside every
//! write the store reads the clocks in its own transaction. Token `exp`/`nbf` are checked
//! against the system clock by the JWT library, always: tokens are minted in real time.

use std::sync::Arc;

use qualify_core::{Clock, PartnerId};
use qualify_store::{Store, StoreError};
use time::OffsetDateTime;

#[derive(Clone)]
pub struct Time {
    clock: Arc<dyn Clock>,
}

impl Time {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock }
    }

    /// Wall time.
    pub fn wall(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// A partner tenant's domain time: its clock, else the global clock, else wall time.
    pub async fn domain_now(
        &self,
        store: &dyn Store,
        partner: PartnerId,
    ) -> Result<OffsetDateTime, StoreError> {
        Ok(store.partner_clocks(partner).await?.now(self.wall()))
    }
}
