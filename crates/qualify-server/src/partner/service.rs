//! The Partner Center API's service: what its handlers ask of the store, with the tenant
//! isolation every route needs (a customer of another partner is 403 20002), the vetting
//! policy, and what a new customer starts with.

use std::sync::Arc;

use qualify_core::customer::{BillingProfile, Customer, NewCustomer};
use qualify_core::engine::reads_count;
use qualify_core::policy::VettingPolicy;
use qualify_core::qualification::QualificationRecord;
use qualify_core::rules::{QualificationRequest, legacy_current};
use qualify_core::validation::{GdapRole, ValidationCode, ValidationStatus};
use qualify_core::{CustomerId, ErrorKind, PartnerId};
use qualify_store::{CustomerPage, Idempotent, Store, StoreError, WriteContext};

use crate::clock::Time;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::metrics::{self, ActorKind};

#[derive(Clone)]
pub struct PartnerApi(Arc<Inner>);

struct Inner {
    store: Arc<dyn Store>,
    time: Time,
    policy: VettingPolicy,
    /// The GDAP roles a customer created through `POST /v1/customers` starts with.
    default_gdap_roles: Vec<GdapRole>,
}

/// Where the etag of a billing-profile update came from (its 412 says which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtagFrom {
    /// The `If-Match` header.
    IfMatch,
    /// The body's `attributes.etag` (a client that sends the profile back whole).
    Body,
}

impl PartnerApi {
    pub fn new(
        store: Arc<dyn Store>,
        time: Time,
        policy: VettingPolicy,
        default_gdap_roles: Vec<GdapRole>,
    ) -> Self {
        Self(Arc::new(Inner {
            store,
            time,
            policy,
            default_gdap_roles,
        }))
    }

    fn store(&self) -> &dyn Store {
        self.0.store.as_ref()
    }

    // ---- customers ------------------------------------------------------------------------

    /// The customer, if it exists and belongs to the caller: 404 when it exists nowhere, 403
    /// 20002 when it belongs to another partner.
    pub async fn customer(&self, caller: &Caller, id: CustomerId) -> ApiResult<Customer> {
        let customer = self.store().customer(id).await?.ok_or_else(unknown)?;
        check_relationship(caller, id, customer.partner_id)?;
        Ok(customer)
    }

    /// Like [`Self::customer`] when only the id is needed: one indexed lookup of the owner.
    pub async fn owned(&self, caller: &Caller, id: CustomerId) -> ApiResult<CustomerId> {
        let owner = self
            .store()
            .customer_partner(id)
            .await?
            .ok_or_else(unknown)?;
        check_relationship(caller, id, owner)?;
        Ok(id)
    }

    pub async fn create_customer(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        new: NewCustomer,
    ) -> ApiResult<Idempotent<Customer>> {
        Ok(self
            .store()
            .create_customer(ctx, partner, new, &self.0.default_gdap_roles)
            .await?)
    }

    /// A page of the partner's customers after `after`.
    pub async fn customers(
        &self,
        partner: PartnerId,
        after: Option<i64>,
        size: u32,
    ) -> ApiResult<CustomerPage> {
        Ok(self.store().list_customers(partner, after, size).await?)
    }

    /// Replaces the billing profile of a customer (the caller's: see [`Self::customer`]) if
    /// `etag` is its current one; the 412 says which etag the client sent.
    pub async fn update_billing_profile(
        &self,
        ctx: &WriteContext,
        id: CustomerId,
        (etag, from): (String, EtagFrom),
        profile: BillingProfile,
    ) -> ApiResult<Idempotent<Customer>> {
        self.store()
            .update_billing_profile(ctx, id, &etag, profile)
            .await
            .map_err(|e| match e {
                StoreError::Domain(d)
                    if d.kind == ErrorKind::PreconditionFailed && from == EtagFrom::Body =>
                {
                    ApiError::new(
                        ErrorKind::PreconditionFailed,
                        "The etag in attributes.etag does not match the current version of the \
                         billing profile; read it again (If-Match was not sent).",
                    )
                }
                e => e.into(),
            })
    }

    // ---- qualifications -------------------------------------------------------------------

    /// Records a qualification request of the caller's customer (one transaction:
    /// qualification, GCC decrement, vetting job, audit event; the store's signal wakes the
    /// worker). Vetting happens afterwards.
    pub async fn record(
        &self,
        ctx: &WriteContext,
        caller: &Caller,
        id: CustomerId,
        request: impl FnOnce() -> Result<QualificationRequest, qualify_core::DomainError>,
    ) -> ApiResult<Idempotent<QualificationRecord>> {
        let customer = self.owned(caller, id).await?;
        let request = request()?;
        let created = self
            .store()
            .create_qualification(ctx, caller.partner, customer, request, &self.0.policy)
            .await?;
        if !created.replayed {
            metrics::qualification_created(created.value.qualification);
        }
        Ok(created)
    }

    /// The customer's qualification requests, oldest first. A request whose scenario rule says
    /// `afterReads` is decided by the partner's reads: this read counts.
    pub async fn qualifications(
        &self,
        caller: &Caller,
        id: CustomerId,
    ) -> ApiResult<Vec<QualificationRecord>> {
        let all = self.owned_qualifications(caller, id).await?;
        if reads_count(&all) {
            return self.counted_read(id, None).await;
        }
        Ok(all)
    }

    /// The latest InReview or Approved request (the retired single-value contract); the read
    /// counts for the request it shows (control.md 3, afterReads).
    pub async fn legacy_qualification(
        &self,
        caller: &Caller,
        id: CustomerId,
    ) -> ApiResult<Option<QualificationRecord>> {
        let mut all = self.owned_qualifications(caller, id).await?;
        if let Some(current) =
            legacy_current(&all).filter(|q| reads_count(std::slice::from_ref(*q)))
        {
            let only = current.id;
            all = self.counted_read(id, Some(only)).await?;
        }
        Ok(legacy_current(&all).cloned())
    }

    /// The qualification requests of a customer the caller owns: owner and list in one read.
    async fn owned_qualifications(
        &self,
        caller: &Caller,
        id: CustomerId,
    ) -> ApiResult<Vec<QualificationRecord>> {
        let (owner, all) = self
            .store()
            .owned_qualifications(id)
            .await?
            .ok_or_else(unknown)?;
        check_relationship(caller, id, owner)?;
        Ok(all)
    }

    /// Counts a read of the customer's `afterReads` requests (all, or only `only`): the read that
    /// completes a rule's count is the first to show its decision.
    async fn counted_read(
        &self,
        id: CustomerId,
        only: Option<i64>,
    ) -> ApiResult<Vec<QualificationRecord>> {
        let read = self
            .store()
            .count_reads(id, self.0.time.wall(), &self.0.policy, only)
            .await?
            .ok_or_else(unknown)?;
        for q in read.records.iter().filter(|q| read.decided.contains(&q.id)) {
            metrics::vetting_decision(q.qualification, q.vetting_status, ActorKind::Scenario);
        }
        Ok(read.records)
    }

    // ---- validations ----------------------------------------------------------------------

    pub async fn validation_codes(&self, partner: PartnerId) -> ApiResult<Vec<ValidationCode>> {
        Ok(self.store().validation_codes(partner).await?)
    }

    /// The account validation status of a customer (the caller's: see [`Self::owned`]); 404
    /// 600074 when none was set.
    pub async fn validation_status(&self, customer: CustomerId) -> ApiResult<ValidationStatus> {
        self.store()
            .validation_status(customer)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorKind::ValidationStatusNotFound,
                    format!("No account validation status was found for the customer {customer}."),
                )
            })
    }
}

fn check_relationship(caller: &Caller, id: CustomerId, owner: PartnerId) -> ApiResult<()> {
    if owner != caller.partner {
        return Err(ApiError::new(
            ErrorKind::NoRelationship,
            format!(
                "The partner id {} has no commerce relationship with the customer id {}.",
                caller.partner, id
            ),
        ));
    }
    Ok(())
}

fn unknown() -> ApiError {
    ApiError::new(ErrorKind::NotFound, "The customer was not found.")
}
