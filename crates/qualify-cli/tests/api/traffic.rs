//! Fault injection, the journal and checks against the real binary (control.md 5-7): a dropped
//! connection on a real socket, `times` exact with three instances on PostgreSQL racing, and
//! the CLI (`qualify admin faults|journal|checks`).

use futures::future::join_all;
use serde_json::{Value, json};

use crate::helpers::*;

async fn add_fault(s: &Server, body: Value) -> Value {
    let r = s
        .post("/admin/v1/faults")
        .token(&s.admin_token())
        .json(body)
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

/// A create sent with reqwest directly: `Err` when the connection broke without an answer.
async fn raw_create(
    s: &Server,
    p: &Partner,
    c: &str,
    id: &str,
) -> Result<reqwest::Response, reqwest::Error> {
    reqwest::Client::new()
        .post(format!("{}/v1/customers/{c}/qualifications", s.base))
        .bearer_auth(&p.app_user)
        .header("MS-RequestId", id)
        .json(&json!({"qualification": "StateOwnedEntity"}))
        .send()
        .await
}

#[tokio::test]
async fn a_dropped_connection_gets_no_answer_before_or_after_the_write() {
    let s = Server::start().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let fault = |phase: &str| json!({"match": {"method": "POST", "partner": p.id.to_string()}, "phase": phase, "response": {"drop": true}, "times": 1});
    add_fault(&s, fault("before")).await;
    let id = new_id();
    let e = raw_create(&s, &p, &c, &id).await.expect_err("no answer");
    assert!(!e.is_timeout(), "closed, not left hanging: {e}");
    assert_eq!(
        s.qualifications(&p, &c).await,
        json!([]),
        "before: nothing executed"
    );

    add_fault(&s, fault("after")).await;
    raw_create(&s, &p, &c, &id).await.expect_err("no answer");
    let list = s.qualifications(&p, &c).await;
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "after: the write is there"
    );
    let retry = raw_create(&s, &p, &c, &id).await.expect("an answer");
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let body: Value = retry.json().await.unwrap();
    assert_eq!(body, list[0]);
    // The journal shows both attempts without an answer, then the replay.
    let r = s
        .get(&format!("/admin/v1/journal?partner={}", p.id))
        .token(&s.admin_token())
        .send()
        .await;
    let statuses: Vec<Value> = r.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["method"] == "POST" && e["path"].as_str().unwrap().ends_with("/qualifications")
        })
        .map(|e| e["status"].clone())
        .collect();
    assert_eq!(statuses, [Value::Null, Value::Null, json!(201)]);
}

#[tokio::test]
async fn times_is_exact_with_three_instances_racing_on_postgres() {
    let Some(database) = qualify_store::testing::fresh_postgres_database().await else {
        return;
    };
    let nodes = join_all((0..3).map(|_| Server::start_on(&database, Options::default()))).await;
    let p = nodes[0].partner();
    let fault = add_fault(
        &nodes[1],
        json!({"match": {"partner": p.id.to_string(), "path": "/v1/customers"}, "response": {"status": 503}, "times": 7}),
    )
    .await;
    // The other instances learn of it through LISTEN/NOTIFY. A probe rule added after it (on
    // another path, firing once on each of the two other instances) shows when each has loaded
    // a list that holds both, so that this test stays about `times`, not about that delay.
    add_fault(
        &nodes[1],
        json!({"match": {"partner": p.id.to_string(), "path": "/v1/customers/all/validations"}, "response": {"status": 503}, "times": 2}),
    )
    .await;
    for n in [&nodes[0], &nodes[2]] {
        n.eventually(
            "the fault list on every instance",
            std::time::Duration::from_secs(10),
            async || {
                let r = n
                    .get("/v1/customers/all/validations")
                    .token(&p.app_user)
                    .send()
                    .await;
                (r.status == 503).then_some(())
            },
        )
        .await;
    }
    let requests = (0..45).map(|i| nodes[i % 3].get("/v1/customers").token(&p.app_user).send());
    let answers = join_all(requests).await;
    let injected: Vec<&Resp> = answers
        .iter()
        .filter(|r| r.header("qualify-fault") == fault["id"].as_str())
        .collect();
    assert_eq!(
        injected.len(),
        7,
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(
        injected
            .iter()
            .all(|r| r.status == 503 && r.header("retry-after") == Some("1"))
    );
    assert_eq!(answers.iter().filter(|r| r.status == 200).count(), 38);
    for n in &nodes {
        let listed = n
            .get("/admin/v1/faults")
            .token(&n.admin_token())
            .send()
            .await;
        assert_eq!(listed.body, json!([]), "removed for every instance");
    }
}

#[tokio::test]
async fn the_cli_adds_lists_and_clears_faults_prints_the_journal_and_fails_on_violations() {
    let s = Server::start().await;
    let env = [("QUALIFY_BASE_URL", s.base.as_str())];
    let p = s.partner();
    let partner = p.id.to_string();
    let added = run_cli(
        &[
            "admin",
            "--json",
            "faults",
            "add",
            "--partner",
            &partner,
            "--method",
            "GET",
            "--path",
            "/v1/customers",
            "--status",
            "503",
            "--retry-after",
            "2",
            "--times",
            "1",
        ],
        &env,
    )
    .json();
    let id = added["id"].as_str().unwrap().to_owned();
    assert_eq!(added["response"]["retryAfter"], 2);
    let table = run_cli(&["admin", "faults", "list", "--partner", &partner], &env);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(
        table.stdout.contains(&id) && table.stdout.contains("503"),
        "{}",
        table.stdout
    );
    // The partner's code ignores the Retry-After and writes without MS-RequestId.
    s.get("/v1/customers")
        .token(&p.app_user)
        .send()
        .await
        .assert_error(503, 900503);
    s.get("/v1/customers").token(&p.app_user).send().await;
    let c = s.create_customer(&p).await;
    let journal = run_cli(&["admin", "journal", "--partner", &partner], &env);
    assert_eq!(journal.code, 0, "{}", journal.stderr);
    let lines: Vec<&str> = journal.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", journal.stdout);
    assert!(
        lines[0].contains("GET /v1/customers 503 code=900503 fault="),
        "{}",
        lines[0]
    );
    assert!(lines[2].contains("POST /v1/customers 201"), "{}", lines[2]);
    let junit = s.dir.path().join("checks.xml");
    let checks = run_cli(
        &[
            "admin",
            "checks",
            "--partner",
            &partner,
            "--junit",
            junit.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(
        checks.code, 1,
        "a violation fails the run: {}",
        checks.stderr
    );
    assert!(
        checks.stdout.contains("retry-after-ignored"),
        "{}",
        checks.stdout
    );
    assert!(
        checks.stdout.contains("write-without-request-id"),
        "{}",
        checks.stdout
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase").count(), 5, "{xml}");
    assert!(xml.contains("<failure"), "{xml}");
    let clean = s.partner();
    let ok = run_cli(
        &["admin", "checks", "--partner", &clean.id.to_string()],
        &env,
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    // Remove and clear.
    run_cli(&["admin", "faults", "add", "--latency", "1ms"], &env);
    let listed = run_cli(&["admin", "--json", "faults", "list"], &env).json();
    let one = listed[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(run_cli(&["admin", "faults", "remove", &one], &env).code, 0);
    run_cli(&["admin", "faults", "add", "--latency", "1ms"], &env);
    assert_eq!(run_cli(&["admin", "faults", "clear"], &env).code, 0);
    assert_eq!(
        run_cli(&["admin", "--json", "faults", "list"], &env).json(),
        json!([])
    );
    let bad = run_cli(
        &[
            "admin",
            "--json",
            "faults",
            "add",
            "--nth",
            "0",
            "--latency",
            "1ms",
        ],
        &env,
    );
    assert_eq!(bad.code, 1);
    assert!(
        bad.error_json()["description"]
            .as_str()
            .unwrap()
            .starts_with("nth[0]"),
        "{}",
        bad.stderr
    );
    let _ = c;
}

/// A checks run that knows it lost some of the partner's requests (the journal's ring was full)
/// says so and fails, though what is left has no violation (issue 23).
#[tokio::test]
async fn the_cli_fails_checks_that_lost_requests_to_a_full_journal() {
    let s = Server::start_with(Options {
        extra: vec!["--journal-size".into(), "5".into()],
        ..Default::default()
    })
    .await;
    let env = [("QUALIFY_BASE_URL", s.base.as_str())];
    let p = s.partner();
    let partner = p.id.to_string();
    for _ in 0..3 {
        s.get("/v1/customers").token(&p.app_user).send().await;
    }
    let whole = run_cli(&["admin", "checks", "--partner", &partner], &env);
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    for _ in 0..5 {
        s.get("/v1/customers").token(&p.app_user).send().await;
    }
    let partial = run_cli(&["admin", "checks", "--partner", &partner], &env);
    assert_eq!(
        partial.code, 1,
        "an incomplete run fails: {}",
        partial.stderr
    );
    assert!(
        partial.stderr.contains("3 of partner") && partial.stderr.contains("left the journal"),
        "{}",
        partial.stderr
    );
    let json = run_cli(&["admin", "--json", "checks", "--partner", &partner], &env);
    assert_eq!(json.code, 1, "{}", json.stderr);
    let report: Value = serde_json::from_str(&json.stdout).expect("the report on stdout");
    assert_eq!(
        (
            report["complete"].clone(),
            report["evicted"].clone(),
            report["requests"].clone()
        ),
        (json!(false), json!(3), json!(5))
    );
}

/// A fault answering 204 or 304 sends what those statuses are: no body and no `Content-Length`
/// announcing one, whatever raw body it was given (issue 23). Read off the wire.
#[tokio::test]
async fn a_fault_answering_204_or_304_sends_no_body_and_no_content_length() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = Server::start().await;
    let p = s.partner();
    let addr = s.base.trim_start_matches("http://").to_owned();
    for status in [204, 304] {
        let path = format!("/v1/customers/{}", new_id());
        add_fault(
            &s,
            json!({"match": {"partner": p.id.to_string(), "path": path}, "response": {"status": status,
                "rawBody": "{\"this\": \"is not sent\", \"padding\": \"xxxxxxxxxxxxxxxx\"}", "contentType": "application/json"}}),
        )
        .await;
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            p.app_user
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            stream.read_to_end(&mut answer),
        )
        .await
        .expect("the server closes the connection")
        .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer.split_once("\r\n\r\n").expect("a whole head");
        assert!(head.starts_with(&format!("HTTP/1.1 {status}")), "{head}");
        assert!(
            head.to_ascii_lowercase().contains("qualify-fault:"),
            "{head}"
        );
        assert!(
            !head.to_ascii_lowercase().contains("content-length"),
            "{status}: {head}"
        );
        assert_eq!(body, "", "{status}: a body was sent");
    }
}

/// A fault's path glob costs linear time and runs only for its partner's requests (issue 23):
/// against a five-`**` glob that used to backtrack for 35 s, 2,000-segment paths cost little
/// server CPU, sent by another partner (the glob never runs) or by the fault's own partner (it
/// runs, bounded), and `/healthz` keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_costly_fault_glob_costs_little_cpu_whoever_sends_long_paths() {
    let s = Server::start().await;
    let (owner, other) = (s.partner(), s.partner());
    add_fault(
        &s,
        json!({"match": {"partner": owner.id.to_string(), "path": "/v1/**/**/**/**/**/zz"},
            "response": {"status": 503}}),
    )
    .await;
    let long = format!("/v1{}", "/a".repeat(2_000));
    const EACH: u32 = 10;
    for p in [&other, &owner] {
        let before = s.cpu_time();
        let started = std::time::Instant::now();
        for _ in 0..EACH {
            let r = s.get(&long).token(&p.app_user).send().await;
            assert_eq!(r.status, 404, "{}", r.text);
        }
        let cpu = (s.cpu_time() - before) / EACH;
        let healthz = std::time::Instant::now();
        assert_eq!(s.get("/healthz").send().await.status, 200);
        let healthz = healthz.elapsed();
        assert!(
            cpu < std::time::Duration::from_millis(50),
            "{cpu:?} of server CPU per 2,000-segment request (wall {:?} for {EACH})",
            started.elapsed()
        );
        assert!(
            healthz < std::time::Duration::from_secs(1),
            "/healthz took {healthz:?}"
        );
        crate::figures::record(&format!(
            "fault glob: a 2,000-segment path against a five-** glob ({}): {:.1} ms of server CPU per request (debug build), /healthz after it in {:.1} ms",
            if p.id == owner.id {
                "the fault's partner"
            } else {
                "another partner"
            },
            cpu.as_secs_f64() * 1000.0,
            healthz.as_secs_f64() * 1000.0
        ));
    }
}
