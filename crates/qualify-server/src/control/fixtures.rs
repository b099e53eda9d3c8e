//! Reset, fixtures (seed, snapshot, restore) and the fixture document's schema (control.md
//! 1-2). A partner id that was never seen is valid everywhere (empty state).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use qualify_core::engine::Scope;

use super::fixture_doc::{FixtureDoc, schema};
use super::service::Control;
use super::wire::CountsOut;
use crate::http::auth::Operator;
use crate::http::body::ok;
use crate::http::error::ApiResult;
use crate::http::params::{PartnerPath, WithBody};
use crate::http::responses::Conflict;
use crate::http::strict::ControlBody;

/// Control bodies keep the API's 1 MiB limit; seed and restore documents may be this large.
pub const FIXTURE_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// `POST /admin/v1/reset`.
#[utoipa::path(
    post,
    path = "/admin/v1/reset",
    tag = "control",
    operation_id = "resetAll",
    summary = "Reset every partner to how the server started (empty, or what --seed loaded)",
    responses(
        (status = 200, description = "What was removed.", body = CountsOut,
            example = json!({"customers": 3, "qualifications": 4, "validationCodes": 1})),
    ),
)]
pub async fn reset_all(State(control): State<Control>, _: Operator) -> ApiResult<Response> {
    let removed = control.reset(Scope::All).await?;
    Ok(ok(CountsOut::from(removed)).into_response())
}

/// `POST /admin/v1/partners/{p}/reset`.
#[utoipa::path(
    post,
    path = "/admin/v1/partners/{partner_id}/reset",
    tag = "control",
    operation_id = "resetPartner",
    summary = "Reset one partner to how the server started; other partners are not touched",
    params(PartnerPath),
    responses(
        (status = 200, description = "What was removed.", body = CountsOut),
    ),
)]
pub async fn reset_partner(
    State(control): State<Control>,
    _: Operator,
    PartnerPath { partner_id }: PartnerPath,
) -> ApiResult<Response> {
    let removed = control.reset(Scope::Partner(partner_id)).await?;
    Ok(ok(CountsOut::from(removed)).into_response())
}

/// `POST /admin/v1/seed`.
#[utoipa::path(
    post,
    path = "/admin/v1/seed",
    tag = "control",
    operation_id = "seed",
    summary = "Apply a fixture document: an upsert by id, all or nothing",
    description = "The document of docs/fixtures.schema.json (GET /admin/v1/fixtures/schema), up \
        to 64 MiB. A customer in the document replaces that customer's stored state as a whole; \
        validation codes are upserted by validationId; the partner's scenario and clock are \
        replaced. Applying the same document twice changes nothing the second time. An id that \
        belongs to another partner is a 409 and nothing is applied.",
    request_body(content = Object, description = "A fixture document (control.md 2)."),
    responses(
        (status = 200, description = "What the document added or replaced.", body = CountsOut),
        (status = 409, response = Conflict),
    ),
)]
pub async fn seed(
    State(control): State<Control>,
    _: Operator,
    ControlBody(doc): ControlBody<FixtureDoc, FIXTURE_BODY_LIMIT>,
) -> ApiResult<Response> {
    let applied = control.seed(&doc).await?;
    Ok(ok(CountsOut::from(applied)).into_response())
}

/// `POST /admin/v1/restore`.
#[utoipa::path(
    post,
    path = "/admin/v1/restore",
    tag = "control",
    operation_id = "restoreAll",
    summary = "Replace all state with a fixture document, in one transaction (a reset, then a seed)",
    request_body(content = Object, description = "A fixture document (control.md 2), e.g. a snapshot."),
    responses(
        (status = 200, description = "What the document applied.", body = CountsOut),
        (status = 409, response = Conflict),
    ),
)]
pub async fn restore_all(
    State(control): State<Control>,
    _: Operator,
    ControlBody(doc): ControlBody<FixtureDoc, FIXTURE_BODY_LIMIT>,
) -> ApiResult<Response> {
    let applied = control.restore(Scope::All, &doc).await?;
    Ok(ok(CountsOut::from(applied)).into_response())
}

/// `POST /admin/v1/partners/{p}/restore`.
#[utoipa::path(
    post,
    path = "/admin/v1/partners/{partner_id}/restore",
    tag = "control",
    operation_id = "restorePartner",
    summary = "Replace one partner's state with a fixture document holding only that partner",
    params(PartnerPath),
    request_body(content = Object, description = "A fixture document (control.md 2) of that partner."),
    responses(
        (status = 200, description = "What the document applied.", body = CountsOut),
        (status = 409, response = Conflict),
    ),
)]
pub async fn restore_partner(
    State(control): State<Control>,
    _: Operator,
    WithBody(PartnerPath { partner_id }, ControlBody(doc)): WithBody<
        PartnerPath,
        ControlBody<FixtureDoc, FIXTURE_BODY_LIMIT>,
    >,
) -> ApiResult<Response> {
    let applied = control.restore(Scope::Partner(partner_id), &doc).await?;
    Ok(ok(CountsOut::from(applied)).into_response())
}

/// `GET /admin/v1/snapshot`.
#[utoipa::path(
    get,
    path = "/admin/v1/snapshot",
    tag = "control",
    operation_id = "snapshotAll",
    summary = "The fixture document of all state",
    responses(
        (status = 200, description = "A fixture document (control.md 2).", body = Object),
    ),
)]
pub async fn snapshot_all(State(control): State<Control>, _: Operator) -> ApiResult<Response> {
    Ok(ok(control.snapshot(Scope::All).await?).into_response())
}

/// `GET /admin/v1/partners/{p}/snapshot`.
#[utoipa::path(
    get,
    path = "/admin/v1/partners/{partner_id}/snapshot",
    tag = "control",
    operation_id = "snapshotPartner",
    summary = "The fixture document of one partner's state",
    params(PartnerPath),
    responses(
        (status = 200, description = "A fixture document (control.md 2).", body = Object),
    ),
)]
pub async fn snapshot_partner(
    State(control): State<Control>,
    _: Operator,
    PartnerPath { partner_id }: PartnerPath,
) -> ApiResult<Response> {
    Ok(ok(control.snapshot(Scope::Partner(partner_id)).await?).into_response())
}

/// `GET /admin/v1/fixtures/schema`.
#[utoipa::path(
    get,
    path = "/admin/v1/fixtures/schema",
    tag = "control",
    operation_id = "fixtureSchema",
    summary = "The JSON Schema of the fixture document",
    responses(
        (status = 200, description = "JSON Schema (draft 2020-12).", body = Object),
    ),
)]
pub async fn fixture_schema(_: Operator) -> Response {
    ok(schema()).into_response()
}
