//! Qualifications and the vetting state machine.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{DomainError, ErrorKind};
use crate::ids::{CustomerId, PartnerId};

/// The `CustomerQualification` enum of Partner Center.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Qualification {
    None,
    Education,
    Nonprofit,
    GovernmentCommunityCloud,
    StateOwnedEntity,
}

impl Qualification {
    pub const ALL: [Qualification; 5] = [
        Qualification::None,
        Qualification::Education,
        Qualification::Nonprofit,
        Qualification::GovernmentCommunityCloud,
        Qualification::StateOwnedEntity,
    ];

    /// PascalCase name, as in the current contract.
    pub const fn name(self) -> &'static str {
        match self {
            Qualification::None => "None",
            Qualification::Education => "Education",
            Qualification::Nonprofit => "Nonprofit",
            Qualification::GovernmentCommunityCloud => "GovernmentCommunityCloud",
            Qualification::StateOwnedEntity => "StateOwnedEntity",
        }
    }

    /// Lower snake case, as in the retired single-qualification contract.
    pub const fn legacy_name(self) -> &'static str {
        match self {
            Qualification::None => "none",
            Qualification::Education => "education",
            Qualification::Nonprofit => "nonprofit",
            Qualification::GovernmentCommunityCloud => "government_community_cloud",
            Qualification::StateOwnedEntity => "state_owned_entity",
        }
    }

    /// Case-insensitive match on the PascalCase name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|q| q.name().eq_ignore_ascii_case(s))
    }

    /// Case-insensitive match on the legacy snake-case name or the PascalCase name.
    pub fn parse_legacy(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|q| q.legacy_name().eq_ignore_ascii_case(s))
            .or_else(|| Self::parse(s))
    }

    /// The qualifications a partner may request; `None` and `Nonprofit` are read-only.
    pub fn settable(self) -> Result<SettableQualification, DomainError> {
        match self {
            Qualification::Education => Ok(SettableQualification::Education),
            Qualification::GovernmentCommunityCloud => {
                Ok(SettableQualification::GovernmentCommunityCloud)
            }
            Qualification::StateOwnedEntity => Ok(SettableQualification::StateOwnedEntity),
            Qualification::None | Qualification::Nonprofit => Err(DomainError::new(
                ErrorKind::QualificationNotSettable,
                format!(
                    "{} cannot be set. {}",
                    self.name(),
                    ErrorKind::QualificationNotSettable.meaning()
                ),
            )),
        }
    }
}

impl fmt::Display for Qualification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A qualification that can be requested and vetted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SettableQualification {
    Education,
    GovernmentCommunityCloud,
    StateOwnedEntity,
}

impl SettableQualification {
    pub const ALL: [SettableQualification; 3] = [
        SettableQualification::Education,
        SettableQualification::GovernmentCommunityCloud,
        SettableQualification::StateOwnedEntity,
    ];

    pub const fn qualification(self) -> Qualification {
        match self {
            SettableQualification::Education => Qualification::Education,
            SettableQualification::GovernmentCommunityCloud => {
                Qualification::GovernmentCommunityCloud
            }
            SettableQualification::StateOwnedEntity => Qualification::StateOwnedEntity,
        }
    }

    pub const fn name(self) -> &'static str {
        self.qualification().name()
    }

    pub fn parse(s: &str) -> Option<Self> {
        Qualification::parse(s).and_then(|q| q.settable().ok())
    }
}

impl fmt::Display for SettableQualification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EducationSegment {
    K12,
    HigherEducation,
}

impl EducationSegment {
    pub const fn name(self) -> &'static str {
        match self {
            EducationSegment::K12 => "K12",
            EducationSegment::HigherEducation => "HigherEducation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [EducationSegment::K12, EducationSegment::HigherEducation]
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(s))
    }
}

/// Where a qualification stands in vetting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VettingStatus {
    InReview,
    Approved,
    Denied,
}

impl VettingStatus {
    pub const fn name(self) -> &'static str {
        match self {
            VettingStatus::InReview => "InReview",
            VettingStatus::Approved => "Approved",
            VettingStatus::Denied => "Denied",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            VettingStatus::InReview,
            VettingStatus::Approved,
            VettingStatus::Denied,
        ]
        .into_iter()
        .find(|v| v.name().eq_ignore_ascii_case(s))
    }

    pub const fn is_terminal(self) -> bool {
        !matches!(self, VettingStatus::InReview)
    }

    /// InReview or Approved: the qualification is held (or about to be) by the customer.
    pub const fn is_active(self) -> bool {
        !matches!(self, VettingStatus::Denied)
    }
}

impl fmt::Display for VettingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A terminal outcome of vetting, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VettingDecision {
    pub status: DecisionStatus,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DecisionStatus {
    Approved,
    Denied,
}

impl DecisionStatus {
    pub const fn vetting_status(self) -> VettingStatus {
        match self {
            DecisionStatus::Approved => VettingStatus::Approved,
            DecisionStatus::Denied => VettingStatus::Denied,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match VettingStatus::parse(s)? {
            VettingStatus::Approved => Some(DecisionStatus::Approved),
            VettingStatus::Denied => Some(DecisionStatus::Denied),
            VettingStatus::InReview => None,
        }
    }
}

/// What applying a decision to a qualification does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// InReview -> the decision's status.
    Decide {
        from: VettingStatus,
        to: VettingStatus,
    },
    /// The same decision was already applied: nothing to do (a job that runs twice).
    AlreadyApplied,
}

/// The vetting state machine: InReview -> Approved | Denied; terminal states never change.
pub fn transition(
    current: VettingStatus,
    decision: &VettingDecision,
) -> Result<Transition, DomainError> {
    let to = decision.status.vetting_status();
    match current {
        VettingStatus::InReview => Ok(Transition::Decide { from: current, to }),
        s if s == to => Ok(Transition::AlreadyApplied),
        s => Err(DomainError::new(
            ErrorKind::AlreadyDecided,
            format!("The qualification is already {s}; terminal states never change."),
        )),
    }
}

/// One qualification request of a customer and where its vetting stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualificationRecord {
    pub id: i64,
    pub customer_id: CustomerId,
    pub partner_id: PartnerId,
    pub qualification: SettableQualification,
    pub vetting_status: VettingStatus,
    pub vetting_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub vetting_create_date: OffsetDateTime,
    pub education_segment: Option<EducationSegment>,
    pub website: Option<String>,
    pub validation_code: Option<String>,
    pub etag: String,
    /// The outcome a scenario or a test value chose when the request was recorded
    /// (control.md 3); `None`: the server's `--vetting` mode decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<VettingChoice>,
    /// The partner's reads that included this request while it was InReview (for `afterReads`).
    #[serde(default)]
    pub reads: u32,
}

// ---- the outcome chosen for a request (control.md 3) -------------------------------------

/// What a rule (or a test value) decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Outcome {
    Approved,
    Denied {
        reason: String,
    },
    /// The built-in policy of docs/vetting.md, whatever the server's `--vetting` mode.
    Auto,
    /// Waits for a reviewer.
    Manual,
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Approved => "Approved",
            Outcome::Denied { .. } => "Denied",
            Outcome::Auto => "Auto",
            Outcome::Manual => "Manual",
        }
    }
}

/// Where a choice came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChoiceSource {
    Scenario,
    TestValue,
}

/// The outcome chosen for a request when it was recorded, kept with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VettingChoice {
    pub source: ChoiceSource,
    /// The scenario rule, counted from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<u32>,
    /// The test value's domain (`approved.test`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_value: Option<String>,
    #[serde(flatten)]
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_reads: Option<u32>,
}

impl VettingChoice {
    /// How the choice is named in the request's audit event: `scenario rule 2`,
    /// `test value approved.test`.
    pub fn label(&self) -> String {
        match (self.source, self.rule, &self.test_value) {
            (ChoiceSource::Scenario, Some(n), _) => format!("scenario rule {n}"),
            (ChoiceSource::TestValue, _, Some(v)) => format!("test value {v}"),
            (ChoiceSource::Scenario, _, _) => "scenario".to_owned(),
            (ChoiceSource::TestValue, _, _) => "test value".to_owned(),
        }
    }

    /// How long after the request its vetting job is due; `None` for an `afterReads` choice
    /// (the reads decide, not the clock).
    pub fn delay(&self) -> Option<Duration> {
        match self.after_reads {
            Some(_) => None,
            None => Some(Duration::from_millis(self.after_ms.unwrap_or(0))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(status: DecisionStatus) -> VettingDecision {
        VettingDecision {
            status,
            reason: None,
        }
    }

    #[test]
    fn names_round_trip_case_insensitively() {
        for q in Qualification::ALL {
            assert_eq!(Qualification::parse(&q.name().to_lowercase()), Some(q));
            assert_eq!(Qualification::parse(&q.name().to_uppercase()), Some(q));
            assert_eq!(Qualification::parse_legacy(q.legacy_name()), Some(q));
            assert_eq!(Qualification::parse_legacy(q.name()), Some(q));
        }
        assert_eq!(Qualification::parse("gcc"), None);
        assert_eq!(
            Qualification::parse_legacy("GOVERNMENT_COMMUNITY_CLOUD"),
            Some(Qualification::GovernmentCommunityCloud)
        );
    }

    #[test]
    fn none_and_nonprofit_are_not_settable() {
        assert_eq!(
            Qualification::None.settable().unwrap_err().kind,
            ErrorKind::QualificationNotSettable
        );
        assert_eq!(
            Qualification::Nonprofit.settable().unwrap_err().kind,
            ErrorKind::QualificationNotSettable
        );
        for s in SettableQualification::ALL {
            assert_eq!(s.qualification().settable().unwrap(), s);
        }
    }

    #[test]
    fn in_review_moves_to_either_terminal_state() {
        for d in [DecisionStatus::Approved, DecisionStatus::Denied] {
            assert_eq!(
                transition(VettingStatus::InReview, &decision(d)).unwrap(),
                Transition::Decide {
                    from: VettingStatus::InReview,
                    to: d.vetting_status()
                }
            );
        }
    }

    #[test]
    fn terminal_states_never_change() {
        let err =
            transition(VettingStatus::Approved, &decision(DecisionStatus::Denied)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::AlreadyDecided);
        let err =
            transition(VettingStatus::Denied, &decision(DecisionStatus::Approved)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::AlreadyDecided);
    }

    #[test]
    fn the_same_decision_twice_is_a_no_op() {
        assert_eq!(
            transition(VettingStatus::Approved, &decision(DecisionStatus::Approved)).unwrap(),
            Transition::AlreadyApplied
        );
        assert_eq!(
            transition(VettingStatus::Denied, &decision(DecisionStatus::Denied)).unwrap(),
            Transition::AlreadyApplied
        );
    }

    #[test]
    fn decision_status_refuses_in_review() {
        assert_eq!(
            DecisionStatus::parse("approved"),
            Some(DecisionStatus::Approved)
        );
        assert_eq!(DecisionStatus::parse("InReview"), None);
        assert_eq!(DecisionStatus::parse("maybe"), None);
    }
}
