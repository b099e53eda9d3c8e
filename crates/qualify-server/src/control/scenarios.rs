//! Per-partner vetting scenarios (control.md 3).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::scenario_doc::ScenarioDoc;
use super::service::Control;
use crate::http::auth::Operator;
use crate::http::body::ok;
use crate::http::error::ApiResult;
use crate::http::params::{PartnerPath, WithBody};
use crate::http::strict::ControlBody;

/// `PUT /admin/v1/partners/{p}/vetting`.
#[utoipa::path(
    put,
    path = "/admin/v1/partners/{partner_id}/vetting",
    tag = "control",
    operation_id = "setVettingScenario",
    summary = "Set a partner's vetting scenario",
    description = "Rules are tried in order; the first whose match holds chooses the outcome of \
        a request when it is recorded. Unknown keys are refused; a bad rule is a 400 naming it \
        (rules[2].after).",
    params(PartnerPath),
    request_body(content = ScenarioDoc, example = json!({"rules": [
        {"match": {"qualification": "Education", "website": "*.edu"}, "outcome": "Approved", "after": "2s"},
        {"match": {"qualification": "Education"}, "outcome": "Denied", "reason": "Not an Education Customer", "afterReads": 2},
        {"match": {}, "outcome": "Auto"}
    ]})),
    responses(
        (status = 200, description = "The stored scenario.", body = ScenarioDoc),
    ),
)]
pub async fn set_vetting(
    State(control): State<Control>,
    _: Operator,
    WithBody(PartnerPath { partner_id }, ControlBody(doc)): WithBody<
        PartnerPath,
        ControlBody<ScenarioDoc>,
    >,
) -> ApiResult<Response> {
    let (scenario, document) = doc.read("")?;
    control
        .set_scenario(partner_id, scenario, document.clone())
        .await?;
    tracing::info!(partner = %partner_id, rules = doc.rules.len(), "control: vetting scenario set");
    Ok(ok(document).into_response())
}

/// `GET /admin/v1/partners/{p}/vetting`.
#[utoipa::path(
    get,
    path = "/admin/v1/partners/{partner_id}/vetting",
    tag = "control",
    operation_id = "getVettingScenario",
    summary = "A partner's vetting scenario (`{\"rules\": []}` when none)",
    params(PartnerPath),
    responses(
        (status = 200, description = "The scenario.", body = ScenarioDoc),
    ),
)]
pub async fn get_vetting(
    State(control): State<Control>,
    _: Operator,
    PartnerPath { partner_id }: PartnerPath,
) -> ApiResult<Response> {
    let document = control
        .scenario(partner_id)
        .await?
        .unwrap_or_else(|| json!(ScenarioDoc::default()));
    Ok(ok(document).into_response())
}

/// `DELETE /admin/v1/partners/{p}/vetting`.
#[utoipa::path(
    delete,
    path = "/admin/v1/partners/{partner_id}/vetting",
    tag = "control",
    operation_id = "deleteVettingScenario",
    summary = "Remove a partner's scenario: back to the server's --vetting mode",
    params(PartnerPath),
    responses(
        (status = 204, description = "Removed (or there was none)."),
    ),
)]
pub async fn delete_vetting(
    State(control): State<Control>,
    _: Operator,
    PartnerPath { partner_id }: PartnerPath,
) -> ApiResult<Response> {
    control.delete_scenario(partner_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
