//! The client commands of the binary (`customers`, `qualifications`, `validations`,
//! `validation-status`), run as a user runs them, against a real server.

use std::process::Command;

use serde_json::json;

use crate::helpers::*;

/// Runs `qualify ARGS` with the server and token in the environment (as a script would).
fn qualify(base: &str, token: Option<&str>, args: &[&str]) -> CliOut {
    let mut env = vec![("QUALIFY_BASE_URL", base)];
    if let Some(t) = token {
        env.push(("QUALIFY_TOKEN", t));
    }
    run_cli(args, &env)
}

#[tokio::test]
async fn customers_create_get_list_with_json_and_tables() {
    let s = Server::start().await;
    let p = s.partner();
    let t = Some(p.app_user.as_str());
    let created = qualify(
        &s.base,
        t,
        &[
            "customers",
            "create",
            "--domain",
            "contoso.onmicrosoft.com",
            "--company-name",
            "Contoso",
            "--country",
            "US",
            "--address-line1",
            "1 Microsoft Way",
            "--city",
            "Redmond",
            "--first-name",
            "Ada",
            "--last-name",
            "Lovelace",
            "--billing-email",
            "ada@contoso.com",
            "--json",
        ],
    )
    .json();
    let id = created["id"].as_str().expect("an id").to_owned();
    assert_eq!(
        created["companyProfile"]["domain"],
        "contoso.onmicrosoft.com"
    );
    assert_eq!(
        created["billingProfile"]["defaultAddress"]["city"],
        "Redmond"
    );
    assert_eq!(created["relationshipToPartner"], "reseller");

    let got = qualify(&s.base, t, &["customers", "get", &id, "--json"]).json();
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["billingProfile"]["firstName"], "Ada");

    // The same request id twice: one customer (the second answer is the stored one).
    let request_id = new_id();
    let again = || {
        qualify(
            &s.base,
            t,
            &[
                "customers",
                "create",
                "--domain",
                "fabrikam.onmicrosoft.com",
                "--request-id",
                &request_id,
                "--json",
            ],
        )
        .json()
    };
    let first = again();
    let second = again();
    assert_eq!(first["id"], second["id"]);

    let list = qualify(&s.base, t, &["customers", "list", "--json"]).json();
    let ids: Vec<&str> = list
        .as_array()
        .expect("an array")
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{list}");
    assert!(ids.contains(&id.as_str()));

    // Paging: one per page, followed to the end with --all.
    let page = qualify(&s.base, t, &["customers", "list", "--size", "1", "--json"]);
    assert_eq!(page.json().as_array().map(Vec::len), Some(1));
    assert!(page.stderr.contains("--all"), "{}", page.stderr);
    let all = qualify(
        &s.base,
        t,
        &["customers", "list", "--size", "1", "--all", "--json"],
    )
    .json();
    assert_eq!(all.as_array().map(Vec::len), Some(2));

    // A table by default.
    let table = qualify(&s.base, t, &["customers", "list"]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    let header = table.stdout.lines().next().unwrap_or_default();
    assert!(
        header.contains("ID") && header.contains("DOMAIN"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains(&id), "{}", table.stdout);
    assert!(table.stdout.contains("contoso.onmicrosoft.com"));
}

#[tokio::test]
async fn qualifications_validations_and_validation_status() {
    let s = Server::start().await;
    let p = s.partner();
    let t = Some(p.app_user.as_str());
    let c = s.create_customer(&p).await;

    let created = qualify(
        &s.base,
        t,
        &[
            "qualifications",
            "create",
            "--customer",
            &c,
            "--qualification",
            "education",
            "--segment",
            "HigherEducation",
            "--website",
            "contoso.edu",
            "--json",
        ],
    )
    .json();
    assert_eq!(created["qualification"], "Education");
    assert_eq!(created["vettingStatus"], "InReview");
    assert!(created["vettingCreateDate"].is_string());

    let list = qualify(
        &s.base,
        t,
        &["qualifications", "list", "--customer", &c, "--json"],
    )
    .json();
    assert_eq!(list, json!([created]));
    let table = qualify(&s.base, t, &["qualifications", "list", "--customer", &c]);
    assert!(table.stdout.contains("Education") && table.stdout.contains("InReview"));

    // GCC with a validation code issued by the operator.
    assert_eq!(
        qualify(&s.base, t, &["validations", "list", "--json"]).json(),
        json!([])
    );
    let code = s.issue_code(&p, 2).await;
    let gov = s.create_customer(&p).await;
    let gcc = qualify(
        &s.base,
        t,
        &[
            "qualifications",
            "create",
            "--customer",
            &gov,
            "--qualification",
            "GovernmentCommunityCloud",
            "--validation-code",
            &code,
            "--json",
        ],
    )
    .json();
    assert_eq!(gcc["qualification"], "GovernmentCommunityCloud");
    let codes = qualify(&s.base, t, &["validations", "list", "--json"]).json();
    assert_eq!(codes[0]["validationId"], code.as_str());
    assert_eq!(codes[0]["remainingCreates"], 1);
    let table = qualify(&s.base, t, &["validations", "list"]);
    assert!(table.stdout.contains(&code), "{}", table.stdout);

    // Validation status: 404 600074 until the operator sets it.
    let none = qualify(
        &s.base,
        t,
        &["validation-status", "get", "--customer", &c, "--json"],
    );
    assert_eq!(none.code, 1, "{}", none.stderr);
    assert!(none.stdout.is_empty());
    let e = none.error_json();
    assert_eq!(e["status"], 404);
    assert_eq!(e["code"], 600074);
    assert_eq!(e["category"], "NotFound");
    assert!(e["requestId"].is_string() && e["correlationId"].is_string());
    let r = s
        .put(&format!("/admin/v1/customers/{c}/validationStatus"))
        .token(&s.admin_token())
        .json(json!({"status": "Allowed"}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let status = qualify(
        &s.base,
        t,
        &["validation-status", "get", "--customer", &c, "--json"],
    )
    .json();
    assert_eq!(status["type"], "account");
    assert_eq!(status["status"], "Allowed");
}

#[tokio::test]
async fn wait_reaches_a_terminal_status_under_auto_vetting() {
    let s = Server::start_with(Options {
        vetting: "auto",
        delay: "1s",
        ..Default::default()
    })
    .await;
    let p = s.partner();
    let t = Some(p.app_user.as_str());
    let c = s.create_customer(&p).await;
    let created = qualify(
        &s.base,
        t,
        &[
            "qualifications",
            "create",
            "--customer",
            &c,
            "--qualification",
            "Education",
            "--segment",
            "K12",
            "--website",
            "contoso.edu",
        ],
    );
    assert_eq!(created.code, 0, "{}", created.stderr);
    let waited = qualify(
        &s.base,
        t,
        &[
            "qualifications",
            "wait",
            "--customer",
            &c,
            "--timeout",
            "30s",
            "--interval",
            "200ms",
            "--json",
        ],
    );
    let decided = waited.json();
    assert_eq!(decided["qualification"], "Education");
    assert_eq!(decided["vettingStatus"], "Approved");
    // stderr is not a terminal here: no progress line.
    assert!(waited.stderr.is_empty(), "{:?}", waited.stderr);

    // A denial is a terminal status too (exit 0; the status says what happened).
    let c2 = s.create_customer(&p).await;
    s.post(&format!("/v1/customers/{c2}/qualifications"))
        .token(&p.app_user)
        .json(json!({"qualification": "Education", "educationSegment": "K12", "website": "contoso.com"}))
        .send()
        .await;
    let denied = qualify(
        &s.base,
        t,
        &[
            "qualifications",
            "wait",
            "--customer",
            &c2,
            "--qualification",
            "Education",
            "--interval",
            "200ms",
        ],
    );
    assert_eq!(denied.code, 0, "{}", denied.stderr);
    assert!(denied.stdout.contains("Denied"), "{}", denied.stdout);
    assert!(denied.stdout.contains("Not an Academic Domain"));
}

#[tokio::test]
async fn exit_codes_scripts_can_rely_on() {
    let s = Server::start().await;
    let p = s.partner();
    let t = Some(p.app_user.as_str());

    // 1: the API answered with an error.
    let missing = qualify(&s.base, t, &["customers", "get", &new_id()]);
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(missing.stderr.contains("404"), "{}", missing.stderr);
    let forbidden = qualify(
        &s.base,
        Some(&p.app_only),
        &[
            "qualifications",
            "create",
            "--customer",
            &s.create_customer(&p).await,
            "--qualification",
            "StateOwnedEntity",
            "--json",
        ],
    );
    assert_eq!(forbidden.code, 1);
    assert_eq!(forbidden.error_json()["code"], 900150);

    // 2: usage: no token, a bad value, an unknown flag.
    let no_token = qualify(&s.base, None, &["validations", "list"]);
    assert_eq!(no_token.code, 2, "{}", no_token.stderr);
    assert!(no_token.stderr.contains("QUALIFY_TOKEN"));
    let bad = qualify(
        &s.base,
        t,
        &[
            "qualifications",
            "create",
            "--customer",
            &new_id(),
            "--qualification",
            "Nonsense",
        ],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert_eq!(
        qualify(&s.base, t, &["customers", "list", "--bogus"]).code,
        2
    );

    // 3: nothing listens there (the flag wins over QUALIFY_BASE_URL).
    let closed = closed_port_url();
    let unreachable = qualify(
        &s.base,
        t,
        &[
            "validations",
            "list",
            "--base-url",
            &closed,
            "--max-attempts",
            "1",
            "--json",
        ],
    );
    assert_eq!(unreachable.code, 3, "{}", unreachable.stderr);
    assert_eq!(unreachable.error_json()["category"], "Transport");

    // 4: vetting did not finish within --timeout (manual vetting: nobody decides).
    let c = s.create_customer(&p).await;
    s.post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .json(json!({"qualification": "StateOwnedEntity"}))
        .send()
        .await;
    let started = std::time::Instant::now();
    let timed_out = qualify(
        &s.base,
        t,
        &[
            "qualifications",
            "wait",
            "--customer",
            &c,
            "--timeout",
            "1s",
            "--interval",
            "100ms",
        ],
    );
    assert_eq!(timed_out.code, 4, "{}", timed_out.stderr);
    assert!(
        timed_out.stderr.contains("InReview"),
        "{}",
        timed_out.stderr
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));

    // --token wins over the environment.
    let with_flag = qualify(
        &s.base,
        Some("garbage"),
        &["validations", "list", "--token", &p.app_user],
    );
    assert_eq!(with_flag.code, 0, "{}", with_flag.stderr);
    assert_eq!(
        qualify(&s.base, Some("garbage"), &["validations", "list"]).code,
        1
    );
}

#[test]
fn help_documents_the_exit_codes_and_connection_flags() {
    for group in [
        "customers",
        "qualifications",
        "validations",
        "validation-status",
    ] {
        let out = Command::new(BIN)
            .args([group, "--help"])
            .output()
            .expect("qualify --help");
        assert!(out.status.success());
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Exit codes"), "{group}: {help}");
        assert!(help.contains("--base-url") && help.contains("QUALIFY_BASE_URL"));
        assert!(help.contains("--token") && help.contains("--json"));
    }
    let out = Command::new(BIN)
        .args(["qualifications", "wait", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--timeout") && help.contains("Exit codes"));
}
