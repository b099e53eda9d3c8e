//! The OpenAPI 3.1 document of the HTTP API.
//!
//! It comes from the route registration: `routes::api_router` registers every handler with
//! `utoipa_axum::routes!`, so the router and the document cannot disagree on which operations
//! exist, and each handler carries its own `#[utoipa::path]` (parameters, body, responses). This
//! module holds what operations share: the bearer scheme, the error responses (built from the
//! error catalogue of `qualify-core`), schemas of the wire vocabularies (built from the core
//! enums), and one pass that adds the cross-cutting parts to every operation — the bearer
//! requirement, the Partner Center request headers and the id headers echoed on every response.
//!
//! Served at `GET /openapi.json` and committed as `docs/openapi.json`; a test fails when the two
//! differ (`QUALIFY_UPDATE_OPENAPI=1 cargo test -p qualify-server openapi` rewrites the file).

use std::borrow::Cow;
use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use qualify_core::ErrorKind;
use qualify_core::qualification::{
    DecisionStatus, EducationSegment, Qualification, SettableQualification, VettingStatus,
};
use qualify_core::validation::{AccountStatus, GdapRole};
use serde_json::json;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response as ApiResponse, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, KnownFormat, Object, ObjectBuilder, OpenApi, Ref, RefOr, Required, Schema,
    SchemaFormat, Type,
};
use utoipa::{Modify, PartialSchema, ToResponse, ToSchema};

use crate::error::JSON_CONTENT_TYPE;

/// The name of the bearer security scheme.
pub const BEARER: &str = "bearer";

/// The base of the document: info, tags and the shared components. The operations come from
/// `routes::api_router`.
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
        schemas(crate::error::ErrorBody),
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

/// The whole document: the base, every registered operation, and the cross-cutting parts.
pub fn document() -> OpenApi {
    let (_, api) = crate::routes::api_router().split_for_parts();
    finish(api)
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
        (status = 503, response = ServiceUnavailable),
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

fn string_schema() -> Schema {
    Object::with_type(Type::String).into()
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

/// Response headers every response carries.
fn add_id_headers(response: &mut ApiResponse) {
    for (name, description) in [
        (
            "MS-RequestId",
            "The caller's MS-RequestId, or the one the server generated.",
        ),
        (
            "MS-CorrelationId",
            "The caller's MS-CorrelationId, or the one the server generated.",
        ),
    ] {
        response.headers.entry(name.to_owned()).or_insert_with(|| {
            RefOr::T(
                HeaderBuilder::new()
                    .schema(Some(string_schema()))
                    .description(Some(description))
                    .build(),
            )
        });
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
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

/// A JSON-Schema string enum.
fn string_enum<'a>(values: impl IntoIterator<Item = &'a str>, description: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .build()
        .into()
}

/// Schemas of wire vocabularies, built from the core enums so they cannot drift from them.
macro_rules! vocabulary {
    ($( $(#[$doc:meta])* $ty:ident as $name:literal => $schema:expr; )*) => {$(
        $(#[$doc])*
        pub struct $ty;
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                RefOr::T($schema)
            }
        }
        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    )*};
}

vocabulary! {
    /// The qualifications a partner can request.
    QualificationSchema as "Qualification" => string_enum(
        SettableQualification::ALL.map(SettableQualification::name),
        "A qualification a partner can request, matched case-insensitively. `None` and \
         `Nonprofit` are valid Partner Center values that cannot be set (400).",
    );
    /// The retired single-value contract's values.
    LegacyQualificationSchema as "LegacyQualification" => string_enum(
        Qualification::ALL.map(Qualification::legacy_name),
        "The retired single-value contract: a qualification in lower snake case.",
    );
    /// The values of the retired contract that a partner can request.
    LegacySettableQualificationSchema as "LegacySettableQualification" => string_enum(
        SettableQualification::ALL.map(|q| q.qualification().legacy_name()),
        "A qualification a partner can request in the retired contract, matched \
         case-insensitively (the PascalCase names are accepted too). `none` and `nonprofit` \
         cannot be set (400).",
    );
    EducationSegmentSchema as "EducationSegment" => string_enum(
        [EducationSegment::K12, EducationSegment::HigherEducation].map(EducationSegment::name),
        "Required with Education; matched case-insensitively.",
    );
    /// An open string: clients must accept values they do not know.
    VettingStatusSchema as "VettingStatus" => ObjectBuilder::new()
        .schema_type(Type::String)
        .examples([VettingStatus::InReview, VettingStatus::Approved, VettingStatus::Denied]
            .map(|s| json!(s.name())))
        .description(Some(
            "InReview, Approved or Denied today. An open string: clients must accept values \
             they do not know.",
        ))
        .build()
        .into();
    DecisionStatusSchema as "DecisionStatus" => string_enum(
        [DecisionStatus::Approved, DecisionStatus::Denied]
            .map(|d| d.vetting_status().name()),
        "A terminal vetting outcome; matched case-insensitively.",
    );
    AccountStatusSchema as "AccountStatus" => string_enum(
        AccountStatus::ALL.map(AccountStatus::name),
        "A customer's account validation status (`Not Ready` has a space).",
    );
    GdapRoleSchema as "GdapRole" => string_enum(
        GdapRole::ALL.map(GdapRole::name),
        "A GDAP role the partner holds over the customer; GCC needs one of these.",
    );
}

/// One reusable error response: the error body, an example for each catalogue entry sent with
/// this status, the id headers, and `Retry-After` where it applies.
fn error_response(status: u16, description: &str) -> ApiResponse {
    let kinds: Vec<ErrorKind> = ErrorKind::ALL
        .iter()
        .copied()
        .filter(|k| k.status() == status)
        .collect();
    let mut text = format!("{description}\n\nCodes:");
    for k in &kinds {
        text.push_str(&format!("\n- `{}`: {}", k.code(), k.meaning()));
    }
    let examples = kinds.iter().map(|k| {
        (
            format!("{k:?}"),
            ExampleBuilder::new()
                .summary(format!("{} {}", k.code(), k.meaning()))
                .value(Some(json!({
                    "code": k.code(),
                    "description": k.meaning(),
                    "data": [],
                    "source": "PartnerFD",
                })))
                .build(),
        )
    });
    let mut builder = ResponseBuilder::new().description(text).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .examples_from_iter(examples)
            .build(),
    );
    let retry_after = |required: bool, description: &str| {
        let mut h = HeaderBuilder::new()
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .build(),
            ))
            .description(Some(description))
            .build();
        if required {
            // utoipa's Header has no `required` field (OpenAPI has one): add it verbatim.
            h.extensions
                .get_or_insert_with(Default::default)
                .insert("required".into(), json!(true));
        }
        h
    };
    match status {
        429 => {
            builder = builder.header(
                "Retry-After",
                retry_after(true, "Seconds to wait before retrying; always present."),
            )
        }
        503 => {
            builder = builder.header(
                "Retry-After",
                retry_after(false, "Seconds to wait before retrying, when known."),
            )
        }
        _ => {}
    }
    builder = builder.header(
        "Idempotent-Replayed",
        HeaderBuilder::new()
            .schema(Some(string_enum(["true"], "Present only on replays.")))
            .description(Some(
                "`true` when this is the stored answer of an earlier POST or PUT under /v1 with \
                 the same MS-RequestId.",
            ))
            .build(),
    );
    let mut response = builder.build();
    add_id_headers(&mut response);
    response
}

macro_rules! error_responses {
    ($( $name:ident = ($status:literal, $description:literal); )*) => {$(
        #[doc = $description]
        pub struct $name;
        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<ApiResponse>) {
                (stringify!($name), RefOr::T(error_response($status, $description)))
            }
        }
    )*};
}

error_responses! {
    BadRequest = (400, "Invalid input: bad JSON, a missing or invalid property, an unknown enum value, a bad query parameter or id header, a customer id that is not a GUID, or a qualification rule of the request itself.");
    Unauthorized = (401, "No bearer token, or the token failed validation (signature, algorithm, expiry, audience, issuer, claims).");
    Forbidden = (403, "The credential type or role does not allow this (App-only token on an App+User operation, missing GDAP role, missing admin role), or the customer belongs to another partner.");
    NotFound = (404, "The customer, the qualification or the validation status does not exist.");
    Conflict = (409, "A qualification rule on stored state (already InReview or Approved, Education with GCC, the Education limit, already decided), or the MS-RequestId was used for a different request.");
    PreconditionFailed = (412, "If-Match does not match the resource's current etag.");
    RequestTimeout = (408, "The request body did not arrive within the server's body read timeout.");
    PayloadTooLarge = (413, "The request body is larger than 1 MiB.");
    UnsupportedMediaType = (415, "The request body is not JSON.");
    PreconditionRequired = (428, "The update needs If-Match with the resource's etag.");
    TooManyRequests = (429, "Throttled: too many requests for the partner tenant.");
    ServiceUnavailable = (503, "The server is busy (too many requests in flight), the database is unavailable, or the request took too long; retry (POST and PUT with the same MS-RequestId).");
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

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

    /// The running router serves the document without a token, and keeps its JSON 404 and
    /// 405 for what the document does not list.
    #[tokio::test]
    async fn openapi_is_served_without_a_token() {
        use axum::body::{Body, to_bytes};
        use axum::http::{Method, Request, StatusCode};
        use tower::ServiceExt;

        let store = qualify_store::SqliteStore::open("sqlite::memory:")
            .await
            .unwrap();
        let state = crate::AppState::new(std::sync::Arc::new(store), Default::default())
            .await
            .unwrap();
        let app = crate::routes::app(state);
        let call = |method: Method, uri: &str| {
            let request = Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap();
            app.clone().oneshot(request)
        };

        let r = call(Method::GET, "/openapi.json").await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], JSON_CONTENT_TYPE);
        let body = to_bytes(r.into_body(), usize::MAX).await.unwrap();
        assert_eq!(std::str::from_utf8(&body).unwrap(), json());

        for (method, uri, status, code) in [
            (Method::GET, "/nowhere", StatusCode::NOT_FOUND, 1000),
            (
                Method::DELETE,
                "/openapi.json",
                StatusCode::METHOD_NOT_ALLOWED,
                900406,
            ),
            (
                Method::GET,
                "/v1/customers",
                StatusCode::UNAUTHORIZED,
                800001,
            ),
        ] {
            let r = call(method.clone(), uri).await.unwrap();
            assert_eq!(r.status(), status, "{method} {uri}");
            let body = to_bytes(r.into_body(), usize::MAX).await.unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["code"], code, "{method} {uri}");
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
