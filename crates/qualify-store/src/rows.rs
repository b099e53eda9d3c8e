//! Row decoding shared by the backends. Each backend selects the same logical columns (ids and
//! JSON as text, times as Unix milliseconds) and implements `Cells` for its row type; the
//! mapping to domain types lives here once.

use qualify_core::clock::ClockSetting;
use qualify_core::customer::Customer;
use qualify_core::engine::{QualificationRef, Scope};
use qualify_core::jobs::{Job, JobKind, JobOutcome};
use qualify_core::qualification::{
    EducationSegment, QualificationRecord, SettableQualification, VettingStatus,
};
use qualify_core::time_fmt::from_millis;
use qualify_core::validation::{
    AccountStatus, GdapGrant, GdapRole, ValidationCode, ValidationStatus,
};
use qualify_core::webhooks::DeliveryStatus;
use qualify_core::{CustomerId, PartnerId};
use serde::Serialize;
use serde::de::DeserializeOwned;

use qualify_core::{DomainError, ErrorKind};
use serde::Deserialize;

use crate::{AuditEvent, StoreError, StoreResult};

/// Typed access to a row's columns by name.
pub(crate) trait Cells {
    fn text(&self, column: &str) -> StoreResult<String>;
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>>;
    fn int(&self, column: &str) -> StoreResult<i64>;
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>>;
}

macro_rules! impl_cells {
    ($row:ty) => {
        impl $crate::rows::Cells for $row {
            fn text(&self, column: &str) -> $crate::StoreResult<String> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn opt_text(&self, column: &str) -> $crate::StoreResult<Option<String>> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn int(&self, column: &str) -> $crate::StoreResult<i64> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn opt_int(&self, column: &str) -> $crate::StoreResult<Option<i64>> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
        }
    };
}
pub(crate) use impl_cells;

pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::backend(format!("stored {what} is not valid: {value:?}"))
}

pub(crate) fn json<T: Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v)
        .map_err(|e| StoreError::Backend(crate::Cause::of("serialising a stored value", e)))
}

pub(crate) fn from_json<T: DeserializeOwned>(what: &str, s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|_| corrupt(what, s))
}

fn uuid(r: &impl Cells, column: &str) -> StoreResult<uuid::Uuid> {
    let s = r.text(column)?;
    uuid::Uuid::parse_str(&s).map_err(|_| corrupt(column, &s))
}

pub(crate) fn status(s: &str) -> StoreResult<VettingStatus> {
    VettingStatus::parse(s).ok_or_else(|| corrupt("vetting status", s))
}

pub(crate) fn qualification(r: &impl Cells) -> StoreResult<QualificationRecord> {
    let q = r.text("qualification")?;
    let segment = r.opt_text("education_segment")?;
    Ok(QualificationRecord {
        id: r.int("id")?,
        customer_id: CustomerId(uuid(r, "customer_id")?),
        partner_id: PartnerId(uuid(r, "partner_id")?),
        qualification: SettableQualification::parse(&q)
            .ok_or_else(|| corrupt("qualification", &q))?,
        vetting_status: status(&r.text("vetting_status")?)?,
        vetting_reason: r.opt_text("vetting_reason")?,
        vetting_create_date: from_millis(r.int("vetting_create_date")?),
        education_segment: segment
            .map(|s| EducationSegment::parse(&s).ok_or_else(|| corrupt("education segment", &s)))
            .transpose()?,
        website: r.opt_text("website")?,
        validation_code: r.opt_text("validation_code")?,
        etag: r.text("etag")?,
        choice: r
            .opt_text("choice")?
            .map(|c| from_json("vetting choice", &c))
            .transpose()?,
        reads: u32::try_from(r.int("reads")?).unwrap_or(u32::MAX),
    })
}

/// One row of `customers LEFT JOIN qualifications`: the customer's owner (column `owner`) and
/// the qualification on the row, if any.
pub(crate) fn owner_and_qualification(
    r: &impl Cells,
) -> StoreResult<(PartnerId, Option<QualificationRecord>)> {
    let owner = PartnerId(uuid(r, "owner")?);
    // `etag` is never NULL in a stored qualification: NULL means the join found none.
    let q = match r.opt_text("etag")? {
        Some(_) => Some(qualification(r)?),
        None => None,
    };
    Ok((owner, q))
}

/// Folds the rows of `customers LEFT JOIN qualifications` for one customer.
pub(crate) fn fold_owned_qualifications(
    rows: impl IntoIterator<Item = (PartnerId, Option<QualificationRecord>)>,
) -> Option<(PartnerId, Vec<QualificationRecord>)> {
    let mut owned: Option<(PartnerId, Vec<QualificationRecord>)> = None;
    for (owner, q) in rows {
        let (_, list) = owned.get_or_insert_with(|| (owner, Vec::new()));
        list.extend(q);
    }
    owned
}

/// The id an effect's qualification reference stands for: `inserted` is the qualification the
/// same plan inserted earlier.
pub(crate) fn resolve(r: QualificationRef, inserted: Option<i64>) -> StoreResult<i64> {
    match r {
        QualificationRef::Existing(id) => Ok(id),
        QualificationRef::Inserted => inserted.ok_or_else(|| {
            StoreError::backend("an effect names a qualification the plan did not insert")
        }),
    }
}

/// A clock row: `frozen_at` or `offset_ms` (milliseconds).
pub(crate) fn clock_setting(
    frozen_at: Option<i64>,
    offset_ms: Option<i64>,
) -> Option<ClockSetting> {
    match (frozen_at, offset_ms) {
        (Some(at), _) => Some(ClockSetting::Frozen(from_millis(at))),
        (None, Some(offset_ms)) => Some(ClockSetting::Running { offset_ms }),
        (None, None) => None,
    }
}

/// The `clocks.scope` of a scope: `global`, or the partner tenant id.
pub(crate) fn clock_scope(scope: Scope) -> String {
    match scope {
        Scope::All => "global".to_owned(),
        Scope::Partner(p) => p.to_string(),
    }
}

/// The columns of a clock setting: `(frozen_at, offset_ms)`.
pub(crate) fn clock_columns(setting: ClockSetting) -> (Option<i64>, Option<i64>) {
    match setting {
        ClockSetting::Frozen(at) => (Some(qualify_core::time_fmt::to_millis(at)), None),
        ClockSetting::Running { offset_ms } => (None, Some(offset_ms)),
    }
}

/// A claimed job (the columns of each backend's `job_columns!`).
pub(crate) fn job(r: &impl Cells) -> StoreResult<Job> {
    Ok(Job {
        id: r.int("id")?,
        kind: JobKind(r.text("kind")?),
        partner: PartnerId(uuid(r, "partner_id")?),
        qualification_id: r.opt_int("qualification_id")?,
        payload: from_json("job payload", &r.text("payload")?)?,
        run_at: from_millis(r.int("run_at")?),
        attempts: r.int("attempts")?,
        last_error: r.opt_text("last_error")?,
    })
}

pub(crate) fn customer(r: &impl Cells) -> StoreResult<Customer> {
    Ok(Customer {
        id: CustomerId(uuid(r, "id")?),
        partner_id: PartnerId(uuid(r, "partner_id")?),
        company_profile: from_json("company profile", &r.text("company_profile")?)?,
        company_etag: r.text("company_etag")?,
        billing_profile: from_json("billing profile", &r.text("billing_profile")?)?,
        billing_etag: r.text("billing_etag")?,
        created_at: from_millis(r.int("created_at")?),
    })
}

pub(crate) fn validation_code(r: &impl Cells) -> StoreResult<ValidationCode> {
    Ok(ValidationCode {
        partner_id: PartnerId(uuid(r, "partner_id")?),
        organization_name: r.text("organization_name")?,
        validation_id: r.text("validation_id")?,
        max_creates: r.int("max_creates")?,
        remaining_creates: r.int("remaining_creates")?,
        etag: r.text("etag")?,
    })
}

pub(crate) fn gdap(r: &impl Cells) -> StoreResult<GdapGrant> {
    let roles: Vec<String> = from_json("gdap roles", &r.text("roles")?)?;
    Ok(GdapGrant {
        partner_id: PartnerId(uuid(r, "partner_id")?),
        customer_id: CustomerId(uuid(r, "customer_id")?),
        roles: roles
            .iter()
            .map(|s| GdapRole::parse(s).ok_or_else(|| corrupt("gdap role", s)))
            .collect::<StoreResult<_>>()?,
        updated_at: from_millis(r.int("updated_at")?),
    })
}

pub(crate) fn gdap_roles_json(roles: &[GdapRole]) -> StoreResult<String> {
    json(&roles.iter().map(|r| r.name()).collect::<Vec<_>>())
}

pub(crate) fn validation_status(
    r: &impl Cells,
    customer_id: CustomerId,
) -> StoreResult<ValidationStatus> {
    let s = r.text("status")?;
    Ok(ValidationStatus {
        customer_id,
        status: AccountStatus::parse(&s).ok_or_else(|| corrupt("account status", &s))?,
        last_update: from_millis(r.int("last_update")?),
    })
}

pub(crate) fn audit_event(r: &impl Cells) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        at: from_millis(r.int("at")?),
        actor: r.text("actor")?,
        from: r
            .opt_text("from_status")?
            .as_deref()
            .map(status)
            .transpose()?,
        to: status(&r.text("to_status")?)?,
        reason: r.opt_text("reason")?,
        request_id: r.opt_text("request_id")?,
        correlation_id: r.opt_text("correlation_id")?,
        profile_etag: r.opt_text("profile_etag")?,
    })
}

/// A transition of the event stream (columns of `audit_events` with ids as text).
pub(crate) fn transition(r: &impl Cells) -> StoreResult<crate::Transition> {
    let q = r.text("qualification")?;
    Ok(crate::Transition {
        seq: r.int("id")?,
        partner_id: PartnerId(uuid(r, "partner_id")?),
        customer_id: CustomerId(uuid(r, "customer_id")?),
        qualification: SettableQualification::parse(&q)
            .ok_or_else(|| corrupt("qualification", &q))?,
        from: r
            .opt_text("from_status")?
            .as_deref()
            .map(status)
            .transpose()?,
        to: status(&r.text("to_status")?)?,
        reason: r.opt_text("reason")?,
        at: from_millis(r.int("at")?),
        actor: r.text("actor")?,
    })
}

/// A review queue item: qualification columns plus `company_name` and `domain`.
pub(crate) fn review_item(r: &impl Cells) -> StoreResult<crate::ReviewItem> {
    Ok(crate::ReviewItem {
        qualification: qualification(r)?,
        company_name: r.opt_text("company_name")?,
        domain: r.opt_text("domain")?,
    })
}

/// What an idempotency record keeps: the result of the first completed request, success or
/// rejection, so that a retry gets the same answer.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Stored<T> {
    Ok(T),
    Err { code: u32, description: String },
}

pub(crate) fn stored_ok<T: Serialize>(v: &T) -> StoreResult<String> {
    json(&Stored::Ok(v))
}

pub(crate) fn stored_err(e: &DomainError) -> StoreResult<String> {
    json(&Stored::<()>::Err {
        code: e.kind.code(),
        description: e.description.clone(),
    })
}

/// The stored result of an earlier request: its value, or `StoreError::Replayed` with its error.
pub(crate) fn replayed<T: DeserializeOwned>(s: &str) -> StoreResult<T> {
    match from_json::<Stored<T>>("idempotent response", s)? {
        Stored::Ok(v) => Ok(v),
        Stored::Err { code, description } => {
            let kind = ErrorKind::ALL
                .iter()
                .copied()
                .find(|k| k.code() == code)
                .ok_or_else(|| corrupt("error code", &code.to_string()))?;
            Err(StoreError::Replayed(DomainError::new(kind, description)))
        }
    }
}

/// Whether a rejection is the request's own outcome, to be replayed to its retries. The key
/// reuse error is about the key, not the request, and is never stored.
pub(crate) fn is_storable(e: &StoreError) -> Option<&DomainError> {
    match e {
        StoreError::Domain(d) if d.kind != ErrorKind::IdempotencyKeyReused => Some(d),
        _ => None,
    }
}

/// A fault row: `id, seq, spec, hits, fired`.
pub(crate) fn fault(r: &impl Cells) -> StoreResult<qualify_core::faults::Fault> {
    Ok(qualify_core::faults::Fault {
        id: r.text("id")?,
        seq: r.int("seq")?,
        spec: from_json("fault", &r.text("spec")?)?,
        hits: r.int("hits")?.max(0) as u64,
        fired: r.int("fired")?.max(0) as u64,
    })
}

/// A registration row: `partner_id, subscriber_id, url, events, secret, previous_secret,
/// previous_until, disabled` (events as a JSON array).
pub(crate) fn registration(r: &impl Cells) -> StoreResult<qualify_core::webhooks::Registration> {
    let previous = match (r.opt_text("previous_secret")?, r.opt_int("previous_until")?) {
        (Some(secret), Some(until)) => Some((secret, from_millis(until))),
        _ => None,
    };
    Ok(qualify_core::webhooks::Registration {
        partner_id: PartnerId(uuid(r, "partner_id")?),
        subscriber_id: r.text("subscriber_id")?,
        url: r.text("url")?,
        events: from_json("webhook events", &r.text("events")?)?,
        secret: r.text("secret")?,
        previous_secret: previous,
        disabled: r.opt_text("disabled")?,
    })
}

/// A delivery job row (`id, payload, run_at, outcome`), without its attempts.
pub(crate) fn delivery(r: &impl Cells) -> StoreResult<crate::Delivery> {
    let outcome = r.opt_text("outcome")?;
    let status = DeliveryStatus::of_outcome(outcome.as_deref().and_then(JobOutcome::parse));
    Ok(crate::Delivery {
        id: r.int("id")?,
        event: from_json("webhook event", &r.text("payload")?)?,
        status,
        attempts: vec![],
        next_attempt_at: (status == DeliveryStatus::Pending)
            .then(|| r.int("run_at").map(from_millis))
            .transpose()?,
    })
}

/// An attempt row (`job_id, at, response_code, error, duration_ms`) and its delivery's id.
pub(crate) fn attempt(r: &impl Cells) -> StoreResult<(i64, crate::Attempt)> {
    Ok((
        r.int("job_id")?,
        crate::Attempt {
            at: from_millis(r.int("at")?),
            response_code: r
                .opt_int("response_code")?
                .and_then(|c| u16::try_from(c).ok()),
            error: r.opt_text("error")?,
            duration_ms: r.int("duration_ms")?.max(0) as u64,
        },
    ))
}

/// Hands each delivery its attempts (both in id order).
pub(crate) fn with_attempts(
    mut deliveries: Vec<crate::Delivery>,
    attempts: Vec<(i64, crate::Attempt)>,
) -> Vec<crate::Delivery> {
    let mut by_job: std::collections::HashMap<i64, Vec<crate::Attempt>> = Default::default();
    for (job, a) in attempts {
        by_job.entry(job).or_default().push(a);
    }
    for d in &mut deliveries {
        d.attempts = by_job.remove(&d.id).unwrap_or_default();
    }
    deliveries
}

/// The SQL condition on a delivery job's row for `status`.
pub(crate) fn delivery_condition(status: DeliveryStatus) -> String {
    use qualify_core::jobs::JobOutcome::{Cancelled, Succeeded};
    match status {
        DeliveryStatus::Pending => "done_at IS NULL".to_owned(),
        DeliveryStatus::Succeeded => format!("outcome = '{Succeeded}'"),
        DeliveryStatus::Cancelled => format!("outcome = '{Cancelled}'"),
        DeliveryStatus::Dead => {
            format!("done_at IS NOT NULL AND outcome NOT IN ('{Succeeded}', '{Cancelled}')")
        }
    }
}

pub(crate) fn partner(s: &str) -> StoreResult<PartnerId> {
    uuid::Uuid::parse_str(s)
        .map(PartnerId)
        .map_err(|_| corrupt("partner id", s))
}

/// A `validation_statuses` row: `customer_id, status, last_update`.
pub(crate) fn status_row(r: &impl Cells) -> StoreResult<ValidationStatus> {
    let customer = CustomerId(uuid(r, "customer_id")?);
    validation_status(r, customer)
}

/// An audit event as a clock advance reports it: `id, customer_id, qualification,
/// from_status, to_status, reason, at`.
pub(crate) fn applied_transition(r: &impl Cells) -> StoreResult<crate::AppliedTransition> {
    let q = r.text("qualification")?;
    Ok(crate::AppliedTransition {
        seq: r.int("id")?,
        customer_id: CustomerId(uuid(r, "customer_id")?),
        qualification: SettableQualification::parse(&q)
            .ok_or_else(|| corrupt("qualification", &q))?,
        from: status(&r.text("from_status")?)?,
        to: status(&r.text("to_status")?)?,
        reason: r.opt_text("reason")?,
        at: from_millis(r.int("at")?),
    })
}

/// A claim at wall time `wall` holding its jobs for `lease`: the wall time and the lease's end,
/// in milliseconds.
pub(crate) fn lease(wall: time::OffsetDateTime, lease: std::time::Duration) -> (i64, i64) {
    let wall_ms = qualify_core::time_fmt::to_millis(wall);
    let until = wall_ms.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
    (wall_ms, until)
}
