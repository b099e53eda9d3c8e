//! The virtual clocks (control.md 4): the global clock and a partner's, read, frozen,
//! resumed, removed, and advanced (which runs the work that falls due before it answers).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use qualify_core::clock::ClockChange;
use qualify_core::engine::Scope;

use super::advance::Advanced;
use super::service::Control;
use super::wire::{AdvanceIn, AdvancedOut, AppliedOut, ClockOut, FreezeIn};
use crate::http::auth::Operator;
use crate::http::body::ok;
use crate::http::error::ApiResult;
use crate::http::params::{PartnerPath, WithBody};
use crate::http::responses::Conflict;
use crate::http::strict::{ControlBody, duration, instant, invalid_at, write_instant};

fn advance_change(body: AdvanceIn) -> ApiResult<ClockChange> {
    match (body.by, body.to) {
        (Some(by), None) => Ok(ClockChange::AdvanceBy(duration("by", &by)?)),
        (None, Some(to)) => Ok(ClockChange::AdvanceTo(instant("to", &to)?)),
        (Some(_), Some(_)) => Err(invalid_at("to", "give by or to, not both.")),
        (None, None) => Err(invalid_at(
            "by",
            "by (a duration) or to (an instant) is required.",
        )),
    }
}

fn advanced(a: Advanced) -> Response {
    ok(AdvancedOut {
        now: write_instant(a.now),
        applied: a.applied.iter().map(AppliedOut::from).collect(),
    })
    .into_response()
}

async fn change(control: &Control, scope: Scope, change: ClockChange) -> ApiResult<ClockOut> {
    Ok(ClockOut::from(control.change_clock(scope, change).await?))
}

/// `GET /admin/v1/clock`.
#[utoipa::path(get, path = "/admin/v1/clock", tag = "control", operation_id = "getGlobalClock",
    summary = "The global clock",
    responses(
        (status = 200, description = "The global clock.", body = ClockOut,
            example = json!({"now": "2026-01-05T12:00:00Z", "mode": "frozen", "scope": "global"})),
    ))]
pub async fn get_global_clock(State(control): State<Control>, _: Operator) -> ApiResult<Response> {
    Ok(ok(ClockOut::from(control.clock(Scope::All).await?)).into_response())
}

/// `PUT /admin/v1/clock`.
#[utoipa::path(put, path = "/admin/v1/clock", tag = "control", operation_id = "freezeGlobalClock",
    summary = "Freeze the global clock at an instant (409 if it would go back)",
    request_body(content = FreezeIn, example = json!({"frozenAt": "2030-01-01T00:00:00Z"})),
    responses(
        (status = 200, description = "The global clock.", body = ClockOut),
        (status = 409, response = Conflict),
    ))]
pub async fn freeze_global_clock(
    State(control): State<Control>,
    _: Operator,
    ControlBody(body): ControlBody<FreezeIn>,
) -> ApiResult<Response> {
    let at = instant("frozenAt", &body.frozen_at)?;
    Ok(ok(change(&control, Scope::All, ClockChange::Freeze(at)).await?).into_response())
}

/// `DELETE /admin/v1/clock`.
#[utoipa::path(delete, path = "/admin/v1/clock", tag = "control", operation_id = "deleteGlobalClock",
    summary = "Remove the global clock: real time again (later events may carry earlier times)",
    responses(
        (status = 204, description = "Removed."),
    ))]
pub async fn delete_global_clock(
    State(control): State<Control>,
    _: Operator,
) -> ApiResult<Response> {
    change(&control, Scope::All, ClockChange::Remove).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /admin/v1/clock/advance`.
#[utoipa::path(post, path = "/admin/v1/clock/advance", tag = "control", operation_id = "advanceGlobalClock",
    summary = "Advance the global clock and run the work that falls due, synchronously",
    description = "Answers after every job of the partners that follow the global clock that is \
        due by the new time has run, each at its own virtual time; 503 after --advance-timeout \
        with what was applied so far in data.",
    request_body(content = AdvanceIn, example = json!({"by": "72h"})),
    responses(
        (status = 200, description = "The new time and each transition the advance caused.", body = AdvancedOut),
        (status = 409, response = Conflict),
    ))]
pub async fn advance_global_clock(
    State(control): State<Control>,
    _: Operator,
    ControlBody(body): ControlBody<AdvanceIn>,
) -> ApiResult<Response> {
    let change = advance_change(body)?;
    Ok(advanced(control.advance(Scope::All, change).await?))
}

/// `POST /admin/v1/clock/resume`.
#[utoipa::path(post, path = "/admin/v1/clock/resume", tag = "control", operation_id = "resumeGlobalClock",
    summary = "Let the global clock run on from its frozen instant (a fixed offset from real time)",
    responses(
        (status = 200, description = "The global clock.", body = ClockOut),
    ))]
pub async fn resume_global_clock(
    State(control): State<Control>,
    _: Operator,
) -> ApiResult<Response> {
    Ok(ok(change(&control, Scope::All, ClockChange::Resume).await?).into_response())
}

/// `GET /admin/v1/partners/{p}/clock`.
#[utoipa::path(get, path = "/admin/v1/partners/{partner_id}/clock", tag = "control", operation_id = "getPartnerClock",
    summary = "A partner's clock (scope global when it follows the global clock)",
    params(PartnerPath),
    responses(
        (status = 200, description = "The partner's clock.", body = ClockOut),
    ))]
pub async fn get_partner_clock(
    State(control): State<Control>,
    _: Operator,
    PartnerPath { partner_id }: PartnerPath,
) -> ApiResult<Response> {
    Ok(ok(ClockOut::from(
        control.clock(Scope::Partner(partner_id)).await?,
    ))
    .into_response())
}

/// `PUT /admin/v1/partners/{p}/clock`.
#[utoipa::path(put, path = "/admin/v1/partners/{partner_id}/clock", tag = "control", operation_id = "freezePartnerClock",
    summary = "Freeze a partner's clock at an instant (409 if it would go back)",
    params(PartnerPath),
    request_body(content = FreezeIn, example = json!({"frozenAt": "2030-01-01T00:00:00Z"})),
    responses(
        (status = 200, description = "The partner's clock.", body = ClockOut),
        (status = 409, response = Conflict),
    ))]
pub async fn freeze_partner_clock(
    State(control): State<Control>,
    _: Operator,
    WithBody(PartnerPath { partner_id }, ControlBody(body)): WithBody<
        PartnerPath,
        ControlBody<FreezeIn>,
    >,
) -> ApiResult<Response> {
    let scope = Scope::Partner(partner_id);
    let at = instant("frozenAt", &body.frozen_at)?;
    Ok(ok(change(&control, scope, ClockChange::Freeze(at)).await?).into_response())
}

/// `DELETE /admin/v1/partners/{p}/clock`.
#[utoipa::path(delete, path = "/admin/v1/partners/{partner_id}/clock", tag = "control", operation_id = "deletePartnerClock",
    summary = "Remove a partner's clock: it follows the global clock (or real time) again",
    params(PartnerPath),
    responses(
        (status = 204, description = "Removed."),
    ))]
pub async fn delete_partner_clock(
    State(control): State<Control>,
    _: Operator,
    PartnerPath { partner_id }: PartnerPath,
) -> ApiResult<Response> {
    change(&control, Scope::Partner(partner_id), ClockChange::Remove).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /admin/v1/partners/{p}/clock/advance`.
#[utoipa::path(post, path = "/admin/v1/partners/{partner_id}/clock/advance", tag = "control", operation_id = "advancePartnerClock",
    summary = "Advance a partner's clock and run its work that falls due, synchronously",
    description = "Answers after every job of the partner that is due by the new time has run \
        (wherever it was claimed), each at its own virtual time; a scope without a clock is \
        frozen at its current time first. 503 after --advance-timeout with what was applied so \
        far in data.",
    params(PartnerPath),
    request_body(content = AdvanceIn, example = json!({"by": "72h"})),
    responses(
        (status = 200, description = "The new time and each transition the advance caused.", body = AdvancedOut,
            example = json!({"now": "2026-01-08T12:00:00Z", "applied": [{"customerId": "2b3f6a7e-1f1e-4c55-9b0a-3c2d1e0f9a8b", "qualification": "Education", "from": "InReview", "to": "Approved", "at": "2026-01-05T12:00:02Z"}]})),
        (status = 409, response = Conflict),
    ))]
pub async fn advance_partner_clock(
    State(control): State<Control>,
    _: Operator,
    WithBody(PartnerPath { partner_id }, ControlBody(body)): WithBody<
        PartnerPath,
        ControlBody<AdvanceIn>,
    >,
) -> ApiResult<Response> {
    let scope = Scope::Partner(partner_id);
    let change = advance_change(body)?;
    Ok(advanced(control.advance(scope, change).await?))
}

/// `POST /admin/v1/partners/{p}/clock/resume`.
#[utoipa::path(post, path = "/admin/v1/partners/{partner_id}/clock/resume", tag = "control", operation_id = "resumePartnerClock",
    summary = "Let a partner's clock run on from its frozen instant",
    params(PartnerPath),
    responses(
        (status = 200, description = "The partner's clock.", body = ClockOut),
    ))]
pub async fn resume_partner_clock(
    State(control): State<Control>,
    _: Operator,
    PartnerPath { partner_id }: PartnerPath,
) -> ApiResult<Response> {
    let scope = Scope::Partner(partner_id);
    Ok(ok(change(&control, scope, ClockChange::Resume).await?).into_response())
}
