//! The router: one module per resource, the middleware every response goes through, and the
//! helpers handlers share (path ids, tenant isolation, write contexts).

pub mod admin;
pub mod checks;
pub mod control;
pub mod customers;
pub mod faults;
pub mod health;
pub mod journal;
pub mod path;
pub mod qualifications;
pub mod validations;
pub mod webhooks;

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use qualify_core::customer::Customer;
use qualify_core::qualification::{QualificationRecord, SettableQualification};
use qualify_core::{CustomerId, ErrorKind};
use qualify_store::{IdempotencyKey, WriteContext};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Caller;
use crate::body::{BODY_LIMIT, fingerprint};
use crate::context::{RequestIds, request_context};
use crate::error::{ApiError, ApiResult};
use crate::openapi::{self, ApiDoc};

/// Every operation, registered once: `routes!` adds each handler to the axum router and its
/// `#[utoipa::path]` to the OpenAPI document (`crate::openapi`), so the two cannot disagree.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(openapi::serve_document))
        .routes(routes!(customers::list, customers::create))
        .routes(routes!(validations::list_codes))
        .routes(routes!(customers::get))
        .routes(routes!(customers::company_profile))
        .routes(routes!(
            customers::billing_profile,
            customers::update_billing_profile
        ))
        .routes(routes!(qualifications::list, qualifications::create))
        .routes(routes!(
            qualifications::legacy_get,
            qualifications::legacy_put
        ))
        .routes(routes!(validations::account_status))
        .routes(routes!(admin::issue_code, admin::list_codes))
        .routes(routes!(admin::reviews))
        .routes(routes!(admin::get_customer))
        .routes(routes!(crate::events::stream))
        .routes(routes!(admin::decide))
        .routes(routes!(admin::history))
        .routes(routes!(admin::set_validation_status))
        .routes(routes!(admin::set_gdap, admin::get_gdap))
        // The test control plane (control.md 1-4).
        .routes(routes!(control::reset_all))
        .routes(routes!(control::reset_partner))
        .routes(routes!(control::snapshot_all))
        .routes(routes!(control::snapshot_partner))
        .routes(routes!(control::fixture_schema))
        .routes(routes!(control::seed))
        .routes(routes!(control::restore_all))
        .routes(routes!(control::restore_partner))
        .routes(routes!(
            control::set_vetting,
            control::get_vetting,
            control::delete_vetting
        ))
        .routes(routes!(
            control::get_global_clock,
            control::freeze_global_clock,
            control::delete_global_clock
        ))
        .routes(routes!(control::advance_global_clock))
        .routes(routes!(control::resume_global_clock))
        .routes(routes!(
            control::get_partner_clock,
            control::freeze_partner_clock,
            control::delete_partner_clock
        ))
        .routes(routes!(control::advance_partner_clock))
        .routes(routes!(control::resume_partner_clock))
        .routes(routes!(faults::add, faults::list, faults::clear))
        .routes(routes!(faults::remove))
        .routes(routes!(journal::list, journal::clear))
        .routes(routes!(journal::find))
        .routes(routes!(journal::count))
        .routes(routes!(checks::checks))
        // Webhooks (events.md 1-2).
        .routes(routes!(webhooks::events))
        .routes(routes!(
            webhooks::register,
            webhooks::update,
            webhooks::get,
            webhooks::delete
        ))
        .routes(routes!(webhooks::create_validation_event))
        .routes(routes!(webhooks::validation_event))
        .routes(routes!(webhooks::certificate))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::redeliver))
}

/// The one service every request goes through (`serve`, and any in-process test): the
/// router behind the path normalisation, which must run before routing ([`path`]).
pub type App = tower::util::MapRequest<Router, fn(Request) -> Request>;

/// The router behind [`path::normalize`]: what `serve` runs. Use this rather than [`router`].
pub fn app(state: AppState) -> App {
    tower::ServiceExt::map_request(router(state), path::normalize as fn(Request) -> Request)
}

/// The routes and their middleware, without the path normalisation in front ([`app`] adds it).
pub fn router(state: AppState) -> Router {
    let timeout = state.config.request_timeout;
    let (routes, _) = api_router().split_for_parts();
    routes
        .merge(crate::console::router(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // Inside the auth layer: faults and the journal know the caller.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::traffic::layer,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::authenticate,
        ))
        .layer(middleware::from_fn(move |req, next| {
            bounded(timeout, req, next)
        }))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            ApiError::of(ErrorKind::Internal).into_response()
        }))
        .layer(middleware::from_fn(request_context))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        "The requested route or resource was not found.",
    )
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!("The method {method} is not allowed on this resource."),
    )
}

/// Every wait is bounded: a request that takes longer than the timeout is answered with 503.
async fn bounded(timeout: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!(timeout = %humantime::format_duration(timeout), "request timed out");
            let mut e = ApiError::new(
                ErrorKind::Unavailable,
                "The request took too long; retry it with the same MS-RequestId.",
            );
            e.retry_after = Some(1);
            e.into_response()
        }
    }
}

/// The customer id of a path, as documented (the handlers parse it with [`customer_id`]).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CustomerPath {
    /// The customer's tenant id, a GUID (anything else is 400 with code 900118).
    #[param(format = Uuid)]
    pub customer_id: String,
}

/// The qualification of an operator path, as documented (parsed by [`settable_qualification`]).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct QualificationPath {
    /// Education, GovernmentCommunityCloud or StateOwnedEntity (case-insensitive).
    #[param(value_type = openapi::QualificationSchema)]
    pub qualification: String,
}

/// A customer id from a path: 400 900118 unless it is a GUID.
pub fn customer_id(raw: &str) -> ApiResult<CustomerId> {
    raw.parse().map_err(|_| {
        ApiError::new(
            ErrorKind::InvalidCustomerId,
            format!("The customer id {raw:?} is not a valid GUID."),
        )
    })
}

/// The customer, if it exists and belongs to the caller: 404 when it exists nowhere, 403 20002
/// when it belongs to another partner.
pub async fn owned_customer(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
) -> ApiResult<Customer> {
    let id = customer_id(raw_id)?;
    let customer = state
        .store
        .customer(id)
        .await?
        .ok_or_else(unknown_customer)?;
    check_relationship(caller, id, customer.partner_id)?;
    Ok(customer)
}

/// Like [`owned_customer`] when only the id is needed: one indexed lookup of the owner.
pub async fn owned_customer_id(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
) -> ApiResult<CustomerId> {
    let id = customer_id(raw_id)?;
    let owner = state
        .store
        .customer_partner(id)
        .await?
        .ok_or_else(unknown_customer)?;
    check_relationship(caller, id, owner)?;
    Ok(id)
}

/// The qualification requests of a customer the caller owns: owner and list in one read.
pub async fn owned_qualifications(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
) -> ApiResult<Vec<QualificationRecord>> {
    let id = customer_id(raw_id)?;
    let (owner, all) = state
        .store
        .owned_qualifications(id)
        .await?
        .ok_or_else(unknown_customer)?;
    check_relationship(caller, id, owner)?;
    Ok(all)
}

fn check_relationship(
    caller: &Caller,
    id: CustomerId,
    owner: qualify_core::PartnerId,
) -> ApiResult<()> {
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

/// Any existing customer (the operator API crosses partners).
pub async fn any_customer(state: &AppState, raw_id: &str) -> ApiResult<Customer> {
    let id = customer_id(raw_id)?;
    state.store.customer(id).await?.ok_or_else(unknown_customer)
}

fn unknown_customer() -> ApiError {
    ApiError::new(ErrorKind::NotFound, "The customer was not found.")
}

/// A qualification named in a path (PascalCase, case-insensitive).
pub fn settable_qualification(raw: &str) -> ApiResult<SettableQualification> {
    SettableQualification::parse(raw).ok_or_else(|| {
        ApiError::invalid(format!(
            "{raw:?} is not one of Education, GovernmentCommunityCloud, StateOwnedEntity."
        ))
    })
}

/// The request as idempotency sees it: method, path and query, canonical body.
pub struct WriteRequest<'a> {
    pub method: &'a Method,
    pub uri: &'a axum::http::Uri,
    pub canonical_body: &'a str,
}

/// The write context of a request (the store stamps it with the domain time of the partner
/// whose state it changes). An idempotency key applies when the client chose the
/// `MS-RequestId`.
pub fn write_context(
    state: &AppState,
    caller: &Caller,
    ids: &RequestIds,
    request: Option<WriteRequest<'_>>,
) -> WriteContext {
    let idempotency = request
        .filter(|_| ids.client_request_id)
        .map(|r| IdempotencyKey {
            partner: caller.partner,
            request_id: ids.request_id.clone(),
            fingerprint: fingerprint(
                r.method.as_str(),
                r.uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or(r.uri.path()),
                r.canonical_body,
            ),
        });
    WriteContext {
        wall: state.time.wall(),
        actor: caller.actor(),
        request_id: ids.request_id.clone(),
        correlation_id: ids.correlation_id.clone(),
        idempotency,
    }
}

/// Query parameters with case-insensitive names; a repeated name is refused.
pub fn query_map(uri: &axum::http::Uri) -> ApiResult<HashMap<String, String>> {
    let mut out = HashMap::new();
    let Some(q) = uri.query() else { return Ok(out) };
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        let key = k.to_ascii_lowercase();
        if out.insert(key.clone(), v.into_owned()).is_some() {
            return Err(ApiError::invalid(format!(
                "The query parameter {key:?} is given more than once."
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_names_are_case_insensitive_and_values_decoded() {
        let uri: axum::http::Uri = "/x?Code=12%2034&type=Account".parse().unwrap();
        let q = query_map(&uri).unwrap();
        assert_eq!(q["code"], "12 34");
        assert_eq!(q["type"], "Account");
        let dup: axum::http::Uri = "/x?code=1&CODE=2".parse().unwrap();
        assert!(query_map(&dup).is_err());
    }
}
