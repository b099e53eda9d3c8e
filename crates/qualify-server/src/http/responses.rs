//! The error responses operations share, and the standard ones each auth class documents.
//!
//! Each shared response is built from the error catalogue of `qualify-core`: the error body, an
//! example per catalogue entry of its status, the id headers, and `Retry-After` where it
//! applies. An operation is registered with its auth class ([`public`], [`partner`],
//! [`operator`] around `routes!(...)`), which adds the responses any operation of that class may
//! answer — 400, 401, 403, 429, 503, and 408, 413, 415 where it takes a body — so that a
//! handler's `#[utoipa::path]` lists only what its own logic answers (404, 409, 412, ...).

use qualify_core::ErrorKind;
use serde_json::json;
use utoipa::ToResponse;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response as ApiResponse, ResponseBuilder};
use utoipa::openapi::{ContentBuilder, Object, ObjectBuilder, Ref, RefOr, Schema, Type};
use utoipa_axum::router::UtoipaMethodRouter;

use crate::http::schemas::string_enum;

pub fn string_schema() -> Schema {
    Object::with_type(Type::String).into()
}

/// Response headers every response carries.
pub fn add_id_headers(response: &mut ApiResponse) {
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

pub fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
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
        impl $name {
            pub const NAME: &'static str = stringify!($name);
        }
        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<ApiResponse>) {
                (Self::NAME, RefOr::T(error_response($status, $description)))
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

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// No token (health, this document, the webhook certificate).
    Public,
    /// A partner token, throttled per partner (the Partner Center routes).
    Partner,
    /// The operator role.
    Operator,
}

impl Class {
    /// What any operation of the class may answer whatever it does.
    fn standard(self) -> &'static [(u16, &'static str)] {
        match self {
            Class::Public => &[(503, ServiceUnavailable::NAME)],
            Class::Partner => &[
                (400, BadRequest::NAME),
                (401, Unauthorized::NAME),
                (429, TooManyRequests::NAME),
                (503, ServiceUnavailable::NAME),
            ],
            Class::Operator => &[
                (400, BadRequest::NAME),
                (401, Unauthorized::NAME),
                (403, Forbidden::NAME),
                (503, ServiceUnavailable::NAME),
            ],
        }
    }
}

/// What any operation that takes a body may answer besides.
const WITH_BODY: &[(u16, &str)] = &[
    (408, RequestTimeout::NAME),
    (413, PayloadTooLarge::NAME),
    (415, UnsupportedMediaType::NAME),
];

/// Operations anyone may call (no token).
pub fn public<S>(operations: UtoipaMethodRouter<S>) -> UtoipaMethodRouter<S> {
    standard(Class::Public, operations)
}

/// Operations of the Partner Center API (a partner token, throttled).
pub fn partner<S>(operations: UtoipaMethodRouter<S>) -> UtoipaMethodRouter<S> {
    standard(Class::Partner, operations)
}

/// Operations of the operator API (the operator role).
pub fn operator<S>(operations: UtoipaMethodRouter<S>) -> UtoipaMethodRouter<S> {
    standard(Class::Operator, operations)
}

/// Adds the class's standard responses to every operation (those it lists itself stay), in
/// the order of their status.
fn standard<S>(
    class: Class,
    (schemas, mut paths, router): UtoipaMethodRouter<S>,
) -> UtoipaMethodRouter<S> {
    for item in paths.paths.values_mut() {
        for op in operations(item) {
            let body = if op.request_body.is_some() {
                WITH_BODY
            } else {
                &[]
            };
            for (status, name) in class.standard().iter().chain(body) {
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
            }
            sort_by_status(op);
        }
    }
    (schemas, paths, router)
}

fn sort_by_status(op: &mut Operation) {
    let mut responses: Vec<_> = std::mem::take(&mut op.responses.responses)
        .into_iter()
        .collect();
    responses.sort_by(|(a, _), (b, _)| a.cmp(b));
    op.responses.responses = responses.into_iter().collect();
}
