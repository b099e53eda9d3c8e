//! `qualify admin` (the operator API through the Rust SDK), run as an operator runs it, against a
//! real server: where its credential comes from, its exit codes, its tables and its `--json`.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

/// `qualify admin ARGS` against `s`, with `env` (and nothing else of qualify's) set.
fn admin(s: &Server, env: &[(&str, &str)], args: &[&str]) -> CliOut {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    let mut env = env.to_vec();
    env.push(("QUALIFY_BASE_URL", &s.base));
    run_cli(&all, &env)
}

/// A customer of `p` with an Education request in review.
async fn education_in_review(s: &Server, p: &Partner) -> String {
    let c = s.create_customer(p).await;
    let r = s
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .json(json!({"qualification": "Education", "educationSegment": "HigherEducation", "website": "contoso.com"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    c
}

#[track_caller]
fn header_of(out: &CliOut) -> &str {
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    out.stdout.lines().next().unwrap_or_default()
}

/// The README's quickstart exports the *partner's* token as `QUALIFY_TOKEN` for the client
/// commands; `qualify admin` must not pick it up (it would be refused with 403) but mint its own
/// dev admin token.
#[tokio::test]
async fn admin_works_with_the_partners_token_exported_as_the_readme_does() {
    let s = Server::start().await;
    let p = s.partner();
    let c = education_in_review(&s, &p).await;
    let env = [("QUALIFY_TOKEN", p.app_user.as_str())];

    let reviews = admin(&s, &env, &["reviews"]);
    let header = header_of(&reviews);
    assert!(
        header.contains("CUSTOMER") && header.contains("QUALIFICATION") && header.contains("ETAG"),
        "{}",
        reviews.stdout
    );
    assert!(
        reviews.stdout.contains(&c) && reviews.stdout.contains("InReview"),
        "{}",
        reviews.stdout
    );

    // The README's decide: no --etag, it is looked up in the review queue.
    let decided = admin(
        &s,
        &env,
        &[
            "decide",
            "--customer",
            &c,
            "--qualification",
            "Education",
            "--status",
            "Denied",
            "--reason",
            "Not an Education Customer",
        ],
    );
    assert_eq!(decided.code, 0, "{}", decided.stderr);
    assert!(
        decided.stdout.contains("Denied") && decided.stdout.contains("Not an Education Customer"),
        "{}",
        decided.stdout
    );
    let q = s.qualifications(&p, &c).await;
    assert_eq!(q[0]["vettingStatus"], "Denied", "{q}");

    let history = admin(
        &s,
        &env,
        &["history", "--customer", &c, "--qualification", "Education"],
    );
    assert!(header_of(&history).contains("ACTOR"), "{}", history.stdout);
    assert!(history.stdout.contains("Not an Education Customer"));
}

#[tokio::test]
async fn the_credential_comes_from_the_flag_or_qualify_admin_token() {
    let s = Server::start().await;
    let p = s.partner();
    let operator = s.admin_token();

    // A partner token given as the admin credential is used, and refused: 403, exit 1.
    let env_partner = admin(
        &s,
        &[("QUALIFY_ADMIN_TOKEN", p.app_user.as_str())],
        &["reviews", "--json"],
    );
    assert_eq!(env_partner.code, 1, "{}", env_partner.stderr);
    assert!(env_partner.stdout.is_empty(), "{}", env_partner.stdout);
    let e = env_partner.error_json();
    assert_eq!(e["status"], 403, "{e}");
    assert_eq!(e["code"], 900150, "{e}");
    assert_eq!(e["category"], "Forbidden", "{e}");
    assert!(
        e["requestId"].is_string() && e["correlationId"].is_string(),
        "{e}"
    );

    let flag_partner = admin(&s, &[], &["reviews", "--token", &p.app_user]);
    assert_eq!(flag_partner.code, 1, "{}", flag_partner.stderr);
    assert!(
        flag_partner.stderr.contains("403"),
        "{}",
        flag_partner.stderr
    );

    // An operator token works from either place; the flag wins over the environment.
    let env_operator = admin(
        &s,
        &[("QUALIFY_ADMIN_TOKEN", operator.as_str())],
        &["reviews", "--json"],
    );
    assert_eq!(env_operator.json(), json!([]));
    let flag_wins = admin(
        &s,
        &[("QUALIFY_ADMIN_TOKEN", p.app_user.as_str())],
        &["reviews", "--json", "--token", &operator],
    );
    assert_eq!(flag_wins.json(), json!([]));
}

#[tokio::test]
async fn the_minted_dev_token_is_signed_with_the_dev_secret_given() {
    let secret = "a-dev-secret-of-this-test-only";
    let s = Server::start_with(Options {
        extra: vec!["--dev-secret".into(), secret.into()],
        ..Default::default()
    })
    .await;
    // Minted with the well-known secret, which this server does not accept: 401.
    let wrong = admin(&s, &[], &["reviews", "--json"]);
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    assert_eq!(wrong.error_json()["status"], 401);
    let from_env = admin(
        &s,
        &[("QUALIFY_DEV_SECRET", secret)],
        &["reviews", "--json"],
    );
    assert_eq!(from_env.json(), json!([]));
    let flag_wins = admin(
        &s,
        &[("QUALIFY_DEV_SECRET", "not-it")],
        &["reviews", "--json", "--dev-secret", secret],
    );
    assert_eq!(flag_wins.json(), json!([]));
}

#[tokio::test]
async fn exit_codes_scripts_can_rely_on() {
    let s = Server::start().await;
    let p = s.partner();
    let c = education_in_review(&s, &p).await;
    let etag = s.review_etag(&c, "Education").await;

    // 1: the API answered with an error. A decision with a stale etag: 412.
    let r = s
        .put(&format!("/admin/v1/customers/{c}/validationStatus"))
        .token(&s.admin_token())
        .json(json!({"status": "Allowed"}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let decide = |etag: &str, json: bool| {
        let mut args = vec![
            "decide",
            "--customer",
            &c,
            "--qualification",
            "education",
            "--status",
            "approved",
            "--etag",
            etag,
        ];
        if json {
            args.push("--json");
        }
        admin(&s, &[], &args)
    };
    let stale = decide("\"not-the-etag\"", true);
    assert_eq!(stale.code, 1, "{}", stale.stderr);
    let e = stale.error_json();
    assert_eq!(e["status"], 412, "{e}");
    assert_eq!(e["category"], "PreconditionFailed", "{e}");
    assert!(e["code"].is_number(), "{e}");
    assert!(
        e["requestId"].is_string() && e["correlationId"].is_string(),
        "{e}"
    );
    assert_eq!(e["exitCode"], 1, "{e}");
    // Without --json: one line for people.
    let stale = decide("not-the-etag", false);
    assert_eq!(stale.code, 1);
    assert!(
        stale.stderr.starts_with("error: HTTP 412"),
        "{}",
        stale.stderr
    );
    assert_eq!(stale.stderr.trim().lines().count(), 1, "{}", stale.stderr);

    // The right etag decides; deciding again with it: 409 (already decided).
    assert_eq!(decide(&etag, true).json()["vettingStatus"], "Approved");
    let again = decide(&etag, true);
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert_eq!(again.error_json()["status"], 409);
    // Without --etag there is nothing in review to take it from.
    let nothing = admin(
        &s,
        &[],
        &[
            "decide",
            "--customer",
            &c,
            "--qualification",
            "Education",
            "--status",
            "Denied",
        ],
    );
    assert_eq!(nothing.code, 1, "{}", nothing.stderr);
    assert!(nothing.stderr.contains("--etag"), "{}", nothing.stderr);
    // A customer nobody has: 404.
    let missing = admin(
        &s,
        &[],
        &[
            "history",
            "--customer",
            &new_id(),
            "--qualification",
            "Education",
        ],
    );
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(missing.stderr.contains("404"), "{}", missing.stderr);

    // 2: usage errors: an unknown flag, a bad value, a missing flag, a bad duration, a bad URL.
    for args in [
        vec!["reviews", "--bogus"],
        vec!["reviews", "--status", "Pending"],
        vec!["history", "--customer", &c, "--qualification", "Nonsense"],
        vec![
            "decide",
            "--qualification",
            "Education",
            "--status",
            "Denied",
        ],
        vec![
            "decide",
            "--customer",
            &c,
            "--qualification",
            "Education",
            "--status",
            "InReview",
        ],
        vec!["validation-status", "--customer", &c, "--status", "Maybe"],
        vec!["gdap", "--customer", &c, "--role", "Global Administrator"],
        vec!["reviews", "--request-timeout", "soon"],
        vec!["reviews", "--base-url", "not a url"],
        vec![],
    ] {
        let out = admin(&s, &[], &args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        assert!(!out.stderr.is_empty(), "{args:?}");
    }

    // 3: nothing listens there (the flag wins over QUALIFY_BASE_URL).
    let closed = closed_port_url();
    let unreachable = admin(
        &s,
        &[],
        &[
            "reviews",
            "--base-url",
            &closed,
            "--max-attempts",
            "1",
            "--json",
        ],
    );
    assert_eq!(unreachable.code, 3, "{}", unreachable.stderr);
    let e = unreachable.error_json();
    assert_eq!(e["category"], "Transport", "{e}");
    assert_eq!(e["exitCode"], 3, "{e}");
    let people = admin(
        &s,
        &[],
        &[
            "validation-codes",
            "list",
            "--partner",
            &p.id.to_string(),
            "--base-url",
            &closed,
            "--max-attempts",
            "1",
        ],
    );
    assert_eq!(people.code, 3, "{}", people.stderr);
    assert!(people.stderr.starts_with("error: "), "{}", people.stderr);
}

#[tokio::test]
async fn tables_by_default_and_the_apis_shapes_with_json() {
    let s = Server::start().await;
    let p = s.partner();
    let partner = p.id.to_string();

    // Validation codes.
    let issued = admin(
        &s,
        &[],
        &[
            "validation-codes",
            "issue",
            "--partner",
            &partner,
            "--organization",
            "Contoso Gov",
            "--max-creates",
            "3",
            "--json",
        ],
    )
    .json();
    let code = issued["validationId"].as_str().expect("a validationId");
    assert_eq!(issued["partnerId"], partner.as_str(), "{issued}");
    assert_eq!(issued["organizationName"], "Contoso Gov");
    assert_eq!(issued["maxCreates"], 3);
    assert_eq!(issued["remainingCreates"], 3);
    let listed = admin(
        &s,
        &[],
        &["validation-codes", "list", "--partner", &partner, "--json"],
    )
    .json();
    assert_eq!(listed, json!([issued]));
    let table = admin(
        &s,
        &[],
        &["validation-codes", "list", "--partner", &partner],
    );
    assert!(
        header_of(&table).contains("VALIDATION ID"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains(code) && table.stdout.contains("Contoso Gov"));
    let issued_table = admin(
        &s,
        &[],
        &[
            "validation-codes",
            "issue",
            "--partner",
            &partner,
            "--organization",
            "Fabrikam Gov",
        ],
    );
    assert!(header_of(&issued_table).contains("ORGANIZATION"));
    assert!(issued_table.stdout.contains("Fabrikam Gov"));

    // The review queue, as JSON and as a table.
    let c = education_in_review(&s, &p).await;
    let queue = admin(&s, &[], &["reviews", "--json"]).json();
    let item = &queue[0];
    assert_eq!(queue.as_array().map(Vec::len), Some(1), "{queue}");
    assert_eq!(item["customerId"], c.as_str());
    assert_eq!(item["partnerId"], partner.as_str());
    assert_eq!(item["qualification"], "Education");
    assert_eq!(item["vettingStatus"], "InReview");
    assert_eq!(item["educationSegment"], "HigherEducation");
    assert_eq!(item["website"], "contoso.com");
    assert!(item["vettingCreateDate"].is_string(), "{item}");
    let etag = item["etag"].as_str().expect("an etag");
    let table = admin(&s, &[], &["reviews"]);
    assert!(
        header_of(&table).contains("VETTING STATUS"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains(etag) && table.stdout.contains("contoso.com"));

    // Decide with the etag from the queue: the qualification's shape (4.2).
    let decided = admin(
        &s,
        &[],
        &[
            "decide",
            "--customer",
            &c,
            "--qualification",
            "Education",
            "--status",
            "Approved",
            "--etag",
            etag,
            "--json",
        ],
    )
    .json();
    assert_eq!(decided["qualification"], "Education", "{decided}");
    assert_eq!(decided["vettingStatus"], "Approved");
    assert!(decided["vettingCreateDate"].is_string());
    assert_eq!(admin(&s, &[], &["reviews", "--json"]).json(), json!([]));
    let approved = admin(&s, &[], &["reviews", "--status", "approved", "--json"]).json();
    assert_eq!(approved[0]["customerId"], c.as_str(), "{approved}");
    assert_eq!(approved[0]["vettingStatus"], "Approved");

    // History: oldest first, the API's audit events.
    let history = admin(
        &s,
        &[],
        &[
            "history",
            "--customer",
            &c,
            "--qualification",
            "Education",
            "--json",
        ],
    )
    .json();
    let events = history.as_array().expect("an array");
    assert_eq!(events.len(), 2, "{history}");
    assert_eq!(events[0]["to"], "InReview");
    assert_eq!(events[1]["from"], "InReview");
    assert_eq!(events[1]["to"], "Approved");
    assert!(
        events
            .iter()
            .all(|e| e["at"].is_string() && e["actor"].is_string())
    );
    assert_eq!(
        events[1]["actor"]
            .as_str()
            .map(|a| a.starts_with("operator")),
        Some(true),
        "{history}"
    );
    let table = admin(
        &s,
        &[],
        &["history", "--customer", &c, "--qualification", "Education"],
    );
    let header = header_of(&table);
    assert!(
        header.contains("FROM") && header.contains("TO"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("Approved"));

    // Account validation status: what the partner then reads.
    let status = admin(
        &s,
        &[],
        &[
            "validation-status",
            "--customer",
            &c,
            "--status",
            "not ready",
            "--json",
        ],
    )
    .json();
    assert_eq!(status["type"], "account", "{status}");
    assert_eq!(status["status"], "Not Ready");
    assert!(status["lastUpdateDateTime"].is_string());
    let table = admin(
        &s,
        &[],
        &["validation-status", "--customer", &c, "--status", "Allowed"],
    );
    assert!(header_of(&table).contains("STATUS"), "{}", table.stdout);
    assert!(table.stdout.contains("Allowed"));
    let r = s
        .get(&format!("/v1/customers/{c}/validationStatus?type=account"))
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(r.body["status"], "Allowed", "{}", r.text);

    // GDAP: the grant; no --role revokes every role.
    let grant = admin(
        &s,
        &[],
        &[
            "gdap",
            "--customer",
            &c,
            "--role",
            "Directory Reader",
            "--role",
            "licenseadministrator",
            "--json",
        ],
    )
    .json();
    assert_eq!(grant["customerId"], c.as_str(), "{grant}");
    assert_eq!(grant["partnerId"], partner.as_str());
    assert_eq!(
        grant["roles"],
        json!(["Directory Reader", "License Administrator"])
    );
    let table = admin(&s, &[], &["gdap", "--customer", &c]);
    assert!(header_of(&table).contains("ROLES"), "{}", table.stdout);
    let cleared = admin(&s, &[], &["gdap", "--customer", &c, "--json"]).json();
    assert_eq!(cleared["roles"], json!([]), "{cleared}");
}

#[test]
fn help_says_where_the_token_comes_from_and_the_exit_codes() {
    let help = |args: &[&str]| {
        let out = run_cli(args, &[]);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        out.stdout
    };
    let top = help(&["admin", "--help"]);
    for needle in [
        "QUALIFY_ADMIN_TOKEN",
        "QUALIFY_TOKEN",
        "--dev-secret",
        "Exit codes",
        "--base-url",
        "QUALIFY_BASE_URL",
        "--json",
        "--max-attempts",
        "--request-timeout",
    ] {
        assert!(top.contains(needle), "{needle}: {top}");
    }
    for sub in ["reviews", "decide", "history", "gdap", "validation-status"] {
        let h = help(&["admin", sub, "--help"]);
        assert!(
            h.contains("Exit codes") && h.contains("QUALIFY_ADMIN_TOKEN"),
            "{sub}: {h}"
        );
    }
    let decide = help(&["admin", "decide", "--help"]);
    assert!(decide.contains("Approved") && decide.contains("Denied"));
}

/// A webhook receiver on loopback that answers every delivery with `status`; counts them.
async fn receiver(status: u16) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            axum::http::StatusCode::from_u16(status).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

/// `qualify admin deliveries` lists a partner's webhook deliveries (a table, `--status`,
/// `--json`) and `qualify admin redeliver ID` attempts one again.
#[tokio::test]
async fn deliveries_are_listed_and_redelivered_from_the_cli() {
    use std::sync::atomic::Ordering;
    let s = Server::start().await;
    let p = s.partner();
    let (url, hits) = receiver(500).await;
    let r = s
        .post("/webhooks/v1/registration")
        .token(&p.app_user)
        .json(json!({"WebhookUrl": url, "WebhookEvents": ["customer-qualification-created"]}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = education_in_review(&s, &p).await;

    let partner = p.id.to_string();
    let path = format!("/admin/v1/partners/{partner}/deliveries");
    s.eventually("a delivery attempt", Duration::from_secs(15), async || {
        let r = s.get(&path).token(&s.admin_token()).send().await;
        let attempts = r.body[0]["attempts"].as_array().cloned();
        attempts.filter(|a| !a.is_empty())
    })
    .await;

    let listed = admin(&s, &[], &["deliveries", "--partner", &partner]);
    let header = header_of(&listed);
    for column in [
        "ID",
        "EVENT",
        "CUSTOMER",
        "STATUS",
        "ATTEMPTS",
        "NEXT ATTEMPT",
    ] {
        assert!(header.contains(column), "{}", listed.stdout);
    }
    let row = listed.stdout.lines().nth(1).unwrap_or_default();
    for cell in [
        "customer-qualification-created",
        c.as_str(),
        "pending",
        "500",
    ] {
        assert!(row.contains(cell), "{cell} in {}", listed.stdout);
    }

    let json = admin(
        &s,
        &[],
        &[
            "deliveries",
            "--partner",
            &partner,
            "--status",
            "pending",
            "--json",
        ],
    )
    .json();
    assert_eq!(json.as_array().map(Vec::len), Some(1), "{json}");
    let id = json[0]["id"].as_str().expect("a string id").to_owned();
    let dead = admin(
        &s,
        &[],
        &["deliveries", "--partner", &partner, "--status", "dead"],
    );
    let words = |line: &str| line.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(
        words(header_of(&dead)),
        words(header),
        "no dead delivery: the header alone"
    );
    assert_eq!(dead.stdout.lines().count(), 1, "{}", dead.stdout);
    let bad = admin(
        &s,
        &[],
        &["deliveries", "--partner", &partner, "--status", "lost"],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("pending"), "{}", bad.stderr);

    let before = hits.load(Ordering::SeqCst);
    let again = admin(&s, &[], &["redeliver", &id, "--json"]).json();
    assert_eq!(again["id"], id.as_str());
    poll_until("a redelivery", Duration::from_secs(15), async || {
        (hits.load(Ordering::SeqCst) > before).then_some(())
    })
    .await;
    let unknown = match id.parse::<u64>() {
        Ok(n) => (n + 1_000_000).to_string(),
        Err(_) => uuid::Uuid::new_v4().to_string(),
    };
    let unknown = admin(&s, &[], &["redeliver", &unknown]);
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);

    let help = run_cli(&["admin", "deliveries", "--help"], &[]);
    assert!(
        help.stdout.contains("--status") && help.stdout.contains("succeeded"),
        "{}",
        help.stdout
    );
    let help = run_cli(&["admin", "redeliver", "--help"], &[]);
    assert!(help.stdout.contains("webhook-id"), "{}", help.stdout);
}
