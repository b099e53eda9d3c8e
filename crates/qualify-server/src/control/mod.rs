//! The test control plane, state (control.md 1-4): reset, fixtures (seed, snapshot, restore),
//! per-partner vetting scenarios and the virtual clocks. Operator role only; documents are
//! strict (unknown keys refused, errors naming the JSON path). The operations are in
//! [`fixtures`], [`scenarios`] and [`clock`]; what they do is [`service::Control`]'s.

pub mod advance;
pub mod clock;
pub mod fixture_doc;
pub mod fixtures;
pub mod scenario_doc;
pub mod scenarios;
pub mod service;
pub mod wire;

use axum::extract::FromRef;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::service::Control;
use crate::http::responses::operator;
/// The control plane's durations and instants (control.md 0).
pub use crate::http::strict::{duration, instant};

/// The operations of the control plane's state.
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Control: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(operator(routes!(fixtures::reset_all)))
        .routes(operator(routes!(fixtures::reset_partner)))
        .routes(operator(routes!(fixtures::snapshot_all)))
        .routes(operator(routes!(fixtures::snapshot_partner)))
        .routes(operator(routes!(fixtures::fixture_schema)))
        .routes(operator(routes!(fixtures::seed)))
        .routes(operator(routes!(fixtures::restore_all)))
        .routes(operator(routes!(fixtures::restore_partner)))
        .routes(operator(routes!(
            scenarios::set_vetting,
            scenarios::get_vetting,
            scenarios::delete_vetting
        )))
        .routes(operator(routes!(
            clock::get_global_clock,
            clock::freeze_global_clock,
            clock::delete_global_clock
        )))
        .routes(operator(routes!(clock::advance_global_clock)))
        .routes(operator(routes!(clock::resume_global_clock)))
        .routes(operator(routes!(
            clock::get_partner_clock,
            clock::freeze_partner_clock,
            clock::delete_partner_clock
        )))
        .routes(operator(routes!(clock::advance_partner_clock)))
        .routes(operator(routes!(clock::resume_partner_clock)))
}
