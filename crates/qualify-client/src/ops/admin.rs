//! qualify's operator API under `/admin/v1` (api.md section 6). Needs a token with the
//! `Qualify.Admin` role; any other token gets a [`Forbidden`](crate::ErrorCategory::Forbidden)
//! error.

use reqwest::Method;

use crate::Client;
use crate::error::Result;
use crate::http::{Call, Replay};
use crate::models::{
    AccountStatus, AuditEvent, CustomerQualification, GdapGrant, GdapRole, NewValidationCode,
    Qualification, Review, ValidationCode, ValidationStatus, VettingDecision, VettingStatus,
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
