//! The operator API's service: any partner's customers, their qualifications in review, the
//! decisions on them, GDAP grants, account validation statuses and GCC validation codes.

use std::sync::Arc;

use qualify_core::customer::Customer;
use qualify_core::qualification::{QualificationRecord, SettableQualification, VettingDecision};
use qualify_core::validation::{
    AccountStatus, GdapGrant, GdapRole, ValidationCode, ValidationStatus,
};
use qualify_core::{CustomerId, ErrorKind, PartnerId};
use qualify_store::{AuditEvent, ReviewPage, ReviewQuery, Store, WriteContext};

use crate::http::error::{ApiError, ApiResult};
use crate::metrics::{self, ActorKind};

#[derive(Clone)]
pub struct OperatorApi(Arc<Inner>);

struct Inner {
    store: Arc<dyn Store>,
}

/// What a reviewer looks at: a customer with its grant, status and every request.
pub struct CustomerView {
    pub customer: Customer,
    pub gdap: Option<GdapGrant>,
    pub status: Option<ValidationStatus>,
    pub qualifications: Vec<QualificationRecord>,
}

impl OperatorApi {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self(Arc::new(Inner { store }))
    }

    fn store(&self) -> &dyn Store {
        self.0.store.as_ref()
    }

    /// Any existing customer (the operator API crosses partners).
    pub async fn customer(&self, id: CustomerId) -> ApiResult<Customer> {
        self.store()
            .customer(id)
            .await?
            .ok_or_else(|| ApiError::new(ErrorKind::NotFound, "The customer was not found."))
    }

    pub async fn customer_view(&self, id: CustomerId) -> ApiResult<CustomerView> {
        let customer = self.customer(id).await?;
        let store = self.store();
        Ok(CustomerView {
            gdap: store.gdap_grant(customer.partner_id, customer.id).await?,
            status: store.validation_status(customer.id).await?,
            qualifications: store.qualifications(customer.id).await?,
            customer,
        })
    }

    pub async fn issue_code(
        &self,
        ctx: &WriteContext,
        partner: PartnerId,
        organization: &str,
        max_creates: i64,
    ) -> ApiResult<ValidationCode> {
        let code = self
            .store()
            .issue_validation_code(ctx, partner, organization, max_creates)
            .await?;
        tracing::info!(%partner, validation_id = %code.validation_id, max_creates, "validation code issued");
        Ok(code)
    }

    pub async fn validation_codes(&self, partner: PartnerId) -> ApiResult<Vec<ValidationCode>> {
        Ok(self.store().validation_codes(partner).await?)
    }

    pub async fn review_page(&self, query: &ReviewQuery) -> ApiResult<ReviewPage> {
        Ok(self.store().review_page(query).await?)
    }

    /// An operator's decision on the customer's request in review, if `etag` is its current
    /// one; its webhook event is due at once.
    pub async fn decide(
        &self,
        ctx: &WriteContext,
        customer: CustomerId,
        qualification: SettableQualification,
        etag: &str,
        decision: &VettingDecision,
    ) -> ApiResult<QualificationRecord> {
        let ctx = WriteContext {
            actor: format!("operator {}", ctx.actor),
            ..ctx.clone()
        };
        let decided = self
            .store()
            .decide(&ctx, customer, qualification, etag, decision)
            .await?;
        tracing::info!(customer_id = %customer, %qualification, status = %decided.vetting_status, "qualification decided by operator");
        metrics::vetting_decision(
            decided.qualification,
            decided.vetting_status,
            ActorKind::Reviewer,
        );
        Ok(decided)
    }

    pub async fn history(
        &self,
        customer: CustomerId,
        qualification: SettableQualification,
    ) -> ApiResult<Vec<AuditEvent>> {
        Ok(self.store().history(customer, qualification).await?)
    }

    pub async fn set_validation_status(
        &self,
        ctx: &WriteContext,
        customer: CustomerId,
        status: AccountStatus,
    ) -> ApiResult<ValidationStatus> {
        Ok(self
            .store()
            .set_validation_status(ctx, customer, status)
            .await?)
    }

    pub async fn set_gdap(
        &self,
        ctx: &WriteContext,
        customer: &Customer,
        roles: &[GdapRole],
    ) -> ApiResult<GdapGrant> {
        Ok(self
            .store()
            .set_gdap_grant(ctx, customer.partner_id, customer.id, roles)
            .await?)
    }

    /// The customer's grant; no roles when none was ever set.
    pub async fn gdap(&self, customer: &Customer) -> ApiResult<GdapGrant> {
        Ok(self
            .store()
            .gdap_grant(customer.partner_id, customer.id)
            .await?
            .unwrap_or(GdapGrant {
                partner_id: customer.partner_id,
                customer_id: customer.id,
                roles: vec![],
                updated_at: customer.created_at,
            }))
    }
}
