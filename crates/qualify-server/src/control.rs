//! Bodies of the test control plane (control.md section 0). Unlike `/v1` bodies, control bodies
//! are read strictly: exact (camelCase) keys, unknown keys refused, and every rejection is a 400
//! whose `description` starts with the offending field's JSON path (`match.path: ...`,
//! `nth[1]: ...`), so a typo is never silently ignored.
//!
//! A DTO derives `Deserialize` with `#[serde(deny_unknown_fields)]`; [`ControlJson`] reads it
//! with its path; the checks that serde cannot express return [`invalid_field`].

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use qualify_core::ErrorKind;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A 400 naming the field at `path`.
pub fn invalid_field(path: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("{path}: {message}"))
}

/// A strict JSON control body.
pub struct ControlJson<T>(pub T);

/// Parses a control body: the error names the JSON path of the offending field (for an unknown
/// key, the key itself).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::invalid("The request body is not valid UTF-8."))?;
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(ApiError::invalid("A JSON request body is required."));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner().to_string();
        let mut path = e.path().to_string();
        // serde names an unknown key in its message, not in the path: add it.
        if let Some(key) = inner
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
        {
            if path == "." {
                path = key.to_owned();
            } else if !path.ends_with(key) {
                path = format!("{path}.{key}");
            }
        }
        if path == "." {
            ApiError::invalid(format!("The request body is invalid: {inner}"))
        } else {
            invalid_field(&path, inner)
        }
    })?;
    de.end()
        .map_err(|e| ApiError::invalid(format!("The request body is not valid JSON: {e}")))?;
    Ok(value)
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ControlJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("?").to_ascii_lowercase();
            let mime = ct.split(';').next().unwrap_or("").trim();
            if mime != "application/json" && !mime.ends_with("+json") {
                return Err(ApiError::of(ErrorKind::UnsupportedMediaType));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    ErrorKind::PayloadTooLarge,
                    format!(
                        "The request body is larger than {} bytes.",
                        crate::body::BODY_LIMIT
                    ),
                )
            } else {
                ApiError::invalid(format!("The request body could not be read: {rejection}"))
            }
        })?;
        parse(&bytes).map(ControlJson)
    }
}

/// A control duration: humantime (`250ms`, `2s`, `5m`, `72h`, `3d`) or ISO 8601 (`PT72H`,
/// `P3D`, `PT0.25S`).
pub fn duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    if let Some(iso) = t.strip_prefix('P').or_else(|| t.strip_prefix('p')) {
        return iso8601(iso).ok_or_else(|| format!("{text:?} is not an ISO 8601 duration"));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("{text:?} is not a duration such as 250ms, 2s, 5m or PT72H ({e})"))
}

/// The part of an ISO 8601 duration after `P`: `nD` then `T` and `nH`, `nM`, `n[.f]S`.
fn iso8601(rest: &str) -> Option<std::time::Duration> {
    let (date, time) = match rest.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut secs = 0f64;
    let mut any = false;
    let mut take = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let (_, factor) = units.iter().find(|(u, _)| u.eq_ignore_ascii_case(&c))?;
            secs += number.parse::<f64>().ok()? * factor;
            number.clear();
            any = true;
        }
        number.is_empty().then_some(())
    };
    take(date, &[('W', 604_800.0), ('D', 86_400.0)])?;
    if let Some(t) = time {
        if t.is_empty() {
            return None;
        }
        take(t, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    // (Far beyond any control duration; `from_secs_f64` would panic past u64 seconds.)
    (any && secs.is_finite() && secs < 1e12).then(|| std::time::Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        rules: Vec<Inner>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        after: Option<u32>,
    }

    fn message(body: &str) -> String {
        parse::<Outer>(body.as_bytes())
            .unwrap_err()
            .error
            .description
    }

    #[test]
    fn errors_name_the_json_path() {
        assert!(
            message(r#"{"rules": [{}, {}, {"after": "x"}]}"#).starts_with("rules[2].after: "),
            "{}",
            message(r#"{"rules": [{}, {}, {"after": "x"}]}"#)
        );
        assert!(message(r#"{"rules": [{"afterRead": 1}]}"#).starts_with("rules[0].afterRead: "));
        assert!(message(r#"{"rules": [], "extra": 1}"#).starts_with("extra: "));
        assert!(message(r#"{}"#).contains("rules"));
        assert!(parse::<Outer>(br#"{"rules": []} x"#).is_err());
    }

    #[test]
    fn durations_in_both_spellings() {
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(duration("72h").unwrap(), Duration::from_secs(72 * 3600));
        assert_eq!(duration("3d").unwrap(), Duration::from_secs(3 * 86400));
        assert_eq!(duration("PT72H").unwrap(), Duration::from_secs(72 * 3600));
        assert_eq!(duration("P1DT1M").unwrap(), Duration::from_secs(86460));
        assert_eq!(duration("PT0.25S").unwrap(), Duration::from_millis(250));
        for bad in [
            "",
            "soon",
            "P",
            "PT",
            "PT5X",
            "P5",
            "P99999999999999999999D",
            "PT1e9S",
        ] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }
}
