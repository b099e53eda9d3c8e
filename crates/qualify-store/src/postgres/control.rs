//! The test control plane's state on PostgreSQL (control.md 1-4): fixtures (seed, snapshot,
//! restore, reset), scenarios, clocks, counted reads and the queries of a clock advance. The
//! rules are `qualify_core::{fixture, clock, engine}`; this module only loads, locks and applies.

use std::collections::BTreeMap;

use qualify_core::clock::{ClockChange, ClockPlan, ClockSetting, plan_clock};
use qualify_core::customer::{BillingProfile, CompanyProfile};
use qualify_core::engine::{Effect, Scope, plan_read};
use qualify_core::fixture::{
    CodeFixture, CustomerFixture, Fixture, PartnerFixture, QualificationFixture, SeedSnapshot,
    StatusFixture, plan_restore, plan_seed,
};
use qualify_core::policy::VettingPolicy;
use qualify_core::qualification::{QualificationRecord, SettableQualification};
use qualify_core::scenario::Scenario;
use qualify_core::time_fmt::{from_millis, to_millis};
use qualify_core::validation::{AccountStatus, GdapRole};
use qualify_core::{CustomerId, PartnerId};
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

use super::{
    apply, company_of, customer_owner, load_qualifications, lock_scope, own_clock, partner_clocks,
};
use crate::rows;
use crate::{AppliedTransition, CountedRead, FixtureMode, FixtureOutcome, StoreResult};

fn uuid_of(s: &str) -> StoreResult<uuid::Uuid> {
    uuid::Uuid::parse_str(s).map_err(|_| rows::corrupt("id", s))
}

async fn clock_state(
    conn: &mut PgConnection,
    scope: Scope,
    wall: OffsetDateTime,
) -> StoreResult<(Option<ClockSetting>, OffsetDateTime)> {
    let own = own_clock(conn, scope).await?;
    let inherited = match scope {
        Scope::All => wall,
        Scope::Partner(_) => own_clock(conn, Scope::All)
            .await?
            .map_or(wall, |g| g.now(wall)),
    };
    Ok((own, inherited))
}

pub(super) async fn change_clock(
    conn: &mut PgConnection,
    scope: Scope,
    wall: OffsetDateTime,
    change: ClockChange,
) -> StoreResult<ClockPlan> {
    lock_scope(conn, scope).await?;
    let (own, inherited) = clock_state(conn, scope, wall).await?;
    let plan = plan_clock(own, inherited, wall, change)?;
    apply(
        conn,
        &[Effect::SetClock {
            scope,
            setting: plan.setting,
        }],
    )
    .await?;
    Ok(plan)
}

pub(super) async fn plan_clock_change(
    conn: &mut PgConnection,
    scope: Scope,
    wall: OffsetDateTime,
    change: ClockChange,
) -> StoreResult<ClockPlan> {
    let (own, inherited) = clock_state(conn, scope, wall).await?;
    Ok(plan_clock(own, inherited, wall, change)?)
}

pub(super) async fn scenario_pair(
    conn: &mut PgConnection,
    partner: PartnerId,
) -> StoreResult<Option<(Scenario, serde_json::Value)>> {
    let row = sqlx::query("SELECT rules, document FROM scenarios WHERE partner_id = $1::uuid")
        .bind(partner.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| {
        Ok((
            rows::from_json("scenario", &r.try_get::<String, _>("rules")?)?,
            rows::from_json("scenario document", &r.try_get::<String, _>("document")?)?,
        ))
    })
    .transpose()
}

// ---- fixtures -----------------------------------------------------------------------------------

async fn customer_fixtures(
    conn: &mut PgConnection,
    filter: &str,
    param: Option<String>,
) -> StoreResult<Vec<(PartnerId, CustomerFixture)>> {
    let customers = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id::text AS id, partner_id::text AS partner_id, company_profile::text AS company_profile, \
         billing_profile::text AS billing_profile FROM customers WHERE {filter} ORDER BY seq"
    )))
    .bind(param)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(customers.len());
    for r in customers {
        let id = uuid_of(&r.try_get::<String, _>("id")?)?;
        let partner = uuid_of(&r.try_get::<String, _>("partner_id")?)?;
        let company: CompanyProfile = rows::from_json(
            "company profile",
            &r.try_get::<String, _>("company_profile")?,
        )?;
        let billing: BillingProfile = rows::from_json(
            "billing profile",
            &r.try_get::<String, _>("billing_profile")?,
        )?;
        let roles: Option<String> = sqlx::query_scalar(
            "SELECT roles::text FROM gdap_grants WHERE partner_id = $1::uuid AND customer_id = $2::uuid",
        )
        .bind(partner.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
        let gdap_roles = match roles {
            Some(json) => {
                let names: Vec<String> = rows::from_json("gdap roles", &json)?;
                names
                    .iter()
                    .map(|n| GdapRole::parse(n).ok_or_else(|| rows::corrupt("gdap role", n)))
                    .collect::<StoreResult<Vec<_>>>()?
            }
            None => vec![],
        };
        let status = sqlx::query(
            "SELECT status, last_update FROM validation_statuses WHERE customer_id = $1::uuid",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
        let validation_status = status
            .map(|s| {
                let name: String = s.try_get("status")?;
                Ok::<_, crate::StoreError>(StatusFixture {
                    status: AccountStatus::parse(&name)
                        .ok_or_else(|| rows::corrupt("account status", &name))?,
                    last_update: Some(from_millis(s.try_get("last_update")?)),
                })
            })
            .transpose()?;
        let qualifications = load_qualifications(conn, CustomerId(id))
            .await?
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

async fn code_fixtures(
    conn: &mut PgConnection,
    filter: &str,
    param: Option<String>,
) -> StoreResult<Vec<(PartnerId, CodeFixture)>> {
    let found = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT validation_id, partner_id::text AS partner_id, organization_name, max_creates, remaining_creates \
         FROM validation_codes WHERE {filter} ORDER BY validation_id"
    )))
    .bind(param)
    .fetch_all(&mut *conn)
    .await?;
    found
        .iter()
        .map(|r| {
            Ok((
                PartnerId(uuid_of(&r.try_get::<String, _>("partner_id")?)?),
                CodeFixture {
                    validation_id: r.try_get("validation_id")?,
                    organization_name: r.try_get("organization_name")?,
                    max_creates: r.try_get("max_creates")?,
                    remaining_creates: r.try_get("remaining_creates")?,
                },
            ))
        })
        .collect()
}

fn scope_param(scope: Scope) -> (&'static str, Option<String>) {
    match scope {
        Scope::All => ("$1::text IS NULL", None),
        Scope::Partner(p) => ("partner_id = $1::uuid", Some(p.to_string())),
    }
}

/// The document of a scope's state (control.md 2): partners ordered by id, customers in
/// creation order, codes by id; a partner's `vetting` and `clock` only when it has its own.
pub(super) async fn snapshot(conn: &mut PgConnection, scope: Scope) -> StoreResult<Fixture> {
    let (filter, param) = scope_param(scope);
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
    for (p, code) in code_fixtures(conn, filter, param.clone()).await? {
        entry(&mut partners, p).validation_codes.push(code);
    }
    for (p, customer) in customer_fixtures(conn, filter, param.clone()).await? {
        entry(&mut partners, p).customers.push(customer);
    }
    let with_scenarios: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT partner_id::text FROM scenarios WHERE {filter}"
    )))
    .bind(param.clone())
    .fetch_all(&mut *conn)
    .await?;
    for p in with_scenarios {
        let p = PartnerId(uuid_of(&p)?);
        let pair = scenario_pair(conn, p).await?;
        entry(&mut partners, p).vetting = pair;
    }
    let clock_filter = match scope {
        Scope::All => "scope <> 'global' AND $1::text IS NULL",
        Scope::Partner(_) => "scope = $1::text",
    };
    let clocks = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT scope, frozen_at, offset_ms FROM clocks WHERE {clock_filter}"
    )))
    .bind(param)
    .fetch_all(&mut *conn)
    .await?;
    for r in clocks {
        let p = PartnerId(uuid_of(&r.try_get::<String, _>("scope")?)?);
        entry(&mut partners, p).clock =
            rows::clock_setting(r.try_get("frozen_at")?, r.try_get("offset_ms")?);
    }
    Ok(Fixture {
        partners: partners.into_values().collect(),
    })
}

async fn seed_snapshot(conn: &mut PgConnection, fixture: &Fixture) -> StoreResult<SeedSnapshot> {
    let mut snapshot = SeedSnapshot::default();
    for partner in &fixture.partners {
        if let Some(pair) = scenario_pair(conn, partner.id).await? {
            snapshot.scenarios.insert(partner.id, pair);
        }
        snapshot
            .clocks
            .insert(partner.id, partner_clocks(conn, partner.id).await?);
        for code in &partner.validation_codes {
            let found = code_fixtures(
                conn,
                "validation_id = $1::text",
                Some(code.validation_id.clone()),
            )
            .await?;
            for (owner, stored) in found {
                snapshot
                    .code_owners
                    .insert(stored.validation_id.clone(), owner);
                snapshot.codes.insert(stored.validation_id.clone(), stored);
            }
        }
        for customer in &partner.customers {
            let found =
                customer_fixtures(conn, "id = $1::uuid", Some(customer.id.to_string())).await?;
            for (owner, stored) in found {
                snapshot.customer_owners.insert(stored.id, owner);
                snapshot.customers.insert(stored.id, stored);
            }
        }
    }
    Ok(snapshot)
}

/// Applies a fixture inside the caller's transaction, under the exclusive lock of every scope it
/// changes.
pub(super) async fn apply_fixture(
    conn: &mut PgConnection,
    mode: &FixtureMode,
    fixture: &Fixture,
    wall: OffsetDateTime,
    policy: &VettingPolicy,
) -> StoreResult<FixtureOutcome> {
    match mode {
        FixtureMode::Restore(scope) => lock_scope(conn, *scope).await?,
        FixtureMode::Seed { .. } => {
            let mut ids: Vec<PartnerId> = fixture.partners.iter().map(|p| p.id).collect();
            // One order for every seed: two seeds of the same partners never deadlock.
            ids.sort();
            ids.dedup();
            for p in ids {
                lock_scope(conn, Scope::Partner(p)).await?;
            }
        }
    }
    let snapshot = seed_snapshot(conn, fixture).await?;
    let plan = match mode {
        FixtureMode::Seed { .. } => plan_seed(fixture, &snapshot, wall, policy)?,
        FixtureMode::Restore(scope) => plan_restore(*scope, fixture, &snapshot, wall, policy)?,
    };
    let applied = apply(conn, &plan.effects).await?;
    if let FixtureMode::Seed {
        record: Some(record),
    } = mode
    {
        sqlx::query(
            "INSERT INTO seeds (sha256, document, applied_at) VALUES ($1, $2, $3) \
             ON CONFLICT (sha256) DO UPDATE SET applied_at = excluded.applied_at",
        )
        .bind(&record.sha256)
        .bind(&record.document)
        .bind(to_millis(wall))
        .execute(&mut *conn)
        .await?;
    }
    Ok(FixtureOutcome {
        removed: applied.removed,
        applied: plan.counts,
    })
}

// ---- reads that decide --------------------------------------------------------------------------

pub(super) async fn count_reads(
    conn: &mut PgConnection,
    customer: CustomerId,
    wall: OffsetDateTime,
    policy: &VettingPolicy,
    only: Option<i64>,
) -> StoreResult<Option<CountedRead>> {
    let Some(owner) = customer_owner(conn, customer).await? else {
        return Ok(None);
    };
    let now = partner_clocks(conn, owner).await?.now(wall);
    // Serialises with the customer's other writes (creates lock the same row).
    sqlx::query("SELECT 1 FROM customers WHERE id = $1::uuid FOR UPDATE")
        .bind(customer.to_string())
        .execute(&mut *conn)
        .await?;
    let records = load_qualifications(conn, customer).await?;
    let company = company_of(conn, customer).await?;
    let (counted, others): (Vec<_>, Vec<_>) = records
        .into_iter()
        .partition(|q| only.is_none_or(|id| id == q.id));
    let waiting: Vec<i64> = counted
        .iter()
        .filter(|q| !q.vetting_status.is_terminal())
        .map(|q| q.id)
        .collect();
    let (shown, effects) = plan_read(counted, company.as_ref(), policy, now)?;
    apply(conn, &effects).await?;
    let mut all: Vec<QualificationRecord> = shown.into_iter().chain(others).collect();
    all.sort_by_key(|q| q.id);
    Ok(Some(CountedRead::new(owner, &waiting, all)))
}

// ---- clock advances -----------------------------------------------------------------------------

/// A condition selecting the jobs (or audit events) of a scope's partners — one partner, or
/// every partner that follows the global clock — on parameter `$n`, and that parameter.
pub(super) fn scope_filter(scope: Scope, n: u8) -> (String, Option<String>) {
    match scope {
        Scope::All => (
            format!(
                "partner_id::text NOT IN (SELECT scope FROM clocks WHERE scope <> 'global') AND ${n}::text IS NULL"
            ),
            None,
        ),
        Scope::Partner(p) => (format!("partner_id = ${n}::uuid"), Some(p.to_string())),
    }
}

pub(super) async fn unfinished_due_by(
    conn: &mut PgConnection,
    scope: Scope,
    due_by: OffsetDateTime,
) -> StoreResult<u64> {
    let (filter, param) = scope_filter(scope, 2);
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM jobs WHERE done_at IS NULL AND run_at <= $1 AND {filter}"
    )))
    .bind(to_millis(due_by))
    .bind(param)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n as u64)
}

pub(super) async fn transitions_after(
    conn: &mut PgConnection,
    seq: i64,
    scope: Scope,
    to: OffsetDateTime,
) -> StoreResult<Vec<AppliedTransition>> {
    let (filter, param) = scope_filter(scope, 3);
    let found = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, customer_id::text AS customer_id, qualification, from_status, to_status, reason, at \
         FROM audit_events WHERE id > $1 AND from_status IS NOT NULL AND at <= $2 AND {filter} ORDER BY at, id"
    )))
    .bind(seq)
    .bind(to_millis(to))
    .bind(param)
    .fetch_all(&mut *conn)
    .await?;
    found
        .iter()
        .map(|r| {
            let q: String = r.try_get("qualification")?;
            Ok(AppliedTransition {
                seq: r.try_get("id")?,
                customer_id: CustomerId(uuid_of(&r.try_get::<String, _>("customer_id")?)?),
                qualification: SettableQualification::parse(&q)
                    .ok_or_else(|| rows::corrupt("qualification", &q))?,
                from: rows::status(&r.try_get::<String, _>("from_status")?)?,
                to: rows::status(&r.try_get::<String, _>("to_status")?)?,
                reason: r.try_get("reason")?,
                at: from_millis(r.try_get("at")?),
            })
        })
        .collect()
}
