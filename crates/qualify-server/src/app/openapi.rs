//! The OpenAPI 3.1 document of the HTTP API.
//!
//! It comes from the route registration: `operations::api_router` registers every handler with
//! `utoipa_axum::routes!`, so the router and the document cannot disagree on which operations
//! exist, and each handler carries its own `#[utoipa::path]` (parameters, body, responses; its
//! auth class adds the standard error responses, `http::responses`). This module holds the
//! document's base (info, tags, the bearer scheme, the shared components) and one pass that
//! adds the cross-cutting parts to every operation — the bearer requirement, the Partner Center
//! request headers and the id headers echoed on every response.
//!
//! Served at `GET /openapi.json` and committed as `docs/openapi.json`; a test fails when the two
//! differ (`QUALIFY_UPDATE_OPENAPI=1 cargo test -p qualify-server openapi` rewrites the file).

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    KnownFormat, ObjectBuilder, OpenApi, RefOr, Required, Schema, SchemaFormat, Type,
};
use utoipa::{Modify, OpenApi as _};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::operations::api_router;
use super::state::AppState;
use crate::http::error::JSON_CONTENT_TYPE;
use crate::http::responses::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, PreconditionFailed,
    PreconditionRequired, RequestTimeout, ServiceUnavailable, TooManyRequests, Unauthorized,
    UnsupportedMediaType, add_id_headers, operations, public, string_schema,
};

/// The name of the bearer security scheme.
pub const BEARER: &str = "bearer";

/// The base of the document: info, tags and the shared components. The operations come from
/// `operations::api_router`.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "qualify",
        description = "A self-hostable, Partner Center-compatible customer-qualification service: \
            the Partner Center `/v1` customer-qualification surface and qualify's own operator API \
            under `/admin/v1`.\n\n\
            Request property names and enum values are matched case-insensitively (the names shown \
            here are the ones Partner Center clients send); unknown properties are ignored. \
            Responses use camelCase names and omit null properties. Every error, whatever its \
            status, has the `ErrorBody` shape; the codes are listed in docs/errors.md. \
            `MS-RequestId` is the idempotency key of POST and PUT under `/v1`.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    tags(
        (name = "customers", description = "Customers of the calling partner and their profiles."),
        (name = "qualifications", description = "Customer qualifications (Education, GovernmentCommunityCloud, StateOwnedEntity); vetting happens asynchronously."),
        (name = "validations", description = "The partner's GCC validation codes and a customer's account validation status."),
        (name = "operator", description = "qualify's operator API: needs a token with the Qualify.Admin role."),
        (name = "control", description = "The test control plane (control.md): reset, fixtures, vetting scenarios, the virtual clock, fault injection, the request journal, client checks. Operator role; bodies reject unknown keys and errors name the JSON path of the offending field."),
        (name = "webhooks", description = "Partner Center's webhook registration API (events.md): register a URL for qualification events, send a test event, fetch the signing certificate. Any partner token."),
        (name = "meta", description = "Health, readiness and this document; no token needed."),
    ),
    components(
        schemas(crate::http::error::ErrorBody),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            PreconditionFailed,
            RequestTimeout,
            PayloadTooLarge,
            UnsupportedMediaType,
            PreconditionRequired,
            TooManyRequests,
            ServiceUnavailable,
        ),
    ),
    modifiers(&BearerScheme),
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An Entra ID-shaped access token: `tid` is the partner tenant, `aud` the \
                         configured audience. App+User tokens carry `scp` and a user (`upn` or \
                         `unique_name`); others are App-only. `/admin/v1` needs the app role \
                         `Qualify.Admin`. In dev mode `qualify token --tenant <guid> [--admin]` \
                         mints one.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every operation, this document's own included.
pub fn operations_and_document() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(public(routes!(serve_document)))
        .merge(api_router())
}

/// The whole document: the base, every registered operation, and the cross-cutting parts.
pub fn document() -> OpenApi {
    let (_, operations) = operations_and_document().split_for_parts();
    finish(ApiDoc::openapi().merge_from(operations))
}

/// The document as served and committed: pretty JSON with a trailing newline.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut s = document()
            .to_pretty_json()
            .expect("the OpenAPI document serialises");
        s.push('\n');
        s
    })
}

/// `GET /openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    operation_id = "openapi",
    summary = "The OpenAPI 3.1 document of this API",
    responses(
        (status = 200, description = "The document.", body = Object),
    ),
)]
pub async fn serve_document() -> Response {
    ([(header::CONTENT_TYPE, JSON_CONTENT_TYPE)], json()).into_response()
}

/// Headers a Partner Center client may send on any `/v1` call (api.md 1).
const PARTNER_CENTER_HEADERS: &[(&str, &str)] = &[
    (
        "MS-RequestId",
        "A GUID chosen per logical call; the idempotency key of POST and PUT (a retry reuses it). Generated when absent.",
    ),
    (
        "MS-CorrelationId",
        "A GUID tracing a chain of calls; generated when absent.",
    ),
    (
        "MS-Contract-Version",
        "Accepted, never required (the official SDK does not send it).",
    ),
    (
        "X-Locale",
        "For example `en-US`; accepted, default `en-US`.",
    ),
    ("MS-PartnerCenter-Application", "Informational; logged."),
    ("MS-PartnerCenter-Client", "Informational; logged."),
    ("MS-SdkVersion", "Informational; logged."),
];

/// The id headers are GUIDs. The server accepts any 1..=128 visible ASCII characters and
/// answers 400 to anything else.
fn id_header_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        .build()
        .into()
}

/// The request headers of an operation under `path`.
fn request_headers(path: &str) -> Vec<RefOr<utoipa::openapi::path::Parameter>> {
    let names: &[(&str, &str)] = if path.starts_with("/v1/") || path == "/v1" {
        PARTNER_CENTER_HEADERS
    } else {
        &PARTNER_CENTER_HEADERS[..2]
    };
    names
        .iter()
        .map(|(name, description)| {
            let schema = if name.ends_with("Id") {
                id_header_schema()
            } else {
                string_schema()
            };
            RefOr::T(
                ParameterBuilder::new()
                    .name(*name)
                    .parameter_in(ParameterIn::Header)
                    .required(Required::False)
                    .description(Some(*description))
                    .schema(Some(schema))
                    .build(),
            )
        })
        .collect()
}

/// Whether a path needs a bearer token: `/v1`, `/admin/v1` and the webhook registration.
fn authenticated(path: &str) -> bool {
    path.starts_with("/v1/")
        || path.starts_with("/admin/v1/")
        || path.starts_with("/webhooks/v1/registration")
}

/// Whether a path is throttled per partner: the Partner Center routes.
#[cfg(test)]
fn throttled(path: &str) -> bool {
    path.starts_with("/v1/") || path.starts_with("/webhooks/v1/registration")
}

/// The cross-cutting parts: operations under `/v1` and `/admin/v1` need the bearer token and
/// accept the Partner Center headers; every response echoes the id headers.
fn finish(mut api: OpenApi) -> OpenApi {
    for (path, item) in api.paths.paths.iter_mut() {
        let authenticated = authenticated(path);
        for op in operations(item) {
            if authenticated {
                op.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
                let mut params = request_headers(path);
                params.extend(op.parameters.take().unwrap_or_default());
                op.parameters = Some(params);
            }
            for response in op.responses.responses.values_mut() {
                if let RefOr::T(response) = response {
                    add_id_headers(response);
                }
            }
        }
    }
    api
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use qualify_core::ErrorKind;
    use serde_json::json;

    use super::*;

    const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

    /// `docs/openapi.json` is the generated document. Any contract change shows in review.
    #[test]
    fn openapi_committed_document_is_current() {
        let generated = json();
        if std::env::var_os("QUALIFY_UPDATE_OPENAPI").is_some() {
            std::fs::write(COMMITTED, generated).expect("writing docs/openapi.json");
            return;
        }
        let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
        if committed != generated {
            let line = committed
                .lines()
                .zip(generated.lines())
                .position(|(a, b)| a != b)
                .map_or(
                    committed.lines().count().min(generated.lines().count()),
                    |n| n,
                )
                + 1;
            panic!(
                "docs/openapi.json differs from the document the routes generate (first \
                 difference at line {line}). Review the contract change, then regenerate it with\n\
                 \n    QUALIFY_UPDATE_OPENAPI=1 cargo test -p qualify-server openapi\n"
            );
        }
    }

    #[test]
    fn openapi_is_version_3_1_and_every_operation_is_complete() {
        let api: serde_json::Value = serde_json::from_str(json()).unwrap();
        assert_eq!(api["openapi"], "3.1.0");
        let mut operation_ids = BTreeSet::new();
        let paths = api["paths"].as_object().unwrap();
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                let what = format!("{method} {path}");
                let id = op["operationId"].as_str().expect(&what);
                assert!(
                    operation_ids.insert(id.to_owned()),
                    "{what}: duplicate {id}"
                );
                assert!(
                    op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                    "{what}"
                );
                let responses = op["responses"].as_object().unwrap();
                assert!(
                    responses.keys().any(|s| s.starts_with('2')),
                    "{what}: no success response"
                );
                let refs = |status: &str| responses.get(status).map(|r| r["$ref"].clone());
                if authenticated(path) {
                    assert_eq!(op["security"], json!([{BEARER: []}]), "{what}");
                    assert_eq!(
                        refs("401"),
                        Some(json!("#/components/responses/Unauthorized")),
                        "{what}"
                    );
                    assert!(responses.contains_key("400"), "{what}: no 400");
                } else {
                    assert!(op.get("security").is_none(), "{what}");
                }
                // Partner Center routes are throttled; the operator API is not.
                assert_eq!(throttled(path), responses.contains_key("429"), "{what}");
                // Any request may meet the in-flight limit or the request timeout.
                assert!(responses.contains_key("503"), "{what}: no 503");
                // A body is required where there is one (a reset or a resume takes none) and
                // may be slow, large or not JSON.
                if op.get("requestBody").is_some() {
                    assert!(op["requestBody"]["required"] == json!(true), "{what}");
                    for status in ["408", "413", "415"] {
                        assert!(responses.contains_key(status), "{what}: no {status}");
                    }
                }
                // Every error response is the shared one with the error body.
                for (status, response) in responses {
                    if !status.starts_with('2') {
                        assert!(
                            response["$ref"]
                                .as_str()
                                .is_some_and(|r| r.starts_with("#/components/responses/")),
                            "{what} {status}: not a shared error response"
                        );
                    }
                }
            }
        }
        let retry_after =
            &api["components"]["responses"]["TooManyRequests"]["headers"]["Retry-After"];
        assert_eq!(retry_after["required"], true);
    }

    /// Each shared error response documents exactly the catalogue entries of its status, and
    /// every status in the catalogue (but 405 and the 500 of a bug) has a shared response.
    #[test]
    fn openapi_error_responses_follow_the_catalogue() {
        let api: serde_json::Value = serde_json::from_str(json()).unwrap();
        let responses = api["components"]["responses"].as_object().unwrap();
        let mut documented = BTreeSet::new();
        for (name, response) in responses {
            let examples = response["content"]["application/json"]["examples"]
                .as_object()
                .unwrap_or_else(|| panic!("{name} has no examples"));
            for example in examples.values() {
                let code = example["value"]["code"].as_u64().unwrap() as u32;
                let kind = ErrorKind::ALL.iter().find(|k| k.code() == code).unwrap();
                documented.insert(kind.status());
            }
        }
        let expected: BTreeSet<u16> = ErrorKind::ALL
            .iter()
            .map(|k| k.status())
            .filter(|s| ![405, 500].contains(s))
            .collect();
        assert_eq!(documented, expected);
    }
}
