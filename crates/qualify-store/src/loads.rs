//! The snapshots that are the same SQL question on every backend: nothing to read, the owner
//! the pipeline already resolved, or whether a row exists (`Probe`). A backend implements the
//! others (`sqlite::loads`, `postgres::loads`).

use qualify_core::PartnerId;
use qualify_core::command::Command;
use qualify_core::commands::control::SetScenario;
use qualify_core::commands::customers::{
    CreateCustomer, IssueValidationCode, SetGdap, SetValidationStatus,
};
use qualify_core::commands::faults::{AddFault, ClearFaults, RemoveFault};
use qualify_core::commands::queue::{CompleteJob, EnqueueJob, FailJob};
use qualify_core::commands::webhooks::{
    DeleteRegistration, FinishAttempt, PutRegistration, Redeliver,
};

use crate::error::StoreResult;
use crate::pipeline::{Backend, Load, Probe, Tx};

/// Commands that read nothing before they plan.
macro_rules! reads_nothing {
    ($($command:ty),* $(,)?) => {$(
        impl<B: Backend> Load<$command> for B {
            async fn load(_: &mut B::Tx<'_>, _: &$command, _: Option<PartnerId>) -> StoreResult<()> {
                Ok(())
            }
        }
    )*};
}

reads_nothing!(
    CreateCustomer,
    IssueValidationCode,
    SetGdap,
    EnqueueJob,
    SetScenario,
    AddFault,
    PutRegistration,
);

impl<B: Backend> Load<SetValidationStatus> for B {
    async fn load(
        _: &mut B::Tx<'_>,
        _: &SetValidationStatus,
        owner: Option<PartnerId>,
    ) -> StoreResult<Option<PartnerId>> {
        Ok(owner)
    }
}

/// Commands whose snapshot is whether a row exists.
macro_rules! reads_whether {
    ($($command:ty => |$c:ident| $probe:expr),* $(,)?) => {$(
        impl<B: Backend> Load<$command> for B {
            async fn load(
                tx: &mut B::Tx<'_>,
                $c: &$command,
                _: Option<PartnerId>,
            ) -> StoreResult<<$command as Command>::Snapshot> {
                Ok(tx.count($probe).await? > 0)
            }
        }
    )*};
}

reads_whether!(
    CompleteJob => |c| Probe::Lease { job: c.job, owner: &c.owner },
    FailJob => |c| Probe::Lease { job: c.job, owner: &c.owner },
    FinishAttempt => |c| Probe::Lease { job: c.job, owner: &c.owner },
    RemoveFault => |c| Probe::Fault(&c.id),
    DeleteRegistration => |c| Probe::Registration(c.partner),
    Redeliver => |c| Probe::Delivery(c.id),
);

impl<B: Backend> Load<ClearFaults> for B {
    async fn load(tx: &mut B::Tx<'_>, c: &ClearFaults, _: Option<PartnerId>) -> StoreResult<u64> {
        tx.count(Probe::Faults(c.partner)).await
    }
}
