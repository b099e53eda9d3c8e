//! The event stream against the real binary (events.md section 3): resuming with
//! `Last-Event-ID` loses nothing across a server restart, open streams do not hold up a graceful
//! shutdown, and `qualify admin events` prints the trail.

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::{Value, json};

use crate::helpers::*;

/// One open event stream, read with reqwest.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

/// What a stream gave: a transition (seq, data), the `live` marker, or its end.
#[derive(Debug)]
enum Got {
    Event(i64, Value),
    Live,
    Ended,
}

impl Stream {
    async fn open(base: &str, token: &str, last_event_id: Option<i64>) -> Stream {
        let client = reqwest::Client::new();
        let mut req = client
            .get(format!("{base}/admin/v1/events"))
            .bearer_auth(token)
            .header("Accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let response = req.send().await.expect("the stream opens");
        assert_eq!(response.status(), 200);
        Stream {
            response,
            buffer: String::new(),
        }
    }

    async fn next(&mut self, wait: Duration) -> Got {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(at) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..at + 2).collect();
                let (mut id, mut data) = (None, String::new());
                for line in block.lines() {
                    if line.trim() == ": live" || line.trim() == ":live" {
                        return Got::Live;
                    }
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse::<i64>().ok();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if let Some(id) = id {
                    let value: Value = serde_json::from_str(&data).expect("data is JSON");
                    assert_eq!(value["seq"].as_i64(), Some(id), "id: is the seq");
                    return Got::Event(id, value);
                }
                continue;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(_) => return Got::Ended,
                Err(_) => panic!("nothing on the stream within {wait:?}"),
            }
        }
    }
}

/// `n` customers of a new partner, each with one Education request (auto vetting approves
/// each: two transitions per request).
async fn requests(server: &Server, n: usize) {
    let p = server.partner();
    for chunk in (0..n).collect::<Vec<_>>().chunks(25) {
        let made = join_all(chunk.iter().map(|_| async {
            let c = server.create_customer(&p).await;
            let r = server
                .post(&format!("/v1/customers/{c}/qualifications"))
                .token(&p.app_user)
                .request_id(&new_id())
                .json(json!({"qualification": "Education", "educationSegment": "K12", "website": "contoso.edu"}))
                .send()
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
        }))
        .await;
        assert_eq!(made.len(), chunk.len());
    }
}

async fn wait_until_vetted(server: &Server) {
    server
        .eventually(
            "an empty review queue",
            Duration::from_secs(60),
            async || {
                let open = server.reviews().await;
                open.as_array().is_some_and(|a| a.is_empty()).then_some(())
            },
        )
        .await;
}

#[tokio::test]
async fn resuming_with_last_event_id_loses_nothing_across_a_restart() {
    let mut server = Server::start_with(Options {
        vetting: "auto",
        ..Options::default()
    })
    .await;
    let admin = server.admin_token();
    let wait = Duration::from_secs(30);
    // Everything from the start, then live.
    let mut first = Stream::open(&server.base, &admin, Some(0)).await;
    assert!(matches!(first.next(wait).await, Got::Live));
    requests(&server, 250).await;
    let mut seen: Vec<i64> = vec![];
    while seen.len() < 300 {
        match first.next(wait).await {
            Got::Event(seq, _) => seen.push(seq),
            other => panic!("{other:?} after {} events", seen.len()),
        }
    }
    // Graceful shutdown with the stream open (and vetting still going on): the stream ends at
    // once instead of holding the shutdown for its grace period.
    let stopping = Instant::now();
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    let took = stopping.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "shutdown took {took:?} with a stream open"
    );
    loop {
        match first.next(wait).await {
            Got::Event(seq, _) => seen.push(seq),
            Got::Ended => break,
            Got::Live => panic!("a second live marker"),
        }
    }
    let last = *seen.last().unwrap();

    server.restart().await;
    let mut second = Stream::open(&server.base, &admin, Some(last)).await;
    requests(&server, 250).await;
    wait_until_vetted(&server).await;
    let mut live = false;
    while seen.len() < 1000 {
        match second.next(wait).await {
            Got::Event(seq, value) => {
                assert!(value["to"].is_string() && value["customerId"].is_string());
                seen.push(seq);
            }
            Got::Live => {
                assert!(!live, "one live marker");
                live = true;
            }
            Got::Ended => panic!("the stream ended after {} events", seen.len()),
        }
    }
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "in seq order, each once"
    );

    // The whole trail, read again from the start: exactly what the two streams gave.
    let mut again = Stream::open(&server.base, &admin, Some(0)).await;
    let mut all = vec![];
    loop {
        match again.next(wait).await {
            Got::Event(seq, _) => all.push(seq),
            Got::Live => break,
            Got::Ended => panic!("ended"),
        }
    }
    assert_eq!(all.len(), 1000, "500 requests, each created and decided");
    assert_eq!(seen, all, "nothing skipped, nothing twice");
    crate::figures::record(&format!(
        "event stream: 1000 transitions resumed across a restart with Last-Event-ID, none lost; shutdown with a stream open took {:.0} ms",
        took.as_secs_f64() * 1e3
    ));
}

#[tokio::test]
async fn qualify_admin_events_prints_the_trail() {
    let server = Server::start().await;
    let p = server.partner();
    let c = server.create_customer(&p).await;
    let r = server
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .json(json!({"qualification": "StateOwnedEntity"}))
        .send()
        .await;
    assert_eq!(r.status, 201);
    let admin = server.admin_token();
    let env = [
        ("QUALIFY_BASE_URL", server.base.as_str()),
        ("QUALIFY_ADMIN_TOKEN", admin.as_str()),
    ];
    let out = run_cli(&["admin", "--json", "events"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    assert_eq!(lines[0]["customerId"], c.as_str());
    assert_eq!(lines[0]["to"], "InReview");
    let mine = run_cli(
        &["admin", "events", "--partner", &new_id(), "--after", "0"],
        &env,
    );
    assert_eq!(mine.code, 0, "{}", mine.stderr);
    assert_eq!(mine.stdout, "", "another partner's trail is empty");
    let table = run_cli(&["admin", "events"], &env);
    assert!(
        table.stdout.contains("StateOwnedEntity"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("-> InReview"), "{}", table.stdout);

    let reviews = run_cli(
        &[
            "admin",
            "--json",
            "reviews",
            "--partner",
            &p.id.to_string(),
            "--limit",
            "1",
        ],
        &env,
    );
    assert_eq!(reviews.json()[0]["companyName"], "Contoso");
    let bad = run_cli(&["admin", "reviews", "--limit", "501"], &env);
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(bad.stderr.contains("limit"), "{}", bad.stderr);
}
