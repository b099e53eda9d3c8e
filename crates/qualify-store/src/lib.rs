//! Persistence for qualify. The store is a set of area traits ([`traits`]); each backend has
//! its own module, SQL and migrations. Every write is a command of `qualify_core::commands`,
//! run by the backend's one write pipeline ([`pipeline`]): what must be atomic (the rules that
//! read stored state, the change, the audit event, the job, the idempotency record) happens in
//! one transaction, and the rules themselves live in core. The writes are implemented once for
//! every backend ([`writes`]); a backend is its reads, its loads and its effects, in SQL.

pub mod backup;
mod error;
mod loads;
mod model;
mod observe;
mod pipeline;
pub mod postgres;
mod rows;
mod signals;
pub mod sqlite;
pub mod testing;
mod traits;
mod writes;

pub use error::{Cause, StoreError, StoreResult};
pub use model::{
    AppliedTransition, AuditEvent, CustomerPage, Delivery, DeliveryRef, IdempotencyKey, Idempotent,
    QueueStats, ReviewCursor, ReviewItem, ReviewPage, ReviewQuery, ScopeState, Transition,
    TransitionPage, WriteContext,
};
pub use observe::{CommitObserver, observe_commits};
pub use postgres::{PgSettings, PgStore};
pub use signals::StoreSignals;
pub use sqlite::SqliteStore;
pub use traits::{
    ControlReads, ControlStore, CustomerReads, CustomerStore, EventStore, FaultReads, FaultStore,
    QueueReads, QueueStore, ReviewReads, ReviewStore, Store, WebhookReads, WebhookStore,
};

/// Every area trait, for code that calls a concrete store (`SqliteStore`, `PgStore`) rather
/// than `dyn Store`.
pub mod prelude {
    pub use crate::traits::{
        ControlReads, ControlStore, CustomerReads, CustomerStore, EventStore, FaultReads,
        FaultStore, QueueReads, QueueStore, ReviewReads, ReviewStore, Store, WebhookReads,
        WebhookStore,
    };
}

// Types that moved to core, where the commands that use them live; named here too so that
// callers of the store find them with it.
pub use qualify_core::commands::control::{FixtureMode, FixtureOutcome, SeedRecord};
pub use qualify_core::commands::qualifications::CountedRead;
pub use qualify_core::faults::FaultHit;
pub use qualify_core::webhooks::{Attempt, DeliveryStatus, SigningKey};
