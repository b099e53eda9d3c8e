//! The auth matrix of api.md section 2: token validation, App-only vs App+User per endpoint,
//! tenant isolation on every customer-scoped endpoint, the operator API's admin role, and the
//! GDAP role a GCC request needs.

use axum::http::Method;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use qualify_server::auth::{DEFAULT_AUDIENCE, DEFAULT_DEV_SECRET};
use serde_json::{Value, json};

use crate::support::*;

const ONE_DAY: i64 = 24 * 3600;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The claims of a valid App+User token of `tenant`, to be spoiled one at a time.
fn good_claims(tenant: &str) -> Value {
    let now = now();
    json!({
        "aud": DEFAULT_AUDIENCE,
        "iss": format!("https://sts.windows.net/{tenant}/"),
        "tid": tenant,
        "oid": new_id(),
        "appid": "qualify-tests",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "scp": "user_impersonation",
        "upn": "user@partner.example",
    })
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// A JWT with the given header and claims, HMAC-SHA256-signed with `secret` whatever the header
/// says.
fn hs256_jwt(header: Value, claims: &Value, secret: &str) -> String {
    let signing_input = format!("{}.{}", b64(&header), b64(claims));
    let signature = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &EncodingKey::from_secret(secret.as_bytes()),
        Algorithm::HS256,
    )
    .expect("HMAC signing");
    format!("{signing_input}.{signature}")
}

fn signed(claims: &Value) -> String {
    hs256_jwt(
        json!({"alg": "HS256", "typ": "JWT"}),
        claims,
        DEFAULT_DEV_SECRET,
    )
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

#[tokio::test]
async fn a_hand_built_token_with_good_claims_is_accepted() {
    // The control for the bad-token cases below: the same construction, unspoiled, works.
    let s = TestApp::new().await;
    let tenant = new_id();
    let r = s
        .get("/v1/customers")
        .token(&signed(&good_claims(&tenant)))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s
        .post("/v1/customers")
        .token(&signed(&good_claims(&tenant)))
        .json(customer_body("contoso.com"))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn the_credential_type_comes_from_the_claims() {
    let s = TestApp::new().await;
    let tenant = new_id();
    let good = good_claims(&tenant);
    let r = s
        .post("/v1/customers")
        .token(&signed(&good))
        .json(customer_body("contoso.com"))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let c = r.body["id"].as_str().unwrap().to_owned();
    let create = |token: String, q: &'static str| {
        let path = format!("/v1/customers/{c}/qualifications");
        let s = &s;
        async move {
            s.post(&path)
                .token(&token)
                .json(json!({"qualification": q}))
                .send()
                .await
        }
    };
    // App-only: idtyp app (even with scp and a user), or no scp.
    let app_only = [
        ("idtyp app", with(good.clone(), "idtyp", json!("app"))),
        ("no scp", without(good.clone(), "scp")),
        ("empty scp", with(good.clone(), "scp", json!(""))),
    ];
    for (name, claims) in &app_only {
        let r = create(signed(claims), "StateOwnedEntity").await;
        assert_eq!(r.status, 403, "{name}: {}", r.text);
        r.assert_error(403, 900150);
    }
    assert_eq!(
        s.get(&format!("/v1/customers/{c}/qualifications"))
            .token(&signed(&good))
            .send()
            .await
            .body,
        json!([])
    );
    // App+User: scp and a user, as upn or unique_name; the scheme name is case-insensitive.
    let unique_name = with(
        without(good.clone(), "upn"),
        "unique_name",
        json!("user@partner.example"),
    );
    let r = create(signed(&unique_name), "StateOwnedEntity").await;
    assert_eq!(r.status, 201, "unique_name: {}", r.text);
    let r = s
        .get(&format!("/v1/customers/{c}/validationStatus?type=account"))
        .header("Authorization", &format!("bearer {}", signed(&good)))
        .send()
        .await;
    r.assert_error(404, 600074);
}

#[tokio::test]
async fn a_missing_token_is_401_800001() {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    for path in [
        "/v1/customers".to_owned(),
        format!("/v1/customers/{c}"),
        format!("/v1/customers/{c}/qualifications"),
        "/v1/customers/all/validations".into(),
    ] {
        s.get(&path).send().await.assert_error(401, 800001);
        s.get(&path)
            .header("Authorization", "")
            .send()
            .await
            .assert_error(401, 800001);
    }
    s.post(&format!("/v1/customers/{c}/qualifications"))
        .json(json!({"qualification": "StateOwnedEntity"}))
        .send()
        .await
        .assert_error(401, 800001);
    assert_eq!(s.qualifications(&p, &c).await, json!([]));
}

#[tokio::test]
async fn other_schemes_and_garbage_are_401_1002() {
    let s = TestApp::new().await;
    let p = s.partner();
    for value in [
        "Basic dXNlcjpwYXNzd29yZA==".to_owned(),
        "Bearer garbage".into(),
        "Bearer a.b.c".into(),
        "Bearer ".to_owned() + &"x".repeat(5000),
        "garbage".into(),
        format!("Token {}", p.app_user),
        p.app_user.clone(),
    ] {
        let r = s
            .get("/v1/customers")
            .header("Authorization", &value)
            .send()
            .await;
        r.assert_error(401, 1002);
    }
}

#[tokio::test]
async fn bad_tokens_are_each_401_1002() {
    let s = TestApp::new().await;
    let tenant = new_id();
    let good = good_claims(&tenant);
    let t = now();
    let cases: Vec<(&str, String)> = vec![
        (
            "alg none, unsigned",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&good)
            ),
        ),
        (
            "alg None, capitalised",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "None", "typ": "JWT"})),
                b64(&good)
            ),
        ),
        (
            "wrong secret",
            hs256_jwt(
                json!({"alg": "HS256", "typ": "JWT"}),
                &good,
                "not-the-dev-secret",
            ),
        ),
        (
            "expired an hour ago",
            signed(&with(
                with(
                    with(good.clone(), "exp", json!(t - 3600)),
                    "iat",
                    json!(t - 7200),
                ),
                "nbf",
                json!(t - 7200),
            )),
        ),
        (
            "expired two minutes ago",
            signed(&with(good.clone(), "exp", json!(t - 120))),
        ),
        (
            "not valid before an hour from now",
            signed(&with(
                with(good.clone(), "nbf", json!(t + 3600)),
                "exp",
                json!(t + 7200),
            )),
        ),
        (
            "not valid before two minutes from now",
            signed(&with(good.clone(), "nbf", json!(t + 120))),
        ),
        (
            "wrong audience",
            signed(&with(
                good.clone(),
                "aud",
                json!("https://graph.microsoft.com"),
            )),
        ),
        ("no audience", signed(&without(good.clone(), "aud"))),
        ("no exp", signed(&without(good.clone(), "exp"))),
        ("no tid", signed(&without(good.clone(), "tid"))),
        (
            "non-GUID tid",
            signed(&with(good.clone(), "tid", json!("contoso.onmicrosoft.com"))),
        ),
        ("numeric tid", signed(&with(good.clone(), "tid", json!(42)))),
        (
            "iat a day in the future",
            signed(&with(good.clone(), "iat", json!(t + ONE_DAY))),
        ),
        (
            "alg RS256 with an HMAC signature",
            hs256_jwt(
                json!({"alg": "RS256", "typ": "JWT"}),
                &good,
                DEFAULT_DEV_SECRET,
            ),
        ),
        (
            "alg ES256 with an HMAC signature",
            hs256_jwt(
                json!({"alg": "ES256", "typ": "JWT"}),
                &good,
                DEFAULT_DEV_SECRET,
            ),
        ),
        ("alg HS512 with the dev secret", {
            let input = format!(
                "{}.{}",
                b64(&json!({"alg": "HS512", "typ": "JWT"})),
                b64(&good)
            );
            let sig = jsonwebtoken::crypto::sign(
                input.as_bytes(),
                &EncodingKey::from_secret(DEFAULT_DEV_SECRET.as_bytes()),
                Algorithm::HS512,
            )
            .unwrap();
            format!("{input}.{sig}")
        }),
        ("signature stripped", {
            let t = signed(&good);
            t[..t.rfind('.').unwrap() + 1].to_owned()
        }),
        ("claims swapped after signing", {
            let t = signed(&good);
            let other = b64(&with(good.clone(), "tid", json!(new_id())));
            let parts: Vec<&str> = t.split('.').collect();
            format!("{}.{}.{}", parts[0], other, parts[2])
        }),
    ];
    for (name, token) in &cases {
        let r = s.get("/v1/customers").token(token).send().await;
        assert_eq!(r.status, 401, "{name}: {}", r.text);
        assert_eq!(r.body["code"].as_u64(), Some(1002), "{name}: {}", r.text);
        r.assert_error(401, 1002);
        // A write is refused the same way and stores nothing.
        let r = s
            .post("/v1/customers")
            .token(token)
            .json(customer_body("contoso.com"))
            .send()
            .await;
        assert_eq!(r.status, 401, "{name}: {}", r.text);
        r.assert_error(401, 1002);
    }
    // Nothing was created for the tenant by any of the refused writes.
    let r = s.get("/v1/customers").token(&signed(&good)).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["totalCount"], 0, "{}", r.text);
}

struct Fixture {
    s: TestApp,
    p: Partner,
    c: String,
}

async fn fixture() -> Fixture {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    Fixture { s, p, c }
}

fn billing_body() -> Value {
    json!({
        "firstName": "Grace", "lastName": "Hopper", "email": "grace@contoso.com", "culture": "en-US", "language": "en",
        "companyName": "Contoso",
        "defaultAddress": {"country": "US", "city": "Arlington", "state": "VA", "addressLine1": "1 Navy Way", "postalCode": "22202"}
    })
}

async fn billing_etag(s: &Api, p: &Partner, c: &str) -> String {
    let r = s
        .get(&format!("/v1/customers/{c}/profiles/billing"))
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["attributes"]["etag"]
        .as_str()
        .expect("billing profile etag")
        .to_owned()
}

#[tokio::test]
async fn app_only_is_refused_exactly_where_the_table_says() {
    let Fixture { s, p, c } = fixture().await;
    let admin = s.admin_token();
    let r = s
        .put(&format!("/admin/v1/customers/{c}/validationStatus"))
        .token(&admin)
        .json(json!({"status": "Allowed"}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // App-only: 403 900150 on the three App+User operations, and nothing is stored.
    s.post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_only)
        .json(json!({"qualification": "StateOwnedEntity"}))
        .send()
        .await
        .assert_error(403, 900150);
    s.post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_only)
        .json(json!({"qualification": "Education", "educationSegment": "K12"}))
        .send()
        .await
        .assert_error(403, 900150);
    s.put(&format!("/v1/customers/{c}/qualification"))
        .token(&p.app_only)
        .json(json!("state_owned_entity"))
        .send()
        .await
        .assert_error(403, 900150);
    s.get(&format!("/v1/customers/{c}/validationStatus?type=account"))
        .token(&p.app_only)
        .send()
        .await
        .assert_error(403, 900150);
    assert_eq!(s.qualifications(&p, &c).await, json!([]));

    // App-only: allowed everywhere else.
    let r = s
        .get(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_only)
        .send()
        .await;
    assert_eq!((r.status, &r.body), (200, &json!([])), "{}", r.text);
    let r = s
        .get(&format!("/v1/customers/{c}/qualification"))
        .token(&p.app_only)
        .send()
        .await;
    assert_eq!((r.status, &r.body), (200, &json!("none")), "{}", r.text);
    let r = s
        .get("/v1/customers/all/validations")
        .token(&p.app_only)
        .send()
        .await;
    assert_eq!((r.status, &r.body), (200, &json!([])), "{}", r.text);
    let r = s
        .post("/v1/customers")
        .token(&p.app_only)
        .json(customer_body("fabrikam.com"))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = s.get("/v1/customers").token(&p.app_only).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["totalCount"], 2, "{}", r.text);
    let r = s
        .get(&format!("/v1/customers/{c}"))
        .token(&p.app_only)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], c.as_str());
    let r = s
        .get(&format!("/v1/customers/{c}/profiles/company"))
        .token(&p.app_only)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s
        .get(&format!("/v1/customers/{c}/profiles/billing"))
        .token(&p.app_only)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let etag = billing_etag(&s, &p, &c).await;
    let r = s
        .put(&format!("/v1/customers/{c}/profiles/billing"))
        .token(&p.app_only)
        .header("If-Match", &etag)
        .json(billing_body())
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["firstName"], "Grace", "{}", r.text);

    // App+User: allowed everywhere.
    let r = s
        .get(&format!("/v1/customers/{c}/validationStatus?type=account"))
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "Allowed", "{}", r.text);
    let r = s
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .json(json!({"qualification": "StateOwnedEntity"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let c2 = s.create_customer(&p).await;
    let r = s
        .put(&format!("/v1/customers/{c2}/qualification"))
        .token(&p.app_user)
        .json(json!("state_owned_entity"))
        .send()
        .await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!("state_owned_entity")),
        "{}",
        r.text
    );
    let r = s
        .get(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body.as_array().map(Vec::len), Some(1), "{}", r.text);
    let r = s
        .get(&format!("/v1/customers/{c}/qualification"))
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!("state_owned_entity")),
        "{}",
        r.text
    );
    let r = s
        .get("/v1/customers/all/validations")
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s
        .get(&format!("/v1/customers/{c}"))
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s
        .get(&format!("/v1/customers/{c}/profiles/company"))
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let etag = billing_etag(&s, &p, &c).await;
    let r = s
        .put(&format!("/v1/customers/{c}/profiles/billing"))
        .token(&p.app_user)
        .header("If-Match", &etag)
        .json(billing_body())
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // The App-only refusals left the App+User results alone: exactly the two requests made.
    assert_eq!(s.qualifications(&p, &c).await.as_array().unwrap().len(), 1);
    assert_eq!(s.qualifications(&p, &c2).await.as_array().unwrap().len(), 1);
}

/// One customer-scoped request of partner `token` on customer `id` (api.md 4.1 - 4.6).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Scoped {
    GetCustomer,
    CompanyProfile,
    GetBilling,
    PutBilling,
    ListQualifications,
    CreateQualification,
    LegacyGet,
    LegacyPut,
    ValidationStatus,
}

const SCOPED: [Scoped; 9] = [
    Scoped::GetCustomer,
    Scoped::CompanyProfile,
    Scoped::GetBilling,
    Scoped::PutBilling,
    Scoped::ListQualifications,
    Scoped::CreateQualification,
    Scoped::LegacyGet,
    Scoped::LegacyPut,
    Scoped::ValidationStatus,
];

async fn scoped(s: &Api, token: &str, id: &str, what: Scoped, etag: &str) -> Resp {
    match what {
        Scoped::GetCustomer => s.get(&format!("/v1/customers/{id}")).token(token).send().await,
        Scoped::CompanyProfile => s.get(&format!("/v1/customers/{id}/profiles/company")).token(token).send().await,
        Scoped::GetBilling => s.get(&format!("/v1/customers/{id}/profiles/billing")).token(token).send().await,
        Scoped::PutBilling => {
            s.put(&format!("/v1/customers/{id}/profiles/billing")).token(token).header("If-Match", etag).json(billing_body()).send().await
        }
        Scoped::ListQualifications => s.get(&format!("/v1/customers/{id}/qualifications")).token(token).send().await,
        Scoped::CreateQualification => {
            s.post(&format!("/v1/customers/{id}/qualifications"))
                .token(token)
                .json(json!({"qualification": "Education", "educationSegment": "HigherEducation", "website": "contoso.edu"}))
                .send()
                .await
        }
        Scoped::LegacyGet => s.get(&format!("/v1/customers/{id}/qualification")).token(token).send().await,
        Scoped::LegacyPut => s.put(&format!("/v1/customers/{id}/qualification")).token(token).json(json!("education")).send().await,
        Scoped::ValidationStatus => s.get(&format!("/v1/customers/{id}/validationStatus?type=account")).token(token).send().await,
    }
}

#[tokio::test]
async fn every_customer_scoped_endpoint_isolates_tenants() {
    let s = TestApp::new().await;
    let a = s.partner();
    let b = s.partner();
    let ca = s.create_customer(&a).await;
    let cb = s.create_customer(&b).await;
    let r = s
        .put(&format!("/admin/v1/customers/{ca}/validationStatus"))
        .token(&s.admin_token())
        .json(json!({"status": "Allowed"}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let etag_a = billing_etag(&s, &a, &ca).await;
    let before_customer = s
        .get(&format!("/v1/customers/{ca}"))
        .token(&a.app_user)
        .send()
        .await
        .body;
    let before_billing = s
        .get(&format!("/v1/customers/{ca}/profiles/billing"))
        .token(&a.app_user)
        .send()
        .await
        .body;

    for what in SCOPED {
        // Another partner's existing customer: 403 20002, naming both ids.
        let r = scoped(&s, &b.app_user, &ca, what, &etag_a).await;
        assert_eq!(r.status, 403, "{what:?}: {}", r.text);
        r.assert_error(403, 20002);
        let description = r.body["description"].as_str().unwrap();
        assert!(description.contains(&ca), "{what:?}: {description}");
        assert!(
            description.contains(&b.id.to_string()),
            "{what:?}: {description}"
        );
        // The same with B's App-only token where App-only is allowed at all.
        if !matches!(
            what,
            Scoped::CreateQualification | Scoped::LegacyPut | Scoped::ValidationStatus
        ) {
            scoped(&s, &b.app_only, &ca, what, &etag_a)
                .await
                .assert_error(403, 20002);
        }
        // A GUID that exists nowhere: 404 1000.
        let r = scoped(&s, &b.app_user, &new_id(), what, &etag_a).await;
        assert_eq!(r.status, 404, "{what:?}: {}", r.text);
        r.assert_error(404, 1000);
        // Not a GUID: 400 900118.
        for bad in [
            "not-a-guid",
            "12345",
            "contoso.onmicrosoft.com",
            "00000000-0000-0000-0000-00000000000g",
        ] {
            let r = scoped(&s, &b.app_user, bad, what, &etag_a).await;
            assert_eq!(r.status, 400, "{what:?} {bad}: {}", r.text);
            r.assert_error(400, 900118);
        }
        // B's own customer works (the control).
        let etag_b = billing_etag(&s, &b, &cb).await;
        let r = scoped(&s, &b.app_user, &cb, what, &etag_b).await;
        let expected: &[u16] = match what {
            Scoped::CreateQualification => &[201],
            // B's customer has Education from the create above by now: a conflict, not a 403.
            Scoped::LegacyPut => &[409],
            // No account validation status was set for B's customer.
            Scoped::ValidationStatus => &[404],
            _ => &[200],
        };
        assert!(
            expected.contains(&r.status),
            "{what:?} on own customer: {}",
            r.text
        );
        if what == Scoped::ValidationStatus {
            r.assert_error(404, 600074);
        }
    }

    // B's attempts changed nothing of A's.
    assert_eq!(s.qualifications(&a, &ca).await, json!([]));
    let r = s
        .get(&format!("/v1/customers/{ca}/qualification"))
        .token(&a.app_user)
        .send()
        .await;
    assert_eq!(r.body, json!("none"));
    assert_eq!(
        s.get(&format!("/v1/customers/{ca}"))
            .token(&a.app_user)
            .send()
            .await
            .body,
        before_customer
    );
    assert_eq!(
        s.get(&format!("/v1/customers/{ca}/profiles/billing"))
            .token(&a.app_user)
            .send()
            .await
            .body,
        before_billing
    );
    assert_eq!(billing_etag(&s, &a, &ca).await, etag_a);
}

#[tokio::test]
async fn lists_never_show_another_partners_data() {
    let s = TestApp::new().await;
    let a = s.partner();
    let b = s.partner();
    let a1 = s.create_customer_with_domain(&a, "a1.example.com").await;
    let a2 = s.create_customer_with_domain(&a, "a2.example.com").await;
    let code_a = s.issue_code(&a, 5).await;

    // B has nothing yet: empty lists, not A's.
    let r = s.get("/v1/customers").token(&b.app_user).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["totalCount"], 0, "{}", r.text);
    assert_eq!(r.body["items"], json!([]), "{}", r.text);
    assert_eq!(s.codes(&b).await, json!([]));

    let b1 = s.create_customer_with_domain(&b, "b1.example.com").await;
    let code_b = s.issue_code(&b, 2).await;
    for token in [&b.app_user, &b.app_only] {
        let r = s.get("/v1/customers").token(token).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["totalCount"], 1, "{}", r.text);
        let ids: Vec<&str> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![b1.as_str()], "{}", r.text);
        assert!(
            !r.text.contains(&a1) && !r.text.contains(&a2) && !r.text.contains("a1.example.com"),
            "{}",
            r.text
        );
        let r = s
            .get("/v1/customers/all/validations")
            .token(token)
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let codes = r.body.as_array().unwrap();
        assert_eq!(codes.len(), 1, "{}", r.text);
        assert_eq!(codes[0]["validationId"], code_b.as_str());
        assert_eq!(codes[0]["partnerId"], b.id.to_string());
    }
    // A still sees its own two and its own code.
    let r = s.get("/v1/customers").token(&a.app_user).send().await;
    assert_eq!(r.body["totalCount"], 2, "{}", r.text);
    let codes = s.codes(&a).await;
    assert_eq!(codes.as_array().unwrap().len(), 1);
    assert_eq!(codes[0]["validationId"], code_a.as_str());

    // B cannot use A's code either: it is not one of B's codes.
    let r = s
        .post(&format!("/v1/customers/{b1}/qualifications"))
        .token(&b.app_user)
        .json(json!({"qualification": "GovernmentCommunityCloud", "validationCode": code_a}))
        .send()
        .await;
    r.assert_error(400, 900304);
    assert_eq!(s.codes(&a).await[0]["remainingCreates"], 5);
}

/// Every operator route, as (method, path, body).
fn admin_routes(partner: &Partner, customer: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (
            Method::POST,
            format!("/admin/v1/partners/{}/validations", partner.id),
            Some(json!({"organizationName": "Contoso Gov", "maxCreates": 5})),
        ),
        (
            Method::GET,
            format!("/admin/v1/partners/{}/validations", partner.id),
            None,
        ),
        (
            Method::GET,
            "/admin/v1/reviews?status=InReview".into(),
            None,
        ),
        (
            Method::POST,
            format!("/admin/v1/customers/{customer}/qualifications/Education/decision"),
            Some(json!({"vettingStatus": "Approved"})),
        ),
        (
            Method::GET,
            format!("/admin/v1/customers/{customer}/qualifications/Education/history"),
            None,
        ),
        (
            Method::PUT,
            format!("/admin/v1/customers/{customer}/validationStatus"),
            Some(json!({"status": "Allowed"})),
        ),
        (
            Method::PUT,
            format!("/admin/v1/customers/{customer}/gdap"),
            Some(json!({"roles": ["User Administrator"]})),
        ),
        (
            Method::GET,
            format!("/admin/v1/customers/{customer}/gdap"),
            None,
        ),
    ]
}

#[tokio::test]
async fn the_operator_api_needs_the_admin_role() {
    let Fixture { s, p, c } = fixture().await;
    let r = s
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .json(json!({"qualification": "Education", "educationSegment": "K12"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let etag = s.review_etag(&c, "Education").await;
    let other_role = signed(&with(
        good_claims(&p.id.to_string()),
        "roles",
        json!(["Qualify.Reader"]),
    ));
    let admin_wrong_secret = hs256_jwt(
        json!({"alg": "HS256", "typ": "JWT"}),
        &with(good_claims(&new_id()), "roles", json!(["Qualify.Admin"])),
        "not-the-dev-secret",
    );

    for (method, path, body) in admin_routes(&p, &c) {
        let req = |token: Option<&str>| {
            let mut r = s.req(method.clone(), &path).header("If-Match", &etag);
            if let Some(t) = token {
                r = r.token(t);
            }
            if let Some(b) = &body {
                r = r.json(b.clone());
            }
            r
        };
        for token in [&p.app_user, &p.app_only, &other_role] {
            let r = req(Some(token)).send().await;
            assert_eq!(r.status, 403, "{method} {path}: {}", r.text);
            r.assert_error(403, 900150);
        }
        let r = req(None).send().await;
        assert_eq!(r.status, 401, "{method} {path}: {}", r.text);
        r.assert_error(401, 800001);
        req(Some(&admin_wrong_secret))
            .send()
            .await
            .assert_error(401, 1002);
    }

    // None of the refused calls had an effect.
    assert_eq!(s.codes(&p).await, json!([]));
    assert_eq!(
        s.qualifications(&p, &c).await[0]["vettingStatus"],
        "InReview"
    );
    let r = s
        .get(&format!("/v1/customers/{c}/validationStatus?type=account"))
        .token(&p.app_user)
        .send()
        .await;
    r.assert_error(404, 600074);

    // With the admin role every route works.
    let admin = s.admin_token();
    for (method, path, body) in admin_routes(&p, &c) {
        let mut req = s
            .req(method.clone(), &path)
            .token(&admin)
            .header("If-Match", &etag);
        if let Some(b) = &body {
            req = req.json(b.clone());
        }
        let r = req.send().await;
        let expected = if method == Method::POST && path.ends_with("/validations") {
            201
        } else {
            200
        };
        assert_eq!(r.status, expected, "{method} {path}: {}", r.text);
        assert!(
            r.header("content-type")
                .unwrap_or("")
                .starts_with("application/json"),
            "{method} {path}"
        );
    }
    assert_eq!(s.codes(&p).await.as_array().unwrap().len(), 1);
    assert_eq!(
        s.qualifications(&p, &c).await[0]["vettingStatus"],
        "Approved"
    );
    let r = s
        .get(&format!("/v1/customers/{c}/validationStatus?type=account"))
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "Allowed");
}

#[tokio::test]
async fn gcc_needs_a_gdap_role() {
    let Fixture { s, p, c } = fixture().await;
    let admin = s.admin_token();
    let code = s.issue_code(&p, 3).await;
    let r = s
        .put(&format!("/admin/v1/customers/{c}/gdap"))
        .token(&admin)
        .json(json!({"roles": []}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let gcc = || {
        s.post(&format!("/v1/customers/{c}/qualifications"))
            .token(&p.app_user)
            .json(json!({"qualification": "GovernmentCommunityCloud", "validationCode": code}))
    };
    gcc().send().await.assert_error(403, 900150);
    // The legacy contract and the query-string code are held to the same rule.
    s.post(&format!("/v1/customers/{c}/qualifications?code={code}"))
        .token(&p.app_user)
        .json(json!({"qualification": "GovernmentCommunityCloud"}))
        .send()
        .await
        .assert_error(403, 900150);
    s.put(&format!("/v1/customers/{c}/qualification?code={code}"))
        .token(&p.app_user)
        .json(json!("government_community_cloud"))
        .send()
        .await
        .assert_error(403, 900150);
    let codes = s.codes(&p).await;
    assert_eq!(codes[0]["remainingCreates"], 3, "{codes}");
    assert_eq!(s.qualifications(&p, &c).await, json!([]));

    // Other qualifications do not need a GDAP role.
    let other = s.create_customer(&p).await;
    let r = s
        .put(&format!("/admin/v1/customers/{other}/gdap"))
        .token(&admin)
        .json(json!({"roles": []}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s
        .post(&format!("/v1/customers/{other}/qualifications"))
        .token(&p.app_user)
        .json(json!({"qualification": "StateOwnedEntity"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    let r = s
        .put(&format!("/admin/v1/customers/{c}/gdap"))
        .token(&admin)
        .json(json!({"roles": ["User Administrator"]}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = gcc().send().await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["qualification"], "GovernmentCommunityCloud");
    assert_eq!(r.body["vettingStatus"], "InReview");
    assert_eq!(s.codes(&p).await[0]["remainingCreates"], 2);
}

#[tokio::test]
async fn each_gdap_role_allows_gcc_and_the_default_grant_is_directory_reader() {
    let s = TestApp::new().await;
    let p = s.partner();
    let admin = s.admin_token();
    let code = s.issue_code(&p, 10).await;

    // A customer created through POST /v1/customers starts with Directory Reader: GCC works.
    let c = s.create_customer(&p).await;
    let r = s
        .get(&format!("/admin/v1/customers/{c}/gdap"))
        .token(&admin)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Directory Reader"), "{}", r.text);
    let r = s
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .json(json!({"qualification": "GovernmentCommunityCloud", "validationCode": code}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    for role in [
        "Directory Reader",
        "Directory Writer",
        "License Administrator",
        "User Administrator",
    ] {
        let c = s.create_customer(&p).await;
        let r = s
            .put(&format!("/admin/v1/customers/{c}/gdap"))
            .token(&admin)
            .json(json!({"roles": [role]}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{role}: {}", r.text);
        let r = s
            .post(&format!("/v1/customers/{c}/qualifications"))
            .token(&p.app_user)
            .json(json!({"qualification": "GovernmentCommunityCloud", "validationCode": code}))
            .send()
            .await;
        assert_eq!(r.status, 201, "{role}: {}", r.text);
    }
    assert_eq!(s.codes(&p).await[0]["remainingCreates"], 5);
}
