//! Vetting scenarios (control.md 3): a partner's ordered rules that choose each request's
//! outcome and when it comes, and the test values that need no set-up. The choice is made when
//! the request is recorded and kept with it ([`VettingChoice`]), so that changing the scenario
//! later does not change outcomes already chosen.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::customer::host_of;
use crate::ids::CustomerId;
pub use crate::qualification::{ChoiceSource, Outcome, VettingChoice};
use crate::qualification::{EducationSegment, SettableQualification};

/// The reason of a `denied.test` request.
pub const TEST_VALUE_DENIAL: &str = "Not an Education Customer";

/// When a rule's outcome is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum When {
    /// This long after `vettingCreateDate`, on the partner's clock.
    After(Duration),
    /// The partner's N-th read that includes the request is the first to show the decision.
    AfterReads(u32),
}

/// A host glob: `*` stands for any characters; matched case-insensitively against a host with
/// scheme, `www.`, port and path stripped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HostGlob(String);

impl HostGlob {
    pub fn new(pattern: &str) -> Self {
        Self(pattern.trim().to_ascii_lowercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, host: &str) -> bool {
        glob_match(self.0.as_bytes(), host.to_ascii_lowercase().as_bytes())
    }
}

/// `*` matches any run of bytes; everything else matches itself.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// What a rule matches; every key that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleMatch {
    pub qualification: Option<SettableQualification>,
    pub education_segment: Option<EducationSegment>,
    pub customer_id: Option<CustomerId>,
    pub website: Option<HostGlob>,
    pub domain: Option<HostGlob>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioRule {
    pub matches: RuleMatch,
    pub outcome: Outcome,
    pub when: When,
}

/// A partner's scenario: rules tried in order; the first that matches decides. Stored as this
/// type's own JSON (durations in milliseconds); the API's document is stored beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    pub rules: Vec<ScenarioRule>,
}

/// What is known of a request when its outcome is chosen.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    pub customer_id: CustomerId,
    pub qualification: SettableQualification,
    pub education_segment: Option<EducationSegment>,
    pub website: Option<&'a str>,
    /// The customer's company-profile domain.
    pub domain: Option<&'a str>,
}

impl RuleMatch {
    fn holds(&self, r: &RequestFacts<'_>) -> bool {
        let host = |h: Option<&str>| h.and_then(host_of);
        let glob = |g: &Option<HostGlob>, value: Option<&str>| match g {
            None => true,
            Some(g) => host(value).is_some_and(|h| g.matches(&h)),
        };
        self.qualification.is_none_or(|q| q == r.qualification)
            && self
                .education_segment
                .is_none_or(|s| Some(s) == r.education_segment)
            && self.customer_id.is_none_or(|c| c == r.customer_id)
            && glob(&self.website, r.website)
            && glob(&self.domain, r.domain)
    }
}

/// The test values (control.md 3): a website host or company domain that is `approved.test`,
/// `denied.test` or `review.test`, or a subdomain of one.
pub fn test_value(r: &RequestFacts<'_>) -> Option<VettingChoice> {
    let hosts = [r.website.and_then(host_of), r.domain.and_then(host_of)];
    for (value, outcome) in [
        ("approved.test", Outcome::Approved),
        (
            "denied.test",
            Outcome::Denied {
                reason: TEST_VALUE_DENIAL.to_owned(),
            },
        ),
        ("review.test", Outcome::Manual),
    ] {
        let under = |h: &String| h == value || h.ends_with(&format!(".{value}"));
        if hosts.iter().flatten().any(under) {
            return Some(VettingChoice {
                source: ChoiceSource::TestValue,
                rule: None,
                test_value: Some(value.to_owned()),
                outcome,
                after_ms: None,
                after_reads: None,
            });
        }
    }
    None
}

/// Chooses a request's outcome: test values (when on) win over the scenario's rules; `None`
/// leaves it to the server's `--vetting` mode and `--vetting-delay`.
pub fn choose(
    scenario: Option<&Scenario>,
    test_values: bool,
    request: &RequestFacts<'_>,
) -> Option<VettingChoice> {
    if test_values && let Some(choice) = test_value(request) {
        return Some(choice);
    }
    let scenario = scenario?;
    let (i, rule) = scenario
        .rules
        .iter()
        .enumerate()
        .find(|(_, rule)| rule.matches.holds(request))?;
    let (after_ms, after_reads) = match rule.when {
        When::After(d) => (Some(d.as_millis() as u64), None),
        When::AfterReads(n) => (None, Some(n)),
    };
    Some(VettingChoice {
        source: ChoiceSource::Scenario,
        rule: Some(i as u32 + 1),
        test_value: None,
        outcome: rule.outcome.clone(),
        after_ms,
        after_reads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(website: Option<&'a str>, domain: Option<&'a str>) -> RequestFacts<'a> {
        RequestFacts {
            customer_id: CustomerId(uuid::Uuid::from_u128(7)),
            qualification: SettableQualification::Education,
            education_segment: Some(EducationSegment::K12),
            website,
            domain,
        }
    }

    fn rule(matches: RuleMatch, outcome: Outcome, when: When) -> ScenarioRule {
        ScenarioRule {
            matches,
            outcome,
            when,
        }
    }

    #[test]
    fn globs_match_hosts_case_insensitively() {
        let g = HostGlob::new("*.EDU");
        assert!(g.matches("contoso.edu"));
        assert!(g.matches("cs.Contoso.edu"));
        assert!(!g.matches("edu"));
        assert!(!g.matches("contoso.education"));
        assert!(HostGlob::new("contoso.*").matches("contoso.com"));
        assert!(HostGlob::new("*").matches("anything"));
        assert!(HostGlob::new("a*b*c").matches("aXXbYYc"));
        assert!(!HostGlob::new("a*b*c").matches("aXXbYY"));
        assert!(HostGlob::new("exact.org").matches("EXACT.org"));
    }

    #[test]
    fn the_first_matching_rule_decides_and_is_named() {
        let s = Scenario {
            rules: vec![
                rule(
                    RuleMatch {
                        website: Some(HostGlob::new("*.edu")),
                        ..Default::default()
                    },
                    Outcome::Approved,
                    When::After(Duration::from_secs(2)),
                ),
                rule(
                    RuleMatch {
                        qualification: Some(SettableQualification::Education),
                        ..Default::default()
                    },
                    Outcome::Denied {
                        reason: "Not an Education Customer".into(),
                    },
                    When::AfterReads(2),
                ),
                rule(
                    RuleMatch::default(),
                    Outcome::Auto,
                    When::After(Duration::ZERO),
                ),
            ],
        };
        // Scheme, www., port and path are stripped from the website before matching.
        let c = choose(
            Some(&s),
            false,
            &facts(Some("https://www.contoso.edu:8443/x"), None),
        )
        .unwrap();
        assert_eq!(
            (c.rule, &c.outcome, c.delay()),
            (Some(1), &Outcome::Approved, Some(Duration::from_secs(2)))
        );
        assert_eq!(c.label(), "scenario rule 1");
        let c = choose(Some(&s), false, &facts(Some("contoso.com"), None)).unwrap();
        assert_eq!((c.rule, c.after_reads, c.delay()), (Some(2), Some(2), None));
        let soe = RequestFacts {
            qualification: SettableQualification::StateOwnedEntity,
            ..facts(None, None)
        };
        assert_eq!(choose(Some(&s), false, &soe).unwrap().rule, Some(3));
        assert!(choose(None, false, &soe).is_none());
        assert!(choose(Some(&Scenario::default()), false, &soe).is_none());
    }

    #[test]
    fn test_values_win_over_rules_only_when_on() {
        let s = Scenario {
            rules: vec![rule(
                RuleMatch::default(),
                Outcome::Manual,
                When::After(Duration::ZERO),
            )],
        };
        let approved = facts(Some("https://sub.approved.test/"), None);
        let c = choose(Some(&s), true, &approved).unwrap();
        assert_eq!(
            (c.source, &c.outcome, c.label()),
            (
                ChoiceSource::TestValue,
                &Outcome::Approved,
                "test value approved.test".to_owned()
            )
        );
        assert_eq!(choose(Some(&s), false, &approved).unwrap().rule, Some(1));
        let denied = facts(None, Some("denied.test"));
        assert_eq!(
            choose(None, true, &denied).unwrap().outcome,
            Outcome::Denied {
                reason: TEST_VALUE_DENIAL.into()
            }
        );
        assert_eq!(
            choose(None, true, &facts(None, Some("x.review.test")))
                .unwrap()
                .outcome,
            Outcome::Manual
        );
        assert!(choose(None, true, &facts(Some("notapproved.test"), None)).is_none());
    }

    #[test]
    fn a_choice_is_kept_as_json_and_read_back() {
        let c = VettingChoice {
            source: ChoiceSource::Scenario,
            rule: Some(2),
            test_value: None,
            outcome: Outcome::Denied { reason: "r".into() },
            after_ms: None,
            after_reads: Some(3),
        };
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<VettingChoice>(&json).unwrap(), c);
    }
}
