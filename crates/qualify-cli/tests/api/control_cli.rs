//! `qualify admin reset|fixtures|scenario|clock` (control.md 1-4) run as a test suite's set-up
//! script runs them, against the real binary: tables, `--json`, files and stdin, exit codes.

use serde_json::{Value, json};

use crate::helpers::*;

const P: &str = "9daaeb1c-4195-4db5-9f1d-509eb70c8c2d";

/// The example fixture document (docs/fixtures.example.json).
fn example() -> Value {
    serde_json::from_str(include_str!("../../../../docs/fixtures.example.json"))
        .expect("docs/fixtures.example.json is JSON")
}

/// `qualify admin ARGS` against `s`.
fn admin(s: &Server, args: &[&str]) -> CliOut {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    run_cli(&all, &[("QUALIFY_BASE_URL", &s.base)])
}

fn admin_stdin(s: &Server, args: &[&str], stdin: &str) -> CliOut {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    run_cli_with_stdin(&all, &[("QUALIFY_BASE_URL", &s.base)], stdin)
}

#[track_caller]
fn ok(out: &CliOut) -> &str {
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    &out.stdout
}

#[track_caller]
fn usage_error(out: &CliOut) {
    assert_eq!(out.code, 2, "stdout: {} stderr: {}", out.stdout, out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(!out.stderr.is_empty());
}

#[tokio::test]
async fn fixtures_seed_snapshot_restore_and_reset() {
    let s = Server::start().await;
    let files = tempfile::tempdir().unwrap();
    let doc = files.path().join("state.json");
    std::fs::write(&doc, example().to_string()).unwrap();
    let doc = doc.to_str().unwrap();

    let seeded = admin(&s, &["fixtures", "seed", doc, "--json"]).json();
    assert_eq!(
        seeded,
        json!({"customers": 1, "qualifications": 2, "validationCodes": 1})
    );
    let table = admin(&s, &["fixtures", "seed", doc]);
    let mut lines = ok(&table).lines();
    let header = lines.next().unwrap();
    assert!(
        header.contains("CUSTOMERS") && header.contains("VALIDATION CODES"),
        "{header}"
    );
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["1", "2", "1"]
    );

    // The snapshot is the document itself, as JSON, with or without --json.
    let snapshot = admin(&s, &["fixtures", "snapshot"]).json();
    assert_eq!(snapshot, example());
    assert_eq!(
        admin(&s, &["fixtures", "snapshot", "--partner", P, "--json"]).json(),
        example()
    );
    // Restored from stdin: snapshot -> restore -> snapshot is the same document.
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let restored = admin_stdin(
        &s,
        &["fixtures", "restore", "-", "--json"],
        &snapshot.to_string(),
    )
    .json();
    assert_eq!(restored["customers"], 1);
    assert_eq!(admin(&s, &["fixtures", "snapshot"]).json(), snapshot);
    s.get(&format!("/v1/customers/{c}"))
        .token(&p.app_user)
        .send()
        .await
        .assert_error(404, 1000);

    // A partner's restore takes that partner only; the server's error names the field: exit 1.
    let other = s.partner().id.to_string();
    let wrong = admin(&s, &["fixtures", "restore", "--partner", &other, doc]);
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    assert!(wrong.stderr.contains("partners[0].id"), "{}", wrong.stderr);
    // A typo: exit 1, the JSON path in the error.
    let mut typo = example();
    typo["partners"][0]["customers"][0]["gdapRole"] = json!([]);
    let out = admin_stdin(&s, &["fixtures", "seed", "-", "--json"], &typo.to_string());
    assert_eq!(out.code, 1, "{}", out.stderr);
    let e = out.error_json();
    assert_eq!(
        (e["status"].clone(), e["code"].clone()),
        (json!(400), json!(800002))
    );
    assert!(
        e["description"]
            .as_str()
            .unwrap()
            .starts_with("partners[0].customers[0].gdapRole"),
        "{e}"
    );
    // Not JSON, or no such file: usage errors, nothing sent.
    usage_error(&admin_stdin(&s, &["fixtures", "seed", "-"], "version: 1"));
    usage_error(&admin(&s, &["fixtures", "seed", "/nonexistent/state.json"]));
    usage_error(&admin(&s, &["fixtures", "restore"]));

    // Reset: one partner, then everything.
    let removed = admin(&s, &["reset", "--partner", P, "--json"]).json();
    assert_eq!(
        removed,
        json!({"customers": 1, "qualifications": 2, "validationCodes": 1})
    );
    let c2 = s.create_customer(&p).await;
    assert!(ok(&admin(&s, &["reset"])).contains("CUSTOMERS"));
    s.get(&format!("/v1/customers/{c2}"))
        .token(&p.app_user)
        .send()
        .await
        .assert_error(404, 1000);
    assert_eq!(
        admin(&s, &["fixtures", "snapshot"]).json(),
        json!({"version": 1, "partners": []})
    );
    let schema = admin(&s, &["fixtures", "schema"]).json();
    assert!(schema["properties"]["partners"].is_object(), "{schema}");

    // 3: nothing listens there.
    let closed = closed_port_url();
    let out = admin(&s, &["reset", "--base-url", &closed, "--max-attempts", "1"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
}

/// A server started with `--seed`: a reset goes back to the document.
#[tokio::test]
async fn a_reset_goes_back_to_what_seed_loaded() {
    let files = tempfile::tempdir().unwrap();
    let doc = files.path().join("seed.json");
    std::fs::write(&doc, example().to_string()).unwrap();
    let s = Server::start_with(Options {
        extra: vec!["--seed".into(), doc.to_str().unwrap().into()],
        ..Default::default()
    })
    .await;
    assert_eq!(admin(&s, &["fixtures", "snapshot"]).json(), example());
    let p = s.partner();
    s.create_customer(&p).await;
    let code = s.issue_code(&partner_of(P), 2).await;
    assert!(!code.is_empty());
    let removed = admin(&s, &["reset", "--json"]).json();
    assert_eq!(removed["customers"], 2);
    assert_eq!(removed["validationCodes"], 2);
    assert_eq!(admin(&s, &["fixtures", "snapshot"]).json(), example());
}

fn partner_of(id: &str) -> Partner {
    let id: qualify_core::PartnerId = id.parse().unwrap();
    Partner {
        id,
        app_user: token(id, false, false),
        app_only: token(id, true, false),
    }
}

#[tokio::test]
async fn a_scenario_and_the_clock_decide_a_request() {
    let s = Server::start().await;
    let p = s.partner();
    let partner = p.id.to_string();

    let frozen = admin(
        &s,
        &[
            "clock",
            "freeze",
            "2030-01-01T00:00:00Z",
            "--partner",
            &partner,
            "--json",
        ],
    )
    .json();
    assert_eq!(
        frozen,
        json!({"now": "2030-01-01T00:00:00Z", "mode": "frozen", "scope": "partner"})
    );
    let scenario = json!({"rules": [
        {"match": {"qualification": "Education", "website": "*.edu"}, "outcome": "Approved", "after": "2s"},
        {"match": {"qualification": "Education"}, "outcome": "Denied", "reason": "Not an Education Customer", "after": "1s"}
    ]});
    let table = admin_stdin(
        &s,
        &["scenario", "set", "--partner", &partner, "-"],
        &scenario.to_string(),
    );
    let rows: Vec<&str> = ok(&table).lines().collect();
    assert!(
        rows[0].contains("RULE") && rows[0].contains("OUTCOME"),
        "{table:?}",
        table = rows
    );
    assert!(
        rows[1].contains("qualification=Education website=*.edu")
            && rows[1].contains("Approved")
            && rows[1].contains("after 2s"),
        "{rows:?}"
    );
    assert!(rows[2].contains("Not an Education Customer"), "{rows:?}");
    assert_eq!(
        admin(&s, &["scenario", "get", "--partner", &partner, "--json"]).json(),
        scenario
    );

    let edu = s.create_customer(&p).await;
    let com = s.create_customer(&p).await;
    for (c, website) in [(&edu, "contoso.edu"), (&com, "contoso.com")] {
        let r = s
            .post(&format!("/v1/customers/{c}/qualifications"))
            .token(&p.app_user)
            .json(json!({"qualification": "Education", "educationSegment": "HigherEducation", "website": website}))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    // The Denied rule decides a second after the request, the Approved one two seconds after it,
    // on the partner's frozen clock (so the background worker cannot take them first).
    let first = admin(
        &s,
        &["clock", "advance", "--by", "1s", "--partner", &partner],
    );
    let rows: Vec<&str> = ok(&first).lines().collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows[0].starts_with("AT") && rows[0].contains("REASON"),
        "{rows:?}"
    );
    assert!(
        rows[1].contains(&com)
            && rows[1].contains("Denied")
            && rows[1].contains("Not an Education Customer"),
        "{rows:?}"
    );
    assert!(
        first.stderr.contains("now 2030-01-01T00:00:01Z"),
        "{}",
        first.stderr
    );
    let second = admin(
        &s,
        &[
            "clock",
            "advance",
            "--partner",
            &partner,
            "--by",
            "PT1S",
            "--json",
        ],
    )
    .json();
    assert_eq!(
        second,
        json!({"now": "2030-01-01T00:00:02Z", "applied": [
            {"customerId": edu, "qualification": "Education", "from": "InReview", "to": "Approved", "at": "2030-01-01T00:00:02Z"}
        ]})
    );
    assert_eq!(
        s.qualifications(&p, &edu).await[0]["vettingStatus"],
        "Approved"
    );
    let to = admin(
        &s,
        &[
            "clock",
            "--partner",
            &partner,
            "advance",
            "--to",
            "2030-01-04T00:00:00Z",
            "--json",
        ],
    )
    .json();
    assert_eq!(to, json!({"now": "2030-01-04T00:00:00Z", "applied": []}));

    // Time never goes back: the API's 409, exit 1.
    let back = admin(
        &s,
        &[
            "clock",
            "advance",
            "--to",
            "2029-01-01T00:00:00Z",
            "--partner",
            &partner,
            "--json",
        ],
    );
    assert_eq!(back.code, 1, "{}", back.stderr);
    let e = back.error_json();
    assert_eq!(
        (e["status"].clone(), e["category"].clone()),
        (json!(409), json!("Conflict"))
    );
    // A bad scenario: the server names the field, exit 1; nothing changed.
    let bad = admin_stdin(
        &s,
        &["scenario", "set", "--partner", &partner, "-"],
        r#"{"rules": [{"outcome": "Approved", "afterRead": 2}]}"#,
    );
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(bad.stderr.contains("rules[0].afterRead"), "{}", bad.stderr);
    assert_eq!(
        admin(&s, &["scenario", "get", "--partner", &partner, "--json"]).json(),
        scenario
    );

    // Resume, get, clear; the global clock.
    let running = admin(&s, &["clock", "resume", "--partner", &partner, "--json"]).json();
    assert_eq!(running["mode"], "running");
    let got = admin(&s, &["clock", "get", "--partner", &partner]);
    assert!(ok(&got).lines().next().unwrap().contains("SCOPE"));
    assert!(got.stdout.contains("running") && got.stdout.contains("partner"));
    let cleared = admin(&s, &["clock", "clear", "--partner", &partner]);
    assert_eq!(ok(&cleared), "");
    assert_eq!(
        admin(&s, &["clock", "get", "--partner", &partner, "--json"]).json()["scope"],
        "global"
    );
    let global = admin(&s, &["clock", "freeze", "2031-01-01T00:00:00Z", "--json"]).json();
    assert_eq!(global["scope"], "global");
    assert_eq!(
        admin(&s, &["clock", "get", "--partner", &partner, "--json"]).json()["now"],
        "2031-01-01T00:00:00Z"
    );
    assert_eq!(ok(&admin(&s, &["clock", "clear"])), "");
    assert_eq!(
        admin(&s, &["clock", "get", "--json"]).json()["mode"],
        "system"
    );
    assert_eq!(
        ok(&admin(&s, &["scenario", "clear", "--partner", &partner])),
        ""
    );
    assert_eq!(
        admin(&s, &["scenario", "get", "--partner", &partner, "--json"]).json(),
        json!({"rules": []})
    );

    // Usage errors: no --by/--to, both, bad values, a missing --partner.
    for args in [
        vec!["clock", "advance"],
        vec![
            "clock",
            "advance",
            "--by",
            "1s",
            "--to",
            "2032-01-01T00:00:00Z",
        ],
        vec!["clock", "advance", "--by", "soon"],
        vec!["clock", "advance", "--to", "tomorrow"],
        vec!["clock", "freeze", "yesterday"],
        vec!["clock", "freeze"],
        vec!["scenario", "get"],
        vec!["scenario", "set", "--partner", &partner],
    ] {
        usage_error(&admin(&s, &args));
    }
}
