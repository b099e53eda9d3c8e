//! Never a token in the journal: `Authorization` is replaced by what the token said, and
//! token-like text in the path, query, kept headers and body is redacted; every kept text is
//! bounded.

use axum::http::HeaderMap;
use serde_json::Value;

use crate::http::redact::{REDACTED, cut_to};
pub use crate::http::redact::{keep_text, redact_text};

use super::entry::{BODY_KEPT, HEADER_KEPT, KEPT_HEADERS};

/// Names of JSON fields whose values are secrets whatever they look like.
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "authorization",
        "apikey",
        "api_key",
        "assertion",
    ]
    .iter()
    .any(|s| k.contains(s))
}

fn redact_value(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(r) = redact_text(s) {
                *s = r;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_value),
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if secret_key(k) && !v.is_null() {
                    *v = Value::String(REDACTED.into());
                } else {
                    redact_value(v);
                }
            }
        }
        _ => {}
    }
}

fn might_hold_secret(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("eyj")
        || lower.contains("bearer")
        || [
            "password",
            "secret",
            "token",
            "authorization",
            "apikey",
            "api_key",
            "assertion",
        ]
        .iter()
        .any(|s| lower.contains(s))
}

/// A body as the journal keeps it: redacted, then cut to [`BODY_KEPT`] bytes. Returns the
/// text and whether it was cut.
pub fn keep_body(bytes: &[u8]) -> Option<(Box<str>, bool)> {
    if bytes.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(bytes);
    let redacted: String = if might_hold_secret(&text) {
        match serde_json::from_str::<Value>(&text) {
            Ok(mut v) if v.is_object() || v.is_array() => {
                redact_value(&mut v);
                v.to_string()
            }
            _ => redact_text(&text).into_owned(),
        }
    } else {
        text.into_owned()
    };
    let (kept, cut) = cut_to(&redacted, BODY_KEPT);
    Some((kept.into(), cut))
}

/// The kept headers of a request, redacted and cut. One pass over the request's headers
/// (lower-case names, compared as text): looking each kept name up parsed it every time.
pub fn keep_headers(headers: &HeaderMap) -> Vec<(&'static str, Box<str>)> {
    static LOWER: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        KEPT_HEADERS
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect()
    });
    let mut out: Vec<(&'static str, Box<str>)> = Vec::new();
    for (name, value) in headers {
        let Some(i) = LOWER.iter().position(|l| l == name.as_str()) else {
            continue;
        };
        let canonical = KEPT_HEADERS[i];
        if out.iter().any(|(h, _)| *h == canonical) {
            continue;
        }
        let v = String::from_utf8_lossy(value.as_bytes());
        out.push((canonical, keep_text(&v, HEADER_KEPT)));
    }
    out.shrink_to_fit();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_redacted_everywhere_they_may_hide() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJ0aWQiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
        assert_eq!(redact_text(&format!("a {jwt} b")), "a [redacted] b");
        assert_eq!(
            redact_text(&format!("?access_token={jwt}&x=1")),
            "?access_token=[redacted]&x=1"
        );
        assert_eq!(
            redact_text("Authorization: Bearer abc.def"),
            "Authorization: Bearer [redacted]"
        );
        assert_eq!(redact_text("nothing here"), "nothing here");
        let body = format!(
            r#"{{"qualification": "Education", "note": "{jwt}", "password": "hunter2", "nested": [{{"clientSecret": "s"}}]}}"#
        );
        let (kept, cut) = keep_body(body.as_bytes()).unwrap();
        assert!(!cut);
        assert!(
            !kept.contains(jwt) && !kept.contains("hunter2") && !kept.contains("\"s\""),
            "{kept}"
        );
        assert!(kept.contains("Education"), "{kept}");
        let (raw, _) = keep_body(format!("token {jwt}").as_bytes()).unwrap();
        assert_eq!(&*raw, "token [redacted]");
    }

    #[test]
    fn bodies_are_cut_to_16_kib_on_a_character_boundary() {
        let long = "é".repeat(BODY_KEPT);
        let (kept, cut) = keep_body(long.as_bytes()).unwrap();
        assert!(cut && kept.len() <= BODY_KEPT && kept.len() > BODY_KEPT - 2);
        assert!(keep_body(b"").is_none());
    }
}
