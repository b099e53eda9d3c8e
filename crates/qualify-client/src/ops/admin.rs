//! qualify's operator API under `/admin/v1` (api.md section 6), and the state part of its test
//! control plane (control.md 1-4: reset, fixtures, vetting scenarios, the virtual clock). Needs a
//! token with the `Qualify.Admin` role; any other token gets a
//! [`Forbidden`](crate::ErrorCategory::Forbidden) error.
//!
//! The server does not deduplicate control writes by `MS-RequestId`. Those that set a state
//! (reset, seed, restore, a scenario, freezing, resuming or removing a clock) leave the same state
//! when sent twice, so they are retried like reads; a clock advance is not (see
//! [`AdminClock::advance_by`]).

use std::time::Duration;

use reqwest::Method;
use serde::Serialize;
use time::OffsetDateTime;

use crate::Client;
use crate::error::Result;
use crate::http::{Call, Replay};
use crate::models::{
    AccountStatus, AuditEvent, ClockAdvance, ClockState, ControlCounts, CustomerQualification,
    Fixture, GdapGrant, GdapRole, NewValidationCode, Qualification, Review, Scenario,
    ValidationCode, ValidationStatus, VettingDecision, VettingStatus, date, duration_text,
};

/// `client.admin()`.
#[derive(Debug, Clone, Copy)]
pub struct Admin<'a> {
    client: &'a Client,
}

impl<'a> Admin<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    pub(crate) fn client(&self) -> &'a Client {
        self.client
    }

    /// A partner tenant, by id.
    pub fn partner(&self, partner_id: impl std::fmt::Display) -> AdminPartner<'a> {
        AdminPartner {
            client: self.client,
            id: partner_id.to_string(),
        }
    }

    /// The review queue.
    pub fn reviews(&self) -> Reviews<'a> {
        Reviews {
            client: self.client,
        }
    }

    /// The event stream of every transition (`GET /admin/v1/events`).
    pub fn events(&self) -> crate::ops::events::Events<'a> {
        crate::ops::events::Events::new(self.client)
    }

    /// A customer, by id (any partner's).
    pub fn customer(&self, customer_id: impl std::fmt::Display) -> AdminCustomer<'a> {
        AdminCustomer {
            client: self.client,
            id: customer_id.to_string(),
        }
    }
}

/// `client.admin().partner(id)`.
#[derive(Debug, Clone)]
pub struct AdminPartner<'a> {
    client: &'a Client,
    id: String,
}

impl<'a> AdminPartner<'a> {
    pub(crate) fn client(&self) -> &'a Client {
        self.client
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    pub fn validation_codes(&self) -> AdminValidationCodes<'a> {
        AdminValidationCodes {
            client: self.client,
            partner: self.id.clone(),
        }
    }
}

/// `client.admin().partner(id).validation_codes()`.
#[derive(Debug, Clone)]
pub struct AdminValidationCodes<'a> {
    client: &'a Client,
    partner: String,
}

impl AdminValidationCodes<'_> {
    fn segments(&self) -> [&str; 5] {
        ["admin", "v1", "partners", &self.partner, "validations"]
    }

    /// Issues a new GCC validation code to the partner (201).
    ///
    /// The server does not deduplicate this write by `MS-RequestId`, so it is retried only
    /// when it certainly had no effect (429, or no connection); after a timeout or a 5xx, list
    /// the partner's codes before issuing again.
    pub async fn issue(&self, code: &NewValidationCode) -> Result<ValidationCode> {
        let call = Call::new(Method::POST, &self.segments())
            .json(code)?
            .replay(Replay::OnlyUnprocessed);
        self.client.send(call).await
    }

    /// The partner's codes.
    pub async fn list(&self) -> Result<Vec<ValidationCode>> {
        self.client.send(Call::get(&self.segments())).await
    }
}

/// `client.admin().reviews()`.
#[derive(Debug, Clone, Copy)]
pub struct Reviews<'a> {
    client: &'a Client,
}

impl<'a> Reviews<'a> {
    /// The first page (100) of the requests waiting for a decision, oldest first.
    pub async fn list(&self) -> Result<Vec<Review>> {
        self.list_by_status(&VettingStatus::InReview).await
    }

    /// The first page (100) of the requests in `status`, oldest first.
    pub async fn list_by_status(&self, status: &VettingStatus) -> Result<Vec<Review>> {
        Ok(self.query().status(status.clone()).page().await?.items)
    }

    /// The queue with filters and paging:
    /// `reviews().query().partner(p).qualification(q).limit(50).page()`.
    pub fn query(&self) -> ReviewsQuery<'a> {
        ReviewsQuery {
            client: self.client,
            status: VettingStatus::InReview,
            qualification: None,
            partner: None,
            after: None,
            limit: None,
        }
    }
}

/// `client.admin().reviews().query()`: the review queue's filters and paging.
#[derive(Debug, Clone)]
pub struct ReviewsQuery<'a> {
    client: &'a Client,
    status: VettingStatus,
    qualification: Option<Qualification>,
    partner: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
}

/// One page of the review queue.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewPage {
    pub items: Vec<Review>,
    /// The cursor of the next page (the server's `MS-ContinuationToken`), when more follow.
    pub next: Option<String>,
}

impl ReviewsQuery<'_> {
    /// InReview (the default), Approved or Denied.
    pub fn status(mut self, status: VettingStatus) -> Self {
        self.status = status;
        self
    }

    pub fn qualification(mut self, qualification: Qualification) -> Self {
        self.qualification = Some(qualification);
        self
    }

    pub fn partner(mut self, partner_id: impl std::fmt::Display) -> Self {
        self.partner = Some(partner_id.to_string());
        self
    }

    /// Start after this cursor ([`ReviewPage::next`] of the previous page).
    pub fn after(mut self, cursor: impl Into<String>) -> Self {
        self.after = Some(cursor.into());
        self
    }

    /// Requests per page, 1 to 500 (the server's default is 100).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// One page.
    pub async fn page(&self) -> Result<ReviewPage> {
        let mut call = Call::get(&["admin", "v1", "reviews"]).query("status", self.status.as_str());
        if let Some(q) = &self.qualification {
            call = call.query("qualification", q.as_str());
        }
        if let Some(p) = &self.partner {
            call = call.query("partner", p.clone());
        }
        if let Some(a) = &self.after {
            call = call.query("after", a.clone());
        }
        if let Some(l) = self.limit {
            call = call.query("limit", l.to_string());
        }
        let (items, next) = self.client.send_paged(call).await?;
        Ok(ReviewPage { items, next })
    }

    /// Every page, followed to the end.
    pub async fn all(&self) -> Result<Vec<Review>> {
        let mut out = vec![];
        let mut query = self.clone();
        loop {
            let page = query.page().await?;
            out.extend(page.items);
            match page.next {
                Some(next) => query.after = Some(next),
                None => return Ok(out),
            }
        }
    }
}

/// `client.admin().customer(id)`.
#[derive(Debug, Clone)]
pub struct AdminCustomer<'a> {
    client: &'a Client,
    id: String,
}

impl<'a> AdminCustomer<'a> {
    /// One of the customer's qualifications (`Education`, `GovernmentCommunityCloud`,
    /// `StateOwnedEntity`).
    pub fn qualification(&self, qualification: Qualification) -> AdminQualification<'a> {
        AdminQualification {
            client: self.client,
            customer: self.id.clone(),
            qualification,
        }
    }

    pub fn validation_status(&self) -> AdminValidationStatus<'a> {
        AdminValidationStatus {
            client: self.client,
            customer: self.id.clone(),
        }
    }

    pub fn gdap(&self) -> AdminGdap<'a> {
        AdminGdap {
            client: self.client,
            customer: self.id.clone(),
        }
    }
}

/// `client.admin().customer(id).qualification(q)`.
#[derive(Debug, Clone)]
pub struct AdminQualification<'a> {
    client: &'a Client,
    customer: String,
    qualification: Qualification,
}

impl AdminQualification<'_> {
    fn segments<'s>(&'s self, last: &'s str) -> [&'s str; 7] {
        [
            "admin",
            "v1",
            "customers",
            &self.customer,
            "qualifications",
            self.qualification.as_str(),
            last,
        ]
    }

    /// Decides the request in review, guarded by its `etag` (from the review queue): a
    /// [`PreconditionFailed`](crate::ErrorCategory::PreconditionFailed) error when it changed,
    /// a [`Conflict`](crate::ErrorCategory::Conflict) when it was already decided. Because the
    /// etag guards it, a retry can never apply a second decision; a retry after a lost answer
    /// reports the conflict instead.
    pub async fn decide(
        &self,
        decision: &VettingDecision,
        etag: &str,
    ) -> Result<CustomerQualification> {
        let call = Call::new(Method::POST, &self.segments("decision"))
            .header("If-Match", crate::http::quoted_etag(etag))
            .json(decision)?;
        self.client.send(call).await
    }

    /// The audit history, oldest first.
    pub async fn history(&self) -> Result<Vec<AuditEvent>> {
        self.client.send(Call::get(&self.segments("history"))).await
    }
}

/// `client.admin().customer(id).validation_status()`.
#[derive(Debug, Clone)]
pub struct AdminValidationStatus<'a> {
    client: &'a Client,
    customer: String,
}

impl AdminValidationStatus<'_> {
    /// Sets the customer's account validation status.
    pub async fn set(&self, status: &AccountStatus) -> Result<ValidationStatus> {
        let segments = [
            "admin",
            "v1",
            "customers",
            &self.customer,
            "validationStatus",
        ];
        let call = Call::new(Method::PUT, &segments)
            .json(&serde_json::json!({ "status": status.as_str() }))?;
        self.client.send(call).await
    }
}

/// `client.admin().customer(id).gdap()`.
#[derive(Debug, Clone)]
pub struct AdminGdap<'a> {
    client: &'a Client,
    customer: String,
}

impl AdminGdap<'_> {
    fn segments(&self) -> [&str; 5] {
        ["admin", "v1", "customers", &self.customer, "gdap"]
    }

    /// Replaces the roles the customer's partner holds over it (`[]` revokes every role).
    pub async fn set(&self, roles: &[GdapRole]) -> Result<GdapGrant> {
        let call = Call::new(Method::PUT, &self.segments())
            .json(&serde_json::json!({ "roles": roles }))?;
        self.client.send(call).await
    }

    /// The roles the customer's partner holds over it.
    pub async fn get(&self) -> Result<GdapGrant> {
        self.client.send(Call::get(&self.segments())).await
    }
}

// ---- The test control plane, state (control.md 1-4) ------------------------------------------

/// `POST` of a control body, e.g. a fixture document: typed ([`Fixture`], [`Scenario`]) or any
/// `serde::Serialize` value such as a `serde_json::Value` read from a file.
fn control_post<B: Serialize + ?Sized>(segments: &[&str], body: &B) -> Result<Call> {
    Call::new(Method::POST, segments).json(body)
}

impl<'a> Admin<'a> {
    /// `POST /admin/v1/reset`: every partner back to how the server started (empty, or what
    /// `--seed` loaded); returns what was removed. A reset retried after a lost answer reports
    /// what the last attempt removed.
    pub async fn reset(&self) -> Result<ControlCounts> {
        let call = Call::new(Method::POST, &["admin", "v1", "reset"]);
        self.client.send(call).await
    }

    /// `POST /admin/v1/seed`: applies a fixture document, an upsert by id, all or nothing
    /// (a [`Conflict`](crate::ErrorCategory::Conflict) when an id belongs to another partner).
    /// `doc` is a [`Fixture`] or any serializable value (e.g. a `serde_json::Value`).
    pub async fn seed<D: Serialize + ?Sized>(&self, doc: &D) -> Result<ControlCounts> {
        let call = control_post(&["admin", "v1", "seed"], doc)?;
        self.client.send(call).await
    }

    /// `GET /admin/v1/snapshot`: the fixture document of all state.
    pub async fn snapshot(&self) -> Result<Fixture> {
        self.client
            .send(Call::get(&["admin", "v1", "snapshot"]))
            .await
    }

    /// The same document as the server wrote it, untyped.
    pub async fn snapshot_json(&self) -> Result<serde_json::Value> {
        self.client
            .send(Call::get(&["admin", "v1", "snapshot"]))
            .await
    }

    /// `POST /admin/v1/restore`: replaces all state with `doc` in one transaction (a reset,
    /// then a seed).
    pub async fn restore<D: Serialize + ?Sized>(&self, doc: &D) -> Result<ControlCounts> {
        let call = control_post(&["admin", "v1", "restore"], doc)?;
        self.client.send(call).await
    }

    /// `GET /admin/v1/fixtures/schema`: the JSON Schema of the fixture document.
    pub async fn fixture_schema(&self) -> Result<serde_json::Value> {
        self.client
            .send(Call::get(&["admin", "v1", "fixtures", "schema"]))
            .await
    }

    /// The global clock, which every partner without a clock of its own follows.
    pub fn clock(&self) -> AdminClock<'a> {
        AdminClock {
            client: self.client,
            partner: None,
            advance_timeout: None,
        }
    }
}

impl<'a> AdminPartner<'a> {
    fn control_segments<'s>(&'s self, rest: &[&'s str]) -> Vec<&'s str> {
        let mut segments = vec!["admin", "v1", "partners", self.id.as_str()];
        segments.extend_from_slice(rest);
        segments
    }

    /// `POST /admin/v1/partners/{p}/reset`: this partner back to how the server started; other
    /// partners are not touched. A partner never seen is valid (an empty reset).
    pub async fn reset(&self) -> Result<ControlCounts> {
        let call = Call::new(Method::POST, &self.control_segments(&["reset"]));
        self.client.send(call).await
    }

    /// `GET /admin/v1/partners/{p}/snapshot`: the fixture document of this partner.
    pub async fn snapshot(&self) -> Result<Fixture> {
        self.client
            .send(Call::get(&self.control_segments(&["snapshot"])))
            .await
    }

    /// The same document as the server wrote it, untyped.
    pub async fn snapshot_json(&self) -> Result<serde_json::Value> {
        self.client
            .send(Call::get(&self.control_segments(&["snapshot"])))
            .await
    }

    /// `POST /admin/v1/partners/{p}/restore`: replaces this partner's state with `doc`, which
    /// may hold this partner only.
    pub async fn restore<D: Serialize + ?Sized>(&self, doc: &D) -> Result<ControlCounts> {
        let call = control_post(&self.control_segments(&["restore"]), doc)?;
        self.client.send(call).await
    }

    /// The partner's vetting scenario.
    pub fn scenario(&self) -> AdminScenario<'a> {
        AdminScenario {
            client: self.client,
            partner: self.id.clone(),
        }
    }

    /// The partner's clock.
    pub fn clock(&self) -> AdminClock<'a> {
        AdminClock {
            client: self.client,
            partner: Some(self.id.clone()),
            advance_timeout: None,
        }
    }
}

/// `client.admin().partner(id).scenario()`: `/admin/v1/partners/{p}/vetting`.
#[derive(Debug, Clone)]
pub struct AdminScenario<'a> {
    client: &'a Client,
    partner: String,
}

impl AdminScenario<'_> {
    fn segments(&self) -> [&str; 5] {
        ["admin", "v1", "partners", &self.partner, "vetting"]
    }

    /// Replaces the scenario; returns the stored one. `scenario` is a [`Scenario`] or any
    /// serializable value of that shape (a bad rule is a
    /// [`BadInput`](crate::ErrorCategory::BadInput) error naming it, e.g. `rules[2].after`).
    pub async fn set<S: Serialize + ?Sized>(&self, scenario: &S) -> Result<Scenario> {
        let call = Call::new(Method::PUT, &self.segments()).json(scenario)?;
        self.client.send(call).await
    }

    /// The scenario (no rules when the partner has none).
    pub async fn get(&self) -> Result<Scenario> {
        self.client.send(Call::get(&self.segments())).await
    }

    /// Removes the scenario: the server's `--vetting` mode decides again.
    pub async fn clear(&self) -> Result<()> {
        let call = Call::new(Method::DELETE, &self.segments());
        self.client.send_empty(call).await
    }
}

/// The time an advance's attempt may take at least: the server's default `--advance-timeout`
/// (120 s) and a margin, so the server's 503 (with what it applied) arrives first.
pub const ADVANCE_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(130);

/// `client.admin().clock()` (global) or `client.admin().partner(id).clock()`.
#[derive(Debug, Clone)]
pub struct AdminClock<'a> {
    client: &'a Client,
    partner: Option<String>,
    advance_timeout: Option<Duration>,
}

impl AdminClock<'_> {
    fn segments<'s>(&'s self, rest: &[&'s str]) -> Vec<&'s str> {
        let mut segments = vec!["admin", "v1"];
        if let Some(p) = &self.partner {
            segments.extend(["partners", p.as_str()]);
        }
        segments.push("clock");
        segments.extend_from_slice(rest);
        segments
    }

    /// The time one advance attempt may take (default: the client's timeout, and at least
    /// [`ADVANCE_ATTEMPT_TIMEOUT`]). Raise it with the server's `--advance-timeout`.
    pub fn advance_timeout(mut self, timeout: Duration) -> Self {
        self.advance_timeout = Some(timeout);
        self
    }

    /// The scope's time, its mode and whose clock it is.
    pub async fn get(&self) -> Result<ClockState> {
        self.client.send(Call::get(&self.segments(&[]))).await
    }

    /// Time stands still at `at`. A scope without a clock of its own may be frozen anywhere;
    /// once it has one, an instant earlier than its time is a
    /// [`Conflict`](crate::ErrorCategory::Conflict) (time never goes back).
    pub async fn freeze(&self, at: OffsetDateTime) -> Result<ClockState> {
        let body = serde_json::json!({ "frozenAt": date::format_control(&at) });
        let call = Call::new(Method::PUT, &self.segments(&[])).json(&body)?;
        self.client.send(call).await
    }

    /// Moves the scope's time forward by `by` and, before answering, runs every job of the
    /// scope that falls due, each at its own virtual time; returns the new time and the
    /// transitions applied. A scope without a clock is frozen at its current time first.
    ///
    /// Never retried after it may have reached the server (a timeout, a broken connection, a
    /// 5xx): a second attempt would move time twice. After a
    /// [`ServerBusy`](crate::ErrorCategory::ServerBusy) error (the server's `--advance-timeout`
    /// ran out) the transitions applied so far are in
    /// [`AppliedTransition::applied_so_far`](crate::AppliedTransition::applied_so_far); read the
    /// clock and [`advance_to`](Self::advance_to) the instant you wanted to run the rest.
    pub async fn advance_by(&self, by: Duration) -> Result<ClockAdvance> {
        self.advance(serde_json::json!({ "by": duration_text(by) }))
            .await
    }

    /// Moves the scope's time forward to `to` (a [`Conflict`](crate::ErrorCategory::Conflict)
    /// when it is earlier than the scope's time), like [`advance_by`](Self::advance_by).
    /// Sending it again after a failure is safe for the clock (it is then at `to` already) but
    /// the second answer lists only what that attempt ran: so it is not retried by the SDK.
    pub async fn advance_to(&self, to: OffsetDateTime) -> Result<ClockAdvance> {
        self.advance(serde_json::json!({ "to": date::format_control(&to) }))
            .await
    }

    async fn advance(&self, body: serde_json::Value) -> Result<ClockAdvance> {
        let timeout = self
            .advance_timeout
            .unwrap_or_else(|| self.client.inner.timeout.max(ADVANCE_ATTEMPT_TIMEOUT));
        let call = Call::new(Method::POST, &self.segments(&["advance"]))
            .json(&body)?
            .replay(Replay::OnlyUnprocessed)
            .timeout(timeout);
        self.client.send(call).await
    }

    /// Lets time run on from the frozen instant (mode `running`: a fixed offset from real time).
    pub async fn resume(&self) -> Result<ClockState> {
        let call = Call::new(Method::POST, &self.segments(&["resume"]));
        self.client.send(call).await
    }

    /// Removes the scope's own clock: a partner follows the global clock again, the global
    /// clock real time (later events may then carry earlier times than those written under the
    /// virtual clock).
    pub async fn clear(&self) -> Result<()> {
        let call = Call::new(Method::DELETE, &self.segments(&[]));
        self.client.send_empty(call).await
    }
}
