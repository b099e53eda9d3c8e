//! The test control plane, state (control.md 1-4): reset, fixtures (seed, snapshot, restore),
//! per-partner vetting scenarios and the virtual clock. Operator role only; a partner id that
//! was never seen is valid everywhere (empty state).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use qualify_core::ErrorKind;
use qualify_core::clock::{ClockChange, ClockSetting};
use qualify_core::engine::{Counts, Scope};
use qualify_core::fixture::Fixture;
use qualify_store::{FixtureMode, SeedRecord};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::admin::{PartnerPath, partner_id};
use crate::AppState;
use crate::auth::Operator;
use crate::body::ok;
use crate::control::advance::{advance, applied_json, scope_name};
use crate::control::fixture_doc::{FixtureDoc, schema};
use crate::control::scenario_doc::ScenarioDoc;
use crate::control::{
    ControlBody, FIXTURE_BODY_LIMIT, duration, instant, invalid_at, parse_strict, write_instant,
};
use crate::error::{ApiError, ApiResult};
use crate::openapi::{
    BadRequest, Conflict, Forbidden, PayloadTooLarge, RequestTimeout, ServiceUnavailable,
    Unauthorized, UnsupportedMediaType,
};

/// What a reset removed, or what a seed or restore applied.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ControlCounts)]
pub struct CountsOut {
    pub customers: u64,
    pub qualifications: u64,
    pub validation_codes: u64,
}

impl From<Counts> for CountsOut {
    fn from(c: Counts) -> Self {
        Self {
            customers: c.customers,
            qualifications: c.qualifications,
            validation_codes: c.validation_codes,
        }
    }
}

fn partner_scope(raw: &str) -> ApiResult<Scope> {
    Ok(Scope::Partner(partner_id(raw)?))
}

// ---- reset and fixtures --------------------------------------------------------------------

/// The part of the `--seed` document applied last that belongs to `scope`: what a reset goes
/// back to.
async fn seed_of(state: &AppState, scope: Scope) -> ApiResult<Fixture> {
    let Some(text) = state.store.current_seed().await? else {
        return Ok(Fixture::default());
    };
    let mut fixture = parse_strict::<FixtureDoc>(text.as_bytes())
        .and_then(|d| d.to_fixture())
        .map_err(|e| {
            tracing::error!(error = %e.error.description, "the stored --seed document does not parse");
            ApiError::of(ErrorKind::Internal)
        })?;
    if let Scope::Partner(p) = scope {
        fixture.partners.retain(|x| x.id == p);
    }
    Ok(fixture)
}

/// Resets a scope to how the server started (empty, or what `--seed` loaded), atomically.
pub async fn reset_scope(state: &AppState, scope: Scope) -> ApiResult<Counts> {
    let seed = seed_of(state, scope).await?;
    let outcome = state
        .store
        .apply_fixture(
            FixtureMode::Restore(scope),
            &seed,
            state.time.wall(),
            &state.config.policy,
        )
        .await?;
    // Faults and journal entries are the scope's too (control.md 1); they live outside the
    // fixture's transaction, and are cleared once it has committed.
    crate::traffic::clear(state, scope.partner()).await?;
    if let (Scope::All, Some(at)) = (scope, state.config.start_clock) {
        state
            .store
            .change_clock(Scope::All, state.time.wall(), ClockChange::Freeze(at))
            .await?;
    }
    state.wake_worker();
    tracing::info!(scope = %scope_name(scope), customers = outcome.removed.customers,
        qualifications = outcome.removed.qualifications, validation_codes = outcome.removed.validation_codes,
        "control: reset");
    Ok(outcome.removed)
}

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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn reset_all(State(state): State<AppState>, _: Operator) -> ApiResult<Response> {
    let removed = reset_scope(&state, Scope::All).await?;
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn reset_partner(
    State(state): State<AppState>,
    _: Operator,
    Path(partner): Path<String>,
) -> ApiResult<Response> {
    let removed = reset_scope(&state, partner_scope(&partner)?).await?;
    Ok(ok(CountsOut::from(removed)).into_response())
}

/// Applies a seed document given as bytes (`serve --seed FILE`): at most once per document (by
/// its SHA-256), remembered so that a reset applies it again. Returns what it applied, or
/// `None` when the database had applied this document already.
pub async fn seed_at_start(state: &AppState, bytes: &[u8]) -> Result<Option<Counts>, String> {
    use sha2::Digest;
    let doc = parse_strict::<FixtureDoc>(bytes).map_err(|e| e.error.description)?;
    let fixture = doc.to_fixture().map_err(|e| e.error.description)?;
    let sha256: String = sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if state
        .store
        .seed_applied(&sha256)
        .await
        .map_err(|e| e.to_string())?
    {
        return Ok(None);
    }
    let document = String::from_utf8_lossy(bytes).into_owned();
    let outcome = state
        .store
        .apply_fixture(
            FixtureMode::Seed {
                record: Some(SeedRecord { sha256, document }),
            },
            &fixture,
            state.time.wall(),
            &state.config.policy,
        )
        .await
        .map_err(|e| match e {
            qualify_store::StoreError::Domain(d) => d.description,
            other => other.to_string(),
        })?;
    state.wake_worker();
    Ok(Some(outcome.applied))
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 408, response = RequestTimeout),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn seed(
    State(state): State<AppState>,
    _: Operator,
    ControlBody(doc): ControlBody<FixtureDoc, FIXTURE_BODY_LIMIT>,
) -> ApiResult<Response> {
    let fixture = doc.to_fixture()?;
    let outcome = state
        .store
        .apply_fixture(
            FixtureMode::Seed { record: None },
            &fixture,
            state.time.wall(),
            &state.config.policy,
        )
        .await?;
    state.wake_worker();
    tracing::info!(
        partners = fixture.partners.len(),
        customers = outcome.applied.customers,
        "control: seed"
    );
    Ok(ok(CountsOut::from(outcome.applied)).into_response())
}

async fn restore(state: &AppState, scope: Scope, doc: FixtureDoc) -> ApiResult<Response> {
    let fixture = doc.to_fixture()?;
    let outcome = state
        .store
        .apply_fixture(
            FixtureMode::Restore(scope),
            &fixture,
            state.time.wall(),
            &state.config.policy,
        )
        .await?;
    crate::traffic::clear(state, scope.partner()).await?;
    state.wake_worker();
    tracing::info!(scope = %scope_name(scope), customers = outcome.applied.customers, "control: restore");
    Ok(ok(CountsOut::from(outcome.applied)).into_response())
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 408, response = RequestTimeout),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn restore_all(
    State(state): State<AppState>,
    _: Operator,
    ControlBody(doc): ControlBody<FixtureDoc, FIXTURE_BODY_LIMIT>,
) -> ApiResult<Response> {
    restore(&state, Scope::All, doc).await
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 408, response = RequestTimeout),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn restore_partner(
    State(state): State<AppState>,
    _: Operator,
    Path(partner): Path<String>,
    ControlBody(doc): ControlBody<FixtureDoc, FIXTURE_BODY_LIMIT>,
) -> ApiResult<Response> {
    restore(&state, partner_scope(&partner)?, doc).await
}

async fn snapshot(state: &AppState, scope: Scope) -> ApiResult<Response> {
    let fixture = state.store.snapshot(scope).await?;
    Ok(ok(FixtureDoc::from_fixture(&fixture)).into_response())
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn snapshot_all(State(state): State<AppState>, _: Operator) -> ApiResult<Response> {
    snapshot(&state, Scope::All).await
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn snapshot_partner(
    State(state): State<AppState>,
    _: Operator,
    Path(partner): Path<String>,
) -> ApiResult<Response> {
    snapshot(&state, partner_scope(&partner)?).await
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn fixture_schema(_: Operator) -> Response {
    ok(schema()).into_response()
}

// ---- scenarios -----------------------------------------------------------------------------

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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn set_vetting(
    State(state): State<AppState>,
    _: Operator,
    Path(partner): Path<String>,
    ControlBody(doc): ControlBody<ScenarioDoc>,
) -> ApiResult<Response> {
    let partner = partner_id(&partner)?;
    let (scenario, document) = doc.read("")?;
    state
        .store
        .set_scenario(partner, Some((scenario, document.clone())))
        .await?;
    tracing::info!(%partner, rules = doc.rules.len(), "control: vetting scenario set");
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn get_vetting(
    State(state): State<AppState>,
    _: Operator,
    Path(partner): Path<String>,
) -> ApiResult<Response> {
    let partner = partner_id(&partner)?;
    let document = state
        .store
        .scenario(partner)
        .await?
        .unwrap_or_else(|| json!({"rules": []}));
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub async fn delete_vetting(
    State(state): State<AppState>,
    _: Operator,
    Path(partner): Path<String>,
) -> ApiResult<Response> {
    let partner = partner_id(&partner)?;
    state.store.set_scenario(partner, None).await?;
    tracing::info!(%partner, "control: vetting scenario removed");
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- the clock -----------------------------------------------------------------------------

/// A scope's time.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ClockState)]
pub struct ClockOut {
    /// The scope's current time (RFC 3339 UTC).
    pub now: String,
    /// `system` (real time), `frozen` or `running` (a fixed offset from real time).
    #[schema(pattern = "^(system|frozen|running)$")]
    pub mode: &'static str,
    /// `partner` when the partner has a clock of its own, else `global`.
    #[schema(pattern = "^(global|partner)$")]
    pub scope: &'static str,
}

/// `PUT .../clock`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = FreezeClock)]
pub struct FreezeIn {
    /// RFC 3339.
    pub frozen_at: String,
}

/// `POST .../clock/advance`: `by` or `to`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = AdvanceClock)]
pub struct AdvanceIn {
    /// A duration (`72h`, `PT72H`).
    #[serde(default)]
    pub by: Option<String>,
    /// An instant (RFC 3339).
    #[serde(default)]
    pub to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ClockAdvanced)]
pub struct AdvancedOut {
    pub now: String,
    /// Each transition the advance caused, in order: `{customerId, qualification, from, to,
    /// reason, at}`.
    #[schema(value_type = Vec<Object>)]
    pub applied: Vec<serde_json::Value>,
}

async fn clock_view(state: &AppState, scope: Scope) -> ApiResult<ClockOut> {
    let wall = state.time.wall();
    let own = state.store.clock(scope).await?;
    let (setting, scope_label) = match (scope, own) {
        (Scope::Partner(_), Some(own)) => (Some(own), "partner"),
        (Scope::Partner(_), None) => (state.store.clock(Scope::All).await?, "global"),
        (Scope::All, own) => (own, "global"),
    };
    Ok(ClockOut {
        now: write_instant(setting.map_or(wall, |s| s.now(wall))),
        mode: setting.map_or("system", |s: ClockSetting| s.mode()),
        scope: scope_label,
    })
}

async fn change(state: &AppState, scope: Scope, change: ClockChange) -> ApiResult<ClockOut> {
    state
        .store
        .change_clock(scope, state.time.wall(), change)
        .await?;
    state.wake_worker();
    tracing::info!(scope = %scope_name(scope), change = ?change, "control: clock changed");
    clock_view(state, scope).await
}

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

fn advanced(a: crate::control::advance::Advanced) -> Response {
    ok(AdvancedOut {
        now: write_instant(a.now),
        applied: a.applied.iter().map(applied_json).collect(),
    })
    .into_response()
}

/// `GET /admin/v1/clock`.
#[utoipa::path(get, path = "/admin/v1/clock", tag = "control", operation_id = "getGlobalClock",
    summary = "The global clock",
    responses(
        (status = 200, description = "The global clock.", body = ClockOut,
            example = json!({"now": "2026-01-05T12:00:00Z", "mode": "frozen", "scope": "global"})),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ))]
pub async fn get_global_clock(State(state): State<AppState>, _: Operator) -> ApiResult<Response> {
    Ok(ok(clock_view(&state, Scope::All).await?).into_response())
}

/// `PUT /admin/v1/clock`.
#[utoipa::path(put, path = "/admin/v1/clock", tag = "control", operation_id = "freezeGlobalClock",
    summary = "Freeze the global clock at an instant (409 if it would go back)",
    request_body(content = FreezeIn, example = json!({"frozenAt": "2030-01-01T00:00:00Z"})),
    responses(
        (status = 200, description = "The global clock.", body = ClockOut),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 409, response = Conflict),
        (status = 408, response = RequestTimeout), (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType), (status = 503, response = ServiceUnavailable),
    ))]
pub async fn freeze_global_clock(
    State(state): State<AppState>,
    _: Operator,
    ControlBody(body): ControlBody<FreezeIn>,
) -> ApiResult<Response> {
    let at = instant("frozenAt", &body.frozen_at)?;
    Ok(ok(change(&state, Scope::All, ClockChange::Freeze(at)).await?).into_response())
}

/// `DELETE /admin/v1/clock`.
#[utoipa::path(delete, path = "/admin/v1/clock", tag = "control", operation_id = "deleteGlobalClock",
    summary = "Remove the global clock: real time again (later events may carry earlier times)",
    responses(
        (status = 204, description = "Removed."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ))]
pub async fn delete_global_clock(
    State(state): State<AppState>,
    _: Operator,
) -> ApiResult<Response> {
    change(&state, Scope::All, ClockChange::Remove).await?;
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
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 409, response = Conflict),
        (status = 408, response = RequestTimeout), (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType), (status = 503, response = ServiceUnavailable),
    ))]
pub async fn advance_global_clock(
    State(state): State<AppState>,
    _: Operator,
    ControlBody(body): ControlBody<AdvanceIn>,
) -> ApiResult<Response> {
    let change = advance_change(body)?;
    Ok(advanced(advance(&state, Scope::All, change).await?))
}

/// `POST /admin/v1/clock/resume`.
#[utoipa::path(post, path = "/admin/v1/clock/resume", tag = "control", operation_id = "resumeGlobalClock",
    summary = "Let the global clock run on from its frozen instant (a fixed offset from real time)",
    responses(
        (status = 200, description = "The global clock.", body = ClockOut),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 503, response = ServiceUnavailable),
    ))]
pub async fn resume_global_clock(
    State(state): State<AppState>,
    _: Operator,
) -> ApiResult<Response> {
    Ok(ok(change(&state, Scope::All, ClockChange::Resume).await?).into_response())
}

/// `GET /admin/v1/partners/{p}/clock`.
#[utoipa::path(get, path = "/admin/v1/partners/{partner_id}/clock", tag = "control", operation_id = "getPartnerClock",
    summary = "A partner's clock (scope global when it follows the global clock)",
    params(PartnerPath),
    responses(
        (status = 200, description = "The partner's clock.", body = ClockOut),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 503, response = ServiceUnavailable),
    ))]
pub async fn get_partner_clock(
    State(state): State<AppState>,
    _: Operator,
    Path(partner): Path<String>,
) -> ApiResult<Response> {
    Ok(ok(clock_view(&state, partner_scope(&partner)?).await?).into_response())
}

/// `PUT /admin/v1/partners/{p}/clock`.
#[utoipa::path(put, path = "/admin/v1/partners/{partner_id}/clock", tag = "control", operation_id = "freezePartnerClock",
    summary = "Freeze a partner's clock at an instant (409 if it would go back)",
    params(PartnerPath),
    request_body(content = FreezeIn, example = json!({"frozenAt": "2030-01-01T00:00:00Z"})),
    responses(
        (status = 200, description = "The partner's clock.", body = ClockOut),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 409, response = Conflict),
        (status = 408, response = RequestTimeout), (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType), (status = 503, response = ServiceUnavailable),
    ))]
pub async fn freeze_partner_clock(
    State(state): State<AppState>,
    _: Operator,
    Path(partner): Path<String>,
    ControlBody(body): ControlBody<FreezeIn>,
) -> ApiResult<Response> {
    let scope = partner_scope(&partner)?;
    let at = instant("frozenAt", &body.frozen_at)?;
    Ok(ok(change(&state, scope, ClockChange::Freeze(at)).await?).into_response())
}

/// `DELETE /admin/v1/partners/{p}/clock`.
#[utoipa::path(delete, path = "/admin/v1/partners/{partner_id}/clock", tag = "control", operation_id = "deletePartnerClock",
    summary = "Remove a partner's clock: it follows the global clock (or real time) again",
    params(PartnerPath),
    responses(
        (status = 204, description = "Removed."),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 503, response = ServiceUnavailable),
    ))]
pub async fn delete_partner_clock(
    State(state): State<AppState>,
    _: Operator,
    Path(partner): Path<String>,
) -> ApiResult<Response> {
    change(&state, partner_scope(&partner)?, ClockChange::Remove).await?;
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
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 409, response = Conflict),
        (status = 408, response = RequestTimeout), (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType), (status = 503, response = ServiceUnavailable),
    ))]
pub async fn advance_partner_clock(
    State(state): State<AppState>,
    _: Operator,
    Path(partner): Path<String>,
    ControlBody(body): ControlBody<AdvanceIn>,
) -> ApiResult<Response> {
    let scope = partner_scope(&partner)?;
    let change = advance_change(body)?;
    Ok(advanced(advance(&state, scope, change).await?))
}

/// `POST /admin/v1/partners/{p}/clock/resume`.
#[utoipa::path(post, path = "/admin/v1/partners/{partner_id}/clock/resume", tag = "control", operation_id = "resumePartnerClock",
    summary = "Let a partner's clock run on from its frozen instant",
    params(PartnerPath),
    responses(
        (status = 200, description = "The partner's clock.", body = ClockOut),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 503, response = ServiceUnavailable),
    ))]
pub async fn resume_partner_clock(
    State(state): State<AppState>,
    _: Operator,
    Path(partner): Path<String>,
) -> ApiResult<Response> {
    let scope = partner_scope(&partner)?;
    Ok(ok(change(&state, scope, ClockChange::Resume).await?).into_response())
}
