//! Secrets (issue 6, item 6). Every test server's log is scanned when the server is dropped
//! (`helpers::assert_no_secrets`), so the whole black-box run is a scan; this module adds a
//! server driven through the paths most likely to leak (bad tokens of every kind, a custom dev
//! secret, failing requests, a shutdown), and the refusal of dev auth on a network address.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::figures;
use crate::helpers::*;

#[test]
fn the_leak_detector_finds_what_it_looks_for() {
    let t = token(qualify_core::PartnerId::new_random(), false, true);
    let secrets = vec!["s3cr3t-value".to_owned()];
    assert!(!leaks(&format!("x authorization={t} y"), &[]).is_empty());
    assert!(!leaks(&format!("x {} y", &t[..t.rfind('.').unwrap()]), &[]).is_empty());
    assert!(
        !leaks(
            &format!("x {} y", t.rsplit('.').next().unwrap()),
            std::slice::from_ref(&t)
        )
        .is_empty()
    );
    assert!(!leaks("dev secret s3cr3t-value here", &secrets).is_empty());
    assert!(!leaks(qualify_server::auth::DEFAULT_DEV_SECRET, &[]).is_empty());
    assert!(leaks("request finished status=401 path=/v1/customers", &secrets).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_secrets_never_reach_the_log() {
    let secret = format!("custom-dev-secret-{}", new_id());
    let s = Server::start_with(Options {
        extra: vec![
            "--dev-secret".into(),
            secret.clone(),
            "--log-format".into(),
            "json".into(),
        ],
        ..Default::default()
    })
    .await;
    let p = s.partner();
    // Tokens signed with the well-known secret are refused here, and must not be logged either.
    let refused = [
        p.app_user.clone(),
        p.app_only.clone(),
        s.admin_token(),
        format!("{}.", &p.app_user[..p.app_user.rfind('.').unwrap()]),
        "not.a.token".into(),
    ];
    let mut tries = 0;
    for t in &refused {
        for path in ["/v1/customers", "/admin/v1/reviews"] {
            let r = s.get(path).token(t).send().await;
            r.assert_error(401, 1002);
            tries += 1;
        }
        // In other headers, the query and the body too.
        let r = s
            .post("/v1/customers")
            .header("Authorization", &format!("Basic {t}"))
            .header("MS-CorrelationId", t)
            .header("X-Locale", t)
            .json(json!({"companyProfile": {"domain": t}}))
            .send()
            .await;
        assert!(r.status >= 400, "{}", r.text);
        tries += 1;
    }
    // Accepted tokens signed with the custom secret, through reads, writes and refusals.
    let good = qualify_server::mint_dev_token(
        &qualify_server::DevToken {
            tenant: p.id,
            app_only: false,
            admin: false,
            upn: Some("user@partner.example".into()),
            ttl: Duration::from_secs(600),
            audience: qualify_server::auth::DEFAULT_AUDIENCE.into(),
        },
        &qualify_server::Secret::new(&secret),
    );
    let admin = qualify_server::mint_dev_token(
        &qualify_server::DevToken {
            tenant: p.id,
            app_only: true,
            admin: true,
            upn: None,
            ttl: Duration::from_secs(600),
            audience: qualify_server::auth::DEFAULT_AUDIENCE.into(),
        },
        &qualify_server::Secret::new(&secret),
    );
    let r = s
        .post("/v1/customers")
        .token(&good)
        .json(customer_body("contoso.edu"))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let c = r.body["id"].as_str().unwrap().to_owned();
    for body in [
        json!({"qualification": "Education", "educationSegment": "K12"}),
        json!({"qualification": "Education", "educationSegment": "K12"}),
        json!({"qualification": "GovernmentCommunityCloud", "validationCode": good}),
        json!({"qualification": good}),
    ] {
        s.post(&format!("/v1/customers/{c}/qualifications"))
            .token(&good)
            .json(body)
            .send()
            .await;
        tries += 1;
    }
    let r = s.get("/admin/v1/reviews").token(&admin).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s.get("/admin/v1/reviews").token(&good).send().await;
    r.assert_error(403, 900150);
    tries += 2;
    // A graceful shutdown logs too.
    let mut s = s;
    assert!(s.terminate().success());
    let logs = s.logs();
    let mut secrets = vec![secret.clone()];
    secrets.extend(refused.iter().filter(|t| t.len() > 20).cloned());
    secrets.push(good.clone());
    secrets.push(admin.clone());
    let found = leaks(&logs, &secrets);
    assert!(found.is_empty(), "secrets in the log: {found:?}");
    assert!(
        logs.contains("request finished"),
        "the log is not what was scanned"
    );
    figures::record(&format!(
        "secrets: {tries} requests carrying {} tokens and a custom dev secret; {} bytes of log scanned, none found \
         (and every other test server's log is scanned when it stops)",
        refused.len() + 2,
        logs.len()
    ));
}

/// Runs `qualify serve` on `listen` until it says where it listens (then stops it) or exits
/// refusing: whether it started, and what it printed.
fn serve_on(listen: &str, extra: &[&str]) -> (bool, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", listen, "--database", "sqlite::memory:"])
        .args(extra)
        .env_remove("QUALIFY_CONFIG")
        .env_remove("QUALIFY_ALLOW_DEV_AUTH_ON_NETWORK")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().expect("stdout");
    let (first_line, first) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = first_line.send(line.clone());
        let _ = reader.read_to_string(&mut line);
        line
    });
    // Its first line: where it listens; or nothing, when it exits refusing.
    let line = first
        .recv_timeout(Duration::from_secs(30))
        .expect("qualify serve neither started nor exited within 30 s");
    let running = line.starts_with("listening on ");
    if running {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    (
        running,
        reader.join().expect("the stdout reader") + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn dev_auth_is_refused_on_a_network_address_unless_the_operator_opts_in() {
    let (running, out) = serve_on("0.0.0.0:0", &[]);
    assert!(!running, "dev auth started on 0.0.0.0: {out}");
    assert!(out.contains("refusing to listen"), "{out}");
    assert!(out.contains("--allow-dev-auth-on-network"), "{out}");
    let (running, out) = serve_on("0.0.0.0:0", &["--allow-dev-auth-on-network", "false"]);
    assert!(!running, "{out}");
    // The operator opts in explicitly: it starts.
    let (running, out) = serve_on("0.0.0.0:0", &["--allow-dev-auth-on-network", "true"]);
    assert!(running, "{out}");
    assert!(out.contains("listening on http://0.0.0.0:"), "{out}");
    // Any loopback address needs no opt-in.
    let (running, out) = serve_on("127.0.0.2:0", &[]);
    assert!(running, "{out}");
    // With oidc auth the dev secret is never accepted, so a network address is fine.
    let jwks = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/oidc/jwks.json");
    let (running, out) = serve_on(
        "0.0.0.0:0",
        &[
            "--auth",
            "oidc",
            "--oidc-jwks",
            jwks,
            "--oidc-issuer",
            "https://login.microsoftonline.com/{tenantid}/v2.0",
        ],
    );
    assert!(running, "{out}");
}
