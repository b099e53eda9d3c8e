//! The fixture document (control.md 2): one JSON format for `serve --seed`, `POST
//! /admin/v1/seed`, snapshots and restores. Parsed strictly into `qualify_core::fixture`
//! values, with errors that name the JSON path; written back from them for a snapshot. Its JSON
//! Schema (`docs/fixtures.schema.json`, `GET /admin/v1/fixtures/schema`) is generated from these
//! types.

use qualify_core::clock::ClockSetting;
use qualify_core::customer::{BillingProfile, CompanyProfile};
use qualify_core::fixture::{
    CodeFixture, CustomerFixture, Fixture, PartnerFixture, QualificationFixture, StatusFixture,
};
use qualify_core::qualification::{EducationSegment, SettableQualification, VettingStatus};
use qualify_core::validation::{AccountStatus, GdapRole, MAX_CREATES_LIMIT};
use qualify_core::{CustomerId, PartnerId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::scenario_doc::ScenarioDoc;
use crate::http::error::ApiError;
use crate::http::strict::{instant, invalid_at, join, write_instant};
use crate::partner::customers::address::Address as AddressDoc;
use crate::partner::customers::wire::{BillingProfileIn, CompanyProfileIn};

/// The version of the document format this server reads and writes.
pub const VERSION: u32 = 1;

/// A fixture: the state of some partner tenants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(
    title = "qualify fixture document",
    description = "control.md section 2"
)]
pub struct FixtureDoc {
    /// Always 1.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    #[serde(default)]
    pub partners: Vec<PartnerDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PartnerDoc {
    /// The partner tenant id (GUID).
    pub id: String,
    #[serde(default)]
    pub validation_codes: Vec<CodeDoc>,
    #[serde(default)]
    pub customers: Vec<CustomerDoc>,
    /// The partner's vetting scenario (control.md 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vetting: Option<ScenarioDoc>,
    /// The partner's own clock (control.md 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CodeDoc {
    /// What a partner sends as `validationCode`.
    pub validation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    /// Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1_000_000))]
    pub max_creates: Option<i64>,
    /// Default `maxCreates`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1_000_000))]
    pub remaining_creates: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CustomerDoc {
    /// The customer tenant id (GUID).
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_profile: Option<CompanyProfileDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_profile: Option<BillingProfileDoc>,
    /// The GDAP roles the partner holds over the customer.
    #[serde(default)]
    pub gdap_roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_status: Option<StatusDoc>,
    /// Oldest first.
    #[serde(default)]
    pub qualifications: Vec<QualificationDoc>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CompanyProfileDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<AddressDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_registration_number: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BillingProfileDoc {
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
    pub default_address: Option<AddressDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StatusDoc {
    /// `Unknown`, `UnderReview`, `Allowed`, `NotAllowed` or `Not Ready`.
    pub status: String,
    /// RFC 3339; default: the partner's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_date_time: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct QualificationDoc {
    /// `Education`, `GovernmentCommunityCloud` or `StateOwnedEntity`.
    pub qualification: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub education_segment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_code: Option<String>,
    /// `InReview` (default), `Approved` or `Denied`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vetting_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vetting_reason: Option<String>,
    /// RFC 3339; default: the partner's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vetting_create_date: Option<String>,
}

/// A partner's own clock: frozen at `now`, or running at a fixed offset from real time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClockDoc {
    /// `frozen` or `running`.
    pub mode: String,
    /// With `frozen`: the instant (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
    /// With `running`: seconds from real time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_seconds: Option<f64>,
}

/// The JSON Schema of the document.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(FixtureDoc)).unwrap_or_default()
}

fn guid<T: std::str::FromStr>(path: &str, s: &str) -> Result<T, ApiError> {
    s.trim()
        .parse()
        .map_err(|_| invalid_at(path, format!("{s:?} is not a GUID.")))
}

fn parse_name<T>(
    path: &str,
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
) -> Result<T, ApiError> {
    parse(value.trim()).ok_or_else(|| invalid_at(path, format!("{value:?} is not {expected}.")))
}

/// A fixture's address: the wire type, whose unknown keys a fixture refuses.
fn address(path: &str, a: &Option<AddressDoc>) -> Result<Option<AddressDoc>, ApiError> {
    let Some(a) = a else { return Ok(None) };
    if let Some(key) = a.unknown.keys().next() {
        let expected = AddressDoc::PROPERTIES.map(|p| format!("`{p}`")).join(", ");
        return Err(invalid_at(
            &join(path, key),
            format!("unknown field `{key}`, expected one of {expected}"),
        ));
    }
    Ok(Some(a.clone()))
}

impl FixtureDoc {
    /// The validated fixture; errors name the JSON path (`partners[0].customers[1].id`).
    pub fn to_fixture(&self) -> Result<Fixture, ApiError> {
        if self.version != VERSION {
            return Err(invalid_at(
                "version",
                format!("{} is not a version this server reads (1).", self.version),
            ));
        }
        let partners = self
            .partners
            .iter()
            .enumerate()
            .map(|(i, p)| p.to_fixture(&format!("partners[{i}]")))
            .collect::<Result<_, _>>()?;
        Ok(Fixture { partners })
    }

    /// The document of a fixture (a snapshot).
    pub fn from_fixture(f: &Fixture) -> Self {
        Self {
            version: VERSION,
            partners: f.partners.iter().map(PartnerDoc::from_fixture).collect(),
        }
    }
}

impl PartnerDoc {
    fn to_fixture(&self, path: &str) -> Result<PartnerFixture, ApiError> {
        let id: PartnerId = guid(&join(path, "id"), &self.id)?;
        let validation_codes = self
            .validation_codes
            .iter()
            .enumerate()
            .map(|(i, c)| c.to_fixture(&join(path, &format!("validationCodes[{i}]"))))
            .collect::<Result<_, _>>()?;
        let customers = self
            .customers
            .iter()
            .enumerate()
            .map(|(i, c)| c.to_fixture(&join(path, &format!("customers[{i}]"))))
            .collect::<Result<_, _>>()?;
        let vetting = self
            .vetting
            .as_ref()
            .map(|v| v.read(&join(path, "vetting")))
            .transpose()?;
        let clock = self
            .clock
            .as_ref()
            .map(|c| c.to_setting(&join(path, "clock")))
            .transpose()?;
        Ok(PartnerFixture {
            id,
            validation_codes,
            customers,
            vetting,
            clock,
        })
    }

    fn from_fixture(p: &PartnerFixture) -> Self {
        Self {
            id: p.id.to_string(),
            validation_codes: p
                .validation_codes
                .iter()
                .map(|c| CodeDoc {
                    validation_id: c.validation_id.clone(),
                    organization_name: Some(c.organization_name.clone()),
                    max_creates: Some(c.max_creates),
                    remaining_creates: Some(c.remaining_creates),
                })
                .collect(),
            customers: p.customers.iter().map(CustomerDoc::from_fixture).collect(),
            vetting: p
                .vetting
                .as_ref()
                .and_then(|(_, document)| serde_json::from_value(document.clone()).ok()),
            clock: p.clock.map(ClockDoc::from_setting),
        }
    }
}

impl CodeDoc {
    fn to_fixture(&self, path: &str) -> Result<CodeFixture, ApiError> {
        let id = self.validation_id.trim();
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid_at(
                &join(path, "validationId"),
                "must be 1 to 64 visible ASCII characters.",
            ));
        }
        let max = self.max_creates.unwrap_or(1);
        if !(1..=MAX_CREATES_LIMIT).contains(&max) {
            return Err(invalid_at(
                &join(path, "maxCreates"),
                format!("must be from 1 to {MAX_CREATES_LIMIT}."),
            ));
        }
        let remaining = self.remaining_creates.unwrap_or(max);
        if !(0..=max).contains(&remaining) {
            return Err(invalid_at(
                &join(path, "remainingCreates"),
                "must be from 0 to maxCreates.",
            ));
        }
        let organization_name = match &self.organization_name {
            None => String::new(),
            Some(o) => {
                qualify_core::customer::optional_text("organizationName", Some(o.clone()), 256)
                    .map_err(|e| invalid_at(&join(path, "organizationName"), e.description))?
                    .unwrap_or_default()
            }
        };
        Ok(CodeFixture {
            validation_id: id.to_owned(),
            organization_name,
            max_creates: max,
            remaining_creates: remaining,
        })
    }
}

impl CustomerDoc {
    fn to_fixture(&self, path: &str) -> Result<CustomerFixture, ApiError> {
        let id: CustomerId = guid(&join(path, "id"), &self.id)?;
        let c = self.company_profile.clone().unwrap_or_default();
        let company_address = address(&join(path, "companyProfile.address"), &c.address)?;
        let company = CompanyProfile::try_from(CompanyProfileIn {
            domain: c.domain,
            companyname: c.company_name,
            email: c.email,
            address: company_address,
            organizationregistrationnumber: c.organization_registration_number,
        })
        .map_err(|e| invalid_at(path, e.description))?;
        let b = self.billing_profile.clone().unwrap_or_default();
        let billing_address = address(
            &join(path, "billingProfile.defaultAddress"),
            &b.default_address,
        )?;
        let billing = BillingProfile::try_from(BillingProfileIn {
            firstname: b.first_name,
            lastname: b.last_name,
            email: b.email,
            culture: b.culture,
            language: b.language,
            companyname: b.company_name,
            defaultaddress: billing_address,
            attributes: None,
        })
        .map_err(|e| invalid_at(path, e.description))?;
        let gdap_roles = self
            .gdap_roles
            .iter()
            .enumerate()
            .map(|(i, r)| {
                parse_name(
                    &join(path, &format!("gdapRoles[{i}]")),
                    r,
                    GdapRole::parse,
                    "a GDAP role (Directory Reader, Directory Writer, License Administrator, User Administrator)",
                )
            })
            .collect::<Result<_, _>>()?;
        let validation_status = self
            .validation_status
            .as_ref()
            .map(|s| {
                let at = join(path, "validationStatus");
                Ok::<_, ApiError>(StatusFixture {
                    status: parse_name(
                        &join(&at, "status"),
                        &s.status,
                        AccountStatus::parse,
                        "one of Unknown, UnderReview, Allowed, NotAllowed, Not Ready",
                    )?,
                    last_update: s
                        .last_update_date_time
                        .as_deref()
                        .map(|t| instant(&join(&at, "lastUpdateDateTime"), t))
                        .transpose()?,
                })
            })
            .transpose()?;
        let qualifications = self
            .qualifications
            .iter()
            .enumerate()
            .map(|(i, q)| q.to_fixture(&join(path, &format!("qualifications[{i}]"))))
            .collect::<Result<_, _>>()?;
        Ok(CustomerFixture {
            id,
            company,
            billing,
            gdap_roles,
            validation_status,
            qualifications,
        })
    }

    fn from_fixture(c: &CustomerFixture) -> Self {
        let company = &c.company;
        let billing = &c.billing;
        Self {
            id: c.id.to_string(),
            company_profile: Some(CompanyProfileDoc {
                domain: company.domain.clone(),
                company_name: company.company_name.clone(),
                email: company.email.clone(),
                address: company.address.as_ref().map(AddressDoc::from),
                organization_registration_number: company.organization_registration_number.clone(),
            }),
            billing_profile: Some(BillingProfileDoc {
                first_name: billing.first_name.clone(),
                last_name: billing.last_name.clone(),
                email: billing.email.clone(),
                culture: billing.culture.clone(),
                language: billing.language.clone(),
                company_name: billing.company_name.clone(),
                default_address: billing.default_address.as_ref().map(AddressDoc::from),
            }),
            gdap_roles: c.gdap_roles.iter().map(|r| r.name().to_owned()).collect(),
            validation_status: c.validation_status.as_ref().map(|s| StatusDoc {
                status: s.status.name().to_owned(),
                last_update_date_time: s.last_update.map(write_instant),
            }),
            qualifications: c
                .qualifications
                .iter()
                .map(|q| QualificationDoc {
                    qualification: q.qualification.name().to_owned(),
                    education_segment: q.education_segment.map(|s| s.name().to_owned()),
                    website: q.website.clone(),
                    validation_code: q.validation_code.clone(),
                    vetting_status: Some(q.vetting_status.name().to_owned()),
                    vetting_reason: q.vetting_reason.clone(),
                    vetting_create_date: q.vetting_create_date.map(write_instant),
                })
                .collect(),
        }
    }
}

impl QualificationDoc {
    fn to_fixture(&self, path: &str) -> Result<QualificationFixture, ApiError> {
        let qualification = parse_name(
            &join(path, "qualification"),
            &self.qualification,
            SettableQualification::parse,
            "one of Education, GovernmentCommunityCloud, StateOwnedEntity",
        )?;
        let vetting_status = match &self.vetting_status {
            None => VettingStatus::InReview,
            Some(s) => parse_name(
                &join(path, "vettingStatus"),
                s,
                VettingStatus::parse,
                "one of InReview, Approved, Denied",
            )?,
        };
        let text = |field: &str, v: &Option<String>, max: usize| {
            qualify_core::customer::optional_text(field, v.clone(), max)
                .map_err(|e| invalid_at(&join(path, field), e.description))
        };
        let vetting_reason = text("vettingReason", &self.vetting_reason, 1024)?;
        if vetting_reason.is_some() && vetting_status != VettingStatus::Denied {
            return Err(invalid_at(
                &join(path, "vettingReason"),
                "only a Denied qualification has a reason.",
            ));
        }
        let keeps = |q| qualification == q;
        Ok(QualificationFixture {
            qualification,
            education_segment: self
                .education_segment
                .as_deref()
                .map(|s| {
                    parse_name(
                        &join(path, "educationSegment"),
                        s,
                        EducationSegment::parse,
                        "K12 or HigherEducation",
                    )
                })
                .transpose()?
                .filter(|_| keeps(SettableQualification::Education)),
            website: text("website", &self.website, 2048)?
                .filter(|_| keeps(SettableQualification::Education)),
            validation_code: text("validationCode", &self.validation_code, 64)?
                .filter(|_| keeps(SettableQualification::GovernmentCommunityCloud)),
            vetting_status,
            vetting_reason,
            vetting_create_date: self
                .vetting_create_date
                .as_deref()
                .map(|t| instant(&join(path, "vettingCreateDate"), t))
                .transpose()?,
        })
    }
}

impl ClockDoc {
    fn to_setting(&self, path: &str) -> Result<ClockSetting, ApiError> {
        match self.mode.trim().to_ascii_lowercase().as_str() {
            "frozen" => {
                if self.offset_seconds.is_some() {
                    return Err(invalid_at(
                        &join(path, "offsetSeconds"),
                        "is only for mode running.",
                    ));
                }
                let now = self.now.as_deref().ok_or_else(|| {
                    invalid_at(&join(path, "now"), "is required with mode frozen.")
                })?;
                Ok(ClockSetting::Frozen(instant(&join(path, "now"), now)?))
            }
            "running" => {
                if self.now.is_some() {
                    return Err(invalid_at(
                        &join(path, "now"),
                        "a running clock is written with offsetSeconds, not now.",
                    ));
                }
                let offset = self.offset_seconds.ok_or_else(|| {
                    invalid_at(
                        &join(path, "offsetSeconds"),
                        "is required with mode running.",
                    )
                })?;
                if !offset.is_finite() || offset.abs() > 1e11 {
                    return Err(invalid_at(&join(path, "offsetSeconds"), "is out of range."));
                }
                Ok(ClockSetting::Running {
                    offset_ms: (offset * 1000.0).round() as i64,
                })
            }
            _ => Err(invalid_at(
                &join(path, "mode"),
                format!("{:?} is not frozen or running.", self.mode),
            )),
        }
    }

    fn from_setting(s: ClockSetting) -> Self {
        match s {
            ClockSetting::Frozen(at) => Self {
                mode: "frozen".into(),
                now: Some(write_instant(at)),
                offset_seconds: None,
            },
            ClockSetting::Running { offset_ms } => Self {
                mode: "running".into(),
                now: None,
                offset_seconds: Some(offset_ms as f64 / 1000.0),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::strict::parse_strict;

    const EXAMPLE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/fixtures.example.json"
    ));

    fn parse(json: &str) -> Result<Fixture, String> {
        parse_strict::<FixtureDoc>(json.as_bytes())
            .and_then(|d| d.to_fixture())
            .map_err(|e| e.error.description)
    }

    #[test]
    fn the_example_of_control_md_round_trips() {
        let f = parse(EXAMPLE).unwrap();
        assert_eq!(f.partners[0].customers[0].qualifications.len(), 2);
        let doc = FixtureDoc::from_fixture(&f);
        let again = doc.to_fixture().unwrap();
        assert_eq!(again, f);
    }

    #[test]
    fn bad_documents_name_the_field() {
        let edit = |from: &str, to: &str| EXAMPLE.replacen(from, to, 1);
        for (doc, path) in [
            (edit(r#""version": 1"#, r#""version": 2"#), "version"),
            (edit("9daaeb1c-4195", "xxxxxxxx-4195"), "partners[0].id"),
            (
                edit(
                    r#""vettingStatus": "Denied""#,
                    r#""vettingStatus": "Pending""#,
                ),
                "partners[0].customers[0].qualifications[0].vettingStatus",
            ),
            (
                edit(r#""mode": "frozen""#, r#""mode": "stopped""#),
                "partners[0].clock.mode",
            ),
            (
                edit(r#""maxCreates": 5"#, r#""maxCreates": 5, "maxCreate": 1"#),
                "partners[0].validationCodes[0].maxCreate",
            ),
            (
                edit(r#""remainingCreates": 4"#, r#""remainingCreates": 6"#),
                "partners[0].validationCodes[0].remainingCreates",
            ),
            (
                edit(r#""Directory Reader""#, r#""Global Admin""#),
                "partners[0].customers[0].gdapRoles[0]",
            ),
            (
                edit(
                    r#""vetting": {"rules": []}"#,
                    r#""vetting": {"rules": [{"outcome": "Nope"}]}"#,
                ),
                "partners[0].vetting.rules[0].outcome",
            ),
            (
                edit(r#""2026-01-02T09:00:00Z""#, r#""yesterday""#),
                "partners[0].customers[0].qualifications[0].vettingCreateDate",
            ),
        ] {
            let e = parse(&doc).unwrap_err();
            assert!(e.starts_with(&format!("{path}:")), "{path}: {e}");
        }
        let e = parse(&edit(r#""country": "US""#, r#""country": "USA""#)).unwrap_err();
        assert!(
            e.starts_with("partners[0].customers[0]: address.country"),
            "{e}"
        );
        // An address is strict in a fixture (in a request, unknown properties are ignored).
        let e = parse(&edit(
            r#""country": "US""#,
            r#""country": "US", "zip": "98052""#,
        ))
        .unwrap_err();
        assert!(
            e.starts_with(
                "partners[0].customers[0].companyProfile.address.zip: unknown field `zip`"
            ),
            "{e}"
        );
    }

    #[test]
    fn the_committed_schema_is_what_the_types_generate() {
        let generated = serde_json::to_string_pretty(&schema()).unwrap() + "\n";
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/fixtures.schema.json"
        );
        if std::env::var_os("QUALIFY_UPDATE_SCHEMA").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/fixtures.schema.json differs from the fixture types; regenerate it with \
             QUALIFY_UPDATE_SCHEMA=1 cargo test -p qualify-server schema"
        );
    }
}
