//! The test control plane's state (control.md 1-4): clocks, scenarios, fixtures (seed, restore,
//! and so reset).

use time::OffsetDateTime;

use crate::clock::{ClockChange, ClockPlan, ClockSetting, plan_clock};
use crate::command::{Applied, Command, Owner, Planned};
use crate::effects::{Counts, Effect, Scope, Stamp};
use crate::error::DomainError;
use crate::fixture::{Fixture, SeedSnapshot, plan_restore, plan_seed};
use crate::ids::PartnerId;
use crate::policy::VettingPolicy;
use crate::scenario::Scenario;

/// The clocks a change of a scope's clock reads: the scope's own, and the global one (the time
/// a partner without a clock of its own follows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClockState {
    pub own: Option<ClockSetting>,
    pub global: Option<ClockSetting>,
}

impl ClockState {
    /// What `change` does to `scope`'s clock at wall time `wall` (control.md 4).
    pub fn plan(
        &self,
        scope: Scope,
        wall: OffsetDateTime,
        change: ClockChange,
    ) -> Result<ClockPlan, DomainError> {
        let inherited = match scope {
            Scope::All => wall,
            Scope::Partner(_) => self.global.map_or(wall, |g| g.now(wall)),
        };
        plan_clock(self.own, inherited, wall, change)
    }
}

/// Changes a scope's clock (`Scope::All`: the global clock); 409 when time would go back.
#[derive(Debug, Clone, Copy)]
pub struct ChangeClock {
    pub scope: Scope,
    pub change: ClockChange,
}

impl Command for ChangeClock {
    /// The clocks (the scope locked against concurrent writes of its partners).
    type Snapshot = ClockState;
    type Answer = ClockPlan;

    fn owner(&self) -> Owner {
        Owner::Nobody
    }

    fn plan(&self, state: ClockState, stamp: Stamp<'_>) -> Result<Planned<ClockPlan>, DomainError> {
        let plan = state.plan(self.scope, stamp.at, self.change)?;
        let effect = Effect::SetClock {
            scope: self.scope,
            setting: plan.setting,
        };
        Ok(Planned::new(vec![effect], plan))
    }
}

/// Sets (or, with `None`, removes) a partner's vetting scenario (control.md 3).
#[derive(Debug, Clone)]
pub struct SetScenario {
    pub partner: PartnerId,
    /// The rules, and the document the API shows for them.
    pub scenario: Option<(Scenario, serde_json::Value)>,
}

impl Command for SetScenario {
    type Snapshot = ();
    type Answer = ();

    fn owner(&self) -> Owner {
        Owner::Nobody
    }

    fn plan(&self, (): (), _: Stamp<'_>) -> Result<Planned<()>, DomainError> {
        let effect = Effect::SetScenario {
            partner: self.partner,
            scenario: self.scenario.clone(),
        };
        Ok(Planned::new(vec![effect], ()))
    }
}

/// How a fixture is applied (control.md 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixtureMode {
    /// An upsert by id. `record` remembers a `--seed` document (by its SHA-256), so that a
    /// restart does not apply it again and a reset applies it anew.
    Seed { record: Option<SeedRecord> },
    /// Replaces the scope with the document: a reset, then a seed.
    Restore(Scope),
}

/// A `--seed` document and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedRecord {
    pub sha256: String,
    pub document: String,
}

/// What applying a fixture did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FixtureOutcome {
    /// What the reset of a restore removed.
    pub removed: Counts,
    /// What the document added or replaced.
    pub applied: Counts,
}

/// Applies a fixture — a seed or a restore — by the plans of [`crate::fixture`], all or nothing,
/// in one transaction that the scope's partners' writes do not interleave with.
#[derive(Debug, Clone)]
pub struct ApplyFixture {
    pub mode: FixtureMode,
    pub fixture: Fixture,
    pub policy: VettingPolicy,
}

impl ApplyFixture {
    /// The scopes whose writes the application excludes while it runs (a restore's scope, or
    /// each partner a seed names), in one order for every application, so that two never wait
    /// for each other.
    pub fn scopes(&self) -> Vec<Scope> {
        match &self.mode {
            FixtureMode::Restore(scope) => vec![*scope],
            FixtureMode::Seed { .. } => {
                let mut ids: Vec<PartnerId> = self.fixture.partners.iter().map(|p| p.id).collect();
                ids.sort();
                ids.dedup();
                ids.into_iter().map(Scope::Partner).collect()
            }
        }
    }
}

impl Command for ApplyFixture {
    /// The stored state of what the document names.
    type Snapshot = SeedSnapshot;
    type Answer = FixtureOutcome;

    fn owner(&self) -> Owner {
        Owner::Nobody
    }

    fn plan(
        &self,
        snapshot: SeedSnapshot,
        stamp: Stamp<'_>,
    ) -> Result<Planned<FixtureOutcome>, DomainError> {
        let wall = stamp.at;
        let mut plan = match &self.mode {
            FixtureMode::Seed { .. } => plan_seed(&self.fixture, &snapshot, wall, &self.policy)?,
            FixtureMode::Restore(scope) => {
                plan_restore(*scope, &self.fixture, &snapshot, wall, &self.policy)?
            }
        };
        if let FixtureMode::Seed {
            record: Some(record),
        } = &self.mode
        {
            plan.effects.push(Effect::RecordSeed {
                sha256: record.sha256.clone(),
                document: record.document.clone(),
                at: wall,
            });
        }
        let outcome = FixtureOutcome {
            removed: Counts::default(),
            applied: plan.counts,
        };
        Ok(Planned::new(plan.effects, outcome))
    }

    fn complete(&self, answer: FixtureOutcome, applied: Applied) -> Result<FixtureOutcome, String> {
        Ok(FixtureOutcome {
            removed: applied.removed,
            ..answer
        })
    }
}
