//! Slow and abusive clients (issue 6, item 5): a client that sends its headers or its body one
//! byte at a time is cut off, idle connections are closed, connections beyond the limit wait
//! without harming the served ones, requests beyond the in-flight limit are refused at once,
//! oversized heads are refused, slow requests time out, and other clients are served normally
//! all the while. Over raw TCP, since no HTTP client library sends this slowly.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::figures;
use crate::helpers::*;

fn limits(flags: &[(&str, &str)]) -> Options {
    Options {
        extra: flags
            .iter()
            .flat_map(|(k, v)| [k.to_string(), v.to_string()])
            .collect(),
        ..Default::default()
    }
}

fn addr(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_owned()
}

/// What a raw connection got: the bytes, whether the server closed it, and when.
struct Got {
    bytes: Vec<u8>,
    closed: bool,
    after: Duration,
}

impl Got {
    fn status(&self) -> Option<u16> {
        let text = String::from_utf8_lossy(&self.bytes);
        text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
    }

    fn body(&self) -> Value {
        let text = String::from_utf8_lossy(&self.bytes);
        text.split_once("\r\n\r\n")
            .and_then(|(_, b)| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.bytes);
        let head = text.split("\r\n\r\n").next()?;
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// Reads until the server closes the connection, or `within` passes.
async fn read_until_closed(stream: &mut TcpStream, started: Instant, within: Duration) -> Got {
    let mut bytes = vec![];
    let mut buf = [0u8; 4096];
    let deadline = started + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return Got {
                    bytes,
                    closed: true,
                    after: started.elapsed(),
                };
            }
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
            Err(_) => {
                return Got {
                    bytes,
                    closed: false,
                    after: started.elapsed(),
                };
            }
        }
    }
}

/// Sends `bytes` one at a time, `gap` apart (the slow client is slow in real time: the server's
/// read timeouts are wall-clock timeouts on a real socket), until the server stops reading (the
/// write fails). Tells `progress` how many bytes went out; returns that number.
async fn dribble(
    stream: &mut TcpStream,
    bytes: &[u8],
    gap: Duration,
    progress: watch::Sender<usize>,
) -> usize {
    for (i, b) in bytes.iter().enumerate() {
        if stream.write_all(&[*b]).await.is_err() {
            return i;
        }
        progress.send_replace(i + 1);
        tokio::time::sleep(gap).await;
    }
    bytes.len()
}

/// Normal requests while an abusive client is at it: one after each byte it sends, until it
/// stops (`progress` closed); all answered, each quickly. Returns how many, and the slowest.
async fn others_are_served(s: &Server, mut progress: watch::Receiver<usize>) -> (usize, Duration) {
    let p = s.partner();
    let (mut n, mut slowest) = (0, Duration::ZERO);
    while progress.changed().await.is_ok() {
        let t = Instant::now();
        let r = s.get("/v1/customers").token(&p.app_user).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        slowest = slowest.max(t.elapsed());
        n += 1;
    }
    assert!(
        n >= 3,
        "only {n} normal requests while the slow client was at it"
    );
    assert!(
        slowest < Duration::from_secs(2),
        "a normal request took {slowest:?} next to the slow client"
    );
    (n, slowest)
}

/// Sends `head` and the `first` bytes of its body on a connection of its own to a server
/// started with `--max-in-flight 1`, and returns that connection once its request is in flight
/// (holding the one slot): when a probe is refused. A probe that took the slot first may have
/// had the held request refused: then it is sent again.
async fn hold_in_flight(s: &Server, head: &str, first: &[u8]) -> TcpStream {
    let mut held: Option<TcpStream> = None;
    poll_until("a request held in flight", Duration::from_secs(10), async || {
        if held.is_none() {
            let mut c = TcpStream::connect(addr(s)).await.unwrap();
            c.write_all(head.as_bytes()).await.unwrap();
            c.write_all(first).await.unwrap();
            held = Some(c);
        }
        if s.get("/healthz").send().await.status == 503 {
            return held.take();
        }
        // Answered (refused) or closed while the probe held the slot: send it again.
        let mut buf = [0u8; 1];
        if held.as_ref().is_some_and(|c| !matches!(c.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)) {
            held = None;
        }
        None
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_its_headers_a_byte_at_a_time_is_cut_off_while_others_are_served() {
    let s = Server::start_with(limits(&[("--header-read-timeout", "2s")])).await;
    let mut slow = TcpStream::connect(addr(&s)).await.unwrap();
    let started = Instant::now();
    let head = format!(
        "GET /v1/customers HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(100)
    );
    let (progress, watching) = watch::channel(0);
    let sender = tokio::spawn(async move {
        let sent = dribble(
            &mut slow,
            head.as_bytes(),
            Duration::from_millis(100),
            progress,
        )
        .await;
        let got = read_until_closed(&mut slow, started, Duration::from_secs(15)).await;
        (sent, got)
    });
    let (served, slowest) = others_are_served(&s, watching).await;
    let (sent, got) = sender.await.unwrap();
    assert!(got.closed, "the slow client was never cut off");
    assert!(
        got.after < Duration::from_secs(8),
        "cut off only after {:?}",
        got.after
    );
    assert!(
        sent < 140,
        "the server read the whole slow head ({sent} bytes)"
    );
    // Cut off without an answer to a request it never finished sending.
    assert!(
        got.status().is_none_or(|s| s == 408),
        "{:?}",
        String::from_utf8_lossy(&got.bytes)
    );
    figures::record(&format!(
        "slow headers: a client sending 10 bytes/s was cut off after {:.1}s having sent {sent} bytes; \
         {served} normal requests meanwhile, slowest {:.0}ms",
        got.after.as_secs_f64(),
        slowest.as_secs_f64() * 1e3
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_its_body_a_byte_at_a_time_gets_408_while_others_are_served() {
    let s = Server::start_with(limits(&[("--body-read-timeout", "2s")])).await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let body = br#"{"qualification": "StateOwnedEntity", "website": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#;
    let head = format!(
        "POST /v1/customers/{c}/qualifications HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nMS-RequestId: {}\r\n\r\n",
        p.app_user,
        body.len(),
        new_id()
    );
    let mut slow = TcpStream::connect(addr(&s)).await.unwrap();
    slow.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (progress, watching) = watch::channel(0);
    let sender = tokio::spawn(async move {
        let (mut reader, mut writer) = slow.into_split();
        let reading = tokio::spawn(async move {
            let mut bytes = vec![];
            let mut buf = [0u8; 4096];
            while let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_secs(15), reader.read(&mut buf)).await
            {
                if n == 0 {
                    break;
                }
                bytes.extend_from_slice(&buf[..n]);
            }
            Got {
                bytes,
                closed: true,
                after: started.elapsed(),
            }
        });
        let mut sent = 0;
        for b in body {
            if writer.write_all(&[*b]).await.is_err() || reading.is_finished() {
                break;
            }
            sent += 1;
            progress.send_replace(sent);
            // 10 bytes/s, in real time (the body read timeout is the server's wall clock).
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        drop(progress);
        (sent, reading.await.unwrap())
    });
    let (served, slowest) = others_are_served(&s, watching).await;
    let (sent, got) = sender.await.unwrap();
    assert_eq!(
        got.status(),
        Some(408),
        "{}",
        String::from_utf8_lossy(&got.bytes)
    );
    assert_eq!(
        got.body()["code"],
        900408,
        "{}",
        String::from_utf8_lossy(&got.bytes)
    );
    assert!(got.header("ms-requestid").is_some());
    assert!(sent < body.len(), "the whole body went through");
    // Nothing was created from the half body.
    assert_eq!(s.qualifications(&p, &c).await, serde_json::json!([]));
    figures::record(&format!(
        "slow body: a client sending 10 bytes/s got 408 after {:.1}s having sent {sent} of {} bytes; \
         {served} normal requests meanwhile, slowest {:.0}ms",
        got.after.as_secs_f64(),
        body.len(),
        slowest.as_secs_f64() * 1e3
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_and_connections_beyond_the_limit_wait_their_turn() {
    let s = Server::start_with(limits(&[
        ("--header-read-timeout", "1s"),
        ("--max-connections", "3"),
    ]))
    .await;
    // No connection of the harness is open (the readiness check closes its own), so the two
    // idle ones and the third take the three slots, in the order they connect (the listen
    // backlog is a queue).
    let started = Instant::now();
    let mut idle = vec![];
    for _ in 0..2 {
        idle.push(TcpStream::connect(addr(&s)).await.unwrap());
    }
    // A third connection is served at once and kept open; a fourth waits for a slot.
    let mut third = TcpStream::connect(addr(&s)).await.unwrap();
    let mut fourth = TcpStream::connect(addr(&s)).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let asked = Instant::now();
    // The third's answer, without waiting for the (kept-alive) connection to close.
    let got3 = read_until_closed(&mut third, asked, Duration::from_millis(400)).await;
    assert_eq!(
        got3.status(),
        Some(200),
        "{}",
        String::from_utf8_lossy(&got3.bytes)
    );
    assert!(!got3.closed);
    let got4 = read_until_closed(&mut fourth, asked, Duration::from_secs(10)).await;
    assert_eq!(got4.status(), Some(200));
    let second = &got4;
    assert!(
        second.after >= Duration::from_millis(500),
        "the connection beyond the limit was served at once ({:?}): no limit",
        second.after
    );
    // The idle connections were closed by the server.
    for mut c in idle {
        let got = read_until_closed(&mut c, started, Duration::from_secs(10)).await;
        assert!(
            got.closed && got.bytes.is_empty(),
            "an idle connection stayed open"
        );
    }
    figures::record(&format!(
        "connections: 2 idle connections closed after the 1s header timeout; with 3 allowed, a 4th waited {:.1}s and was then served",
        second.after.as_secs_f64()
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_in_flight_limit_get_503_with_retry_after_and_nothing_happens() {
    let s = Server::start_with(limits(&[
        ("--max-in-flight", "1"),
        ("--body-read-timeout", "10s"),
    ]))
    .await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    // One request holds the only slot while its body trickles in.
    let body = br#"{"qualification": "StateOwnedEntity"}"#;
    let head = format!(
        "POST /v1/customers/{c}/qualifications HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        p.app_user,
        body.len()
    );
    let mut held = hold_in_flight(&s, &head, &body[..5]).await;

    let rid = new_id();
    let r = s
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .request_id(&rid)
        .json(serde_json::json!({"qualification": "Education", "educationSegment": "K12"}))
        .send()
        .await;
    r.assert_error(503, 900503);
    assert_eq!(r.header("ms-requestid"), Some(rid.as_str()));
    assert!(
        r.header("retry-after")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|v| v >= 1)
    );
    // The slot holder finishes and is answered; then the slot is free again.
    held.write_all(&body[5..]).await.unwrap();
    let got = read_until_closed(&mut held, Instant::now(), Duration::from_secs(10)).await;
    assert_eq!(
        got.status(),
        Some(201),
        "{}",
        String::from_utf8_lossy(&got.bytes)
    );
    let list = s.qualifications(&p, &c).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(
        list[0]["qualification"], "StateOwnedEntity",
        "the refused create had no effect"
    );
    // The refused request was not executed, so its retry with the same MS-RequestId runs now.
    let r = s
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .request_id(&rid)
        .json(serde_json::json!({"qualification": "StateOwnedEntity"}))
        .send()
        .await;
    r.assert_error(409, 900306);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_are_refused_and_slow_requests_time_out() {
    let s = Server::start_with(limits(&[
        ("--max-header-bytes", "8192"),
        ("--request-timeout", "1s"),
        ("--body-read-timeout", "10s"),
    ]))
    .await;
    let p = s.partner();
    // A head over the limit: refused by the HTTP layer (431) and the connection closed.
    let mut big = TcpStream::connect(addr(&s)).await.unwrap();
    let head = format!(
        "GET /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nX-Big: {}\r\n\r\n",
        p.app_user,
        "b".repeat(16 * 1024)
    );
    let _ = big.write_all(head.as_bytes()).await;
    let got = read_until_closed(&mut big, Instant::now(), Duration::from_secs(10)).await;
    assert!(got.closed);
    assert!(
        got.status().is_none_or(|s| s == 431),
        "{}",
        String::from_utf8_lossy(&got.bytes)
    );
    // Many headers within the limit are fine.
    let mut req = s.get("/v1/customers").token(&p.app_user);
    for i in 0..40 {
        req = req.header(&format!("X-Extra-{i}"), &"v".repeat(100));
    }
    assert_eq!(req.send().await.status, 200);

    // A request whose body never finishes is answered 503 when the request timeout passes.
    let c = s.create_customer(&p).await;
    let mut stuck = TcpStream::connect(addr(&s)).await.unwrap();
    let head = format!(
        "POST /v1/customers/{c}/qualifications HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        p.app_user
    );
    stuck.write_all(head.as_bytes()).await.unwrap();
    let got = read_until_closed(&mut stuck, Instant::now(), Duration::from_secs(10)).await;
    assert_eq!(
        got.status(),
        Some(503),
        "{}",
        String::from_utf8_lossy(&got.bytes)
    );
    assert_eq!(got.body()["code"], 900503);
    assert!(got.header("retry-after").is_some());
    assert!(got.after < Duration::from_secs(5), "{:?}", got.after);
    assert_eq!(s.qualifications(&p, &c).await, serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_request_in_flight_finish_and_refuses_new_connections() {
    // One request in flight at most: a refused probe shows when the test's own one is.
    let mut s = Server::start_with(limits(&[
        ("--body-read-timeout", "10s"),
        ("--max-in-flight", "1"),
    ]))
    .await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let body = br#"{"qualification": "StateOwnedEntity"}"#;
    let head = format!(
        "POST /v1/customers/{c}/qualifications HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        p.app_user,
        body.len()
    );
    let mut in_flight = hold_in_flight(&s, &head, &body[..5]).await;
    s.signal_term();
    // No new connections once shutting down (the listener closes when the signal is handled).
    poll_until(
        "new connections refused after SIGTERM",
        Duration::from_secs(5),
        async || TcpStream::connect(addr(&s)).await.is_err().then_some(()),
    )
    .await;
    // The request in flight completes and is answered.
    in_flight.write_all(&body[5..]).await.unwrap();
    let got = read_until_closed(&mut in_flight, Instant::now(), Duration::from_secs(10)).await;
    assert_eq!(
        got.status(),
        Some(201),
        "{}",
        String::from_utf8_lossy(&got.bytes)
    );
    let status = s.terminate();
    assert!(status.success(), "{status:?}\n{}", s.logs());
    s.restart().await;
    assert_eq!(
        s.qualifications(&p, &c).await[0]["qualification"],
        "StateOwnedEntity"
    );
}
