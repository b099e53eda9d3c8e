//! The one way a backend runs any write: a command of `qualify_core::commands`, in a
//! transaction the backend opened —
//!
//! 1. **clocks**: the owner's domain time (its clock, else the global clock, else wall time),
//!    read in the transaction (on PostgreSQL this also takes the partner's shared write lock);
//! 2. **idempotency**: the stored answer of an earlier request with the same `MS-RequestId`
//!    is replayed (409 when the key was used for another request; a record older than the
//!    window on the partner's clock is claimed anew);
//! 3. **load** the command's snapshot (`Load`, the backend's SQL; locks what the plan relies on);
//! 4. **plan** (pure, in core); 5. **apply** the effects (`Tx::apply`, the backend's SQL), which
//!    notes what the commit must signal; 6. **remember** the answer under the key.
//!
//! The backend then commits and signals (`StoreSignals::notify` with what `apply` noted). A
//! rejection that is the request's own outcome is remembered too, after the rollback
//! ([`settle`]), so that a retry gets the same answer.

use std::future::Future;

use qualify_core::clock::PartnerClocks;
use qualify_core::command::{Applied, Command, Owner};
use qualify_core::effects::{Counts, Effect, Signals, Stamp};
use qualify_core::rules::replays;
use qualify_core::{CustomerId, DomainError, ErrorKind, PartnerId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::error::{StoreError, StoreResult};
use crate::model::{IdempotencyKey, Idempotent, WriteContext};
use crate::rows;

/// Who runs a write, and when: what the pipeline needs beyond the command (owned, so that it
/// can travel to the SQLite writer's thread).
#[derive(Debug, Clone)]
pub(crate) struct Run {
    /// Wall time of the write.
    pub wall: OffsetDateTime,
    /// The domain time the caller chose (a job run at its due time); otherwise the owner's
    /// clock at `wall`.
    pub at: Option<OffsetDateTime>,
    pub actor: String,
    /// `MS-RequestId` / `MS-CorrelationId` of the request behind it.
    pub ids: Option<(String, String)>,
    pub key: Option<IdempotencyKey>,
}

/// The actor of writes that no request or reviewer makes (the worker, the control plane).
pub(crate) const SYSTEM_ACTOR: &str = "qualify";

impl Run {
    /// A request's write: its ids, its actor and its idempotency key.
    pub fn request(ctx: &WriteContext) -> Self {
        Self {
            wall: ctx.wall,
            at: None,
            actor: ctx.actor.clone(),
            ids: Some((ctx.request_id.clone(), ctx.correlation_id.clone())),
            key: ctx.idempotency.clone(),
        }
    }

    /// A write of qualify's own at wall time `wall`.
    pub fn system(wall: OffsetDateTime) -> Self {
        Self {
            wall,
            at: None,
            actor: SYSTEM_ACTOR.to_owned(),
            ids: None,
            key: None,
        }
    }

    /// A write of qualify's own at domain time `at` (whatever the owner's clock says).
    pub fn at(at: OffsetDateTime) -> Self {
        Self {
            at: Some(at),
            ..Run::system(at)
        }
    }

    fn stamp(&self, at: OffsetDateTime) -> Stamp<'_> {
        Stamp {
            at,
            actor: &self.actor,
            ids: self.ids.as_ref().map(|(r, c)| (r.as_str(), c.as_str())),
        }
    }
}

/// An idempotency record, as stored.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub fingerprint: String,
    /// `None` while the request that claimed the key has not answered (PostgreSQL).
    pub response: Option<String>,
    /// The partner's time when it was recorded.
    pub recorded: OffsetDateTime,
}

/// What a command's snapshot may be: whether (how many) rows of one kind exist.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Probe<'a> {
    /// The unfinished job `job` whose lease `owner` holds.
    Lease { job: i64, owner: &'a str },
    /// The fault with this id.
    Fault(&'a str),
    /// Every fault, or those of one partner.
    Faults(Option<PartnerId>),
    /// A partner's webhook registration.
    Registration(PartnerId),
    /// The delivery with this id.
    Delivery(i64),
}

/// The steps of the pipeline that are SQL: each backend's transaction implements them.
pub(crate) trait Tx: Send {
    /// The partner that owns a customer.
    fn owner_of(
        &mut self,
        customer: CustomerId,
    ) -> impl Future<Output = StoreResult<Option<PartnerId>>> + Send;
    /// The clocks that decide `partner`'s domain time (and, where the backend needs it, the
    /// partner's shared write lock: a reset of the partner waits for this write).
    fn clocks(
        &mut self,
        partner: PartnerId,
    ) -> impl Future<Output = StoreResult<PartnerClocks>> + Send;
    /// Claims `key` for this write: `None` when it is new (or was claimed here), else the
    /// record of the earlier request (waiting for it to answer where the backend can).
    fn claim(
        &mut self,
        key: &IdempotencyKey,
        wall: OffsetDateTime,
        now: OffsetDateTime,
    ) -> impl Future<Output = StoreResult<Option<Record>>> + Send;
    /// Claims `key` again: the earlier record is out of the replay window.
    fn reclaim(
        &mut self,
        key: &IdempotencyKey,
        wall: OffsetDateTime,
        now: OffsetDateTime,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Stores the answer of a write that claimed `key`.
    fn remember(
        &mut self,
        key: &IdempotencyKey,
        wall: OffsetDateTime,
        now: OffsetDateTime,
        response: String,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Stores a rejection under `key` unless a record exists (after the write rolled back).
    fn remember_rejection(
        &mut self,
        key: &IdempotencyKey,
        wall: OffsetDateTime,
        now: OffsetDateTime,
        response: String,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// How many rows `probe` finds (a lease held, a fault, a registration, a delivery).
    fn count(&mut self, probe: Probe<'_>) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Writes one effect (its SQL); `inserted` is the id of the row the plan inserted last.
    fn write(
        &mut self,
        effect: &Effect,
        inserted: Option<i64>,
    ) -> impl Future<Output = StoreResult<Written>> + Send;
    /// Notes what the commit must signal.
    fn signal(&mut self, signals: Signals);
}

/// What writing one effect did.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Written {
    /// Rows its statement changed (of the statement that decides, for an effect of several).
    pub rows: u64,
    /// The id the database gave the row it inserted, when it has one.
    pub id: Option<i64>,
    /// What a `ClearScope` removed.
    pub removed: Option<Counts>,
}

impl Written {
    pub fn rows(rows: u64) -> Self {
        Self {
            rows,
            ..Self::default()
        }
    }

    pub fn id(id: i64) -> Self {
        Self {
            rows: 1,
            id: Some(id),
            removed: None,
        }
    }
}

/// What an effect's statement must have changed — else the write fails with this error and
/// rolls back. A store never goes below zero, never decides twice, never reuses an id.
fn expect(effect: &Effect, rows: u64) -> StoreResult<()> {
    let failed = match effect {
        Effect::SpendValidationCode { .. } => {
            DomainError::of(ErrorKind::ValidationCodeExhausted).into()
        }
        Effect::DecideQualification { .. } => DomainError::of(ErrorKind::AlreadyDecided).into(),
        Effect::InsertValidationCode { .. } => StoreError::Taken,
        _ => return Ok(()),
    };
    if rows == 1 { Ok(()) } else { Err(failed) }
}

/// Applies a plan's effects in order (each one's SQL, then what it must have changed) and notes
/// what the commit must signal.
pub(crate) async fn apply<T: Tx>(tx: &mut T, effects: &[Effect]) -> StoreResult<Applied> {
    let mut applied = Applied::default();
    for effect in effects {
        let written = tx.write(effect, applied.inserted).await?;
        expect(effect, written.rows)?;
        // Later effects name the row inserted last (`QualificationRef::Inserted`).
        applied.inserted = written.id.or(applied.inserted);
        if let Some(removed) = written.removed {
            applied.removed = removed;
        }
    }
    tx.signal(Signals::of(effects));
    Ok(applied)
}

/// A backend: the type of its transactions.
pub(crate) trait Backend: Send + Sync + 'static {
    type Tx<'t>: Tx;
}

/// What a backend loads (and locks) for command `C`: SQL.
pub(crate) trait Load<C: Command>: Backend {
    /// `owner` is the command's owner partner, when it has one (resolved by the pipeline).
    fn load(
        tx: &mut Self::Tx<'_>,
        command: &C,
        owner: Option<PartnerId>,
    ) -> impl Future<Output = StoreResult<C::Snapshot>> + Send;
}

/// The owner partner of a command and its domain time.
async fn owner_and_time<T: Tx>(
    tx: &mut T,
    run: &Run,
    owner: Owner,
) -> StoreResult<(Option<PartnerId>, OffsetDateTime)> {
    let partner = match owner {
        Owner::Partner(p) => Some(p),
        Owner::OwnerOf(customer) => tx.owner_of(customer).await?,
        Owner::Nobody => None,
    };
    let clocks = match partner {
        Some(p) => Some(tx.clocks(p).await?),
        None => None,
    };
    let now = match (run.at, clocks) {
        (Some(at), _) => at,
        (None, Some(c)) => c.now(run.wall),
        (None, None) => run.wall,
    };
    Ok((partner, now))
}

/// Loads, plans and applies `command` at `now`; plans again (another random id) when an
/// inserted id is taken, up to `C::ATTEMPTS` times. A plan's taken id can only be its first
/// effect (nothing before it to undo).
async fn decide<B: Load<C>, C: Command>(
    tx: &mut B::Tx<'_>,
    run: &Run,
    command: &C,
    owner: Option<PartnerId>,
    now: OffsetDateTime,
) -> StoreResult<C::Answer> {
    let stamp = run.stamp(now);
    let mut left = C::ATTEMPTS.max(1);
    loop {
        let snapshot = B::load(tx, command, owner).await?;
        let planned = command.plan(snapshot, stamp)?;
        match apply(tx, &planned.effects).await {
            Ok(applied) => {
                return command
                    .complete(planned.answer, applied)
                    .map_err(StoreError::backend);
            }
            Err(StoreError::Taken) if left > 1 => left -= 1,
            Err(StoreError::Taken) => {
                return Err(StoreError::backend(format!(
                    "no free id after {} tries",
                    C::ATTEMPTS
                )));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Runs a write that no idempotency key guards.
pub(crate) async fn run<B: Load<C>, C: Command>(
    tx: &mut B::Tx<'_>,
    run: &Run,
    command: &C,
) -> StoreResult<C::Answer> {
    let (owner, now) = owner_and_time(tx, run, command.owner()).await?;
    decide::<B, C>(tx, run, command, owner, now).await
}

/// Runs a request's write: replays the stored answer of an earlier request with the same key,
/// else runs it and remembers its answer.
pub(crate) async fn run_idempotent<B: Load<C>, C: Command>(
    tx: &mut B::Tx<'_>,
    run: &Run,
    command: &C,
) -> StoreResult<Idempotent<C::Answer>>
where
    C::Answer: Serialize + DeserializeOwned,
{
    let (owner, now) = owner_and_time(tx, run, command.owner()).await?;
    let Some(key) = &run.key else {
        let value = decide::<B, C>(tx, run, command, owner, now).await?;
        return Ok(Idempotent {
            value,
            replayed: false,
        });
    };
    if let Some(record) = tx.claim(key, run.wall, now).await? {
        if replays(record.recorded, now) {
            if record.fingerprint != key.fingerprint {
                return Err(DomainError::of(ErrorKind::IdempotencyKeyReused).into());
            }
            let response = record
                .response
                .ok_or_else(|| StoreError::backend("an idempotency record without its answer"))?;
            return Ok(Idempotent {
                value: rows::replayed(&response)?,
                replayed: true,
            });
        }
        tx.reclaim(key, run.wall, now).await?;
    }
    let value = decide::<B, C>(tx, run, command, owner, now).await?;
    tx.remember(key, run.wall, now, rows::stored_ok(&value)?)
        .await?;
    Ok(Idempotent {
        value,
        replayed: false,
    })
}

/// After a request's write was rejected and rolled back: remembers the rejection under its key
/// (in a transaction of its own), when it is the request's own outcome — so that a retry with
/// the same `MS-RequestId` gets the same answer.
pub(crate) async fn settle<T: Tx>(tx: &mut T, run: &Run, error: &StoreError) -> StoreResult<()> {
    let (Some(key), Some(rejection)) = (&run.key, rows::is_storable(error)) else {
        return Ok(());
    };
    let now = tx.clocks(key.partner).await?.now(run.wall);
    tx.remember_rejection(key, run.wall, now, rows::stored_err(rejection)?)
        .await
}

/// Whether a write's failure is to be settled (a rejection with a key).
pub(crate) fn needs_settling(run: &Run, error: &StoreError) -> bool {
    run.key.is_some() && rows::is_storable(error).is_some()
}

/// How a backend runs commands: in a transaction of its own, committed, with its signals sent.
pub(crate) trait Executes: Backend {
    /// Runs a write that no idempotency key guards.
    fn execute<C>(
        &self,
        run: Run,
        command: C,
    ) -> impl Future<Output = StoreResult<C::Answer>> + Send
    where
        Self: Load<C>,
        C: Command + 'static,
        C::Answer: 'static;

    /// Runs a request's write under its idempotency key (replayed, or remembered; a rejection
    /// is remembered after the rollback).
    fn execute_idempotent<C>(
        &self,
        run: Run,
        command: C,
    ) -> impl Future<Output = StoreResult<Idempotent<C::Answer>>> + Send
    where
        Self: Load<C>,
        C: Command + 'static,
        C::Answer: Serialize + DeserializeOwned + 'static;
}
