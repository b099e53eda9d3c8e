//! The vetting policy: what the worker decides for a qualification request. It is data (mode,
//! delay, academic suffixes) read per job, so it can change at run time without new code paths.

use std::time::Duration;

use crate::customer::{CompanyProfile, host_of};
use crate::qualification::{
    DecisionStatus, QualificationRecord, SettableQualification, VettingDecision,
};

/// The reason Microsoft publishes when an Education request's domain is not academic.
pub const NOT_AN_ACADEMIC_DOMAIN: &str = "Not an Academic Domain";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VettingMode {
    /// Every request waits for an operator's decision.
    #[default]
    Manual,
    /// Education and GCC are decided by rules; StateOwnedEntity waits for an operator.
    Auto,
}

impl VettingMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "manual" => Some(VettingMode::Manual),
            "auto" => Some(VettingMode::Auto),
            _ => None,
        }
    }
}

/// As the `--vetting` flag spells it: `manual`, `auto`.
impl std::fmt::Display for VettingMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VettingMode::Manual => "manual",
            VettingMode::Auto => "auto",
        })
    }
}

/// The suffixes that make a domain academic, by default. `XX` stands for any two-letter label
/// (a country code), e.g. `.ac.XX` matches `ox.ac.uk`.
pub const DEFAULT_ACADEMIC_SUFFIXES: &[&str] = &[
    ".edu",
    ".edu.XX",
    ".ac.XX",
    ".k12.XX.us",
    ".sch.uk",
    ".school.nz",
    ".schule",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VettingPolicy {
    pub mode: VettingMode,
    /// How long after the request the decision is taken (the job is scheduled, not slept on).
    pub delay: Duration,
    pub academic_suffixes: Vec<String>,
    /// Whether the test values of control.md 3 (`approved.test`, `denied.test`, `review.test`)
    /// decide requests: on by default with dev auth, off with oidc.
    pub test_values: bool,
}

impl Default for VettingPolicy {
    fn default() -> Self {
        Self {
            mode: VettingMode::Manual,
            delay: Duration::ZERO,
            academic_suffixes: DEFAULT_ACADEMIC_SUFFIXES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            test_values: true,
        }
    }
}

/// What the policy says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyOutcome {
    Decide(VettingDecision),
    AwaitReviewer,
}

impl VettingPolicy {
    /// What the server's `--vetting` mode says about a request.
    pub fn evaluate(&self, q: &QualificationRecord, company: &CompanyProfile) -> PolicyOutcome {
        if self.mode == VettingMode::Manual {
            return PolicyOutcome::AwaitReviewer;
        }
        self.built_in_rules(q, company)
    }

    /// The rules of `auto` mode, whatever the mode (a scenario's `Auto` outcome).
    pub fn built_in_rules(
        &self,
        q: &QualificationRecord,
        company: &CompanyProfile,
    ) -> PolicyOutcome {
        match q.qualification {
            SettableQualification::Education => {
                let candidates = q
                    .website
                    .as_deref()
                    .and_then(host_of)
                    .into_iter()
                    .chain(company.domain.clone());
                let academic = candidates.into_iter().any(|h| self.is_academic(&h));
                PolicyOutcome::Decide(if academic {
                    VettingDecision {
                        status: DecisionStatus::Approved,
                        reason: None,
                    }
                } else {
                    VettingDecision {
                        status: DecisionStatus::Denied,
                        reason: Some(NOT_AN_ACADEMIC_DOMAIN.to_owned()),
                    }
                })
            }
            // The code was checked and spent when the request was accepted.
            SettableQualification::GovernmentCommunityCloud => {
                PolicyOutcome::Decide(VettingDecision {
                    status: DecisionStatus::Approved,
                    reason: None,
                })
            }
            SettableQualification::StateOwnedEntity => PolicyOutcome::AwaitReviewer,
        }
    }

    /// Whether a host name ends with one of the academic suffixes (label by label).
    pub fn is_academic(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let labels: Vec<&str> = host.split('.').collect();
        self.academic_suffixes.iter().any(|suffix| {
            let pattern: Vec<&str> = suffix.trim_start_matches('.').split('.').collect();
            // A suffix alone is not a domain: at least one label must precede it.
            labels.len() > pattern.len()
                && labels[labels.len() - pattern.len()..]
                    .iter()
                    .zip(&pattern)
                    .all(|(l, p)| {
                        if *p == "XX" {
                            l.len() == 2 && l.chars().all(|c| c.is_ascii_alphabetic())
                        } else {
                            l.eq_ignore_ascii_case(p)
                        }
                    })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CustomerId, PartnerId};
    use crate::qualification::{EducationSegment, VettingStatus};

    fn auto() -> VettingPolicy {
        VettingPolicy {
            mode: VettingMode::Auto,
            ..Default::default()
        }
    }

    fn request(q: SettableQualification, website: Option<&str>) -> QualificationRecord {
        QualificationRecord {
            id: 1,
            customer_id: CustomerId(uuid::Uuid::nil()),
            partner_id: PartnerId(uuid::Uuid::nil()),
            qualification: q,
            vetting_status: VettingStatus::InReview,
            vetting_reason: None,
            vetting_create_date: time::OffsetDateTime::UNIX_EPOCH,
            education_segment: Some(EducationSegment::K12),
            website: website.map(str::to_owned),
            validation_code: None,
            etag: "e".into(),
            choice: None,
            reads: 0,
        }
    }

    fn company(domain: Option<&str>) -> CompanyProfile {
        CompanyProfile {
            domain: domain.map(str::to_owned),
            company_name: None,
            email: None,
            address: None,
            organization_registration_number: None,
        }
    }

    #[test]
    fn academic_suffixes() {
        let p = auto();
        for yes in [
            "contoso.edu",
            "mit.edu",
            "uni.edu.au",
            "ox.ac.uk",
            "cs.ox.ac.uk",
            "lincoln.k12.ne.us",
            "hogwarts.sch.uk",
            "CONTOSO.EDU.",
        ] {
            assert!(p.is_academic(yes), "{yes}");
        }
        for no in [
            "edu",
            "contoso.com",
            "ac.uk",
            "contoso.edu.com",
            "x.ac.usa",
            "contoso.education",
            "k12.ne.us",
        ] {
            assert!(!p.is_academic(no), "{no}");
        }
    }

    #[test]
    fn hosts_of_websites() {
        assert_eq!(
            host_of("https://www.Contoso.edu/about?x=1").as_deref(),
            Some("contoso.edu")
        );
        assert_eq!(host_of("contoso.edu:8080").as_deref(), Some("contoso.edu"));
        assert_eq!(
            host_of("http://user@uni.ac.uk/").as_deref(),
            Some("uni.ac.uk")
        );
        assert_eq!(host_of("  "), None);
    }

    #[test]
    fn education_is_decided_by_website_or_company_domain() {
        let p = auto();
        let approved = |o: PolicyOutcome| {
            matches!(
                o,
                PolicyOutcome::Decide(VettingDecision {
                    status: DecisionStatus::Approved,
                    ..
                })
            )
        };
        assert!(approved(p.evaluate(
            &request(
                SettableQualification::Education,
                Some("https://contoso.edu")
            ),
            &company(None)
        )));
        assert!(approved(p.evaluate(
            &request(SettableQualification::Education, None),
            &company(Some("uni.ac.nz"))
        )));
        assert_eq!(
            p.evaluate(
                &request(SettableQualification::Education, Some("contoso.com")),
                &company(Some("contoso.onmicrosoft.com"))
            ),
            PolicyOutcome::Decide(VettingDecision {
                status: DecisionStatus::Denied,
                reason: Some(NOT_AN_ACADEMIC_DOMAIN.into())
            })
        );
    }

    #[test]
    fn gcc_is_approved_and_state_owned_waits() {
        let p = auto();
        assert!(matches!(
            p.evaluate(
                &request(SettableQualification::GovernmentCommunityCloud, None),
                &company(None)
            ),
            PolicyOutcome::Decide(VettingDecision {
                status: DecisionStatus::Approved,
                ..
            })
        ));
        assert_eq!(
            p.evaluate(
                &request(SettableQualification::StateOwnedEntity, None),
                &company(None)
            ),
            PolicyOutcome::AwaitReviewer
        );
    }

    #[test]
    fn manual_always_waits() {
        let p = VettingPolicy::default();
        for q in SettableQualification::ALL {
            assert_eq!(
                p.evaluate(&request(q, Some("contoso.edu")), &company(None)),
                PolicyOutcome::AwaitReviewer
            );
        }
    }
}
