//! The wire types of the control plane's answers and small bodies (control.md 1, 4). Its
//! documents (fixtures, scenarios) are [`super::fixture_doc`] and [`super::scenario_doc`].

use qualify_core::clock::ClockSetting;
use qualify_core::engine::Counts;
use qualify_store::AppliedTransition;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::service::ClockView;
use crate::http::schemas::{QualificationSchema, VettingStatusSchema};
use crate::http::strict::write_instant;

/// What a reset removed, or what a seed or restore applied.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ControlCounts)]
pub struct CountsOut {
    pub customers: u64,
    pub qualifications: u64,
    pub validation_codes: u64,
}

impl From<Counts> for CountsOut {
    fn from(c: Counts) -> Self {
        Self {
            customers: c.customers,
            qualifications: c.qualifications,
            validation_codes: c.validation_codes,
        }
    }
}

/// A scope's time.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ClockState)]
pub struct ClockOut {
    /// The scope's current time (RFC 3339 UTC).
    pub now: String,
    /// `system` (real time), `frozen` or `running` (a fixed offset from real time).
    #[schema(pattern = "^(system|frozen|running)$")]
    pub mode: &'static str,
    /// `partner` when the partner has a clock of its own, else `global`.
    #[schema(pattern = "^(global|partner)$")]
    pub scope: &'static str,
}

impl From<ClockView> for ClockOut {
    fn from(v: ClockView) -> Self {
        Self {
            now: write_instant(v.now),
            mode: v.setting.map_or("system", |s: ClockSetting| s.mode()),
            scope: if v.own { "partner" } else { "global" },
        }
    }
}

/// `PUT .../clock`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = FreezeClock)]
pub struct FreezeIn {
    /// RFC 3339.
    pub frozen_at: String,
}

/// `POST .../clock/advance`: `by` or `to`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = AdvanceClock)]
pub struct AdvanceIn {
    /// A duration (`72h`, `PT72H`).
    #[serde(default)]
    pub by: Option<String>,
    /// An instant (RFC 3339).
    #[serde(default)]
    pub to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ClockAdvanced)]
pub struct AdvancedOut {
    pub now: String,
    /// Each transition the advance caused, in order.
    pub applied: Vec<AppliedOut>,
}

/// A transition a clock advance caused (also the `data` of the 503 of an advance that did not
/// finish in time).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AppliedTransition)]
pub struct AppliedOut {
    #[schema(format = Uuid)]
    pub customer_id: String,
    #[schema(value_type = QualificationSchema)]
    pub qualification: &'static str,
    #[schema(value_type = VettingStatusSchema)]
    pub from: &'static str,
    #[schema(value_type = VettingStatusSchema)]
    pub to: &'static str,
    /// A denial's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<String>,
    /// When it happened, by the scope's clock (RFC 3339 UTC).
    pub at: String,
}

impl From<&AppliedTransition> for AppliedOut {
    fn from(t: &AppliedTransition) -> Self {
        Self {
            customer_id: t.customer_id.to_string(),
            qualification: t.qualification.name(),
            from: t.from.name(),
            to: t.to.name(),
            reason: t.reason.clone(),
            at: write_instant(t.at),
        }
    }
}
