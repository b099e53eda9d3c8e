//! The test control plane across a process's life (control.md 1-4): `--seed` at start-up,
//! `--clock`, control state kept by a restart, test values by auth mode, and a clock advance on
//! one of several PostgreSQL instances. The HTTP behaviour of each endpoint is tested in process
//! (`crates/qualify-server/tests/http/control_*.rs`).

use std::process::Command;

use futures::future::join_all;
use qualify_store::testing::fresh_postgres_database;
use serde_json::{Value, json};

use crate::helpers::*;

const P: &str = "9daaeb1c-4195-4db5-9f1d-509eb70c8c2d";
const C: &str = "2b3f6a7e-1f1e-4c55-9b0a-3c2d1e0f9a8b";

fn seed_document(codes: &[&str]) -> Value {
    json!({
      "version": 1,
      "partners": [{
        "id": P,
        "validationCodes": codes.iter().map(|c| json!({"validationId": c, "organizationName": "Contoso Gov", "maxCreates": 5})).collect::<Vec<_>>(),
        "customers": [{
          "id": C,
          "companyProfile": {"domain": "contoso.onmicrosoft.com", "companyName": "Contoso"},
          "gdapRoles": ["Directory Reader"],
          "qualifications": [{"qualification": "StateOwnedEntity", "vettingStatus": "InReview", "vettingCreateDate": "2026-01-03T09:00:00Z"}]
        }]
      }]
    })
}

fn seeded_partner() -> Partner {
    let id = P.parse().unwrap();
    Partner {
        id,
        app_user: token(id, false, false),
        app_only: token(id, true, false),
    }
}

async fn admin(s: &Server, method: reqwest::Method, path: &str, body: Option<Value>) -> Resp {
    let mut req = s.req(method, path).token(&s.admin_token());
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await
}

#[tokio::test]
async fn seed_at_start_up_once_per_document_and_again_when_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    std::fs::write(&seed, seed_document(&["111111"]).to_string()).unwrap();
    let mut s = Server::start_with(Options {
        extra: vec!["--seed".into(), seed.display().to_string()],
        ..Default::default()
    })
    .await;
    let p = seeded_partner();
    // Ready means seeded.
    assert_eq!(
        s.qualifications(&p, C).await[0]["vettingStatus"],
        "InReview"
    );
    assert_eq!(s.codes(&p).await.as_array().unwrap().len(), 1);
    let d = s
        .post(&format!(
            "/admin/v1/customers/{C}/qualifications/StateOwnedEntity/decision"
        ))
        .token(&s.admin_token())
        .header("If-Match", &s.review_etag(C, "StateOwnedEntity").await)
        .json(json!({"vettingStatus": "Approved"}))
        .send()
        .await;
    assert_eq!(d.status, 200, "{}", d.text);
    // A restart with the same document does not apply it again: the decision is kept.
    s.kill9();
    s.restart().await;
    assert_eq!(
        s.qualifications(&p, C).await[0]["vettingStatus"],
        "Approved"
    );
    // A changed document is applied: its customer replaces the stored one.
    std::fs::write(&seed, seed_document(&["111111", "222222"]).to_string()).unwrap();
    s.terminate();
    s.restart().await;
    assert_eq!(s.codes(&p).await.as_array().unwrap().len(), 2);
    assert_eq!(
        s.qualifications(&p, C).await[0]["vettingStatus"],
        "InReview"
    );
    // A reset goes back to the document applied last.
    s.post("/v1/customers")
        .token(&p.app_user)
        .json(customer_body("fabrikam.com"))
        .send()
        .await;
    let r = admin(
        &s,
        reqwest::Method::POST,
        &format!("/admin/v1/partners/{P}/reset"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["customers"], 2);
    let snap = admin(
        &s,
        reqwest::Method::GET,
        &format!("/admin/v1/partners/{P}/snapshot"),
        None,
    )
    .await;
    assert_eq!(
        snap.body["partners"][0]["customers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        snap.body["partners"][0]["validationCodes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_bad_seed_document_stops_start_up_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("bad.json");
    let mut doc = seed_document(&[]);
    doc["partners"][0]["customers"][0]["qualifications"][0]["vettingStatus"] = json!("Pending");
    std::fs::write(&seed, doc.to_string()).unwrap();
    for (file, expected) in [
        (
            seed.display().to_string(),
            "partners[0].customers[0].qualifications[0].vettingStatus",
        ),
        (
            dir.path().join("missing.json").display().to_string(),
            "missing.json",
        ),
    ] {
        let out = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database",
                "sqlite::memory:",
            ])
            .args(["--seed", &file])
            .env_remove("QUALIFY_CONFIG")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("listening on"),
            "never listened"
        );
    }
}

#[tokio::test]
async fn a_restart_keeps_scenarios_and_clocks() {
    let mut s = Server::start().await;
    let p = s.partner();
    let scenario = json!({"rules": [{"match": {"qualification": "StateOwnedEntity"}, "outcome": "Approved", "after": "1h"}]});
    let r = admin(
        &s,
        reqwest::Method::PUT,
        &format!("/admin/v1/partners/{}/vetting", p.id),
        Some(scenario.clone()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin(
        &s,
        reqwest::Method::PUT,
        &format!("/admin/v1/partners/{}/clock", p.id),
        Some(json!({"frozenAt": "2031-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin(
        &s,
        reqwest::Method::PUT,
        "/admin/v1/clock",
        Some(json!({"frozenAt": "2032-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = s.create_customer(&p).await;
    assert_created(
        &s.create_qualification(&p, &c, state_owned()).await,
        "StateOwnedEntity",
    );
    s.kill9();
    s.restart().await;
    let r = admin(
        &s,
        reqwest::Method::GET,
        &format!("/admin/v1/partners/{}/vetting", p.id),
        None,
    )
    .await;
    assert_eq!(r.body, scenario);
    let r = admin(
        &s,
        reqwest::Method::GET,
        &format!("/admin/v1/partners/{}/clock", p.id),
        None,
    )
    .await;
    assert_eq!(
        r.body,
        json!({"now": "2031-01-01T00:00:00Z", "mode": "frozen", "scope": "partner"})
    );
    let r = admin(&s, reqwest::Method::GET, "/admin/v1/clock", None).await;
    assert_eq!(r.body["now"], "2032-01-01T00:00:00Z");
    // The request recorded before the restart keeps its rule, decided by an advance after it.
    let r = admin(
        &s,
        reqwest::Method::POST,
        &format!("/admin/v1/partners/{}/clock/advance", p.id),
        Some(json!({"by": "1h"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["applied"][0]["to"], "Approved", "{}", r.text);
}

#[tokio::test]
async fn the_clock_flag_starts_the_global_clock_frozen_and_a_restart_keeps_later_time() {
    let mut s = Server::start_with(Options {
        extra: vec!["--clock".into(), "frozen:2030-01-01T00:00:00Z".into()],
        ..Default::default()
    })
    .await;
    let r = admin(&s, reqwest::Method::GET, "/admin/v1/clock", None).await;
    assert_eq!(
        r.body,
        json!({"now": "2030-01-01T00:00:00Z", "mode": "frozen", "scope": "global"})
    );
    let p = s.partner();
    let c = s.create_customer(&p).await;
    assert_eq!(
        s.create_qualification(&p, &c, state_owned()).await.body["vettingCreateDate"],
        "2030-01-01T00:00:00Z"
    );
    admin(
        &s,
        reqwest::Method::POST,
        "/admin/v1/clock/advance",
        Some(json!({"by": "24h"})),
    )
    .await;
    s.kill9();
    s.restart().await;
    let r = admin(&s, reqwest::Method::GET, "/admin/v1/clock", None).await;
    assert_eq!(
        r.body["now"], "2030-01-02T00:00:00Z",
        "time never goes back"
    );
    // A bad --clock is a usage error naming the flag.
    let out = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            "sqlite::memory:",
            "--clock",
            "now",
        ])
        .env_remove("QUALIFY_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--clock"));
}

/// The three test values under auto vetting, as the partner sees them once decided.
async fn test_value_outcomes(s: &Server, p: &Partner) -> Vec<Value> {
    let mut customers = vec![];
    for domain in ["approved.test", "denied.test"] {
        let c = s.create_customer_with_domain(p, domain).await;
        let r = s
            .create_qualification(
                p,
                &c,
                json!({"qualification": "Education", "educationSegment": "K12"}),
            )
            .await;
        assert_created(&r, "Education");
        customers.push(c);
    }
    let mut out = vec![];
    for c in &customers {
        out.push(
            s.wait_terminal(p, c, std::time::Duration::from_secs(15))
                .await,
        );
    }
    out
}

#[tokio::test]
async fn test_values_are_on_with_dev_auth() {
    let s = Server::start_with(Options {
        vetting: "auto",
        ..Default::default()
    })
    .await;
    let p = s.partner();
    let outcomes = test_value_outcomes(&s, &p).await;
    assert_eq!(outcomes[0]["vettingStatus"], "Approved");
    assert_eq!(outcomes[1]["vettingReason"], "Not an Education Customer");
}

#[tokio::test]
async fn test_values_are_off_with_oidc_unless_turned_on() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/oidc");
    let oidc = |on: Option<&str>| {
        let mut extra: Vec<String> = [
            "--auth",
            "oidc",
            "--oidc-jwks",
            &format!("{fixtures}/jwks.json"),
            "--oidc-issuer",
            "https://login.microsoftonline.com/{tenantid}/v2.0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(v) = on {
            extra.extend(["--test-values".into(), v.into()]);
        }
        Options {
            vetting: "auto",
            extra,
            ..Default::default()
        }
    };
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(
        &std::fs::read(format!("{fixtures}/rsa-private.pem")).unwrap(),
    )
    .unwrap();
    let partner = |id: qualify_core::PartnerId| {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some("rsa-1".into());
        let t = jsonwebtoken::encode(
            &header,
            &json!({
                "aud": qualify_server::auth::DEFAULT_AUDIENCE,
                "iss": format!("https://login.microsoftonline.com/{id}/v2.0"),
                "tid": id.to_string(), "iat": now, "nbf": now, "exp": now + 600,
                "scp": "user_impersonation", "upn": "ada@partner.example",
            }),
            &key,
        )
        .unwrap();
        Partner {
            id,
            app_user: t.clone(),
            app_only: t,
        }
    };
    let off = Server::start_with(oidc(None)).await;
    let outcomes = test_value_outcomes(&off, &partner(qualify_core::PartnerId::new_random())).await;
    for o in &outcomes {
        assert_eq!(o["vettingReason"], "Not an Academic Domain", "{o}");
    }
    let on = Server::start_with(oidc(Some("true"))).await;
    let outcomes = test_value_outcomes(&on, &partner(qualify_core::PartnerId::new_random())).await;
    assert_eq!(outcomes[0]["vettingStatus"], "Approved");
}

/// Several instances on one PostgreSQL: an advance sent to one runs the partner's due work
/// wherever it would be claimed, and no job runs twice (control.md 4).
#[tokio::test]
async fn an_advance_on_one_instance_decides_work_of_the_cluster_exactly_once() {
    let Some(database) = fresh_postgres_database().await else {
        return;
    };
    let nodes = join_all((0..3).map(|_| Server::start_on(&database, Options::default()))).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let p = a.partner();
    let r = admin(
        a,
        reqwest::Method::PUT,
        &format!("/admin/v1/partners/{}/clock", p.id),
        Some(json!({"frozenAt": "2030-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = admin(
        b,
        reqwest::Method::PUT,
        &format!("/admin/v1/partners/{}/vetting", p.id),
        Some(json!({"rules": [{"outcome": "Approved", "after": "1h"}]})),
    )
    .await;
    assert_eq!(r.status, 200);
    // Requests recorded on every instance, all due in one virtual hour.
    let mut customers = vec![];
    for (i, n) in nodes.iter().enumerate().cycle().take(30) {
        let c = n.create_customer(&p).await;
        assert_created(
            &n.create_qualification(&p, &c, state_owned()).await,
            "StateOwnedEntity",
        );
        customers.push((i, c));
    }
    let r = admin(
        b,
        reqwest::Method::POST,
        &format!("/admin/v1/partners/{}/clock/advance", p.id),
        Some(json!({"by": "1h"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["applied"].as_array().unwrap().len(),
        30,
        "{}",
        r.text
    );
    for (i, c) in &customers {
        assert_eq!(
            nodes[*i].qualifications(&p, c).await[0]["vettingStatus"],
            "Approved"
        );
        let h = a.history(c, "StateOwnedEntity").await;
        assert_eq!(h.as_array().unwrap().len(), 2, "decided once: {h}");
    }
    // Every instance sees the partner's new time.
    for n in &nodes {
        let r = admin(
            n,
            reqwest::Method::GET,
            &format!("/admin/v1/partners/{}/clock", p.id),
            None,
        )
        .await;
        assert_eq!(r.body["now"], "2030-01-01T01:00:00Z");
    }
}
