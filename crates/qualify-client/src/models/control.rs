//! The test control plane (control.md 1-4): fixtures, scenarios, clocks.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::enums::*;
use super::open_enum::open_enum;
use super::resources::*;

// ---- The test control plane, state (control.md 1-4) ------------------------------------------

/// Unknown keys of a control document, kept as they came so that a document read from a newer
/// server (a snapshot) is written back whole (a restore). Control endpoints refuse keys they do
/// not know, so this stays empty in documents you build yourself.
pub type ExtraFields = serde_json::Map<String, serde_json::Value>;

/// What a reset removed, or what a seed or restore applied (added or replaced).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlCounts {
    #[serde(default)]
    pub customers: u64,
    #[serde(default)]
    pub qualifications: u64,
    #[serde(default)]
    pub validation_codes: u64,
}

/// The fixture document (control.md 2): one format for `serve --seed FILE`, `seed`, `snapshot`
/// and `restore`. Its JSON Schema is [`Admin::fixture_schema`](crate::Admin::fixture_schema).
///
/// ```
/// use qualify_client::{Fixture, FixtureCustomer, FixturePartner, FixtureQualification, Qualification, VettingStatus};
///
/// let doc = Fixture::new(vec![FixturePartner {
///     customers: vec![FixtureCustomer {
///         qualifications: vec![FixtureQualification {
///             vetting_status: Some(VettingStatus::Approved),
///             ..FixtureQualification::new(Qualification::StateOwnedEntity)
///         }],
///         ..FixtureCustomer::new("2b3f6a7e-1f1e-4c55-9b0a-3c2d1e0f9a8b")
///     }],
///     ..FixturePartner::new("9daaeb1c-4195-4db5-9f1d-509eb70c8c2d")
/// }]);
/// assert_eq!(serde_json::to_value(&doc).unwrap()["partners"][0]["customers"][0]["qualifications"][0]["vettingStatus"], "Approved");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fixture {
    /// The format's version: [`Fixture::VERSION`].
    pub version: u32,
    #[serde(default)]
    pub partners: Vec<FixturePartner>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new(vec![])
    }
}

impl Fixture {
    /// The version of the format this SDK writes.
    pub const VERSION: u32 = 1;

    pub fn new(partners: Vec<FixturePartner>) -> Self {
        Self {
            version: Self::VERSION,
            partners,
            extra: ExtraFields::new(),
        }
    }

    /// The document's entry for one partner tenant.
    pub fn partner(&self, partner_id: &str) -> Option<&FixturePartner> {
        self.partners
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(partner_id))
    }
}

/// One partner tenant's state in a [`Fixture`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixturePartner {
    /// The partner tenant id (GUID).
    pub id: String,
    #[serde(default)]
    pub validation_codes: Vec<FixtureValidationCode>,
    #[serde(default)]
    pub customers: Vec<FixtureCustomer>,
    /// The partner's vetting scenario; a snapshot writes it only for a partner that has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vetting: Option<Scenario>,
    /// The partner's own clock; a snapshot writes it only for a partner that has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<FixtureClock>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl FixturePartner {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }
}

/// A GCC validation code in a [`Fixture`], upserted by `validation_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureValidationCode {
    /// What a partner sends as `validationCode`.
    #[serde(deserialize_with = "string_or_number")]
    pub validation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    /// Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_creates: Option<i64>,
    /// Default `max_creates`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_creates: Option<i64>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// A customer in a [`Fixture`]: applying it replaces the stored customer as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureCustomer {
    /// The customer tenant id (GUID).
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_profile: Option<FixtureCompanyProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_profile: Option<FixtureBillingProfile>,
    /// The GDAP roles the partner holds over the customer.
    #[serde(default)]
    pub gdap_roles: Vec<GdapRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_status: Option<FixtureValidationStatus>,
    /// Oldest first.
    #[serde(default)]
    pub qualifications: Vec<FixtureQualification>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl FixtureCustomer {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }
}

/// A customer's company profile in a [`Fixture`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureCompanyProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_registration_number: Option<String>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// A customer's billing profile in a [`Fixture`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureBillingProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub culture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_address: Option<Address>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// A customer's account validation status in a [`Fixture`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureValidationStatus {
    pub status: AccountStatus,
    /// Default: the partner's clock.
    #[serde(
        default,
        with = "date::control",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_update_date_time: Option<OffsetDateTime>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl FixtureValidationStatus {
    pub fn new(status: AccountStatus) -> Self {
        Self {
            status,
            last_update_date_time: None,
            extra: ExtraFields::new(),
        }
    }
}

/// A qualification request in a [`Fixture`]. An `InReview` one gets a vetting job, decided by
/// the partner's scenario like a new request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureQualification {
    pub qualification: Qualification,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub education_segment: Option<EducationSegment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_code: Option<String>,
    /// `InReview` (the default), `Approved` or `Denied`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vetting_status: Option<VettingStatus>,
    /// Only with `Denied`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vetting_reason: Option<String>,
    /// Default: the partner's clock.
    #[serde(
        default,
        with = "date::control",
        skip_serializing_if = "Option::is_none"
    )]
    pub vetting_create_date: Option<OffsetDateTime>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl FixtureQualification {
    pub fn new(qualification: Qualification) -> Self {
        Self {
            qualification,
            education_segment: None,
            website: None,
            validation_code: None,
            vetting_status: None,
            vetting_reason: None,
            vetting_create_date: None,
            extra: ExtraFields::new(),
        }
    }
}

open_enum! {
    /// How a scope's clock runs (control.md 4).
    ClockMode {
        /// Real time (no clock of its own, or the global clock unset).
        System = "system",
        /// Time stands still.
        Frozen = "frozen",
        /// Real pace, at a fixed offset from real time.
        Running = "running",
    }
}

open_enum! {
    /// Whose clock a partner follows.
    ClockScope {
        Global = "global",
        Partner = "partner",
    }
}

/// A partner's own clock in a [`Fixture`]: frozen at `now`, or running `offset_seconds` from
/// real time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureClock {
    /// `frozen` or `running`.
    pub mode: ClockMode,
    #[serde(
        default,
        with = "date::control",
        skip_serializing_if = "Option::is_none"
    )]
    pub now: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_seconds: Option<f64>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl FixtureClock {
    pub fn frozen(at: OffsetDateTime) -> Self {
        Self {
            mode: ClockMode::Frozen,
            now: Some(at),
            offset_seconds: None,
            extra: ExtraFields::new(),
        }
    }

    pub fn running(offset_seconds: f64) -> Self {
        Self {
            mode: ClockMode::Running,
            now: None,
            offset_seconds: Some(offset_seconds),
            extra: ExtraFields::new(),
        }
    }
}

open_enum! {
    /// What a scenario rule decides (control.md 3).
    ScenarioOutcome {
        Approved = "Approved",
        /// Needs a `reason`.
        Denied = "Denied",
        /// The server's built-in policy (docs/vetting.md).
        Auto = "Auto",
        /// Waits for a reviewer.
        Manual = "Manual",
    }
}

/// A partner's vetting scenario (control.md 3): rules tried in order when a request is
/// recorded; the first whose `match` holds chooses the outcome.
///
/// ```
/// use std::time::Duration;
/// use qualify_client::{Qualification, Scenario, ScenarioRule};
///
/// let scenario = Scenario::new(vec![
///     ScenarioRule::approved().qualification(Qualification::Education).website("*.edu").after(Duration::from_secs(2)),
///     ScenarioRule::denied("Not an Education Customer").qualification(Qualification::Education).after_reads(2),
///     ScenarioRule::manual().qualification(Qualification::StateOwnedEntity),
///     ScenarioRule::auto(),
/// ]);
/// assert_eq!(serde_json::to_value(&scenario).unwrap()["rules"][0]["after"], "2s");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    #[serde(default)]
    pub rules: Vec<ScenarioRule>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl Scenario {
    pub fn new(rules: Vec<ScenarioRule>) -> Self {
        Self {
            rules,
            extra: ExtraFields::new(),
        }
    }
}

/// One rule of a [`Scenario`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioRule {
    /// Every key that is set must hold; the default matches every request.
    #[serde(rename = "match", default)]
    pub matches: RuleMatch,
    pub outcome: ScenarioOutcome,
    /// Required with `Denied`, refused otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A duration on the partner's clock from `vettingCreateDate`, as the server takes it
    /// (`2s`, `72h`, `PT72H`); see [`ScenarioRule::after`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// The partner's N-th read that includes the request is the first to show the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_reads: Option<u32>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl ScenarioRule {
    pub fn new(outcome: ScenarioOutcome) -> Self {
        Self {
            matches: RuleMatch::default(),
            outcome,
            reason: None,
            after: None,
            after_reads: None,
            extra: ExtraFields::new(),
        }
    }

    pub fn approved() -> Self {
        Self::new(ScenarioOutcome::Approved)
    }

    pub fn denied(reason: impl Into<String>) -> Self {
        Self {
            reason: Some(reason.into()),
            ..Self::new(ScenarioOutcome::Denied)
        }
    }

    /// The server's built-in policy decides.
    pub fn auto() -> Self {
        Self::new(ScenarioOutcome::Auto)
    }

    /// A reviewer decides.
    pub fn manual() -> Self {
        Self::new(ScenarioOutcome::Manual)
    }

    /// Only requests for this qualification.
    pub fn qualification(mut self, qualification: Qualification) -> Self {
        self.matches.qualification = Some(qualification);
        self
    }

    /// Only Education requests of this segment.
    pub fn education_segment(mut self, segment: EducationSegment) -> Self {
        self.matches.education_segment = Some(segment);
        self
    }

    /// Only this customer's requests.
    pub fn customer(mut self, customer_id: impl Into<String>) -> Self {
        self.matches.customer_id = Some(customer_id.into());
        self
    }

    /// Only requests whose website's host matches `glob` (`*` = any characters).
    pub fn website(mut self, glob: impl Into<String>) -> Self {
        self.matches.website = Some(glob.into());
        self
    }

    /// Only customers whose company-profile domain matches `glob`.
    pub fn domain(mut self, glob: impl Into<String>) -> Self {
        self.matches.domain = Some(glob.into());
        self
    }

    /// Decide this long after `vettingCreateDate`, on the partner's clock (milliseconds are
    /// the finest unit the server keeps).
    pub fn after(mut self, delay: std::time::Duration) -> Self {
        self.after = Some(duration_text(delay));
        self.after_reads = None;
        self
    }

    /// Show the decision from the partner's `n`-th read that includes the request.
    pub fn after_reads(mut self, n: u32) -> Self {
        self.after_reads = Some(n);
        self.after = None;
        self
    }
}

/// What a [`ScenarioRule`] applies to; all keys optional, all must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualification: Option<Qualification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub education_segment: Option<EducationSegment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// A glob over the website's host (`*` = any characters, case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// A glob over the company-profile domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// A duration as control bodies take it: whole seconds (`72s`), else milliseconds (`1500ms`).
pub(crate) fn duration_text(d: std::time::Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// A scope's clock (`GET .../clock`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClockState {
    /// The scope's current time.
    #[serde(with = "date::control_required")]
    pub now: OffsetDateTime,
    pub mode: ClockMode,
    /// `partner` when the partner has a clock of its own, else `global`.
    pub scope: ClockScope,
}

/// What an advance did: the new time and each transition it caused, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClockAdvance {
    #[serde(with = "date::control_required")]
    pub now: OffsetDateTime,
    #[serde(default)]
    pub applied: Vec<AppliedTransition>,
}

/// One transition an advance caused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedTransition {
    pub customer_id: String,
    pub qualification: Qualification,
    pub from: VettingStatus,
    pub to: VettingStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The virtual time it was applied at.
    #[serde(with = "date::control_required")]
    pub at: OffsetDateTime,
}

impl AppliedTransition {
    /// The transitions an advance applied before it ran out of time: a 503 after the server's
    /// `--advance-timeout` lists them in the error body's `data` ([`crate::Error::data`]).
    pub fn applied_so_far(error: &crate::Error) -> Vec<AppliedTransition> {
        error
            .data()
            .iter()
            .filter_map(|v| serde_json::from_value(v.clone()).ok())
            .collect()
    }
}
