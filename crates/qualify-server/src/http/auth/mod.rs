//! Authentication on the HTTP floor: the layer that verifies the bearer token of every request
//! that has one, and the extractors that state each operation's auth class ([`AnyPartner`],
//! [`Delegated`], [`Operator`]). Tokens themselves are [`token`]'s.

mod caller;
mod token;

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use qualify_core::ErrorKind;

pub use caller::{ADMIN_ROLE, Caller, Credential};
pub use token::{
    AuthConfig, Authenticator, DEFAULT_AUDIENCE, DEFAULT_DEV_SECRET, DEFAULT_JWKS_REFRESH,
    DevToken, Secret, mint_dev_token,
};

use crate::http::error::ApiError;
use crate::http::throttle::Throttle;

/// What the auth layer found out about a request's token, in the request's extensions.
#[derive(Debug, Clone)]
struct Authentication(Result<Caller, ApiError>);

/// The auth layer, outside the router: validates the bearer token of every request that has
/// one and records the outcome in the request's extensions (the [`Caller`] too when the token
/// is valid, for the layers inside: logs, journal, faults, metrics). It refuses nothing: what a
/// route needs is stated by its handler's extractor ([`AnyPartner`], [`Delegated`],
/// [`Operator`]), so an unknown route is 404 and a wrong method 405 whoever asks.
pub async fn authenticate(
    State(auth): State<Arc<Authenticator>>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(header) = req.headers().get(AUTHORIZATION) {
        let result = auth
            .authenticate(Some(header.to_str().unwrap_or("?")))
            .await;
        if let Ok(caller) = &result {
            tracing::Span::current().record("partner", tracing::field::display(caller.partner));
            req.extensions_mut().insert(caller.clone());
        }
        req.extensions_mut().insert(Authentication(result));
    }
    next.run(req).await
}

fn authenticated(parts: &Parts) -> Result<Caller, ApiError> {
    match parts.extensions.get::<Authentication>() {
        Some(Authentication(result)) => result.clone(),
        None => Err(ApiError::of(ErrorKind::TokenMissing)),
    }
}

/// The per-partner throttle of the Partner Center routes (api.md 5), as a state holds it.
#[derive(Clone)]
pub struct PartnerThrottle(pub Arc<Throttle>);

/// An operation's auth class: what it requires of its caller, and whether its writes are
/// idempotent by `MS-RequestId` (the Partner Center routes' are, the operator API's are not).
pub trait AuthClass {
    const IDEMPOTENT_WRITES: bool;
    fn caller(self) -> Caller;
}

/// Any partner credential (App-only or App+User), throttled per partner tenant: the Partner
/// Center routes that both credential types may call.
#[derive(Debug, Clone)]
pub struct AnyPartner(pub Caller);

/// An App+User (delegated) credential, throttled per partner tenant: App-only tokens get 403
/// 900150.
#[derive(Debug, Clone)]
pub struct Delegated(pub Caller);

/// A credential with the operator role `Qualify.Admin`: the operator API. Not throttled.
#[derive(Debug, Clone)]
pub struct Operator(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for AnyPartner
where
    PartnerThrottle: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let caller = authenticated(parts)?;
        PartnerThrottle::from_ref(state).0.check(caller.partner)?;
        Ok(Self(caller))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Delegated
where
    PartnerThrottle: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let AnyPartner(caller) = AnyPartner::from_request_parts(parts, state).await?;
        if !caller.is_delegated() {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                "This operation requires App+User (delegated) credentials; App-only tokens are not allowed.",
            ));
        }
        Ok(Self(caller))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let caller = authenticated(parts)?;
        if !caller.is_operator() {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                format!("The operator API requires the {ADMIN_ROLE} role."),
            ));
        }
        Ok(Self(caller))
    }
}

impl AuthClass for AnyPartner {
    const IDEMPOTENT_WRITES: bool = true;
    fn caller(self) -> Caller {
        self.0
    }
}

impl AuthClass for Delegated {
    const IDEMPOTENT_WRITES: bool = true;
    fn caller(self) -> Caller {
        self.0
    }
}

impl AuthClass for Operator {
    const IDEMPOTENT_WRITES: bool = false;
    fn caller(self) -> Caller {
        self.0
    }
}
