//! A write as its handler receives it: who asks (by its auth class), the store's write
//! context, and the parsed body.

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use qualify_store::{IdempotencyKey, WriteContext};
use serde::de::DeserializeOwned;

use crate::clock::Time;
use crate::http::auth::{AuthClass, Caller};
use crate::http::body::{JsonBody, fingerprint};
use crate::http::context::RequestIds;
use crate::http::error::ApiError;

/// A write request of auth class `A` with a JSON body `T`: extracts the caller (401, 403, 429
/// first), the request's ids, and the body (415, 413, 408, 400); the write context is stamped
/// with the wall time and, for a Partner Center write whose client chose the `MS-RequestId`,
/// carries the idempotency key (method, path and query, canonical body). A write to a path
/// with parameters is `WithBody<Path, Write<A, T>>` (`http::params`): the path after the body.
pub struct Write<A, T> {
    pub caller: Caller,
    pub ctx: WriteContext,
    pub body: T,
    _class: std::marker::PhantomData<A>,
}

impl<S, A, T> FromRequest<S> for Write<A, T>
where
    S: Send + Sync,
    A: AuthClass + FromRequestParts<S, Rejection = ApiError>,
    T: DeserializeOwned,
    Time: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let caller = A::from_request_parts(&mut parts, state).await?.caller();
        let ids = RequestIds::from_request_parts(&mut parts, state).await?;
        let target = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
        let method = parts.method.clone();
        let JsonBody { value, canonical } =
            JsonBody::<T>::from_request(Request::from_parts(parts, body), state).await?;
        let idempotency = (A::IDEMPOTENT_WRITES && ids.client_request_id).then(|| IdempotencyKey {
            partner: caller.partner,
            request_id: ids.request_id.clone(),
            fingerprint: fingerprint(method.as_str(), &target, &canonical),
        });
        let ctx = WriteContext {
            wall: Time::from_ref(state).wall(),
            actor: caller.actor(),
            request_id: ids.request_id,
            correlation_id: ids.correlation_id,
            idempotency,
        };
        Ok(Self {
            caller,
            ctx,
            body: value,
            _class: std::marker::PhantomData,
        })
    }
}
