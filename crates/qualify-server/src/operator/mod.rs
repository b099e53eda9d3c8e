//! The operator API under `/admin/v1` (api.md 6): the review queue, decisions and their
//! history, any partner's customer, account validation statuses, GDAP grants and GCC
//! validation codes. Every operation takes the operator role (`Qualify.Admin`).

pub mod codes;
pub mod customers;
pub mod decisions;
pub mod gdap;
pub mod reviews;
pub mod service;

use axum::extract::FromRef;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::service::OperatorApi;
use crate::clock::Time;
use crate::http::responses::operator;

/// The operator API's operations.
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    OperatorApi: FromRef<S>,
    Time: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(operator(routes!(codes::issue_code, codes::list_codes)))
        .routes(operator(routes!(reviews::reviews)))
        .routes(operator(routes!(customers::get_customer)))
        .routes(operator(routes!(decisions::decide)))
        .routes(operator(routes!(decisions::history)))
        .routes(operator(routes!(customers::set_validation_status)))
        .routes(operator(routes!(gdap::set_gdap, gdap::get_gdap)))
}
