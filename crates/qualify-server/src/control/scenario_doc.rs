//! The vetting scenario document (control.md 3), as `PUT /admin/v1/partners/{p}/vetting` takes it
//! and as fixtures hold it.

use qualify_core::CustomerId;
use qualify_core::qualification::{EducationSegment, SettableQualification};
use qualify_core::scenario::{HostGlob, Outcome, RuleMatch, Scenario, ScenarioRule, When};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::http::error::ApiError;
use crate::http::strict::{duration, invalid_at, join};

/// A partner's vetting scenario: rules tried in order; the first whose `match` holds decides.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
#[schema(as = VettingScenario)]
pub struct ScenarioDoc {
    pub rules: Vec<RuleDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = VettingRule)]
pub struct RuleDoc {
    /// Every key that is set must hold; `{}` matches every request.
    #[serde(rename = "match", default)]
    pub matches: MatchDoc,
    /// `Approved`, `Denied` (needs `reason`), `Auto` (the built-in policy) or `Manual` (a
    /// reviewer decides).
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A duration on the partner's clock from `vettingCreateDate` (`2s`, `72h`, `PT72H`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// The partner's N-th read that includes the request is the first to show the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    #[schema(minimum = 1)]
    pub after_reads: Option<u32>,
}

#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = VettingRuleMatch)]
pub struct MatchDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualification: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub education_segment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// A glob over the website's host (`*` = any characters, case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// A glob over the company-profile domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

/// The longest glob, reason or list a scenario takes.
const MAX_TEXT: usize = 1024;
const MAX_RULES: usize = 1000;

impl ScenarioDoc {
    /// The rules the engine runs; errors name the field (`rules[2].after`) under `base`.
    pub fn to_scenario(&self, base: &str) -> Result<Scenario, ApiError> {
        if self.rules.len() > MAX_RULES {
            return Err(invalid_at(
                &join(base, "rules"),
                format!("at most {MAX_RULES} rules."),
            ));
        }
        let rules = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| r.to_rule(&join(base, &format!("rules[{i}]"))))
            .collect::<Result<_, _>>()?;
        Ok(Scenario { rules })
    }

    /// The rules the engine runs and the document to keep: this one with every value in its
    /// canonical spelling (`" approved "` is kept as `Approved`, a GUID in lower case, globs as
    /// they match), so that GET and snapshots show what the scenario does. Durations keep the
    /// client's spelling (`72h` or `PT72H`), trimmed.
    pub fn read(&self, base: &str) -> Result<(Scenario, serde_json::Value), ApiError> {
        let scenario = self.to_scenario(base)?;
        let rules = self
            .rules
            .iter()
            .zip(&scenario.rules)
            .map(|(doc, rule)| {
                let m = &rule.matches;
                RuleDoc {
                    matches: MatchDoc {
                        qualification: m.qualification.map(|q| q.name().to_owned()),
                        education_segment: m.education_segment.map(|s| s.name().to_owned()),
                        customer_id: m.customer_id.map(|c| c.to_string()),
                        website: m.website.as_ref().map(|g| g.as_str().to_owned()),
                        domain: m.domain.as_ref().map(|g| g.as_str().to_owned()),
                    },
                    outcome: rule.outcome.name().to_owned(),
                    reason: match &rule.outcome {
                        Outcome::Denied { reason } => Some(reason.clone()),
                        _ => None,
                    },
                    after: doc.after.as_deref().map(|a| a.trim().to_owned()),
                    after_reads: doc.after_reads,
                }
            })
            .collect();
        let document = serde_json::to_value(ScenarioDoc { rules })
            .map_err(|e| ApiError::invalid(e.to_string()))?;
        Ok((scenario, document))
    }
}

fn text(path: &str, s: &str) -> Result<String, ApiError> {
    let t = s.trim();
    if t.is_empty() || t.len() > MAX_TEXT || t.chars().any(char::is_control) {
        return Err(invalid_at(
            path,
            format!("must be 1 to {MAX_TEXT} characters without control characters."),
        ));
    }
    Ok(t.to_owned())
}

impl RuleDoc {
    fn to_rule(&self, path: &str) -> Result<ScenarioRule, ApiError> {
        let m = &self.matches;
        let at = |f: &str| join(&join(path, "match"), f);
        let matches = RuleMatch {
            qualification: m
                .qualification
                .as_deref()
                .map(|q| {
                    SettableQualification::parse(q.trim()).ok_or_else(|| {
                        invalid_at(
                            &at("qualification"),
                            format!(
                                "{q:?} is not one of Education, GovernmentCommunityCloud, StateOwnedEntity."
                            ),
                        )
                    })
                })
                .transpose()?,
            education_segment: m
                .education_segment
                .as_deref()
                .map(|s| {
                    EducationSegment::parse(s.trim()).ok_or_else(|| {
                        invalid_at(
                            &at("educationSegment"),
                            format!("{s:?} is not K12 or HigherEducation."),
                        )
                    })
                })
                .transpose()?,
            customer_id: m
                .customer_id
                .as_deref()
                .map(|c| {
                    c.trim().parse::<CustomerId>().map_err(|_| {
                        invalid_at(&at("customerId"), format!("{c:?} is not a GUID."))
                    })
                })
                .transpose()?,
            website: m
                .website
                .as_deref()
                .map(|g| text(&at("website"), g).map(|g| HostGlob::new(&g)))
                .transpose()?,
            domain: m
                .domain
                .as_deref()
                .map(|g| text(&at("domain"), g).map(|g| HostGlob::new(&g)))
                .transpose()?,
        };
        let outcome = match self.outcome.trim().to_ascii_lowercase().as_str() {
            "approved" => Outcome::Approved,
            "denied" => Outcome::Denied {
                reason: text(
                    &join(path, "reason"),
                    self.reason.as_deref().ok_or_else(|| {
                        invalid_at(&join(path, "reason"), "is required with outcome Denied.")
                    })?,
                )?,
            },
            "auto" => Outcome::Auto,
            "manual" => Outcome::Manual,
            _ => {
                return Err(invalid_at(
                    &join(path, "outcome"),
                    format!(
                        "{:?} is not one of Approved, Denied, Auto, Manual.",
                        self.outcome
                    ),
                ));
            }
        };
        if self.reason.is_some() && !matches!(outcome, Outcome::Denied { .. }) {
            return Err(invalid_at(
                &join(path, "reason"),
                "is only for outcome Denied.",
            ));
        }
        let when = match (&self.after, self.after_reads) {
            (Some(_), Some(_)) => {
                return Err(invalid_at(
                    &join(path, "afterReads"),
                    "after and afterReads cannot both be set in one rule.",
                ));
            }
            (Some(after), None) => When::After(duration(&join(path, "after"), after)?),
            (None, Some(0)) => {
                return Err(invalid_at(&join(path, "afterReads"), "must be at least 1."));
            }
            (None, Some(n)) => When::AfterReads(n),
            (None, None) => When::After(std::time::Duration::ZERO),
        };
        Ok(ScenarioRule {
            matches,
            outcome,
            when,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::strict::parse_strict;

    fn parse(json: &str) -> Result<Scenario, String> {
        parse_strict::<ScenarioDoc>(json.as_bytes())
            .and_then(|d| d.to_scenario(""))
            .map_err(|e| e.error.description)
    }

    #[test]
    fn the_example_of_control_md_parses() {
        let s = parse(
            r#"{"rules": [
              {"match": {"qualification": "Education", "website": "*.edu"}, "outcome": "Approved", "after": "2s"},
              {"match": {"qualification": "Education"}, "outcome": "Denied", "reason": "Not an Education Customer", "afterReads": 2},
              {"match": {"qualification": "StateOwnedEntity"}, "outcome": "Manual"},
              {"match": {}, "outcome": "Auto"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(s.rules.len(), 4);
        assert_eq!(
            s.rules[0].when,
            When::After(std::time::Duration::from_secs(2))
        );
        assert_eq!(s.rules[1].when, When::AfterReads(2));
    }

    #[test]
    fn the_kept_document_spells_every_value_canonically() {
        let doc: ScenarioDoc = parse_strict(
            br#"{"rules": [{"match": {"qualification": " education ", "educationSegment": "k12",
                "customerId": "2B3F6A7E-1F1E-4C55-9B0A-3C2D1E0F9A8B", "website": " *.EDU "},
                "outcome": " denied ", "reason": " No ", "after": " 72h "}]}"#,
        )
        .unwrap();
        let (_, kept) = doc.read("").unwrap();
        assert_eq!(
            kept,
            serde_json::json!({"rules": [{"match": {"qualification": "Education",
                "educationSegment": "K12", "customerId": "2b3f6a7e-1f1e-4c55-9b0a-3c2d1e0f9a8b",
                "website": "*.edu"}, "outcome": "Denied", "reason": "No", "after": "72h"}]})
        );
    }

    #[test]
    fn bad_rules_name_their_field() {
        for (doc, path) in [
            (
                r#"{"rules": [{"outcome": "Approved"}, {"outcome": "Maybe"}]}"#,
                "rules[1].outcome",
            ),
            (r#"{"rules": [{"outcome": "Denied"}]}"#, "rules[0].reason"),
            (
                r#"{"rules": [{"outcome": "Approved", "after": "soon"}]}"#,
                "rules[0].after",
            ),
            (
                r#"{"rules": [{"outcome": "Approved", "after": "1s", "afterReads": 2}]}"#,
                "rules[0].afterReads",
            ),
            (
                r#"{"rules": [{"outcome": "Approved", "afterRead": 2}]}"#,
                "rules[0].afterRead",
            ),
            (
                r#"{"rules": [{"outcome": "Approved"}, {"outcome": "Auto"}, {"match": {"qualification": "Nonprofit"}, "outcome": "Auto"}]}"#,
                "rules[2].match.qualification",
            ),
            (
                r#"{"rules": [{"match": {"customerId": "x"}, "outcome": "Auto"}]}"#,
                "rules[0].match.customerId",
            ),
            (
                r#"{"rules": [{"outcome": "Auto", "afterReads": 0}]}"#,
                "rules[0].afterReads",
            ),
            (r#"{"rule": []}"#, "rule"),
        ] {
            let e = parse(doc).unwrap_err();
            assert!(e.starts_with(&format!("{path}:")), "{doc}: {e}");
        }
    }
}
