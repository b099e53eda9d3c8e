//! JSON in and out. Request property names are matched case-insensitively (keys are folded to
//! lower case before deserialising into the lower-case input types of the wire modules);
//! responses are `application/json; charset=utf-8`.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use qualify_core::ErrorKind;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::http::error::{ApiError, JSON_CONTENT_TYPE};
use crate::http::headers::IDEMPOTENT_REPLAYED;

/// The largest request body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A JSON request body, parsed into `T` with case-insensitive keys, and its fingerprint (for
/// idempotency: the same logical body gives the same fingerprint whatever the key case,
/// key order or whitespace).
pub struct JsonBody<T> {
    pub value: T,
    pub canonical: String,
}

fn fold_keys(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.to_lowercase(), fold_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(fold_keys).collect()),
        other => other,
    }
}

/// An optional nested object of a request body (`#[serde(deserialize_with = "object")]`). Serde
/// would also fill a struct from a JSON array (fields by position); the contract only has
/// objects, so anything but an object or null is invalid.
pub fn object<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => T::deserialize(v).map(Some).map_err(D::Error::custom),
        Some(_) => Err(D::Error::custom("expected a JSON object")),
    }
}

pub fn is_json(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Whether reading the body failed because the body read deadline (`transport`) passed.
fn timed_out(rejection: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(rejection);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Reads a request body of at most `limit` bytes: 413 beyond it, 408 when the body read
/// deadline passes first.
pub async fn read_body<S: Send + Sync>(
    req: Request,
    _state: &S,
    limit: usize,
) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|e| {
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(c) = cause {
                if c.is::<http_body_util::LengthLimitError>() {
                    return ApiError::new(
                        ErrorKind::PayloadTooLarge,
                        format!("The request body is larger than {limit} bytes."),
                    );
                }
                cause = c.source();
            }
            if timed_out(&e) {
                ApiError::new(
                    ErrorKind::RequestTimeout,
                    "The request body was not received within the body read timeout.",
                )
            } else {
                ApiError::invalid(format!("The request body could not be read: {e}"))
            }
        })
}

/// Parses bytes as JSON with folded keys into `T`.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, String), ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::invalid("The request body is not valid UTF-8."))?;
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(ApiError::invalid("A JSON request body is required."));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ApiError::invalid(format!("The request body is not valid JSON: {e}")))?;
    // No request body is an array; serde would fill a struct from one by position.
    if value.is_array() {
        return Err(ApiError::invalid(
            "The request body must be a JSON object, not an array.",
        ));
    }
    let folded = fold_keys(value);
    let canonical = folded.to_string();
    let value = T::deserialize(&folded)
        .map_err(|e| ApiError::invalid(format!("The request body is invalid: {e}")))?;
    Ok((value, canonical))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("?").to_owned());
        match content_type {
            Some(ct) if !is_json(&ct) => return Err(ApiError::of(ErrorKind::UnsupportedMediaType)),
            _ => {}
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    ErrorKind::PayloadTooLarge,
                    format!("The request body is larger than {BODY_LIMIT} bytes."),
                )
            } else if timed_out(&rejection) {
                ApiError::new(
                    ErrorKind::RequestTimeout,
                    "The request body was not received within the body read timeout.",
                )
            } else {
                ApiError::invalid(format!("The request body could not be read: {rejection}"))
            }
        })?;
        let (value, canonical) = parse(&bytes)?;
        Ok(JsonBody { value, canonical })
    }
}

/// A JSON response with a status.
pub struct Json<T>(pub StatusCode, pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.1) {
            Ok(body) => {
                let mut r = (self.0, body).into_response();
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, JSON_CONTENT_TYPE);
                r
            }
            Err(e) => {
                tracing::error!(error = %e, "response serialisation failed");
                ApiError::of(ErrorKind::Internal).into_response()
            }
        }
    }
}

pub fn ok<T: Serialize>(v: T) -> Json<T> {
    Json(StatusCode::OK, v)
}

/// Marks the stored answer of an earlier request with the same `MS-RequestId`.
pub fn replayed(mut r: Response, replayed: bool) -> Response {
    if replayed {
        r.headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    r
}

/// Fingerprint of a write for idempotency: method, path and query, canonical body.
pub fn fingerprint(method: &str, path_and_query: &str, canonical_body: &str) -> String {
    let mut h = Sha256::new();
    for part in [method, path_and_query, canonical_body] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Probe {
        qualification: Option<String>,
        educationsegment: Option<String>,
    }

    #[test]
    fn keys_match_case_insensitively_and_fingerprints_ignore_layout() {
        let (a, ca) =
            parse::<Probe>(br#"{"Qualification": "Education", "EducationSegment": "K12"}"#)
                .unwrap();
        let (b, cb) =
            parse::<Probe>(br#"{ "educationSegment":"K12",  "qualification":"Education" }"#)
                .unwrap();
        assert_eq!(a.qualification.as_deref(), Some("Education"));
        assert_eq!(b.educationsegment.as_deref(), Some("K12"));
        assert_eq!(ca, cb);
    }

    #[test]
    fn bad_bodies_are_invalid_input() {
        for body in [
            &b""[..],
            b"   ",
            b"{",
            b"\xff\xfe",
            b"[1,",
            br#"{"qualification": 5}"#,
        ] {
            let e = parse::<Probe>(body).err().unwrap();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{body:?}");
        }
    }

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
