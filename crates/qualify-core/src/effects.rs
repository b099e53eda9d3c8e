//! What a plan asks its store to write ([`Effect`]), and the small types every plan shares:
//! who writes and when ([`Stamp`]), what a control action covers ([`Scope`]), the records a
//! plan inserts. A store applies a plan's effects in order, in the plan's transaction, as SQL;
//! it decides nothing itself. [`QualificationRef::Inserted`] names the qualification inserted
//! earlier in the same plan, whose id the database assigns.

use time::OffsetDateTime;

use crate::clock::ClockSetting;
use crate::customer::{BillingProfile, Customer};
use crate::faults::Fault;
use crate::ids::{CustomerId, PartnerId};
use crate::jobs::{JobOutcome, NewJob};
use crate::qualification::{
    EducationSegment, QualificationRecord, SettableQualification, VettingChoice, VettingStatus,
};
use crate::scenario::Scenario;
use crate::validation::{GdapGrant, ValidationCode, ValidationStatus};
use crate::webhooks::{Attempt, Event, Registration, SigningKey};

/// A fresh opaque ETag.
pub fn new_etag() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Who writes, when, and under which request: stamped on audit events.
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    /// Domain time of the partner the write is for.
    pub at: OffsetDateTime,
    pub actor: &'a str,
    /// The `MS-RequestId` / `MS-CorrelationId` of the request that caused it (none for the
    /// vetting worker).
    pub ids: Option<(&'a str, &'a str)>,
}

/// The actor of decisions taken by the built-in vetting policy.
pub const POLICY_ACTOR: &str = "vetting-policy";
/// The actor of decisions a scenario rule or a test value chose (control.md 0, 3).
pub const SCENARIO_ACTOR: &str = "qualify:scenario";

/// What a control action applies to: every partner, or one partner tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    All,
    Partner(PartnerId),
}

impl Scope {
    pub fn includes(&self, partner: PartnerId) -> bool {
        match self {
            Scope::All => true,
            Scope::Partner(p) => *p == partner,
        }
    }

    /// The partner of a partner scope; `None` for all of them.
    pub fn partner(&self) -> Option<PartnerId> {
        match self {
            Scope::All => None,
            Scope::Partner(p) => Some(*p),
        }
    }
}

/// What a reset (or a restore's reset) removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub customers: u64,
    pub qualifications: u64,
    pub validation_codes: u64,
}

/// Which qualification an effect is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QualificationRef {
    /// The one inserted by an earlier effect of the same plan.
    Inserted,
    Existing(i64),
}

/// A qualification request to insert (the database assigns its id): InReview for a create,
/// any status for a seeded one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQualification {
    pub customer_id: CustomerId,
    pub partner_id: PartnerId,
    pub qualification: SettableQualification,
    pub vetting_status: VettingStatus,
    pub vetting_reason: Option<String>,
    pub vetting_create_date: OffsetDateTime,
    pub education_segment: Option<EducationSegment>,
    pub website: Option<String>,
    pub validation_code: Option<String>,
    pub etag: String,
    pub choice: Option<VettingChoice>,
}

impl NewQualification {
    /// The stored record, once the database gave it `id`.
    pub fn into_record(self, id: i64) -> QualificationRecord {
        QualificationRecord {
            id,
            customer_id: self.customer_id,
            partner_id: self.partner_id,
            qualification: self.qualification,
            vetting_status: self.vetting_status,
            vetting_reason: self.vetting_reason,
            vetting_create_date: self.vetting_create_date,
            education_segment: self.education_segment,
            website: self.website,
            validation_code: self.validation_code,
            etag: self.etag,
            choice: self.choice,
            reads: 0,
        }
    }
}

/// One audit event of a qualification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub qualification: QualificationRef,
    pub customer_id: CustomerId,
    pub partner_id: PartnerId,
    pub kind: SettableQualification,
    pub at: OffsetDateTime,
    pub actor: String,
    pub from: Option<VettingStatus>,
    pub to: VettingStatus,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    /// The etag of the company profile (domain, name, address) the event looked at.
    pub profile_etag: Option<String>,
}

/// A change a plan asks its store to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    InsertQualification(NewQualification),
    /// One use of a GCC validation code (the store refuses to go below zero).
    SpendValidationCode {
        validation_id: String,
        etag: String,
    },
    /// InReview -> `to` (the store only changes a qualification that is still InReview).
    DecideQualification {
        id: i64,
        to: VettingStatus,
        reason: Option<String>,
        etag: String,
        at: OffsetDateTime,
    },
    /// One more read of an `afterReads` request by its partner.
    CountRead {
        id: i64,
        reads: u32,
    },
    Enqueue {
        job: NewJob,
        subject: Option<QualificationRef>,
    },
    Audit(AuditEntry),
    /// A transition's webhook event (events.md 2): the store enqueues its delivery when the
    /// partner's registration is enabled and wants it, in the transition's transaction.
    Emit {
        event: Event,
        subject: QualificationRef,
    },
    // Control state (control.md 1-4): reset, seed, restore, scenarios, clocks.
    /// Removes everything of the scope: customers and all under them, validation codes,
    /// idempotency records, scenarios, clocks, jobs (the global clock only with `Scope::All`).
    ClearScope(Scope),
    /// Removes a customer and everything under it (profiles, qualifications, their jobs and
    /// audit events, GDAP grants, validation status).
    DeleteCustomer(CustomerId),
    InsertCustomer(Box<Customer>),
    SetGdap(GdapGrant),
    SetValidationStatus(ValidationStatus),
    /// Inserts the code, or replaces the code with that id (the plan checked its owner).
    UpsertValidationCode {
        code: ValidationCode,
        at: OffsetDateTime,
    },
    /// A partner's scenario, as rules and as the document the API shows; `None` removes it.
    SetScenario {
        partner: PartnerId,
        scenario: Option<(Scenario, serde_json::Value)>,
    },
    /// A scope's own clock (`Scope::All`: the global clock); `None` removes it.
    SetClock {
        scope: Scope,
        setting: Option<ClockSetting>,
    },
    // Customers, codes and records of qualify's own.
    /// Replaces a customer's billing profile and its etag.
    UpdateBillingProfile {
        customer: CustomerId,
        profile: Box<BillingProfile>,
        etag: String,
    },
    /// Inserts a new code; the store answers `Taken` when its id exists (the plan picks another
    /// and runs again).
    InsertValidationCode {
        code: ValidationCode,
        at: OffsetDateTime,
    },
    /// Remembers a `--seed` document (by its SHA-256): a restart does not apply it again and a
    /// reset goes back to it.
    RecordSeed {
        sha256: String,
        document: String,
        at: OffsetDateTime,
    },
    // The job queue.
    /// A job's last error (`None` clears it).
    JobError {
        id: i64,
        error: Option<String>,
    },
    /// A job is over: its outcome, its lease given up.
    FinishJob {
        id: i64,
        outcome: JobOutcome,
        at: OffsetDateTime,
    },
    /// A job is due again at `run_at` (the partner's time), its lease given up.
    RetryJob {
        id: i64,
        run_at: OffsetDateTime,
    },
    // Fault injection (control.md 5).
    /// A new fault, last in evaluation order (the database gives it its `seq`), added at `at`.
    AddFault {
        fault: Box<Fault>,
        at: OffsetDateTime,
    },
    RemoveFault(String),
    /// Every fault, or those of one partner.
    ClearFaults(Option<PartnerId>),
    /// A fault's counters after a request reached it.
    CountFaultHit {
        id: String,
        hits: u64,
        fired: u64,
    },
    // Webhooks (events.md 1-2).
    /// Creates or replaces a partner's registration.
    PutRegistration {
        registration: Registration,
        at: OffsetDateTime,
    },
    DeleteRegistration(PartnerId),
    /// Ends a partner's pending deliveries as cancelled.
    CancelDeliveries {
        partner: PartnerId,
        at: OffsetDateTime,
    },
    /// Disables a partner's registration (a receiver answered 410), with why.
    DisableRegistration {
        partner: PartnerId,
        reason: Option<String>,
    },
    /// One attempt of a delivery job.
    RecordAttempt {
        job: i64,
        partner: PartnerId,
        attempt: Attempt,
    },
    /// A delivery pending again, due at `at`, with a fresh schedule.
    Redeliver {
        id: i64,
        at: OffsetDateTime,
    },
    /// Stores the signing key unless one is stored already.
    KeepSigningKey {
        key: SigningKey,
        at: OffsetDateTime,
    },
}

impl Effect {
    /// What a commit that applied this effect must tell the rest of the process (and, on
    /// PostgreSQL, the other instances): a transition for the event stream, work for the job
    /// worker, a change of the fault list.
    pub fn signals(&self) -> Signals {
        match self {
            Effect::Audit(_) => Signals::TRANSITIONS,
            Effect::Enqueue { .. }
            | Effect::Emit { .. }
            | Effect::SetClock { .. }
            | Effect::RetryJob { .. }
            | Effect::Redeliver { .. } => Signals::JOBS,
            // A seed or restore enqueues the vetting of its InReview requests.
            Effect::ClearScope(_) => Signals::JOBS,
            // A hit's counters are the store's business (it decides each hit); the copies of
            // the list only need to know which faults exist.
            Effect::AddFault { .. } | Effect::RemoveFault(_) | Effect::ClearFaults(_) => {
                Signals::FAULTS
            }
            _ => Signals::NONE,
        }
    }
}

/// What a committed transaction tells others, as a small set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signals(u8);

impl Signals {
    pub const NONE: Signals = Signals(0);
    /// A transition (an audit event): the event stream reads.
    pub const TRANSITIONS: Signals = Signals(1);
    /// A job enqueued, due again, or a clock moved: the worker looks for due work.
    pub const JOBS: Signals = Signals(2);
    /// The fault list changed: each instance reloads its copy.
    pub const FAULTS: Signals = Signals(4);

    pub fn contains(self, other: Signals) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The signals of all `effects`.
    pub fn of(effects: &[Effect]) -> Signals {
        effects.iter().fold(Signals::NONE, |s, e| s | e.signals())
    }
}

impl std::ops::BitOr for Signals {
    type Output = Signals;
    fn bitor(self, other: Signals) -> Signals {
        Signals(self.0 | other.0)
    }
}

impl std::ops::BitOrAssign for Signals {
    fn bitor_assign(&mut self, other: Signals) {
        self.0 |= other.0;
    }
}
