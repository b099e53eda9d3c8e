//! Typed path parameters: each names its parameter as the route template does, parses it, and
//! refuses a bad one with the Partner Center error (a customer id that is not a GUID is 400
//! 900118). Each is documented by its `IntoParams`.

use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use qualify_core::qualification::SettableQualification;
use qualify_core::{CustomerId, ErrorKind, PartnerId};

use crate::http::error::ApiError;
use crate::http::schemas::QualificationSchema;

/// The raw value of the path parameter `name`.
async fn param<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    name: &str,
) -> Result<String, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::of(ErrorKind::InvalidInput))?;
    params
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
        .ok_or_else(|| ApiError::of(ErrorKind::Internal))
}

/// Implements the extractor of a path parameter struct from its one field's parser.
macro_rules! path_param {
    ($ty:ident { $field:ident } => $parse:expr) => {
        impl<S: Send + Sync> FromRequestParts<S> for $ty {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                let raw = param(parts, state, stringify!($field)).await?;
                let parse: fn(&str) -> Result<_, ApiError> = $parse;
                Ok(Self {
                    $field: parse(&raw)?,
                })
            }
        }
    };
}

/// `{customer_id}`.
#[derive(Debug, Clone, Copy, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CustomerPath {
    /// The customer's tenant id, a GUID (anything else is 400 with code 900118).
    #[param(value_type = String, format = Uuid)]
    pub customer_id: CustomerId,
}

path_param!(CustomerPath { customer_id } => |raw| raw.parse().map_err(|_| {
    ApiError::new(
        ErrorKind::InvalidCustomerId,
        format!("The customer id {raw:?} is not a valid GUID."),
    )
}));

/// `{partner_id}`.
#[derive(Debug, Clone, Copy, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PartnerPath {
    /// The partner's tenant id, a GUID.
    #[param(value_type = String, format = Uuid)]
    pub partner_id: PartnerId,
}

path_param!(PartnerPath { partner_id } => |raw| raw.parse().map_err(|_| {
    ApiError::invalid(format!("The partner tenant id {raw:?} is not a valid GUID."))
}));

/// `{qualification}` of an operator path.
#[derive(Debug, Clone, Copy, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct QualificationPath {
    /// Education, GovernmentCommunityCloud or StateOwnedEntity (case-insensitive).
    #[param(value_type = QualificationSchema)]
    pub qualification: SettableQualification,
}

path_param!(QualificationPath { qualification } => |raw| {
    SettableQualification::parse(raw).ok_or_else(|| {
        ApiError::invalid(format!(
            "{raw:?} is not one of Education, GovernmentCommunityCloud, StateOwnedEntity."
        ))
    })
});

/// `{fault_id}`.
#[derive(Debug, Clone, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct FaultPath {
    /// The fault's id (from `POST /admin/v1/faults`).
    pub fault_id: String,
}

path_param!(FaultPath { fault_id } => |raw| Ok(raw.to_owned()));

/// `{delivery_id}`: a number; anything else names no delivery (404).
#[derive(Debug, Clone, Copy, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DeliveryPath {
    #[param(value_type = String)]
    pub delivery_id: i64,
}

/// The 404 of a delivery id that names no delivery.
pub fn no_delivery(id: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        format!("No delivery has the id {:?}.", id.to_string()),
    )
}

path_param!(DeliveryPath { delivery_id } => |raw| raw.parse().map_err(|_| no_delivery(raw)));

/// `{correlation_id}` of a validation event.
#[derive(Debug, Clone, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CorrelationPath {
    /// As `POST .../validationEvents` answered it.
    pub correlation_id: String,
}

path_param!(CorrelationPath { correlation_id } => |raw| Ok(raw.to_owned()));

/// Two path parameters of one route, extracted in order (a write's `Write<_, _, Both<..>>`).
#[derive(Debug, Clone, Copy)]
pub struct Both<A, B>(pub A, pub B);

impl<S, A, B> FromRequestParts<S> for Both<A, B>
where
    S: Send + Sync,
    A: FromRequestParts<S, Rejection = ApiError> + Send,
    B: FromRequestParts<S, Rejection = ApiError>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Ok(Self(
            A::from_request_parts(parts, state).await?,
            B::from_request_parts(parts, state).await?,
        ))
    }
}

/// Path parameters `P` of a request with a body `B` (an extractor that reads it): the body is
/// read, and refused, first; then the path parameters.
#[derive(Debug, Clone)]
pub struct WithBody<P, B>(pub P, pub B);

impl<S, P, B> FromRequest<S> for WithBody<P, B>
where
    S: Send + Sync,
    P: FromRequestParts<S, Rejection = ApiError> + Send,
    B: FromRequest<S, Rejection = ApiError>,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let path = P::from_request_parts(&mut parts, state).await;
        let body = B::from_request(Request::from_parts(parts, body), state).await?;
        Ok(Self(path?, body))
    }
}
