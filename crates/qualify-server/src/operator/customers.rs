//! Any partner's customer as a reviewer sees it, and its account validation status (api.md 6).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use qualify_core::DomainError;
use qualify_core::customer::Customer;
use qualify_core::qualification::QualificationRecord;
use qualify_core::time_fmt::wire;
use qualify_core::validation::{AccountStatus, GdapGrant, ValidationStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::reviews::ReviewOut;
use super::service::{CustomerView, OperatorApi};
use crate::http::auth::Operator;
use crate::http::body::ok;
use crate::http::error::ApiResult;
use crate::http::params::{CustomerPath, WithBody};
use crate::http::responses::NotFound;
use crate::http::schemas::{AccountStatusSchema, GdapRoleSchema};
use crate::http::write::Write;
use crate::partner::customers::wire::{Attributes, BillingProfileOut, CompanyProfileOut};
use crate::partner::validations::wire::ValidationStatusOut;

/// `GET /admin/v1/customers/{id}`: any partner's customer, as an operator sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AdminCustomer)]
pub struct AdminCustomerOut {
    /// The customer's tenant id.
    #[schema(format = Uuid)]
    pub id: String,
    /// The partner the customer belongs to.
    #[schema(format = Uuid)]
    pub partner_id: String,
    pub company_profile: CompanyProfileOut,
    pub billing_profile: BillingProfileOut,
    #[schema(example = "reseller")]
    pub relationship_to_partner: &'static str,
    /// The GDAP roles the partner holds over the customer.
    #[schema(value_type = Vec<GdapRoleSchema>)]
    pub gdap_roles: Vec<&'static str>,
    /// The account validation status, when an operator set one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub validation_status: Option<ValidationStatusOut>,
    /// Every qualification request of the customer, oldest first, with the etag a decision
    /// needs.
    pub qualifications: Vec<ReviewOut>,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub attributes: Attributes,
}

impl AdminCustomerOut {
    pub fn new(
        c: &Customer,
        gdap: Option<&GdapGrant>,
        status: Option<&ValidationStatus>,
        qualifications: &[QualificationRecord],
    ) -> Self {
        Self {
            id: c.id.to_string(),
            partner_id: c.partner_id.to_string(),
            company_profile: CompanyProfileOut::new(c),
            billing_profile: BillingProfileOut::new(c),
            relationship_to_partner: "reseller",
            gdap_roles: gdap
                .map(|g| g.roles.iter().map(|r| r.name()).collect())
                .unwrap_or_default(),
            validation_status: status.map(ValidationStatusOut::from),
            qualifications: qualifications.iter().map(ReviewOut::from).collect(),
            created_at: wire(c.created_at),
            attributes: Attributes {
                etag: None,
                object_type: "Customer",
            },
        }
    }
}

/// `PUT /admin/v1/customers/{id}/validationStatus`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ValidationStatusRequest)]
pub struct ValidationStatusIn {
    #[schema(value_type = AccountStatusSchema, required = true)]
    pub status: Option<String>,
}

impl TryFrom<ValidationStatusIn> for AccountStatus {
    type Error = DomainError;
    fn try_from(v: ValidationStatusIn) -> Result<Self, DomainError> {
        let s = v
            .status
            .ok_or_else(|| DomainError::invalid("status is required."))?;
        AccountStatus::parse(&s).ok_or_else(|| {
            DomainError::invalid(format!(
                "status {s:?} is not one of Unknown, UnderReview, Allowed, NotAllowed, Not Ready."
            ))
        })
    }
}

/// `GET /admin/v1/customers/{id}`: any partner's customer with what a reviewer looks at.
#[utoipa::path(
    get,
    path = "/admin/v1/customers/{customer_id}",
    tag = "operator",
    operation_id = "adminGetCustomer",
    summary = "Any partner's customer: profiles, partner, GDAP roles, validation status, qualifications",
    params(CustomerPath),
    responses(
        (status = 200, description = "The customer.", body = AdminCustomerOut),
        (status = 404, response = NotFound),
    ),
)]
pub async fn get_customer(
    State(api): State<OperatorApi>,
    _: Operator,
    CustomerPath { customer_id }: CustomerPath,
) -> ApiResult<Response> {
    let CustomerView {
        customer,
        gdap,
        status,
        qualifications,
    } = api.customer_view(customer_id).await?;
    Ok(ok(AdminCustomerOut::new(
        &customer,
        gdap.as_ref(),
        status.as_ref(),
        &qualifications,
    ))
    .into_response())
}

/// `PUT /admin/v1/customers/{id}/validationStatus`.
#[utoipa::path(
    put,
    path = "/admin/v1/customers/{customer_id}/validationStatus",
    tag = "operator",
    operation_id = "setValidationStatus",
    summary = "Set a customer's account validation status",
    params(CustomerPath),
    request_body(content = ValidationStatusIn, example = json!({"status": "Allowed"})),
    responses(
        (status = 200, description = "The status, as the customer's partner reads it.", body = ValidationStatusOut),
        (status = 404, response = NotFound),
    ),
)]
pub async fn set_validation_status(
    State(api): State<OperatorApi>,
    WithBody(CustomerPath { customer_id }, write): WithBody<
        CustomerPath,
        Write<Operator, ValidationStatusIn>,
    >,
) -> ApiResult<Response> {
    let customer = api.customer(customer_id).await?;
    let status = AccountStatus::try_from(write.body)?;
    let saved = api
        .set_validation_status(&write.ctx, customer.id, status)
        .await?;
    Ok(ok(ValidationStatusOut::from(&saved)).into_response())
}
