//! A scope's state as a fixture document (control.md 2), assembled from the rows a store reads:
//! a snapshot of the whole server or of one partner, and the stored state a seed compares its
//! document with. The store only selects rows; the shape of the document is decided here.

use std::collections::{BTreeMap, HashMap};

use crate::clock::{ClockSetting, PartnerClocks};
use crate::customer::Customer;
use crate::effects::Scope;
use crate::fixture::{
    CodeFixture, CustomerFixture, Fixture, PartnerFixture, QualificationFixture, SeedSnapshot,
    StatusFixture,
};
use crate::ids::{CustomerId, PartnerId};
use crate::qualification::QualificationRecord;
use crate::scenario::Scenario;
use crate::validation::{GdapGrant, ValidationCode, ValidationStatus};

/// The rows of some customers and codes, as a store reads them.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// Customers in creation order.
    pub customers: Vec<Customer>,
    /// Their GDAP grants (only the owner's grant counts).
    pub gdap: Vec<GdapGrant>,
    /// Their account validation statuses.
    pub statuses: Vec<ValidationStatus>,
    /// Their qualification requests, oldest first.
    pub qualifications: Vec<QualificationRecord>,
    /// Validation codes.
    pub codes: Vec<ValidationCode>,
}

impl Rows {
    pub fn extend(&mut self, more: Rows) {
        self.customers.extend(more.customers);
        self.gdap.extend(more.gdap);
        self.statuses.extend(more.statuses);
        self.qualifications.extend(more.qualifications);
        self.codes.extend(more.codes);
    }

    /// Each customer with everything under it, as a document writes it, in creation order.
    pub fn customer_fixtures(&self) -> Vec<(PartnerId, CustomerFixture)> {
        let mut roles: HashMap<(PartnerId, CustomerId), &GdapGrant> = HashMap::new();
        for g in &self.gdap {
            roles.insert((g.partner_id, g.customer_id), g);
        }
        let statuses: HashMap<CustomerId, &ValidationStatus> =
            self.statuses.iter().map(|s| (s.customer_id, s)).collect();
        let mut requests: HashMap<CustomerId, Vec<QualificationFixture>> = HashMap::new();
        for q in &self.qualifications {
            requests
                .entry(q.customer_id)
                .or_default()
                .push(qualification_fixture(q));
        }
        self.customers
            .iter()
            .map(|c| {
                let fixture = CustomerFixture {
                    id: c.id,
                    company: c.company_profile.clone(),
                    billing: c.billing_profile.clone(),
                    gdap_roles: roles
                        .get(&(c.partner_id, c.id))
                        .map(|g| g.roles.clone())
                        .unwrap_or_default(),
                    validation_status: statuses.get(&c.id).map(|s| StatusFixture {
                        status: s.status,
                        last_update: Some(s.last_update),
                    }),
                    qualifications: requests.remove(&c.id).unwrap_or_default(),
                };
                (c.partner_id, fixture)
            })
            .collect()
    }

    /// The codes as a document writes them, ordered by id.
    pub fn code_fixtures(&self) -> Vec<(PartnerId, CodeFixture)> {
        let mut codes: Vec<&ValidationCode> = self.codes.iter().collect();
        codes.sort_by(|a, b| a.validation_id.cmp(&b.validation_id));
        codes
            .into_iter()
            .map(|c| {
                (
                    c.partner_id,
                    CodeFixture {
                        validation_id: c.validation_id.clone(),
                        organization_name: c.organization_name.clone(),
                        max_creates: c.max_creates,
                        remaining_creates: c.remaining_creates,
                    },
                )
            })
            .collect()
    }
}

fn qualification_fixture(q: &QualificationRecord) -> QualificationFixture {
    QualificationFixture {
        qualification: q.qualification,
        education_segment: q.education_segment,
        website: q.website.clone(),
        validation_code: q.validation_code.clone(),
        vetting_status: q.vetting_status,
        vetting_reason: q.vetting_reason.clone(),
        vetting_create_date: Some(q.vetting_create_date),
    }
}

/// The document of a scope's state: partners ordered by id, customers in creation order, codes
/// by id; a partner's `vetting` and `clock` only when it has its own; a partner's own scope
/// always names it, even empty. `clocks` are the partners' own clocks (not the global one).
pub fn document(
    scope: Scope,
    rows: &Rows,
    scenarios: Vec<(PartnerId, (Scenario, serde_json::Value))>,
    clocks: Vec<(PartnerId, Option<ClockSetting>)>,
) -> Fixture {
    let mut partners: BTreeMap<PartnerId, PartnerFixture> = BTreeMap::new();
    fn entry(
        partners: &mut BTreeMap<PartnerId, PartnerFixture>,
        p: PartnerId,
    ) -> &mut PartnerFixture {
        partners.entry(p).or_insert_with(|| PartnerFixture {
            id: p,
            validation_codes: vec![],
            customers: vec![],
            vetting: None,
            clock: None,
        })
    }
    if let Scope::Partner(p) = scope {
        entry(&mut partners, p);
    }
    for (p, code) in rows.code_fixtures() {
        entry(&mut partners, p).validation_codes.push(code);
    }
    for (p, customer) in rows.customer_fixtures() {
        entry(&mut partners, p).customers.push(customer);
    }
    for (p, pair) in scenarios {
        entry(&mut partners, p).vetting = Some(pair);
    }
    for (p, setting) in clocks {
        entry(&mut partners, p).clock = setting;
    }
    Fixture {
        partners: partners.into_values().collect(),
    }
}

/// What applying a document reads, from the stored rows of the customers and codes it names,
/// the scenarios and the clocks of its partners.
pub fn seed_snapshot(
    rows: &Rows,
    scenarios: HashMap<PartnerId, (Scenario, serde_json::Value)>,
    clocks: HashMap<PartnerId, PartnerClocks>,
) -> SeedSnapshot {
    let mut snapshot = SeedSnapshot {
        scenarios,
        clocks,
        ..SeedSnapshot::default()
    };
    for (owner, code) in rows.code_fixtures() {
        snapshot
            .code_owners
            .insert(code.validation_id.clone(), owner);
        snapshot.codes.insert(code.validation_id.clone(), code);
    }
    for (owner, customer) in rows.customer_fixtures() {
        snapshot.customer_owners.insert(customer.id, owner);
        snapshot.customers.insert(customer.id, customer);
    }
    snapshot
}
