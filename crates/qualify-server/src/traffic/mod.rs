//! Traffic: what the test control plane sees and does to `/v1` requests (control.md 5-7) —
//! fault injection ([`faults`]), the request journal ([`journal`]), the client checks judged
//! from it ([`checks`]), and the [`layer`] every `/v1` request passes.

pub mod checks;
pub mod faults;
pub mod journal;
pub mod layer;
pub mod service;

use std::sync::Arc;

use axum::extract::FromRef;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::faults::service::Faults;
use self::journal::Journal;
use crate::clock::Time;
use crate::http::responses::operator;

/// The operations of faults, the journal and checks (operator role).
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Faults: FromRef<S>,
    Arc<Journal>: FromRef<S>,
    Time: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(operator(routes!(faults::add, faults::list, faults::clear)))
        .routes(operator(routes!(faults::remove)))
        .routes(operator(routes!(journal::list, journal::clear)))
        .routes(operator(routes!(journal::find)))
        .routes(operator(routes!(journal::count)))
        .routes(operator(routes!(checks::checks)))
}
