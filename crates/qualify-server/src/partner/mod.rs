//! The partner API: Partner Center's `/v1` customer-qualification surface (api.md 4) —
//! customers and their profiles, qualification requests (and the vetting job that decides
//! them), validation codes and account validation statuses. Every operation takes a partner
//! token, throttled per partner, and sees only the partner's own customers.

pub mod customers;
pub mod qualifications;
pub mod service;
pub mod validations;
pub mod vetting;

use axum::extract::FromRef;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::service::PartnerApi;
use crate::clock::Time;
use crate::http::auth::PartnerThrottle;
use crate::http::responses::partner;

/// The partner API's operations.
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    PartnerApi: FromRef<S>,
    PartnerThrottle: FromRef<S>,
    Time: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(partner(routes!(customers::list, customers::create)))
        .routes(partner(routes!(validations::list_codes)))
        .routes(partner(routes!(customers::get)))
        .routes(partner(routes!(customers::company_profile)))
        .routes(partner(routes!(
            customers::billing_profile,
            customers::update_billing_profile
        )))
        .routes(partner(routes!(
            qualifications::list,
            qualifications::create
        )))
        .routes(partner(routes!(
            qualifications::legacy_get,
            qualifications::legacy_put
        )))
        .routes(partner(routes!(validations::account_status)))
}
