//! Every operation of the API, registered once: each capability's operations (registered with
//! their auth class) and the health checks. `routes!` makes both the axum route and the OpenAPI
//! entry of an operation, so the router and the document cannot disagree.

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::meta;
use super::state::AppState;
use crate::http::responses::public;
use crate::{control, events, operator, partner, traffic};

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(public(routes!(meta::healthz)))
        .routes(public(routes!(meta::readyz)))
        .merge(partner::routes())
        .merge(operator::routes())
        .merge(control::routes())
        .merge(traffic::routes())
        .merge(events::routes())
}
