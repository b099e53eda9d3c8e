//! Hostile input on every endpoint (issue 6, item 3): proptest builds requests from a valid one
//! by spoiling its path segments, query, headers, credentials and body, and checks that the
//! answer is never a 5xx, is the JSON error body when it is an error, carries the request ids,
//! and that a refused request (and any GET) left the database exactly as it was.
//!
//! `QUALIFY_HOSTILE_CASES` sets the cases per endpoint (default 12); the long form is
//! documented in docs/security.md. The endpoint table is compared with the server's OpenAPI
//! document, so a new endpoint cannot be left out unnoticed.

use std::cell::Cell;
use std::collections::BTreeSet;

use axum::http::Method;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

use crate::db::Db;
use crate::figures;
use crate::support::*;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    /// No token needed.
    Public,
    /// A partner's App+User token.
    Partner,
    /// The operator role.
    Admin,
}

/// A valid body; the number picks among variants.
type BodyFn = fn(&World, usize) -> Value;

struct Endpoint {
    method: Method,
    /// The path as the router and the OpenAPI document name it.
    path: &'static str,
    role: Role,
    body: Option<BodyFn>,
}

/// Every route of the server.
fn endpoints() -> Vec<Endpoint> {
    use Role::*;
    let e = |method: Method, path: &'static str, role: Role, body: Option<BodyFn>| Endpoint {
        method,
        path,
        role,
        body,
    };
    vec![
        e(Method::GET, "/healthz", Public, None),
        e(Method::GET, "/readyz", Public, None),
        e(Method::GET, "/openapi.json", Public, None),
        e(Method::GET, "/metrics", Public, None),
        e(Method::GET, "/v1/customers", Partner, None),
        e(
            Method::POST,
            "/v1/customers",
            Partner,
            Some(|_, _| customer_body("fabrikam.edu")),
        ),
        e(Method::GET, "/v1/customers/all/validations", Partner, None),
        e(Method::GET, "/v1/customers/{customer_id}", Partner, None),
        e(
            Method::GET,
            "/v1/customers/{customer_id}/profiles/company",
            Partner,
            None,
        ),
        e(
            Method::GET,
            "/v1/customers/{customer_id}/profiles/billing",
            Partner,
            None,
        ),
        e(
            Method::PUT,
            "/v1/customers/{customer_id}/profiles/billing",
            Partner,
            Some(|_, _| {
                json!({"firstName": "Grace", "lastName": "Hopper", "email": "grace@contoso.com",
                   "defaultAddress": {"country": "US", "addressLine1": "1 Navy Way", "city": "Arlington"}})
            }),
        ),
        e(
            Method::GET,
            "/v1/customers/{customer_id}/qualifications",
            Partner,
            None,
        ),
        e(
            Method::POST,
            "/v1/customers/{customer_id}/qualifications",
            Partner,
            Some(|w, n| match n % 3 {
                0 => {
                    json!({"qualification": "Education", "educationSegment": "K12", "website": "contoso.edu"})
                }
                1 => json!({"qualification": "GovernmentCommunityCloud", "validationCode": w.code}),
                _ => json!({"qualification": "StateOwnedEntity"}),
            }),
        ),
        e(
            Method::GET,
            "/v1/customers/{customer_id}/qualification",
            Partner,
            None,
        ),
        e(
            Method::PUT,
            "/v1/customers/{customer_id}/qualification",
            Partner,
            Some(|_, _| json!("state_owned_entity")),
        ),
        e(
            Method::GET,
            "/v1/customers/{customer_id}/validationStatus",
            Partner,
            None,
        ),
        e(
            Method::POST,
            "/admin/v1/partners/{partner_id}/validations",
            Admin,
            Some(|_, _| json!({"organizationName": "Contoso Gov", "maxCreates": 3})),
        ),
        e(
            Method::GET,
            "/admin/v1/partners/{partner_id}/validations",
            Admin,
            None,
        ),
        e(Method::GET, "/admin/v1/reviews", Admin, None),
        e(
            Method::GET,
            "/admin/v1/customers/{customer_id}",
            Admin,
            None,
        ),
        e(
            Method::POST,
            "/admin/v1/customers/{customer_id}/qualifications/{qualification}/decision",
            Admin,
            Some(
                |_, _| json!({"vettingStatus": "Denied", "vettingReason": "Not an Education Customer"}),
            ),
        ),
        e(
            Method::GET,
            "/admin/v1/customers/{customer_id}/qualifications/{qualification}/history",
            Admin,
            None,
        ),
        e(
            Method::PUT,
            "/admin/v1/customers/{customer_id}/validationStatus",
            Admin,
            Some(|_, _| json!({"status": "Allowed"})),
        ),
        e(
            Method::PUT,
            "/admin/v1/customers/{customer_id}/gdap",
            Admin,
            Some(|_, _| json!({"roles": ["Directory Reader"]})),
        ),
        e(
            Method::GET,
            "/admin/v1/customers/{customer_id}/gdap",
            Admin,
            None,
        ),
        // Webhooks (events.md 1-2): a registration to a closed loopback port (dev auth allows
        // it); its deliveries fail and wait for their retries.
        e(
            Method::GET,
            "/webhooks/v1/registration/events",
            Partner,
            None,
        ),
        e(
            Method::POST,
            "/webhooks/v1/registration",
            Partner,
            Some(
                |_, _| json!({"WebhookUrl": "http://127.0.0.1:9/hooks", "WebhookEvents": ["customer-qualification-updated"]}),
            ),
        ),
        e(Method::GET, "/webhooks/v1/registration", Partner, None),
        e(
            Method::PUT,
            "/webhooks/v1/registration",
            Partner,
            Some(
                |_, n| json!({"WebhookUrl": "http://127.0.0.1:9/hooks", "WebhookEvents": ["customer-qualification-created"], "RotateSecret": n % 2 == 0}),
            ),
        ),
        e(
            Method::POST,
            "/webhooks/v1/registration/validationEvents",
            Partner,
            None,
        ),
        e(
            Method::GET,
            "/webhooks/v1/registration/validationEvents/{correlation_id}",
            Partner,
            None,
        ),
        e(Method::GET, "/webhooks/v1/certificate", Public, None),
        e(
            Method::GET,
            "/admin/v1/partners/{partner_id}/deliveries",
            Admin,
            None,
        ),
        e(
            Method::POST,
            "/admin/v1/deliveries/{delivery_id}/redeliver",
            Admin,
            None,
        ),
        e(Method::DELETE, "/webhooks/v1/registration", Partner, None),
        // The control plane's traffic part (control.md 5-7); last, so that a fault a mutated
        // body may add never meets the /v1 cases above.
        e(
            Method::POST,
            "/admin/v1/faults",
            Admin,
            Some(|_, _| json!({"match": {"path": "/v1/nowhere"}, "latency": "1ms"})),
        ),
        e(Method::GET, "/admin/v1/faults", Admin, None),
        e(Method::DELETE, "/admin/v1/faults/{fault_id}", Admin, None),
        e(Method::DELETE, "/admin/v1/faults", Admin, None),
        e(Method::GET, "/admin/v1/journal", Admin, None),
        e(Method::DELETE, "/admin/v1/journal", Admin, None),
        e(
            Method::POST,
            "/admin/v1/journal/find",
            Admin,
            Some(|_, _| json!({"method": "GET", "path": "/v1/customers/*/qualifications"})),
        ),
        e(
            Method::POST,
            "/admin/v1/journal/count",
            Admin,
            Some(|_, _| json!({"status": 201})),
        ),
        e(
            Method::GET,
            "/admin/v1/partners/{partner_id}/checks",
            Admin,
            None,
        ),
        // The test control plane last: its accepted writes (a reset, a restore) change the
        // world the other endpoints are tried in.
        e(
            Method::GET,
            "/admin/v1/partners/{partner_id}/vetting",
            Admin,
            None,
        ),
        e(
            Method::PUT,
            "/admin/v1/partners/{partner_id}/vetting",
            Admin,
            Some(|_, n| match n % 2 {
                0 => {
                    json!({"rules": [{"match": {"qualification": "Education"}, "outcome": "Denied", "reason": "No", "afterReads": 2}]})
                }
                _ => json!({"rules": [{"outcome": "Approved", "after": "1h"}]}),
            }),
        ),
        e(
            Method::DELETE,
            "/admin/v1/partners/{partner_id}/vetting",
            Admin,
            None,
        ),
        e(Method::GET, "/admin/v1/clock", Admin, None),
        e(
            Method::GET,
            "/admin/v1/partners/{partner_id}/clock",
            Admin,
            None,
        ),
        e(
            Method::PUT,
            "/admin/v1/partners/{partner_id}/clock",
            Admin,
            Some(|_, _| json!({"frozenAt": "2030-01-01T00:00:00Z"})),
        ),
        e(
            Method::POST,
            "/admin/v1/partners/{partner_id}/clock/advance",
            Admin,
            Some(|_, n| match n % 2 {
                0 => json!({"by": "1h"}),
                _ => json!({"to": "2031-01-01T00:00:00Z"}),
            }),
        ),
        e(
            Method::POST,
            "/admin/v1/partners/{partner_id}/clock/resume",
            Admin,
            None,
        ),
        e(
            Method::DELETE,
            "/admin/v1/partners/{partner_id}/clock",
            Admin,
            None,
        ),
        e(
            Method::PUT,
            "/admin/v1/clock",
            Admin,
            Some(|_, _| json!({"frozenAt": "2030-01-01T00:00:00Z"})),
        ),
        e(
            Method::POST,
            "/admin/v1/clock/advance",
            Admin,
            Some(|_, _| json!({"by": "1s"})),
        ),
        e(Method::POST, "/admin/v1/clock/resume", Admin, None),
        e(Method::DELETE, "/admin/v1/clock", Admin, None),
        e(Method::GET, "/admin/v1/fixtures/schema", Admin, None),
        e(Method::GET, "/admin/v1/snapshot", Admin, None),
        e(
            Method::GET,
            "/admin/v1/partners/{partner_id}/snapshot",
            Admin,
            None,
        ),
        e(Method::POST, "/admin/v1/seed", Admin, Some(fixture)),
        e(
            Method::POST,
            "/admin/v1/partners/{partner_id}/restore",
            Admin,
            Some(fixture),
        ),
        e(
            Method::POST,
            "/admin/v1/partners/{partner_id}/reset",
            Admin,
            None,
        ),
        e(Method::POST, "/admin/v1/restore", Admin, Some(fixture)),
        e(Method::POST, "/admin/v1/reset", Admin, None),
    ]
}

/// A fixture document of the world's partner (control.md 2).
fn fixture(w: &World, n: usize) -> Value {
    json!({"version": 1, "partners": [{
        "id": w.partner.id.to_string(),
        "validationCodes": [{"validationId": format!("seed-{n}"), "maxCreates": 3}],
        "customers": [{
            "id": w.customers[n % w.customers.len()],
            "companyProfile": {"domain": "contoso.onmicrosoft.com"},
            "gdapRoles": ["Directory Reader"],
            "qualifications": [{"qualification": "StateOwnedEntity", "vettingStatus": "Denied", "vettingReason": "No"}]
        }],
        "vetting": {"rules": []}
    }]})
}

/// What the requests are built from.
struct World {
    partner: Partner,
    other: Partner,
    admin: String,
    customers: Vec<String>,
    foreign_customer: String,
    code: String,
}

/// A path segment: the right one, or something else.
#[derive(Clone, Debug)]
enum Segment {
    Real(usize),
    Foreign,
    Raw(String),
}

fn segment() -> impl Strategy<Value = Segment> {
    let raw = prop_oneof![
        Just(String::new()),
        Just("..".to_owned()),
        Just("%2e%2e".to_owned()),
        Just("%00".to_owned()),
        Just("%2F".to_owned()),
        Just("all".to_owned()),
        Just("00000000-0000-0000-0000-000000000000".to_owned()),
        Just("{00000000-0000-0000-0000-000000000000}".to_owned()),
        Just("ffffffff-ffff-ffff-ffff-ffffffffffff".to_owned()),
        Just("education".to_owned()),
        Just("Nonprofit".to_owned()),
        Just("%E2%80%AE".to_owned()),
        "[a-zA-Z0-9._~-]{1,40}",
        "\\PC{1,20}".prop_map(|s| escape(&s)),
        (1usize..5000).prop_map(|n| "a".repeat(n)),
    ];
    prop_oneof![
        6 => (0usize..3).prop_map(Segment::Real),
        1 => Just(Segment::Foreign),
        3 => raw.prop_map(Segment::Raw),
    ]
}

/// Percent-encodes everything but unreserved characters.
fn escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("code"),
        Just("type"),
        Just("status"),
        Just("size"),
        Just("seekOperation"),
        Just("Code"),
        Just("x"),
    ];
    let value = prop_oneof![
        Just("account".to_owned()),
        Just("Account".to_owned()),
        Just("InReview".to_owned()),
        Just("Next".to_owned()),
        Just("-1".to_owned()),
        Just("99999999999999999999".to_owned()),
        "\\PC{0,16}",
    ];
    prop_oneof![
        3 => Just(String::new()),
        3 => prop::collection::vec((key, value), 1..4).prop_map(|kv| {
            let pairs: Vec<String> = kv.iter().map(|(k, v)| format!("{k}={}", escape(v))).collect();
            format!("?{}", pairs.join("&"))
        }),
        1 => "[ -~]{0,30}".prop_map(|q| format!("?{}", escape(&q).replace("%3D", "=").replace("%26", "&"))),
    ]
}

/// A header value HTTP allows: visible ASCII, spaces and tabs, and obs-text (bytes >= 0x80,
/// which are not UTF-8 on their own).
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => 0x20u8..=0x7e,
        1 => Just(b'\t'),
        1 => 0x80u8..=0xff,
    ];
    prop_oneof![
        4 => prop::collection::vec(byte, 0..64),
        1 => (1usize..6000).prop_map(|n| vec![b'x'; n]),
        2 => Just(b"00000000-0000-0000-0000-000000000000".to_vec()),
        1 => Just(b"W/\"*\"".to_vec()),
        1 => Just(b"*".to_vec()),
    ]
    .prop_filter("no leading or trailing whitespace", |v| {
        v.first().is_none_or(|b| !b" \t".contains(b))
            && v.last().is_none_or(|b| !b" \t".contains(b))
    })
}

fn headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = prop_oneof![
        Just("MS-RequestId".to_owned()),
        Just("MS-CorrelationId".to_owned()),
        Just("If-Match".to_owned()),
        Just("Content-Type".to_owned()),
        Just("X-Locale".to_owned()),
        Just("MS-Contract-Version".to_owned()),
        Just("MS-PartnerCenter-Application".to_owned()),
        Just("MS-ContinuationToken".to_owned()),
        Just("Accept".to_owned()),
        Just("Content-Encoding".to_owned()),
        Just("Transfer-Encoding-X".to_owned()),
        "[a-zA-Z][a-zA-Z0-9-]{0,24}".prop_filter("not a framing header", |n| ![
            "host",
            "content-length",
            "transfer-encoding",
            "connection",
            "upgrade",
            "expect",
            "te",
            "trailer",
            "keep-alive",
            "proxy-connection",
        ]
        .contains(&n.to_ascii_lowercase().as_str())),
    ];
    prop::collection::vec((name, header_value()), 0..5)
}

#[derive(Clone, Debug)]
enum Auth {
    Right,
    OtherPartner,
    AppOnly,
    Admin,
    Missing,
    Garbage(String),
}

fn auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        8 => Just(Auth::Right),
        1 => Just(Auth::OtherPartner),
        1 => Just(Auth::AppOnly),
        1 => Just(Auth::Admin),
        1 => Just(Auth::Missing),
        1 => "[ -~]{0,80}".prop_map(Auth::Garbage),
    ]
}

/// Arbitrary JSON, with the names and values the API knows among the noise.
fn json_value() -> impl Strategy<Value = Value> {
    let word = prop_oneof![
        Just("Education".to_owned()),
        Just("GovernmentCommunityCloud".to_owned()),
        Just("StateOwnedEntity".to_owned()),
        Just("Approved".to_owned()),
        Just("Denied".to_owned()),
        Just("Directory Reader".to_owned()),
        Just("Allowed".to_owned()),
        Just("Not Ready".to_owned()),
        Just("K12".to_owned()),
        Just("US".to_owned()),
        "\\PC{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        word.prop_map(Value::String),
    ];
    let key = prop_oneof![
        Just("qualification".to_owned()),
        Just("vettingStatus".to_owned()),
        Just("status".to_owned()),
        Just("roles".to_owned()),
        Just("maxCreates".to_owned()),
        Just("organizationName".to_owned()),
        Just("companyProfile".to_owned()),
        Just("billingProfile".to_owned()),
        Just("defaultAddress".to_owned()),
        Just("country".to_owned()),
        "[a-zA-Z]{0,12}",
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

#[derive(Clone, Debug)]
enum Body {
    None,
    Valid,
    /// The valid body with one value replaced somewhere.
    Spoiled(Value, prop::sample::Index),
    /// The valid body with its keys' case changed and an extra key.
    Recased(String, Value),
    Json(Value),
    Bytes(Vec<u8>),
    Cut(prop::sample::Index),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        1 => Just(Body::None),
        3 => Just(Body::Valid),
        3 => (json_value(), any::<prop::sample::Index>()).prop_map(|(v, i)| Body::Spoiled(v, i)),
        1 => ("[a-zA-Z]{1,10}", json_value()).prop_map(|(k, v)| Body::Recased(k, v)),
        2 => json_value().prop_map(Body::Json),
        1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(Body::Bytes),
        1 => any::<prop::sample::Index>().prop_map(Body::Cut),
    ]
}

/// Every leaf of a JSON value, as a pointer.
fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| leaves(v, format!("{at}/{k}"), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| leaves(v, format!("{at}/{i}"), out)),
        _ => out.push(at),
    }
}

fn recase(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let k = if k.len() % 2 == 0 {
                        k.to_uppercase()
                    } else {
                        k.to_lowercase()
                    };
                    (k, recase(v))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[derive(Clone, Debug)]
struct Case {
    segments: Vec<Segment>,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    auth: Auth,
    body: Body,
    content_type: Option<&'static str>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(segment(), 2),
        query(),
        headers(),
        auth(),
        body(),
        prop_oneof![
            6 => Just(Some("application/json")),
            1 => Just(Some("text/plain")),
            1 => Just(Some("application/json; charset=latin1")),
            1 => Just(None),
        ],
    )
        .prop_map(
            |(segments, query, headers, auth, body, content_type)| Case {
                segments,
                query,
                headers,
                auth,
                body,
                content_type,
            },
        )
}

fn qualification_segment(i: usize) -> &'static str {
    ["Education", "governmentcommunitycloud", "StateOwnedEntity"][i % 3]
}

fn build(w: &World, e: &Endpoint, c: &Case) -> (String, Option<Vec<u8>>, Option<String>) {
    let mut path = e.path.to_owned();
    for (i, name) in ["{customer_id}", "{qualification}"].iter().enumerate() {
        let seg = &c.segments[i];
        let real = |n: usize| match *name {
            "{customer_id}" => w.customers[n % w.customers.len()].clone(),
            _ => qualification_segment(n).to_owned(),
        };
        let value = match seg {
            Segment::Real(n) => real(*n),
            Segment::Foreign if *name == "{customer_id}" => w.foreign_customer.clone(),
            Segment::Foreign => real(0).to_uppercase(),
            Segment::Raw(s) => s.clone(),
        };
        path = path.replace(name, &value);
    }
    let partner = match &c.segments[0] {
        Segment::Real(_) => w.partner.id.to_string(),
        Segment::Foreign => w.other.id.to_string(),
        Segment::Raw(s) => s.clone(),
    };
    path = path.replace("{partner_id}", &partner);
    path.push_str(&c.query);
    let variant = match c.segments[1] {
        Segment::Real(n) => n,
        _ => 0,
    };
    let valid = e.body.map(|f| f(w, variant)).unwrap_or(json!({}));
    let body = match &c.body {
        Body::None => None,
        Body::Valid => Some(serde_json::to_vec(&valid).unwrap()),
        Body::Spoiled(v, i) => {
            let mut spoiled = valid.clone();
            let mut at = vec![];
            leaves(&spoiled, String::new(), &mut at);
            if at.is_empty() || at == [String::new()] {
                spoiled = v.clone();
            } else if let Some(slot) = spoiled.pointer_mut(&at[i.index(at.len())]) {
                *slot = v.clone();
            }
            Some(serde_json::to_vec(&spoiled).unwrap())
        }
        Body::Recased(k, v) => {
            let mut r = recase(&valid);
            if let Value::Object(m) = &mut r {
                m.insert(k.clone(), v.clone());
            }
            Some(serde_json::to_vec(&r).unwrap())
        }
        Body::Json(v) => Some(serde_json::to_vec(v).unwrap()),
        Body::Bytes(b) => Some(b.clone()),
        Body::Cut(i) => {
            let text = serde_json::to_vec(&valid).unwrap();
            Some(text[..i.index(text.len() + 1)].to_vec())
        }
    };
    let token = match (&c.auth, e.role) {
        (Auth::Missing, _) => None,
        (Auth::Garbage(g), _) => Some(g.clone()),
        (Auth::Right, Role::Admin) | (Auth::Admin, _) => Some(w.admin.clone()),
        (Auth::Right, _) => Some(w.partner.app_user.clone()),
        (Auth::OtherPartner, _) => Some(w.other.app_user.clone()),
        (Auth::AppOnly, _) => Some(w.partner.app_only.clone()),
    };
    (path, body, token)
}

fn cases_per_endpoint() -> u32 {
    std::env::var("QUALIFY_HOSTILE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12)
}

#[test]
fn hostile_requests_on_every_endpoint_never_get_a_5xx_nor_change_anything_when_refused() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // A database the test reads directly (to see that a refused request changed nothing).
    let dir = tempfile::tempdir().expect("temp dir");
    let database = rt.block_on(test_database_url(dir.path()));
    let s = rt.block_on(TestApp::at(&database));
    let world = rt.block_on(async {
        let partner = s.partner();
        let other = s.partner();
        let mut customers = vec![];
        for _ in 0..3 {
            customers.push(s.create_customer(&partner).await);
        }
        let foreign_customer = s.create_customer(&other).await;
        let code = s.issue_code(&partner, 1000).await;
        let r = s
            .post(&format!("/v1/customers/{}/qualifications", customers[0]))
            .token(&partner.app_user)
            .json(json!({"qualification": "Education", "educationSegment": "K12"}))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        World {
            admin: s.admin_token(),
            partner,
            other,
            customers,
            foreign_customer,
            code,
        }
    });
    let db = rt.block_on(Db::open(&database));

    // The table covers every operation of the OpenAPI document (when the server serves one).
    let table: BTreeSet<(String, String)> = endpoints()
        .iter()
        .map(|e| (e.method.to_string(), e.path.to_owned()))
        .collect();
    let doc = rt.block_on(s.get("/openapi.json").send());
    if doc.status == 200 {
        for (path, ops) in doc.body["paths"].as_object().expect("paths") {
            for method in ops.as_object().unwrap().keys() {
                let op = (method.to_uppercase(), path.clone());
                // The event stream stays open on success (no answer to read to its end); its
                // refusals are tested in crates/qualify-server/tests/http/console.rs.
                if path == "/admin/v1/events" {
                    continue;
                }
                if ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&op.0.as_str()) {
                    assert!(
                        table.contains(&op),
                        "{op:?} is in the OpenAPI document but not in this test's table"
                    );
                }
            }
        }
    }

    let before = std::cell::RefCell::new(rt.block_on(db.snapshot()));
    let (tried, refused, accepted_writes) = (Cell::new(0u64), Cell::new(0u64), Cell::new(0u64));
    let per_endpoint = cases_per_endpoint();
    for endpoint in endpoints() {
        if endpoint.path == "/openapi.json" && doc.status != 200 {
            continue;
        }
        let mut runner = TestRunner::new(Config {
            cases: per_endpoint,
            failure_persistence: None,
            max_shrink_iters: 64,
            ..Config::default()
        });
        runner
            .run(&case(), |c| {
                let (path, body, token) = build(&world, &endpoint, &c);
                let what = format!("{} {path} {c:?}", endpoint.method);
                let mut req = s.req(endpoint.method.clone(), &path);
                if let Some(t) = &token {
                    req = req.token(t);
                }
                if let Some(ct) = c.content_type {
                    req = req.header("Content-Type", ct);
                }
                for (k, v) in &c.headers {
                    req = req.header_bytes(k, v);
                }
                if let Some(b) = body {
                    req = req.bytes(b);
                }
                let r = rt.block_on(req.send());
                let (status, text) = (r.status, r.text);
                let has_ids = r.headers.contains_key("ms-requestid")
                    && r.headers.contains_key("ms-correlationid");
                tried.set(tried.get() + 1);
                prop_assert!(status < 500, "{what}: {status} {text}");
                prop_assert!(has_ids, "{what}: no request ids on {status}");
                let after = rt.block_on(db.snapshot());
                if status >= 400 {
                    refused.set(refused.get() + 1);
                    let v: Value = serde_json::from_str(&text).map_err(|_| {
                        TestCaseError::fail(format!("{what}: {status} body is not JSON: {text:?}"))
                    })?;
                    prop_assert!(v["code"].is_u64(), "{what}: {text}");
                    prop_assert!(
                        v["description"]
                            .as_str()
                            .is_some_and(|d| !d.is_empty() && d.len() <= 1024),
                        "{what}: {text}"
                    );
                    prop_assert!(v["data"].is_array(), "{what}: {text}");
                    prop_assert!(
                        after == *before.borrow(),
                        "{what}: refused with {status} but the database changed"
                    );
                } else if endpoint.method == Method::GET {
                    prop_assert!(
                        after == *before.borrow(),
                        "{what}: a GET changed the database"
                    );
                } else {
                    accepted_writes.set(accepted_writes.get() + 1);
                    *before.borrow_mut() = after;
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }
    // Still alive and well.
    let r = rt.block_on(s.get("/readyz").send());
    assert_eq!(r.status, 200, "{}", r.text);
    rt.block_on(db.close());
    figures::record(&format!(
        "hostile input ({}): {} requests over {} endpoints, {} refused with an unchanged database, \
         {} accepted writes, no 5xx",
        if database.starts_with("postgres") {
            "postgres"
        } else {
            "sqlite"
        },
        tried.get(),
        endpoints().len(),
        refused.get(),
        accepted_writes.get()
    ));
}
