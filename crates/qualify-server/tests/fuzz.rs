//! A fuzz loop on the stable toolchain (issue 6, item 3): proptest feeds the two parsers that
//! see raw attacker input first, in process and fast, many thousands of cases:
//!
//! - `body::parse` with every request body type and its conversion into domain types: bytes,
//!   JSON built from the API's own names, valid bodies spoiled byte by byte, deep nesting;
//! - `Authenticator::authenticate` in dev and oidc mode: any `Authorization` value, JWTs built
//!   from arbitrary JSON headers and claims, and correctly signed tokens with arbitrary claims.
//!
//! Nothing may panic; every refusal is the right error; an accepted token says exactly what its
//! claims say. `QUALIFY_FUZZ_CASES` sets the cases per target (default 2000); the long form is
//! documented in docs/security.md.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use qualify_core::ErrorKind;
use qualify_server::auth::{ADMIN_ROLE, AuthConfig, Authenticator, DEFAULT_AUDIENCE, Secret};
use qualify_server::body::parse;
use qualify_server::operator::codes::IssueCodeIn;
use qualify_server::operator::customers::ValidationStatusIn;
use qualify_server::operator::decisions::DecisionIn;
use qualify_server::operator::gdap::GdapIn;
use qualify_server::partner::customers::wire::{BillingProfileIn, CustomerIn};
use qualify_server::partner::qualifications::wire::{LegacyQualificationIn, QualificationIn};
use serde_json::{Value, json};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../qualify-cli/tests/fixtures/oidc"
);
const DEV_SECRET: &str = "fuzz-dev-secret";

fn cases() -> u32 {
    std::env::var("QUALIFY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    })
}

fn record(line: &str) {
    use std::io::Write;
    println!("{line}");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("qualify-figures.txt");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

// ---- JSON bodies ---------------------------------------------------------------------------

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Education".to_owned()),
        Just("GovernmentCommunityCloud".to_owned()),
        Just("government_community_cloud".to_owned()),
        Just("StateOwnedEntity".to_owned()),
        Just("None".to_owned()),
        Just("Nonprofit".to_owned()),
        Just("K12".to_owned()),
        Just("Approved".to_owned()),
        Just("Not Ready".to_owned()),
        Just("Directory Reader".to_owned()),
        Just("US".to_owned()),
        Just("a@b.c".to_owned()),
        Just("\u{130}".to_owned()),
        Just("\u{feff}".to_owned()),
        "\\PC{0,16}",
        ".{0,8}",
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("qualification".to_owned()),
        Just("QUALIFICATION".to_owned()),
        Just("educationSegment".to_owned()),
        Just("website".to_owned()),
        Just("validationCode".to_owned()),
        Just("companyProfile".to_owned()),
        Just("billingProfile".to_owned()),
        Just("defaultAddress".to_owned()),
        Just("address".to_owned()),
        Just("country".to_owned()),
        Just("addressLine1".to_owned()),
        Just("firstName".to_owned()),
        Just("email".to_owned()),
        Just("domain".to_owned()),
        Just("organizationName".to_owned()),
        Just("maxCreates".to_owned()),
        Just("vettingStatus".to_owned()),
        Just("vettingReason".to_owned()),
        Just("status".to_owned()),
        Just("roles".to_owned()),
        Just("attributes".to_owned()),
        Just("\u{130}D".to_owned()),
        "[a-zA-Z]{0,12}",
        ".{0,6}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

const VALID: &[&str] = &[
    r#"{"qualification": "Education", "educationSegment": "K12", "website": "contoso.edu"}"#,
    r#"{"qualification": "GovernmentCommunityCloud", "validationCode": 123456}"#,
    r#""state_owned_entity""#,
    r#"{"companyProfile": {"domain": "contoso.com", "companyName": "Contoso"}, "billingProfile": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@contoso.com", "defaultAddress": {"country": "US", "addressLine1": "1 Way", "city": "Redmond"}}}"#,
    r#"{"organizationName": "Contoso Gov", "maxCreates": 5}"#,
    r#"{"vettingStatus": "Denied", "vettingReason": "Not an Education Customer"}"#,
    r#"{"status": "Not Ready"}"#,
    r#"{"roles": ["Directory Reader", "User Administrator"]}"#,
];

fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        2 => (0..VALID.len(), prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4))
            .prop_map(|(i, flips)| {
                let mut b = VALID[i].as_bytes().to_vec();
                for (at, byte) in flips {
                    let at = at.index(b.len());
                    b[at] = byte;
                }
                b
            }),
        1 => (0..VALID.len(), any::<prop::sample::Index>())
            .prop_map(|(i, cut)| VALID[i].as_bytes()[..cut.index(VALID[i].len() + 1)].to_vec()),
        1 => (1usize..20_000, any::<bool>()).prop_map(|(depth, arrays)| {
            let (open, close) = if arrays { ("[", "]") } else { ("{\"a\":", "}") };
            format!("{}1{}", open.repeat(depth), close.repeat(depth)).into_bytes()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..256),
        1 => "\\PC{0,64}".prop_map(String::into_bytes),
    ]
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(m) => m.values().any(has_float),
        _ => false,
    }
}

/// Parses `bytes` as `T` and converts it as the handler would; checks the error or the
/// canonical form.
fn parse_as<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    convert: impl FnOnce(T) -> Result<(), qualify_core::DomainError>,
) -> Result<bool, TestCaseError> {
    match parse::<T>(bytes) {
        Err(e) => {
            prop_assert_eq!(e.kind(), ErrorKind::InvalidInput);
            prop_assert!(e.error.description.len() <= 1024);
            Ok(false)
        }
        Ok((value, canonical)) => {
            // The fingerprint of a body is stable: its canonical form parses to itself. (Not
            // for floats: serde_json parses them to within an ulp, not exactly; a retry sends
            // the same text, which always parses the same.)
            let (reparsed, again) = parse::<Value>(canonical.as_bytes())
                .map_err(|e| TestCaseError::fail(format!("canonical {canonical:?}: {e:?}")))?;
            if !has_float(&reparsed) {
                prop_assert_eq!(&again, &canonical);
            }
            if let Err(e) = convert(value) {
                prop_assert!(e.kind.status() < 500, "{:?}", e);
                prop_assert!(e.description.len() <= 1024);
            }
            Ok(true)
        }
    }
}

#[test]
fn json_parsing_never_panics_and_refuses_with_invalid_input() {
    let mut parsed = 0u64;
    let counter = std::cell::Cell::new(0u64);
    runner()
        .run(&body_bytes(), |bytes| {
            let mut ok = 0;
            ok += parse_as::<QualificationIn>(&bytes, |v| {
                v.into_request(Some("1".into())).map(drop)
            })? as u64;
            ok += parse_as::<LegacyQualificationIn>(&bytes, |v| v.into_request(None).map(drop))?
                as u64;
            ok += parse_as::<CustomerIn>(&bytes, |v| {
                qualify_core::customer::NewCustomer::try_from(v).map(drop)
            })? as u64;
            ok += parse_as::<BillingProfileIn>(&bytes, |v| {
                qualify_core::customer::BillingProfile::try_from(v).map(drop)
            })? as u64;
            ok += parse_as::<IssueCodeIn>(&bytes, |v| v.validate().map(drop))? as u64;
            ok += parse_as::<DecisionIn>(&bytes, |v| {
                qualify_core::qualification::VettingDecision::try_from(v).map(drop)
            })? as u64;
            ok += parse_as::<ValidationStatusIn>(&bytes, |v| {
                qualify_core::validation::AccountStatus::try_from(v).map(drop)
            })? as u64;
            ok += parse_as::<GdapIn>(&bytes, |v| {
                Vec::<qualify_core::validation::GdapRole>::try_from(v).map(drop)
            })? as u64;
            counter.set(counter.get() + ok);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    parsed += counter.get();
    record(&format!(
        "fuzz body::parse: {} inputs x 8 body types, {parsed} parsed into a type, the rest refused with 800002; no panic",
        cases()
    ));
}

// ---- tokens --------------------------------------------------------------------------------

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn header_json() -> impl Strategy<Value = Value> {
    let alg = prop_oneof![
        Just(json!("HS256")),
        Just(json!("RS256")),
        Just(json!("ES256")),
        Just(json!("none")),
        Just(json!("None")),
        Just(json!("HS512")),
        Just(json!("PS256")),
        Just(json!("EdDSA")),
        Just(json!(null)),
        Just(json!(7)),
        word().prop_map(Value::String),
    ];
    let kid = prop_oneof![
        Just(None),
        Just(Some(json!("rsa-1"))),
        Just(Some(json!("ec-1"))),
        Just(Some(json!(["rsa-1"]))),
        word().prop_map(|w| Some(Value::String(w))),
    ];
    (alg, kid, prop::option::of(json_value())).prop_map(|(alg, kid, extra)| {
        let mut h = json!({"alg": alg, "typ": "JWT"});
        if let Some(k) = kid {
            h["kid"] = k;
        }
        if let Some(Value::Object(m)) = extra {
            for (k, v) in m {
                h[k] = v;
            }
        }
        h
    })
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Claims close to valid ones, each field sometimes missing, of another type, or off.
fn claims_json() -> impl Strategy<Value = Value> {
    let tid = prop_oneof![
        Just(json!("9daaeb1c-4195-4db5-9f1d-509eb70c8c2d")),
        Just(json!("9DAAEB1C-4195-4DB5-9F1D-509EB70C8C2D")),
        Just(json!("{9daaeb1c-4195-4db5-9f1d-509eb70c8c2d}")),
        Just(json!(42)),
        Just(json!(null)),
        word().prop_map(Value::String),
    ];
    let time = prop_oneof![
        (-100_000i64..100_000).prop_map(|d| json!(now() + d)),
        Just(json!(i64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(u64::MAX)),
        Just(json!(1.5e300)),
        Just(json!("tomorrow")),
        Just(json!(null)),
    ];
    let aud = prop_oneof![
        Just(json!(DEFAULT_AUDIENCE)),
        Just(json!([DEFAULT_AUDIENCE, "other"])),
        Just(json!(["other"])),
        Just(json!(5)),
        word().prop_map(Value::String),
    ];
    let roles = prop_oneof![
        Just(json!([ADMIN_ROLE])),
        Just(json!(ADMIN_ROLE)),
        Just(json!([])),
        Just(json!([7, null])),
        Just(json!(null)),
    ];
    // Mostly the valid value, sometimes missing, sometimes another.
    fn field(
        good: Value,
        other: impl Strategy<Value = Value> + 'static,
    ) -> impl Strategy<Value = Option<Value>> {
        prop_oneof![
            6 => Just(Some(good)),
            1 => Just(None),
            2 => other.prop_map(Some),
        ]
    }
    let soon = (60i64..3600).prop_map(|d| json!(now() + d));
    let past = (-3600i64..0).prop_map(|d| json!(now() + d));
    (
        field(json!("9daaeb1c-4195-4db5-9f1d-509eb70c8c2d"), tid),
        (soon.clone(), time.clone()).prop_flat_map(|(good, other)| field(good, Just(other))),
        (past.clone(), time.clone()).prop_flat_map(|(good, other)| field(good, Just(other))),
        (past, time).prop_flat_map(|(good, other)| field(good, Just(other))),
        field(json!(DEFAULT_AUDIENCE), aud),
        field(json!([]), roles),
        field(
            json!("user_impersonation"),
            prop_oneof![Just(json!("")), Just(json!(1))],
        ),
        field(json!("ada@partner.example"), Just(json!(""))),
        field(json!("user"), Just(json!("app"))),
    )
        .prop_map(|(tid, exp, nbf, iat, aud, roles, scp, upn, idtyp)| {
            let mut c = json!({});
            let mut set = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    c[k] = v;
                }
            };
            set("tid", tid.clone());
            set("exp", exp);
            set("nbf", nbf);
            set("iat", iat);
            set("aud", aud);
            set("roles", roles);
            set("scp", scp);
            set("upn", upn);
            set("idtyp", idtyp);
            if let Some(Value::String(t)) = tid {
                c["iss"] = json!(format!("https://login.microsoftonline.com/{t}/v2.0"));
            }
            c
        })
}

#[derive(Debug, Clone)]
enum TokenCase {
    /// Any header value at all.
    Raw(String),
    /// Header and claims JSON, any signature bytes.
    Unsigned(Value, Value, Vec<u8>),
    /// Correctly signed with the dev secret (dev mode) or the RSA key (oidc mode).
    Signed(Value),
}

fn token_case() -> impl Strategy<Value = TokenCase> {
    prop_oneof![
        2 => prop_oneof![
            "\\PC{0,80}",
            "(Bearer|bearer|BEARER|Basic) [ -~]{0,200}",
            "Bearer [A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,40}",
            "Bearer eyJ[A-Za-z0-9_.-]{0,120}",
        ].prop_map(TokenCase::Raw),
        3 => (header_json(), claims_json(), prop::collection::vec(any::<u8>(), 0..300))
            .prop_map(|(h, c, s)| TokenCase::Unsigned(h, c, s)),
        3 => claims_json().prop_map(TokenCase::Signed),
    ]
}

fn render(case: &TokenCase, oidc: bool) -> String {
    match case {
        TokenCase::Raw(s) => s.clone(),
        TokenCase::Unsigned(h, c, sig) => format!(
            "Bearer {}.{}.{}",
            b64(&serde_json::to_vec(h).unwrap()),
            b64(&serde_json::to_vec(c).unwrap()),
            b64(sig)
        ),
        TokenCase::Signed(c) => {
            static RSA: std::sync::OnceLock<EncodingKey> = std::sync::OnceLock::new();
            let (alg, key, kid) = if oidc {
                let key = RSA.get_or_init(|| {
                    EncodingKey::from_rsa_pem(
                        &std::fs::read(format!("{FIXTURES}/rsa-private.pem")).unwrap(),
                    )
                    .unwrap()
                });
                (Algorithm::RS256, key.clone(), Some("rsa-1".to_owned()))
            } else {
                (
                    Algorithm::HS256,
                    EncodingKey::from_secret(DEV_SECRET.as_bytes()),
                    None,
                )
            };
            let mut header = jsonwebtoken::Header::new(alg);
            header.kid = kid;
            format!("Bearer {}", jsonwebtoken::encode(&header, c, &key).unwrap())
        }
    }
}

/// Checks one authentication result against the token that produced it.
fn judge(
    case: &TokenCase,
    result: Result<qualify_server::Caller, qualify_server::error::ApiError>,
) -> Result<bool, TestCaseError> {
    match result {
        Err(e) => {
            prop_assert!(
                matches!(
                    e.kind(),
                    ErrorKind::TokenMissing | ErrorKind::AuthorizationFailed
                ),
                "{:?}",
                e
            );
            Ok(false)
        }
        Ok(caller) => {
            // Only a correctly signed token can be accepted, and it says what its claims say.
            let TokenCase::Signed(c) = case else {
                return Err(TestCaseError::fail(format!(
                    "accepted an unsigned token: {case:?}"
                )));
            };
            let tid = c["tid"].as_str().unwrap_or_default();
            prop_assert_eq!(
                caller.partner.to_string(),
                tid.trim_matches(['{', '}']).to_ascii_lowercase()
            );
            let aud_ok = c["aud"] == json!(DEFAULT_AUDIENCE)
                || c["aud"]
                    .as_array()
                    .is_some_and(|a| a.contains(&json!(DEFAULT_AUDIENCE)));
            prop_assert!(aud_ok, "accepted audience {}", c["aud"]);
            let exp = c["exp"].as_f64();
            prop_assert!(
                exp.is_some_and(|e| e > (now() - 60) as f64),
                "accepted exp {}",
                c["exp"]
            );
            if let Some(nbf) = c["nbf"].as_i64() {
                prop_assert!(nbf <= now() + 60, "accepted nbf {nbf}");
            }
            if let Some(iat) = c["iat"].as_i64() {
                prop_assert!(iat <= now() + 360, "accepted iat {iat}");
            }
            prop_assert_eq!(caller.is_operator(), c["roles"] == json!([ADMIN_ROLE]));
            let app_user = c["idtyp"] != json!("app")
                && c["scp"].as_str().is_some_and(|s| !s.is_empty())
                && c["upn"].as_str().is_some_and(|s| !s.is_empty());
            prop_assert_eq!(caller.is_delegated(), app_user);
            Ok(true)
        }
    }
}

#[test]
fn token_parsing_never_panics_and_accepts_only_what_was_signed() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dev = rt
        .block_on(Authenticator::new(&AuthConfig::Dev {
            secret: Secret::new(DEV_SECRET),
            audience: DEFAULT_AUDIENCE.into(),
        }))
        .unwrap();
    let oidc = rt
        .block_on(Authenticator::new(&AuthConfig::Oidc {
            jwks: format!("{FIXTURES}/jwks.json"),
            issuer: "https://login.microsoftonline.com/{tenantid}/v2.0".into(),
            audience: DEFAULT_AUDIENCE.into(),
            jwks_refresh: std::time::Duration::from_secs(3600),
        }))
        .unwrap();
    let accepted = std::cell::Cell::new(0u64);
    for (mode, auth, is_oidc) in [("dev", &dev, false), ("oidc", &oidc, true)] {
        runner()
            .run(&token_case(), |case| {
                let value = render(&case, is_oidc);
                let result = rt.block_on(auth.authenticate(Some(&value)));
                if judge(&case, result).map_err(|e| TestCaseError::fail(format!("{mode}: {e}")))? {
                    accepted.set(accepted.get() + 1);
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }
    record(&format!(
        "fuzz Authenticator::authenticate: {} tokens in dev mode and {} in oidc mode, {} correctly signed ones accepted \
         consistently with their claims, every other refused with 401; no panic",
        cases(),
        cases(),
        accepted.get()
    ));
}
