//! Authentication attacks that `auth.rs` and `oidc.rs` do not already cover (issue 6, item 4):
//! JWKS key rotation through a JWKS URL (a new key is accepted after a refresh, a removed key is
//! refused, the identity provider being down locks nobody out, a flood of unknown `kid`s does not
//! become a flood of fetches); in `oidc` mode the time and tenant claims, keys offered by the
//! token itself (`jwk`, `jku`, `x5u` headers), odd `kid`s and unsigned tokens.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use qualify_core::PartnerId;
use qualify_server::auth::DEFAULT_AUDIENCE;
use serde_json::{Value, json};

use crate::figures;
use crate::helpers::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/oidc");
const ISSUER: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

/// The JWK of `rsa-1` (from the fixture JWKS) and of `rsa-2`.
fn jwk(kid: &str) -> Value {
    match kid {
        "rsa-2" => serde_json::from_slice(&fixture("rsa-2.jwk.json")).unwrap(),
        _ => {
            let set: Value = serde_json::from_slice(&fixture("jwks.json")).unwrap();
            set["keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["kid"] == kid)
                .unwrap()
                .clone()
        }
    }
}

fn jwks(kids: &[&str]) -> String {
    json!({"keys": kids.iter().map(|k| jwk(k)).collect::<Vec<_>>()}).to_string()
}

fn key(kid: &str) -> EncodingKey {
    match kid {
        "rsa-2" => EncodingKey::from_rsa_pem(&fixture("rsa-2-private.pem")).unwrap(),
        "ec-1" => EncodingKey::from_ec_pem(&fixture("ec-private.pem")).unwrap(),
        _ => EncodingKey::from_rsa_pem(&fixture("rsa-private.pem")).unwrap(),
    }
}

fn claims(tenant: PartnerId) -> Value {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    json!({
        "aud": DEFAULT_AUDIENCE,
        "iss": format!("https://login.microsoftonline.com/{tenant}/v2.0"),
        "tid": tenant.to_string(),
        "iat": now, "nbf": now, "exp": now + 600,
        "scp": "user_impersonation", "upn": "ada@partner.example",
    })
}

fn sign(header: Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn rs256(kid: &str, signer: &str, claims: &Value) -> String {
    let mut h = Header::new(if signer == "ec-1" {
        Algorithm::ES256
    } else {
        Algorithm::RS256
    });
    h.kid = Some(kid.to_owned());
    sign(h, claims, &key(signer))
}

/// A JWKS served over HTTP whose content and status the test changes as it goes.
struct JwksServer {
    url: String,
    content: Arc<Mutex<(StatusCode, String)>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(initial: String) -> Self {
        let content = Arc::new(Mutex::new((StatusCode::OK, initial)));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (c, f) = (content.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/discovery/v2.0/keys",
            axum::routing::get(move || {
                let (c, f) = (c.clone(), f.clone());
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = c.lock().unwrap().clone();
                    (status, [("content-type", "application/json")], body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/discovery/v2.0/keys",
            listener.local_addr().unwrap()
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            content,
            fetches,
        }
    }

    fn publish(&self, body: String) {
        *self.content.lock().unwrap() = (StatusCode::OK, body);
    }

    fn fail(&self) {
        self.content.lock().unwrap().0 = StatusCode::SERVICE_UNAVAILABLE;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn oidc_server(jwks: &str, refresh: &str) -> Server {
    Server::start_with(Options {
        extra: vec![
            "--auth".into(),
            "oidc".into(),
            "--oidc-jwks".into(),
            jwks.into(),
            "--oidc-issuer".into(),
            ISSUER.into(),
            "--oidc-jwks-refresh".into(),
            refresh.into(),
        ],
        ..Default::default()
    })
    .await
}

async fn status(s: &Server, token: &str) -> u16 {
    let r = s.get("/v1/customers").token(token).send().await;
    if r.status != 200 {
        r.assert_error(401, 1002);
    }
    r.status
}

/// Asks until `token` gets `want`, or panics after `within`.
async fn eventually(s: &Server, token: &str, want: u16, within: Duration, what: &str) {
    s.eventually(what, within, async || {
        (status(s, token).await == want).then_some(())
    })
    .await;
}

/// Sends requests with `token` (each must be accepted) until one of them has made the server
/// fetch the JWKS (it refreshes when a request finds its keys older than the interval).
async fn accepted_through_a_refresh(s: &Server, idp: &JwksServer, token: &str, what: &str) {
    let before = idp.fetches();
    poll_until(what, Duration::from_secs(10), async || {
        assert_eq!(status(s, token).await, 200, "{what}");
        (idp.fetches() > before).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_rotation_through_a_url_accepts_new_keys_and_refuses_removed_ones() {
    let idp = JwksServer::start(jwks(&["rsa-1"])).await;
    let s = oidc_server(&idp.url, "1s").await;
    let tenant = PartnerId::new_random();
    let old = rs256("rsa-1", "rsa-1", &claims(tenant));
    let new = rs256("rsa-2", "rsa-2", &claims(tenant));
    assert_eq!(status(&s, &old).await, 200);
    // Not published yet: refused, whatever refreshes it triggers.
    assert_eq!(status(&s, &new).await, 401);

    // The provider publishes the new key next to the old one: accepted after a refresh.
    idp.publish(jwks(&["rsa-1", "rsa-2"]));
    eventually(&s, &new, 200, Duration::from_secs(10), "new key").await;
    assert_eq!(status(&s, &old).await, 200, "both keys published");

    // The old key is withdrawn (rotated out, or compromised): refused within the refresh
    // interval, although no unknown kid ever asks for a refresh.
    idp.publish(jwks(&["rsa-2"]));
    eventually(&s, &old, 401, Duration::from_secs(10), "removed key").await;
    assert_eq!(status(&s, &new).await, 200);

    // The provider is down: the cached keys keep working, nobody is locked out.
    idp.fail();
    accepted_through_a_refresh(&s, &idp, &new, "a refresh while the provider is down").await;
    assert_eq!(status(&s, &new).await, 200);
    assert_eq!(status(&s, &old).await, 401);

    // A flood of unknown kids does not become a flood of fetches.
    // Counted from a refresh that found the provider back.
    idp.publish(jwks(&["rsa-2"]));
    accepted_through_a_refresh(&s, &idp, &new, "a refresh after the provider is back").await;
    let before = idp.fetches();
    let started = tokio::time::Instant::now();
    for i in 0..40 {
        let t = rs256(&format!("unknown-{i}"), "rsa-2", &claims(tenant));
        assert_eq!(status(&s, &t).await, 401);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let fetched = idp.fetches() - before;
    // At most one fetch per refresh interval (1s) and the periodic one.
    assert!(
        fetched as f64 <= elapsed.ceil() + 2.0,
        "{fetched} fetches in {elapsed:.1}s for 40 unknown kids"
    );
    figures::record(&format!(
        "JWKS rotation: new key accepted after refresh, removed key refused, provider outage tolerated, \
         40 unknown kids caused {fetched} fetches in {elapsed:.1}s"
    ));
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_tokens_with_bad_claims_or_self_supplied_keys_are_refused() {
    // The attacker's own JWKS, which no token header may point the server to.
    let evil = JwksServer::start(jwks(&["rsa-2"])).await;
    let s = oidc_server(&format!("{FIXTURES}/jwks.json"), "1h").await;
    let tenant = PartnerId::new_random();
    let good = claims(tenant);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(k);
        c
    };
    // The control: the same construction, unspoiled, is accepted.
    assert_eq!(status(&s, &rs256("rsa-1", "rsa-1", &good)).await, 200);

    let header_with = |extra: Value| {
        let mut h = json!({"alg": "RS256", "typ": "JWT", "kid": "rsa-1"});
        for (k, v) in extra.as_object().unwrap() {
            h[k] = v.clone();
        }
        h
    };
    // Signs the given header and claims with rsa-2 (the attacker's key), raw.
    let forged = |header: Value, claims: &Value| {
        let input = format!("{}.{}", b64(&header), b64(claims));
        let sig =
            jsonwebtoken::crypto::sign(input.as_bytes(), &key("rsa-2"), Algorithm::RS256).unwrap();
        format!("{input}.{sig}")
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "expired",
            rs256("rsa-1", "rsa-1", &with("exp", json!(now - 120))),
        ),
        (
            "not valid before an hour from now",
            rs256("rsa-1", "rsa-1", &with("nbf", json!(now + 3600))),
        ),
        (
            "issued a day in the future",
            rs256("rsa-1", "rsa-1", &with("iat", json!(now + 86_400))),
        ),
        ("no exp", rs256("rsa-1", "rsa-1", &without("exp"))),
        ("no aud", rs256("rsa-1", "rsa-1", &without("aud"))),
        (
            "audience of another API",
            rs256(
                "rsa-1",
                "rsa-1",
                &with("aud", json!(["https://graph.microsoft.com"])),
            ),
        ),
        ("no tid", rs256("rsa-1", "rsa-1", &without("tid"))),
        (
            "non-GUID tid (issuer made to match)",
            rs256("rsa-1", "rsa-1", &{
                let mut c = with("tid", json!("contoso.onmicrosoft.com"));
                c["iss"] = json!("https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0");
                c
            }),
        ),
        (
            "numeric tid",
            rs256("rsa-1", "rsa-1", &with("tid", json!(7))),
        ),
        ("no iss", rs256("rsa-1", "rsa-1", &without("iss"))),
        (
            "unsigned, alg none, known kid",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "kid": "rsa-1"})),
                b64(&good)
            ),
        ),
        (
            "signed with the attacker's key, which the jwk header carries",
            forged(header_with(json!({"jwk": jwk("rsa-2")})), &good),
        ),
        (
            "signed with the attacker's key, which the jku header points to",
            forged(header_with(json!({"jku": evil.url, "kid": "rsa-2"})), &good),
        ),
        (
            "signed with the attacker's key, x5u header",
            forged(header_with(json!({"x5u": evil.url})), &good),
        ),
        (
            "kid names the attacker's key",
            forged(header_with(json!({"kid": "rsa-2"})), &good),
        ),
        (
            "kid with a path",
            forged(header_with(json!({"kid": "../../../../etc/passwd"})), &good),
        ),
        (
            "kid with SQL",
            forged(header_with(json!({"kid": "x' OR '1'='1"})), &good),
        ),
        ("signature of another token", {
            let a = rs256("rsa-1", "rsa-1", &good);
            let b = rs256(
                "rsa-1",
                "rsa-1",
                &with("tid", json!(PartnerId::new_random().to_string())),
            );
            let sig = a.rsplit('.').next().unwrap();
            format!("{}.{sig}", &b[..b.rfind('.').unwrap()])
        }),
        (
            "ES256 token under the RSA kid, signed by the EC key",
            rs256("rsa-1", "ec-1", &good),
        ),
    ];
    for (what, t) in &cases {
        let r = s.get("/v1/customers").token(t).send().await;
        assert_eq!(r.status, 401, "{what}: {}", r.text);
        r.assert_error(401, 1002);
        // A write is refused the same way.
        let r = s
            .post("/v1/customers")
            .token(t)
            .json(customer_body("contoso.com"))
            .send()
            .await;
        assert_eq!(r.status, 401, "{what}: {}", r.text);
    }
    assert_eq!(
        evil.fetches(),
        0,
        "a token header made the server fetch a key"
    );
    // Nothing was created for the tenant by the refused writes.
    let r = s
        .get("/v1/customers")
        .token(&rs256("rsa-1", "rsa-1", &good))
        .send()
        .await;
    assert_eq!(r.body["totalCount"], 0, "{}", r.text);
    figures::record(&format!(
        "oidc attacks: {} forged or spoiled tokens refused with 401 1002 on a read and a write",
        cases.len()
    ));
}
