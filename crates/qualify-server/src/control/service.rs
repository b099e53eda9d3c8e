//! The test control plane's service (control.md 1-4): resets, seeds, restores and snapshots of
//! a scope, vetting scenarios, and the clocks (an advance is [`super::advance`]'s). What a
//! document means is a plan in `qualify-core` (`fixture`, `scenario`, `clock`); this service
//! runs it and keeps what lives outside the store's transaction in step: the traffic state a
//! reset clears. (The work a change makes due wakes the worker through the store's signal.)

use std::sync::Arc;
use std::time::Duration;

use qualify_core::ErrorKind;
use qualify_core::PartnerId;
use qualify_core::clock::{ClockChange, ClockSetting};
use qualify_core::engine::{Counts, Scope};
use qualify_core::fixture::Fixture;
use qualify_core::policy::VettingPolicy;
use qualify_core::scenario::Scenario;
use qualify_store::{FixtureMode, SeedRecord, Store};
use time::OffsetDateTime;

use super::fixture_doc::FixtureDoc;
use crate::chain::Chain;
use crate::clock::Time;
use crate::http::error::{ApiError, ApiResult};
use crate::http::strict::parse_strict;
use crate::jobs::Worker;
use crate::traffic::service::Traffic;

#[derive(Clone)]
pub struct Control(pub(super) Arc<Inner>);

pub(super) struct Inner {
    pub(super) store: Arc<dyn Store>,
    pub(super) time: Time,
    policy: VettingPolicy,
    /// `--clock frozen:T`: where a global reset puts the global clock back.
    start_clock: Option<OffsetDateTime>,
    /// How long an advance may run its scope's due work.
    pub(super) advance_timeout: Duration,
    traffic: Traffic,
    pub(super) worker: Worker,
}

/// The settings the control plane keeps.
pub struct ControlSettings {
    pub policy: VettingPolicy,
    pub start_clock: Option<OffsetDateTime>,
    pub advance_timeout: Duration,
}

/// A scope's clock as control.md 4 shows it.
pub struct ClockView {
    pub now: OffsetDateTime,
    /// `None`: real time.
    pub setting: Option<ClockSetting>,
    /// Whether a partner scope has a clock of its own (else it follows the global one).
    pub own: bool,
}

impl Control {
    pub fn new(
        store: Arc<dyn Store>,
        time: Time,
        settings: ControlSettings,
        traffic: Traffic,
        worker: Worker,
    ) -> Self {
        Self(Arc::new(Inner {
            store,
            time,
            policy: settings.policy,
            start_clock: settings.start_clock,
            advance_timeout: settings.advance_timeout,
            traffic,
            worker,
        }))
    }

    fn store(&self) -> &dyn Store {
        self.0.store.as_ref()
    }

    // ---- reset and fixtures ----------------------------------------------------------------

    /// The part of the `--seed` document applied last that belongs to `scope`: what a reset
    /// goes back to.
    async fn seed_of(&self, scope: Scope) -> ApiResult<Fixture> {
        let Some(text) = self.store().current_seed().await? else {
            return Ok(Fixture::default());
        };
        let mut fixture = parse_strict::<FixtureDoc>(text.as_bytes())
            .and_then(|d| d.to_fixture())
            .map_err(|e| {
                ApiError::of(ErrorKind::Internal).caused_by(StoredSeed(e.error.description))
            })?;
        if let Scope::Partner(p) = scope {
            fixture.partners.retain(|x| x.id == p);
        }
        Ok(fixture)
    }

    /// Resets a scope to how the server started (empty, or what `--seed` loaded), atomically.
    pub async fn reset(&self, scope: Scope) -> ApiResult<Counts> {
        let seed = self.seed_of(scope).await?;
        let outcome = self
            .store()
            .apply_fixture(
                FixtureMode::Restore(scope),
                &seed,
                self.0.time.wall(),
                &self.0.policy,
            )
            .await?
            .removed;
        // Faults and journal entries are the scope's too (control.md 1); they live outside the
        // fixture's transaction, and are cleared once it has committed.
        self.0.traffic.clear(scope.partner()).await?;
        if let (Scope::All, Some(at)) = (scope, self.0.start_clock) {
            self.store()
                .change_clock(Scope::All, self.0.time.wall(), ClockChange::Freeze(at))
                .await?;
        }
        tracing::info!(scope = %scope_name(scope), customers = outcome.customers,
            qualifications = outcome.qualifications, validation_codes = outcome.validation_codes,
            "control: reset");
        Ok(outcome)
    }

    /// Applies a seed document given as bytes (`serve --seed FILE`): at most once per document
    /// (by its SHA-256), remembered so that a reset applies it again. Returns what it applied,
    /// or `None` when the database had applied this document already.
    pub async fn seed_at_start(&self, bytes: &[u8]) -> Result<Option<Counts>, String> {
        use sha2::Digest;
        let doc = parse_strict::<FixtureDoc>(bytes).map_err(|e| e.error.description)?;
        let fixture = doc.to_fixture().map_err(|e| e.error.description)?;
        let sha256: String = sha2::Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if self
            .store()
            .seed_applied(&sha256)
            .await
            .map_err(|e| Chain(&e).to_string())?
        {
            return Ok(None);
        }
        let document = String::from_utf8_lossy(bytes).into_owned();
        let outcome = self
            .store()
            .apply_fixture(
                FixtureMode::Seed {
                    record: Some(SeedRecord { sha256, document }),
                },
                &fixture,
                self.0.time.wall(),
                &self.0.policy,
            )
            .await
            .map_err(|e| match e {
                qualify_store::StoreError::Domain(d) => d.description,
                other => Chain(&other).to_string(),
            })?;
        Ok(Some(outcome.applied))
    }

    /// Applies a fixture document: an upsert by id, all or nothing.
    pub async fn seed(&self, doc: &FixtureDoc) -> ApiResult<Counts> {
        let fixture = doc.to_fixture()?;
        let outcome = self
            .store()
            .apply_fixture(
                FixtureMode::Seed { record: None },
                &fixture,
                self.0.time.wall(),
                &self.0.policy,
            )
            .await?;
        tracing::info!(
            partners = fixture.partners.len(),
            customers = outcome.applied.customers,
            "control: seed"
        );
        Ok(outcome.applied)
    }

    /// Replaces a scope's state with a fixture document, in one transaction (a reset, then a
    /// seed); returns what it applied.
    pub async fn restore(&self, scope: Scope, doc: &FixtureDoc) -> ApiResult<Counts> {
        let fixture = doc.to_fixture()?;
        let outcome = self
            .store()
            .apply_fixture(
                FixtureMode::Restore(scope),
                &fixture,
                self.0.time.wall(),
                &self.0.policy,
            )
            .await?;
        self.0.traffic.clear(scope.partner()).await?;
        tracing::info!(scope = %scope_name(scope), customers = outcome.applied.customers, "control: restore");
        Ok(outcome.applied)
    }

    /// The fixture document of a scope's state.
    pub async fn snapshot(&self, scope: Scope) -> ApiResult<FixtureDoc> {
        let fixture = self.store().snapshot(scope).await?;
        Ok(FixtureDoc::from_fixture(&fixture))
    }

    // ---- scenarios -------------------------------------------------------------------------

    /// Sets a partner's scenario, with the document to keep (what GET shows).
    pub async fn set_scenario(
        &self,
        partner: PartnerId,
        scenario: Scenario,
        document: serde_json::Value,
    ) -> ApiResult<()> {
        self.store()
            .set_scenario(partner, Some((scenario, document)))
            .await?;
        Ok(())
    }

    /// A partner's scenario document, `None` when it has none.
    pub async fn scenario(&self, partner: PartnerId) -> ApiResult<Option<serde_json::Value>> {
        Ok(self.store().scenario(partner).await?)
    }

    pub async fn delete_scenario(&self, partner: PartnerId) -> ApiResult<()> {
        self.store().set_scenario(partner, None).await?;
        tracing::info!(%partner, "control: vetting scenario removed");
        Ok(())
    }

    // ---- clocks ----------------------------------------------------------------------------

    /// A scope's time: its clock, a partner's else the global one, else real time.
    pub async fn clock(&self, scope: Scope) -> ApiResult<ClockView> {
        let wall = self.0.time.wall();
        let own = self.store().clock(scope).await?;
        let (setting, own) = match (scope, own) {
            (Scope::Partner(_), Some(own)) => (Some(own), true),
            (Scope::Partner(_), None) => (self.store().clock(Scope::All).await?, false),
            (Scope::All, own) => (own, false),
        };
        Ok(ClockView {
            now: setting.map_or(wall, |s| s.now(wall)),
            setting,
            own,
        })
    }

    /// Freezes, resumes or removes a scope's clock (an advance is [`Self::advance`]).
    pub async fn change_clock(&self, scope: Scope, change: ClockChange) -> ApiResult<ClockView> {
        self.store()
            .change_clock(scope, self.0.time.wall(), change)
            .await?;
        tracing::info!(scope = %scope_name(scope), change = ?change, "control: clock changed");
        self.clock(scope).await
    }
}

pub fn scope_name(scope: Scope) -> String {
    match scope {
        Scope::All => "global".to_owned(),
        Scope::Partner(p) => p.to_string(),
    }
}

/// The stored `--seed` document no longer parses (a server bug, or a hand-edited database).
#[derive(Debug)]
struct StoredSeed(String);

impl std::fmt::Display for StoredSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the stored --seed document does not parse: {}", self.0)
    }
}

impl std::error::Error for StoredSeed {}
