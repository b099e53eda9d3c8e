//! The GDAP roles a customer's partner holds over it (api.md 6).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use qualify_core::time_fmt::wire;
use qualify_core::validation::{GdapGrant, GdapRole};
use qualify_core::{DomainError, ErrorKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::service::OperatorApi;
use crate::http::auth::Operator;
use crate::http::body::ok;
use crate::http::error::ApiResult;
use crate::http::params::{CustomerPath, WithBody};
use crate::http::responses::NotFound;
use crate::http::schemas::GdapRoleSchema;
use crate::http::write::Write;

/// `PUT /admin/v1/customers/{id}/gdap`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = GdapGrantRequest)]
pub struct GdapIn {
    /// The complete set of roles (possibly empty).
    #[schema(value_type = Vec<GdapRoleSchema>, required = true)]
    pub roles: Option<Vec<String>>,
}

impl TryFrom<GdapIn> for Vec<GdapRole> {
    type Error = DomainError;
    fn try_from(g: GdapIn) -> Result<Self, DomainError> {
        let roles = g
            .roles
            .ok_or_else(|| DomainError::invalid("roles is required (an array, possibly empty)."))?;
        roles
            .iter()
            .map(|r| {
                GdapRole::parse(r).ok_or_else(|| {
                    DomainError::new(
                        ErrorKind::InvalidInput,
                        format!("{r:?} is not one of Directory Reader, Directory Writer, License Administrator, User Administrator."),
                    )
                })
            })
            .collect()
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GdapGrant)]
pub struct GdapGrantOut {
    #[schema(format = Uuid)]
    pub partner_id: String,
    #[schema(format = Uuid)]
    pub customer_id: String,
    #[schema(value_type = Vec<GdapRoleSchema>)]
    pub roles: Vec<&'static str>,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&GdapGrant> for GdapGrantOut {
    fn from(g: &GdapGrant) -> Self {
        Self {
            partner_id: g.partner_id.to_string(),
            customer_id: g.customer_id.to_string(),
            roles: g.roles.iter().map(|r| r.name()).collect(),
            updated_at: wire(g.updated_at),
        }
    }
}

/// `PUT /admin/v1/customers/{id}/gdap`: the roles the customer's partner holds over it.
#[utoipa::path(
    put,
    path = "/admin/v1/customers/{customer_id}/gdap",
    tag = "operator",
    operation_id = "setGdapGrant",
    summary = "Set the GDAP roles the customer's partner holds over it",
    params(CustomerPath),
    request_body(content = GdapIn, example = json!({"roles": ["Directory Reader"]})),
    responses(
        (status = 200, description = "The grant.", body = GdapGrantOut),
        (status = 404, response = NotFound),
    ),
)]
pub async fn set_gdap(
    State(api): State<OperatorApi>,
    WithBody(CustomerPath { customer_id }, write): WithBody<CustomerPath, Write<Operator, GdapIn>>,
) -> ApiResult<Response> {
    let customer = api.customer(customer_id).await?;
    let roles = Vec::<GdapRole>::try_from(write.body)?;
    let grant = api.set_gdap(&write.ctx, &customer, &roles).await?;
    Ok(ok(GdapGrantOut::from(&grant)).into_response())
}

/// `GET /admin/v1/customers/{id}/gdap`.
#[utoipa::path(
    get,
    path = "/admin/v1/customers/{customer_id}/gdap",
    tag = "operator",
    operation_id = "getGdapGrant",
    summary = "The GDAP roles the customer's partner holds over it",
    params(CustomerPath),
    responses(
        (status = 200, description = "The grant (no roles when none was ever set).", body = GdapGrantOut),
        (status = 404, response = NotFound),
    ),
)]
pub async fn get_gdap(
    State(api): State<OperatorApi>,
    _: Operator,
    CustomerPath { customer_id }: CustomerPath,
) -> ApiResult<Response> {
    let customer = api.customer(customer_id).await?;
    let grant = api.gdap(&customer).await?;
    Ok(ok(GdapGrantOut::from(&grant)).into_response())
}
