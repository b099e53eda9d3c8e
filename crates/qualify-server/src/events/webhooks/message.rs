//! What a delivery sends (events.md 2): the body built from the event and `{base}`, and the
//! Standard Webhooks HMAC signature under a registration's secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use qualify_core::time_fmt;
use qualify_core::webhooks::{Event, EventName};
use serde::Serialize;
use sha2::Sha256;

/// A new `SigningSecret`: `whsec_` and the base64 of 32 random bytes.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", B64.encode(bytes))
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` under `secret`'s key.
pub fn hmac_signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|k| B64.decode(k).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Body<'a> {
    event_name: &'a str,
    resource_uri: String,
    resource_name: &'a str,
    audit_uri: Option<String>,
    resource_change_utc_date: String,
}

/// The bytes an event is delivered as, for the public base URL `base`.
pub fn body(event: &Event, base: &str) -> Vec<u8> {
    let base = base.trim_end_matches('/');
    let body = match (event.event_name, event.customer_id, event.qualification) {
        (EventName::QualificationCreated | EventName::QualificationUpdated, Some(c), Some(q)) => {
            Body {
                event_name: event.event_name.name(),
                resource_uri: format!("{base}/v1/customers/{c}/qualifications"),
                resource_name: "CustomerQualification",
                audit_uri: Some(format!(
                    "{base}/admin/v1/customers/{c}/qualifications/{}/history",
                    q.name()
                )),
                resource_change_utc_date: time_fmt::wire_millis(event.changed_at),
            }
        }
        _ => Body {
            event_name: event.event_name.name(),
            resource_uri: format!(
                "{base}/webhooks/v1/registration/validationEvents/{}",
                event.event_id
            ),
            resource_name: "test",
            audit_uri: None,
            resource_change_utc_date: time_fmt::wire_millis(event.changed_at),
        },
    };
    serde_json::to_vec(&body).expect("the event body serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hmac_signature_matches_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            hmac_signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_whsec_and_32_random_bytes() {
        let s = new_secret();
        let key = B64.decode(s.strip_prefix("whsec_").unwrap()).unwrap();
        assert_eq!(key.len(), 32);
        assert_ne!(s, new_secret());
    }
}
