//! Fixtures (control.md 2): one document for `serve --seed`, seed, snapshot and restore, here as
//! validated domain values, and the plans that apply one. Applying is an upsert by id, all or
//! nothing; applying the same document twice changes nothing the second time.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::clock::{ClockSetting, PartnerClocks};
use crate::customer::{BillingProfile, CompanyProfile, Customer};
use crate::engine::{
    Counts, Effect, NewQualification, QualificationRef, Scope, Stamp, new_etag, recorded_effects,
};
use crate::error::{DomainError, ErrorKind};
use crate::ids::{CustomerId, PartnerId};
use crate::policy::VettingPolicy;
use crate::qualification::{EducationSegment, SettableQualification, VettingStatus};
use crate::rules::{QualificationRequest, check_against_existing};
use crate::scenario::{RequestFacts, Scenario, choose};
use crate::validation::{AccountStatus, GdapGrant, GdapRole, ValidationCode, ValidationStatus};

/// The actor of seeded and restored state in audit events.
pub const SEED_ACTOR: &str = "qualify:seed";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fixture {
    pub partners: Vec<PartnerFixture>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PartnerFixture {
    pub id: PartnerId,
    pub validation_codes: Vec<CodeFixture>,
    pub customers: Vec<CustomerFixture>,
    /// The scenario's rules and the document the API shows for it.
    pub vetting: Option<(Scenario, serde_json::Value)>,
    pub clock: Option<ClockSetting>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeFixture {
    pub validation_id: String,
    pub organization_name: String,
    pub max_creates: i64,
    pub remaining_creates: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerFixture {
    pub id: CustomerId,
    pub company: CompanyProfile,
    pub billing: BillingProfile,
    pub gdap_roles: Vec<GdapRole>,
    pub validation_status: Option<StatusFixture>,
    pub qualifications: Vec<QualificationFixture>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusFixture {
    pub status: AccountStatus,
    /// Defaults to the partner's clock.
    pub last_update: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualificationFixture {
    pub qualification: SettableQualification,
    pub education_segment: Option<EducationSegment>,
    pub website: Option<String>,
    pub validation_code: Option<String>,
    pub vetting_status: VettingStatus,
    pub vetting_reason: Option<String>,
    /// Defaults to the partner's clock.
    pub vetting_create_date: Option<OffsetDateTime>,
}

/// A rule of api.md 4.1 that a document breaks, named by the JSON path of the offending part.
fn invalid_at(path: String, e: &DomainError) -> DomainError {
    DomainError::invalid(format!("{path}: {}", e.description))
}

impl CustomerFixture {
    /// The document obeys api.md 4.1: replayed in order, each request must have been
    /// acceptable when it was made (no Education next to an active GCC, at most three Education
    /// requests, one InReview or Approved request per qualification).
    pub fn check_rules(&self, path: &str) -> Result<(), DomainError> {
        let mut earlier: Vec<crate::qualification::QualificationRecord> = vec![];
        for (i, q) in self.qualifications.iter().enumerate() {
            let request = QualificationRequest {
                qualification: q.qualification,
                education_segment: q.education_segment,
                website: q.website.clone(),
                validation_code: q.validation_code.clone(),
            };
            check_against_existing(&request, &earlier)
                .map_err(|e| invalid_at(format!("{path}.qualifications[{i}]"), &e))?;
            earlier.push(
                NewQualification {
                    customer_id: self.id,
                    partner_id: PartnerId(uuid::Uuid::nil()),
                    qualification: q.qualification,
                    vetting_status: q.vetting_status,
                    vetting_reason: None,
                    vetting_create_date: OffsetDateTime::UNIX_EPOCH,
                    education_segment: None,
                    website: None,
                    validation_code: None,
                    etag: String::new(),
                    choice: None,
                }
                .into_record(i as i64),
            );
        }
        Ok(())
    }

    /// Whether applying `self` over `stored` would change nothing: equal, where the document
    /// leaves a time to default, whatever the stored time is.
    fn same_as(&self, stored: &CustomerFixture) -> bool {
        let times_from = |doc: &CustomerFixture| {
            let mut doc = doc.clone();
            if let (Some(d), Some(s)) = (&mut doc.validation_status, &stored.validation_status)
                && d.last_update.is_none()
            {
                d.last_update = s.last_update;
            }
            for (d, s) in doc.qualifications.iter_mut().zip(&stored.qualifications) {
                if d.vetting_create_date.is_none() {
                    d.vetting_create_date = s.vetting_create_date;
                }
            }
            doc
        };
        times_from(self) == *stored
    }
}

/// What applying a fixture reads: who owns the ids the document names, the stored state of its
/// customers, codes, scenarios and clocks.
#[derive(Debug, Clone, Default)]
pub struct SeedSnapshot {
    pub customer_owners: HashMap<CustomerId, PartnerId>,
    pub code_owners: HashMap<String, PartnerId>,
    /// The stored state of the document's customers (as a snapshot would write them).
    pub customers: HashMap<CustomerId, CustomerFixture>,
    pub codes: HashMap<String, CodeFixture>,
    /// The stored scenario document of each of the document's partners.
    pub scenarios: HashMap<PartnerId, (Scenario, serde_json::Value)>,
    /// The clocks of each of the document's partners.
    pub clocks: HashMap<PartnerId, PartnerClocks>,
}

#[derive(Debug, Clone, Default)]
pub struct SeedPlan {
    pub effects: Vec<Effect>,
    /// What the document adds or replaces.
    pub counts: Counts,
}

/// Applies `fixture` over the stored state (an upsert by id): a customer or validation code
/// that belongs to another partner is a 409 and nothing is applied; a customer replaces that
/// customer's stored state as a whole unless it is the same; a partner's scenario and clock
/// replace that partner's. Every InReview qualification gets a vetting job chosen like a new
/// request's. Seeds set state: they are not transitions.
pub fn plan_seed(
    fixture: &Fixture,
    snapshot: &SeedSnapshot,
    wall: OffsetDateTime,
    policy: &VettingPolicy,
) -> Result<SeedPlan, DomainError> {
    let mut plan = SeedPlan::default();
    let mut customers_seen = HashMap::new();
    let mut codes_seen = HashMap::new();
    let mut partners_seen = HashMap::new();
    for (pi, partner) in fixture.partners.iter().enumerate() {
        let twice = |what: String, first: String| {
            DomainError::invalid(format!(
                "{what}: the same id as {first}; each id may appear once."
            ))
        };
        if let Some(first) = partners_seen.insert(partner.id, pi) {
            return Err(twice(
                format!("partners[{pi}].id"),
                format!("partners[{first}].id"),
            ));
        }
        for (ci, code) in partner.validation_codes.iter().enumerate() {
            let path = format!("partners[{pi}].validationCodes[{ci}].validationId");
            if let Some(first) = codes_seen.insert(code.validation_id.clone(), path.clone()) {
                return Err(twice(path, first));
            }
        }
        for (ci, customer) in partner.customers.iter().enumerate() {
            let path = format!("partners[{pi}].customers[{ci}].id");
            if let Some(first) = customers_seen.insert(customer.id, path.clone()) {
                return Err(twice(path, first));
            }
        }
    }
    for (pi, partner) in fixture.partners.iter().enumerate() {
        let p = partner.id;
        let owned_elsewhere = |path: String, owner: Option<&PartnerId>| match owner {
            Some(o) if *o != p => Err(DomainError::new(
                ErrorKind::OwnedByAnotherPartner,
                format!("{path} belongs to another partner ({o}); nothing was applied."),
            )),
            _ => Ok(()),
        };
        for (ci, code) in partner.validation_codes.iter().enumerate() {
            owned_elsewhere(
                format!("partners[{pi}].validationCodes[{ci}].validationId"),
                snapshot.code_owners.get(&code.validation_id),
            )?;
        }
        for (ci, customer) in partner.customers.iter().enumerate() {
            owned_elsewhere(
                format!("partners[{pi}].customers[{ci}].id"),
                snapshot.customer_owners.get(&customer.id),
            )?;
            customer.check_rules(&format!("partners[{pi}].customers[{ci}]"))?;
        }
        let clocks = PartnerClocks {
            own: partner
                .clock
                .or(snapshot.clocks.get(&p).and_then(|c| c.own)),
            ..snapshot.clocks.get(&p).copied().unwrap_or_default()
        };
        let now = clocks.now(wall);
        let stamp = Stamp {
            at: now,
            actor: SEED_ACTOR,
            ids: None,
        };
        if let Some(setting) = partner.clock
            && snapshot.clocks.get(&p).and_then(|c| c.own) != Some(setting)
        {
            plan.effects.push(Effect::SetClock {
                scope: Scope::Partner(p),
                setting: Some(setting),
            });
        }
        if let Some(vetting) = &partner.vetting
            && snapshot.scenarios.get(&p) != Some(vetting)
        {
            plan.effects.push(Effect::SetScenario {
                partner: p,
                scenario: Some(vetting.clone()),
            });
        }
        let scenario = partner
            .vetting
            .as_ref()
            .or(snapshot.scenarios.get(&p))
            .map(|(s, _)| s);
        for code in &partner.validation_codes {
            plan.counts.validation_codes += 1;
            if snapshot.codes.get(&code.validation_id) == Some(code) {
                continue;
            }
            plan.effects.push(Effect::UpsertValidationCode {
                code: ValidationCode {
                    partner_id: p,
                    organization_name: code.organization_name.clone(),
                    validation_id: code.validation_id.clone(),
                    max_creates: code.max_creates,
                    remaining_creates: code.remaining_creates,
                    etag: new_etag(),
                },
                at: now,
            });
        }
        for customer in &partner.customers {
            plan.counts.customers += 1;
            plan.counts.qualifications += customer.qualifications.len() as u64;
            let stored = snapshot.customers.get(&customer.id);
            if stored.is_some_and(|s| customer.same_as(s)) {
                continue;
            }
            if stored.is_some() || snapshot.customer_owners.contains_key(&customer.id) {
                plan.effects.push(Effect::DeleteCustomer(customer.id));
            }
            customer_effects(&mut plan.effects, p, customer, scenario, stamp, policy);
        }
    }
    Ok(plan)
}

/// Replaces a scope with `fixture` (a reset, then a seed), in one transaction. For a partner's
/// scope the document may only hold that partner.
pub fn plan_restore(
    scope: Scope,
    fixture: &Fixture,
    snapshot: &SeedSnapshot,
    wall: OffsetDateTime,
    policy: &VettingPolicy,
) -> Result<SeedPlan, DomainError> {
    if let Scope::Partner(p) = scope
        && let Some(i) = fixture.partners.iter().position(|x| x.id != p)
    {
        return Err(DomainError::invalid(format!(
            "partners[{i}].id: a restore of partner {p} takes only that partner's state."
        )));
    }
    // What the reset removes is not there to compare with, nor does it own anything.
    let cleared = SeedSnapshot {
        customer_owners: snapshot
            .customer_owners
            .iter()
            .filter(|(_, o)| !scope.includes(**o))
            .map(|(c, o)| (*c, *o))
            .collect(),
        code_owners: snapshot
            .code_owners
            .iter()
            .filter(|(_, o)| !scope.includes(**o))
            .map(|(c, o)| (c.clone(), *o))
            .collect(),
        clocks: snapshot
            .clocks
            .iter()
            .map(|(p, c)| {
                let c = PartnerClocks {
                    global: if scope == Scope::All { None } else { c.global },
                    own: None,
                };
                (*p, c)
            })
            .collect(),
        ..SeedSnapshot::default()
    };
    let mut plan = plan_seed(fixture, &cleared, wall, policy)?;
    plan.effects.insert(0, Effect::ClearScope(scope));
    Ok(plan)
}

fn customer_effects(
    effects: &mut Vec<Effect>,
    partner: PartnerId,
    c: &CustomerFixture,
    scenario: Option<&Scenario>,
    stamp: Stamp<'_>,
    policy: &VettingPolicy,
) {
    let now = stamp.at;
    let company_etag = new_etag();
    effects.push(Effect::InsertCustomer(Box::new(Customer {
        id: c.id,
        partner_id: partner,
        company_profile: c.company.clone(),
        company_etag: company_etag.clone(),
        billing_profile: c.billing.clone(),
        billing_etag: new_etag(),
        created_at: now,
    })));
    if !c.gdap_roles.is_empty() {
        effects.push(Effect::SetGdap(GdapGrant::new(
            partner,
            c.id,
            &c.gdap_roles,
            now,
        )));
    }
    if let Some(s) = &c.validation_status {
        effects.push(Effect::SetValidationStatus(ValidationStatus {
            customer_id: c.id,
            status: s.status,
            last_update: s.last_update.unwrap_or(now),
        }));
    }
    for q in &c.qualifications {
        let created = q.vetting_create_date.unwrap_or(now);
        let choice = (q.vetting_status == VettingStatus::InReview)
            .then(|| {
                choose(
                    scenario,
                    policy.test_values,
                    &RequestFacts {
                        customer_id: c.id,
                        qualification: q.qualification,
                        education_segment: q.education_segment,
                        website: q.website.as_deref(),
                        domain: c.company.domain.as_deref(),
                    },
                )
            })
            .flatten();
        let new = NewQualification {
            customer_id: c.id,
            partner_id: partner,
            qualification: q.qualification,
            vetting_status: q.vetting_status,
            vetting_reason: q.vetting_reason.clone(),
            vetting_create_date: created,
            education_segment: q.education_segment,
            website: q.website.clone(),
            validation_code: q.validation_code.clone(),
            etag: new_etag(),
            choice,
        };
        effects.push(Effect::InsertQualification(new.clone()));
        effects.extend(recorded_effects(
            &new,
            QualificationRef::Inserted,
            stamp,
            policy,
            Some(company_etag.clone()),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::AuditEntry;
    use crate::time_fmt::from_millis;

    const P: PartnerId = PartnerId(uuid::Uuid::from_u128(1));
    const OTHER: PartnerId = PartnerId(uuid::Uuid::from_u128(9));
    const C: CustomerId = CustomerId(uuid::Uuid::from_u128(2));

    fn company() -> CompanyProfile {
        CompanyProfile {
            domain: Some("contoso.edu".into()),
            company_name: Some("Contoso".into()),
            email: None,
            address: None,
            organization_registration_number: None,
        }
    }

    fn billing() -> BillingProfile {
        BillingProfile {
            first_name: None,
            last_name: None,
            email: None,
            culture: None,
            language: None,
            company_name: None,
            default_address: None,
        }
    }

    fn q(
        qualification: SettableQualification,
        status: VettingStatus,
        at: Option<i64>,
    ) -> QualificationFixture {
        QualificationFixture {
            qualification,
            education_segment: Some(EducationSegment::K12),
            website: None,
            validation_code: None,
            vetting_status: status,
            vetting_reason: None,
            vetting_create_date: at.map(from_millis),
        }
    }

    fn fixture(qualifications: Vec<QualificationFixture>) -> Fixture {
        Fixture {
            partners: vec![PartnerFixture {
                id: P,
                validation_codes: vec![CodeFixture {
                    validation_id: "123".into(),
                    organization_name: "Gov".into(),
                    max_creates: 5,
                    remaining_creates: 4,
                }],
                customers: vec![CustomerFixture {
                    id: C,
                    company: company(),
                    billing: billing(),
                    gdap_roles: vec![GdapRole::DirectoryReader],
                    validation_status: None,
                    qualifications,
                }],
                vetting: None,
                clock: None,
            }],
        }
    }

    use SettableQualification::*;
    use VettingStatus::*;

    #[test]
    fn a_seed_inserts_everything_and_gives_in_review_requests_a_vetting_job() {
        let f = fixture(vec![
            q(Education, Denied, Some(5)),
            q(StateOwnedEntity, InReview, None),
        ]);
        let plan = plan_seed(
            &f,
            &SeedSnapshot::default(),
            from_millis(1_000),
            &VettingPolicy::default(),
        )
        .unwrap();
        assert_eq!(
            plan.counts,
            Counts {
                customers: 1,
                qualifications: 2,
                validation_codes: 1
            }
        );
        let jobs = plan
            .effects
            .iter()
            .filter(|e| matches!(e, Effect::Enqueue { .. }))
            .count();
        assert_eq!(jobs, 1, "only the InReview request is vetted");
        let audits: Vec<&AuditEntry> = plan
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::Audit(a) => Some(a),
                _ => None,
            })
            .collect();
        assert_eq!(
            audits
                .iter()
                .map(|a| (a.actor.as_str(), a.to, a.from))
                .collect::<Vec<_>>(),
            vec![(SEED_ACTOR, Denied, None), (SEED_ACTOR, InReview, None)]
        );
        let inserted: Vec<OffsetDateTime> = plan
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::InsertQualification(q) => Some(q.vetting_create_date),
                _ => None,
            })
            .collect();
        assert_eq!(
            inserted,
            vec![from_millis(5), from_millis(1_000)],
            "an omitted vettingCreateDate is the partner's clock"
        );
    }

    #[test]
    fn ids_of_another_partner_and_broken_rules_are_refused_naming_the_path() {
        let f = fixture(vec![]);
        let taken = SeedSnapshot {
            customer_owners: HashMap::from([(C, OTHER)]),
            ..Default::default()
        };
        let e = plan_seed(&f, &taken, from_millis(0), &VettingPolicy::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::OwnedByAnotherPartner);
        assert!(
            e.description.starts_with("partners[0].customers[0].id"),
            "{}",
            e.description
        );
        let code_taken = SeedSnapshot {
            code_owners: HashMap::from([("123".to_owned(), OTHER)]),
            ..Default::default()
        };
        let e = plan_seed(&f, &code_taken, from_millis(0), &VettingPolicy::default()).unwrap_err();
        assert!(
            e.description
                .starts_with("partners[0].validationCodes[0].validationId"),
            "{}",
            e.description
        );
        for (broken, at) in [
            (
                vec![
                    q(Education, InReview, None),
                    q(GovernmentCommunityCloud, Approved, None),
                ],
                1,
            ),
            (
                vec![q(Education, Approved, None), q(Education, InReview, None)],
                1,
            ),
            (
                vec![
                    q(Education, Denied, None),
                    q(Education, Denied, None),
                    q(Education, Denied, None),
                    q(Education, InReview, None),
                ],
                3,
            ),
        ] {
            let e = plan_seed(
                &fixture(broken),
                &SeedSnapshot::default(),
                from_millis(0),
                &VettingPolicy::default(),
            )
            .unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidInput);
            assert!(
                e.description
                    .starts_with(&format!("partners[0].customers[0].qualifications[{at}]")),
                "{}",
                e.description
            );
        }
    }

    #[test]
    fn the_same_document_over_its_own_state_changes_nothing() {
        let f = fixture(vec![q(Education, Denied, None)]);
        let mut stored = f.partners[0].customers[0].clone();
        stored.qualifications[0].vetting_create_date = Some(from_millis(77));
        let snapshot = SeedSnapshot {
            customer_owners: HashMap::from([(C, P)]),
            code_owners: HashMap::from([("123".to_owned(), P)]),
            customers: HashMap::from([(C, stored)]),
            codes: HashMap::from([("123".to_owned(), f.partners[0].validation_codes[0].clone())]),
            ..Default::default()
        };
        let plan = plan_seed(&f, &snapshot, from_millis(0), &VettingPolicy::default()).unwrap();
        assert!(plan.effects.is_empty(), "{:?}", plan.effects);
        assert_eq!(
            plan.counts.customers, 1,
            "the document's state is applied (unchanged)"
        );
        // A changed customer is replaced as a whole.
        let changed = fixture(vec![q(Education, Approved, None)]);
        let plan = plan_seed(
            &changed,
            &snapshot,
            from_millis(0),
            &VettingPolicy::default(),
        )
        .unwrap();
        assert!(matches!(plan.effects[0], Effect::DeleteCustomer(c) if c == C));
    }

    #[test]
    fn a_partner_restore_takes_only_that_partner_and_starts_with_a_reset() {
        let f = fixture(vec![]);
        let plan = plan_restore(
            Scope::Partner(P),
            &f,
            &SeedSnapshot::default(),
            from_millis(0),
            &VettingPolicy::default(),
        )
        .unwrap();
        assert_eq!(plan.effects[0], Effect::ClearScope(Scope::Partner(P)));
        let e = plan_restore(
            Scope::Partner(OTHER),
            &f,
            &SeedSnapshot::default(),
            from_millis(0),
            &VettingPolicy::default(),
        )
        .unwrap_err();
        assert!(
            e.description.starts_with("partners[0].id"),
            "{}",
            e.description
        );
        // The restored partner's own stored state is gone with the reset: no 409 for its ids.
        let owned = SeedSnapshot {
            customer_owners: HashMap::from([(C, P)]),
            ..Default::default()
        };
        assert!(
            plan_restore(
                Scope::Partner(P),
                &f,
                &owned,
                from_millis(0),
                &VettingPolicy::default()
            )
            .is_ok()
        );
    }
}
