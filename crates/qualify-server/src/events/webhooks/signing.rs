//! The key that signs every delivery (Partner Center's `Authorization: Signature`): loaded from
//! the store, or generated once and stored there, so every instance signs alike.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use qualify_store::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use sha2::Sha256;

/// The key that signs every delivery (Partner Center's `Authorization: Signature`), loaded from
/// the store or generated once and stored there, so every instance signs alike.
/// Signing runs on `ring` (the private-key operation is the costliest part of a delivery; `rsa`
/// only generates the key and builds the certificate, once).
pub struct Signer {
    key: ring::rsa::KeyPair,
    rng: ring::rand::SystemRandom,
    pub certificate: String,
}

impl Signer {
    pub fn sign(&self, body: &[u8]) -> String {
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &self.rng,
                body,
                &mut signature,
            )
            .expect("signing with a valid RSA key");
        B64.encode(signature)
    }

    pub fn from_stored(k: &SigningKey) -> Result<Self, String> {
        let unreadable = |e: &dyn std::fmt::Display| {
            format!("the stored webhook signing key is unreadable: {e}")
        };
        let der = rsa::RsaPrivateKey::from_pkcs8_pem(&k.private_key)
            .and_then(|key| key.to_pkcs8_der())
            .map_err(|e| unreadable(&e))?;
        let key = ring::rsa::KeyPair::from_pkcs8(der.as_bytes()).map_err(|e| unreadable(&e))?;
        Ok(Self {
            key,
            rng: ring::rand::SystemRandom::new(),
            certificate: k.certificate.clone(),
        })
    }
}

/// A new RSA-2048 key and its self-signed certificate (valid 20 years).
pub fn generate_key() -> Result<SigningKey, String> {
    use std::str::FromStr;
    use x509_cert::builder::{Builder, CertificateBuilder, Profile};
    use x509_cert::der::EncodePem;
    use x509_cert::name::Name;
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::spki::SubjectPublicKeyInfoOwned;
    use x509_cert::time::Validity;

    let fail = |e: &dyn std::fmt::Display| format!("generating the webhook signing key: {e}");
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).map_err(|e| fail(&e))?;
    let signing = rsa::pkcs1v15::SigningKey::<Sha256>::new(key.clone());
    let spki = SubjectPublicKeyInfoOwned::from_key(key.to_public_key()).map_err(|e| fail(&e))?;
    let subject = Name::from_str("CN=qualify webhook signing,O=qualify").map_err(|e| fail(&e))?;
    let serial: [u8; 16] = rand::random();
    let mut serial = serial;
    serial[0] &= 0x7f;
    let validity =
        Validity::from_now(Duration::from_secs(20 * 365 * 86400)).map_err(|e| fail(&e))?;
    let builder = CertificateBuilder::new(
        Profile::Root,
        SerialNumber::new(&serial).map_err(|e| fail(&e))?,
        validity,
        subject,
        spki,
        &signing,
    )
    .map_err(|e| fail(&e))?;
    let cert = builder
        .build::<rsa::pkcs1v15::Signature>()
        .map_err(|e| fail(&e))?;
    Ok(SigningKey {
        private_key: key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| fail(&e))?
            .to_string(),
        certificate: cert.to_pem(LineEnding::LF).map_err(|e| fail(&e))?,
    })
}
