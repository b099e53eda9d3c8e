//! Fault injection (control.md section 5), the server's side of the list: every change to it,
//! and this instance's copy of it.
//!
//! The store is authoritative (`Store::hit_faults` decides each hit in one transaction); the
//! copy here only says which requests may match, so that with no fault configured a `/v1`
//! request costs one atomic load and no database round trip. The copy reloads itself: after
//! every change made through it, whenever the store signals a change made elsewhere
//! (PostgreSQL: `LISTEN/NOTIFY`, within milliseconds), and every [`RELOAD_EVERY`] in any case
//! (a notification lost while the listener reconnected). A fault that is gone from the database
//! but still in a copy is passed over by `hit_faults`; one that is new reaches another instance
//! with its notification.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use qualify_core::PartnerId;
use qualify_core::faults::{Fault, FaultSpec, RequestFacts};
use qualify_store::{FaultHit, Store, StoreResult};
use time::OffsetDateTime;

use crate::chain::Chain;

/// How often the copy is read again without a signal.
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// The fault list: changes go to the store, reads of the hot path to this instance's copy.
#[derive(Clone)]
pub struct Faults(Arc<Inner>);

struct Inner {
    store: Arc<dyn Store>,
    /// The copy, in evaluation order.
    list: RwLock<Arc<Vec<Fault>>>,
    empty: AtomicBool,
    /// One reload at a time, so the last one to start is the last one to install its list.
    reloading: tokio::sync::Mutex<()>,
}

impl Faults {
    /// The list of `store`, loaded, and kept current until the last handle is dropped.
    pub async fn start(store: Arc<dyn Store>) -> Self {
        let faults = Self(Arc::new(Inner {
            store,
            list: RwLock::new(Arc::new(Vec::new())),
            empty: AtomicBool::new(true),
            reloading: tokio::sync::Mutex::new(()),
        }));
        faults.reload().await;
        spawn_reloader(Arc::downgrade(&faults.0));
        faults
    }

    /// No fault is configured (the hot path's one check).
    pub fn is_empty(&self) -> bool {
        self.0.empty.load(Ordering::Acquire)
    }

    /// The ids of the faults whose `match` holds for the request, in evaluation order.
    pub fn candidates(&self, facts: &RequestFacts<'_>) -> Vec<String> {
        let list = self
            .0
            .list
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        list.iter()
            .filter(|f| f.spec.matches.holds(facts))
            .map(|f| f.id.clone())
            .collect()
    }

    /// A request reached `candidates`: the store decides which fires (a fault that fired its
    /// last time leaves the list).
    pub async fn hit(&self, candidates: &[String]) -> StoreResult<Option<FaultHit>> {
        let hit = self.0.store.hit_faults(candidates).await?;
        if hit.as_ref().is_some_and(|h| h.removed) {
            self.reload().await;
        }
        Ok(hit)
    }

    /// A new fault, last in evaluation order.
    pub async fn add(&self, spec: &FaultSpec, wall: OffsetDateTime) -> StoreResult<Fault> {
        let id = uuid::Uuid::new_v4().to_string();
        let fault = self.0.store.add_fault(&id, spec, wall).await;
        self.reload().await;
        fault
    }

    /// The faults (whose `match.partner` is `partner`, or all), in evaluation order.
    pub async fn list(&self, partner: Option<PartnerId>) -> StoreResult<Vec<Fault>> {
        self.0.store.faults(partner).await
    }

    /// Removes one fault; `false` when there was none with that id.
    pub async fn remove(&self, id: &str) -> StoreResult<bool> {
        let removed = self.0.store.remove_fault(id).await;
        self.reload().await;
        removed
    }

    /// Removes every fault, or a partner's; returns how many.
    pub async fn clear(&self, partner: Option<PartnerId>) -> StoreResult<u64> {
        let removed = self.0.store.clear_faults(partner).await;
        self.reload().await;
        removed
    }

    async fn reload(&self) {
        self.0.reload().await
    }
}

impl Inner {
    async fn reload(&self) {
        let _one = self.reloading.lock().await;
        match self.store.faults(None).await {
            Ok(list) => {
                self.empty.store(list.is_empty(), Ordering::Release);
                *self.list.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(list);
            }
            Err(e) => tracing::warn!(error = %Chain(&e), "reading the fault list failed"),
        }
    }
}

/// Reloads the copy on the store's signal (or every [`RELOAD_EVERY`]) while it is in use.
fn spawn_reloader(faults: Weak<Inner>) {
    let Some(inner) = faults.upgrade() else {
        return;
    };
    let mut signal = inner.store.signals().faults();
    drop(inner);
    tokio::spawn(async move {
        loop {
            let _ = tokio::time::timeout(RELOAD_EVERY, signal.changed()).await;
            let Some(inner) = faults.upgrade() else {
                return;
            };
            inner.reload().await;
        }
    });
}
