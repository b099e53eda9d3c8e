//! What each command reads on SQLite, inside its savepoint. One writer: nothing read here can
//! change before the plan's effects are applied, so nothing needs a lock.

use std::collections::HashMap;

use qualify_core::commands::control::{ApplyFixture, ChangeClock, ClockState};
use qualify_core::commands::customers::UpdateBillingProfile;
use qualify_core::commands::faults::HitFaults;
use qualify_core::commands::qualifications::{
    CountReads, CreateQualification, Decide, ReadSnapshot,
};
use qualify_core::commands::queue::RunVettingJob;
use qualify_core::commands::webhooks::KeepSigningKey;
use qualify_core::customer::Customer;
use qualify_core::engine::{CreateReads, CreateSnapshot, DecideSnapshot, VettingSnapshot};
use qualify_core::faults::Fault;
use qualify_core::fixture::SeedSnapshot;
use qualify_core::webhooks::SigningKey;
use qualify_core::{CustomerId, PartnerId};
use rusqlite::Connection;

use super::SqliteStore;
use super::queries;
use super::sql::{all, joined_qualification_columns, one};

use crate::StoreResult;
use crate::pipeline::{Backend, Load};
use crate::rows;

impl Load<UpdateBillingProfile> for SqliteStore {
    async fn load(
        tx: &mut <Self as Backend>::Tx<'_>,
        c: &UpdateBillingProfile,
        _: Option<PartnerId>,
    ) -> StoreResult<Option<Customer>> {
        queries::customer(tx.conn, c.customer)
    }
}

/// The etag and domain of the customer's company profile and its qualifications, in one
/// statement.
#[allow(clippy::type_complexity)]
fn company_and_qualifications(
    conn: &Connection,
    customer: CustomerId,
) -> StoreResult<(
    Option<(String, Option<String>)>,
    Vec<qualify_core::qualification::QualificationRecord>,
)> {
    let found = all(
        conn,
        concat!(
            "SELECT c.company_etag, json_extract(c.company_profile, '$.domain') AS domain, c.partner_id AS owner, ",
            joined_qualification_columns!(),
            " FROM customers c LEFT JOIN qualifications q ON q.customer_id = c.id WHERE c.id = ? ORDER BY q.id"
        ),
        [customer.to_string()],
        |r| {
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?),
                rows::owner_and_qualification(r)?.1,
            ))
        },
    )?;
    let company = found.first().map(|(company, _)| company.clone());
    Ok((company, found.into_iter().filter_map(|(_, q)| q).collect()))
}

impl Load<CreateQualification> for SqliteStore {
    async fn load(
        tx: &mut <Self as Backend>::Tx<'_>,
        c: &CreateQualification,
        _: Option<PartnerId>,
    ) -> StoreResult<CreateSnapshot> {
        let reads = CreateReads::of(&c.request);
        let (company, existing) = company_and_qualifications(tx.conn, c.customer)?;
        let (company_etag, company_domain) = company.unzip();
        Ok(CreateSnapshot {
            company_etag,
            company_domain: company_domain.flatten(),
            existing,
            scenario: queries::scenario_of(tx.conn, c.partner)?.map(|(rules, _)| rules),
            gdap: match reads.gdap {
                true => queries::gdap(tx.conn, c.partner, c.customer)?,
                false => None,
            },
            code: match reads.code {
                Some(id) => queries::code(tx.conn, id)?,
                None => None,
            },
        })
    }
}

impl Load<CountReads> for SqliteStore {
    async fn load(
        tx: &mut <Self as Backend>::Tx<'_>,
        c: &CountReads,
        owner: Option<PartnerId>,
    ) -> StoreResult<ReadSnapshot> {
        if owner.is_none() {
            return Ok(ReadSnapshot::default());
        }
        Ok(ReadSnapshot {
            owner,
            records: queries::qualifications_of(tx.conn, c.customer)?,
            company: queries::company_of(tx.conn, c.customer)?,
        })
    }
}

impl Load<Decide> for SqliteStore {
    async fn load(
        tx: &mut <Self as Backend>::Tx<'_>,
        c: &Decide,
        _: Option<PartnerId>,
    ) -> StoreResult<DecideSnapshot> {
        Ok(DecideSnapshot {
            latest: queries::latest_qualification(tx.conn, c.customer, c.qualification)?,
            company_etag: queries::company_of(tx.conn, c.customer)?.map(|(_, etag)| etag),
        })
    }
}

impl Load<RunVettingJob> for SqliteStore {
    async fn load(
        tx: &mut <Self as Backend>::Tx<'_>,
        c: &RunVettingJob,
        _: Option<PartnerId>,
    ) -> StoreResult<Option<VettingSnapshot>> {
        if !queries::holds(tx.conn, c.job.id, &c.owner)? {
            return Ok(None);
        }
        // Read inside the transaction: a reviewer may have decided meanwhile.
        let qualification = match c.job.qualification_id {
            Some(id) => queries::qualification(tx.conn, id)?,
            None => None,
        };
        let company = match &qualification {
            Some(q) => queries::company_of(tx.conn, q.customer_id)?,
            None => None,
        };
        Ok(Some(VettingSnapshot {
            qualification,
            company,
        }))
    }
}

impl Load<ChangeClock> for SqliteStore {
    async fn load(
        tx: &mut <Self as Backend>::Tx<'_>,
        c: &ChangeClock,
        _: Option<PartnerId>,
    ) -> StoreResult<ClockState> {
        queries::clock_state(tx.conn, c.scope)
    }
}

impl Load<ApplyFixture> for SqliteStore {
    async fn load(
        tx: &mut <Self as Backend>::Tx<'_>,
        c: &ApplyFixture,
        _: Option<PartnerId>,
    ) -> StoreResult<SeedSnapshot> {
        let conn = &*tx.conn;
        let mut rows = qualify_core::snapshot::Rows::default();
        let mut scenarios = HashMap::new();
        let mut clocks = HashMap::new();
        for partner in &c.fixture.partners {
            if let Some(pair) = queries::scenario_of(conn, partner.id)? {
                scenarios.insert(partner.id, pair);
            }
            clocks.insert(partner.id, queries::clocks_of(conn, partner.id)?);
            for code in &partner.validation_codes {
                rows.codes.extend(queries::code(conn, &code.validation_id)?);
            }
            for customer in &partner.customers {
                rows.extend(queries::customer_rows(
                    conn,
                    "id = ?1",
                    &customer.id.to_string(),
                )?);
            }
        }
        Ok(qualify_core::snapshot::seed_snapshot(
            &rows, scenarios, clocks,
        ))
    }
}

impl Load<HitFaults> for SqliteStore {
    async fn load(
        tx: &mut <Self as Backend>::Tx<'_>,
        c: &HitFaults,
        _: Option<PartnerId>,
    ) -> StoreResult<Vec<Fault>> {
        let mut found = Vec::with_capacity(c.ids.len());
        for id in &c.ids {
            found.extend(one(
                tx.conn,
                "SELECT id, seq, spec, hits, fired FROM faults WHERE id = ?",
                [id],
                |r| rows::fault(r),
            )?);
        }
        Ok(found)
    }
}

impl Load<KeepSigningKey> for SqliteStore {
    async fn load(
        tx: &mut <Self as Backend>::Tx<'_>,
        _: &KeepSigningKey,
        _: Option<PartnerId>,
    ) -> StoreResult<Option<SigningKey>> {
        queries::signing_key(tx.conn)
    }
}
