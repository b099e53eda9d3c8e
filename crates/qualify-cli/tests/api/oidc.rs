//! `--auth oidc`: RS256/ES256 tokens against a JWKS file, issuer and audience checked; the dev
//! secret and every other algorithm refused (including HS256 keyed with the RSA public key).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use qualify_core::PartnerId;
use qualify_server::auth::{DEFAULT_AUDIENCE, DEFAULT_DEV_SECRET};
use serde_json::{Value, json};

use crate::helpers::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/oidc");
const ISSUER: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

pub(crate) fn claims(tenant: PartnerId) -> Value {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    json!({
        "aud": DEFAULT_AUDIENCE,
        "iss": format!("https://login.microsoftonline.com/{tenant}/v2.0"),
        "tid": tenant.to_string(),
        "iat": now, "nbf": now, "exp": now + 600,
        "scp": "user_impersonation", "upn": "ada@partner.example",
    })
}

pub(crate) fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

pub(crate) fn rsa() -> EncodingKey {
    EncodingKey::from_rsa_pem(&fixture("rsa-private.pem")).unwrap()
}

fn ec() -> EncodingKey {
    EncodingKey::from_ec_pem(&fixture("ec-private.pem")).unwrap()
}

async fn oidc_server() -> Server {
    oidc_server_with(&[]).await
}

/// An `--auth oidc` server with these further flags.
pub(crate) async fn oidc_server_with(flags: &[&str]) -> Server {
    let mut extra: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
    extra.extend([
        "--auth".into(),
        "oidc".into(),
        "--oidc-jwks".into(),
        format!("{FIXTURES}/jwks.json"),
        "--oidc-issuer".into(),
        ISSUER.into(),
    ]);
    Server::start_with(Options {
        extra,
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn rs256_and_es256_tokens_from_the_jwks_are_accepted() {
    let s = oidc_server().await;
    let tenant = PartnerId::new_random();
    for token in [
        sign(Algorithm::RS256, Some("rsa-1"), &claims(tenant), &rsa()),
        sign(Algorithm::ES256, Some("ec-1"), &claims(tenant), &ec()),
    ] {
        let r = s
            .post("/v1/customers")
            .token(&token)
            .json(customer_body("contoso.onmicrosoft.com"))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let c = r.body["id"].as_str().unwrap();
        let r = s
            .post(&format!("/v1/customers/{c}/qualifications"))
            .token(&token)
            .json(json!({"qualification": "StateOwnedEntity"}))
            .send()
            .await;
        assert_eq!(r.status, 201, "App+User from the claims: {}", r.text);
    }
}

#[tokio::test]
async fn every_other_token_is_refused_in_oidc_mode() {
    let s = oidc_server().await;
    let tenant = PartnerId::new_random();
    let good = claims(tenant);
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let rsa_public = fixture("rsa-public.pem");
    let cases: Vec<(&str, String)> = vec![
        ("dev token", token(tenant, false, false)),
        (
            "HS256 with the dev secret",
            sign(
                Algorithm::HS256,
                Some("rsa-1"),
                &good,
                &EncodingKey::from_secret(DEFAULT_DEV_SECRET.as_bytes()),
            ),
        ),
        (
            "HS256 keyed with the RSA public key",
            sign(
                Algorithm::HS256,
                Some("rsa-1"),
                &good,
                &EncodingKey::from_secret(&rsa_public),
            ),
        ),
        (
            "unknown kid",
            sign(Algorithm::RS256, Some("rsa-9"), &good, &rsa()),
        ),
        (
            "RS256 under the EC key's kid",
            sign(Algorithm::RS256, Some("ec-1"), &good, &rsa()),
        ),
        (
            "ES256 under the RSA key's kid",
            sign(Algorithm::ES256, Some("rsa-1"), &good, &ec()),
        ),
        (
            "wrong issuer",
            sign(
                Algorithm::RS256,
                Some("rsa-1"),
                &with("iss", json!("https://evil.example/")),
                &rsa(),
            ),
        ),
        (
            "issuer of another tenant",
            sign(
                Algorithm::RS256,
                Some("rsa-1"),
                &with(
                    "iss",
                    json!(format!(
                        "https://login.microsoftonline.com/{}/v2.0",
                        PartnerId::new_random()
                    )),
                ),
                &rsa(),
            ),
        ),
        (
            "wrong audience",
            sign(
                Algorithm::RS256,
                Some("rsa-1"),
                &with("aud", json!("https://graph.microsoft.com")),
                &rsa(),
            ),
        ),
        (
            "expired",
            sign(
                Algorithm::RS256,
                Some("rsa-1"),
                &with("exp", json!(1_000_000)),
                &rsa(),
            ),
        ),
        (
            "RS384",
            sign(Algorithm::RS384, Some("rsa-1"), &good, &rsa()),
        ),
    ];
    for (what, t) in cases {
        let r = s.get("/v1/customers").token(&t).send().await;
        assert_eq!(r.status, 401, "{what}: {}", r.text);
        r.assert_error(401, 1002);
    }
}

#[tokio::test]
async fn oidc_mode_needs_its_settings_at_start_up() {
    let out = std::process::Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            "sqlite::memory:",
            "--auth",
            "oidc",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--oidc-jwks"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            "sqlite::memory:",
            "--auth",
            "oidc",
            "--oidc-issuer",
            "x",
        ])
        .args(["--oidc-jwks", "/nonexistent/jwks.json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("JWKS"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
