//! Strict documents (control.md 0): the bodies of the test control plane, the fault rules and
//! the journal's patterns are parsed strictly (unknown keys are refused, errors name the JSON
//! path of the offending field), and their durations and instants have one syntax.

use std::time::Duration;

use axum::extract::{FromRequest, Request};
use axum::http::header;
use qualify_core::ErrorKind;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::http::body::{BODY_LIMIT, is_json, read_body};
use crate::http::error::ApiError;

/// A 400 naming the offending field by its JSON path.
pub fn invalid_at(path: &str, message: impl std::fmt::Display) -> ApiError {
    if path.is_empty() {
        ApiError::invalid(message.to_string())
    } else {
        ApiError::invalid(format!("{path}: {message}"))
    }
}

/// `base.field`, or `field` at the top.
pub fn join(base: &str, field: &str) -> String {
    if base.is_empty() {
        field.to_owned()
    } else if field.starts_with('[') {
        format!("{base}{field}")
    } else {
        format!("{base}.{field}")
    }
}

/// Parses a control body: JSON, exact keys (unknown ones refused), errors naming the path.
pub fn parse_strict<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::invalid("The request body is not valid UTF-8."))?;
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(ApiError::invalid("A JSON request body is required."));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let mut path = e.path().to_string();
        if path == "." {
            path.clear();
        }
        // An unknown key's path ends with the key itself (`rules[2].afterRead`).
        let message = e.into_inner().to_string();
        invalid_at(&path, strip_position(&message))
    })?;
    de.end()
        .map_err(|e| ApiError::invalid(format!("The request body is not valid JSON: {e}")))?;
    Ok(value)
}

/// serde_json ends messages with ` at line L column C`: the path says where.
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    }
}

/// A strict JSON control body (see [`parse_strict`]), up to `LIMIT` bytes.
pub struct ControlBody<T, const LIMIT: usize = BODY_LIMIT>(pub T);

impl<S: Send + Sync, T: DeserializeOwned, const LIMIT: usize> FromRequest<S>
    for ControlBody<T, LIMIT>
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| is_json(v.to_str().unwrap_or("?")));
        if json == Some(false) {
            return Err(ApiError::of(ErrorKind::UnsupportedMediaType));
        }
        let bytes = read_body(req, state, LIMIT).await?;
        parse_strict(&bytes).map(ControlBody)
    }
}

/// A duration of control.md 0: humantime (`250ms`, `2s`, `72h`, `3d`) or ISO 8601 (`PT72H`,
/// `P3D`; years and months are refused: they have no fixed length). At most 100 years
/// ([`qualify_core::time_fmt::LONGEST`]).
pub fn duration(path: &str, s: &str) -> Result<Duration, ApiError> {
    let t = s.trim();
    let bad = || {
        invalid_at(
            path,
            format!("{s:?} is not a duration such as 250ms, 2s, 72h, 3d or PT72H."),
        )
    };
    let d = if t.starts_with(['P', 'p']) {
        iso_duration(&t.to_ascii_uppercase()).ok_or_else(bad)?
    } else {
        humantime::parse_duration(t).map_err(|_| bad())?
    };
    match qualify_core::time_fmt::too_long(d) {
        Some(why) => Err(invalid_at(path, format!("{s:?} {why}"))),
        None => Ok(d),
    }
}

/// An ISO 8601 duration without years and months. The whole text must parse (the crate's
/// `iso8601::duration` ignores what follows a prefix it reads, so `PT4294967296H` would be
/// `PT` there: zero).
fn iso_duration(t: &str) -> Option<Duration> {
    let (rest, d) = iso8601::parsers::parse_duration(t.as_bytes()).ok()?;
    if !rest.is_empty() || t.ends_with('T') {
        return None;
    }
    let ms = match d {
        iso8601::Duration::Weeks(w) => u64::from(w) * 7 * 86_400_000,
        iso8601::Duration::YMDHMS {
            year: 0,
            month: 0,
            day,
            hour,
            minute,
            second,
            millisecond,
        } => {
            ((u64::from(day) * 24 + u64::from(hour)) * 60 + u64::from(minute)) * 60_000
                + u64::from(second) * 1000
                + u64::from(millisecond)
        }
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

/// An instant of control.md 0: RFC 3339 (any offset; kept in UTC, milliseconds), from 1970 to
/// the year 9000 ([`qualify_core::time_fmt::LATEST`]).
pub fn instant(path: &str, s: &str) -> Result<OffsetDateTime, ApiError> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339)
        .map(|t| qualify_core::time_fmt::truncate_millis(t.to_offset(time::UtcOffset::UTC)))
        .map_err(|_| {
            invalid_at(
                path,
                format!("{s:?} is not an RFC 3339 instant such as 2026-01-05T12:00:00Z."),
            )
        })?;
    match qualify_core::time_fmt::out_of_range(t) {
        Some(why) => Err(invalid_at(path, why)),
        None => Ok(t),
    }
}

/// An instant as control documents write it: RFC 3339 UTC with `Z`, milliseconds when there
/// are any.
pub fn write_instant(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    if t.millisecond() == 0 {
        qualify_core::time_fmt::wire(t)
    } else {
        let f = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        t.format(&f)
            .unwrap_or_else(|_| qualify_core::time_fmt::wire(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Rule {
        after: Option<String>,
        after_reads: Option<u32>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        rules: Vec<Rule>,
    }

    #[test]
    fn errors_name_the_json_path() {
        let e = parse_strict::<Doc>(br#"{"rules": [{}, {}, {"afterRead": 2}]}"#).unwrap_err();
        assert!(
            e.error
                .description
                .starts_with("rules[2].afterRead: unknown field"),
            "{}",
            e.error.description
        );
        let e = parse_strict::<Doc>(br#"{"rules": [{"afterReads": "two"}]}"#).unwrap_err();
        assert!(
            e.error
                .description
                .starts_with("rules[0].afterReads: invalid type"),
            "{}",
            e.error.description
        );
        assert!(parse_strict::<Doc>(br#"{"rules": []} x"#).is_err());
    }

    #[test]
    fn durations_and_instants() {
        for (s, ms) in [
            ("250ms", 250),
            ("2s", 2_000),
            ("5m", 300_000),
            ("72h", 259_200_000),
            ("3d", 259_200_000),
            ("PT72H", 259_200_000),
            ("P3D", 259_200_000),
            ("PT1.5S", 1_500),
            ("P1W", 604_800_000),
        ] {
            assert_eq!(duration("x", s).unwrap(), Duration::from_millis(ms), "{s}");
        }
        for bad in [
            "",
            "soon",
            "P1M",
            "P1Y",
            "-2s",
            "PT",
            "PT5HX",
            "PT4294967296H",
            "PT99999999999H",
            "99999999999h",
            "36501d",
            "P5300W",
        ] {
            assert!(duration("rules[0].after", bad).is_err(), "{bad}");
        }
        let t = instant("x", "2026-01-05T13:00:00+01:00").unwrap();
        assert_eq!(write_instant(t), "2026-01-05T12:00:00Z");
        assert_eq!(
            write_instant(instant("x", "2026-01-05T12:00:00.250Z").unwrap()),
            "2026-01-05T12:00:00.250Z"
        );
        assert!(instant("frozenAt", "yesterday").is_err());
        assert_eq!(
            duration("x", "36500d").unwrap(),
            qualify_core::time_fmt::LONGEST
        );
        for beyond in [
            "9999-12-31T23:59:59Z",
            "9000-01-01T00:00:01Z",
            "1969-12-31T23:59:59Z",
        ] {
            let e = instant("frozenAt", beyond).unwrap_err();
            assert!(
                e.error.description.starts_with("frozenAt: "),
                "{}",
                e.error.description
            );
        }
    }
}
