//! What each command reads on PostgreSQL, inside its transaction, with the row locks its plan
//! relies on: concurrent writes on any instance serialise on the rows they read.

use std::collections::HashMap;

use qualify_core::PartnerId;
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
use sqlx::Row;

use super::PgStore;
use super::queries;
use super::sql::customer_columns;
use crate::StoreResult;
use crate::pipeline::{Backend, Load};
use crate::rows;

impl Load<UpdateBillingProfile> for PgStore {
    async fn load(
        tx: &mut <Self as Backend>::Tx<'_>,
        c: &UpdateBillingProfile,
        _: Option<PartnerId>,
    ) -> StoreResult<Option<Customer>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            customer_columns!(),
            " FROM customers WHERE id = $1::uuid FOR UPDATE"
        ))
        .bind(c.customer.to_string())
        .fetch_optional(&mut *tx.tx)
        .await?;
        row.as_ref().map(rows::customer).transpose()
    }
}

/// Locks the customer first: every request on one customer, whatever instance it reached,
/// waits here for the one before it.
impl Load<CreateQualification> for PgStore {
    async fn load(
        tx: &mut <Self as Backend>::Tx<'_>,
        c: &CreateQualification,
        _: Option<PartnerId>,
    ) -> StoreResult<CreateSnapshot> {
        let conn = &mut *tx.tx;
        let company = sqlx::query(
            "SELECT company_etag, company_profile->>'domain' AS domain FROM customers WHERE id = $1::uuid FOR UPDATE",
        )
        .bind(c.customer.to_string())
        .fetch_optional(&mut *conn)
        .await?;
        let Some(company) = company else {
            return Ok(CreateSnapshot::default());
        };
        let reads = CreateReads::of(&c.request);
        Ok(CreateSnapshot {
            company_etag: Some(company.try_get("company_etag")?),
            company_domain: company.try_get("domain")?,
            gdap: match reads.gdap {
                true => queries::gdap(conn, c.partner, c.customer).await?,
                false => None,
            },
            existing: queries::qualifications_of(conn, c.customer).await?,
            code: match reads.code {
                Some(id) => queries::code(conn, id, true).await?,
                None => None,
            },
            scenario: queries::scenario_of(conn, c.partner)
                .await?
                .map(|(rules, _)| rules),
        })
    }
}

/// Serialises with the customer's other writes (creates lock the same row).
impl Load<CountReads> for PgStore {
    async fn load(
        tx: &mut <Self as Backend>::Tx<'_>,
        c: &CountReads,
        owner: Option<PartnerId>,
    ) -> StoreResult<ReadSnapshot> {
        if owner.is_none() {
            return Ok(ReadSnapshot::default());
        }
        let conn = &mut *tx.tx;
        sqlx::query("SELECT 1 FROM customers WHERE id = $1::uuid FOR UPDATE")
            .bind(c.customer.to_string())
            .execute(&mut *conn)
            .await?;
        Ok(ReadSnapshot {
            owner,
            records: queries::qualifications_of(conn, c.customer).await?,
            company: queries::company_of(conn, c.customer).await?,
        })
    }
}

/// Two reviewers on two instances: the second waits on the request's row, then sees the first
/// one's decision.
impl Load<Decide> for PgStore {
    async fn load(
        tx: &mut <Self as Backend>::Tx<'_>,
        c: &Decide,
        _: Option<PartnerId>,
    ) -> StoreResult<DecideSnapshot> {
        let conn = &mut *tx.tx;
        let latest: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM qualifications WHERE customer_id = $1::uuid AND qualification = $2 ORDER BY id DESC LIMIT 1",
        )
        .bind(c.customer.to_string())
        .bind(c.qualification.name())
        .fetch_optional(&mut *conn)
        .await?;
        let latest = match latest {
            Some(id) => queries::qualification_for_update(conn, id).await?,
            None => None,
        };
        Ok(DecideSnapshot {
            latest,
            company_etag: queries::company_of(conn, c.customer)
                .await?
                .map(|(_, etag)| etag),
        })
    }
}

impl Load<RunVettingJob> for PgStore {
    async fn load(
        tx: &mut <Self as Backend>::Tx<'_>,
        c: &RunVettingJob,
        _: Option<PartnerId>,
    ) -> StoreResult<Option<VettingSnapshot>> {
        // The pipeline took the partner's lock before any row lock (a reset takes it
        // exclusively first).
        let conn = &mut *tx.tx;
        if !queries::holds(conn, c.job.id, &c.owner).await? {
            return Ok(None);
        }
        // Locked and read inside the transaction: a reviewer may have decided meanwhile.
        let qualification = match c.job.qualification_id {
            Some(id) => queries::qualification_for_update(conn, id).await?,
            None => None,
        };
        let company = match &qualification {
            Some(q) => queries::company_of(conn, q.customer_id).await?,
            None => None,
        };
        Ok(Some(VettingSnapshot {
            qualification,
            company,
        }))
    }
}

impl Load<ChangeClock> for PgStore {
    async fn load(
        tx: &mut <Self as Backend>::Tx<'_>,
        c: &ChangeClock,
        _: Option<PartnerId>,
    ) -> StoreResult<ClockState> {
        queries::lock_scope(&mut tx.tx, c.scope).await?;
        queries::clock_state(&mut tx.tx, c.scope).await
    }
}

impl Load<ApplyFixture> for PgStore {
    async fn load(
        tx: &mut <Self as Backend>::Tx<'_>,
        c: &ApplyFixture,
        _: Option<PartnerId>,
    ) -> StoreResult<SeedSnapshot> {
        let conn = &mut *tx.tx;
        for scope in c.scopes() {
            queries::lock_scope(conn, scope).await?;
        }
        let mut rows = qualify_core::snapshot::Rows::default();
        let mut scenarios = HashMap::new();
        let mut clocks = HashMap::new();
        for partner in &c.fixture.partners {
            if let Some(pair) = queries::scenario_of(conn, partner.id).await? {
                scenarios.insert(partner.id, pair);
            }
            clocks.insert(partner.id, queries::clocks_of(conn, partner.id).await?);
            for code in &partner.validation_codes {
                rows.codes
                    .extend(queries::code(conn, &code.validation_id, false).await?);
            }
            for customer in &partner.customers {
                rows.extend(
                    queries::customer_rows(conn, "id = $1::uuid", Some(customer.id.to_string()))
                        .await?,
                );
            }
        }
        Ok(qualify_core::snapshot::seed_snapshot(
            &rows, scenarios, clocks,
        ))
    }
}

/// Row locks in evaluation order: concurrent requests on any instance count their hits on one
/// fault one after the other, and never lock two faults in opposite orders.
impl Load<HitFaults> for PgStore {
    async fn load(
        tx: &mut <Self as Backend>::Tx<'_>,
        c: &HitFaults,
        _: Option<PartnerId>,
    ) -> StoreResult<Vec<Fault>> {
        let mut found = Vec::with_capacity(c.ids.len());
        for id in &c.ids {
            let row = sqlx::query(
                "SELECT id, seq, spec, hits, fired FROM faults WHERE id = $1 FOR UPDATE",
            )
            .bind(id)
            .fetch_optional(&mut *tx.tx)
            .await?;
            found.extend(row.as_ref().map(rows::fault).transpose()?);
        }
        Ok(found)
    }
}

/// Instances starting together store one key: the second waits on the lock, then reads the
/// first one's.
impl Load<KeepSigningKey> for PgStore {
    async fn load(
        tx: &mut <Self as Backend>::Tx<'_>,
        _: &KeepSigningKey,
        _: Option<PartnerId>,
    ) -> StoreResult<Option<SigningKey>> {
        queries::lock_signing_key(&mut tx.tx).await?;
        queries::signing_key(&mut tx.tx).await
    }
}
