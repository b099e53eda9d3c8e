//! Verifying a webhook delivery on the receiving side (events.md 2): both signatures qualify puts
//! on every delivery.
//!
//! - **Standard Webhooks** (`webhook-id`, `webhook-timestamp`, `webhook-signature`): an
//!   HMAC-SHA256 of `{id}.{timestamp}.{body}` with the registration's `SigningSecret`
//!   (`whsec_...`); [`verify_webhook`].
//! - **Partner Center's** (`Authorization: Signature <base64>`, `X-MS-Signature-Algorithm:
//!   rsa-sha256`): RSASSA-PKCS1-v1_5 with SHA-256 over the body, by the key of the certificate
//!   served at `/webhooks/v1/certificate` ([`Webhooks::certificate`](crate::Webhooks::certificate));
//!   [`verify_webhook_rsa`].
//!
//! [`WebhookVerifier`] holds the secret (and optionally the certificate) and checks both. Verify
//! the body bytes exactly as they arrived, before parsing them.
//!
//! ```
//! use qualify_client::{WebhookError, WebhookVerifier};
//!
//! let verifier = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! let headers = [
//!     ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
//!     ("webhook-timestamp", "1614265330"),
//!     ("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
//! ];
//! // Signed in 2021: too old to be accepted now (a replay), though the signature is right.
//! assert_eq!(
//!     verifier.verify(&headers[..], br#"{"test": 2432232314}"#),
//!     Err(WebhookError::TimestampTooOld)
//! );
//! ```

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use hmac::{Hmac, Mac};
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use sha2::Sha256;
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::der::{DecodePem, Encode};

/// How far `webhook-timestamp` may be from the receiver's clock, either way (Standard Webhooks'
/// libraries use the same).
pub const WEBHOOK_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The prefix of a Standard Webhooks signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// Why a delivery was not accepted. Answer any of them with a 4xx and do not act on the body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookError {
    /// The signing secret is not `whsec_` and base64, or is empty.
    InvalidSecret,
    /// The certificate is not a PEM X.509 certificate with an RSA key.
    InvalidCertificate(String),
    /// A header the scheme needs is absent.
    MissingHeader(&'static str),
    /// A header is there but cannot be read (e.g. a timestamp that is not a number).
    InvalidHeader(&'static str),
    /// `webhook-timestamp` is older than the tolerance: possibly a replay.
    TimestampTooOld,
    /// `webhook-timestamp` is further in the future than the tolerance.
    TimestampTooNew,
    /// No `v1,` signature of `webhook-signature` matches the secret.
    NoMatchingSignature,
    /// `X-MS-Signature-Algorithm` names an algorithm other than `rsa-sha256`.
    UnsupportedAlgorithm(String),
    /// The `Authorization: Signature` does not verify with the certificate's key.
    BadRsaSignature,
}

impl std::fmt::Display for WebhookError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidSecret => write!(f, "the signing secret is not whsec_ and base64"),
            Self::InvalidCertificate(why) => write!(f, "the certificate cannot be used: {why}"),
            Self::MissingHeader(h) => write!(f, "the {h} header is missing"),
            Self::InvalidHeader(h) => write!(f, "the {h} header cannot be read"),
            Self::TimestampTooOld => write!(f, "webhook-timestamp is too old"),
            Self::TimestampTooNew => write!(f, "webhook-timestamp is too far in the future"),
            Self::NoMatchingSignature => write!(f, "no webhook-signature matches the secret"),
            Self::UnsupportedAlgorithm(a) => write!(f, "unsupported signature algorithm {a:?}"),
            Self::BadRsaSignature => write!(f, "the RSA signature does not verify"),
        }
    }
}

impl std::error::Error for WebhookError {}

/// The headers of a received request, looked up by name, case-insensitively.
pub trait WebhookHeaders {
    /// The value of the first header called `name`, if it is text.
    fn header(&self, name: &str) -> Option<&str>;
}

impl WebhookHeaders for reqwest::header::HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> WebhookHeaders for [(K, V)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> WebhookHeaders for HashMap<K, V> {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

/// Verifies the Standard Webhooks signature of a delivery with the registration's
/// `SigningSecret`, against the system clock.
pub fn verify_webhook<H: WebhookHeaders + ?Sized>(
    headers: &H,
    body: &[u8],
    secret: &str,
) -> Result<(), WebhookError> {
    WebhookVerifier::new(secret)?.verify(headers, body)
}

/// Verifies Partner Center's RSA signature of a delivery (`Authorization: Signature ...`) with
/// the certificate qualify serves at `/webhooks/v1/certificate` (PEM).
///
/// Fetch the certificate from the qualify you registered with, not from whatever
/// `X-MS-Certificate-Url` a request names: a forger can name their own.
pub fn verify_webhook_rsa<H: WebhookHeaders + ?Sized>(
    headers: &H,
    body: &[u8],
    certificate_pem: &str,
) -> Result<(), WebhookError> {
    rsa_key(certificate_pem)?.verify(headers, body)
}

/// The signing secret's key, and optionally the certificate's: [`verify`](Self::verify) checks
/// the Standard Webhooks signature, and Partner Center's when a certificate was given.
#[derive(Clone)]
pub struct WebhookVerifier {
    key: Vec<u8>,
    rsa: Option<RsaKey>,
    tolerance: Duration,
}

impl std::fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("rsa", &self.rsa.is_some())
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

impl WebhookVerifier {
    /// `secret`: the registration's `SigningSecret`, `whsec_` and the base64 of the key (the
    /// prefix may be left out).
    pub fn new(secret: &str) -> Result<Self, WebhookError> {
        let encoded = secret.trim();
        let encoded = encoded.strip_prefix(SECRET_PREFIX).unwrap_or(encoded);
        let key = lenient_base64()
            .decode(encoded)
            .map_err(|_| WebhookError::InvalidSecret)?;
        if key.is_empty() {
            return Err(WebhookError::InvalidSecret);
        }
        Ok(Self {
            key,
            rsa: None,
            tolerance: WEBHOOK_TOLERANCE,
        })
    }

    /// Also require Partner Center's RSA signature, by the key of this certificate (PEM).
    pub fn with_certificate(mut self, certificate_pem: &str) -> Result<Self, WebhookError> {
        self.rsa = Some(rsa_key(certificate_pem)?);
        Ok(self)
    }

    /// How far `webhook-timestamp` may be from now (default [`WEBHOOK_TOLERANCE`]).
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies the delivery against the system clock.
    pub fn verify<H: WebhookHeaders + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
    ) -> Result<(), WebhookError> {
        self.verify_at(headers, body, OffsetDateTime::now_utc())
    }

    /// Verifies the delivery as if the receiver's clock said `now`.
    pub fn verify_at<H: WebhookHeaders + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), WebhookError> {
        self.verify_hmac(headers, body, now)?;
        match &self.rsa {
            Some(rsa) => rsa.verify(headers, body),
            None => Ok(()),
        }
    }

    fn verify_hmac<H: WebhookHeaders + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), WebhookError> {
        let id = required(headers, "webhook-id")?;
        let timestamp = required(headers, "webhook-timestamp")?;
        let signatures = required(headers, "webhook-signature")?;
        let sent: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| WebhookError::InvalidHeader("webhook-timestamp"))?;
        let tolerance = i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX);
        let now = now.unix_timestamp();
        if sent < now.saturating_sub(tolerance) {
            return Err(WebhookError::TimestampTooOld);
        }
        if sent > now.saturating_add(tolerance) {
            return Err(WebhookError::TimestampTooNew);
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        let matches = signatures
            .split(' ')
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, signature)| STANDARD.decode(signature).ok())
            // `verify_slice` compares in constant time.
            .any(|signature| mac.clone().verify_slice(&signature).is_ok());
        if matches {
            Ok(())
        } else {
            Err(WebhookError::NoMatchingSignature)
        }
    }
}

/// The public key of a signing certificate.
#[derive(Clone)]
struct RsaKey(VerifyingKey<Sha256>);

fn rsa_key(certificate_pem: &str) -> Result<RsaKey, WebhookError> {
    let bad = |e: &dyn std::fmt::Display| WebhookError::InvalidCertificate(e.to_string());
    let certificate = Certificate::from_pem(certificate_pem.trim()).map_err(|e| bad(&e))?;
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| bad(&e))?;
    let key = RsaPublicKey::from_public_key_der(&spki).map_err(|e| bad(&e))?;
    Ok(RsaKey(VerifyingKey::new(key)))
}

impl RsaKey {
    fn verify<H: WebhookHeaders + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
    ) -> Result<(), WebhookError> {
        if let Some(algorithm) = headers.header("X-MS-Signature-Algorithm")
            && !algorithm.trim().eq_ignore_ascii_case("rsa-sha256")
        {
            return Err(WebhookError::UnsupportedAlgorithm(algorithm.to_owned()));
        }
        let authorization = required(headers, "Authorization")?;
        let encoded = authorization
            .trim()
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Signature"))
            .map(|(_, value)| value.trim())
            .ok_or(WebhookError::InvalidHeader("Authorization"))?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| WebhookError::InvalidHeader("Authorization"))?;
        let signature =
            Signature::try_from(bytes.as_slice()).map_err(|_| WebhookError::BadRsaSignature)?;
        self.0
            .verify(body, &signature)
            .map_err(|_| WebhookError::BadRsaSignature)
    }
}

fn required<'h, H: WebhookHeaders + ?Sized>(
    headers: &'h H,
    name: &'static str,
) -> Result<&'h str, WebhookError> {
    headers
        .header(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or(WebhookError::MissingHeader(name))
}

/// Standard base64, with or without its padding (secrets are pasted by hand).
fn lenient_base64() -> GeneralPurpose {
    GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::RsaPrivateKey;
    use rsa::pkcs1v15::SigningKey;
    use rsa::signature::{SignatureEncoding, Signer};
    use std::str::FromStr;
    use x509_cert::builder::{Builder, CertificateBuilder, Profile};
    use x509_cert::der::EncodePem;
    use x509_cert::der::pem::LineEnding;
    use x509_cert::name::Name;
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::spki::SubjectPublicKeyInfoOwned;
    use x509_cert::time::Validity;

    // The test vector of the Standard Webhooks libraries (and Svix's documentation).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    fn headers(signature: &str) -> Vec<(&'static str, String)> {
        vec![
            ("webhook-id", ID.to_owned()),
            ("webhook-timestamp", TIMESTAMP.to_string()),
            ("webhook-signature", signature.to_owned()),
        ]
    }

    fn verify(secret: &str, signature: &str, body: &[u8], now: i64) -> Result<(), WebhookError> {
        WebhookVerifier::new(secret)?.verify_at(&headers(signature)[..], body, at(now))
    }

    #[test]
    fn the_standard_webhooks_test_vector_verifies() {
        assert_eq!(verify(SECRET, SIGNATURE, BODY, TIMESTAMP), Ok(()));
        // Without the prefix, and within the tolerance either way.
        let bare = SECRET.trim_start_matches(SECRET_PREFIX);
        assert_eq!(verify(bare, SIGNATURE, BODY, TIMESTAMP + 299), Ok(()));
        assert_eq!(verify(SECRET, SIGNATURE, BODY, TIMESTAMP - 299), Ok(()));
    }

    #[test]
    fn any_v1_signature_of_the_list_may_match() {
        let rotating = format!("v1,bm90IHRoaXMgb25l v1a,c29tZXRoaW5nIGVsc2U= {SIGNATURE}");
        assert_eq!(verify(SECRET, &rotating, BODY, TIMESTAMP), Ok(()));
        // The right bytes under another version are not a v1 signature.
        let other_version = SIGNATURE.replacen("v1,", "v2,", 1);
        assert_eq!(
            verify(SECRET, &other_version, BODY, TIMESTAMP),
            Err(WebhookError::NoMatchingSignature)
        );
    }

    #[test]
    fn a_changed_body_id_timestamp_or_secret_is_refused() {
        let refused = Err(WebhookError::NoMatchingSignature);
        assert_eq!(
            verify(SECRET, SIGNATURE, br#"{"test": 2432232315}"#, TIMESTAMP),
            refused
        );
        let other_secret = "whsec_c2VjcmV0LW9mLWFub3RoZXItZW5kcG9pbnQ=";
        assert_eq!(verify(other_secret, SIGNATURE, BODY, TIMESTAMP), refused);
        let mut h = headers(SIGNATURE);
        h[0].1 = "msg_other".into();
        let v = WebhookVerifier::new(SECRET).unwrap();
        assert_eq!(v.verify_at(&h[..], BODY, at(TIMESTAMP)), refused);
        let mut h = headers(SIGNATURE);
        h[1].1 = (TIMESTAMP + 1).to_string();
        assert_eq!(v.verify_at(&h[..], BODY, at(TIMESTAMP)), refused);
    }

    #[test]
    fn stale_future_and_malformed_deliveries_say_why() {
        assert_eq!(
            verify(SECRET, SIGNATURE, BODY, TIMESTAMP + 301),
            Err(WebhookError::TimestampTooOld)
        );
        assert_eq!(
            verify(SECRET, SIGNATURE, BODY, TIMESTAMP - 301),
            Err(WebhookError::TimestampTooNew)
        );
        let v = WebhookVerifier::new(SECRET).unwrap();
        let mut h = headers(SIGNATURE);
        h[1].1 = "yesterday".into();
        assert_eq!(
            v.verify_at(&h[..], BODY, at(TIMESTAMP)),
            Err(WebhookError::InvalidHeader("webhook-timestamp"))
        );
        let h = &headers(SIGNATURE)[..2];
        assert_eq!(
            v.verify_at(h, BODY, at(TIMESTAMP)),
            Err(WebhookError::MissingHeader("webhook-signature"))
        );
        for bad in ["", "whsec_", "whsec_not base64!"] {
            assert_eq!(
                WebhookVerifier::new(bad).unwrap_err(),
                WebhookError::InvalidSecret
            );
        }
    }

    #[test]
    fn header_names_are_case_insensitive_in_every_container() {
        let map: HashMap<String, String> = headers(SIGNATURE)
            .into_iter()
            .map(|(k, v)| (k.to_uppercase(), v))
            .collect();
        let v = WebhookVerifier::new(SECRET).unwrap();
        assert_eq!(v.verify_at(&map, BODY, at(TIMESTAMP)), Ok(()));
        let mut http = reqwest::header::HeaderMap::new();
        for (k, val) in headers(SIGNATURE) {
            http.insert(k, val.parse().unwrap());
        }
        assert_eq!(v.verify_at(&http, BODY, at(TIMESTAMP)), Ok(()));
    }

    /// A self-signed certificate and its key, made the way a server makes its signing pair.
    fn certificate() -> (SigningKey<Sha256>, String) {
        let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let signer = SigningKey::<Sha256>::new(key.clone());
        let spki = SubjectPublicKeyInfoOwned::from_key(key.to_public_key()).unwrap();
        let certificate = CertificateBuilder::new(
            Profile::Root,
            SerialNumber::from(1u32),
            Validity::from_now(Duration::from_secs(3600)).unwrap(),
            Name::from_str("CN=qualify webhooks").unwrap(),
            spki,
            &signer,
        )
        .unwrap()
        .build::<Signature>()
        .unwrap();
        (signer, certificate.to_pem(LineEnding::LF).unwrap())
    }

    #[test]
    fn a_partner_center_signature_round_trips_with_a_generated_certificate() {
        let (signer, pem) = certificate();
        let body = br#"{"EventName":"test-created"}"#;
        let signature = STANDARD.encode(signer.sign(body).to_bytes());
        let mut h = [
            ("Authorization", format!("Signature {signature}")),
            ("X-MS-Signature-Algorithm", "rsa-sha256".to_owned()),
        ];
        assert_eq!(verify_webhook_rsa(&h[..], body, &pem), Ok(()));
        assert_eq!(
            verify_webhook_rsa(&h[..], br#"{"EventName":"test-created "}"#, &pem),
            Err(WebhookError::BadRsaSignature)
        );
        let (_, other_pem) = certificate();
        assert_eq!(
            verify_webhook_rsa(&h[..], body, &other_pem),
            Err(WebhookError::BadRsaSignature)
        );

        // Both at once: the HMAC of the vector and the RSA signature of its body.
        let both = WebhookVerifier::new(SECRET)
            .unwrap()
            .with_certificate(&pem)
            .unwrap();
        let mut all = headers(SIGNATURE);
        all.push((
            "Authorization",
            format!(
                "Signature {}",
                STANDARD.encode(signer.sign(BODY).to_bytes())
            ),
        ));
        assert_eq!(both.verify_at(&all[..], BODY, at(TIMESTAMP)), Ok(()));
        all.pop();
        assert_eq!(
            both.verify_at(&all[..], BODY, at(TIMESTAMP)),
            Err(WebhookError::MissingHeader("Authorization"))
        );

        h[1].1 = "rsa-sha1".into();
        assert_eq!(
            verify_webhook_rsa(&h[..], body, &pem),
            Err(WebhookError::UnsupportedAlgorithm("rsa-sha1".into()))
        );
        h[1].1 = "rsa-sha256".into();
        h[0].1 = format!("Bearer {signature}");
        assert_eq!(
            verify_webhook_rsa(&h[..], body, &pem),
            Err(WebhookError::InvalidHeader("Authorization"))
        );
        assert!(matches!(
            verify_webhook_rsa(&h[..], body, "not a certificate"),
            Err(WebhookError::InvalidCertificate(_))
        ));
    }
}
