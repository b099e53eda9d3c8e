//! The test control plane's state on SQLite (control.md 1-4): fixtures (seed, snapshot,
//! restore, reset), scenarios, clocks, counted reads and the queries of a clock advance. The
//! rules are `qualify_core::{fixture, clock, engine}`; this module only loads and applies.

use qualify_core::clock::{ClockChange, ClockPlan, ClockSetting, plan_clock};
use qualify_core::customer::{BillingProfile, CompanyProfile};
use qualify_core::engine::{Scope, plan_read};
use qualify_core::fixture::{
    CodeFixture, CustomerFixture, Fixture, PartnerFixture, QualificationFixture, SeedSnapshot,
    StatusFixture, plan_restore, plan_seed,
};
use qualify_core::policy::VettingPolicy;
use qualify_core::qualification::QualificationRecord;
use qualify_core::scenario::Scenario;
use qualify_core::time_fmt::{from_millis, to_millis};
use qualify_core::validation::{AccountStatus, GdapRole};
use qualify_core::{CustomerId, PartnerId};
use rusqlite::{Connection, params};
use time::OffsetDateTime;

use super::{all, apply, clocks_of, company_of, one, own_clock, run};
use crate::rows;
use crate::{CountedRead, FixtureMode, FixtureOutcome, StoreResult};

fn uuid_of(s: &str) -> StoreResult<uuid::Uuid> {
    uuid::Uuid::parse_str(s).map_err(|_| rows::corrupt("id", s))
}

/// The scope's own clock and the time it follows without one.
fn clock_state(
    conn: &Connection,
    scope: Scope,
    wall: OffsetDateTime,
) -> StoreResult<(Option<ClockSetting>, OffsetDateTime)> {
    let own = own_clock(conn, scope)?;
    let inherited = match scope {
        Scope::All => wall,
        Scope::Partner(_) => own_clock(conn, Scope::All)?.map_or(wall, |g| g.now(wall)),
    };
    Ok((own, inherited))
}

pub(super) fn change_clock(
    conn: &Connection,
    scope: Scope,
    wall: OffsetDateTime,
    change: ClockChange,
) -> StoreResult<ClockPlan> {
    let (own, inherited) = clock_state(conn, scope, wall)?;
    let plan = plan_clock(own, inherited, wall, change)?;
    apply(
        conn,
        &[qualify_core::engine::Effect::SetClock {
            scope,
            setting: plan.setting,
        }],
    )?;
    Ok(plan)
}

pub(super) fn plan_clock_change(
    conn: &Connection,
    scope: Scope,
    wall: OffsetDateTime,
    change: ClockChange,
) -> StoreResult<ClockPlan> {
    let (own, inherited) = clock_state(conn, scope, wall)?;
    Ok(plan_clock(own, inherited, wall, change)?)
}

pub(super) fn scenario_document(
    conn: &Connection,
    partner: PartnerId,
) -> StoreResult<Option<serde_json::Value>> {
    one(
        conn,
        "SELECT document FROM scenarios WHERE partner_id = ?",
        [partner.to_string()],
        |r| rows::from_json("scenario document", &r.get::<_, String>(0)?),
    )
}

fn scenario_pair(
    conn: &Connection,
    partner: PartnerId,
) -> StoreResult<Option<(Scenario, serde_json::Value)>> {
    one(
        conn,
        "SELECT rules, document FROM scenarios WHERE partner_id = ?",
        [partner.to_string()],
        |r| {
            Ok((
                rows::from_json("scenario", &r.get::<_, String>(0)?)?,
                rows::from_json("scenario document", &r.get::<_, String>(1)?)?,
            ))
        },
    )
}

// ---- fixtures -----------------------------------------------------------------------------------

/// The customers of the fixture view, in creation order, with everything under them.
fn customer_fixtures(
    conn: &Connection,
    filter: &str,
    param: &str,
) -> StoreResult<Vec<(PartnerId, CustomerFixture)>> {
    let customers = all(
        conn,
        &format!(
            "SELECT id, partner_id, company_profile, billing_profile FROM customers WHERE {filter} ORDER BY seq"
        ),
        [param],
        |r| {
            Ok((
                uuid_of(&r.get::<_, String>(0)?)?,
                uuid_of(&r.get::<_, String>(1)?)?,
                rows::from_json::<CompanyProfile>("company profile", &r.get::<_, String>(2)?)?,
                rows::from_json::<BillingProfile>("billing profile", &r.get::<_, String>(3)?)?,
            ))
        },
    )?;
    let mut out = Vec::with_capacity(customers.len());
    for (id, partner, company, billing) in customers {
        let cid = id.to_string();
        let gdap_roles: Vec<GdapRole> = one(
            conn,
            "SELECT roles FROM gdap_grants WHERE partner_id = ? AND customer_id = ?",
            [partner.to_string(), cid.clone()],
            |r| {
                let names: Vec<String> = rows::from_json("gdap roles", &r.get::<_, String>(0)?)?;
                names
                    .iter()
                    .map(|n| GdapRole::parse(n).ok_or_else(|| rows::corrupt("gdap role", n)))
                    .collect::<StoreResult<Vec<_>>>()
            },
        )?
        .unwrap_or_default();
        let validation_status = one(
            conn,
            "SELECT status, last_update FROM validation_statuses WHERE customer_id = ?",
            [&cid],
            |r| {
                let s: String = r.get(0)?;
                Ok(StatusFixture {
                    status: AccountStatus::parse(&s)
                        .ok_or_else(|| rows::corrupt("account status", &s))?,
                    last_update: Some(from_millis(r.get(1)?)),
                })
            },
        )?;
        let qualifications = super::load_qualifications(conn, CustomerId(id))?
            .into_iter()
            .map(qualification_fixture)
            .collect();
        out.push((
            PartnerId(partner),
            CustomerFixture {
                id: CustomerId(id),
                company,
                billing,
                gdap_roles,
                validation_status,
                qualifications,
            },
        ));
    }
    Ok(out)
}

fn qualification_fixture(q: QualificationRecord) -> QualificationFixture {
    QualificationFixture {
        qualification: q.qualification,
        education_segment: q.education_segment,
        website: q.website,
        validation_code: q.validation_code,
        vetting_status: q.vetting_status,
        vetting_reason: q.vetting_reason,
        vetting_create_date: Some(q.vetting_create_date),
    }
}

fn code_fixtures(
    conn: &Connection,
    filter: &str,
    param: &str,
) -> StoreResult<Vec<(PartnerId, CodeFixture)>> {
    all(
        conn,
        &format!(
            "SELECT validation_id, partner_id, organization_name, max_creates, remaining_creates \
             FROM validation_codes WHERE {filter} ORDER BY validation_id"
        ),
        [param],
        |r| {
            Ok((
                PartnerId(uuid_of(&r.get::<_, String>(1)?)?),
                CodeFixture {
                    validation_id: r.get(0)?,
                    organization_name: r.get(2)?,
                    max_creates: r.get(3)?,
                    remaining_creates: r.get(4)?,
                },
            ))
        },
    )
}

/// The document of a scope's state (control.md 2): partners ordered by id, customers in
/// creation order, codes by id; a partner's `vetting` and `clock` only when it has its own.
pub(super) fn snapshot(conn: &Connection, scope: Scope) -> StoreResult<Fixture> {
    let (filter, param) = match scope {
        Scope::All => ("?1 = ?1", String::new()),
        Scope::Partner(p) => ("partner_id = ?1", p.to_string()),
    };
    let mut partners: std::collections::BTreeMap<PartnerId, PartnerFixture> =
        std::collections::BTreeMap::new();
    let entry = |partners: &mut std::collections::BTreeMap<PartnerId, PartnerFixture>,
                 p: PartnerId| {
        partners.entry(p).or_insert_with(|| PartnerFixture {
            id: p,
            validation_codes: vec![],
            customers: vec![],
            vetting: None,
            clock: None,
        });
    };
    if let Scope::Partner(p) = scope {
        entry(&mut partners, p);
    }
    for (p, code) in code_fixtures(conn, filter, &param)? {
        entry(&mut partners, p);
        partners
            .get_mut(&p)
            .into_iter()
            .for_each(|x| x.validation_codes.push(code.clone()));
    }
    for (p, customer) in customer_fixtures(conn, filter, &param)? {
        entry(&mut partners, p);
        partners
            .get_mut(&p)
            .into_iter()
            .for_each(|x| x.customers.push(customer.clone()));
    }
    let scenarios = all(
        conn,
        &format!("SELECT partner_id FROM scenarios WHERE {filter}"),
        [&param],
        |r| Ok(PartnerId(uuid_of(&r.get::<_, String>(0)?)?)),
    )?;
    for p in scenarios {
        entry(&mut partners, p);
        let pair = scenario_pair(conn, p)?;
        partners
            .get_mut(&p)
            .into_iter()
            .for_each(|x| x.vetting = pair.clone());
    }
    let clock_filter = match scope {
        Scope::All => "scope <> 'global' AND ?1 = ?1".to_owned(),
        Scope::Partner(_) => "scope = ?1".to_owned(),
    };
    let clocks = all(
        conn,
        &format!("SELECT scope, frozen_at, offset_ms FROM clocks WHERE {clock_filter}"),
        [&param],
        |r| {
            Ok((
                PartnerId(uuid_of(&r.get::<_, String>(0)?)?),
                rows::clock_setting(r.get(1)?, r.get(2)?),
            ))
        },
    )?;
    for (p, setting) in clocks {
        entry(&mut partners, p);
        partners
            .get_mut(&p)
            .into_iter()
            .for_each(|x| x.clock = setting);
    }
    Ok(Fixture {
        partners: partners.into_values().collect(),
    })
}

/// What applying `fixture` reads.
fn seed_snapshot(conn: &Connection, fixture: &Fixture) -> StoreResult<SeedSnapshot> {
    let mut snapshot = SeedSnapshot::default();
    for partner in &fixture.partners {
        if let Some(pair) = scenario_pair(conn, partner.id)? {
            snapshot.scenarios.insert(partner.id, pair);
        }
        snapshot
            .clocks
            .insert(partner.id, clocks_of(conn, partner.id)?);
        for code in &partner.validation_codes {
            for (owner, stored) in code_fixtures(conn, "validation_id = ?1", &code.validation_id)? {
                snapshot
                    .code_owners
                    .insert(stored.validation_id.clone(), owner);
                snapshot.codes.insert(stored.validation_id.clone(), stored);
            }
        }
        for customer in &partner.customers {
            for (owner, stored) in customer_fixtures(conn, "id = ?1", &customer.id.to_string())? {
                snapshot.customer_owners.insert(stored.id, owner);
                snapshot.customers.insert(stored.id, stored);
            }
        }
    }
    Ok(snapshot)
}

/// Applies a fixture in one transaction (the caller's batch savepoint).
pub(super) fn apply_fixture(
    conn: &Connection,
    mode: &FixtureMode,
    fixture: &Fixture,
    wall: OffsetDateTime,
    policy: &VettingPolicy,
) -> StoreResult<FixtureOutcome> {
    let snapshot = seed_snapshot(conn, fixture)?;
    let plan = match mode {
        FixtureMode::Seed { .. } => plan_seed(fixture, &snapshot, wall, policy)?,
        FixtureMode::Restore(scope) => plan_restore(*scope, fixture, &snapshot, wall, policy)?,
    };
    let applied = apply(conn, &plan.effects)?;
    if let FixtureMode::Seed {
        record: Some(record),
    } = mode
    {
        run(
            conn,
            "INSERT INTO seeds (sha256, document, applied_at) VALUES (?, ?, ?) \
             ON CONFLICT (sha256) DO UPDATE SET applied_at = excluded.applied_at",
            params![record.sha256, record.document, to_millis(wall)],
        )?;
    }
    Ok(FixtureOutcome {
        removed: applied.removed,
        applied: plan.counts,
    })
}

pub(super) fn seed_applied(conn: &Connection, sha256: &str) -> StoreResult<bool> {
    Ok(one(
        conn,
        "SELECT 1 FROM seeds WHERE sha256 = ?",
        [sha256],
        |_| Ok(()),
    )?
    .is_some())
}

pub(super) fn current_seed(conn: &Connection) -> StoreResult<Option<String>> {
    one(
        conn,
        "SELECT document FROM seeds ORDER BY applied_at DESC, rowid DESC LIMIT 1",
        [],
        |r| Ok(r.get::<_, String>(0)?),
    )
}

// ---- reads that decide --------------------------------------------------------------------------

/// Counts a read of the customer's `afterReads` requests (all of them, or only `only`), applies
/// the decisions that read brings, and returns the owner and the requests as the read shows them.
pub(super) fn count_reads(
    conn: &Connection,
    customer: CustomerId,
    wall: OffsetDateTime,
    policy: &VettingPolicy,
    only: Option<i64>,
) -> StoreResult<Option<CountedRead>> {
    let Some(owner) = super::customer_owner(conn, customer)? else {
        return Ok(None);
    };
    let records = super::load_qualifications(conn, customer)?;
    let company = company_of(conn, customer)?;
    let now = clocks_of(conn, owner)?.now(wall);
    let (counted, others): (Vec<_>, Vec<_>) = records
        .into_iter()
        .partition(|q| only.is_none_or(|id| id == q.id));
    let waiting: Vec<i64> = counted
        .iter()
        .filter(|q| !q.vetting_status.is_terminal())
        .map(|q| q.id)
        .collect();
    let (shown, effects) = plan_read(counted, company.as_ref(), policy, now)?;
    apply(conn, &effects)?;
    let mut all: Vec<QualificationRecord> = shown.into_iter().chain(others).collect();
    all.sort_by_key(|q| q.id);
    Ok(Some(CountedRead::new(owner, &waiting, all)))
}

// ---- clock advances -----------------------------------------------------------------------------

/// A condition selecting the jobs (or audit events) of a scope's partners — one partner, or
/// every partner that follows the global clock — on parameter `?n`, and that parameter.
pub(super) fn scope_filter(scope: Scope, n: u8) -> (String, String) {
    match scope {
        Scope::All => (
            format!(
                "partner_id NOT IN (SELECT scope FROM clocks WHERE scope <> 'global') AND ?{n} = ?{n}"
            ),
            String::new(),
        ),
        Scope::Partner(p) => (format!("partner_id = ?{n}"), p.to_string()),
    }
}

pub(super) fn unfinished_due_by(
    conn: &Connection,
    scope: Scope,
    due_by: OffsetDateTime,
) -> StoreResult<u64> {
    let (filter, param) = scope_filter(scope, 2);
    let n: i64 = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM jobs WHERE done_at IS NULL AND run_at <= ?1 AND {filter}"
        ))?
        .query_row(params![to_millis(due_by), param], |r| r.get(0))?;
    Ok(n as u64)
}

/// Transitions (audit events that change a status) of a scope after audit `seq`, up to `to`.
pub(super) fn transitions_after(
    conn: &Connection,
    seq: i64,
    scope: Scope,
    to: OffsetDateTime,
) -> StoreResult<Vec<crate::AppliedTransition>> {
    let (filter, param) = scope_filter(scope, 3);
    all(
        conn,
        &format!(
            "SELECT id, customer_id, qualification, from_status, to_status, reason, at FROM audit_events \
             WHERE id > ?1 AND from_status IS NOT NULL AND at <= ?2 AND {filter} ORDER BY at, id"
        ),
        params![seq, to_millis(to), param],
        |r| {
            Ok(crate::AppliedTransition {
                seq: r.get(0)?,
                customer_id: CustomerId(uuid_of(&r.get::<_, String>(1)?)?),
                qualification: {
                    let q: String = r.get(2)?;
                    qualify_core::qualification::SettableQualification::parse(&q)
                        .ok_or_else(|| rows::corrupt("qualification", &q))?
                },
                from: rows::status(&r.get::<_, String>(3)?)?,
                to: rows::status(&r.get::<_, String>(4)?)?,
                reason: r.get(5)?,
                at: from_millis(r.get(6)?),
            })
        },
    )
}

pub(super) fn last_audit_seq(conn: &Connection) -> StoreResult<i64> {
    Ok(conn
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM audit_events")?
        .query_row([], |r| r.get(0))?)
}
